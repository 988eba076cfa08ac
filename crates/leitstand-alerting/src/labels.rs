//! Label sets and their fingerprints. An alert *is* its label set: two
//! alerts with the same labels are the same alert (deduplicated), whatever
//! their annotations say. The fingerprint is Alertmanager's
//! (`model.LabelSet.Fingerprint`: FNV-1a 64 over the label names and values
//! in name order, each followed by the byte 0xff), so an alert forwarded from
//! an Alertmanager keeps the id it had there.

use std::collections::BTreeMap;
use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// Labels or annotations, ordered by name.
pub type LabelSet = BTreeMap<String, String>;

/// What matching needs of a label set: a value by name. Silences,
/// inhibition and matchers take any of these, so the engine matches its
/// packed labels without unpacking them.
pub trait Labels {
    /// The value of label `name`.
    fn label(&self, name: &str) -> Option<&str>;
}

impl Labels for LabelSet {
    fn label(&self, name: &str) -> Option<&str> {
        self.get(name).map(String::as_str)
    }
}

impl Labels for PackedLabels {
    fn label(&self, name: &str) -> Option<&str> {
        self.get(name)
    }
}

/// An alert's identity: the hash of its label set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct Fingerprint(pub u64);

const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const PRIME: u64 = 0x0000_0100_0000_01b3;
const SEPARATOR: u8 = 0xff;

fn fnv(mut hash: u64, bytes: &[u8]) -> u64 {
    for b in bytes {
        hash ^= u64::from(*b);
        hash = hash.wrapping_mul(PRIME);
    }
    hash
}

/// The fingerprint of `labels` (Alertmanager's algorithm).
pub fn fingerprint(labels: &LabelSet) -> Fingerprint {
    let mut hash = OFFSET;
    for (name, value) in labels {
        hash = fnv(hash, name.as_bytes());
        hash = fnv(hash, &[SEPARATOR]);
        hash = fnv(hash, value.as_bytes());
        hash = fnv(hash, &[SEPARATOR]);
    }
    Fingerprint(hash)
}

/// A label set packed into two allocations: all names and values in one
/// string, and where each ends. The engine keeps one per open alert, and a
/// `BTreeMap` of a few labels costs about six times as much (a node sized
/// for eleven entries and two allocations per label); lookups scan the few
/// labels an alert has.
#[derive(Clone, PartialEq, Eq)]
pub struct PackedLabels {
    text: Box<str>,
    /// End offset of name 0, value 0, name 1, value 1, …
    ends: Box<[u32]>,
}

impl PackedLabels {
    /// Packs `labels` (in name order). Label sets beyond 4 GiB of text are
    /// not representable; a request body that large is refused long before.
    pub fn new(labels: &LabelSet) -> Self {
        let mut text = String::with_capacity(labels.iter().map(|(k, v)| k.len() + v.len()).sum());
        let mut ends = Vec::with_capacity(labels.len() * 2);
        for (name, value) in labels {
            text.push_str(name);
            ends.push(u32::try_from(text.len()).unwrap_or(u32::MAX));
            text.push_str(value);
            ends.push(u32::try_from(text.len()).unwrap_or(u32::MAX));
        }
        Self { text: text.into(), ends: ends.into() }
    }

    /// Name and value pairs in name order.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &str)> {
        self.ends.chunks_exact(2).enumerate().map(|(i, pair)| {
            let start = if i == 0 { 0 } else { self.ends[2 * i - 1] as usize };
            let (name_end, value_end) = (pair[0] as usize, pair[1] as usize);
            (&self.text[start..name_end], &self.text[name_end..value_end])
        })
    }

    /// The value of label `name`.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// The label set again.
    pub fn to_set(&self) -> LabelSet {
        self.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }
}

impl fmt::Debug for PackedLabels {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl Serialize for PackedLabels {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_map(self.iter())
    }
}

impl fmt::Display for Fingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:016x}", self.0)
    }
}

/// Not 16 hex digits.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a fingerprint is 16 hexadecimal digits, not {0:?}")]
pub struct BadFingerprint(pub String);

impl FromStr for Fingerprint {
    type Err = BadFingerprint;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.len() != 16 {
            return Err(BadFingerprint(s.to_string()));
        }
        u64::from_str_radix(s, 16).map(Fingerprint).map_err(|_| BadFingerprint(s.to_string()))
    }
}

impl From<Fingerprint> for String {
    fn from(f: Fingerprint) -> Self {
        f.to_string()
    }
}

impl TryFrom<String> for Fingerprint {
    type Error = BadFingerprint;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

/// Whether `name` is a valid label name (`[a-zA-Z_][a-zA-Z0-9_]*`).
pub fn valid_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packed_labels_keep_every_pair_in_order() {
        let labels = set(&[("severity", "critical"), ("alertname", "HostDown"), ("instance", ""), ("é", "ü")]);
        let packed = PackedLabels::new(&labels);
        assert_eq!(packed.to_set(), labels);
        assert_eq!(packed.get("alertname"), Some("HostDown"));
        assert_eq!(packed.get("instance"), Some(""));
        assert_eq!(packed.get("é"), Some("ü"));
        assert_eq!(packed.get("job"), None);
        assert_eq!(serde_json::to_string(&packed).unwrap(), serde_json::to_string(&labels).unwrap());
        assert_eq!(PackedLabels::new(&LabelSet::new()).to_set(), LabelSet::new());
    }

    fn set(pairs: &[(&str, &str)]) -> LabelSet {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn fingerprint_matches_alertmanager() {
        // Values computed with prometheus/common model.LabelSet.Fingerprint.
        assert_eq!(fingerprint(&LabelSet::new()).to_string(), "cbf29ce484222325");
        let fp = fingerprint(&set(&[("alertname", "ProbeDown"), ("instance", "portal")]));
        assert_eq!(fp, fingerprint(&set(&[("instance", "portal"), ("alertname", "ProbeDown")])));
        assert_ne!(fp, fingerprint(&set(&[("alertname", "ProbeDown"), ("instance", "portal2")])));
        assert_eq!(fp.to_string().parse::<Fingerprint>(), Ok(fp));
        assert!("xyz".parse::<Fingerprint>().is_err());
    }

    #[test]
    fn label_names() {
        assert!(valid_label_name("alertname"));
        assert!(valid_label_name("_x1"));
        assert!(!valid_label_name("1x"));
        assert!(!valid_label_name(""));
        assert!(!valid_label_name("a-b"));
    }
}
