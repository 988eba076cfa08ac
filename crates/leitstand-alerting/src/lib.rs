//! The alert lifecycle as pure functions of (policy, state, event, now):
//! what an incoming alert is (its fingerprint), whether it is a duplicate,
//! which silence, inhibition or maintenance window holds it back, when it
//! escalates, who is on call, and which signed links act on it. No I/O and
//! no clock: the server's engine (in `leitstand-app`) feeds events in and
//! persists what comes out, so every rule here is tested without sleeps.
//!
//! Compatibility: fingerprints are Alertmanager's (FNV-1a over the sorted
//! label set), so the same alert has the same id in both; [`wire`] reads
//! Alertmanager's API v2 and webhook (version 4) payloads.

pub mod group;
pub mod inhibit;
pub mod labels;
pub mod lifecycle;
pub mod link;
pub mod matchers;
pub mod oncall;
pub mod silence;
pub mod wire;

pub use group::{DEFAULT_GROUP_BY, GroupBy, group_key};
pub use inhibit::{InhibitRule, InhibitionIndex};
pub use labels::{Fingerprint, LabelSet, fingerprint};
pub use link::{LinkAction, LinkClaims, LinkError, LinkKey};
pub use matchers::{MatcherSyntaxError, format_matcher, matches_all, parse_matcher, parse_matchers};
pub use silence::{FieldError, Silence, SilenceState};
pub use wire::{IncomingAlert, WebhookAlert, WebhookPayload, WireError, WireStatus};
