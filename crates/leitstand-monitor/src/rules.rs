//! Alerting rules and their states, as Prometheus evaluates them: each
//! evaluation's result elements become alerts (labels of the element, the
//! rule's labels over them, `alertname`), pending until the condition has
//! held for the rule's `for` duration, then firing; an alert whose element
//! disappears is resolved. Time is always passed in, so `for` and
//! resolution are tested to the millisecond without sleeping.

use std::collections::BTreeMap;

use crate::eval::{EvalError, Value, eval};
use crate::promql::{Expr, ParseError, ValueType, parse};
use crate::series::{Labels, MatchOp, NAME, SeriesStore, normalise};

/// A rule as configured.
#[derive(Debug, Clone)]
pub struct Rule {
    /// The alert name (`alertname`).
    pub name: String,
    /// The expression as written (exported unchanged to Prometheus).
    pub expr_text: String,
    /// The parsed expression.
    pub expr: Expr,
    /// How long the condition must hold before the alert fires.
    pub for_ms: i64,
    /// How often the rule is evaluated.
    pub interval_ms: i64,
    /// Labels added to every alert (severity, tenant, service, …).
    pub labels: Vec<(String, String)>,
    /// Annotations (summary_de, summary_en, …).
    pub annotations: Vec<(String, String)>,
    /// Which tenants' series the rule is limited to beyond its expression
    /// (tenants with thresholds of their own); `None`: all.
    pub scope: Option<Scope>,
}

/// The tenants a scoped rule covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Only this tenant's series (its own thresholds).
    Tenant(String),
    /// Every series but those of these tenants (the platform's thresholds
    /// beside tenants with their own).
    OtherTenants(Vec<String>),
}

impl Scope {
    /// Whether the rule can raise alerts for `tenant`.
    pub fn covers(&self, tenant: &str) -> bool {
        match self {
            Scope::Tenant(t) => t == tenant,
            Scope::OtherTenants(list) => !list.iter().any(|t| t == tenant),
        }
    }

    /// The matcher that limits a rule's selectors to this scope.
    pub fn matcher(&self) -> Result<crate::series::Matcher, crate::series::MatcherError> {
        use crate::series::{MatchOp, Matcher};
        match self {
            Scope::Tenant(t) => Matcher::new("tenant", MatchOp::Equal, t),
            Scope::OtherTenants(list) => Matcher::new("tenant", MatchOp::NotRegex, &list.join("|")),
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Scope::Tenant(t) => write!(f, "tenant=\"{t}\""),
            Scope::OtherTenants(list) => write!(f, "tenant!~\"{}\"", list.join("|")),
        }
    }
}

/// Why a rule is not accepted: which rule, which field, what is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("rule {rule}: {field}: {message}")]
pub struct RuleError {
    /// The rule's name.
    pub rule: String,
    /// The field (`expr`, `name`, `for`, `labels.<name>`).
    pub field: String,
    /// What is wrong (with the column for expressions).
    pub message: String,
}

fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

impl Rule {
    /// Checks and parses a rule.
    pub fn new(
        name: &str,
        expr: &str,
        for_ms: i64,
        interval_ms: i64,
        labels: Vec<(String, String)>,
        annotations: Vec<(String, String)>,
    ) -> Result<Rule, RuleError> {
        let fail = |field: &str, message: String| RuleError { rule: name.to_string(), field: field.into(), message };
        if !valid_label_name(name.replace(':', "_").as_str()) {
            return Err(fail("name", format!("{name:?} is not a valid alert name")));
        }
        let (parsed, kind) = parse(expr).map_err(|e: ParseError| fail("expr", e.to_string()))?;
        if kind != ValueType::Instant {
            return Err(fail("expr", format!("must give an instant vector, gives a {}", kind.name())));
        }
        if for_ms < 0 {
            return Err(fail("for", "must not be negative".into()));
        }
        if interval_ms <= 0 {
            return Err(fail("interval", "must be longer than 0s".into()));
        }
        for (key, _) in labels.iter().chain(&annotations) {
            if !valid_label_name(key) {
                return Err(fail(&format!("labels.{key}"), "is not a valid label name".into()));
            }
        }
        Ok(Rule {
            name: name.into(),
            expr_text: expr.into(),
            expr: parsed,
            for_ms,
            interval_ms,
            labels,
            annotations,
            scope: None,
        })
    }

