//! The store's test suite. Every test runs against SQLite and PostgreSQL
//! through `store_test!`.

mod leases;
mod schema;
mod tenants;
