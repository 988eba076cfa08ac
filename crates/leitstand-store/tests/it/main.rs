//! The store's test suite. Every test runs against SQLite and PostgreSQL
#![allow(missing_docs, clippy::unwrap_used)]
//! through `store_test!`.

mod alerting;
mod audit;
mod identity;
mod incidents;
mod leases;
mod monitoring;
mod schema;
mod tenants;
