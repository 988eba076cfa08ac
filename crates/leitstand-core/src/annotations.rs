//! Texts of an alert in more than one language. Leitstand's own rules write
//! their annotations per language — `summary_de`, `summary_en` — beside the
//! plain `summary` Prometheus rules use; whoever shows a text to a person
//! picks the person's language here, so every page and every channel picks
//! the same way.

use std::collections::BTreeMap;

/// Annotation `name` in language `lang` (`de`, `en`): `name_<lang>`, else
/// `name`; empty texts count as missing.
pub fn localized<'a>(annotations: &'a BTreeMap<String, String>, name: &str, lang: &str) -> Option<&'a str> {
    annotations
        .get(&format!("{name}_{lang}"))
        .filter(|t| !t.is_empty())
        .or_else(|| annotations.get(name).filter(|t| !t.is_empty()))
        .map(String::as_str)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_language_first_then_the_plain_annotation() {
        let mut a = BTreeMap::from([
            ("summary_de".to_string(), "Portal antwortet nicht".to_string()),
            ("summary_en".to_string(), "Portal is down".to_string()),
        ]);
        assert_eq!(localized(&a, "summary", "de"), Some("Portal antwortet nicht"));
        assert_eq!(localized(&a, "summary", "en"), Some("Portal is down"));
        assert_eq!(localized(&a, "description", "de"), None);
        a.insert("summary".into(), "plain".into());
        a.insert("summary_en".into(), String::new());
        assert_eq!(localized(&a, "summary", "en"), Some("plain"), "empty counts as missing");
    }
}