    /// The same rule limited to `scope`: its matcher is added to every
    /// selector of the expression.
    pub fn scoped(&self, scope: Scope) -> Result<Rule, crate::series::MatcherError> {
        let matcher = scope.matcher()?;
        fn walk(e: &mut Expr, m: &crate::series::Matcher) {
            match e {
                Expr::Selector(s) => s.matchers.push(m.clone()),
                Expr::Call { args, .. } => args.iter_mut().for_each(|a| walk(a, m)),
                Expr::Aggregate { param, expr, .. } => {
                    if let Some(p) = param {
                        walk(p, m);
                    }
                    walk(expr, m);
                }
                Expr::Binary { lhs, rhs, .. } => {
                    walk(lhs, m);
                    walk(rhs, m);
                }
                Expr::Negate(inner) => walk(inner, m),
                Expr::Number(_) => {}
            }
        }
        let mut rule = self.clone();
        walk(&mut rule.expr, &matcher);
        rule.scope = Some(scope);
        Ok(rule)
    }

    /// Metric names the expression reads.
    pub fn metric_names(&self) -> Vec<String> {
        fn walk(e: &Expr, out: &mut Vec<String>) {
            match e {
                Expr::Selector(s) => {
                    for m in &s.matchers {
                        if m.name == NAME && m.op == MatchOp::Equal && !out.contains(&m.value) {
                            out.push(m.value.clone());
                        }
                    }
                }
                Expr::Call { args, .. } => args.iter().for_each(|a| walk(a, out)),
                Expr::Aggregate { param, expr, .. } => {
                    if let Some(p) = param {
                        walk(p, out);
                    }
                    walk(expr, out);
                }
                Expr::Binary { lhs, rhs, .. } => {
                    walk(lhs, out);
                    walk(rhs, out);
                }
                Expr::Negate(inner) => walk(inner, out),
                Expr::Number(_) => {}
            }
        }
        let mut out = Vec::new();
        walk(&self.expr, &mut out);
        out
    }
}

/// Where an alert stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AlertState {
    /// The condition holds, not yet for `for`.
    Pending,
    /// Firing.
    Firing,
}

/// One alert of a rule.
#[derive(Debug, Clone, PartialEq)]
pub struct Alert {
    /// Labels: the element's, the rule's, `alertname`.
    pub labels: Labels,
    /// State.
    pub state: AlertState,
    /// When the condition started to hold.
    pub active_at_ms: i64,
    /// When it started firing.
    pub fired_at_ms: Option<i64>,
    /// The expression's value at the last evaluation.
    pub value: f64,
}

/// A change worth telling the alerting pipeline about.
#[derive(Debug, Clone, PartialEq)]
pub enum Transition {
    /// A new alert is pending.
    Pending(Alert),
    /// An alert started firing.
    Firing(Alert),
    /// A firing alert's condition no longer holds (at the time given).
    Resolved(Alert, i64),
}

/// The evaluation state of one rule.
#[derive(Debug, Clone, Default)]
pub struct RuleState {
    /// Active alerts by labels.
    pub alerts: BTreeMap<Labels, Alert>,
    /// Time of the last evaluation.
    pub last_eval_ms: Option<i64>,
    /// The last evaluation's error, if it failed.
    pub last_error: Option<String>,
    /// Metric names the rule reads that the store does not have (the rule
    /// cannot fire; the UI says so).
    pub missing_metrics: Vec<String>,
}

