//! The exposition formats scrape targets speak: Prometheus text 0.0.4
//! (`text/plain; version=0.0.4`) and OpenMetrics 1.0
//! (`application/openmetrics-text`). One hand-written parser for both (the
//! only maintained Rust parser for OpenMetrics is LGPL), strict where the
//! formats are strict, and precise when it refuses: every error names the
//! line and column.
//!
//! Differences handled: OpenMetrics ends with `# EOF`, has `# UNIT`, writes
//! timestamps in seconds (Prometheus text: milliseconds), knows exemplars
//! after a ` # `, and the types `info`, `stateset`, `gaugehistogram`. Both
//! are normalised to samples with millisecond timestamps.

use std::fmt;

/// Which format a body is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// Prometheus text format 0.0.4.
    Prometheus,
    /// OpenMetrics 1.0 text.
    OpenMetrics,
}

impl Format {
    /// The format for a `Content-Type` header value (Prometheus text when
    /// absent or unknown, as Prometheus itself falls back).
    pub fn from_content_type(content_type: Option<&str>) -> Format {
        match content_type {
            Some(ct) if ct.trim_start().starts_with("application/openmetrics-text") => Format::OpenMetrics,
            _ => Format::Prometheus,
        }
    }
}

/// A metric family's type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Monotonic counter.
    Counter,
    /// Gauge.
    Gauge,
    /// Histogram (`_bucket`, `_sum`, `_count`).
    Histogram,
    /// Gauge histogram (OpenMetrics).
    GaugeHistogram,
    /// Summary.
    Summary,
    /// Info (OpenMetrics).
    Info,
    /// State set (OpenMetrics).
    StateSet,
    /// Untyped / unknown.
    Unknown,
}

impl Kind {
    fn parse(text: &str, format: Format) -> Option<Kind> {
        Some(match (text, format) {
            ("counter", _) => Kind::Counter,
            ("gauge", _) => Kind::Gauge,
            ("histogram", _) => Kind::Histogram,
            ("summary", _) => Kind::Summary,
            ("untyped", Format::Prometheus) | ("unknown", Format::OpenMetrics) => Kind::Unknown,
            ("gaugehistogram", Format::OpenMetrics) => Kind::GaugeHistogram,
            ("info", Format::OpenMetrics) => Kind::Info,
            ("stateset", Format::OpenMetrics) => Kind::StateSet,
            _ => return None,
        })
    }

    /// Sample-name suffixes that belong to a family of this kind.
    fn suffixes(self) -> &'static [&'static str] {
        match self {
            Kind::Counter => &["_total", "_created", ""],
            Kind::Histogram => &["_bucket", "_sum", "_count", "_created"],
            Kind::GaugeHistogram => &["_bucket", "_gsum", "_gcount"],
            Kind::Summary => &["_sum", "_count", "_created", ""],
            Kind::Info => &["_info"],
            _ => &[""],
        }
    }
}

/// One sample.
#[derive(Debug, Clone, PartialEq)]
pub struct Sample {
    /// The sample's metric name (with suffix, e.g. `http_requests_total`).
    pub name: String,
    /// Labels in the order given.
    pub labels: Vec<(String, String)>,
    /// The value.
    pub value: f64,
    /// Timestamp in milliseconds since the epoch, if the target gave one.
    pub timestamp_ms: Option<i64>,
}

/// A metric family: metadata and its samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Family {
    /// Family name.
    pub name: String,
    /// Type (`Unknown` if no `# TYPE` line).
    pub kind: Kind,
    /// Help text.
    pub help: Option<String>,
    /// Unit (OpenMetrics).
    pub unit: Option<String>,
    /// Samples.
    pub samples: Vec<Sample>,
}

/// Why a body cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}, column {column}: {message}")]
pub struct ExpositionError {
    /// 1-based line.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// Limits that protect the scraper from a hostile or broken target.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    /// Most samples accepted from one body.
    pub max_samples: usize,
    /// Most labels on one sample.
    pub max_labels: usize,
    /// Largest body read from a target.
    pub max_body_bytes: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self { max_samples: 200_000, max_labels: 64, max_body_bytes: 32 << 20 }
    }
}

