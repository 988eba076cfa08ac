//! Any text as `leitstand.toml`: loading never panics, and either yields a
//! policy that validates or problems that each name a key or a position.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::path::Path;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    match leitstand::config::load_str(Some(Path::new("fuzz.toml")), Some(text), Vec::new()) {
        Ok(config) => assert!(config.policy.base.validate().is_ok()),
        Err(leitstand::config::ConfigError::Invalid(problems)) => {
            assert!(!problems.is_empty());
            for p in problems {
                assert!(!p.message.is_empty());
            }
        }
        Err(other) => panic!("unexpected error kind: {other}"),
    }
});
