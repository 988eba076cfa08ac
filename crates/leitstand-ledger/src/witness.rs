//! C2SP tlog-witness (`c2sp.org/tlog-witness`): the `add-checkpoint`
//! exchange between a log and a witness, and the witness's decision.
//!
//! A witness keeps, per log origin, the latest checkpoint it cosigned and
//! cosigns a new one only if the log proves it an append-only extension.
//! Once a witness has cosigned a tree, the log's operator — even holding the
//! log key — cannot get a rewritten history cosigned: the rewrite is not
//! consistent with what the witness saw. Both sides live here so the log
//! (client) and `leitstand witness serve` (server) share one reading of
//! the spec; storage and HTTP are at the edges.
//!
//! Request body: `old <size>\n`, up to 63 base64 proof hashes one per line,
//! an empty line, then the signed checkpoint. Answers: 200 with cosignature
//! lines; 400 malformed or old > size; 403 no trusted signature; 404 unknown
//! origin; 409 old size is not the witness's (body: its size, type
//! `text/x.tlog.size`) or same size with another root; 422 proof fails.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::Hash;
use crate::checkpoint::Checkpoint;
use crate::merkle::{ProofError, verify_consistency};
use crate::note::{self, Verifier};

/// Most proof lines a request may carry.
pub const MAX_PROOF: usize = 63;
/// Content type of a 409 answer's body.
pub const SIZE_CONTENT_TYPE: &str = "text/x.tlog.size";

/// An `add-checkpoint` request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddCheckpoint {
    /// The size the log believes the witness last cosigned.
    pub old: u64,
    /// Consistency proof from `old` to the checkpoint's size.
    pub proof: Vec<Hash>,
    /// The signed checkpoint note.
    pub checkpoint: String,
}

/// Why a witness refuses, with the status code the spec assigns.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Refusal {
    /// 400: the request is malformed, or the old size exceeds the new one.
    #[error("bad request: {0}")]
    BadRequest(String),
    /// 403: no signature by a key trusted for the origin.
    #[error("the checkpoint carries no valid signature by a key trusted for its origin")]
    Unsigned,
    /// 404: the origin is not a log this witness serves.
    #[error("unknown log origin {0:?}")]
    UnknownOrigin(String),
    /// 409: the old size is not the witness's latest size (or the same
    /// size came with another root); the witness's size is attached.
    #[error("the witness's latest cosigned size for this log is {latest}")]
    Conflict {
        /// The witness's latest cosigned size.
        latest: u64,
    },
    /// 422: the consistency proof does not verify — the new checkpoint is
    /// not an extension of what the witness cosigned.
    #[error("the consistency proof from size {old} does not verify: {reason}")]
    Inconsistent {
        /// The old size.
        old: u64,
        /// Why.
        reason: String,
    },
    /// Anything else a client may see (5xx, unexpected codes, a witness
    /// that is down).
    #[error("witness unavailable: {0}")]
    Unavailable(String),
}

impl Refusal {
    /// The HTTP status code.
    pub fn status(&self) -> u16 {
        match self {
            Refusal::BadRequest(_) => 400,
            Refusal::Unsigned => 403,
            Refusal::UnknownOrigin(_) => 404,
            Refusal::Conflict { .. } => 409,
            Refusal::Inconsistent { .. } => 422,
            Refusal::Unavailable(_) => 503,
        }
    }

    /// The response body.
    pub fn body(&self) -> String {
        match self {
            Refusal::Conflict { latest } => format!("{latest}\n"),
            other => format!("{other}\n"),
        }
    }

    /// Reads a witness's non-200 answer (client side).
    pub fn from_response(status: u16, body: &str) -> Refusal {
        let text = body.trim().to_string();
        match status {
            400 => Refusal::BadRequest(text),
            403 => Refusal::Unsigned,
            404 => Refusal::UnknownOrigin(text),
            409 => match text.parse() {
                Ok(latest) => Refusal::Conflict { latest },
                Err(_) => Refusal::Unavailable(format!("409 without a tree size: {text:?}")),
            },
            422 => Refusal::Inconsistent { old: 0, reason: text },
            _ => Refusal::Unavailable(format!("HTTP {status}: {text}")),
        }
    }
}

fn bad(reason: impl Into<String>) -> Refusal {
    Refusal::BadRequest(reason.into())
}

