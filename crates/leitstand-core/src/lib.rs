//! The pure core of Leitstand: the policies of the seed documents as typed,
//! documented defaults, the German working-day calendar, and the deadline
//! arithmetic every later capability (escalation, incidents, regulatory
//! reporting, backups) builds on.
//!
//! Nothing in this crate does I/O or reads a clock. Every decision is a
//! function of (policy, state, now) with `now` passed in through
//! [`clock::Clock`], so deadlines are tested deterministically and behave the
//! same on every replica. Keep it that way: this crate must not depend on the
//! store, the web layer, an async runtime or the file system.

pub mod access;
pub mod annotations;
pub mod calendar;
pub mod clock;
pub mod input;
pub mod outcome;
pub mod policy;
pub mod tenant;
pub mod time_limit;

pub use clock::Clock;
pub use outcome::Outcome;
pub use policy::Policy;
