//! The overview.

pub(crate) mod pages;
