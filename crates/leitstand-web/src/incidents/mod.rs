//! Incidents: the JSON API (the pages follow).

pub(crate) mod api;
