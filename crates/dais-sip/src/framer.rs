//! Stream framing for TCP (RFC 3261 §18.3): messages are delimited by `Content-Length`, which
//! is mandatory on a stream. Bounded by [`Limits`]: a declared length above the bound fails
//! before anything is buffered for it.

use crate::error::PeerError;
use crate::message::{Limits, SipMessage, from_sipx, map_parse_error};

/// Frames messages out of one connection's byte stream.
///
/// Messages come out unvalidated (call [`SipMessage::validate`]) so that a well-framed but
/// semantically wrong request can still be answered with a 400. After an error framing is
/// lost for good: the connection must be closed (RFC 4475 §3.1.2.3).
#[derive(Debug)]
pub struct StreamFramer {
    inner: sipx_sip::StreamParser,
    failed: bool,
}

impl StreamFramer {
    /// A framer with these limits.
    #[must_use]
    pub fn new(limits: Limits) -> Self {
        let mut l = limits.to_sipx();
        l.max_message_bytes = limits.max_message_bytes;
        Self {
            inner: sipx_sip::StreamParser::new(l),
            failed: false,
        }
    }

    /// Append received bytes; returns every message they completed, in order.
    ///
    /// # Errors
    /// A framing or limit fault; every later call returns [`PeerError::FramingLost`].
    pub fn push(&mut self, chunk: &[u8]) -> Result<Vec<SipMessage>, PeerError> {
        if self.failed {
            return Err(PeerError::FramingLost);
        }
        match self.inner.push(chunk) {
            Ok(msgs) => Ok(msgs.iter().map(from_sipx).collect()),
            Err(e) => {
                self.failed = true;
                Err(map_parse_error(e))
            }
        }
    }

    /// Bytes held for an incomplete message (for a slow-sender timeout in the shell).
    #[must_use]
    pub fn pending(&self) -> usize {
        self.inner.pending()
    }
}
