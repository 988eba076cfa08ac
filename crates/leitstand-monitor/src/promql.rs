//! The PromQL subset Leitstand's rules are written in — enough for the
//! seed's threshold tables: selectors with label matchers, range vectors,
//! `rate`/`increase`/`irate`/`*_over_time`, `histogram_quantile`,
//! arithmetic, ratios and comparisons (with `bool`), `and`/`or`/`unless`,
//! vector matching with `on`/`ignoring`, and aggregations with `by`/
//! `without`. The same text goes unchanged into the exported Prometheus
//! rule file, so it must mean the same thing here as there.
//!
//! Hand-written (precedence climbing) rather than a generated parser: one
//! small dependency-free piece, errors that give the column and say what
//! was expected, and a type check (instant vs range vector) at parse time,
//! so a broken rule is refused when the configuration loads, not when it
//! first fails to fire.

use crate::series::{MatchOp, Matcher, NAME};

/// A parsed expression.
#[derive(Debug, Clone)]
pub enum Expr {
    /// A number literal.
    Number(f64),
    /// `name{matchers}` (instant vector) or with `[range]` (range vector).
    Selector(Selector),
    /// A function call.
    Call {
        /// The function.
        func: Function,
        /// Its arguments.
        args: Vec<Expr>,
    },
    /// `op [by|without (labels)] ([param,] expr)`.
    Aggregate {
        /// The aggregation.
        op: Aggregation,
        /// `by` (true) or `without` (false), and the labels.
        grouping: Option<(bool, Vec<String>)>,
        /// `topk`'s k, `quantile`'s φ.
        param: Option<Box<Expr>>,
        /// The aggregated expression.
        expr: Box<Expr>,
    },
    /// A binary operation.
    Binary {
        /// The operator.
        op: BinaryOp,
        /// Left side.
        lhs: Box<Expr>,
        /// Right side.
        rhs: Box<Expr>,
        /// `bool` modifier on a comparison.
        return_bool: bool,
        /// `on(…)` (true) or `ignoring(…)` (false).
        matching: Option<(bool, Vec<String>)>,
    },
    /// Unary minus.
    Negate(Box<Expr>),
}

/// A vector selector.
#[derive(Debug, Clone)]
pub struct Selector {
    /// Matchers, the metric name as a `__name__` matcher first if given.
    pub matchers: Vec<Matcher>,
    /// Range in milliseconds for a range vector.
    pub range_ms: Option<i64>,
}

