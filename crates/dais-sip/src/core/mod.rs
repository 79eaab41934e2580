//! The sans-IO SIP endpoint: transactions (RFC 3261 §17), dialogs (§12), the UAS/UAC cores
//! (§8, §13-§15) and session-timer supervision (RFC 4028).
//!
//! # Run loop
//!
//! The shell owns the sockets and the clock and drives one [`SipCore`]:
//!
//! 1. bytes from a socket → [`SipCore::handle_datagram`] (for TCP, every chunk of a connection);
//! 2. drain [`SipCore::poll_transmit`] (send each [`Transmit`]) and [`SipCore::poll_event`]
//!    (decide: [`SipCore::accept`], [`SipCore::reject`], [`SipCore::challenge`], ...);
//! 3. sleep until [`SipCore::poll_timeout`] or the next packet, then
//!    [`SipCore::handle_timeout`] and drain again.
//!
//! The core reads no clock and opens no socket. Responses go back to the address the request
//! came from (symmetric, as RFC 3581 `rport` does), and in-dialog requests go to the address
//! the dialog's peer last used: the shell need not resolve Contact URIs, and venues behind NAT
//! keep working.

mod input;
mod output;
mod transaction;

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;

pub use transaction::Timers;
use transaction::{ClientState, ClientTx, Purpose, ServerState, ServerTx, TxKey};

use crate::digest::DigestCredentials;
use crate::error::{CallerError, PeerError, SipError};
use crate::framer::StreamFramer;
use crate::headers::{Contacts, NameAddr};
use crate::message::{Limits, Method, Request, Response, SipMessage, Uri, parse_unvalidated};

/// Transport a message travels on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Transport {
    /// UDP: one message per datagram, retransmissions by timer.
    Udp,
    /// TCP: a byte stream framed by Content-Length; no retransmissions.
    Tcp,
}

impl Transport {
    fn token(self) -> &'static str {
        match self {
            Self::Udp => "UDP",
            Self::Tcp => "TCP",
        }
    }
    fn reliable(self) -> bool {
        matches!(self, Self::Tcp)
    }
}

/// Bytes to send.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transmit {
    /// Transport to use.
    pub transport: Transport,
    /// Destination.
    pub dest: SocketAddr,
    /// One serialised SIP message.
    pub bytes: Bytes,
}

/// A call (one INVITE dialog) as the caller knows it.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CallId(pub u64);

impl fmt::Debug for CallId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CallId({})", self.0)
    }
}

/// A request waiting for the caller's answer (REGISTER).
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RequestId(pub u64);

impl fmt::Debug for RequestId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RequestId({})", self.0)
    }
}

/// Why a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EndReason {
    /// The peer sent BYE.
    RemoteBye,
    /// Our BYE completed (or timed out).
    LocalBye,
    /// The peer CANCELled before we answered.
    Cancelled,
    /// Our 2xx was never ACKed (RFC 3261 §13.3.1.4); a BYE was sent.
    AckTimeout,
    /// A transaction timed out (no answer from the peer).
    Timeout,
    /// The session timer expired without refresh (RFC 4028 §10); a BYE was sent.
    SessionExpired,
}

/// What the core reports to its owner.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum SipEvent {
    /// A new INVITE. Answer with [`SipCore::accept`], [`SipCore::reject`] or
    /// [`SipCore::challenge`]; a 100 Trying has already gone out.
    IncomingCall {
        /// The call.
        call: CallId,
        /// Who calls (From).
        from: NameAddr,
        /// User part of the Request-URI (the meeting number), or of To.
        to_user: Option<String>,
        /// The Request-URI text (digest `uri` must match it).
        request_uri: String,
        /// SDP offer, when the INVITE carried one.
        offer: Option<Bytes>,
        /// Digest credentials, when the INVITE carried them.
        auth: Option<DigestCredentials>,
        /// Where it came from.
        peer: SocketAddr,
    },
    /// The ACK for our 2xx arrived: the call is established.
    CallConfirmed {
        /// The call.
        call: CallId,
        /// The ACK's SDP: the answer to the offer we put in the 200 when the INVITE had none
        /// (RFC 3264 §4, delayed offer). `None` when the ACK had no body.
        answer: Option<Bytes>,
    },
    /// Dial-out: the callee is alerting (180/183).
    Ringing {
        /// The call.
        call: CallId,
    },
    /// Dial-out: the callee answered 2xx; the ACK has been sent.
    Answered {
        /// The call.
        call: CallId,
        /// SDP answer (or offer, if our INVITE had none).
        answer: Option<Bytes>,
    },
    /// Dial-out failed with a final non-2xx (408 when it timed out).
    Failed {
        /// The call.
        call: CallId,
        /// Status received.
        status: u16,
        /// Retry-After, if given.
        retry_after: Option<u32>,
    },
    /// Dial-out: the callee (401) or a proxy (407) asks for credentials. Answer with
    /// [`SipCore::answer_challenge`] or give up with [`SipCore::abandon_call`]; the call waits
    /// (only the first challenge of a call is reported, a second one fails it).
    AuthChallenge {
        /// The call.
        call: CallId,
        /// 401 or 407.
        status: u16,
        /// The `WWW-Authenticate` (401) or `Proxy-Authenticate` (407) values.
        challenges: Vec<String>,
    },
    /// An established call ended.
    CallEnded {
        /// The call.
        call: CallId,
        /// Why.
        reason: EndReason,
    },
    /// An INFO arrived in a call (already answered 200), e.g. `application/media_control+xml`.
    InfoReceived {
        /// The call.
        call: CallId,
        /// Content-Type, lower case.
        content_type: Option<String>,
        /// Body.
        body: Bytes,
    },
    /// A re-INVITE or an UPDATE with SDP: answer with [`SipCore::accept_reinvite`] or
    /// [`SipCore::reject_reinvite`].
    ReInvite {
        /// The call.
        call: CallId,
        /// New offer, if any.
        offer: Option<Bytes>,
    },
    /// A REGISTER: the registrar is the caller's; answer with [`SipCore::respond`].
    Register {
        /// Handle for the answer.
        request: RequestId,
        /// Address of record (To URI).
        aor: Uri,
        /// Contacts to bind.
        contacts: Contacts,
        /// Expires header, if any.
        expires: Option<u32>,
        /// Digest credentials, if any.
        auth: Option<DigestCredentials>,
        /// Call-ID (registrations are ordered by Call-ID + CSeq, RFC 3261 §10.3).
        call_id: String,
        /// CSeq number.
        cseq: u32,
        /// Source address.
        peer: SocketAddr,
    },
    /// A TCP stream lost framing: close the connection (RFC 4475 §3.1.2.3).
    CloseConnection {
        /// The connection's peer.
        peer: SocketAddr,
        /// What was wrong.
        reason: PeerError,
    },
}

