//! SIEM forwarding of the audit trail: each event becomes one RFC 5424
//! syslog message — JSON or ArcSight CEF in the message part — sent over
//! TCP with TLS (RFC 5425: octet-counted frames, TLS 1.2+, server
//! certificate checked, client certificate optional).
//!
//! `format` is pure (what a SIEM receives, byte for byte); `transport` owns
//! the connection, including the liveness check that lets the forwarder
//! confirm delivery only on a connection that is still up — syslog over
//! TLS has no acknowledgements, so this is how at-least-once is kept.

pub mod format;
pub mod transport;

pub use format::{Payload, SiemEvent, SyslogOptions, frame, message};
pub use transport::{Connection, TlsOptions, TransportError};
