//! C2SP tlog-checkpoints (`c2sp.org/tlog-checkpoint`): the signed statement
//! "the log named `origin` has `size` entries with root `hash`", published as
//! the text of a signed note.
//!
//! ```text
//! <origin>
//! <tree size, decimal>
//! <root hash, base64>
//! [extension lines]
//! ```

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::Hash;

/// A checkpoint body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    /// The log's origin line, e.g. `leitstand.example/audit`.
    pub origin: String,
    /// Number of entries.
    pub size: u64,
    /// RFC 6962 root hash of those entries.
    pub root: Hash,
    /// Optional extension lines (opaque).
    pub extensions: Vec<String>,
}

/// Why a checkpoint text is not acceptable; names the line.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("checkpoint line {line}: {reason}")]
pub struct CheckpointError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong.
    pub reason: &'static str,
}

impl Checkpoint {
    /// The note text.
    pub fn to_text(&self) -> String {
        let mut text = format!("{}\n{}\n{}\n", self.origin, self.size, STANDARD.encode(self.root));
        for line in &self.extensions {
            text.push_str(line);
            text.push('\n');
        }
        text
    }

    /// Parses a note text.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let err = |line, reason| CheckpointError { line, reason };
        let body = text.strip_suffix('\n').ok_or(err(0, "the text must end with a newline"))?;
        let mut lines = body.split('\n');
        let origin = lines.next().filter(|o| !o.is_empty()).ok_or(err(1, "the origin is empty"))?;
        let size_text = lines.next().ok_or(err(2, "the tree size is missing"))?;
        let canonical = !size_text.is_empty()
            && size_text.bytes().all(|b| b.is_ascii_digit())
            && (size_text == "0" || !size_text.starts_with('0'));
        let size = size_text
            .parse::<u64>()
            .ok()
            .filter(|_| canonical)
            .ok_or(err(2, "the tree size must be a decimal number without leading zeros"))?;
        let root_text = lines.next().ok_or(err(3, "the root hash is missing"))?;
        let root: Hash = STANDARD
            .decode(root_text)
            .ok()
            .and_then(|bytes| bytes.try_into().ok())
            .ok_or(err(3, "the root hash must be 32 bytes in standard base64"))?;
        let extensions: Vec<String> = lines.map(String::from).collect();
        if let Some(i) = extensions.iter().position(String::is_empty) {
            return Err(err(4 + i, "empty extension line"));
        }
        Ok(Self { origin: origin.to_string(), size, root, extensions })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{leaf_hash, root};
    use crate::note::{Signer, open};

    #[test]
    fn round_trips_through_a_signed_note() {
        let leaves: Vec<Hash> = (0..5u8).map(|i| leaf_hash(&[i])).collect();
        let checkpoint =
            Checkpoint { origin: "leitstand.example/audit".into(), size: 5, root: root(&leaves), extensions: vec![] };
        let signer = Signer::from_seed("leitstand.example/audit", [3; 32]).unwrap();
        let note = signer.sign(&checkpoint.to_text()).unwrap();
        let opened = open(&note, &[signer.verifier()]).unwrap();
        assert_eq!(Checkpoint::parse(&opened.text).unwrap(), checkpoint);
    }

    #[test]
    fn malformed_checkpoints_name_the_line() {
        let good = "o\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n";
        assert!(Checkpoint::parse(good).is_ok());
        let cases = [
            ("o\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=", 0),
            ("\n5\nAA==\n", 1),
            ("o\n05\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n", 2),
            ("o\n-1\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n", 2),
            ("o\n5\nAAAA\n", 3),
            ("o\n5\n47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=\n\n", 4),
        ];
        for (text, line) in cases {
            assert_eq!(Checkpoint::parse(text).unwrap_err().line, line, "{text:?}");
        }
    }
}
