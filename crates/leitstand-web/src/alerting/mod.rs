//! Alerting: Alertmanager's API and webhook, Leitstand's alert API, and
//! the pages for alerts, silences, on-call schedules and channels.

pub(crate) mod alertmanager;
pub(crate) mod api;
pub(crate) mod pages;
