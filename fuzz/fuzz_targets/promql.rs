//! Rule expressions from configuration: parsing never panics, and a
//! refusal points at a column inside the text.
#![no_main]

use leitstand_monitor::promql::parse;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Err(e) = parse(text) {
        assert!(e.column >= 1 && e.column <= text.chars().count() + 1, "{e} in {text:?}");
    }
});