/// A cursor over one line.
struct Line<'a> {
    text: &'a str,
    at: usize,
    number: usize,
}

impl<'a> Line<'a> {
    fn fail(&self, message: impl fmt::Display) -> ExpositionError {
        let column = self.text[..self.at.min(self.text.len())].chars().count() + 1;
        ExpositionError { line: self.number, column, message: message.to_string() }
    }

    fn rest(&self) -> &'a str {
        &self.text[self.at..]
    }

    fn peek(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn eat(&mut self, c: char) -> bool {
        if self.peek() == Some(c) {
            self.at += c.len_utf8();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, c: char, what: &str) -> Result<(), ExpositionError> {
        if self.eat(c) { Ok(()) } else { Err(self.fail(format!("expected {what}"))) }
    }

    fn spaces(&mut self) -> usize {
        let n = self.rest().len() - self.rest().trim_start_matches([' ', '\t']).len();
        self.at += n;
        n
    }

    /// `[a-zA-Z_:][a-zA-Z0-9_:]*` (metric) or without `:` (label).
    fn name(&mut self, metric: bool, what: &str) -> Result<&'a str, ExpositionError> {
        let ok_first = |c: char| c.is_ascii_alphabetic() || c == '_' || (metric && c == ':');
        let ok = |c: char| ok_first(c) || c.is_ascii_digit();
        let rest = self.rest();
        match rest.chars().next() {
            Some(c) if ok_first(c) => {}
            _ => return Err(self.fail(format!("expected {what}"))),
        }
        let len = rest.find(|c: char| !ok(c)).unwrap_or(rest.len());
        self.at += len;
        Ok(&rest[..len])
    }

    fn token(&mut self) -> &'a str {
        let rest = self.rest();
        let len = rest.find([' ', '\t']).unwrap_or(rest.len());
        self.at += len;
        &rest[..len]
    }

    /// A quoted label value with `\\`, `\"`, `\n` escapes.
    fn quoted(&mut self) -> Result<String, ExpositionError> {
        self.expect('"', "'\"' to start the label value")?;
        let mut out = String::new();
        let mut chars = self.rest().char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '"' => {
                    self.at += i + 1;
                    return Ok(out);
                }
                '\\' => match chars.next() {
                    Some((_, '\\')) => out.push('\\'),
                    Some((_, '"')) => out.push('"'),
                    Some((_, 'n')) => out.push('\n'),
                    _ => {
                        self.at += i;
                        return Err(self.fail("invalid escape in label value (only \\\\, \\\" and \\n)"));
                    }
                },
                c => out.push(c),
            }
        }
        self.at = self.text.len();
        Err(self.fail("label value is not closed with '\"'"))
    }

    /// `{name="value",…}`; the opening brace is already current.
    fn labels(&mut self, limits: &Limits) -> Result<Vec<(String, String)>, ExpositionError> {
        let mut labels: Vec<(String, String)> = Vec::new();
        self.expect('{', "'{'")?;
        loop {
            self.spaces();
            if self.eat('}') {
                return Ok(labels);
            }
            let start = self.at;
            let name = self.name(false, "a label name")?;
            if labels.iter().any(|(n, _)| n == name) {
                self.at = start;
                return Err(self.fail(format!("label {name:?} appears twice")));
            }
            if labels.len() == limits.max_labels {
                return Err(self.fail(format!("more than {} labels", limits.max_labels)));
            }
            self.spaces();
            self.expect('=', "'=' after the label name")?;
            self.spaces();
            let value = self.quoted()?;
            labels.push((name.to_string(), value));
            self.spaces();
            if self.eat(',') {
                continue;
            }
            self.expect('}', "',' or '}' after the label value")?;
            return Ok(labels);
        }
    }
}

fn parse_value(text: &str) -> Option<f64> {
    match text {
        "+Inf" | "Inf" | "+inf" | "inf" => Some(f64::INFINITY),
        "-Inf" | "-inf" => Some(f64::NEG_INFINITY),
        "NaN" | "nan" => Some(f64::NAN),
        t if t.starts_with(|c: char| c.is_ascii_digit() || matches!(c, '-' | '+' | '.')) => t.parse().ok(),
        _ => None,
    }
}

