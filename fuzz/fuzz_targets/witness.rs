//! The witness's input: `add-checkpoint` bodies from anyone on the network.
//! Parsing and the whole decision never panic; a body that parses prints
//! back to the same bytes; nothing is cosigned without a valid signature by
//! the trusted log key and a verifying proof.
#![no_main]

use leitstand_ledger::checkpoint::Checkpoint;
use leitstand_ledger::merkle::{leaf_hash, root};
use leitstand_ledger::note::{Signer, open};
use leitstand_ledger::witness::{AddCheckpoint, WitnessedLog, authenticate, decide};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else { return };
    let log = Signer::from_seed("fuzz.example/log", [1; 32]).expect("valid name");
    let witness = Signer::cosigner_from_seed("fuzz.example/witness", [2; 32]).expect("valid name");
    let _ = open(body, &[log.verifier(), witness.verifier()]);
    let Ok(request) = AddCheckpoint::parse(body) else { return };
    assert_eq!(request.to_body(), body);
    let logs = [WitnessedLog { origin: log.name().into(), keys: vec![log.verifier()] }];
    let Ok((checkpoint, _)) = authenticate(&request, &logs) else { return };
    // Only a note signed with the log key gets here — which fuzzing cannot forge.
    let leaves = [leaf_hash(b"a"), leaf_hash(b"b"), leaf_hash(b"c")];
    let latest = Checkpoint { origin: log.name().into(), size: 3, root: root(&leaves), extensions: vec![] };
    let _ = decide(&request, &checkpoint, Some(&latest));
});
