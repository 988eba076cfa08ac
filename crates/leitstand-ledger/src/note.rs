//! C2SP signed notes (`c2sp.org/signed-note`) with Ed25519: the envelope in
//! which checkpoints are published and cosigned. Key and note formats are
//! exactly those of Go's `golang.org/x/mod/sumdb/note`, so its verifiers
//! accept ours.
//!
//! A verifier key reads `<name>+<key id, 8 hex>+<base64(0x01 || public key)>`;
//! the key id is the first four bytes of SHA-256(name || "\n" || 0x01 ||
//! public key). A note is its text (ending in a newline), an empty line, and
//! one line per signature: `— <name> <base64(key id || signature)>`.
//!
//! Witnesses cosign with the same keys under algorithm 0x04
//! (`c2sp.org/tlog-cosignature`, Ed25519 v1): the signature covers
//! `cosignature/v1\ntime <T>\n` followed by the note text and carries the
//! 8-byte timestamp `T` before the 64 signature bytes.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

const ED25519: u8 = 0x01;
const COSIGNATURE: u8 = 0x04;
const DASH: &str = "\u{2014} ";

/// Why a key or note is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoteError {
    /// A key string is malformed.
    #[error("malformed key: {0}")]
    Key(&'static str),
    /// A key name is not allowed.
    #[error("invalid key name {0:?}: it must be non-empty UTF-8 without '+' or white space")]
    Name(String),
    /// The note text is not acceptable.
    #[error("invalid note text: {0}")]
    Text(&'static str),
    /// The note is malformed.
    #[error("malformed note: {0}")]
    Malformed(&'static str),
    /// No signature by a known key verified.
    #[error("no valid signature by a known key")]
    Unverified,
}

fn check_name(name: &str) -> Result<(), NoteError> {
    if name.is_empty() || name.contains('+') || name.chars().any(char::is_whitespace) {
        return Err(NoteError::Name(name.to_string()));
    }
    Ok(())
}

fn key_id(name: &str, alg: u8, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([alg]);
    h.update(public);
    let digest = h.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

fn hex4(id: &[u8; 4]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// A key string's parts: name, claimed key id, algorithm, 32 key bytes.
type KeyParts<'a> = (&'a str, [u8; 4], u8, [u8; 32]);

/// Splits `name+hash+key` and checks the algorithm byte.
fn split_key(text: &str) -> Result<KeyParts<'_>, NoteError> {
    let mut parts = text.splitn(3, '+');
    let (name, hash, key) = match (parts.next(), parts.next(), parts.next()) {
        (Some(n), Some(h), Some(k)) => (n, h, k),
        _ => return Err(NoteError::Key("expected name+hash+key")),
    };
    check_name(name)?;
    let id = u32::from_str_radix(hash, 16)
        .ok()
        .filter(|_| hash.len() == 8)
        .ok_or(NoteError::Key("the key id must be 8 hex digits"))?
        .to_be_bytes();
    let raw = STANDARD.decode(key).map_err(|_| NoteError::Key("the key is not base64"))?;
    match raw.split_first() {
        Some((&alg @ (ED25519 | COSIGNATURE), rest)) if rest.len() == 32 => {
            let mut bytes = [0u8; 32];
            bytes.copy_from_slice(rest);
            Ok((name, id, alg, bytes))
        }
        Some((&(ED25519 | COSIGNATURE), _)) => Err(NoteError::Key("an Ed25519 key has 32 bytes")),
        _ => Err(NoteError::Key("unsupported algorithm (Ed25519 0x01 and Ed25519 cosignature 0x04)")),
    }
}

/// A key that signs notes (a log's key) or cosigns them (a witness's key).
pub struct Signer {
    name: String,
    id: [u8; 4],
    alg: u8,
    key: SigningKey,
}

impl Signer {
    /// A signer named `name` from a 32-byte seed (from a secure random source).
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        Self::with_alg(name, ED25519, seed)
    }

    /// A cosigner (a witness) named `name` from a 32-byte seed.
    pub fn cosigner_from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        Self::with_alg(name, COSIGNATURE, seed)
    }

    fn with_alg(name: &str, alg: u8, seed: [u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, alg, key.verifying_key().as_bytes());
        Ok(Self { name: name.to_string(), id, alg, key })
    }

    /// Parses `PRIVATE+KEY+<name>+<hash>+<base64(alg || seed)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let rest = text.trim().strip_prefix("PRIVATE+KEY+").ok_or(NoteError::Key("expected PRIVATE+KEY+…"))?;
        let (name, id, alg, seed) = split_key(rest)?;
        let signer = Self::with_alg(name, alg, seed)?;
        if signer.id != id {
            return Err(NoteError::Key("the key id does not match the key"));
        }
        Ok(signer)
    }

    /// The private key string (keep it secret).
    pub fn to_private_string(&self) -> String {
        let mut raw = vec![self.alg];
        raw.extend_from_slice(self.key.as_bytes());
        format!("PRIVATE+KEY+{}+{}+{}", self.name, hex4(&self.id), STANDARD.encode(raw))
    }

    /// The matching verifier.
    pub fn verifier(&self) -> Verifier {
        Verifier { name: self.name.clone(), id: self.id, alg: self.alg, key: self.key.verifying_key() }
    }

    /// Whether this is a cosigner key (algorithm 0x04).
    pub fn is_cosigner(&self) -> bool {
        self.alg == COSIGNATURE
    }

    /// The cosignature line for `text` at POSIX time `time` (a cosigner
    /// key only; a log key signs with [`Signer::signature_line`]).
    pub fn cosignature_line(&self, text: &str, time: u64) -> Result<String, NoteError> {
        check_text(text)?;
        if self.alg != COSIGNATURE || time > i64::MAX as u64 {
            return Err(NoteError::Key("cosignatures need a cosigner key and a time below 2^63"));
        }
        let signature = self.key.sign(cosigned_message(text, time).as_bytes());
        let mut raw = self.id.to_vec();
        raw.extend_from_slice(&time.to_be_bytes());
        raw.extend_from_slice(&signature.to_bytes());
        Ok(format!("{DASH}{} {}\n", self.name, STANDARD.encode(raw)))
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signature line for `text` (which must be valid note text).
    pub fn signature_line(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
        if self.alg != ED25519 {
            return Err(NoteError::Key("a cosigner key makes cosignatures, not signatures"));
        }
        let signature = self.key.sign(text.as_bytes());
        let mut raw = self.id.to_vec();
        raw.extend_from_slice(&signature.to_bytes());
        Ok(format!("{DASH}{} {}\n", self.name, STANDARD.encode(raw)))
    }

    /// The signed note: text, empty line, signature.
    pub fn sign(&self, text: &str) -> Result<String, NoteError> {
        Ok(format!("{text}\n{}", self.signature_line(text)?))
    }
}

