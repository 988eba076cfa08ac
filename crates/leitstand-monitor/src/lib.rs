//! Monitoring signals: what scrape targets expose (the Prometheus text
//! format 0.0.4 and OpenMetrics 1.0, read into metric families with errors
//! that name line and column — a target that sends garbage is reported
//! precisely and never stops the others), the short-term series store, the
//! PromQL subset the rules are written in with its evaluator (checked
//! against Prometheus's own `promtool`), the rules' alert states and the
//! default rule pack, and the host's own metrics under node_exporter's
//! names.

pub mod availability;
pub mod eval;
pub mod exposition;
pub mod host;
pub mod pack;
pub mod promql;
pub mod rules;
pub mod ruletest;
pub mod series;
