//! Tile paths, checkpoints, signed notes and entry bundles: parsing never
//! panics, and whatever parses prints back to the same bytes.
#![no_main]

use leitstand_ledger::checkpoint::Checkpoint;
use leitstand_ledger::note::{Signer, open};
use leitstand_ledger::tiles::{Tile, decode_bundle, encode_bundle};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Some(entries) = decode_bundle(data) {
        assert_eq!(encode_bundle(&entries).as_deref(), Some(data));
    }
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(tile) = Tile::parse(text) {
        assert_eq!(tile.path(), text);
    }
    if let Ok(checkpoint) = Checkpoint::parse(text) {
        assert_eq!(checkpoint.to_text(), text);
    }
    let signer = Signer::from_seed("fuzz", [1; 32]).expect("valid name");
    let _ = open(text, &[signer.verifier()]);
});
