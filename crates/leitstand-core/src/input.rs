//! What comes in from outside and must be handled the same way wherever it
//! arrives: a secret that must never be printed (a password, a token, a
//! webhook URL that embeds one), a problem with one field of input,
//! named so the person who wrote it finds it, and the words that tell a
//! person what is wrong, in German and English (the UI speaks the
//! reader's language; the API and the logs speak English). Configuration, probes,
//! channels and silences share these two, so a secret is `***` in every
//! `Debug`, log line and reference alike.

use std::fmt;

use schemars::JsonSchema;
use serde::{Deserialize, Deserializer, Serialize};

/// A value that must never be printed. `Debug`, `Display` and
/// serialisation show `***`; [`Secret::expose`] is the one way to the
/// value, so each use is visible in review.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a value.
    pub fn new(value: impl Into<String>) -> Self {
        Self(value.into())
    }

    /// The value itself, for the one place that sends or checks it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Secret {
    fn from(value: &str) -> Self {
        Self::new(value)
    }
}

impl From<String> for Secret {
    fn from(value: String) -> Self {
        Self(value)
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl fmt::Display for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("***")
    }
}

impl<'de> Deserialize<'de> for Secret {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self)
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str("***")
    }
}

impl JsonSchema for Secret {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Secret".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({ "type": "string", "description": "A secret; shown as *** everywhere." })
    }
}

/// A problem with one field of input: where (`matchers[1]`, `target`) and
/// what is wrong, in words the person who wrote it understands (never the
/// value of a secret).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {reason}")]
pub struct FieldError {
    /// The field, with an index for list items.
    pub field: String,
    /// What is wrong.
    pub reason: String,
}

impl FieldError {
    /// A problem with `field`.
    pub fn new(field: impl Into<String>, reason: impl Into<String>) -> Self {
        Self { field: field.into(), reason: reason.into() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_secret_is_never_printed_but_reads_back() {
        let s: Secret = serde_json::from_str("\"hunter2\"").unwrap();
        assert_eq!(s.expose(), "hunter2");
        assert_eq!(format!("{s:?} {s}"), "*** ***");
        assert_eq!(serde_json::to_string(&s).unwrap(), "\"***\"");
        assert_eq!(FieldError::new("target", "empty").to_string(), "target: empty");
    }
}

/// What to tell a person, in German and English. `Display` is the English
/// text (the API, logs and the command line); pages show
/// [`Message::get`] in the reader's language.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    en: String,
    de: String,
}

impl Message {
    /// The same content in both languages.
    pub fn new(en: impl Into<String>, de: impl Into<String>) -> Self {
        Self { en: en.into(), de: de.into() }
    }

    /// The text for a language code (`de`, anything else is English).
    pub fn get(&self, lang: &str) -> &str {
        if lang == "de" { &self.de } else { &self.en }
    }

    /// The English text.
    pub fn en(&self) -> &str {
        &self.en
    }

    /// The German text.
    pub fn de(&self) -> &str {
        &self.de
    }

    /// Several messages as one, each language joined by `"; "`.
    pub fn join(parts: &[Message]) -> Self {
        let join = |f: fn(&Message) -> &str| parts.iter().map(f).collect::<Vec<_>>().join("; ");
        Self { en: join(Message::en), de: join(Message::de) }
    }
}

impl fmt::Display for Message {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.en)
    }
}
