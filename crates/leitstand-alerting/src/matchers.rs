//! Alertmanager's label matcher syntax, as typed into a silence form or
//! `amtool` and written in inhibition rules: `alertname="ProbeDown"`,
//! `severity=~"warning|critical"`, lists such as `{service!="x", env!~"dev.*"}`.
//!
//! The matchers themselves are the monitor's ([`Matcher`]): the same
//! anchored regexes and the same rule that a missing label matches as the
//! empty string, so a silence selects exactly what a PromQL selector with
//! the same text would. This module only adds the text form. Values may be
//! quoted (escapes `\"`, `\\`, `\n`; any other backslash is kept, so
//! `"\d+"` is the regex `\d+`, as in Alertmanager) or, like `amtool`
//! accepts them, unquoted when they hold no space or reserved character.
//! [`format_matcher`] gives the canonical, always-quoted form used to store
//! matchers as strings; parsing it gives back the same matcher.

use std::fmt;

pub use leitstand_monitor::series::{MatchOp, Matcher};

use crate::labels::{Labels, valid_label_name};

/// Why matcher text could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct MatcherSyntaxError {
    /// Where the problem is: 1-based, in characters.
    pub column: usize,
    /// The text found there (up to a few characters; empty at the end).
    pub found: String,
    /// What was expected or what is wrong.
    pub reason: String,
}

impl fmt::Display for MatcherSyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.found.is_empty() {
            write!(f, "column {}, at the end: {}", self.column, self.reason)
        } else {
            write!(f, "column {}, at {:?}: {}", self.column, self.found, self.reason)
        }
    }
}

/// The operator as written.
pub fn op_text(op: MatchOp) -> &'static str {
    match op {
        MatchOp::Equal => "=",
        MatchOp::NotEqual => "!=",
        MatchOp::Regex => "=~",
        MatchOp::NotRegex => "!~",
    }
}

/// Characters that end an unquoted value (Alertmanager's reserved set).
fn reserved(c: char) -> bool {
    c.is_whitespace() || "{}!=~,\\\"'`".contains(c)
}

struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    fn new(text: &'a str) -> Self {
        Self { text, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.pos..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn bump(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.pos += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.bump();
        }
    }

    fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> &'a str {
        let start = self.pos;
        while self.peek().is_some_and(&keep) {
            self.bump();
        }
        &self.text[start..self.pos]
    }

    fn error_at(&self, at: usize, reason: impl Into<String>) -> MatcherSyntaxError {
        MatcherSyntaxError {
            column: self.text[..at].chars().count() + 1,
            found: self.text[at..].chars().take(12).collect(),
            reason: reason.into(),
        }
    }

    fn error(&self, reason: impl Into<String>) -> MatcherSyntaxError {
        self.error_at(self.pos, reason)
    }

    /// One matcher, leading whitespace skipped.
    fn matcher(&mut self) -> Result<Matcher, MatcherSyntaxError> {
        self.skip_ws();
        let name_at = self.pos;
        let name = self.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
        if name.is_empty() {
            return Err(self.error("expected a label name"));
        }
        if !valid_label_name(name) {
            return Err(self.error_at(name_at, "a label name must not start with a digit"));
        }
        self.skip_ws();
        let op = if self.rest().starts_with("=~") {
            MatchOp::Regex
        } else if self.rest().starts_with("!~") {
            MatchOp::NotRegex
        } else if self.rest().starts_with("!=") {
            MatchOp::NotEqual
        } else if self.rest().starts_with('=') {
            MatchOp::Equal
        } else {
            return Err(self.error("expected an operator: =, !=, =~ or !~"));
        };
        self.pos += op_text(op).len();
        self.skip_ws();
        let value_at = self.pos;
        let value = if self.eat('"') {
            self.quoted(value_at)?
        } else {
            let value = self.take_while(|c| !reserved(c));
            if value.is_empty() {
                return Err(self.error("expected a value (quote it, \"…\", if it is empty or holds spaces or ,{}=!~)"));
            }
            value.to_string()
        };
        Matcher::new(name, op, &value).map_err(|e| self.error_at(value_at, format!("invalid regex: {}", e.reason)))
    }

    /// The rest of a quoted value, the opening quote consumed.
    fn quoted(&mut self, opening: usize) -> Result<String, MatcherSyntaxError> {
        let mut value = String::new();
        loop {
            match self.bump() {
                None => return Err(self.error_at(opening, "the quoted value is not closed")),
                Some('"') => return Ok(value),
                Some('\\') => match self.bump() {
                    None => return Err(self.error_at(opening, "the quoted value is not closed")),
                    Some('n') => value.push('\n'),
                    Some(c @ ('"' | '\\')) => value.push(c),
                    // A backslash that escapes nothing is kept, as in
                    // Alertmanager, so regex classes like `\d` survive.
                    Some(c) => {
                        value.push('\\');
                        value.push(c);
                    }
                },
                Some(c) => value.push(c),
            }
        }
    }
}

