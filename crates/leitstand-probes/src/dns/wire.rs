//! Asking one DNS server directly: an A and an AAAA query over UDP (RFC
//! 1035's wire format, recursion desired), the addresses of both answers.
//! Only what a probe needs is read — the header, the answers' A and AAAA
//! records — and every length is checked, so a broken or hostile answer
//! is reported as malformed, never trusted.

use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::atomic::{AtomicU16, Ordering};

use tokio::net::UdpSocket;

use crate::ProbeError;
use crate::error::connecting;

const TYPE_A: u16 = 1;
const TYPE_AAAA: u16 = 28;
const CLASS_IN: u16 = 1;

/// The addresses `server` gives for `name`.
pub(super) async fn ask(server: SocketAddr, name: &str) -> Result<Vec<IpAddr>, ProbeError> {
    let doing = format!("asking {server} for {name}");
    let local: SocketAddr =
        if server.is_ipv4() { (Ipv4Addr::UNSPECIFIED, 0).into() } else { (Ipv6Addr::UNSPECIFIED, 0).into() };
    let socket = UdpSocket::bind(local).await.map_err(|e| ProbeError::Setup { detail: format!("{doing}: {e}") })?;
    socket.connect(server).await.map_err(|e| connecting(doing.clone(), &e))?;
    let first = next_id();
    let mut pending = vec![first, first.wrapping_add(1)];
    for (id, qtype) in pending.iter().zip([TYPE_A, TYPE_AAAA]) {
        let message = query(*id, name, qtype)
            .ok_or_else(|| ProbeError::Setup { detail: format!("{name:?} is not a DNS name") })?;
        socket.send(&message).await.map_err(|e| connecting(doing.clone(), &e))?;
    }
    let mut found = Vec::new();
    let mut buf = [0u8; 4096];
    while !pending.is_empty() {
        let n = socket.recv(&mut buf).await.map_err(|e| connecting(doing.clone(), &e))?;
        let answer = parse(&buf[..n])
            .map_err(|why| ProbeError::Malformed { detail: format!("the answer of {server} is not DNS: {why}") })?;
        let Some(at) = pending.iter().position(|id| *id == answer.id) else {
            continue; // a late answer to another query
        };
        pending.remove(at);
        match answer.rcode {
            0 => found.extend(answer.addresses),
            3 => return Err(ProbeError::Dns { name: name.into(), detail: format!("{server} knows no such name") }),
            code => {
                let what = match code {
                    2 => "a server failure".to_string(),
                    5 => "a refusal".to_string(),
                    c => format!("error {c}"),
                };
                return Err(ProbeError::Dns { name: name.into(), detail: format!("{server} answered with {what}") });
            }
        }
    }
    Ok(found)
}

/// A query id that an off-path sender cannot guess from the last one.
fn next_id() -> u16 {
    static COUNTER: AtomicU16 = AtomicU16::new(0);
    RandomState::new().hash_one(COUNTER.fetch_add(2, Ordering::Relaxed)) as u16
}

/// A query for `name`'s records of `qtype`, or `None` if `name` cannot be
/// written as a DNS name.
fn query(id: u16, name: &str, qtype: u16) -> Option<Vec<u8>> {
    let mut out = Vec::with_capacity(18 + name.len());
    out.extend_from_slice(&id.to_be_bytes());
    out.extend_from_slice(&0x0100u16.to_be_bytes()); // recursion desired
    out.extend_from_slice(&[0, 1, 0, 0, 0, 0, 0, 0]); // one question
    let name = name.strip_suffix('.').unwrap_or(name);
    if name.is_empty() || name.len() > 253 {
        return None;
    }
    for label in name.split('.') {
        if label.is_empty() || label.len() > 63 {
            return None;
        }
        out.push(label.len() as u8);
        out.extend_from_slice(label.as_bytes());
    }
    out.push(0);
    out.extend_from_slice(&qtype.to_be_bytes());
    out.extend_from_slice(&CLASS_IN.to_be_bytes());
    Some(out)
}

/// What an answer says.
#[derive(Debug, PartialEq)]
struct Answer {
    id: u16,
    rcode: u8,
    addresses: Vec<IpAddr>,
}

fn u16_at(msg: &[u8], at: usize) -> Result<u16, &'static str> {
    msg.get(at..at + 2).map(|b| u16::from_be_bytes([b[0], b[1]])).ok_or("it ends early")
}

/// The position after the name at `at`.
fn skip_name(msg: &[u8], mut at: usize) -> Result<usize, &'static str> {
    for _ in 0..128 {
        let len = *msg.get(at).ok_or("it ends early")?;
        match len & 0xC0 {
            0 if len == 0 => return Ok(at + 1),
            0 => at += 1 + usize::from(len),
            0xC0 => return if at + 1 < msg.len() { Ok(at + 2) } else { Err("it ends early") },
            _ => return Err("a name has a label of an unknown type"),
        }
    }
    Err("a name is too long")
}

fn parse(msg: &[u8]) -> Result<Answer, &'static str> {
    if msg.len() < 12 {
        return Err("it is shorter than a DNS header");
    }
    let id = u16_at(msg, 0)?;
    let flags = u16_at(msg, 2)?;
    if flags & 0x8000 == 0 {
        return Err("it is a query, not an answer");
    }
    let (questions, answers) = (u16_at(msg, 4)?, u16_at(msg, 6)?);
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(msg, at)? + 4;
    }
    let mut addresses = Vec::new();
    for _ in 0..answers {
        at = skip_name(msg, at)?;
        let (rtype, class, len) = (u16_at(msg, at)?, u16_at(msg, at + 2)?, usize::from(u16_at(msg, at + 8)?));
        let data = msg.get(at + 10..at + 10 + len).ok_or("it ends early")?;
        match (rtype, class, data.len()) {
            (TYPE_A, CLASS_IN, 4) => addresses.push(IpAddr::from([data[0], data[1], data[2], data[3]])),
            (TYPE_AAAA, CLASS_IN, 16) => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(data);
                addresses.push(IpAddr::from(octets));
            }
            (TYPE_A | TYPE_AAAA, CLASS_IN, _) => return Err("an address record has the wrong length"),
            _ => {} // CNAME and others: the addresses follow
        }
        at += 10 + len;
    }
    Ok(Answer { id, rcode: (flags & 0x000F) as u8, addresses })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn queries_are_written_and_answers_read_with_every_length_checked() {
        let q = query(0x1234, "portal.example.", TYPE_A).unwrap();
        assert_eq!(&q[..12], &[0x12, 0x34, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0]);
        assert_eq!(&q[12..], b"\x06portal\x07example\x00\x00\x01\x00\x01");
        assert_eq!(query(1, "a..b", TYPE_A), None);
        assert_eq!(query(1, &"x".repeat(64), TYPE_A), None);

        // The query turned into an answer: a CNAME (compressed name), then A.
        let mut a = q.clone();
        a[2] = 0x81;
        a[3] = 0x80;
        a[7] = 2;
        a.extend_from_slice(&[0xC0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 2, 0xC0, 12]);
        a.extend_from_slice(&[0xC0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 192, 0, 2, 7]);
        let answer = parse(&a).unwrap();
        assert_eq!(answer, Answer { id: 0x1234, rcode: 0, addresses: vec![IpAddr::from([192, 0, 2, 7])] });
        for cut in 0..a.len() - 1 {
            assert!(parse(&a[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(parse(&q), Err("it is a query, not an answer"));
        assert_eq!(parse(b"hello"), Err("it is shorter than a DNS header"));
    }
}
