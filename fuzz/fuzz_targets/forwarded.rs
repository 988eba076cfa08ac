//! `Forwarded`, `X-Forwarded-For` and `X-Forwarded-Proto` from a client:
//! reading them never panics; from a peer that is not a trusted proxy they
//! change nothing; from a trusted one the client is the peer or an address
//! the headers name.
#![no_main]

use std::net::IpAddr;

use leitstand_web::{TrustedProxies, client_origin};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut parts = text.splitn(3, '\n');
    let mut headers = axum::http::HeaderMap::new();
    for name in ["forwarded", "x-forwarded-for", "x-forwarded-proto"] {
        if let Some(value) = parts.next().and_then(|v| axum::http::HeaderValue::from_str(v).ok()) {
            headers.append(name, value);
        }
    }
    let trusted = TrustedProxies::parse(&["10.0.0.0/8", "::1"]).unwrap();
    let outsider: IpAddr = "192.0.2.1".parse().unwrap();
    let o = client_origin(outsider, &headers, &trusted);
    assert!(o.ip == outsider && !o.tls);
    let proxy: IpAddr = "10.0.0.1".parse().unwrap();
    let o = client_origin(proxy, &headers, &trusted);
    assert!(o.ip == proxy || text.contains(&o.ip.to_string()) || text.to_lowercase().contains(&o.ip.to_string()));
});