/// One matcher such as `alertname="ProbeDown"`, `severity=~"warning|critical"`
/// or, unquoted, `alertname=ProbeDown`.
pub fn parse_matcher(s: &str) -> Result<Matcher, MatcherSyntaxError> {
    let mut cur = Cursor::new(s);
    let matcher = cur.matcher()?;
    cur.skip_ws();
    if !cur.at_end() {
        return Err(cur.error("unexpected text after the matcher (one matcher only; quote values with spaces)"));
    }
    Ok(matcher)
}

/// A list of matchers, `{a="b", c=~"d"}` or `a="b",c="d"`: braces optional,
/// a trailing comma allowed, an empty list (`{}` or nothing) is empty.
pub fn parse_matchers(s: &str) -> Result<Vec<Matcher>, MatcherSyntaxError> {
    let mut cur = Cursor::new(s);
    cur.skip_ws();
    let braced = cur.eat('{');
    let mut out = Vec::new();
    loop {
        cur.skip_ws();
        if cur.at_end() || (braced && cur.peek() == Some('}')) {
            break;
        }
        out.push(cur.matcher()?);
        cur.skip_ws();
        if !cur.eat(',') {
            break;
        }
    }
    cur.skip_ws();
    if braced && !cur.eat('}') {
        return Err(cur.error(if cur.at_end() { "the list is not closed with }" } else { "expected , or }" }));
    }
    cur.skip_ws();
    if !cur.at_end() {
        return Err(cur.error(if braced {
            "unexpected text after }"
        } else {
            "expected , between matchers (quote values with spaces)"
        }));
    }
    Ok(out)
}

/// Whether every matcher matches `labels`; a missing label matches as `""`.
pub fn matches_all(matchers: &[Matcher], labels: &impl Labels) -> bool {
    matchers.iter().all(|m| m.matches(labels.label(&m.name).unwrap_or("")))
}

/// Whether a matcher also matches alerts that lack its label.
pub fn matches_empty(matcher: &Matcher) -> bool {
    matcher.matches("")
}

