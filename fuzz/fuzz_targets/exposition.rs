//! Scrape bodies from any target: both formats parse or fail with a line
//! and column inside the body, never panic, and never give more samples
//! than the limit.
#![no_main]

use leitstand_monitor::exposition::{Format, Limits, parse};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = std::str::from_utf8(data) else { return };
    let limits = Limits { max_samples: 1_000, max_labels: 16, ..Limits::default() };
    for format in [Format::Prometheus, Format::OpenMetrics] {
        match parse(body, format, &limits) {
            Ok(families) => {
                let samples: usize = families.iter().map(|f| f.samples.len()).sum();
                assert!(samples <= limits.max_samples);
                assert!(families.iter().all(|f| f.samples.iter().all(|s| s.labels.len() <= limits.max_labels)));
            }
            Err(e) => {
                let lines = body.split('\n').count();
                assert!(e.line >= 1 && e.line <= lines, "{e} in {lines} lines");
                assert!(e.column >= 1);
            }
        }
    }
});
