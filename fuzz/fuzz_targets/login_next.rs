//! The `next` target after sign-in: whatever is sent, the redirect is `/`
//! or the value itself when that is a path on this site — no scheme, no
//! host, no `//`, no backslash, no control character, a valid header value.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let target = leitstand_web::safe_next(Some(text));
    if target != "/" {
        assert_eq!(target, text);
        assert!(target.starts_with('/') && !target.starts_with("//"));
        assert!(!target.chars().any(|c| c.is_control() || c.is_whitespace() || c == '\\'));
        assert!(axum::http::HeaderValue::from_str(&target).is_ok());
        let uri: axum::http::Uri = target.parse().unwrap();
        assert!(uri.scheme().is_none() && uri.authority().is_none());
    }
});
