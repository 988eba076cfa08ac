//! Stored rows into the alerting crate's domain types, for the engine and
//! the services alike (the alert rows the engine alone keeps are mapped in
//! `engine.rs`, beside its working set).

use leitstand_alerting::matchers::parse_matcher;
use leitstand_alerting::silence::Silence;
use leitstand_store::SilenceRow;

/// A silence from its row; `None` if its stored matchers no longer parse.
pub(crate) fn silence_from_row(row: &SilenceRow) -> Option<Silence> {
    let texts: Vec<String> = serde_json::from_str(&row.matchers).ok()?;
    let matchers = texts.iter().map(|t| parse_matcher(t)).collect::<std::result::Result<Vec<_>, _>>().ok()?;
    Some(Silence {
        id: row.id,
        tenant: None,
        matchers,
        starts_at: row.starts_at,
        ends_at: row.ends_at,
        created_by: row.created_by.clone(),
        comment: row.comment.clone(),
        expired_at: row.expired_at,
    })
}