/// Parses a body in `format`.
pub fn parse(body: &str, format: Format, limits: &Limits) -> Result<Vec<Family>, ExpositionError> {
    let mut families: Vec<Family> = Vec::new();
    let mut samples = 0usize;
    let mut eof = false;
    let lines: Vec<&str> = body.split('\n').collect();
    let last = lines.len();
    for (i, text) in lines.into_iter().enumerate() {
        let mut line = Line { text: text.strip_suffix('\r').unwrap_or(text), at: 0, number: i + 1 };
        if eof {
            if !(line.text.is_empty() && i + 1 == last) {
                return Err(line.fail("nothing may follow '# EOF'"));
            }
            continue;
        }
        if line.text.trim().is_empty() {
            if format == Format::OpenMetrics && i + 1 != last {
                return Err(line.fail("empty lines are not allowed in OpenMetrics"));
            }
            continue;
        }
        if let Some(comment) = line.text.strip_prefix('#') {
            if format == Format::OpenMetrics && comment == " EOF" {
                eof = true;
                continue;
            }
            metadata(&mut line, format, &mut families)?;
            continue;
        }
        let sample = sample(&mut line, format, limits)?;
        samples += 1;
        if samples > limits.max_samples {
            return Err(line.fail(format!("more than {} samples", limits.max_samples)));
        }
        let family = families
            .iter_mut()
            .rev()
            .find(|f| f.kind.suffixes().iter().any(|s| sample.name.strip_suffix(s).is_some_and(|base| base == f.name)));
        match family {
            Some(f) => f.samples.push(sample),
            None => families.push(Family {
                name: sample.name.clone(),
                kind: Kind::Unknown,
                help: None,
                unit: None,
                samples: vec![sample],
            }),
        }
    }
    if format == Format::OpenMetrics && !eof {
        return Err(ExpositionError { line: last, column: 1, message: "missing '# EOF' at the end".into() });
    }
    Ok(families)
}

/// A `# HELP`, `# TYPE` or `# UNIT` line (other comments are ignored in
/// the Prometheus format, refused in OpenMetrics).
fn metadata(line: &mut Line<'_>, format: Format, families: &mut Vec<Family>) -> Result<(), ExpositionError> {
    line.at = 1;
    if line.spaces() == 0 {
        return match format {
            Format::Prometheus => Ok(()),
            Format::OpenMetrics => Err(line.fail("expected ' ' after '#'")),
        };
    }
    let keyword = line.token();
    if !matches!(keyword, "HELP" | "TYPE" | "UNIT") || (keyword == "UNIT" && format == Format::Prometheus) {
        return match format {
            Format::Prometheus => Ok(()),
            Format::OpenMetrics => Err(line.fail(format!("unknown metadata {keyword:?} (HELP, TYPE or UNIT)"))),
        };
    }
    if line.spaces() == 0 {
        return Err(line.fail(format!("expected a metric name after # {keyword}")));
    }
    let name = line.name(true, "a metric name")?.to_string();
    let value = if line.spaces() > 0 || line.rest().is_empty() { line.rest() } else { "" };
    if !line.rest().is_empty() && value.is_empty() {
        return Err(line.fail("expected ' ' after the metric name"));
    }
    let index = match families.iter().position(|f| f.name == name) {
        Some(i) => i,
        None => {
            families.push(Family {
                name: name.clone(),
                kind: Kind::Unknown,
                help: None,
                unit: None,
                samples: Vec::new(),
            });
            families.len() - 1
        }
    };
    let family = &mut families[index];
    match keyword {
        "HELP" => {
            if family.help.is_some() {
                return Err(line.fail(format!("second HELP for {name}")));
            }
            family.help = Some(value.replace("\\n", "\n").replace("\\\\", "\\"));
        }
        "TYPE" => {
            let kind = Kind::parse(value.trim_end(), format)
                .ok_or_else(|| line.fail(format!("unknown type {:?}", value.trim_end())))?;
            if family.kind != Kind::Unknown || !family.samples.is_empty() {
                return Err(line.fail(format!("TYPE for {name} must come once, before its samples")));
            }
            family.kind = kind;
        }
        _ => family.unit = Some(value.to_string()),
    }
    Ok(())
}

