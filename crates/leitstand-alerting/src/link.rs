//! Signed, expiring one-click links in notifications ("acknowledge",
//! "resolve"), so the person on call can act from the phone's mail app
//! without logging in first. The link itself is the authorisation, for one
//! action on one alert until it expires; so it is signed with a server key
//! (HMAC-SHA-256, checked in constant time) and carries its expiry.
//!
//! The token is base64url (no padding) of
//! `version 1 | alert id (16 bytes) | action (1 byte) | expiry (Unix
//! seconds, i64 big-endian) | HMAC-SHA-256 over all of that (32 bytes)` —
//! 78 characters, fine for a URL, no state on the server. The expiry is
//! kept to the second (rounded down). The key is derived from an existing
//! server secret ([`LinkKey::derive`]) so there is no new secret to manage,
//! and never printed.

use std::fmt;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use hmac::{Hmac, KeyInit, Mac};
use jiff::Timestamp;
use sha2::Sha256;
use uuid::Uuid;

const VERSION: u8 = 1;
const TAG_LEN: usize = 32;
const BODY_LEN: usize = 1 + 16 + 1 + 8;
const TOKEN_LEN: usize = BODY_LEN + TAG_LEN;

/// What a link does.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum LinkAction {
    /// Acknowledge the alert.
    Ack,
    /// Take the acknowledgement back.
    Unack,
    /// Resolve it by hand.
    Resolve,
}

impl LinkAction {
    /// The name used in pages and history: `ack`, `unack`, `resolve`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ack => "ack",
            Self::Unack => "unack",
            Self::Resolve => "resolve",
        }
    }

    fn byte(self) -> u8 {
        match self {
            Self::Ack => 1,
            Self::Unack => 2,
            Self::Resolve => 3,
        }
    }

    fn from_byte(b: u8) -> Option<Self> {
        match b {
            1 => Some(Self::Ack),
            2 => Some(Self::Unack),
            3 => Some(Self::Resolve),
            _ => None,
        }
    }
}

/// What a link says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct LinkClaims {
    /// The alert (episode) id.
    pub alert: Uuid,
    /// The action.
    pub action: LinkAction,
    /// Until when the link works (exclusive).
    pub expires_at: Timestamp,
}

/// Why a link was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum LinkError {
    /// Not a link token (cut off, altered encoding, unknown version).
    #[error("the link is not valid (incomplete or altered)")]
    Malformed,
    /// Not signed with this server's key.
    #[error("the link's signature does not match")]
    BadSignature,
    /// Signed, but expired.
    #[error("the link expired at {at}")]
    Expired {
        /// When it expired.
        at: Timestamp,
    },
}

/// The key links are signed with.
#[derive(Clone)]
pub struct LinkKey([u8; 32]);

impl fmt::Debug for LinkKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("LinkKey(<secret>)")
    }
}

fn hmac(key: &[u8]) -> Hmac<Sha256> {
    let Ok(mac) = <Hmac<Sha256> as KeyInit>::new_from_slice(key) else { unreachable!("HMAC takes keys of any length") };
    mac
}