macro_rules! keywords {
    ($(#[$doc:meta])* $name:ident { $($variant:ident = $text:literal),* $(,)? }) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq)]
        pub enum $name { $(#[doc = $text] $variant),* }
        impl $name {
            fn parse(text: &str) -> Option<Self> {
                match text { $($text => Some(Self::$variant),)* _ => None }
            }
            /// The PromQL spelling.
            pub fn as_str(self) -> &'static str {
                match self { $(Self::$variant => $text),* }
            }
        }
    };
}

keywords!(
    /// Supported functions.
    Function {
        Rate = "rate",
        Irate = "irate",
        Increase = "increase",
        Delta = "delta",
        AvgOverTime = "avg_over_time",
        MinOverTime = "min_over_time",
        MaxOverTime = "max_over_time",
        SumOverTime = "sum_over_time",
        CountOverTime = "count_over_time",
        HistogramQuantile = "histogram_quantile",
        Abs = "abs",
        Absent = "absent",
        ClampMin = "clamp_min",
        ClampMax = "clamp_max",
        Time = "time",
        Vector = "vector",
        Timestamp = "timestamp",
    }
);

keywords!(
    /// Supported aggregations.
    Aggregation {
        Sum = "sum",
        Avg = "avg",
        Min = "min",
        Max = "max",
        Count = "count",
        Topk = "topk",
        Bottomk = "bottomk",
        Quantile = "quantile",
    }
);

/// Binary operators, lowest precedence first in groups.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinaryOp {
    /// `or`
    Or,
    /// `and`
    And,
    /// `unless`
    Unless,
    /// `==`
    Eq,
    /// `!=`
    Ne,
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `+`
    Add,
    /// `-`
    Sub,
    /// `*`
    Mul,
    /// `/`
    Div,
    /// `%`
    Mod,
    /// `^`
    Pow,
}

impl BinaryOp {
    fn precedence(self) -> u8 {
        match self {
            BinaryOp::Or => 1,
            BinaryOp::And | BinaryOp::Unless => 2,
            BinaryOp::Eq | BinaryOp::Ne | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => 3,
            BinaryOp::Add | BinaryOp::Sub => 4,
            BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => 5,
            BinaryOp::Pow => 6,
        }
    }

    /// Whether this is a comparison (filters unless `bool`).
    pub fn is_comparison(self) -> bool {
        self.precedence() == 3
    }

    fn is_set(self) -> bool {
        matches!(self, BinaryOp::Or | BinaryOp::And | BinaryOp::Unless)
    }
}

/// Why an expression is not accepted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("column {column}: {message}")]
pub struct ParseError {
    /// 1-based column (in characters).
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

/// The kind of value an expression yields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueType {
    /// A number.
    Scalar,
    /// An instant vector.
    Instant,
    /// A range vector.
    Range,
}

impl ValueType {
    /// As PromQL's documentation names it.
    pub fn name(self) -> &'static str {
        match self {
            ValueType::Scalar => "scalar",
            ValueType::Instant => "instant vector",
            ValueType::Range => "range vector",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Ident(String),
    Number(f64),
    Str(String),
    Duration(i64),
    Op(&'static str),
}

struct Lexer {
    tokens: Vec<(usize, Token)>,
}

fn fail<T>(text: &str, at: usize, message: impl Into<String>) -> Result<T, ParseError> {
    Err(ParseError { column: text[..at.min(text.len())].chars().count() + 1, message: message.into() })
}

/// `5m`, `1h30m`, `250ms`; `None` if `s` is not a duration.
pub fn parse_duration(s: &str) -> Option<i64> {
    let mut total: i64 = 0;
    let mut rest = s;
    if rest.is_empty() {
        return None;
    }
    while !rest.is_empty() {
        let digits = rest.find(|c: char| !c.is_ascii_digit()).unwrap_or(rest.len());
        if digits == 0 {
            return None;
        }
        let n: i64 = rest[..digits].parse().ok()?;
        rest = &rest[digits..];
        let (unit, ms) = [
            ("ms", 1),
            ("s", 1_000),
            ("m", 60_000),
            ("h", 3_600_000),
            ("d", 86_400_000),
            ("w", 604_800_000),
            ("y", 31_536_000_000),
        ]
        .into_iter()
        .find(|(u, _)| rest.starts_with(u) && !(*u == "m" && rest.starts_with("ms")))?;
        rest = &rest[unit.len()..];
        total = total.checked_add(n.checked_mul(ms)?)?;
    }
    Some(total)
}

impl Lexer {
    fn run(text: &str) -> Result<Vec<(usize, Token)>, ParseError> {
        let mut lexer = Lexer { tokens: Vec::new() };
        let bytes = text.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            let c = bytes[i];
            if c.is_ascii_whitespace() {
                i += 1;
                continue;
            }
            if c == b'#' {
                break; // a comment to the end
            }
            let start = i;
            if c.is_ascii_alphabetic() || c == b'_' || c == b':' {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_' || bytes[i] == b':') {
                    i += 1;
                }
                lexer.tokens.push((start, Token::Ident(text[start..i].to_string())));
                continue;
            }
            if c.is_ascii_digit() || (c == b'.' && bytes.get(i + 1).is_some_and(u8::is_ascii_digit)) {
                while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'.') {
                    i += 1;
                }
                // Exponents: 1e-3.
                if i < bytes.len() && matches!(bytes[i], b'-' | b'+') && matches!(bytes[i - 1], b'e' | b'E') {
                    i += 1;
                    while i < bytes.len() && bytes[i].is_ascii_digit() {
                        i += 1;
                    }
                }
                let word = &text[start..i];
                let token = if let Ok(n) = word.parse::<f64>() {
                    Token::Number(n)
                } else if let Some(ms) = parse_duration(word) {
                    Token::Duration(ms)
                } else {
                    return fail(text, start, format!("{word:?} is neither a number nor a duration"));
                };
                lexer.tokens.push((start, token));
                continue;
            }
            if c == b'"' || c == b'\'' {
                let quote = c as char;
                let mut out = String::new();
                let mut chars = text[i + 1..].char_indices();
                let mut closed = None;
                while let Some((j, ch)) = chars.next() {
                    match ch {
                        '\\' => match chars.next() {
                            Some((_, 'n')) => out.push('\n'),
                            Some((_, 't')) => out.push('\t'),
                            Some((_, e)) => out.push(e),
                            None => break,
                        },
                        ch if ch == quote => {
                            closed = Some(j);
                            break;
                        }
                        ch => out.push(ch),
                    }
                }
                let Some(j) = closed else { return fail(text, start, "string is not closed") };
                i = i + 1 + j + 1;
                lexer.tokens.push((start, Token::Str(out)));
                continue;
            }
            let two = text.get(i..i + 2).unwrap_or("");
            let op: &'static str = match two {
                "==" => "==",
                "!=" => "!=",
                "<=" => "<=",
                ">=" => ">=",
                "=~" => "=~",
                "!~" => "!~",
                _ => match c {
                    b'(' => "(",
                    b')' => ")",
                    b'{' => "{",
                    b'}' => "}",
                    b'[' => "[",
                    b']' => "]",
                    b',' => ",",
                    b'=' => "=",
                    b'<' => "<",
                    b'>' => ">",
                    b'+' => "+",
                    b'-' => "-",
                    b'*' => "*",
                    b'/' => "/",
                    b'%' => "%",
                    b'^' => "^",
                    _ => {
                        let ch = text[i..].chars().next().unwrap_or('?');
                        return fail(text, i, format!("unexpected character {ch:?}"));
                    }
                },
            };
            i += op.len();
            lexer.tokens.push((start, Token::Op(op)));
        }
        Ok(lexer.tokens)
    }
}