impl RuleState {
    /// Evaluates `rule` at `at_ms` and returns the transitions. A failed
    /// evaluation keeps the alerts as they are and records the error.
    pub fn evaluate(&mut self, rule: &Rule, store: &SeriesStore, at_ms: i64) -> Result<Vec<Transition>, EvalError> {
        self.last_eval_ms = Some(at_ms);
        self.missing_metrics = rule.metric_names().into_iter().filter(|n| !store.has_metric(n)).collect();
        let elements = match eval(&rule.expr, store, at_ms) {
            Ok(Value::Vector(v)) => {
                self.last_error = None;
                v
            }
            Ok(Value::Scalar(_)) => Vec::new(),
            Err(e) => {
                self.last_error = Some(e.to_string());
                return Err(e);
            }
        };
        let mut transitions = Vec::new();
        let mut seen = Vec::with_capacity(elements.len());
        for element in elements {
            let mut labels: Vec<(String, String)> = element
                .labels
                .into_iter()
                .filter(|(k, _)| k != NAME && !rule.labels.iter().any(|(r, _)| r == k))
                .collect();
            labels.extend(rule.labels.iter().cloned());
            labels.retain(|(k, _)| k != "alertname");
            labels.push(("alertname".into(), rule.name.clone()));
            let labels = normalise(labels);
            seen.push(labels.clone());
            match self.alerts.get_mut(&labels) {
                Some(alert) => {
                    alert.value = element.value;
                    if alert.state == AlertState::Pending && at_ms - alert.active_at_ms >= rule.for_ms {
                        alert.state = AlertState::Firing;
                        alert.fired_at_ms = Some(at_ms);
                        transitions.push(Transition::Firing(alert.clone()));
                    }
                }
                None => {
                    let firing = rule.for_ms == 0;
                    let alert = Alert {
                        labels: labels.clone(),
                        state: if firing { AlertState::Firing } else { AlertState::Pending },
                        active_at_ms: at_ms,
                        fired_at_ms: firing.then_some(at_ms),
                        value: element.value,
                    };
                    transitions.push(if firing {
                        Transition::Firing(alert.clone())
                    } else {
                        Transition::Pending(alert.clone())
                    });
                    self.alerts.insert(labels, alert);
                }
            }
        }
        let gone: Vec<Labels> = self.alerts.keys().filter(|k| !seen.contains(k)).cloned().collect();
        for labels in gone {
            if let Some(alert) = self.alerts.remove(&labels)
                && alert.state == AlertState::Firing
            {
                transitions.push(Transition::Resolved(alert, at_ms));
            }
        }
        Ok(transitions)
    }
}

/// Formats a float as Go's `%v` does (how Prometheus templates print `$value`).
pub fn go_float(v: f64) -> String {
    if v.is_nan() {
        return "NaN".into();
    }
    if v.is_infinite() {
        return if v > 0.0 { "+Inf".into() } else { "-Inf".into() };
    }
    let abs = v.abs();
    if v != 0.0 && !(1e-4..1e21).contains(&abs) {
        let s = format!("{v:e}");
        let (mantissa, exp) = s.split_once('e').unwrap_or((&s, "0"));
        let exp: i32 = exp.parse().unwrap_or(0);
        return format!("{mantissa}e{}{:02}", if exp < 0 { '-' } else { '+' }, exp.abs());
    }
    format!("{v}")
}

