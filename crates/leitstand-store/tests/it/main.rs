//! The store's test suite. Every test runs against SQLite and PostgreSQL
#![allow(missing_docs, clippy::unwrap_used)]
//! through `store_test!`.

mod alerts;
mod audit_log;
mod identity;
mod leases;
mod probes;
mod schema;
mod tenants;
