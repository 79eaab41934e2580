//! The Dais SIP service: venues dial in, the MCU dials out, and every leg is torn down.
//!
//! [`SipService`] owns the SIP UDP socket and TCP listener and ONE task that owns the sans-IO
//! [`dais_sip::SipCore`] (no lock around it). TCP connections feed it chunks (the core frames
//! them). Everything slow — directory lookups over the store, a meeting's admission and leg
//! set-up — runs in spawned tasks that report back by message.
//!
//! # Run loop of the core task
//!
//! ```text
//!  UDP datagram / TCP chunk ─► per-IP token bucket ─► SipCore::handle_datagram
//!  commands (dial, hang up, decisions, INFO, meeting ended) ─► call handling
//!  SipCore::poll_timeout ─► handle_timeout
//!  then drain poll_transmit (UDP send / TCP writer) and poll_event (calls, registrar)
//! ```
//!
//! # Dial-in
//!
//! INVITE `sip:<number>@host` → 401 challenge (SHA-256 and MD5) → credentials from the
//! [`Directory`] → digest verified (403 on a wrong password, a new 401 on a stale or unknown
//! nonce) → the meeting (404 when unknown) → `admit` (403 not invited or locked, 480 not open,
//! 486 already connected) → SDP negotiation (488 when nothing fits; an unsupported video stream
//! gets port 0) → `leg_up` → 200 whose SDP points at the meeting's RTP address → ACK.
//! 503 with `Retry-After` when the server or meeting is full, or a source has too many
//! requests in flight. The [test call number](ServiceConfig::test_call_number) is answered
//! with an echo instead of a meeting.
//!
//! # Dial-out
//!
//! [`SipDialer`] is the meetings' [`dais_net::meeting::Dialer`]: `dial` INVITEs the venue's
//! registered contact (from our registrar) or its configured URI, and reports ringing, busy,
//! failed, or answered (`leg_up`). `hang_up` sends BYE, or CANCEL when unanswered. A meeting
//! that ends makes every one of its calls get a BYE, whatever dialer the meeting has.
#![warn(missing_docs)]

mod admission;
mod auth;
mod calls;
pub mod config;
pub mod directory;
pub mod echo;
pub mod error;
pub mod limits;
pub mod media;
pub mod registrar;
mod service;

pub use config::ServiceConfig;
pub use directory::{BoxFuture, Directory, VenueCredentials};
pub use error::{DialError, ServiceError};
pub use service::{ServiceStats, SipDialer, SipService};
