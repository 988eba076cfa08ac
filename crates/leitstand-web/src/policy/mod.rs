//! The effective policy: the page `/policy` and `GET /api/v1/policy`.

pub(crate) mod api;
pub(crate) mod pages;