/// Appends `value` quoted, escaping `\`, `"` and newlines.
pub(crate) fn push_quoted(out: &mut String, value: &str) {
    out.push('"');
    for c in value.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// The canonical text, `name="value"` (always quoted), which
/// [`parse_matcher`] reads back to the same matcher.
pub fn format_matcher(matcher: &Matcher) -> String {
    let mut out = String::with_capacity(matcher.name.len() + matcher.value.len() + 4);
    out.push_str(&matcher.name);
    out.push_str(op_text(matcher.op));
    push_quoted(&mut out, &matcher.value);
    out
}

/// The canonical text of a list, `{a="b", c=~"d"}`.
pub fn format_matchers(matchers: &[Matcher]) -> String {
    let inner: Vec<String> = matchers.iter().map(format_matcher).collect();
    format!("{{{}}}", inner.join(", "))
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::labels::LabelSet;

    fn triple(m: &Matcher) -> (String, MatchOp, String) {
        (m.name.clone(), m.op, m.value.clone())
    }

    fn set(pairs: &[(&str, &str)]) -> LabelSet {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn single_matchers_in_every_form() {
        for (text, name, op, value) in [
            (r#"alertname="ProbeDown""#, "alertname", MatchOp::Equal, "ProbeDown"),
            (r#"severity=~"warning|critical""#, "severity", MatchOp::Regex, "warning|critical"),
            (r#"service!="x""#, "service", MatchOp::NotEqual, "x"),
            (r#"env!~"dev.*""#, "env", MatchOp::NotRegex, "dev.*"),
            ("alertname=ProbeDown", "alertname", MatchOp::Equal, "ProbeDown"),
            ("severity=~warning|critical", "severity", MatchOp::Regex, "warning|critical"),
            (r#"  instance = "a b"  "#, "instance", MatchOp::Equal, "a b"),
            (r#"a="say \"hi\"\\\n""#, "a", MatchOp::Equal, "say \"hi\"\\\n"),
            (r#"a=~"\d+""#, "a", MatchOp::Regex, r"\d+"),
            (r#"a="""#, "a", MatchOp::Equal, ""),
            (r#"a="Störung, Ausfall""#, "a", MatchOp::Equal, "Störung, Ausfall"),
        ] {
            let m = parse_matcher(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(triple(&m), (name.to_string(), op, value.to_string()), "{text}");
        }
    }

    #[test]
    fn errors_say_where_and_why() {
        for (text, column, reason) in [
            ("", 1, "expected a label name"),
            (r#"="x""#, 1, "expected a label name"),
            (r#"1a="x""#, 1, "must not start with a digit"),
            (r#"a:b="x""#, 2, "expected an operator"),
            (r#"a=="x""#, 3, "expected a value"),
            ("a=", 3, "expected a value"),
            (r#"a="x"#, 3, "not closed"),
            (r#"a=~"(x""#, 4, "invalid regex"),
            ("alertname=Probe Down", 17, "unexpected text"),
            (r#"a="b",c="d""#, 6, "unexpected text"),
        ] {
            let e = parse_matcher(text).err().unwrap_or_else(|| panic!("{text} parsed"));
            assert_eq!(e.column, column, "{text}: {e}");
            assert!(e.reason.contains(reason), "{text}: {e}");
        }
        let e = parse_matcher(r#"a=~"(x""#).unwrap_err();
        assert_eq!(e.to_string(), r#"column 4, at "\"(x\"": invalid regex: unclosed group"#);
    }

    #[test]
    fn lists_with_and_without_braces() {
        let want = vec![
            ("a".to_string(), MatchOp::Equal, "b".to_string()),
            ("c".to_string(), MatchOp::Regex, "d".to_string()),
        ];
        for text in [r#"{a="b", c=~"d"}"#, r#"a="b",c=~"d""#, r#" { a = "b" , c =~ d , } "#, "a=b,c=~d,"] {
            let got: Vec<_> =
                parse_matchers(text).unwrap_or_else(|e| panic!("{text}: {e}")).iter().map(triple).collect();
            assert_eq!(got, want, "{text}");
        }
        assert!(parse_matchers("{}").unwrap().is_empty());
        assert!(parse_matchers("  ").unwrap().is_empty());
        for (text, column, reason) in [
            (r#"{a="b""#, 7, "not closed with }"),
            (r#"{a="b" c="d"}"#, 8, "expected , or }"),
            (r#"a="b" c="d""#, 7, "expected , between matchers"),
            (r#"a="b",,c="d""#, 7, "expected a label name"),
            (r#"{a="b"}x"#, 8, "after }"),
            ("}", 1, "expected a label name"),
        ] {
            let e = parse_matchers(text).err().unwrap_or_else(|| panic!("{text} parsed"));
            assert_eq!(e.column, column, "{text}: {e}");
            assert!(e.reason.contains(reason), "{text}: {e}");
        }
    }

    #[test]
    fn missing_labels_match_as_empty() {
        let labels = set(&[("alertname", "ProbeDown"), ("severity", "critical")]);
        let ms = |t: &str| parse_matchers(t).unwrap();
        assert!(matches_all(&ms(r#"alertname="ProbeDown", severity=~"warning|critical""#), &labels));
        assert!(!matches_all(&ms(r#"alertname="ProbeDown", severity="warning""#), &labels));
        assert!(matches_all(&ms(r#"service="""#), &labels), "absent = empty");
        assert!(matches_all(&ms(r#"service!="portal""#), &labels));
        assert!(!matches_all(&ms(r#"service=~".+""#), &labels));
        assert!(!matches_all(&ms(r#"severity=~"crit""#), &labels), "regexes are anchored");
        assert!(matches_all(&[], &labels));
        assert!(matches_empty(&parse_matcher(r#"a=~".*""#).unwrap()));
        assert!(!matches_empty(&parse_matcher(r#"a=~".+""#).unwrap()));
    }

    #[test]
    fn canonical_text() {
        let m = parse_matcher(r#"a=~say\"hi"#);
        assert!(m.is_err(), "backslash is reserved unquoted");
        let m = parse_matcher("a = \"say \\\"hi\\\"\n\\d\"").unwrap();
        assert_eq!(format_matcher(&m), r#"a="say \"hi\"\n\\d""#);
        let list = parse_matchers("alertname=ProbeDown,severity!~info").unwrap();
        assert_eq!(format_matchers(&list), r#"{alertname="ProbeDown", severity!~"info"}"#);
    }

    fn op() -> impl Strategy<Value = MatchOp> {
        prop_oneof![Just(MatchOp::Equal), Just(MatchOp::NotEqual), Just(MatchOp::Regex), Just(MatchOp::NotRegex)]
    }

    proptest! {
        #[test]
        fn canonical_text_round_trips(
            name in "[a-zA-Z_][a-zA-Z0-9_]{0,12}",
            op in op(),
            value in prop_oneof![any::<String>(), "[a-z\\\\\"\n .*|+?()\\[\\]{},=!~]{0,16}"],
        ) {
            let Ok(m) = Matcher::new(&name, op, &value) else { return Ok(()) };
            let text = format_matcher(&m);
            let back = parse_matcher(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
            prop_assert_eq!(triple(&back), triple(&m));
            let list = format_matchers(&[m.clone(), back]);
            let both = parse_matchers(&list).map_err(|e| TestCaseError::fail(format!("{list}: {e}")))?;
            prop_assert_eq!(both.iter().map(triple).collect::<Vec<_>>(), vec![triple(&m), triple(&m)]);
        }

        #[test]
        fn parsing_never_panics(text in "\\PC{0,40}") {
            let _ = parse_matchers(&text);
            let _ = parse_matcher(&text);
        }
    }
}