struct Parser<'a> {
    text: &'a str,
    tokens: Vec<(usize, Token)>,
    at: usize,
}

impl Parser<'_> {
    fn position(&self) -> usize {
        self.tokens.get(self.at).map_or(self.text.len(), |(p, _)| *p)
    }

    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.at).map(|(_, t)| t)
    }

    fn error<T>(&self, message: impl Into<String>) -> Result<T, ParseError> {
        fail(self.text, self.position(), message)
    }

    fn is_op(&self, op: &str) -> bool {
        matches!(self.peek(), Some(Token::Op(o)) if *o == op)
    }

    fn eat_op(&mut self, op: &str) -> bool {
        let yes = self.is_op(op);
        if yes {
            self.at += 1;
        }
        yes
    }

    fn expect_op(&mut self, op: &str, what: &str) -> Result<(), ParseError> {
        if self.eat_op(op) { Ok(()) } else { self.error(format!("expected {what}")) }
    }

    fn is_ident(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Ident(w)) if w == word)
    }

    fn binary_op(&self) -> Option<BinaryOp> {
        Some(match self.peek()? {
            Token::Ident(w) => match w.as_str() {
                "or" => BinaryOp::Or,
                "and" => BinaryOp::And,
                "unless" => BinaryOp::Unless,
                _ => return None,
            },
            Token::Op(o) => match *o {
                "==" => BinaryOp::Eq,
                "!=" => BinaryOp::Ne,
                "<" => BinaryOp::Lt,
                "<=" => BinaryOp::Le,
                ">" => BinaryOp::Gt,
                ">=" => BinaryOp::Ge,
                "+" => BinaryOp::Add,
                "-" => BinaryOp::Sub,
                "*" => BinaryOp::Mul,
                "/" => BinaryOp::Div,
                "%" => BinaryOp::Mod,
                "^" => BinaryOp::Pow,
                _ => return None,
            },
            _ => return None,
        })
    }

    /// Precedence climbing; `^` is right-associative.
    fn expr(&mut self, min: u8) -> Result<(Expr, ValueType), ParseError> {
        let (mut lhs, mut lhs_type) = self.unary()?;
        while let Some(op) = self.binary_op().filter(|op| op.precedence() >= min) {
            let op_at = self.position();
            self.at += 1;
            let return_bool = op.is_comparison() && self.is_ident("bool") && {
                self.at += 1;
                true
            };
            let matching = if self.is_ident("on") || self.is_ident("ignoring") {
                let on = self.is_ident("on");
                self.at += 1;
                Some((on, self.label_list()?))
            } else {
                None
            };
            if self.is_ident("group_left") || self.is_ident("group_right") {
                return self.error("group_left / group_right are not supported in Leitstand's rules");
            }
            let next = if op == BinaryOp::Pow { op.precedence() } else { op.precedence() + 1 };
            let (rhs, rhs_type) = self.expr(next)?;
            for t in [lhs_type, rhs_type] {
                if t == ValueType::Range {
                    return fail(
                        self.text,
                        op_at,
                        "a range vector cannot be an operand (apply rate() or *_over_time() first)",
                    );
                }
            }
            let scalars = lhs_type == ValueType::Scalar && rhs_type == ValueType::Scalar;
            if op.is_set() && (lhs_type == ValueType::Scalar || rhs_type == ValueType::Scalar) {
                return fail(self.text, op_at, "and, or and unless work on vectors only");
            }
            if op.is_comparison() && scalars && !return_bool {
                return fail(self.text, op_at, "a comparison of two scalars needs the bool modifier");
            }
            lhs_type = if scalars { ValueType::Scalar } else { ValueType::Instant };
            lhs = Expr::Binary { op, lhs: Box::new(lhs), rhs: Box::new(rhs), return_bool, matching };
        }
        Ok((lhs, lhs_type))
    }

    fn unary(&mut self) -> Result<(Expr, ValueType), ParseError> {
        if self.eat_op("-") {
            let (e, t) = self.unary()?;
            if t == ValueType::Range {
                return self.error("a range vector cannot be negated");
            }
            return Ok((Expr::Negate(Box::new(e)), t));
        }
        if self.eat_op("+") {
            return self.unary();
        }
        self.primary()
    }

    fn primary(&mut self) -> Result<(Expr, ValueType), ParseError> {
        let start = self.position();
        match self.peek().cloned() {
            Some(Token::Number(n)) => {
                self.at += 1;
                Ok((Expr::Number(n), ValueType::Scalar))
            }
            Some(Token::Op("(")) => {
                self.at += 1;
                let inner = self.expr(1)?;
                self.expect_op(")", "')'")?;
                self.range_suffix(inner)
            }
            Some(Token::Op("{")) => self.selector(None),
            Some(Token::Ident(word)) => {
                self.at += 1;
                if let Some(op) = Aggregation::parse(&word)
                    .filter(|_| self.is_op("(") || self.is_ident("by") || self.is_ident("without"))
                {
                    return self.aggregate(op);
                }
                if self.is_op("(") {
                    let Some(func) = Function::parse(&word) else {
                        return fail(self.text, start, format!("unknown or unsupported function {word:?}"));
                    };
                    return self.call(func, start);
                }
                if matches!(word.as_str(), "by" | "without" | "on" | "ignoring" | "bool" | "offset") {
                    return fail(self.text, start, format!("unexpected keyword {word:?}"));
                }
                self.selector(Some(word))
            }
            Some(Token::Str(_)) => self.error("a string is only allowed as a label value"),
            Some(Token::Duration(_)) => self.error("a duration is only allowed inside [ ]"),
            Some(Token::Op(o)) => self.error(format!("unexpected {o:?}")),
            None => self.error("unexpected end of the expression"),
        }
    }

    fn range_suffix(&mut self, (e, t): (Expr, ValueType)) -> Result<(Expr, ValueType), ParseError> {
        if self.is_op("[") {
            return self.error("a range [ ] applies to a selector only (subqueries are not supported)");
        }
        Ok((e, t))
    }

    fn label_list(&mut self) -> Result<Vec<String>, ParseError> {
        self.expect_op("(", "'(' and a list of labels")?;
        let mut labels = Vec::new();
        loop {
            if self.eat_op(")") {
                return Ok(labels);
            }
            match self.peek().cloned() {
                Some(Token::Ident(name)) => {
                    self.at += 1;
                    labels.push(name);
                }
                _ => return self.error("expected a label name"),
            }
            if !self.eat_op(",") {
                self.expect_op(")", "',' or ')'")?;
                return Ok(labels);
            }
        }
    }

    fn selector(&mut self, name: Option<String>) -> Result<(Expr, ValueType), ParseError> {
        let start = if name.is_some() { self.tokens[self.at - 1].0 } else { self.position() };
        let mut matchers = Vec::new();
        if let Some(name) = &name {
            matchers.push(self.matcher(NAME, MatchOp::Equal, name)?);
        }
        if self.eat_op("{") {
            loop {
                if self.eat_op("}") {
                    break;
                }
                let Some(Token::Ident(label)) = self.peek().cloned() else {
                    return self.error("expected a label name");
                };
                self.at += 1;
                let op = match self.peek() {
                    Some(Token::Op("=")) => MatchOp::Equal,
                    Some(Token::Op("!=")) => MatchOp::NotEqual,
                    Some(Token::Op("=~")) => MatchOp::Regex,
                    Some(Token::Op("!~")) => MatchOp::NotRegex,
                    _ => return self.error("expected =, !=, =~ or !~"),
                };
                self.at += 1;
                let Some(Token::Str(value)) = self.peek().cloned() else {
                    return self.error("expected a quoted label value");
                };
                matchers.push(self.matcher(&label, op, &value)?);
                self.at += 1;
                if !self.eat_op(",") {
                    self.expect_op("}", "',' or '}'")?;
                    break;
                }
            }
        }
        if !matchers.iter().any(|m| !m.matches("")) {
            return fail(
                self.text,
                start,
                "a selector needs a metric name or a matcher that does not match the empty string",
            );
        }
        let mut range_ms = None;
        if self.eat_op("[") {
            match self.peek() {
                Some(Token::Duration(ms)) if *ms > 0 => range_ms = Some(*ms),
                _ => return self.error("expected a duration like 5m"),
            }
            self.at += 1;
            self.expect_op("]", "']'")?;
        }
        if self.is_ident("offset") || self.is_op("@") {
            return self.error("offset and @ are not supported in Leitstand's rules");
        }
        let t = if range_ms.is_some() { ValueType::Range } else { ValueType::Instant };
        Ok((Expr::Selector(Selector { matchers, range_ms }), t))
    }

    fn matcher(&self, label: &str, op: MatchOp, value: &str) -> Result<Matcher, ParseError> {
        Matcher::new(label, op, value).or_else(|e| self.error(e.to_string()))
    }

    fn args(&mut self) -> Result<Vec<(usize, Expr, ValueType)>, ParseError> {
        self.expect_op("(", "'('")?;
        let mut args = Vec::new();
        if self.eat_op(")") {
            return Ok(args);
        }
        loop {
            let at = self.position();
            let (e, t) = self.expr(1)?;
            args.push((at, e, t));
            if !self.eat_op(",") {
                self.expect_op(")", "',' or ')'")?;
                return Ok(args);
            }
        }
    }

    fn call(&mut self, func: Function, start: usize) -> Result<(Expr, ValueType), ParseError> {
        use Function::*;
        use ValueType::*;
        let (params, result): (&[ValueType], ValueType) = match func {
            Rate | Irate | Increase | Delta | AvgOverTime | MinOverTime | MaxOverTime | SumOverTime | CountOverTime => {
                (&[Range], Instant)
            }
            HistogramQuantile => (&[Scalar, Instant], Instant),
            Abs | Absent | Timestamp => (&[Instant], Instant),
            ClampMin | ClampMax => (&[Instant, Scalar], Instant),
            Time => (&[], Scalar),
            Vector => (&[Scalar], Instant),
        };
        let args = self.args()?;
        if args.len() != params.len() {
            return fail(
                self.text,
                start,
                format!("{}() takes {} argument(s), got {}", func.as_str(), params.len(), args.len()),
            );
        }
        for ((at, _, got), want) in args.iter().zip(params) {
            if got != want {
                let hint = if *want == Range { " (e.g. x[5m])" } else { "" };
                let message = format!("{}(): expected {}{hint}, got {}", func.as_str(), want.name(), got.name());
                return fail(self.text, *at, message);
            }
        }
        Ok((Expr::Call { func, args: args.into_iter().map(|(_, e, _)| e).collect() }, result))
    }

    fn aggregate(&mut self, op: Aggregation) -> Result<(Expr, ValueType), ParseError> {
        let mut grouping = None;
        if self.is_ident("by") || self.is_ident("without") {
            let by = self.is_ident("by");
            self.at += 1;
            grouping = Some((by, self.label_list()?));
        }
        let at = self.position();
        let mut args = self.args()?;
        if grouping.is_none() && (self.is_ident("by") || self.is_ident("without")) {
            let by = self.is_ident("by");
            self.at += 1;
            grouping = Some((by, self.label_list()?));
        }
        let wants_param = matches!(op, Aggregation::Topk | Aggregation::Bottomk | Aggregation::Quantile);
        if args.len() != 1 + usize::from(wants_param) {
            return fail(
                self.text,
                at,
                format!("{}() takes {} argument(s)", op.as_str(), 1 + usize::from(wants_param)),
            );
        }
        let (expr_at, expr, t) = args.pop().unwrap_or((at, Expr::Number(0.0), ValueType::Scalar));
        if t != ValueType::Instant {
            return fail(self.text, expr_at, format!("{}() aggregates an instant vector", op.as_str()));
        }
        let param = args.pop().map(|(_, e, _)| Box::new(e));
        Ok((Expr::Aggregate { op, grouping, param, expr: Box::new(expr) }, ValueType::Instant))
    }
}

