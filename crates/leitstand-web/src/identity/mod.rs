//! Identity: sign-in and sign-out, users and roles, API tokens, the profile.

pub(crate) mod api;
pub(crate) mod pages;
