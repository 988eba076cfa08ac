//! `traceparent` headers: parsing never panics, and an accepted header has
//! a 32-digit trace id and a 16-digit parent id in lower-case hex.
#![no_main]

use leitstand_web::TraceContext;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Some((trace, parent, flags)) = TraceContext::parse_traceparent(text) {
        let hex = |s: &str| s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        assert!(trace.len() == 32 && hex(&trace));
        assert!(parent.len() == 16 && hex(&parent));
        assert!(flags.len() == 2 && hex(&flags));
    }
});
