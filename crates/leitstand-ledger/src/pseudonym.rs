//! Keyed pseudonyms (HMAC-SHA-256) for personal data in audit events: the
//! same person always gets the same pseudonym, so an auditor can follow an
//! actor through the trail, but without the key — kept outside the
//! database — nobody can go back from the pseudonym to the name, not even by
//! trying every name. The raw value is used only in memory.

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// Prefix that marks a value as a pseudonym.
pub const PREFIX: &str = "ps:";

/// Turns personal values into pseudonyms.
#[derive(Clone)]
pub struct Pseudonymiser {
    /// The HMAC with the key already absorbed (cloned per value, which
    /// saves the two key-block compressions of every pseudonym).
    keyed: Hmac<Sha256>,
}

impl std::fmt::Debug for Pseudonymiser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Pseudonymiser(<key>)")
    }
}

impl Pseudonymiser {
    /// A pseudonymiser with a 32-byte secret key.
    pub fn new(key: [u8; 32]) -> Self {
        let Ok(keyed) = <Hmac<Sha256> as KeyInit>::new_from_slice(&key) else {
            unreachable!("HMAC takes keys of any length")
        };
        Self { keyed }
    }

    /// `ps:` and 32 hex digits (128 bits of the HMAC). A value that already
    /// is a pseudonym is returned as it is, so pseudonymising is idempotent.
    pub fn pseudonym(&self, value: &str) -> String {
        if is_pseudonym(value) {
            return value.to_string();
        }
        let mut mac = self.keyed.clone();
        mac.update(value.as_bytes());
        let tag = mac.finalize().into_bytes();
        let mut out = String::with_capacity(PREFIX.len() + 32);
        out.push_str(PREFIX);
        for b in &tag[..16] {
            out.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
        }
        out
    }
}

/// Whether `value` has the form of a pseudonym.
pub fn is_pseudonym(value: &str) -> bool {
    value
        .strip_prefix(PREFIX)
        .is_some_and(|h| h.len() == 32 && h.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stable_keyed_and_idempotent() {
        let a = Pseudonymiser::new([1; 32]);
        let b = Pseudonymiser::new([2; 32]);
        let p = a.pseudonym("anna@example.org");
        assert!(is_pseudonym(&p), "{p}");
        assert_eq!(p, a.pseudonym("anna@example.org"));
        assert_ne!(p, a.pseudonym("anne@example.org"));
        assert_ne!(p, b.pseudonym("anna@example.org"), "another key, another pseudonym");
        assert_eq!(a.pseudonym(&p), p);
        assert!(!format!("{a:?}").contains('1'), "the key is never printed");
    }

    #[test]
    fn known_answer() {
        // RFC 4231 test case 2: key "Jefe", data "what do ya want for nothing?".
        let mut key = [0u8; 32];
        key[..4].copy_from_slice(b"Jefe");
        // HMAC pads short keys with zeros, so a zero-padded 32-byte key is the same key.
        let p = Pseudonymiser::new(key).pseudonym("what do ya want for nothing?");
        assert_eq!(p, "ps:5bdcc146bf60754e6a042426089575c7");
    }
}