/// `name[{labels}] value [timestamp][ # exemplar]`.
fn sample(line: &mut Line<'_>, format: Format, limits: &Limits) -> Result<Sample, ExpositionError> {
    let name = line.name(true, "a metric name")?.to_string();
    let labels = if line.peek() == Some('{') { line.labels(limits)? } else { Vec::new() };
    if line.spaces() == 0 {
        return Err(line.fail("expected ' ' before the value"));
    }
    let value_text = line.token();
    let value = parse_value(value_text).ok_or_else(|| line.fail(format!("{value_text:?} is not a number")))?;
    let mut timestamp_ms = None;
    if line.spaces() > 0 && !line.rest().is_empty() && !line.rest().starts_with('#') {
        let text = line.token();
        timestamp_ms = Some(match format {
            Format::Prometheus => {
                text.parse::<i64>().map_err(|_| line.fail(format!("{text:?} is not a timestamp in ms")))?
            }
            Format::OpenMetrics => {
                let seconds: f64 = text
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite())
                    .ok_or_else(|| line.fail(format!("{text:?} is not a timestamp in seconds")))?;
                (seconds * 1000.0).round() as i64
            }
        });
        line.spaces();
    }
    if line.rest().starts_with('#') {
        if format == Format::Prometheus {
            return Err(line.fail("exemplars are OpenMetrics only"));
        }
        // An exemplar: `# {labels} value [timestamp]`, checked but not kept.
        line.at += 1;
        line.spaces();
        line.labels(limits)?;
        line.spaces();
        let text = line.token();
        parse_value(text).ok_or_else(|| line.fail(format!("exemplar value {text:?} is not a number")))?;
        line.spaces();
    }
    if !line.rest().trim_end().is_empty() {
        return Err(line.fail(format!("unexpected {:?} after the sample", line.rest())));
    }
    Ok(Sample { name, labels, value, timestamp_ms })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    const NODE: &str = "# HELP node_cpu_seconds_total Seconds the CPUs spent in each mode.
