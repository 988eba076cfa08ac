//! Silences on Alertmanager's API v2 wire: the `postableSilence` amtool,
//! Grafana and Karma post, the `gettableSilence` they read back, and the
//! structured matchers (`name`, `value`, `isRegex`, `isEqual`) both carry.
//!
//! A posted silence becomes matcher *text* in the canonical form
//! ([`format_matcher`]), which the silence rules
//! ([`crate::silence::validate_new_silence`]) then judge: one set of rules
//! for every silence, whichever door it came through. What the wire alone
//! can tell is refused here with the path of the field: a label name that
//! is none, a regex that does not compile, an id that is not a silence id,
//! more matchers or a longer comment than the limits allow.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use uuid::Uuid;

use super::{MAX_PAIRS, MAX_VALUE_BYTES, WireError, parse_json};
use crate::labels::valid_label_name;
use crate::matchers::{MatchOp, Matcher, format_matcher};

/// A matcher as the API carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ApiMatcher {
    /// Label name.
    pub name: String,
    /// Value or pattern.
    pub value: String,
    /// `=~` / `!~` rather than `=` / `!=`.
    pub is_regex: bool,
    /// `=` / `=~` rather than `!=` / `!~`; absent means equal (API
    /// clients older than Alertmanager 0.22 do not send it).
    #[serde(default = "equal")]
    pub is_equal: bool,
}

fn equal() -> bool {
    true
}

impl ApiMatcher {
    /// The API form of `m`.
    pub fn from_matcher(m: &Matcher) -> Self {
        Self {
            name: m.name.clone(),
            value: m.value.clone(),
            is_regex: matches!(m.op, MatchOp::Regex | MatchOp::NotRegex),
            is_equal: matches!(m.op, MatchOp::Equal | MatchOp::Regex),
        }
    }

    /// The operator it stands for.
    pub fn op(&self) -> MatchOp {
        match (self.is_regex, self.is_equal) {
            (false, true) => MatchOp::Equal,
            (false, false) => MatchOp::NotEqual,
            (true, true) => MatchOp::Regex,
            (true, false) => MatchOp::NotRegex,
        }
    }

    /// The matcher, or why not (`path` names it in the error).
    pub fn to_matcher(&self, path: &str) -> Result<Matcher, WireError> {
        if !valid_label_name(&self.name) {
            return Err(WireError::new(format!("{path}.name"), format!("{:?} is not a label name", self.name)));
        }
        if self.value.len() > MAX_VALUE_BYTES {
            return Err(WireError::new(format!("{path}.value"), format!("longer than {MAX_VALUE_BYTES} bytes")));
        }
        Matcher::new(&self.name, self.op(), &self.value).map_err(|e| WireError::new(format!("{path}.value"), e.reason))
    }
}

/// A silence as posted (`POST /api/v2/silences`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PostableSilence {
    /// The silence it replaces, if any.
    pub id: Option<Uuid>,
    /// Its matchers in canonical text form.
    pub matchers: Vec<String>,
    /// Start.
    pub starts_at: Timestamp,
    /// End.
    pub ends_at: Timestamp,
    /// Who the sender says created it (Leitstand records the caller).
    pub created_by: String,
    /// Why.
    pub comment: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawSilence {
    #[serde(default)]
    id: Option<String>,
    matchers: Vec<ApiMatcher>,
    starts_at: Timestamp,
    ends_at: Timestamp,
    #[serde(default)]
    created_by: String,
    #[serde(default)]
    comment: String,
}

/// The body of `POST /api/v2/silences`.
pub fn parse_postable_silence(body: &[u8]) -> Result<PostableSilence, WireError> {
    let raw: RawSilence = parse_json(body)?;
    let id = match raw.id.as_deref().map(str::trim) {
        None | Some("") => None,
        Some(text) => {
            Some(text.parse::<Uuid>().map_err(|_| WireError::new("id", format!("{text:?} is not a silence id")))?)
        }
    };
    if raw.matchers.len() > MAX_PAIRS {
        return Err(WireError::new("matchers", format!("more than {MAX_PAIRS} matchers")));
    }
    let matchers = raw
        .matchers
        .iter()
        .enumerate()
        .map(|(i, m)| m.to_matcher(&format!("matchers[{i}]")).map(|m| format_matcher(&m)))
        .collect::<Result<Vec<_>, _>>()?;
    for (field, text) in [("createdBy", &raw.created_by), ("comment", &raw.comment)] {
        if text.len() > MAX_VALUE_BYTES {
            return Err(WireError::new(field, format!("longer than {MAX_VALUE_BYTES} bytes")));
        }
    }
    Ok(PostableSilence {
        id,
        matchers,
        starts_at: raw.starts_at,
        ends_at: raw.ends_at,
        created_by: raw.created_by,
        comment: raw.comment,
    })
}

/// `pending`, `active` or `expired`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SilenceStatus {
    /// The state.
    pub state: String,
}

