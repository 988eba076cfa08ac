//! The list of probe kinds, as a macro. `probe_kinds!` is invoked once, in
//! `lib.rs`: one line per kind — its `kind` value, the `Kind` and `Check`
//! variant, its folder and its probe type — is all that names a kind.
//! Everything that must cover every kind is generated from that line, so a
//! new kind cannot be half wired: the kind's module, the [`Kind`] and
//! [`Check`] enums, the dispatch of runs, the kind's default interval and
//! retries, and which keys of a flat probe table belong to which kind
//! ([`KindConfigs`]).

use std::fmt;
use std::sync::LazyLock;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::{Kind, KindConfigs};

macro_rules! probe_kinds {
    ($( $(#[$doc:meta])* $name:literal => $Variant:ident($module:ident::$Probe:ident), )*) => {
        $( pub mod $module; )*

        /// The kind of a probe: `kind = "…"` in its table, the `probe` label.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, ::serde::Serialize, ::serde::Deserialize, ::schemars::JsonSchema)]
        pub enum Kind {
            $( $(#[$doc])* #[serde(rename = $name)] $Variant, )*
        }

        impl Kind {
            /// Every kind, in the order of the list.
            pub const ALL: &[Kind] = &[$(Kind::$Variant),*];

            /// The kind as written (`http`).
            pub fn name(self) -> &'static str {
                match self { $(Kind::$Variant => $name,)* }
            }

            /// How often a probe of this kind runs when its entry sets no `interval`.
            pub fn default_interval(self, defaults: &$crate::config::Defaults) -> ::leitstand_core::time_limit::Duration {
                match self { $(Kind::$Variant => <$module::$Probe as $crate::check::Probe>::default_interval(defaults),)* }
            }

            /// Retries of a probe of this kind when its entry sets none.
            pub fn default_retries(self) -> u32 {
                match self { $(Kind::$Variant => <$module::$Probe as $crate::check::Probe>::RETRIES,)* }
            }
        }

        /// What a probe checks.
        #[derive(Debug, Clone)]
        pub enum Check {
            $( $(#[$doc])* $Variant($module::$Probe), )*
        }

        impl Check {
            /// The kind (its name is the `probe` label).
            pub fn kind(&self) -> Kind {
                match self { $(Check::$Variant(_) => Kind::$Variant,)* }
            }

            /// What is checked, as the `instance` label says it.
            pub fn target(&self) -> &str {
                match self { $(Check::$Variant(p) => $crate::check::Probe::target(p),)* }
            }

            pub(crate) async fn run(&self, run: &$crate::check::Run<'_>) -> $crate::check::Outcome {
                match self { $(Check::$Variant(p) => $crate::check::Probe::run(p, run).await,)* }
            }
        }

        /// Every kind's own keys of a probe entry, side by side as they are
        /// written in one flat table.
        #[derive(Debug, Clone, PartialEq, Default, ::serde::Serialize, ::schemars::JsonSchema)]
        pub struct KindConfigs {
            $(
                #[doc = concat!("The keys of `", $name, "` probes.")]
                #[serde(flatten)]
                pub $module: <$module::$Probe as $crate::check::Probe>::Config,
            )*
        }

        impl KindConfigs {
            /// The keys of each kind, in the order of [`Kind::ALL`].
            fn keys() -> Vec<Vec<String>> {
                vec![$($crate::kinds::keys_of::<<$module::$Probe as $crate::check::Probe>::Config>(),)*]
            }

            /// Whether `value` is right for `kind`'s key `key`.
            pub(crate) fn check_key(kind: Kind, key: &str, value: &::serde_json::Value) -> Result<(), String> {
                match kind {
                    $(Kind::$Variant => $crate::kinds::check_key::<<$module::$Probe as $crate::check::Probe>::Config>(key, value),)*
                }
            }

            /// The configurations from each kind's keys (checked one by one
            /// before), in the order of [`Kind::ALL`].
            pub(crate) fn from_keys(
                mut keys: Vec<::serde_json::Map<String, ::serde_json::Value>>,
            ) -> Result<Self, ::serde_json::Error> {
                keys.resize_with(Kind::ALL.len(), Default::default);
                let mut keys = keys.into_iter();
                Ok(Self {
                    $($module: ::serde_json::from_value(::serde_json::Value::Object(keys.next().unwrap_or_default()))?,)*
                })
            }

            /// The keys of `kind` this entry sets.
            pub(crate) fn set_keys(&self, kind: Kind) -> Vec<String> {
                match kind { $(Kind::$Variant => $crate::kinds::set_keys(&self.$module),)* }
            }

            /// The check of `kind` for `target`.
            pub(crate) fn check(&self, kind: Kind, target: &str) -> Result<Check, Vec<$crate::config::FieldError>> {
                match kind {
                    $(Kind::$Variant => <$module::$Probe as $crate::check::Probe>::from_config(target, &self.$module).map(Check::$Variant),)*
                }
            }
        }
    };
}

impl Kind {
    /// The kind that has the key `key`, and the key as a static string.
    pub(crate) fn owning(key: &str) -> Option<(Kind, &'static str)> {
        Kind::ALL
            .iter()
            .zip(KEYS.iter())
            .find_map(|(kind, keys)| keys.iter().find(|k| k.as_str() == key).map(|k| (*kind, k.as_str())))
    }

    /// Every kind's keys, for "expected one of …".
    pub(crate) fn all_keys() -> impl Iterator<Item = &'static str> {
        KEYS.iter().flatten().map(String::as_str)
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

static KEYS: LazyLock<Vec<Vec<String>>> = LazyLock::new(KindConfigs::keys);

/// The keys of a kind's configuration, as its schema documents them.
pub(crate) fn keys_of<C: JsonSchema>() -> Vec<String> {
    let schema = schemars::SchemaGenerator::default().into_root_schema_for::<C>();
    schema
        .get("properties")
        .and_then(serde_json::Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// Whether `value` is right for key `key` of `C`: `C` is read from a table
/// with only that key.
pub(crate) fn check_key<C: DeserializeOwned>(key: &str, value: &serde_json::Value) -> Result<(), String> {
    let mut table = serde_json::Map::new();
    table.insert(key.to_string(), value.clone());
    serde_json::from_value::<C>(serde_json::Value::Object(table)).map(|_| ()).map_err(|e| e.to_string())
}

/// The keys a configuration sets (unset ones are skipped when serialised).
pub(crate) fn set_keys<C: Serialize>(config: &C) -> Vec<String> {
    match serde_json::to_value(config) {
        Ok(serde_json::Value::Object(map)) => map.keys().cloned().collect(),
        _ => Vec::new(),
    }
}