/// Configuration of one endpoint.
#[derive(Debug, Clone)]
pub struct CoreConfig {
    /// Host (name or IP) we put in Via, Contact and From.
    pub local_host: String,
    /// Our SIP port.
    pub local_port: u16,
    /// `User-Agent` / `Server` value.
    pub user_agent: String,
    /// Retransmission timers.
    pub timers: Timers,
    /// Seed for tags, branches and Call-IDs (inject randomness; tests stay deterministic).
    pub seed: u64,
    /// Message bounds.
    pub limits: Limits,
    /// Smallest Session-Expires we accept (RFC 4028 Min-SE, at least 90).
    pub min_session_expires: u32,
}

impl Default for CoreConfig {
    fn default() -> Self {
        Self {
            local_host: "127.0.0.1".to_owned(),
            local_port: 5060,
            user_agent: "Dais".to_owned(),
            timers: Timers::default(),
            seed: 0x5eed,
            limits: Limits::default(),
            min_session_expires: 90,
        }
    }
}

/// Where to dial out to.
#[derive(Debug, Clone)]
pub struct DialTarget {
    /// Request-URI and To, e.g. `sip:room42@10.0.0.9`.
    pub uri: String,
    /// Address to send to (resolution is the shell's job).
    pub dest: SocketAddr,
    /// Transport.
    pub transport: Transport,
}

const ALLOW: &str = "INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE, REGISTER";
const SUPPORTED: &str = "timer";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CallState {
    /// UAS: INVITE received, the caller has not decided.
    Offered,
    /// UAS: 2xx sent, waiting for ACK.
    Accepted,
    /// Established.
    Confirmed,
    /// UAC: INVITE sent.
    Calling,
    /// UAC: BYE sent.
    Terminating,
}

impl CallState {
    fn name(self) -> &'static str {
        match self {
            Self::Offered => "offered",
            Self::Accepted => "accepted",
            Self::Confirmed => "confirmed",
            Self::Calling => "calling",
            Self::Terminating => "terminating",
        }
    }
}

#[derive(Debug)]
pub(crate) struct Call {
    state: CallState,
    sip_call_id: String,
    local_tag: String,
    /// Our side's address header value, tag included.
    local_hdr: String,
    /// The peer's address header value, tag included once known.
    remote_hdr: String,
    remote_target: String,
    local_cseq: u32,
    peer: SocketAddr,
    transport: Transport,
    /// Pending server INVITE (initial or re-INVITE) or UPDATE transaction.
    server_tx: Option<TxKey>,
    /// Outgoing INVITE branch (UAC).
    client_branch: Option<String>,
    /// Our ACK for the 2xx, resent when the 2xx is retransmitted (UAC).
    ack: Option<Bytes>,
    /// Session refresh interval and deadline (RFC 4028).
    session: Option<(Duration, Instant)>,
    /// Whether the peer offered RFC 4028 support.
    peer_timer: bool,
    /// Dial-out: our INVITE as first sent (resent with credentials after a 401/407).
    invite: Option<Request>,
    /// Dial-out: the CSeq number of the INVITE that the ACK must repeat.
    invite_cseq: u32,
    /// Dial-out: a challenge was answered already (a second one fails the call).
    auth_tried: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TimerRef {
    Server(TxKey),
    Client(String, String),
    Session(CallId),
}

/// The SIP endpoint. See the module docs for the run loop.
#[derive(Debug)]
pub struct SipCore {
    cfg: CoreConfig,
    rng: u64,
    next_id: u64,
    server_txs: HashMap<TxKey, ServerTx>,
    client_txs: HashMap<(String, String), ClientTx>,
    calls: HashMap<CallId, Call>,
    dialogs: HashMap<(String, String), CallId>,
    pending: HashMap<RequestId, TxKey>,
    timers: BinaryHeap<Reverse<(Instant, TimerRef)>>,
    framers: HashMap<SocketAddr, StreamFramer>,
    transmits: VecDeque<Transmit>,
    events: VecDeque<SipEvent>,
}