impl AddCheckpoint {
    /// Parses a request body; anything not exactly as the spec writes it is
    /// a 400 naming the line.
    pub fn parse(body: &str) -> Result<Self, Refusal> {
        let (head, checkpoint) = body.split_once("\n\n").ok_or_else(|| bad("no empty line before the checkpoint"))?;
        let mut lines = head.split('\n');
        let old_line = lines.next().unwrap_or_default();
        let old_text = old_line.strip_prefix("old ").ok_or_else(|| bad("line 1: expected \"old <size>\""))?;
        let old = old_text
            .parse::<u64>()
            .ok()
            .filter(|n| n.to_string() == old_text)
            .ok_or_else(|| bad("line 1: the old size must be a decimal without leading zeros"))?;
        let mut proof = Vec::new();
        for (i, line) in lines.enumerate() {
            let hash = STANDARD
                .decode(line)
                .ok()
                .and_then(|b| Hash::try_from(b).ok())
                .ok_or_else(|| bad(format!("line {}: a proof line is one base64 SHA-256 hash", i + 2)))?;
            proof.push(hash);
        }
        if proof.len() > MAX_PROOF {
            return Err(bad(format!("{} proof lines, at most {MAX_PROOF} allowed", proof.len())));
        }
        Ok(Self { old, proof, checkpoint: checkpoint.to_string() })
    }

    /// The request body.
    pub fn to_body(&self) -> String {
        let mut body = format!("old {}\n", self.old);
        for hash in &self.proof {
            body.push_str(&STANDARD.encode(hash));
            body.push('\n');
        }
        body.push('\n');
        body.push_str(&self.checkpoint);
        body
    }

    /// The origin line of the checkpoint, before any verification.
    pub fn origin(&self) -> &str {
        self.checkpoint.split('\n').next().unwrap_or_default()
    }
}

/// A log this witness serves: its origin and the keys trusted for it.
#[derive(Debug, Clone)]
pub struct WitnessedLog {
    /// The checkpoint origin.
    pub origin: String,
    /// Keys whose signature makes a checkpoint acceptable.
    pub keys: Vec<Verifier>,
}

/// Checks the request's signature and form; returns the checkpoint and its
/// note text (what a cosignature covers).
pub fn authenticate(request: &AddCheckpoint, logs: &[WitnessedLog]) -> Result<(Checkpoint, String), Refusal> {
    let origin = request.origin();
    let log = logs.iter().find(|l| l.origin == origin).ok_or_else(|| Refusal::UnknownOrigin(origin.to_string()))?;
    let opened = note::open(&request.checkpoint, &log.keys).map_err(|e| match e {
        note::NoteError::Unverified => Refusal::Unsigned,
        other => bad(format!("checkpoint: {other}")),
    })?;
    if opened.signed_by.is_empty() {
        return Err(Refusal::Unsigned);
    }
    let checkpoint = Checkpoint::parse(&opened.text).map_err(|e| bad(format!("checkpoint: {e}")))?;
    if request.old > checkpoint.size {
        return Err(bad(format!("old size {} is larger than the checkpoint's {}", request.old, checkpoint.size)));
    }
    Ok((checkpoint, opened.text))
}