# TYPE node_cpu_seconds_total counter
node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 12345.67
node_cpu_seconds_total{cpu=\"0\",mode=\"user\"} 89.5 1700000000000
# TYPE http_request_duration_seconds histogram
http_request_duration_seconds_bucket{le=\"0.1\"} 10
http_request_duration_seconds_bucket{le=\"+Inf\"} 12
http_request_duration_seconds_sum 1.5
http_request_duration_seconds_count 12
# just a comment
up 1
weird{path=\"a \\\"quoted\\\" \\\\ value\\n\"} NaN
";

    #[test]
    fn prometheus_text_with_families_types_and_escapes() {
        let families = parse(NODE, Format::Prometheus, &Limits::default()).unwrap();
        let names: Vec<(&str, Kind, usize)> =
            families.iter().map(|f| (f.name.as_str(), f.kind, f.samples.len())).collect();
        assert_eq!(
            names,
            [
                ("node_cpu_seconds_total", Kind::Counter, 2),
                ("http_request_duration_seconds", Kind::Histogram, 4),
                ("up", Kind::Unknown, 1),
                ("weird", Kind::Unknown, 1),
            ]
        );
        assert_eq!(families[0].help.as_deref(), Some("Seconds the CPUs spent in each mode."));
        assert_eq!(families[0].samples[1].timestamp_ms, Some(1_700_000_000_000));
        assert_eq!(families[1].samples[1].value, f64::INFINITY.min(12.0));
        assert_eq!(families[1].samples[1].labels, [("le".to_string(), "+Inf".to_string())]);
        assert_eq!(families[3].samples[0].labels[0].1, "a \"quoted\" \\ value\n");
        assert!(families[3].samples[0].value.is_nan());
    }

    #[test]
    fn openmetrics_with_units_exemplars_seconds_and_eof() {
        let body = "# TYPE acme_http_router_request_seconds summary
# UNIT acme_http_router_request_seconds seconds
# HELP acme_http_router_request_seconds Latency though all of ACME's HTTP request router.
acme_http_router_request_seconds_sum{path=\"/api/v1\",method=\"GET\"} 9036.32 1520879607.789
acme_http_router_request_seconds_count{path=\"/api/v1\",method=\"GET\"} 807283.0
# TYPE foo counter
foo_total 17.0 1520879607.789 # {trace_id=\"KOO5S4vxi0o\"} 0.67
# TYPE build info
build_info{version=\"1.2\"} 1
# EOF
";
        let families = parse(body, Format::OpenMetrics, &Limits::default()).unwrap();
        assert_eq!(families[0].unit.as_deref(), Some("seconds"));
        assert_eq!(families[0].samples[0].timestamp_ms, Some(1_520_879_607_789));
        assert_eq!(families[1].samples[0].name, "foo_total");
        assert_eq!((families[2].kind, families[2].samples.len()), (Kind::Info, 1));
    }

    #[test]
    fn errors_name_line_and_column() {
        let cases = [
            ("up 1\nhttp_requests_total{code=\"200\" 5\n", Format::Prometheus, 2, 32, "expected ',' or '}'"),
            ("x{a=\"1\",a=\"2\"} 1\n", Format::Prometheus, 1, 9, "label \"a\" appears twice"),
            ("x 1\ny{le=\"1} 2\n", Format::Prometheus, 2, 11, "label value is not closed"),
            ("x one\n", Format::Prometheus, 1, 6, "\"one\" is not a number"),
            ("9x 1\n", Format::Prometheus, 1, 1, "expected a metric name"),
            ("x 1 12.5\n", Format::Prometheus, 1, 9, "is not a timestamp in ms"),
            ("x{a=\"\\t\"} 1\n", Format::Prometheus, 1, 6, "invalid escape"),
            ("# TYPE x counter\nx 1\n", Format::OpenMetrics, 3, 1, "missing '# EOF'"),
            ("x 1\n# EOF\nx 2\n", Format::OpenMetrics, 3, 1, "nothing may follow"),
            ("# TYPE x sometimes\n", Format::Prometheus, 1, 10, "unknown type \"sometimes\""),
            ("x 1\n# TYPE x gauge\n", Format::Prometheus, 2, 10, "must come once, before its samples"),
            ("x 1 # {a=\"b\"} 1\n", Format::Prometheus, 1, 5, "exemplars are OpenMetrics only"),
        ];
        for (body, format, line, column, message) in cases {
            let e = parse(body, format, &Limits::default()).unwrap_err();
            assert_eq!((e.line, e.column), (line, column), "{body:?}: {e}");
            assert!(e.message.contains(message), "{body:?}: {e}");
        }
    }

    #[test]
    fn limits_stop_oversized_bodies() {
        let body: String = (0..11).map(|i| format!("x{{i=\"{i}\"}} 1\n")).collect();
        let e = parse(&body, Format::Prometheus, &Limits { max_samples: 10, max_labels: 4, ..Limits::default() })
            .unwrap_err();
        assert_eq!((e.line, e.message.as_str()), (11, "more than 10 samples"));
        let e = parse(
            "x{a=\"1\",b=\"2\",c=\"3\"} 1\n",
            Format::Prometheus,
            &Limits { max_samples: 10, max_labels: 2, ..Limits::default() },
        )
        .unwrap_err();
        assert_eq!(e.message, "more than 2 labels");
    }

    #[test]
    fn content_types() {
        assert_eq!(
            Format::from_content_type(Some("application/openmetrics-text; version=1.0.0; charset=utf-8")),
            Format::OpenMetrics
        );
        assert_eq!(Format::from_content_type(Some("text/plain; version=0.0.4")), Format::Prometheus);
        assert_eq!(Format::from_content_type(None), Format::Prometheus);
    }
}
