//! The Dais media engine: sources, feeds, keyframe-gated switching, rewriting, fan-out (sans-IO).
//!
//! # Contract
//!
//! One [`Engine`] holds one meeting's media state and is owned by one task: every method takes
//! `&mut self`, there are no locks, no clock reads, no sockets. Time comes in as `now`
//! parameters; outputs come out as values: [`Routed`] decisions, [`Transmit`]s, [`MediaEvent`]s
//! and a deadline.
//!
//! - A **leg** is one venue's media session, identified by its address (`LegConfig::rtp_addr`,
//!   and `rtcp_addr` without rtcp-mux). Its uplink streams are **sources**.
//! - A **feed** is one distinct picture (or sound) that receivers watch. It owns one output SSRC
//!   and its own sequence/timestamp space, and shows one source at a time. Receivers
//!   **subscribe** to feeds, so one rewritten packet serves all of them: fan-out is only sends.
//! - **Switching** a video feed asks the new source for a keyframe (RTCP PLI+FIR or, per leg, a
//!   SIP INFO the shell sends), keeps showing the old source, and cuts over on the new source's
//!   first keyframe packet with continuous sequence numbers and wall-clock-continuous timestamps.
//! - **Audio** is switched through feeds like video, unless the shell mixes it: a leg set to
//!   [`AudioRoute::Mixed`] ([`Engine::set_audio_route`]) has its audio and telephone-event
//!   packets checked (address, header, SSRC probation), counted and answered with
//!   [`Routed::Audio`], for the shell to hand to its mixer.
//!
//! # Run loop (the shell's side)
//!
//! ```no_run
//! # use dais_media::*;
//! # use std::time::Instant;
//! # fn recv() -> (std::net::SocketAddr, Vec<u8>) { unimplemented!() }
//! # fn send(_: u8, _: &[std::net::SocketAddr], _: &[u8]) {}
//! let mut engine = Engine::new(EngineConfig::default());
//! loop {
//!     let (from, mut buf) = recv(); // or a timer expiry at engine.poll_timeout()
//!     let now = Instant::now();
//!     if let Routed::Forward(forwards) = engine.handle_datagram(now, from, &buf) {
//!         for fwd in forwards.iter() {
//!             apply(&fwd, &mut buf); // SSRC, sequence, timestamp, marker: once per feed
//!             for group in fwd.groups {
//!                 group.apply(&fwd.rewrite, &mut buf); // payload type (and a moved receiver's numbering)
//!                 send(group.payload_type(), group.destinations(), &buf); // sendmmsg
//!             }
//!         }
//!     }
//!     engine.handle_timeout(now);
//!     while let Some(_t) = engine.poll_transmit() { /* send t.contents from t.socket */ }
//!     while let Some(_e) = engine.poll_event() { /* to the conference / SIP INFO */ }
//! }
//! ```
//!
//! # Cost
//!
//! Per packet: one address lookup, a 12-byte header parse, keyframe detection on video, and
//! work proportional to the feeds that show or wait for this source (a precomputed index), each
//! a few integer operations plus a copy into the feed's retransmission ring. No heap allocation
//! in steady state. Timers live in a heap; nothing scans all legs or feeds.
#![warn(missing_docs)]

mod cache;
mod engine;
mod error;
mod events;
mod routed;
mod rtcp;
mod switching;
mod timers;
mod types;

pub use engine::{Engine, FeedInfo};
pub use error::{DropCounts, DropReason, MediaError};
pub use events::{EngineStats, KeyframeVia, LegStats, MediaEvent, SourceQuality};
pub use routed::{DestGroup, Forward, Forwards, LocalSocket, Routed, Translation, Transmit, apply};
pub use switching::Rewrite;
pub use types::{
    AudioParams, AudioRoute, EngineConfig, FeedId, KeyframeRequestMode, LegConfig, LegId,
    MediaKind, VideoParams,
};

pub use dais_rtp::{Ssrc, VideoCodec};