/// The witness's decision for an authenticated request against its latest
/// cosigned checkpoint for the origin (`None`: never cosigned one). `Ok`
/// means: store `checkpoint` as the new latest, then cosign.
pub fn decide(request: &AddCheckpoint, checkpoint: &Checkpoint, latest: Option<&Checkpoint>) -> Result<(), Refusal> {
    let latest_size = latest.map_or(0, |l| l.size);
    if request.old != latest_size {
        return Err(Refusal::Conflict { latest: latest_size });
    }
    let inconsistent = |e: ProofError| Refusal::Inconsistent { old: request.old, reason: e.to_string() };
    match latest {
        Some(l) if l.size == checkpoint.size => {
            if l.root != checkpoint.root {
                return Err(Refusal::Conflict { latest: l.size });
            }
            if !request.proof.is_empty() {
                return Err(inconsistent(ProofError::Length { got: request.proof.len(), expected: 0 }));
            }
            Ok(())
        }
        Some(l) => {
            verify_consistency(l.size, checkpoint.size, &l.root, &checkpoint.root, &request.proof).map_err(inconsistent)
        }
        None if checkpoint.size == 0 && checkpoint.root != crate::merkle::root(&[]) => {
            Err(inconsistent(ProofError::Invalid("an empty tree has the hash of no leaves")))
        }
        None if !request.proof.is_empty() => {
            Err(inconsistent(ProofError::Length { got: request.proof.len(), expected: 0 }))
        }
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{consistency_proof, leaf_hash, root};
    use crate::note::Signer;

    fn log() -> (Signer, Vec<Hash>) {
        let leaves = (0..100u32).map(|i| leaf_hash(&i.to_be_bytes())).collect();
        (Signer::from_seed("example.org/log", [3; 32]).unwrap(), leaves)
    }

    fn request(signer: &Signer, leaves: &[Hash], old: usize, size: usize) -> AddCheckpoint {
        let cp = Checkpoint {
            origin: signer.name().into(),
            size: size as u64,
            root: root(&leaves[..size]),
            extensions: vec![],
        };
        AddCheckpoint {
            old: old as u64,
            proof: consistency_proof(old, &leaves[..size]).unwrap(),
            checkpoint: signer.sign(&cp.to_text()).unwrap(),
        }
    }

    #[test]
    fn bodies_round_trip_and_malformed_ones_name_the_line() {
        let (signer, leaves) = log();
        let req = request(&signer, &leaves, 13, 77);
        assert!(!req.proof.is_empty());
        assert_eq!(AddCheckpoint::parse(&req.to_body()).unwrap(), req);
        assert!(req.to_body().starts_with("old 13\n"));
        for (body, want) in [
            ("old 013\n\nx", "line 1: the old size must be a decimal without leading zeros"),
            ("new 1\n\nx", "line 1: expected \"old <size>\""),
            ("old 1\nnot-base64\n\nx", "line 2: a proof line is one base64 SHA-256 hash"),
            ("old 1", "no empty line before the checkpoint"),
        ] {
            assert_eq!(AddCheckpoint::parse(body), Err(Refusal::BadRequest(want.into())), "{body:?}");
        }
        let long = format!("old 1\n{}\nx", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=\n".repeat(64));
        assert_eq!(AddCheckpoint::parse(&long).unwrap_err().status(), 400);
    }

    #[test]
    fn the_witness_follows_the_spec_status_by_status() {
        let (signer, leaves) = log();
        let logs = [WitnessedLog { origin: signer.name().into(), keys: vec![signer.verifier()] }];
        let step = |req: &AddCheckpoint, latest: Option<&Checkpoint>| {
            let (cp, _) = authenticate(req, &logs)?;
            decide(req, &cp, latest).map(|()| cp)
        };
        // First contact: old 0, no proof.
        let first = step(&request(&signer, &leaves, 0, 10), None).unwrap();
        // Growth with a valid proof; replaying the same checkpoint is fine.
        let second = step(&request(&signer, &leaves, 10, 60), Some(&first)).unwrap();
        assert_eq!(step(&request(&signer, &leaves, 60, 60), Some(&second)).unwrap(), second);
        // Stale old size: 409 with the witness's size.
        let stale = step(&request(&signer, &leaves, 10, 80), Some(&second)).unwrap_err();
        assert_eq!((stale.status(), stale.body()), (409, "60\n".to_string()));
        // A rewrite, re-signed with the real key: 422 (or 409 at equal size).
        let mut forged = leaves.clone();
        forged[5] = leaf_hash(b"rewritten");
        assert_eq!(step(&request(&signer, &forged, 60, 80), Some(&second)).unwrap_err().status(), 422);
        assert_eq!(step(&request(&signer, &forged, 60, 60), Some(&second)).unwrap_err().status(), 409);
        // Old above size: 400. Unknown origin: 404. Other key: 403.
        let too_old = AddCheckpoint { old: 70, ..request(&signer, &leaves, 60, 60) };
        assert_eq!(step(&too_old, Some(&second)).unwrap_err().status(), 400);
        let stranger = Signer::from_seed("example.org/other", [4; 32]).unwrap();
        assert_eq!(step(&request(&stranger, &leaves, 0, 5), None).unwrap_err().status(), 404);
        let impostor = Signer::from_seed("example.org/log", [5; 32]).unwrap();
        assert_eq!(step(&request(&impostor, &leaves, 0, 5), None).unwrap_err().status(), 403);
        // A proof for a first contact must be empty.
        let mut with_proof = request(&signer, &leaves, 0, 5);
        with_proof.proof.push([0; 32]);
        assert_eq!(step(&with_proof, None).unwrap_err().status(), 422);
    }

    #[test]
    fn clients_read_answers() {
        assert_eq!(Refusal::from_response(409, "42\n"), Refusal::Conflict { latest: 42 });
        assert_eq!(Refusal::from_response(422, "no").status(), 422);
        assert_eq!(Refusal::from_response(502, "gateway").status(), 503);
    }
}
