//! UI texts from Fluent message catalogs (`locales/{de,en}/main.ftl`),
//! compiled into the binary. German is the default; English is chosen by the
//! user's setting, the language cookie, or `Accept-Language`.

use std::collections::HashMap;

use fluent_templates::fluent_bundle::FluentValue;
use fluent_templates::{LanguageIdentifier, Loader, langid, static_loader};

static_loader! {
    static LOCALES = {
        locales: "./locales",
        fallback_language: "de",
        customise: |bundle| bundle.set_use_isolating(false),
    };
}

static DE: LanguageIdentifier = langid!("de");
static EN: LanguageIdentifier = langid!("en");

/// A UI language.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Lang {
    /// Deutsch.
    De,
    /// English.
    En,
}

impl Lang {
    /// From a code (`de`, `en`, `en-GB` …); unknown codes give `None`.
    pub fn parse(code: &str) -> Option<Lang> {
        let primary = code.trim().split(['-', '_']).next()?.to_ascii_lowercase();
        match primary.as_str() {
            "de" => Some(Lang::De),
            "en" => Some(Lang::En),
            _ => None,
        }
    }

    /// The first supported language of an `Accept-Language` header, by
    /// quality.
    pub fn from_accept_language(header: &str) -> Option<Lang> {
        let mut options: Vec<(f32, Lang)> = header
            .split(',')
            .filter_map(|part| {
                let mut pieces = part.split(';');
                let lang = Lang::parse(pieces.next()?)?;
                let q =
                    pieces.find_map(|p| p.trim().strip_prefix("q=").and_then(|q| q.parse::<f32>().ok())).unwrap_or(1.0);
                (q > 0.0).then_some((q, lang))
            })
            .collect();
        options.sort_by(|a, b| b.0.total_cmp(&a.0));
        options.first().map(|(_, l)| *l)
    }

    /// The code.
    pub fn code(self) -> &'static str {
        match self {
            Lang::De => "de",
            Lang::En => "en",
        }
    }
}

/// The translator for one request.
#[derive(Debug, Clone, Copy)]
pub struct Tr {
    /// The language.
    pub lang: Lang,
}

impl Tr {
    fn id(&self) -> &'static LanguageIdentifier {
        match self.lang {
            Lang::De => &DE,
            Lang::En => &EN,
        }
    }

    /// The text for `key`.
    pub fn get(&self, key: &str) -> String {
        LOCALES.lookup(self.id(), key)
    }

    /// The text for `key` with one argument.
    pub fn arg(&self, key: &str, name: &str, value: &str) -> String {
        self.args(key, &[(name, value)])
    }

    /// The text for `key` with named arguments.
    pub fn args(&self, key: &str, values: &[(&str, &str)]) -> String {
        let args: HashMap<std::borrow::Cow<'static, str>, FluentValue<'_>> = values
            .iter()
            .map(|(name, value)| (name.to_string().into(), FluentValue::from(value.to_string())))
            .collect();
        LOCALES.lookup_with_args(self.id(), key, &args)
    }

    /// The text for `key`, if the catalogue has it.
    pub fn find(&self, key: &str) -> Option<String> {
        LOCALES.try_lookup(self.id(), key)
    }

    /// The language code for `<html lang>`.
    pub fn code(&self) -> &'static str {
        self.lang.code()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_language_picks_by_quality() {
        assert_eq!(Lang::from_accept_language("en-GB,en;q=0.9,de;q=0.8"), Some(Lang::En));
        assert_eq!(Lang::from_accept_language("fr, de;q=0.5, en;q=0.4"), Some(Lang::De));
        assert_eq!(Lang::from_accept_language("fr"), None);
        assert_eq!(Lang::from_accept_language("en;q=0"), None);
    }

    #[test]
    fn both_catalogs_have_every_key() {
        let de = include_str!("../locales/de/main.ftl");
        let en = include_str!("../locales/en/main.ftl");
        let keys = |s: &str| -> Vec<String> {
            s.lines().filter_map(|l| l.split_once(" = ").map(|(k, _)| k.trim().to_string())).collect()
        };
        assert_eq!(keys(de), keys(en), "de and en catalogs must list the same keys in the same order");
        let tr = Tr { lang: Lang::En };
        assert_eq!(tr.get("login-title"), "Sign in");
        assert_eq!(Tr { lang: Lang::De }.arg("tenants-created", "slug", "bank"), "Mandant bank angelegt.");
    }
}
