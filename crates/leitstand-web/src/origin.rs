//! Where a request comes from: the client's address (the key of sign-in
//! throttling) and whether it reached us over TLS (`Secure` cookies,
//! HSTS).
//!
//! Behind a reverse proxy the TCP peer is the proxy, and the client is named
//! in `Forwarded` (RFC 7239) or `X-Forwarded-For`. Those headers are
//! believed only from the proxies an operator lists
//! (`server.trusted_proxies`): from anyone else a client could name any
//! address — and lock out whoever it likes — or claim TLS. From a trusted
//! peer the chain is read from the right, skipping trusted proxies; the
//! first address that is not one of them is the client.

use std::net::{IpAddr, SocketAddr};
use std::str::FromStr;

use axum::extract::{ConnectInfo, Request};
use axum::http::HeaderMap;
use axum::middleware::Next;
use axum::response::Response;
use ipnet::IpNet;

/// The client of a request, as far as it can be trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClientOrigin {
    /// The client's address.
    pub ip: IpAddr,
    /// Whether the client's connection is TLS (to us or to a trusted proxy).
    pub tls: bool,
}

impl ClientOrigin {
    /// The origin recorded for a request; the unspecified address when the
    /// server was started without connection info (tests of single routes).
    pub fn of(extensions: &axum::http::Extensions) -> ClientOrigin {
        extensions.get::<ClientOrigin>().copied().unwrap_or(ClientOrigin { ip: IpAddr::from([0, 0, 0, 0]), tls: false })
    }
}

/// The reverse proxies whose forwarding headers are believed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustedProxies(Vec<IpNet>);

/// An entry of `server.trusted_proxies` that is neither an address nor a
/// CIDR range.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{entry:?} is neither an IP address nor a CIDR range (10.0.0.0/8, fd00::/8)")]
pub struct BadProxy {
    /// The entry as written.
    pub entry: String,
}

impl TrustedProxies {
    /// Parses addresses (`10.0.0.5`) and CIDR ranges (`10.0.0.0/8`).
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<Self, BadProxy> {
        entries
            .iter()
            .map(|e| {
                let e = e.as_ref().trim();
                IpNet::from_str(e)
                    .or_else(|_| IpAddr::from_str(e).map(IpNet::from))
                    .map_err(|_| BadProxy { entry: e.to_string() })
            })
            .collect::<Result<Vec<_>, _>>()
            .map(TrustedProxies)
    }

