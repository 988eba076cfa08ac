//! The tamper-evident audit log, built from standards so that third parties
//! can verify it with their own tools: RFC 6962 Merkle tree hashing with
//! inclusion and consistency proofs ([`merkle`]), C2SP signed notes with
//! Ed25519 ([`note`]) and C2SP tlog-checkpoints ([`checkpoint`]).
//!
//! This crate is pure computation over bytes: no store, no clock, no HTTP.
//! Storage of tiles and entries, sequencing and serving build on it.

pub mod checkpoint;
pub mod merkle;
pub mod note;

/// A SHA-256 hash.
pub type Hash = [u8; 32];
