//! Inhibition: while a cause fires, its symptoms are not notified. When a
//! host is down, every probe of every service on it fails too; the on-call
//! person needs the one page about the host, not thirty about the probes.
//!
//! Semantics are Alertmanager's `inhibit_rules`, so rules carry over as
//! they are: a firing *source* alert (matching `source_matchers`) inhibits a
//! *target* alert (matching `target_matchers`) when every label named in
//! `equal` has the same value in both — a label missing on both sides counts
//! as equal (both are ""). An alert never inhibits itself, and when an alert
//! matches both sides of a rule, alerts that also match both sides do not
//! inhibit it (otherwise two such alerts would hold each other back and
//! neither would be notified).
//!
//! The engine does not need every alert's labels in memory to decide this:
//! [`InhibitionIndex`] keeps only the firing alerts that are a source of
//! some rule.

use std::collections::BTreeMap;

use crate::labels::{Fingerprint, LabelSet, Labels, valid_label_name};
use crate::matchers::{Matcher, matches_all, parse_matcher};
pub use crate::silence::FieldError;

/// One inhibition rule.
#[derive(Debug, Clone)]
pub struct InhibitRule {
    /// What the inhibiting alert matches.
    pub source: Vec<Matcher>,
    /// What the inhibited alert matches.
    pub target: Vec<Matcher>,
    /// Labels whose values must be equal in both.
    pub equal: Vec<String>,
}

fn value<'a>(labels: &'a impl Labels, name: &str) -> &'a str {
    labels.label(name).unwrap_or("")
}

impl InhibitRule {
    /// Whether `source` (firing) inhibits `target` under this rule; the
    /// caller makes sure they are different alerts.
    pub fn inhibits(&self, source: &impl Labels, target: &impl Labels) -> bool {
        matches_all(&self.target, target) && self.inhibits_matched_target(source, target, self.is_source(target))
    }

    /// Whether an alert with `labels` is a source of this rule.
    pub fn is_source(&self, labels: &impl Labels) -> bool {
        matches_all(&self.source, labels)
    }

    /// The rest of [`inhibits`](Self::inhibits), the target matchers known
    /// to match; `target_is_source`: the target matches the source side too.
    fn inhibits_matched_target(&self, source: &impl Labels, target: &impl Labels, target_is_source: bool) -> bool {
        self.is_source(source)
            && self.equal.iter().all(|name| value(source, name) == value(target, name))
            && !(target_is_source && matches_all(&self.target, source))
    }
}

/// The first source alert that inhibits `target` under some rule (rules in
/// order, sources in the iterator's order), or `None`. `sources` are the
/// firing alerts; `target_fp` is left out, so an alert never inhibits itself.
pub fn inhibited_by<'a>(
    rules: &[InhibitRule],
    target: &impl Labels,
    target_fp: Fingerprint,
    sources: impl Iterator<Item = (Fingerprint, &'a LabelSet)>,
) -> Option<Fingerprint> {
    let applicable: Vec<(&InhibitRule, bool)> =
        rules.iter().filter(|r| matches_all(&r.target, target)).map(|r| (r, r.is_source(target))).collect();
    if applicable.is_empty() {
        return None;
    }
    sources.filter(|(fp, _)| *fp != target_fp).find_map(|(fp, source)| {
        applicable.iter().any(|(r, two_sided)| r.inhibits_matched_target(source, target, *two_sided)).then_some(fp)
    })
}

/// Builds a rule from its configured text (Alertmanager's
/// `source_matchers`, `target_matchers`, `equal`); problems name the field.
/// Both sides need a matcher: an empty side would match every alert.
pub fn parse_rule(source: &[String], target: &[String], equal: &[String]) -> Result<InhibitRule, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut side = |field: &str, texts: &[String]| -> Vec<Matcher> {
        if texts.is_empty() {
            errors.push(FieldError::new(field, "at least one matcher is required"));
        }
        texts
            .iter()
            .enumerate()
            .filter_map(|(i, text)| {
                parse_matcher(text)
                    .map_err(|e| errors.push(FieldError::new(format!("{field}[{i}]"), e.to_string())))
                    .ok()
            })
            .collect()
    };
    let source = side("source_matchers", source);
    let target = side("target_matchers", target);
    for (i, name) in equal.iter().enumerate() {
        if !valid_label_name(name) {
            errors.push(FieldError::new(format!("equal[{i}]"), format!("{name:?} is not a label name")));
        }
    }
    if errors.is_empty() { Ok(InhibitRule { source, target, equal: equal.to_vec() }) } else { Err(errors) }
}

