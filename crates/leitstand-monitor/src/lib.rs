//! Monitoring signals. This first part reads what scrape targets expose:
//! the Prometheus text format (0.0.4) and OpenMetrics 1.0, into metric
//! families and samples, with errors that name line and column — a target
//! that sends garbage is reported precisely and never stops the others.

pub mod exposition;