/// Parses an expression; returns it with its value type.
pub fn parse(text: &str) -> Result<(Expr, ValueType), ParseError> {
    let tokens = Lexer::run(text)?;
    let mut parser = Parser { text, tokens, at: 0 };
    let result = parser.expr(1)?;
    if parser.at < parser.tokens.len() {
        return parser.error("unexpected text after the expression");
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn the_seed_rules_parse() {
        for (rule, want) in [
            (
                "100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode=\"idle\"}[5m]))) > 85",
                ValueType::Instant,
            ),
            (
                "sum by (service) (rate(http_requests_total{code=~\"5..\"}[5m])) / sum by (service) (rate(http_requests_total[5m])) > 0.01",
                ValueType::Instant,
            ),
            (
                "histogram_quantile(0.95, sum by (le, service) (rate(http_request_duration_seconds_bucket[5m]))) > 2",
                ValueType::Instant,
            ),
            ("(probe_ssl_earliest_cert_expiry - time()) / 86400 < 7", ValueType::Instant),
            ("increase(leitstand_failed_logins_total[1m]) >= 10", ValueType::Instant),
            ("up{job=\"portal\"} == 0 or absent(up{job=\"portal\"})", ValueType::Instant),
            ("1 + 2 * 3 ^ 2 ^ 0.5", ValueType::Scalar),
            ("max without (cpu) (x) > bool on (instance) y", ValueType::Instant),
            ("rate(x[1h30m])", ValueType::Instant),
            ("x[5m]", ValueType::Range),
        ] {
            let (_, t) = parse(rule).unwrap_or_else(|e| panic!("{rule}: {e}"));
            assert_eq!(t, want, "{rule}");
        }
    }

    #[test]
    fn precedence_and_associativity() {
        let (e, _) = parse("1 - 2 - 3").unwrap();
        let Expr::Binary { op: BinaryOp::Sub, lhs, .. } = e else { panic!() };
        assert!(matches!(*lhs, Expr::Binary { op: BinaryOp::Sub, .. }), "left-associative");
        let (e, _) = parse("2 ^ 3 ^ 2").unwrap();
        let Expr::Binary { op: BinaryOp::Pow, rhs, .. } = e else { panic!() };
        assert!(matches!(*rhs, Expr::Binary { op: BinaryOp::Pow, .. }), "right-associative");
        let (e, _) = parse("a or b and c > 1 + 2 * 3").unwrap();
        let Expr::Binary { op: BinaryOp::Or, rhs, .. } = e else { panic!() };
        assert!(matches!(*rhs, Expr::Binary { op: BinaryOp::And, .. }));
    }

    #[test]
    fn errors_give_the_column_and_what_was_expected() {
        for (rule, column, message) in [
            ("rate(x)", 6, "rate(): expected range vector (e.g. x[5m]), got instant vector"),
            ("sum(x[5m])", 5, "sum() aggregates an instant vector"),
            ("x{job=\"a\" 1", 11, "expected ',' or '}'"),
            ("x{code=~\"5(\"}", 9, "label matcher code=~\"5(\": unclosed group"),
            ("x[5q]", 3, "neither a number nor a duration"),
            ("rate(x[5m]) +", 14, "unexpected end"),
            ("frobnicate(x)", 1, "unknown or unsupported function \"frobnicate\""),
            ("x offset 5m", 3, "offset and @ are not supported"),
            ("{job=~\".*\"}", 1, "needs a metric name"),
            ("1 > 2", 3, "needs the bool modifier"),
            ("x[5m] > 1", 7, "a range vector cannot be an operand"),
            ("x y", 3, "unexpected text after the expression"),
            ("x / on(a) group_left y", 11, "group_left / group_right are not supported"),
            ("histogram_quantile(x, y)", 20, "expected scalar"),
            ("x $ y", 3, "unexpected character '$'"),
        ] {
            let e = parse(rule).unwrap_err();
            assert_eq!(e.column, column, "{rule}: {e}");
            assert!(e.message.contains(message), "{rule}: {e}");
        }
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("5m"), Some(300_000));
        assert_eq!(parse_duration("1h30m"), Some(5_400_000));
        assert_eq!(parse_duration("250ms"), Some(250));
        assert_eq!(parse_duration("2d"), Some(172_800_000));
        assert_eq!(parse_duration("5"), None);
        assert_eq!(parse_duration("m"), None);
    }
}
