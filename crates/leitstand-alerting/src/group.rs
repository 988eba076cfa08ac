//! Grouping: alerts that share the values of a few labels are one
//! notification, not many. Thirty failing probes of one service are one
//! message listing thirty alerts; two services are two messages.
//!
//! As in Alertmanager, a group is named by its group labels — the alert's
//! values of the `group_by` labels, a label the alert lacks left out — and
//! `...` groups by every label (each alert alone). The key's text is the
//! canonical label-set form, `{alertname="ProbeDown",service="portal"}`,
//! readable in logs and stable across restarts; its hash is the group
//! labels' Alertmanager fingerprint, for fast maps. The default groups by
//! alert name, tenant and service, so tenants never share a message.

use crate::labels::{LabelSet, fingerprint, valid_label_name};
use crate::matchers::push_quoted;
use crate::silence::FieldError;

/// The labels alerts are grouped by unless configured otherwise.
pub const DEFAULT_GROUP_BY: [&str; 3] = ["alertname", "tenant", "service"];

/// Which labels form the group.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GroupBy {
    /// These labels (sorted, without duplicates); none: one group for all.
    Labels(Vec<String>),
    /// Every label (`...`): each alert is a group of its own.
    All,
}

impl Default for GroupBy {
    fn default() -> Self {
        Self::labels(DEFAULT_GROUP_BY)
    }
}

impl GroupBy {
    /// Grouping by these label names.
    pub fn labels<S: Into<String>>(names: impl IntoIterator<Item = S>) -> Self {
        let mut names: Vec<String> = names.into_iter().map(Into::into).collect();
        names.sort();
        names.dedup();
        Self::Labels(names)
    }

    /// Reads a configured `group_by` list: label names, or `...` alone.
    pub fn parse(names: &[String]) -> Result<Self, Vec<FieldError>> {
        if names.iter().any(|n| n == "...") {
            return if names.len() == 1 {
                Ok(Self::All)
            } else {
                Err(vec![FieldError::new("group_by", "`...` (every label) cannot be combined with label names")])
            };
        }
        let errors: Vec<FieldError> = names
            .iter()
            .enumerate()
            .filter(|(_, n)| !valid_label_name(n))
            .map(|(i, n)| FieldError::new(format!("group_by[{i}]"), format!("{n:?} is not a label name")))
            .collect();
        if errors.is_empty() { Ok(Self::labels(names.iter().cloned())) } else { Err(errors) }
    }

    /// The group labels of an alert: its values of the grouping labels
    /// (missing and empty ones left out).
    pub fn group_labels(&self, labels: &LabelSet) -> LabelSet {
        let present = |(_, v): &(&String, &String)| !v.is_empty();
        match self {
            Self::All => labels.iter().filter(present).map(|(k, v)| (k.clone(), v.clone())).collect(),
            Self::Labels(names) => names
                .iter()
                .filter_map(|n| labels.get_key_value(n))
                .filter(present)
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
        }
    }
}

/// A label set as canonical text: `{a="1",b="2"}`, names sorted, values
/// quoted and escaped like matcher values.
pub fn canonical_text(labels: &LabelSet) -> String {
    canonical_pairs(labels.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// [`canonical_text`] of name and value pairs in name order.
fn canonical_pairs<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    let mut out = String::from("{");
    for (i, (name, value)) in pairs.enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(name);
        out.push('=');
        push_quoted(&mut out, value);
    }
    out.push('}');
    out
}

/// The group an alert belongs to: the canonical text of its group labels
/// and their fingerprint (the same for the same text).
pub fn group_key(group_by: &GroupBy, labels: &LabelSet) -> (String, u64) {
    let group = group_by.group_labels(labels);
    (canonical_text(&group), fingerprint(&group).0)
}

/// The text of [`group_key`] from label pairs in name order (an engine
/// that keeps labels packed derives it when needed instead of keeping it
/// per alert).
pub fn group_text<'a>(group_by: &GroupBy, labels: impl Iterator<Item = (&'a str, &'a str)>) -> String {
    canonical_pairs(labels.filter(|(name, value)| {
        !value.is_empty()
            && match group_by {
                GroupBy::All => true,
                GroupBy::Labels(names) => names.binary_search_by(|n| n.as_str().cmp(name)).is_ok(),
            }
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(pairs: &[(&str, &str)]) -> LabelSet {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn probes_of_one_service_share_a_group() {
        let by = GroupBy::default();
        let a = set(&[("alertname", "ProbeDown"), ("service", "portal"), ("instance", "https://a")]);
        let b = set(&[("alertname", "ProbeDown"), ("service", "portal"), ("instance", "https://b")]);
        let c = set(&[("alertname", "ProbeDown"), ("service", "shop"), ("instance", "https://a")]);
        let (text, hash) = group_key(&by, &a);
        assert_eq!(text, r#"{alertname="ProbeDown",service="portal"}"#);
        assert_eq!(group_key(&by, &b), (text, hash));
        assert_ne!(group_key(&by, &c).1, hash);
        let tenant = set(&[("alertname", "ProbeDown"), ("service", "portal"), ("tenant", "acme")]);
        assert_eq!(group_key(&by, &tenant).0, r#"{alertname="ProbeDown",service="portal",tenant="acme"}"#);
    }

    #[test]
    fn group_text_from_pairs_is_the_group_key() {
        let sets = [
            set(&[("alertname", "ProbeDown"), ("service", "portal"), ("instance", "https://a")]),
            set(&[("alertname", "X"), ("instance", "say \"hi\""), ("empty", ""), ("tenant", "acme")]),
            set(&[]),
        ];
        for by in [GroupBy::default(), GroupBy::All, GroupBy::labels(["instance"]), GroupBy::labels::<&str>([])] {
            for labels in &sets {
                let pairs = labels.iter().map(|(k, v)| (k.as_str(), v.as_str()));
                assert_eq!(group_text(&by, pairs), group_key(&by, labels).0, "{by:?} {labels:?}");
            }
        }
    }

    #[test]
    fn every_label_and_no_label() {
        let a = set(&[("alertname", "X"), ("instance", "say \"hi\""), ("empty", "")]);
        assert_eq!(group_key(&GroupBy::All, &a).0, r#"{alertname="X",instance="say \"hi\""}"#);
        assert_eq!(group_key(&GroupBy::labels::<&str>([]), &a), ("{}".to_string(), fingerprint(&LabelSet::new()).0));
    }

    #[test]
    fn group_by_configuration() {
        let s = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(GroupBy::parse(&s(&["..."])), Ok(GroupBy::All));
        assert_eq!(
            GroupBy::parse(&s(&["service", "alertname", "service"])),
            Ok(GroupBy::Labels(s(&["alertname", "service"])))
        );
        assert_eq!(GroupBy::parse(&s(&["...", "service"])).unwrap_err()[0].field, "group_by");
        assert_eq!(
            GroupBy::parse(&s(&["a", "b-c"])).unwrap_err()[0].to_string(),
            r#"group_by[1]: "b-c" is not a label name"#
        );
    }
}