/// A firing alert that is a source of some rule.
#[derive(Debug, Clone)]
struct Source {
    labels: LabelSet,
    /// Indexes of the rules it is a source of.
    rules: Vec<usize>,
}

/// The rules and the firing alerts that may inhibit others. Alerts that are
/// no rule's source are not kept, so memory grows with the number of
/// potential causes, not with all alerts. Answers are deterministic: of
/// several inhibitors, the one with the smallest fingerprint is named.
#[derive(Debug, Clone, Default)]
pub struct InhibitionIndex {
    rules: Vec<InhibitRule>,
    sources: BTreeMap<Fingerprint, Source>,
}

impl InhibitionIndex {
    /// An empty index for `rules`.
    pub fn new(rules: Vec<InhibitRule>) -> Self {
        Self { rules, sources: BTreeMap::new() }
    }

    /// The rules.
    pub fn rules(&self) -> &[InhibitRule] {
        &self.rules
    }

    /// Whether an alert with `labels` is a source of some rule.
    pub fn is_source(&self, labels: &impl Labels) -> bool {
        self.rules.iter().any(|r| r.is_source(labels))
    }

    /// Records a firing alert; kept only if it is some rule's source
    /// (returns whether it was kept). Inserting again replaces it.
    pub fn insert(&mut self, fp: Fingerprint, labels: &LabelSet) -> bool {
        let rules: Vec<usize> =
            self.rules.iter().enumerate().filter(|(_, r)| r.is_source(labels)).map(|(i, _)| i).collect();
        if rules.is_empty() {
            self.sources.remove(&fp);
            return false;
        }
        self.sources.insert(fp, Source { labels: labels.clone(), rules });
        true
    }

    /// Forgets an alert (it resolved); returns whether it was kept.
    pub fn remove(&mut self, fp: Fingerprint) -> bool {
        self.sources.remove(&fp).is_some()
    }

    /// Number of source alerts kept.
    pub fn len(&self) -> usize {
        self.sources.len()
    }

    /// Whether no source alert is kept.
    pub fn is_empty(&self) -> bool {
        self.sources.is_empty()
    }