fn cosigned_message(text: &str, time: u64) -> String {
    format!("cosignature/v1\ntime {time}\n{text}")
}

/// A key that verifies notes (algorithm 0x01) or cosignatures (0x04).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    id: [u8; 4],
    alg: u8,
    key: VerifyingKey,
}

impl Verifier {
    /// Parses `<name>+<hash>+<base64(alg || public key)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let (name, id, alg, bytes) = split_key(text.trim())?;
        if key_id(name, alg, &bytes) != id {
            return Err(NoteError::Key("the key id does not match the key"));
        }
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| NoteError::Key("not a valid Ed25519 public key"))?;
        Ok(Self { name: name.to_string(), id, alg, key })
    }

    /// Whether this verifies cosignatures (algorithm 0x04).
    pub fn is_cosigner(&self) -> bool {
        self.alg == COSIGNATURE
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Checks a decoded signature (key id first) over `text`; returns the
    /// cosignature's time (0 for a plain signature) if it verifies.
    fn verifies(&self, text: &str, raw: &[u8]) -> Option<u64> {
        if raw.len() < 4 || raw[..4] != self.id {
            return None;
        }
        let (time, message, sig) = match (self.alg, raw.len()) {
            (ED25519, 68) => (0, text.to_string(), &raw[4..]),
            (COSIGNATURE, 76) => {
                let time = u64::from_be_bytes(raw[4..12].try_into().ok()?);
                (time, cosigned_message(text, time), &raw[12..])
            }
            _ => return None,
        };
        let sig = Signature::from_slice(sig).ok()?;
        self.key.verify_strict(message.as_bytes(), &sig).ok().map(|()| time)
    }
}

