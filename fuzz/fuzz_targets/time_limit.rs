//! Durations, time limits and backup schedules: parsing never panics, and
//! whatever parses prints back to text that parses to the same value.
#![no_main]

use leitstand_core::policy::{BackupSchedule, Keep};
use leitstand_core::time_limit::{Duration, TimeLimit};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(d) = text.parse::<Duration>() {
        assert_eq!(d.to_string().parse::<Duration>().ok(), Some(d), "{text:?}");
    }
    if let Ok(limit) = text.parse::<TimeLimit>() {
        assert_eq!(limit.to_string().parse::<TimeLimit>().ok(), Some(limit), "{text:?}");
    }
    if let Ok(keep) = text.parse::<Keep>() {
        assert_eq!(keep.to_string().parse::<Keep>().ok(), Some(keep), "{text:?}");
    }
    if let Ok(schedule) = text.parse::<BackupSchedule>() {
        assert_eq!(schedule.to_string().parse::<BackupSchedule>().ok(), Some(schedule), "{text:?}");
    }
});