/// Expands `{{ $value }}` and `{{ $labels.NAME }}` in an annotation, as
/// Prometheus's templates print them.
pub fn expand_template(text: &str, labels: &Labels, value: f64) -> String {
    let mut out = text.replace("{{ $value }}", &go_float(value)).replace("{{$value}}", &go_float(value));
    for (k, v) in labels {
        out = out.replace(&format!("{{{{ $labels.{k} }}}}"), v).replace(&format!("{{{{$labels.{k}}}}}"), v);
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn l(pairs: &[(&str, &str)]) -> Labels {
        normalise(pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    }

    fn rule(expr: &str, for_ms: i64) -> Rule {
        let labels = vec![("severity".into(), "critical".into()), ("service".into(), "portal".into())];
        let annotations = vec![("summary_de".into(), "Portal nicht erreichbar".into())];
        Rule::new("PortalDown", expr, for_ms, 30_000, labels, annotations).unwrap()
    }

    #[test]
    fn pending_firing_resolved_with_for() {
        let mut store = SeriesStore::new(3_600_000, 100);
        let mut state = RuleState::default();
        let r = rule("probe_success{job=\"portal\"} == 0", 60_000);
        let up = |v: f64| (l(&[(NAME, "probe_success"), ("job", "portal"), ("instance", "https://portal.example")]), v);
        let mut step = |t: i64, v: f64, state: &mut RuleState| {
            let (labels, value) = up(v);
            store.append(labels, t, value).unwrap();
            state.evaluate(&r, &store, t).unwrap()
        };
        assert!(step(0, 1.0, &mut state).is_empty());
        let t = step(30_000, 0.0, &mut state);
        let [Transition::Pending(alert)] = t.as_slice() else { panic!("{t:?}") };
        assert_eq!(
            alert.labels,
            l(&[
                ("alertname", "PortalDown"),
                ("instance", "https://portal.example"),
                ("job", "portal"),
                ("service", "portal"),
                ("severity", "critical")
            ])
        );
        assert!(step(60_000, 0.0, &mut state).is_empty(), "30 s of 60 s");
        let t = step(90_000, 0.0, &mut state);
        let [Transition::Firing(alert)] = t.as_slice() else { panic!("{t:?}") };
        assert_eq!((alert.active_at_ms, alert.fired_at_ms), (30_000, Some(90_000)));
        assert!(step(120_000, 0.0, &mut state).is_empty(), "still firing, no new transition");
        let t = step(150_000, 1.0, &mut state);
        assert!(matches!(t.as_slice(), [Transition::Resolved(_, 150_000)]), "{t:?}");
        // A blip shorter than `for` never fires and resolves silently.
        assert!(matches!(step(180_000, 0.0, &mut state).as_slice(), [Transition::Pending(_)]));
        assert!(step(210_000, 1.0, &mut state).is_empty());
        assert!(state.alerts.is_empty());
    }

    #[test]
    fn missing_metrics_are_reported_and_bad_rules_named() {
        let store = SeriesStore::new(60_000, 10);
        let mut state = RuleState::default();
        let r = rule("rate(http_requests_total{code=~\"5..\"}[5m]) / rate(http_requests_total[5m]) > 0.05", 0);
        assert!(state.evaluate(&r, &store, 0).unwrap().is_empty());
        assert_eq!(state.missing_metrics, ["http_requests_total"]);
        let err = Rule::new("HighErrors", "rate(x) > 1", 0, 30_000, vec![], vec![]).unwrap_err();
        assert_eq!(
            err.to_string(),
            "rule HighErrors: expr: column 6: rate(): expected range vector (e.g. x[5m]), got instant vector"
        );
        let err = Rule::new("Bad", "x[5m]", 0, 30_000, vec![], vec![]).unwrap_err();
        assert_eq!(err.field, "expr");
        let err = Rule::new("Bad", "x > 1", 0, 30_000, vec![("bad-label".into(), "x".into())], vec![]).unwrap_err();
        assert_eq!(err.field, "labels.bad-label");
        let err = Rule::new("not valid", "x > 1", 0, 30_000, vec![], vec![]).unwrap_err();
        assert_eq!(err.field, "name");
    }

    #[test]
    fn a_scoped_rule_sees_only_the_matching_series() {
        let mut store = SeriesStore::new(3_600_000, 100);
        for (tenant, depth) in [("bank-a", 700.0), ("bank-b", 800.0), ("", 900.0)] {
            store.append(l(&[(NAME, "queue_depth"), ("tenant", tenant)]), 0, depth).unwrap();
        }
        let base = rule("queue_depth > 500", 0);
        let only_a = base.scoped(Scope::Tenant("bank-a".into())).unwrap();
        let not_a = base.scoped(Scope::OtherTenants(vec!["bank-a".into()])).unwrap();
        let values = |r: &Rule| -> Vec<f64> {
            let mut state = RuleState::default();
            let t = state.evaluate(r, &store, 0).unwrap();
            t.iter().map(|t| if let Transition::Firing(a) = t { a.value } else { f64::NAN }).collect()
        };
        assert_eq!(values(&only_a), [700.0]);
        assert_eq!(values(&not_a), [900.0, 800.0], "the platform's series and the other tenant's");
        assert_eq!(only_a.expr_text, "queue_depth > 500", "the expression as written stays");
        assert_eq!(only_a.scope.as_ref().map(ToString::to_string).as_deref(), Some("tenant=\"bank-a\""));
        assert!(not_a.scope.as_ref().is_some_and(|s| s.covers("bank-c") && !s.covers("bank-a")));
    }

    #[test]
    fn for_zero_fires_at_once_and_rule_labels_win() {
        let mut store = SeriesStore::new(3_600_000, 100);
        store.append(l(&[(NAME, "queue_depth"), ("severity", "info"), ("queue", "orders")]), 0, 700.0).unwrap();
        let mut state = RuleState::default();
        let t = state.evaluate(&rule("queue_depth > 500", 0), &store, 0).unwrap();
        let [Transition::Firing(alert)] = t.as_slice() else { panic!("{t:?}") };
        assert!(alert.labels.contains(&("severity".into(), "critical".into())));
        assert_eq!(alert.value, 700.0);
    }
}