/// A silence as `GET /api/v2/silences` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GettableSilence {
    /// Its id.
    pub id: Uuid,
    /// Its state now.
    pub status: SilenceStatus,
    /// When it last changed (created or expired).
    pub updated_at: Timestamp,
    /// Who created it.
    pub created_by: String,
    /// Why.
    pub comment: String,
    /// Start.
    pub starts_at: Timestamp,
    /// End (when it was expired, if it was expired early).
    pub ends_at: Timestamp,
    /// All must match.
    pub matchers: Vec<ApiMatcher>,
}

/// Whether a silence with `matchers` is selected by `filter`, as
/// Alertmanager's `GET /api/v2/silences?filter=…` selects: each filter
/// matcher is tried against the silence's own matcher of the same name
/// (its value or pattern as text); a silence without one counts as the
/// empty value, except that `x=""` / `x!=""` ask for its absence or
/// presence.
pub fn silence_selected(matchers: &[Matcher], filter: &[Matcher]) -> bool {
    filter.iter().all(|f| {
        let own = matchers.iter().find(|m| m.name == f.name).map(|m| m.value.as_str());
        match (f.op, own) {
            (MatchOp::NotEqual | MatchOp::NotRegex, Some(_)) if f.value.is_empty() => true,
            (MatchOp::Equal | MatchOp::Regex, None) if f.value.is_empty() => true,
            (_, value) => f.matches(value.unwrap_or("")),
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::matchers::parse_matcher;

    fn ms(texts: &[&str]) -> Vec<Matcher> {
        texts.iter().map(|t| parse_matcher(t).unwrap()).collect()
    }

    #[test]
    fn amtools_silence_reads_as_matcher_text() {
        let body = br#"{"matchers":[{"name":"alertname","value":"ProbeDown","isRegex":false,"isEqual":true},
            {"name":"service","value":"portal|shop","isRegex":true},{"name":"env","value":"dev.*","isRegex":true,"isEqual":false}],
            "startsAt":"2026-12-07T10:00:00Z","endsAt":"2026-12-07T11:00:00Z","createdBy":"ops","comment":"Wartung","id":""}"#;
        let s = parse_postable_silence(body).unwrap();
        assert_eq!(s.id, None);
        assert_eq!(s.matchers, [r#"alertname="ProbeDown""#, r#"service=~"portal|shop""#, r#"env!~"dev.*""#]);
        assert_eq!(s.comment, "Wartung");
        let back: Vec<ApiMatcher> =
            s.matchers.iter().map(|t| ApiMatcher::from_matcher(&parse_matcher(t).unwrap())).collect();
        assert!(back[1].is_regex && back[1].is_equal && back[2].is_regex && !back[2].is_equal);
    }

    #[test]
    fn a_wrong_field_is_named() {
        let cases: [(&[u8], &str); 5] = [
            (br#"{"matchers":[{"name":"1x","value":"a","isRegex":false}],"startsAt":"2026-12-07T10:00:00Z","endsAt":"2026-12-07T11:00:00Z"}"#, "matchers[0].name"),
            (br#"{"matchers":[{"name":"x","value":"(","isRegex":true}],"startsAt":"2026-12-07T10:00:00Z","endsAt":"2026-12-07T11:00:00Z"}"#, "matchers[0].value"),
            (br#"{"id":"nope","matchers":[],"startsAt":"2026-12-07T10:00:00Z","endsAt":"2026-12-07T11:00:00Z"}"#, "id"),
            (br#"{"matchers":[],"startsAt":"gestern","endsAt":"2026-12-07T11:00:00Z"}"#, "startsAt"),
            (br#"{"startsAt":"2026-12-07T10:00:00Z","endsAt":"2026-12-07T11:00:00Z"}"#, "(body)"),
        ];
        for (body, path) in cases {
            let e = parse_postable_silence(body).unwrap_err();
            assert_eq!(e.path, path, "{e}");
            assert!(!e.reason.is_empty());
        }
    }

    #[test]
    fn the_filter_selects_silences_as_alertmanager_does() {
        let silence = ms(&[r#"alertname="ProbeDown""#, r#"service=~"portal|shop""#]);
        assert!(silence_selected(&silence, &[]));
        assert!(silence_selected(&silence, &ms(&[r#"alertname="ProbeDown""#])));
        assert!(!silence_selected(&silence, &ms(&[r#"alertname="DiskFull""#])));
        assert!(silence_selected(&silence, &ms(&[r#"service="portal|shop""#])), "the pattern as text");
        assert!(silence_selected(&silence, &ms(&[r#"alertname=~"Probe.*""#])));
        assert!(!silence_selected(&silence, &ms(&[r#"instance="web-1""#])), "no such matcher");
        assert!(silence_selected(&silence, &ms(&[r#"instance="""#])), "asks for its absence");
        assert!(silence_selected(&silence, &ms(&[r#"alertname!="""#])), "asks for its presence");
        assert!(!silence_selected(&silence, &ms(&[r#"alertname!="ProbeDown""#])));
    }
}