    /// The firing alert inhibiting the target, if any.
    pub fn inhibitor(&self, target: &impl Labels, target_fp: Fingerprint) -> Option<Fingerprint> {
        let applicable: Vec<(usize, bool)> = self
            .rules
            .iter()
            .enumerate()
            .filter(|(_, r)| matches_all(&r.target, target))
            .map(|(i, r)| (i, r.is_source(target)))
            .collect();
        if applicable.is_empty() {
            return None;
        }
        self.sources.iter().filter(|(fp, _)| **fp != target_fp).find_map(|(fp, source)| {
            applicable
                .iter()
                .filter(|(i, _)| source.rules.contains(i))
                .any(|&(i, two_sided)| {
                    let rule = &self.rules[i];
                    rule.equal.iter().all(|name| value(&source.labels, name) == value(target, name))
                        && !(two_sided && matches_all(&rule.target, &source.labels))
                })
                .then_some(*fp)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::labels::fingerprint;

    fn set(pairs: &[(&str, &str)]) -> LabelSet {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn strings(items: &[&str]) -> Vec<String> {
        items.iter().map(|s| s.to_string()).collect()
    }

    fn host_rule() -> InhibitRule {
        parse_rule(&strings(&["alertname=HostDown"]), &strings(&["alertname=ProbeDown"]), &strings(&["host"])).unwrap()
    }

    #[test]
    fn host_down_inhibits_probes_on_that_host_only() {
        let rules = [host_rule()];
        let host = set(&[("alertname", "HostDown"), ("host", "a")]);
        let probe_a = set(&[("alertname", "ProbeDown"), ("host", "a"), ("service", "portal")]);
        let probe_b = set(&[("alertname", "ProbeDown"), ("host", "b"), ("service", "portal")]);
        let (host_fp, a_fp, b_fp) = (fingerprint(&host), fingerprint(&probe_a), fingerprint(&probe_b));
        let firing = [(host_fp, &host), (a_fp, &probe_a), (b_fp, &probe_b)];
        assert_eq!(inhibited_by(&rules, &probe_a, a_fp, firing.iter().copied()), Some(host_fp));
        assert_eq!(inhibited_by(&rules, &probe_b, b_fp, firing.iter().copied()), None);
        assert_eq!(inhibited_by(&rules, &host, host_fp, firing.iter().copied()), None, "the cause itself");

        let mut index = InhibitionIndex::new(rules.to_vec());
        for (fp, labels) in firing {
            index.insert(fp, labels);
        }
        assert_eq!(index.len(), 1, "only the source is kept");
        assert!(index.is_source(&host) && !index.is_source(&probe_a));
        assert_eq!(index.inhibitor(&probe_a, a_fp), Some(host_fp));
        assert_eq!(index.inhibitor(&probe_b, b_fp), None);
        assert!(index.remove(host_fp), "the host is back");
        assert_eq!(index.inhibitor(&probe_a, a_fp), None);
        assert!(index.is_empty());
    }

    #[test]
    fn missing_equal_labels_are_equal_on_both_sides() {
        let rules = [host_rule()];
        let host = set(&[("alertname", "HostDown")]);
        let probe = set(&[("alertname", "ProbeDown"), ("service", "portal")]);
        let elsewhere = set(&[("alertname", "ProbeDown"), ("host", "a")]);
        let sources = [(fingerprint(&host), &host)];
        assert!(inhibited_by(&rules, &probe, fingerprint(&probe), sources.iter().copied()).is_some());
        assert!(inhibited_by(&rules, &elsewhere, fingerprint(&elsewhere), sources.iter().copied()).is_none());
        assert!(rules[0].inhibits(&host, &probe));
        assert!(!rules[0].inhibits(&host, &elsewhere));
    }

    #[test]
    fn alerts_matching_both_sides_do_not_hold_each_other_back() {
        // Critical inhibits warning of the same alertname; an alert that is
        // both (by regex) must not be inhibited by its twin.
        let rule = parse_rule(
            &strings(&[r#"severity=~"critical|both""#]),
            &strings(&[r#"severity=~"warning|both""#]),
            &strings(&["alertname"]),
        )
        .unwrap();
        let both_1 = set(&[("alertname", "Disk"), ("severity", "both"), ("instance", "1")]);
        let both_2 = set(&[("alertname", "Disk"), ("severity", "both"), ("instance", "2")]);
        let critical = set(&[("alertname", "Disk"), ("severity", "critical")]);
        let warning = set(&[("alertname", "Disk"), ("severity", "warning")]);
        let mut index = InhibitionIndex::new(vec![rule]);
        for labels in [&both_1, &both_2, &warning] {
            index.insert(fingerprint(labels), labels);
        }
        assert_eq!(index.inhibitor(&both_1, fingerprint(&both_1)), None);
        assert_eq!(
            index.inhibitor(&warning, fingerprint(&warning)),
            Some(fingerprint(&both_1).min(fingerprint(&both_2)))
        );
        index.insert(fingerprint(&critical), &critical);
        assert_eq!(index.inhibitor(&both_1, fingerprint(&both_1)), Some(fingerprint(&critical)));
    }

    #[test]
    fn reinserting_with_other_labels_updates_the_index() {
        let mut index = InhibitionIndex::new(vec![host_rule()]);
        let fp = Fingerprint(7);
        assert!(index.insert(fp, &set(&[("alertname", "HostDown")])));
        assert!(!index.insert(fp, &set(&[("alertname", "Other")])));
        assert!(index.is_empty());
        assert!(!index.remove(fp));
    }

    #[test]
    fn rule_errors_name_the_field() {
        let e = parse_rule(&[], &strings(&["a=b", "=x"]), &strings(&["host", "no-label"])).unwrap_err();
        let e: Vec<String> = e.iter().map(ToString::to_string).collect();
        assert_eq!(e.len(), 3, "{e:?}");
        assert_eq!(e[0], "source_matchers: at least one matcher is required");
        assert!(e[1].starts_with("target_matchers[1]: column 1"), "{e:?}");
        assert_eq!(e[2], r#"equal[1]: "no-label" is not a label name"#);
    }
}