impl LinkKey {
    /// A key from 32 secret bytes.
    pub fn new(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The key for `purpose`, derived from a server secret:
    /// HMAC-SHA-256(master, "leitstand link key v1" + purpose). Different
    /// purposes give unrelated keys.
    pub fn derive(master: &[u8], purpose: &str) -> Self {
        let mut mac = hmac(master);
        mac.update(b"leitstand link key v1");
        mac.update(purpose.as_bytes());
        Self(mac.finalize().into_bytes().into())
    }

    /// The token for `claims`.
    pub fn sign(&self, claims: &LinkClaims) -> String {
        let mut token = Vec::with_capacity(TOKEN_LEN);
        token.push(VERSION);
        token.extend_from_slice(claims.alert.as_bytes());
        token.push(claims.action.byte());
        token.extend_from_slice(&claims.expires_at.as_second().to_be_bytes());
        let mut mac = hmac(&self.0);
        mac.update(&token);
        token.extend_from_slice(&mac.finalize().into_bytes());
        URL_SAFE_NO_PAD.encode(token)
    }

    /// The claims of a token signed with this key and not expired at `now`.
    /// The signature is checked before anything in the token is believed.
    pub fn verify(&self, token: &str, now: Timestamp) -> Result<LinkClaims, LinkError> {
        // Anything longer cannot be a token; do not decode it.
        if token.len() > TOKEN_LEN.div_ceil(3) * 4 {
            return Err(LinkError::Malformed);
        }
        let bytes = URL_SAFE_NO_PAD.decode(token).map_err(|_| LinkError::Malformed)?;
        if bytes.len() != TOKEN_LEN || bytes[0] != VERSION {
            return Err(LinkError::Malformed);
        }
        let (body, tag) = bytes.split_at(BODY_LEN);
        let mut mac = hmac(&self.0);
        mac.update(body);
        mac.verify_slice(tag).map_err(|_| LinkError::BadSignature)?;
        let alert = Uuid::from_slice(&body[1..17]).map_err(|_| LinkError::Malformed)?;
        let action = LinkAction::from_byte(body[17]).ok_or(LinkError::Malformed)?;
        let mut secs = [0u8; 8];
        secs.copy_from_slice(&body[18..26]);
        let expires_at = Timestamp::from_second(i64::from_be_bytes(secs)).map_err(|_| LinkError::Malformed)?;
        if now >= expires_at {
            return Err(LinkError::Expired { at: expires_at });
        }
        Ok(LinkClaims { alert, action, expires_at })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn claims(action: LinkAction) -> LinkClaims {
        LinkClaims {
            alert: Uuid::parse_str("0192f0c1-7a4e-7c3b-9d2e-1f0a2b3c4d5e").unwrap(),
            action,
            expires_at: ts("2026-12-02T10:00:00Z"),
        }
    }

    fn key() -> LinkKey {
        LinkKey::derive(b"the server's session secret", "alert-links")
    }

    #[test]
    fn round_trip_for_every_action() {
        let now = ts("2026-12-01T10:00:00Z");
        for action in [LinkAction::Ack, LinkAction::Unack, LinkAction::Resolve] {
            let token = key().sign(&claims(action));
            assert_eq!(token.len(), 78);
            assert!(token.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_'), "{token}");
            assert_eq!(key().verify(&token, now), Ok(claims(action)));
        }
    }

    #[test]
    fn expiry_is_kept_to_the_second() {
        let mut c = claims(LinkAction::Ack);
        c.expires_at = ts("2026-12-02T10:00:00.9Z");
        let back = key().verify(&key().sign(&c), ts("2026-12-01T10:00:00Z")).unwrap();
        assert_eq!(back.expires_at, ts("2026-12-02T10:00:00Z"));
    }

    #[test]
    fn tampered_tokens_are_refused() {
        let now = ts("2026-12-01T10:00:00Z");
        let token = key().sign(&claims(LinkAction::Ack));
        let bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        for i in 1..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            assert_eq!(key().verify(&URL_SAFE_NO_PAD.encode(&bad), now), Err(LinkError::BadSignature), "byte {i}");
        }
        // Ack turned into Resolve without the key.
        let mut resolve = bytes.clone();
        resolve[17] = 3;
        assert_eq!(key().verify(&URL_SAFE_NO_PAD.encode(&resolve), now), Err(LinkError::BadSignature));
        let mut version = bytes.clone();
        version[0] = 2;
        assert_eq!(key().verify(&URL_SAFE_NO_PAD.encode(&version), now), Err(LinkError::Malformed));
        for bad in ["", "abc", &token[..77], &format!("{token}A"), &format!("{}+", &token[..77]), &"A".repeat(10_000)] {
            assert_eq!(key().verify(bad, now), Err(LinkError::Malformed), "{bad}");
        }
    }

    #[test]
    fn an_unknown_action_signed_with_the_key_is_malformed() {
        let token = key().sign(&claims(LinkAction::Ack));
        let mut bytes = URL_SAFE_NO_PAD.decode(&token).unwrap();
        bytes[17] = 9;
        bytes.truncate(BODY_LEN);
        let mut mac = hmac(&key().0);
        mac.update(&bytes);
        bytes.extend_from_slice(&mac.finalize().into_bytes());
        assert_eq!(
            key().verify(&URL_SAFE_NO_PAD.encode(&bytes), ts("2026-12-01T10:00:00Z")),
            Err(LinkError::Malformed)
        );
    }

    #[test]
    fn expired_links_are_refused() {
        let token = key().sign(&claims(LinkAction::Resolve));
        assert!(key().verify(&token, ts("2026-12-02T09:59:59Z")).is_ok());
        let at = ts("2026-12-02T10:00:00Z");
        assert_eq!(key().verify(&token, at), Err(LinkError::Expired { at }));
        assert_eq!(key().verify(&token, ts("2027-01-01T00:00:00Z")), Err(LinkError::Expired { at }));
    }

    #[test]
    fn another_key_is_refused_and_keys_never_print() {
        let now = ts("2026-12-01T10:00:00Z");
        let token = key().sign(&claims(LinkAction::Ack));
        let other = LinkKey::derive(b"the server's session secret", "other-purpose");
        assert_eq!(other.verify(&token, now), Err(LinkError::BadSignature));
        assert_eq!(LinkKey::new([7; 32]).verify(&token, now), Err(LinkError::BadSignature));
        assert_eq!(format!("{:?}", LinkKey::new([7; 32])), "LinkKey(<secret>)");
    }
}
