//! The application layer of the `leitstand` binary: command line,
//! configuration loading, logging and the server's start-up. `main.rs` only
//! parses arguments and maps errors to exit codes; everything else is here so
//! that tests and fuzz targets can call it.

pub mod admin_cmd;
pub mod audit_cmd;
pub mod cli;
pub mod config;
pub mod logging;
pub mod policy_cmd;
pub mod serve;
pub mod witness_cmd;
