//! C2SP signed notes (`c2sp.org/signed-note`) with Ed25519: the envelope in
//! which checkpoints are published and cosigned. Key and note formats are
//! exactly those of Go's `golang.org/x/mod/sumdb/note`, so its verifiers
//! accept ours.
//!
//! A verifier key reads `<name>+<key id, 8 hex>+<base64(0x01 || public key)>`;
//! the key id is the first four bytes of SHA-256(name || "\n" || 0x01 ||
//! public key). A note is its text (ending in a newline), an empty line, and
//! one line per signature: `— <name> <base64(key id || signature)>`.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use ed25519_dalek::{Signature, Signer as _, SigningKey, VerifyingKey};
use sha2::{Digest, Sha256};

const ED25519: u8 = 0x01;
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

fn key_id(name: &str, public: &[u8; 32]) -> [u8; 4] {
    let mut h = Sha256::new();
    h.update(name.as_bytes());
    h.update(b"\n");
    h.update([ED25519]);
    h.update(public);
    let digest = h.finalize();
    [digest[0], digest[1], digest[2], digest[3]]
}

fn hex4(id: &[u8; 4]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

/// Splits `name+hash+key` and checks the algorithm byte; returns the name,
/// the claimed key id and the 32 key bytes.
fn split_key(text: &str) -> Result<(&str, [u8; 4], [u8; 32]), NoteError> {
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
        Some((&ED25519, rest)) if rest.len() == 32 => {
            let mut bytes = [0u8; 32];
            bytes.copy_from_slice(rest);
            Ok((name, id, bytes))
        }
        Some((&ED25519, _)) => Err(NoteError::Key("an Ed25519 key has 32 bytes")),
        _ => Err(NoteError::Key("unsupported algorithm (only Ed25519, 0x01)")),
    }
}

/// A key that signs notes.
pub struct Signer {
    name: String,
    id: [u8; 4],
    key: SigningKey,
}

impl Signer {
    /// A signer named `name` from a 32-byte seed (from a secure random source).
    pub fn from_seed(name: &str, seed: [u8; 32]) -> Result<Self, NoteError> {
        check_name(name)?;
        let key = SigningKey::from_bytes(&seed);
        let id = key_id(name, key.verifying_key().as_bytes());
        Ok(Self { name: name.to_string(), id, key })
    }

    /// Parses `PRIVATE+KEY+<name>+<hash>+<base64(0x01 || seed)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let rest = text.trim().strip_prefix("PRIVATE+KEY+").ok_or(NoteError::Key("expected PRIVATE+KEY+…"))?;
        let (name, id, seed) = split_key(rest)?;
        let signer = Self::from_seed(name, seed)?;
        if signer.id != id {
            return Err(NoteError::Key("the key id does not match the key"));
        }
        Ok(signer)
    }

    /// The private key string (keep it secret).
    pub fn to_private_string(&self) -> String {
        let mut raw = vec![ED25519];
        raw.extend_from_slice(self.key.as_bytes());
        format!("PRIVATE+KEY+{}+{}+{}", self.name, hex4(&self.id), STANDARD.encode(raw))
    }

    /// The matching verifier.
    pub fn verifier(&self) -> Verifier {
        Verifier { name: self.name.clone(), id: self.id, key: self.key.verifying_key() }
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The signature line for `text` (which must be valid note text).
    pub fn signature_line(&self, text: &str) -> Result<String, NoteError> {
        check_text(text)?;
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

/// A key that verifies notes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verifier {
    name: String,
    id: [u8; 4],
    key: VerifyingKey,
}

impl Verifier {
    /// Parses `<name>+<hash>+<base64(0x01 || public key)>`.
    pub fn parse(text: &str) -> Result<Self, NoteError> {
        let (name, id, bytes) = split_key(text.trim())?;
        if key_id(name, &bytes) != id {
            return Err(NoteError::Key("the key id does not match the key"));
        }
        let key = VerifyingKey::from_bytes(&bytes).map_err(|_| NoteError::Key("not a valid Ed25519 public key"))?;
        Ok(Self { name: name.to_string(), id, key })
    }

    /// The key name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn verifies(&self, text: &str, raw: &[u8]) -> bool {
        raw.len() == 68
            && raw[..4] == self.id
            && Signature::from_slice(&raw[4..]).is_ok_and(|sig| self.key.verify_strict(text.as_bytes(), &sig).is_ok())
    }
}

impl std::fmt::Display for Verifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut raw = vec![ED25519];
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
}

/// Verifies `note` against `known` keys. Signatures by unknown keys are
/// ignored; at least one known signature must verify, and no signature
/// that claims a known key may fail.
pub fn open(note: &str, known: &[Verifier]) -> Result<Opened, NoteError> {
    let split = note.rfind("\n\n").ok_or(NoteError::Malformed("no empty line before the signatures"))?;
    let (text, sigs) = (&note[..=split], &note[split + 2..]);
    check_text(text)?;
    if sigs.is_empty() || !sigs.ends_with('\n') {
        return Err(NoteError::Malformed("signature lines must end with a newline"));
    }
    let mut signed_by = Vec::new();
    for line in sigs.lines() {
        let rest = line.strip_prefix(DASH).ok_or(NoteError::Malformed("a signature line starts with \"— \""))?;
        let (name, b64) =
            rest.split_once(' ').ok_or(NoteError::Malformed("a signature line is \"— name signature\""))?;
        let raw = STANDARD.decode(b64).map_err(|_| NoteError::Malformed("a signature is not base64"))?;
        if raw.len() < 4 {
            return Err(NoteError::Malformed("a signature is too short"));
        }
        for key in known.iter().filter(|k| k.name == name && raw[..4] == k.id) {
            if !key.verifies(text, &raw) {
                return Err(NoteError::Unverified);
            }
            signed_by.push(key.name.clone());
        }
    }
    if signed_by.is_empty() {
        return Err(NoteError::Unverified);
    }
    Ok(Opened { text: text.to_string(), signed_by })
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
