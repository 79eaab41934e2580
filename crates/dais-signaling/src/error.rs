//! Errors of the SIP service, split by blame.

use std::net::SocketAddr;

/// Why the service could not start or a request to it failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServiceError {
    /// The caller's fault: the configuration cannot work (e.g. a wildcard bind without
    /// `public_ip`).
    #[error("invalid SIP configuration: {0}")]
    Config(String),
    /// The environment's fault: a socket could not be bound.
    #[error("cannot bind SIP {transport} on {addr}: {source}")]
    Bind {
        /// `udp` or `tcp`.
        transport: &'static str,
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The service's task has ended (a bug, or the service was shut down).
    #[error("the SIP service has stopped")]
    Stopped,
}

/// Why a dial-out could not be placed (logged and reported to the meeting as `Failed`).
#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum DialError {
    /// The venue has no registration and no configured contact URI (operator's fault).
    #[error("venue has no registered contact and no configured URI")]
    NoTarget,
    /// The configured URI is not a usable SIP URI (operator's fault).
    #[error("bad contact URI `{0}`")]
    BadUri(String),
    /// The URI's host did not resolve (environment's fault).
    #[error("cannot resolve `{0}`")]
    Unresolved(String),
    /// The meeting is not running here.
    #[error("no such meeting")]
    NoMeeting,
    /// A bug: the core refused a request we built.
    #[error("internal error: {0}")]
    Internal(String),
}
