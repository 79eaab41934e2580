//! The Dais audio MCU: G.711 (and Opus with the `opus` feature) decode, adaptive jitter
//! buffers, mix-minus, encode, audio levels, voice activity and the dominant speaker (sans-IO).
//!
//! # Contract
//!
//! One [`Mixer`] holds one meeting's audio and is owned by one task: every method takes
//! `&mut self`; no locks, no clock reads, no sockets. Time comes in as `now`; packets and events
//! come out of `poll_*` methods as values.
//!
//! - A **venue** ([`VenueId`]) has a *source* (its uplink, [`Mixer::add_source`]) and usually a
//!   *receiver* (its downlink, [`Mixer::add_receiver`]) with the same id.
//! - Each frame (20 ms by default) every source's jitter buffer plays one frame; the **main
//!   venue** ([`Mixer::set_main`]) and the `max_mixed` loudest other unmuted venues are mixed at
//!   16 kHz. Every receiver hears that mix **minus its own voice**: a venue outside the mix hears
//!   the full mix, a mixed venue hears its own mix-minus, a blocked venue hears silence. So at
//!   most `max_mixed + 3` distinct signals exist per frame whatever the meeting's size, and each
//!   is encoded once per codec and shared by every receiver that hears it.
//! - [`MixerEvent`]s: the dominant speaker (hold time + hysteresis), DTMF (RFC 4733) and
//!   periodic per-venue levels (RFC 6464 scale).
//!
//! # Run loop (the shell's side)
//!
//! ```
//! # use dais_audio::*;
//! # use std::time::{Duration, Instant};
//! let mut mixer = Mixer::new(MixerConfig::default()).unwrap();
//! mixer.add_source(VenueId(1), Codec::Pcmu, 0, 8000).unwrap();
//! mixer.add_receiver(VenueId(1), Codec::Pcmu, 0, Duration::from_millis(20)).unwrap();
//! let now = Instant::now();
//! # let packet = [0x80u8, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1, 0xff];
//! // On every datagram of venue 1's audio:
//! let _ = mixer.handle_rtp(now, VenueId(1), &packet); // Err(reason) is counted, not fatal
//! // When the timer fires (or right away if poll_timeout() is already past):
//! mixer.handle_timeout(now);
//! let mut buf = [0u8; 1500];
//! while let Some((venue, pkt)) = mixer.poll_output() {
//!     let len = pkt.write_rtp(&mut buf).unwrap();
//!     // send buf[..len] to `venue`
//! #   let _ = (venue, len);
//! }
//! while let Some(_event) = mixer.poll_event() { /* to the conference */ }
//! let _next = mixer.poll_timeout(); // sleep until then
//! ```
//!
//! # Cost
//!
//! Per packet: a header parse and a table decode into the jitter ring; no allocation. Per frame:
//! one pull and level per source, 2:1 polyphase interpolation for the mixed venues only, one
//! decimation + limiter per distinct signal, one G.711 encode per distinct signal and codec, and
//! one queue entry per receiver (payloads are borrowed, not copied, for receivers whose packet
//! time is the frame). No allocation in steady state.
//!
//! # Rate
//!
//! Mixing runs at 16 kHz: wideband speech (what Opus and G.722 venues send) with a third of
//! 48 kHz's work per mixed sample, and an exact 2:1 ratio to G.711's 8 kHz.
//!
//! # Opus (cargo feature `opus`)
//!
//! With the feature, [`Codec::Opus`] venues are decoded and encoded by libopus at 16 kHz (RTP
//! clock 48 kHz, RFC 7587): no resampling, loss concealed by the decoder itself, and one
//! encoder per distinct mix shared by the Opus receivers that hear it. Without it, Opus venues
//! are refused with [`MixerError::CodecNotBuilt`].
//!
//! An Opus venue that cannot be heard (outside the mix for 5 frames, not the main venue) is
//! *parked*: its packets are kept undecoded and it is metered from its RFC 6464 levels (or a
//! probe decode every 8 frames without them); picked by the selection, it is decoded again and
//! mixed from the next frame. See [`MixerConfig::skip_unheard_opus`].
#![warn(missing_docs)]

mod dtmf;
mod error;
pub mod g711;
mod jitter;
mod level;
mod mixer;
mod opus_codec;
mod resample;
mod signal;
mod types;

pub use error::{DropCounts, DropReason, MixerError};
pub use mixer::{Mixer, decode, encode};
pub use types::{
    Codec, MixerConfig, MixerEvent, MixerStats, OutPacket, ReceiverId, SourceStats, VenueId,
};

pub use dais_rtp::Ssrc;

/// The libopus bindings this crate uses (for tests and tools that need a reference Opus
/// encoder or decoder next to the mixer).
#[cfg(feature = "opus")]
pub use opus;
