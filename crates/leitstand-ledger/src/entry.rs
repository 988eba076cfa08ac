//! What the public log holds for each audit event: not the event, which
//! carries pseudonyms and business details, but a fixed-size entry that
//! commits to it. Third parties can verify the tree without seeing a single
//! event; an authorised auditor who is handed an event and its salt checks it
//! against its entry.
//!
//! Entry v1, 42 bytes:
//!
//! | bytes | field |
//! |---|---|
//! | 0 | version `0x01` |
//! | 1–8 | log time, Unix microseconds, signed big-endian |
//! | 9 | retention class (see [`RetentionClass`]) |
//! | 10–41 | commitment: SHA-256(`"leitstand/audit-event/v1\n"` ‖ salt ‖ event) |
//!
//! The 16-byte random salt keeps low-entropy events from being guessed by
//! hashing candidates. The retention class and log time are public so that a
//! verifier can tell an event deleted per retention from a missing one.

use sha2::{Digest, Sha256};

use crate::Hash;

/// Length of an encoded entry.
pub const ENTRY_LEN: usize = 42;
/// Length of an event's salt.
pub const SALT_LEN: usize = 16;
const VERSION: u8 = 1;
const DOMAIN: &[u8] = b"leitstand/audit-event/v1\n";

/// The retention classes of the policy, as stored in entries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum RetentionClass {
    /// Audit logs of user access.
    Audit,
    /// Security logs.
    Security,
    /// Application logs.
    Application,
    /// HTTP access logs.
    Access,
    /// Performance logs.
    Performance,
    /// Debug logs.
    Debug,
}

impl RetentionClass {
    /// Every class.
    pub const ALL: [RetentionClass; 6] = [
        RetentionClass::Audit,
        RetentionClass::Security,
        RetentionClass::Application,
        RetentionClass::Access,
        RetentionClass::Performance,
        RetentionClass::Debug,
    ];

    /// The policy key (`audit`, `security`, …).
    pub fn as_str(self) -> &'static str {
        match self {
            RetentionClass::Audit => "audit",
            RetentionClass::Security => "security",
            RetentionClass::Application => "application",
            RetentionClass::Access => "access",
            RetentionClass::Performance => "performance",
            RetentionClass::Debug => "debug",
        }
    }

    /// The class named `name`.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }

    fn code(self) -> u8 {
        self as u8 + 1
    }

    fn from_code(code: u8) -> Option<Self> {
        Self::ALL.get(usize::from(code).checked_sub(1)?).copied()
    }
}

/// One decoded log entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    /// When the log sequenced the event (Unix µs).
    pub logged_at_us: i64,
    /// The event's retention class.
    pub class: RetentionClass,
    /// The salted hash of the stored event.
    pub commitment: Hash,
}

/// Why bytes are not an entry.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EntryError {
    /// Wrong length.
    #[error("an entry has {ENTRY_LEN} bytes, this one {0}")]
    Length(usize),
    /// Unknown version.
    #[error("unknown entry version {0}")]
    Version(u8),
    /// Unknown retention class.
    #[error("unknown retention class code {0}")]
    Class(u8),
}

/// The salted commitment to a stored event's bytes.
pub fn commitment(salt: &[u8; SALT_LEN], event: &[u8]) -> Hash {
    let mut h = Sha256::new();
    h.update(DOMAIN);
    h.update(salt);
    h.update(event);
    h.finalize().into()
}

impl Entry {
    /// The entry for an event.
    pub fn new(logged_at_us: i64, class: RetentionClass, salt: &[u8; SALT_LEN], event: &[u8]) -> Self {
        Self { logged_at_us, class, commitment: commitment(salt, event) }
    }

    /// The 42 bytes.
    pub fn encode(&self) -> [u8; ENTRY_LEN] {
        let mut out = [0u8; ENTRY_LEN];
        out[0] = VERSION;
        out[1..9].copy_from_slice(&self.logged_at_us.to_be_bytes());
        out[9] = self.class.code();
        out[10..].copy_from_slice(&self.commitment);
        out
    }

    /// Decodes an entry.
    pub fn decode(bytes: &[u8]) -> Result<Self, EntryError> {
        let bytes: &[u8; ENTRY_LEN] = bytes.try_into().map_err(|_| EntryError::Length(bytes.len()))?;
        if bytes[0] != VERSION {
            return Err(EntryError::Version(bytes[0]));
        }
        let mut time = [0u8; 8];
        time.copy_from_slice(&bytes[1..9]);
        let class = RetentionClass::from_code(bytes[9]).ok_or(EntryError::Class(bytes[9]))?;
        let mut commitment = [0u8; 32];
        commitment.copy_from_slice(&bytes[10..]);
        Ok(Self { logged_at_us: i64::from_be_bytes(time), class, commitment })
    }

    /// Whether `event` with `salt` is the event this entry commits to.
    pub fn matches(&self, salt: &[u8; SALT_LEN], event: &[u8]) -> bool {
        commitment(salt, event) == self.commitment
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn round_trip_and_commitment() {
        let salt = [7u8; SALT_LEN];
        let e = Entry::new(1_700_000_000_123_456, RetentionClass::Security, &salt, b"{\"a\":1}");
        let bytes = e.encode();
        assert_eq!(Entry::decode(&bytes).unwrap(), e);
        assert!(e.matches(&salt, b"{\"a\":1}"));
        assert!(!e.matches(&salt, b"{\"a\":2}"));
        assert!(!e.matches(&[8u8; SALT_LEN], b"{\"a\":1}"), "the salt is part of the commitment");
    }

    #[test]
    fn bad_entries_are_named() {
        assert_eq!(Entry::decode(&[1; 41]), Err(EntryError::Length(41)));
        let mut bytes = Entry::new(0, RetentionClass::Audit, &[0; SALT_LEN], b"").encode();
        bytes[9] = 9;
        assert_eq!(Entry::decode(&bytes), Err(EntryError::Class(9)));
        bytes[0] = 2;
        assert_eq!(Entry::decode(&bytes), Err(EntryError::Version(2)));
    }

    #[test]
    fn class_names_round_trip() {
        for c in RetentionClass::ALL {
            assert_eq!(RetentionClass::parse(c.as_str()), Some(c));
            assert_eq!(RetentionClass::from_code(c.code()), Some(c));
        }
        assert_eq!(RetentionClass::from_code(0), None);
    }
}
