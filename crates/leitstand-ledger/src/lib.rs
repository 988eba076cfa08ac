//! The tamper-evident audit log, built from standards so that third parties
//! can verify it with their own tools: RFC 6962 Merkle tree hashing with
//! inclusion and consistency proofs ([`merkle`]), C2SP signed notes with
//! Ed25519 ([`note`]), C2SP tlog-checkpoints ([`checkpoint`]) and C2SP
//! tlog-tiles paths, tile contents and entry bundles ([`tiles`]).
//!
//! This crate is pure computation over bytes: no store, no clock, no HTTP.
//! Storage of tiles and entries, sequencing and serving build on it.

pub mod checkpoint;
pub mod entry;
pub mod event;
pub mod merkle;
pub mod note;
pub mod pseudonym;
pub mod tiles;
pub mod tree;
pub mod witness;

/// A SHA-256 hash.
pub type Hash = [u8; 32];