impl std::fmt::Display for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut raw = vec![self.alg];
        raw.extend_from_slice(self.key.as_bytes());
        write!(f, "{}+{}+{}", self.name, hex4(&self.id), STANDARD.encode(raw))
    }
}

fn check_text(text: &str) -> Result<(), NoteError> {
    if !text.ends_with('\n') {
        return Err(NoteError::Text("it must end with a newline"));
    }
    if text.contains("\n\n") || text.starts_with('\n') {
        return Err(NoteError::Text("it must not contain empty lines"));
    }
    if text.chars().any(|c| c.is_control() && c != '\n') {
        return Err(NoteError::Text("it must not contain control characters"));
    }
    Ok(())
}

/// A verified note: its text and the names of the keys whose signatures
/// verified.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Opened {
    /// The note text, ending in a newline.
    pub text: String,
    /// Names of the known keys that signed it.
    pub signed_by: Vec<String>,
    /// Known cosigners and the time of their cosignature.
    pub cosigned_by: Vec<(String, u64)>,
}

/// Splits a signed note into its text (ending in a newline) and its
/// signature lines, without verifying anything.
pub fn split(note: &str) -> Result<(&str, &str), NoteError> {
    let at = note.rfind("\n\n").ok_or(NoteError::Malformed("no empty line before the signatures"))?;
    Ok((&note[..=at], &note[at + 2..]))
}

