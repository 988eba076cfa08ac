//! Tenants (Mandanten) are named by a slug that appears in URLs, metric labels
//! and config keys, so it is validated once, here, and cannot exist invalid.

use std::fmt;

use serde::{Deserialize, Serialize};

/// A tenant's stable short name: 1–63 characters of `a-z`, `0-9` and `-`,
/// starting with a letter or digit (DNS-label rules, safe in URLs and labels).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TenantSlug(String);

/// Why a string is not a valid [`TenantSlug`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid tenant slug {value:?}: {reason}")]
pub struct InvalidSlug {
    /// The rejected input.
    pub value: String,
    /// What rule it breaks.
    pub reason: &'static str,
}

impl InvalidSlug {
    /// The reason in German.
    pub fn reason_de(&self) -> &'static str {
        match self.reason {
            "must not be empty" => "darf nicht leer sein",
            "must be at most 63 characters" => "darf höchstens 63 Zeichen haben",
            "may contain only a-z, 0-9 and '-'" => "darf nur a–z, 0–9 und '-' enthalten",
            "must not start or end with '-'" => "darf nicht mit '-' beginnen oder enden",
            _ => self.reason,
        }
    }
}

impl TenantSlug {
    /// Validates `value` as a slug.
    pub fn parse(value: impl Into<String>) -> Result<Self, InvalidSlug> {
        let value = value.into();
        let reason = if value.is_empty() {
            Some("must not be empty")
        } else if value.len() > 63 {
            Some("must be at most 63 characters")
        } else if !value.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-') {
            Some("may contain only a-z, 0-9 and '-'")
        } else if value.starts_with('-') || value.ends_with('-') {
            Some("must not start or end with '-'")
        } else {
            None
        };
        match reason {
            Some(reason) => Err(InvalidSlug { value, reason }),
            None => Ok(Self(value)),
        }
    }

    /// The slug as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for TenantSlug {
    type Error = InvalidSlug;
    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::parse(value)
    }
}

impl From<TenantSlug> for String {
    fn from(slug: TenantSlug) -> Self {
        slug.0
    }
}

impl fmt::Display for TenantSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(&self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_dns_labels() {
        for ok in ["a", "vergabe-portal", "mandant-042", "0x"] {
            assert!(TenantSlug::parse(ok).is_ok(), "{ok}");
        }
    }

    #[test]
    fn rejects_with_reason() {
        let cases = [
            ("", "must not be empty"),
            ("Gross", "may contain only a-z, 0-9 and '-'"),
            ("a b", "may contain only a-z, 0-9 and '-'"),
            ("-a", "must not start or end with '-'"),
        ];
        for (input, reason) in cases {
            assert_eq!(TenantSlug::parse(input).unwrap_err().reason, reason, "{input:?}");
        }
        assert!(TenantSlug::parse("a".repeat(64)).is_err());
    }
}
