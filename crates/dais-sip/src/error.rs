//! Errors, split by who is to blame (style rule 10).
//!
//! A [`PeerError`] is the remote side's fault: it is answered on the wire (the
//! [`PeerError::status`] to send, if any) or the message is dropped, never a panic. A
//! [`CallerError`] is a misuse of this crate's API by the code that drives it. A [`SipError::Bug`]
//! is an internal inconsistency that should be reported.

/// Everything that can go wrong in this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SipError {
    /// The peer sent something we cannot accept.
    #[error("peer error: {0}")]
    Peer(#[from] PeerError),
    /// The caller asked for something impossible.
    #[error("caller error: {0}")]
    Caller(#[from] CallerError),
    /// An internal invariant failed; please report it.
    #[error("internal bug: {0}")]
    Bug(&'static str),
}

/// Which configured bound a message exceeded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LimitKind {
    /// Whole message size.
    MessageBytes,
    /// Body size.
    BodyBytes,
    /// Number of header fields.
    Headers,
    /// Size of one header field.
    HeaderBytes,
    /// Continuation lines in one header field.
    FoldingLines,
}

/// A fault in what the peer sent.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PeerError {
    /// No empty line closes the header section (RFC 3261 §7).
    #[error("header section not terminated")]
    NoHeaderTerminator,
    /// `Content-Length` is larger than the bytes present (RFC 4475 §3.1.2.2).
    #[error("body shorter than Content-Length")]
    BodyTruncated,
    /// `Content-Length` is not a number (RFC 4475 §3.1.2.3).
    #[error("malformed Content-Length")]
    ContentLengthMalformed,
    /// `Content-Length` appears more than once (RFC 4475 §3.3.9).
    #[error("Content-Length repeated")]
    ContentLengthRepeated,
    /// A stream message lacks `Content-Length` (RFC 3261 §18.3).
    #[error("Content-Length required on a stream transport")]
    ContentLengthRequired,
    /// The request or status line does not parse.
    #[error("malformed start line")]
    StartLine,
    /// The status code is outside 100..=699 (RFC 4475 §3.1.2.19).
    #[error("invalid status code")]
    StatusCode,
    /// A header line is not `name: value`.
    #[error("malformed header line")]
    HeaderSyntax,
    /// A configured size bound was exceeded.
    #[error("limit {limit:?} exceeded ({value})")]
    Limit {
        /// Which bound.
        limit: LimitKind,
        /// The offending size.
        value: usize,
    },
    /// A header this crate needs is absent (RFC 3261 §8.1.1).
    #[error("missing header {0}")]
    MissingHeader(&'static str),
    /// A header is present but its value does not parse.
    #[error("malformed header {0}")]
    MalformedHeader(&'static str),
    /// A single-valued header appears more than once (RFC 4475 §3.3.8).
    #[error("header {0} repeated")]
    RepeatedHeader(&'static str),
    /// The CSeq method differs from the request method (RFC 4475 §3.1.2.17).
    #[error("CSeq method does not match the request line")]
    CSeqMethodMismatch,
    /// The SIP version is not 2.0 (RFC 4475 §3.1.2.16).
    #[error("unsupported SIP version")]
    UnsupportedVersion,
    /// The Request-URI carries `?headers` (RFC 3261 §19.1.1).
    #[error("Request-URI carries headers")]
    RequestUriHasHeaders,
    /// A stream framer already failed: framing is lost for the rest of the connection.
    #[error("stream framing lost")]
    FramingLost,
}

impl PeerError {
    /// The response status RFC 3261 / RFC 4475 prescribe for a request with this fault.
    ///
    /// `None` when no response can be built (nothing reliable to copy the transaction headers
    /// from); the message is then dropped.
    #[must_use]
    pub fn status(&self) -> Option<u16> {
        match self {
            Self::UnsupportedVersion => Some(505),
            Self::Limit { .. } => Some(513),
            Self::FramingLost => None,
            _ => Some(400),
        }
    }
}

/// A misuse of the API by the code driving this crate.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallerError {
    /// No call with this id (or it already ended).
    #[error("unknown call {0}")]
    UnknownCall(u64),
    /// No pending request with this id (already answered, or timed out).
    #[error("unknown request {0}")]
    UnknownRequest(u64),
    /// The call is not in a state where this operation applies.
    #[error("call {call} is {state}; cannot {operation}")]
    WrongState {
        /// The call.
        call: u64,
        /// Its current state.
        state: &'static str,
        /// What was attempted.
        operation: &'static str,
    },
    /// A status code outside the range the operation allows.
    #[error("status {0} not allowed here")]
    BadStatus(u16),
    /// A URI given by the caller does not parse.
    #[error("invalid URI {0:?}")]
    BadUri(String),
    /// A header name or value given by the caller is not legal SIP.
    #[error("invalid header {0:?}")]
    BadHeader(String),
}