/// Verifies `note` against `known` keys. Signatures by unknown keys are
/// ignored; at least one known signature must verify, and no signature
/// that claims a known key may fail.
pub fn open(note: &str, known: &[Verifier]) -> Result<Opened, NoteError> {
    let (text, sigs) = split(note)?;
    check_text(text)?;
    if sigs.is_empty() || !sigs.ends_with('\n') {
        return Err(NoteError::Malformed("signature lines must end with a newline"));
    }
    let (mut signed_by, mut cosigned_by) = (Vec::new(), Vec::new());
    for line in sigs.lines() {
        let rest = line.strip_prefix(DASH).ok_or(NoteError::Malformed("a signature line starts with \"— \""))?;
        let (name, b64) =
            rest.split_once(' ').ok_or(NoteError::Malformed("a signature line is \"— name signature\""))?;
        let raw = STANDARD.decode(b64).map_err(|_| NoteError::Malformed("a signature is not base64"))?;
        if raw.len() < 4 {
            return Err(NoteError::Malformed("a signature is too short"));
        }
        for key in known.iter().filter(|k| k.name == name && raw[..4] == k.id) {
            let time = key.verifies(text, &raw).ok_or(NoteError::Unverified)?;
            match key.alg {
                COSIGNATURE => cosigned_by.push((key.name.clone(), time)),
                _ => signed_by.push(key.name.clone()),
            }
        }
    }
    if signed_by.is_empty() && cosigned_by.is_empty() {
        return Err(NoteError::Unverified);
    }
    Ok(Opened { text: text.to_string(), signed_by, cosigned_by })
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example key and note of Go's golang.org/x/mod/sumdb/note.
    const GO_SKEY: &str = "PRIVATE+KEY+PeterNeumann+c74f20a3+AYEKFALVFGyNhPJEMzD1QIDr+Y7hfZx09iUvxdXHKDFz";
    const GO_VKEY: &str = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
    const GO_TEXT: &str =
        "If you think cryptography is the answer to your problem,\nthen you don't know what your problem is.\n";
    const GO_SIG: &str =
        "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";

    #[test]
    fn interoperates_with_go_sumdb_note() {
        let signer = Signer::parse(GO_SKEY).unwrap();
        assert_eq!(signer.verifier().to_string(), GO_VKEY);
        assert_eq!(signer.to_private_string(), GO_SKEY);
        let note = signer.sign(GO_TEXT).unwrap();
        assert_eq!(note, format!("{GO_TEXT}\n{GO_SIG}"));
        let opened = open(&note, &[Verifier::parse(GO_VKEY).unwrap()]).unwrap();
        assert_eq!(opened.text, GO_TEXT);
        assert_eq!(opened.signed_by, ["PeterNeumann"]);
    }

    #[test]
    fn tampering_and_unknown_keys_are_refused() {
        let signer = Signer::from_seed("leitstand.example/audit", [7; 32]).unwrap();
        let other = Signer::from_seed("leitstand.example/audit", [8; 32]).unwrap();
        let note = signer.sign("hello\nworld\n").unwrap();
        let me = signer.verifier();
        assert!(open(&note, std::slice::from_ref(&me)).is_ok());
        assert_eq!(open(&note.replace("world", "w0rld"), std::slice::from_ref(&me)), Err(NoteError::Unverified));
        assert_eq!(open(&note, &[other.verifier()]), Err(NoteError::Unverified));
        // A cosignature by an unknown witness is ignored, not an error.
        let cosigned = format!(
            "{note}{}",
            Signer::from_seed("witness", [9; 32]).unwrap().signature_line("hello\nworld\n").unwrap()
        );
        assert_eq!(open(&cosigned, &[me]).unwrap().signed_by.len(), 1);
    }

    #[test]
    fn cosignatures_follow_tlog_cosignature_v1() {
        let log = Signer::from_seed("example.com/log", [1; 32]).unwrap();
        let witness = Signer::cosigner_from_seed("witness.example/w1", [2; 32]).unwrap();
        let text = "example.com/log\n5\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";
        let line = witness.cosignature_line(text, 1_679_315_147).unwrap();
        // key id || u64 BE time || signature over the cosignature/v1 message.
        let raw = STANDARD.decode(line.trim_end().rsplit(' ').next().unwrap()).unwrap();
        assert_eq!(raw.len(), 76);
        assert_eq!(raw[4..12], 1_679_315_147u64.to_be_bytes());
        let message = format!("cosignature/v1\ntime 1679315147\n{text}");
        let key = VerifyingKey::from_bytes(witness.verifier().key.as_bytes()).unwrap();
        key.verify_strict(message.as_bytes(), &Signature::from_slice(&raw[12..]).unwrap()).unwrap();
        // The witness's vkey names algorithm 0x04 and round-trips.
        let vkey = witness.verifier().to_string();
        assert!(STANDARD.decode(vkey.rsplit('+').next().unwrap()).unwrap()[0] == 0x04);
        assert_eq!(Verifier::parse(&vkey).unwrap(), witness.verifier());
        assert_eq!(Signer::parse(&witness.to_private_string()).unwrap().verifier(), witness.verifier());

        let cosigned = format!("{}{line}", log.sign(text).unwrap());
        let opened = open(&cosigned, &[log.verifier(), witness.verifier()]).unwrap();
        assert_eq!(opened.signed_by, ["example.com/log"]);
        assert_eq!(opened.cosigned_by, [("witness.example/w1".to_string(), 1_679_315_147)]);
        // A cosignature does not verify as a plain signature of the same key, nor after a change.
        let as_plain = Verifier { alg: ED25519, ..witness.verifier() };
        assert!(open(&cosigned, &[as_plain]).is_err());
        assert_eq!(open(&cosigned.replace("\n5\n", "\n6\n"), &[witness.verifier()]), Err(NoteError::Unverified));
        assert!(witness.signature_line(text).is_err() && log.cosignature_line(text, 1).is_err());
    }

    #[test]
    fn malformed_keys_and_texts_are_explained() {
        assert_eq!(Verifier::parse("name+zz+AAAA"), Err(NoteError::Key("the key id must be 8 hex digits")));
        assert!(matches!(Verifier::parse("a b+c74f20a3+AA=="), Err(NoteError::Name(_))));
        let signer = Signer::from_seed("n", [1; 32]).unwrap();
        assert_eq!(signer.sign("no newline").unwrap_err(), NoteError::Text("it must end with a newline"));
        assert_eq!(signer.sign("a\n\nb\n").unwrap_err(), NoteError::Text("it must not contain empty lines"));
        assert_eq!(
            open("text\n", &[signer.verifier()]),
            Err(NoteError::Malformed("no empty line before the signatures"))
        );
    }
}
