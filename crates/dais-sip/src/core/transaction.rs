//! RFC 3261 §17 transaction state, RFC 6026's `Accepted` state included. The states carry
//! their deadlines; [`super::SipCore`] owns the timer heap and the I/O queues.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{CallId, RequestId, Transport};
use crate::message::{Method, Request};

/// Timer base values (RFC 3261 §17.1.1.1, Table 4).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timers {
    /// RTT estimate, 500 ms by default.
    pub t1: Duration,
    /// Longest retransmit interval for non-INVITE requests and INVITE responses, 4 s.
    pub t2: Duration,
    /// Longest time a message stays in the network, 5 s.
    pub t4: Duration,
}

impl Default for Timers {
    fn default() -> Self {
        Self {
            t1: Duration::from_millis(500),
            t2: Duration::from_secs(4),
            t4: Duration::from_secs(5),
        }
    }
}

impl Timers {
    pub(crate) fn timeout(&self) -> Duration {
        self.t1 * 64
    }
}

/// Server transaction key (RFC 3261 §17.2.3); ACK is filed under INVITE so that it finds the
/// INVITE transaction it acknowledges.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct TxKey {
    pub branch: String,
    pub sent_by: String,
    pub method: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ServerState {
    /// Waiting for the TU (INVITE: after 100; non-INVITE: Trying or Proceeding).
    Proceeding,
    /// INVITE answered 2xx; the 2xx is retransmitted until the ACK (§13.3.1.4, RFC 6026).
    Accepted {
        retransmit_at: Instant,
        interval: Duration,
        give_up_at: Instant,
    },
    /// Final non-2xx sent. INVITE: timers G/H; non-INVITE: timer J only.
    Completed {
        retransmit_at: Option<Instant>,
        interval: Duration,
        give_up_at: Instant,
    },
    /// INVITE: ACK received, absorbing ACK retransmissions until timer I.
    Confirmed { until: Instant },
}

#[derive(Debug)]
pub(crate) struct ServerTx {
    pub method: Method,
    pub request: Request,
    pub transport: Transport,
    pub peer: SocketAddr,
    pub state: ServerState,
    pub last_response: Option<Bytes>,
    pub call: Option<CallId>,
    pub pending: Option<RequestId>,
}

impl ServerTx {
    pub fn deadline(&self) -> Option<Instant> {
        match self.state {
            ServerState::Proceeding => None,
            ServerState::Accepted {
                retransmit_at,
                give_up_at,
                ..
            } => Some(retransmit_at.min(give_up_at)),
            ServerState::Completed {
                retransmit_at,
                give_up_at,
                ..
            } => Some(retransmit_at.map_or(give_up_at, |r| r.min(give_up_at))),
            ServerState::Confirmed { until } => Some(until),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ClientState {
    /// INVITE Calling / non-INVITE Trying: retransmit (A/E) and time out (B/F).
    Trying {
        retransmit_at: Option<Instant>,
        interval: Duration,
        timeout_at: Instant,
    },
    /// A provisional response arrived.
    Proceeding {
        retransmit_at: Option<Instant>,
        interval: Duration,
        timeout_at: Instant,
    },
    /// Final response received; absorbing retransmissions until timer D/K.
    Completed { until: Instant },
}

/// What a client transaction is for, so its outcome can be routed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Invite,
    Bye,
    Cancel,
    Other,
}

#[derive(Debug)]
pub(crate) struct ClientTx {
    pub request: Request,
    pub bytes: Bytes,
    pub transport: Transport,
    pub dest: SocketAddr,
    pub state: ClientState,
    pub call: Option<CallId>,
    pub purpose: Purpose,
    pub ack: Option<Bytes>,
    /// Sent over TCP only because it was too large for UDP (RFC 3261 §18.1.1): retried over
    /// UDP if the connection cannot be made.
    pub udp_fallback: bool,
}

impl ClientTx {
    pub fn deadline(&self) -> Option<Instant> {
        match self.state {
            ClientState::Trying {
                retransmit_at,
                timeout_at,
                ..
            }
            | ClientState::Proceeding {
                retransmit_at,
                timeout_at,
                ..
            } => Some(retransmit_at.map_or(timeout_at, |r| r.min(timeout_at))),
            ClientState::Completed { until } => Some(until),
        }
    }
}
