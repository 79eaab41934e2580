//! SIP messages, transactions, dialogs, digest auth and SDP offer/answer for Dais (sans-IO).
#![warn(missing_docs)]

pub mod error;
pub mod headers;
pub mod message;

pub use error::{CallerError, LimitKind, PeerError, SipError};
pub use headers::{CSeq, Contacts, NameAddr, Refresher, SessionExpires, Via};
pub use message::{
    Header, Headers, Limits, Method, Request, Response, SipMessage, Uri, parse, parse_unvalidated,
};
pub mod core;
pub mod digest;
pub mod framer;

pub use crate::core::{
    CallId, CoreConfig, DialTarget, EndReason, RequestId, SipCore, SipEvent, Timers, Transmit,
    Transport,
};
pub mod offer_answer;
