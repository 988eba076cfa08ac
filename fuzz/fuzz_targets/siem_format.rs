//! What goes to the SIEM from any stored event: never a panic, one line
//! per message (a line break in a value cannot start a forged message), and
//! the octet count always matches.
#![no_main]

use leitstand_siem::{Payload, SiemEvent, SyslogOptions, frame, message};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(serde_json::Value::Object(event)) = serde_json::from_slice(data) else { return };
    for payload in [Payload::Json, Payload::Cef] {
        let options = SyslogOptions {
            facility: 13,
            hostname: "host".into(),
            app_name: "leitstand".into(),
            sd_id: "leitstand@32473".into(),
            payload,
        };
        let e = SiemEvent { index: 7, logged_at: jiff::Timestamp::UNIX_EPOCH, event: event.clone() };
        let msg = message(&e, &options);
        assert!(!msg.contains('\n') && !msg.contains('\r'), "{msg:?}");
        let framed = frame(&msg);
        let text = std::str::from_utf8(&framed).expect("UTF-8");
        let (len, rest) = text.split_once(' ').expect("length prefix");
        assert_eq!(len.parse::<usize>().expect("decimal"), rest.len());
    }
});
