//! Monitoring: probes, scrape targets, rules and their alerts.

pub(crate) mod api;
pub(crate) mod pages;