    /// Whether `ip` is one of them (IPv4-mapped IPv6 addresses count as
    /// their IPv4 address).
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// Whether none are configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One hop of a forwarding chain, left (client) to right (nearest proxy).
struct Hop {
    ip: Option<IpAddr>,
    proto: Option<String>,
}

/// The `for=` address of a `Forwarded` element: `192.0.2.1`,
/// `"192.0.2.1:4711"`, `"[2001:db8::1]:4711"`; obfuscated or unknown
/// identifiers give `None`.
fn forwarded_for(value: &str) -> Option<IpAddr> {
    let v = value.trim().trim_matches('"');
    if let Some(rest) = v.strip_prefix('[') {
        return rest.split_once(']').and_then(|(ip, _)| ip.parse().ok());
    }
    v.parse().ok().or_else(|| SocketAddr::from_str(v).ok().map(|s| s.ip()))
}

/// The chain of hops in the request's forwarding headers: `Forwarded` if
/// present, else `X-Forwarded-For` with `X-Forwarded-Proto` applying to the
/// nearest hop.
fn chain(headers: &HeaderMap) -> Vec<Hop> {
    let values = |name: &str| -> Vec<String> {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let forwarded = values("forwarded");
    if !forwarded.is_empty() {
        return forwarded
            .iter()
            .map(|element| {
                let mut hop = Hop { ip: None, proto: None };
                for pair in element.split(';') {
                    if let Some((key, value)) = pair.split_once('=') {
                        match key.trim().to_ascii_lowercase().as_str() {
                            "for" => hop.ip = forwarded_for(value),
                            "proto" => hop.proto = Some(value.trim().trim_matches('"').to_ascii_lowercase()),
                            _ => {}
                        }
                    }
                }
                hop
            })
            .collect();
    }
    let mut hops: Vec<Hop> =
        values("x-forwarded-for").iter().map(|v| Hop { ip: forwarded_for(v), proto: None }).collect();
    if let (Some(last), Some(proto)) = (hops.last_mut(), values("x-forwarded-proto").pop()) {
        last.proto = Some(proto.to_ascii_lowercase());
    }
    hops
}

/// The origin of a request from `peer` with `headers`. A connection is
/// TLS only by a trusted proxy's word: Leitstand itself serves plain HTTP
/// behind its TLS terminator.
pub fn client_origin(peer: IpAddr, headers: &HeaderMap, trusted: &TrustedProxies) -> ClientOrigin {
    let direct = ClientOrigin { ip: peer.to_canonical(), tls: false };
    if !trusted.contains(peer) {
        return direct;
    }
    let hops = chain(headers);
    let tls = hops.last().and_then(|h| h.proto.as_deref()).is_some_and(|p| p == "https");
    // From the right, past the trusted proxies: the first hop that is not
    // one of them is the client. An unreadable hop ends the walk there (a
    // proxy that says "unknown" knows no more than we do).
    let mut client = direct.ip;
    for hop in hops.iter().rev() {
        match hop.ip {
            Some(ip) => {
                client = ip.to_canonical();
                if !trusted.contains(ip) {
                    break;
                }
            }
            None => break,
        }
    }
    ClientOrigin { ip: client, tls }
}

/// Records the request's [`ClientOrigin`] in its extensions.
pub(crate) async fn record(
    axum::extract::State(trusted): axum::extract::State<std::sync::Arc<TrustedProxies>>,
    mut req: Request,
    next: Next,
) -> Response {
    let peer = req.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.ip());
    let origin = match peer {
        Some(peer) => client_origin(peer, req.headers(), &trusted),
        None => ClientOrigin::of(req.extensions()),
    };
    req.extensions_mut().insert(origin);
    next.run(req).await
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use axum::http::HeaderValue;

    use super::*;

    fn headers(pairs: &[(&'static str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, HeaderValue::from_str(v).unwrap());
        }
        map
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn headers_of_an_untrusted_peer_are_ignored() {
        let trusted = TrustedProxies::parse(&["10.0.0.0/8"]).unwrap();
        let h = headers(&[("x-forwarded-for", "1.2.3.4"), ("x-forwarded-proto", "https")]);
        assert_eq!(client_origin(ip("192.0.2.9"), &h, &trusted), ClientOrigin { ip: ip("192.0.2.9"), tls: false });
        let none = TrustedProxies::default();
        assert_eq!(client_origin(ip("10.0.0.1"), &h, &none).ip, ip("10.0.0.1"), "no proxies configured");
    }

    #[test]
    fn the_client_is_the_first_untrusted_hop_from_the_right() {
        let trusted = TrustedProxies::parse(&["10.0.0.0/8", "192.0.2.7"]).unwrap();
        // The client forged "6.6.6.6"; the outer proxy 192.0.2.7 appended
        // the real client, the inner proxy 10.0.0.2 appended the outer one.
        let h = headers(&[("x-forwarded-for", "6.6.6.6, 203.0.113.5, 192.0.2.7"), ("x-forwarded-proto", "https")]);
        let o = client_origin(ip("10.0.0.2"), &h, &trusted);
        assert_eq!(o, ClientOrigin { ip: ip("203.0.113.5"), tls: true });
        // All hops trusted: the leftmost.
        let h = headers(&[("x-forwarded-for", "10.1.1.1")]);
        assert_eq!(client_origin(ip("10.0.0.2"), &h, &trusted).ip, ip("10.1.1.1"));
        // No header from a trusted peer: the peer.
        assert_eq!(client_origin(ip("10.0.0.2"), &HeaderMap::new(), &trusted).ip, ip("10.0.0.2"));
    }

    #[test]
    fn forwarded_elements_with_ports_brackets_and_obfuscation() {
        let trusted = TrustedProxies::parse(&["::1", "127.0.0.1"]).unwrap();
        let h = headers(&[("forwarded", r#"for="[2001:db8::1]:4711";proto=https, for=127.0.0.1;proto=https"#)]);
        assert_eq!(client_origin(ip("::1"), &h, &trusted), ClientOrigin { ip: ip("2001:db8::1"), tls: true });
        let h = headers(&[("forwarded", r#"for="198.51.100.3:80";proto=http"#)]);
        assert_eq!(client_origin(ip("127.0.0.1"), &h, &trusted), ClientOrigin { ip: ip("198.51.100.3"), tls: false });
        let h = headers(&[("forwarded", "for=_hidden, for=unknown")]);
        assert_eq!(client_origin(ip("127.0.0.1"), &h, &trusted).ip, ip("127.0.0.1"), "unknown hops reveal nothing");
        // An IPv4 peer seen as an IPv4-mapped IPv6 address is still trusted.
        let h = headers(&[("x-forwarded-for", "198.51.100.4")]);
        assert_eq!(client_origin(ip("::ffff:127.0.0.1"), &h, &trusted).ip, ip("198.51.100.4"));
    }

    #[test]
    fn bad_entries_are_named() {
        let err = TrustedProxies::parse(&["10.0.0.0/8", "proxy.local"]).unwrap_err();
        assert_eq!(err.entry, "proxy.local");
        assert!(TrustedProxies::parse(&["10.0.0.0/33"]).is_err());
        assert!(TrustedProxies::parse(&["fd00::/8", " 127.0.0.1 "]).is_ok());
    }
}
