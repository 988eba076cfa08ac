//! Secrets Leitstand has to read back — the second factor's TOTP secrets —
//! are stored sealed: AES-256-GCM under a key kept in the key directory
//! beside the audit log's keys, never in the database. A database dump, a
//! database administrator or a reader of the database file gets ciphertext.
//!
//! The sealed form names its purpose and the row it belongs to as
//! associated data, so a sealed value copied into another user's row does
//! not open there.

use aes_gcm::aead::{Aead, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD as B64;
use uuid::Uuid;

/// Prefix of a sealed value (`sealed:v1:` and base64 of nonce ‖ ciphertext).
const PREFIX: &str = "sealed:v1:";

/// Seals and opens stored secrets.
#[derive(Clone)]
pub struct Sealer {
    cipher: Aes256Gcm,
}

impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Sealer(…)")
    }
}

/// A stored value that does not open: another key, another row, damage.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("a sealed {purpose} does not open with this key (another key directory, or the value was changed)")]
pub struct Unsealable {
    /// What was sealed.
    pub purpose: &'static str,
}

fn aad(purpose: &str, row: Uuid) -> Vec<u8> {
    let mut aad = purpose.as_bytes().to_vec();
    aad.push(0);
    aad.extend_from_slice(row.as_bytes());
    aad
}

impl Sealer {
    /// A sealer over a 256-bit key.
    pub fn new(key: &[u8; 32]) -> Self {
        Self { cipher: Aes256Gcm::new(&(*key).into()) }
    }

    /// Whether a stored value is sealed (values from before sealing are not).
    pub fn is_sealed(stored: &str) -> bool {
        stored.starts_with(PREFIX)
    }

    /// Seals `secret` of `purpose` for the row `row`.
    pub fn seal(&self, purpose: &str, row: Uuid, secret: &str) -> String {
        let mut nonce = [0u8; 12];
        getrandom::fill(&mut nonce).expect("operating-system random source");
        let sealed = self
            .cipher
            .encrypt(&Nonce::from(nonce), Payload { msg: secret.as_bytes(), aad: &aad(purpose, row) })
            .expect("AES-GCM seals any message shorter than 64 GiB");
        let mut bytes = nonce.to_vec();
        bytes.extend_from_slice(&sealed);
        format!("{PREFIX}{}", B64.encode(bytes))
    }

    /// Opens a stored value; a value from before sealing is returned as it is.
    pub fn open(&self, purpose: &'static str, row: Uuid, stored: &str) -> Result<String, Unsealable> {
        let Some(encoded) = stored.strip_prefix(PREFIX) else { return Ok(stored.to_string()) };
        let fail = Unsealable { purpose };
        let bytes = B64.decode(encoded).map_err(|_| fail.clone())?;
        if bytes.len() < 12 + 16 {
            return Err(fail);
        }
        let (nonce, sealed) = bytes.split_at(12);
        let nonce: [u8; 12] = nonce.try_into().map_err(|_| fail.clone())?;
        let plain = self
            .cipher
            .decrypt(&Nonce::from(nonce), Payload { msg: sealed, aad: &aad(purpose, row) })
            .map_err(|_| fail.clone())?;
        String::from_utf8(plain).map_err(|_| fail)
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn sealed_values_open_only_for_their_row_and_key() {
        let sealer = Sealer::new(&[7; 32]);
        let (anna, bob) = (Uuid::now_v7(), Uuid::now_v7());
        let sealed = sealer.seal("totp", anna, "JBSWY3DPEHPK3PXP");
        assert!(Sealer::is_sealed(&sealed) && !sealed.contains("JBSWY3DP"), "{sealed}");
        assert_eq!(sealer.open("totp", anna, &sealed).unwrap(), "JBSWY3DPEHPK3PXP");
        assert_ne!(sealed, sealer.seal("totp", anna, "JBSWY3DPEHPK3PXP"), "a fresh nonce each time");
        assert!(sealer.open("totp", bob, &sealed).is_err(), "copied into another row");
        assert!(Sealer::new(&[8; 32]).open("totp", anna, &sealed).is_err(), "another key");
        let mut damaged = sealed.clone();
        damaged.replace_range(20..21, if &sealed[20..21] == "A" { "B" } else { "A" });
        assert!(sealer.open("totp", anna, &damaged).is_err());
        assert!(sealer.open("totp", anna, "sealed:v1:!!").is_err());
        assert_eq!(sealer.open("totp", anna, "JBSWY3DPEHPK3PXP").unwrap(), "JBSWY3DPEHPK3PXP", "from before sealing");
    }
}
