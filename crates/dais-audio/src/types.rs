//! Identifiers, codecs, configuration, output packets and events.

use std::fmt;
use std::time::Duration;

use dais_rtp::Ssrc;

use crate::error::MixerError;

/// A venue, named by the caller. A venue's source (what it sends) and receiver (what it hears)
/// share the id: that link is what mix-minus uses to keep a venue's own voice out of its mix.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct VenueId(pub u32);

impl fmt::Debug for VenueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VenueId({})", self.0)
    }
}

/// The receiving side of a venue (same id space as sources).
pub type ReceiverId = VenueId;

/// An audio codec the mixer decodes and encodes.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Codec {
    /// G.711 μ-law (static payload type 0), 8 kHz.
    Pcmu,
    /// G.711 A-law (static payload type 8), 8 kHz.
    Pcma,
    /// Opus (RFC 7587, dynamic payload type, RTP clock 48 kHz), mono. Needs the crate's `opus`
    /// feature (libopus); without it [`Mixer::add_source`](crate::Mixer::add_source) and
    /// [`Mixer::add_receiver`](crate::Mixer::add_receiver) refuse it with
    /// [`MixerError::CodecNotBuilt`].
    Opus,
}

impl Codec {
    /// The codec's RTP clock rate (8000 for G.711, 48000 for Opus whatever it carries).
    pub fn clock_rate(self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma => 8000,
            Codec::Opus => 48000,
        }
    }

    /// Whether this build can decode and encode the codec (Opus needs the `opus` feature).
    pub fn is_available(self) -> bool {
        match self {
            Codec::Pcmu | Codec::Pcma => true,
            Codec::Opus => cfg!(feature = "opus"),
        }
    }

    /// The rate the mixer decodes this codec's samples at: 8 kHz for G.711, the 16 kHz mixing
    /// rate for Opus (libopus decodes and encodes at 16 kHz itself).
    pub(crate) fn pcm_rate(self) -> u32 {
        match self {
            Codec::Pcmu | Codec::Pcma => 8000,
            Codec::Opus => 16000,
        }
    }

    pub(crate) fn index(self) -> usize {
        match self {
            Codec::Pcmu => 0,
            Codec::Pcma => 1,
            Codec::Opus => 2,
        }
    }

    pub(crate) const COUNT: usize = 3;
}

/// Mixer settings. [`Default`] gives the values documented on each field.
#[derive(Clone, Debug, PartialEq)]
pub struct MixerConfig {
    /// Mixing frame: one [`Mixer::handle_timeout`](crate::Mixer::handle_timeout) tick mixes
    /// this much audio. 10, 20, 30, 40 or 60 ms; default 20 ms (the usual G.711 packet time).
    pub frame: Duration,
    /// How many of the loudest venues are mixed, besides the main venue. Default 3.
    pub max_mixed: usize,
    /// Jitter buffer delay bounds. Defaults 20 ms and 300 ms.
    pub jitter_min: Duration,
    /// Upper bound of the jitter buffer delay.
    pub jitter_max: Duration,
    /// How long a lost stream is concealed (last frame repeated, fading out) before silence.
    /// Default 60 ms.
    pub conceal: Duration,
    /// A challenger must be louder for this long before it becomes the dominant speaker.
    /// Default 1 s.
    pub dominant_hold: Duration,
    /// …and louder by this many dB (hysteresis: equal venues never take over). Default 3 dB.
    pub dominant_hysteresis_db: f32,
    /// Interval of [`MixerEvent::LevelReport`]s. Default 500 ms.
    pub level_interval: Duration,
    /// Venues quieter than this (in -dBov, RFC 6464 scale) are not worth a mix slot. Default 70.
    pub mix_floor: u8,
    /// Seed for output SSRCs and initial sequence numbers and timestamps (randomness is an
    /// input, so tests are reproducible).
    pub seed: u64,
    /// Stop decoding Opus venues that cannot be heard (outside the mix for 5 frames, and not
    /// the main venue), metering them from their RFC 6464 levels or, without those, from a
    /// probe decode every 8 frames. A venue the selection picks is decoded from the next frame
    /// on (heard one frame later than without this). Default on; off decodes every Opus
    /// venue every frame (the figures in `docs/benchmarks.md` compare both).
    pub skip_unheard_opus: bool,
}

impl Default for MixerConfig {
    fn default() -> Self {
        MixerConfig {
            frame: Duration::from_millis(20),
            max_mixed: 3,
            jitter_min: Duration::from_millis(20),
            jitter_max: Duration::from_millis(300),
            conceal: Duration::from_millis(60),
            dominant_hold: Duration::from_secs(1),
            dominant_hysteresis_db: 3.0,
            level_interval: Duration::from_millis(500),
            mix_floor: 70,
            seed: 0x5eed_da15,
            skip_unheard_opus: true,
        }
    }
}

impl MixerConfig {
    pub(crate) fn validate(&self) -> Result<(), MixerError> {
        let ms = self.frame.as_millis();
        if !matches!(ms, 10 | 20 | 30 | 40 | 60)
            || !self.frame.subsec_nanos().is_multiple_of(1_000_000)
        {
            return Err(MixerError::InvalidConfig(
                "frame must be 10, 20, 30, 40 or 60 ms",
            ));
        }
        if self.jitter_min > self.jitter_max || self.jitter_max > Duration::from_millis(400) {
            return Err(MixerError::InvalidConfig(
                "jitter_min <= jitter_max <= 400 ms",
            ));
        }
        if self.max_mixed == 0 || self.max_mixed > 32 {
            return Err(MixerError::InvalidConfig("max_mixed must be 1..=32"));
        }
        if !self.dominant_hysteresis_db.is_finite() || self.dominant_hysteresis_db < 0.0 {
            return Err(MixerError::InvalidConfig(
                "dominant_hysteresis_db must be >= 0",
            ));
        }
        if self.level_interval.is_zero() {
            return Err(MixerError::InvalidConfig("level_interval must be > 0"));
        }
        Ok(())
    }
}

/// One RTP packet for a receiver: the payload (shared by every receiver of the same mix, codec
/// and packet time) and the receiver's own header fields.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OutPacket<'a> {
    /// Encoded audio.
    pub payload: &'a [u8],
    /// The receiver's negotiated payload type.
    pub payload_type: u8,
    /// The receiver's output SSRC (constant for the receiver's lifetime).
    pub ssrc: Ssrc,
    /// Continuous per receiver.
    pub sequence: u16,
    /// Advances by the packet time in the codec's clock.
    pub timestamp: u32,
    /// Set on the receiver's first packet (the start of its talkspurt, RFC 3551 §4.1).
    pub marker: bool,
}

impl OutPacket<'_> {
    /// Writes the 12-byte RTP header and the payload into `out`; returns the length, or `None`
    /// if `out` is too short.
    pub fn write_rtp(&self, out: &mut [u8]) -> Option<usize> {
        let len = 12 + self.payload.len();
        let dst = out.get_mut(..len)?;
        dst[0] = 0x80;
        dst[1] = (self.payload_type & 0x7f) | if self.marker { 0x80 } else { 0 };
        dst[2..4].copy_from_slice(&self.sequence.to_be_bytes());
        dst[4..8].copy_from_slice(&self.timestamp.to_be_bytes());
        dst[8..12].copy_from_slice(&self.ssrc.0.to_be_bytes());
        dst[12..].copy_from_slice(self.payload);
        Some(len)
    }
}

/// Something the owner should know about, drained with [`Mixer::poll_event`](crate::Mixer::poll_event).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MixerEvent {
    /// A new dominant speaker (feed it to `Conference::handle_dominant_speaker`).
    DominantSpeaker {
        /// The venue.
        venue: VenueId,
    },
    /// A DTMF digit (RFC 4733 telephone-event), reported once when it ends (or when the next
    /// event starts and its end packets were all lost).
    Dtmf {
        /// The sending venue.
        venue: VenueId,
        /// The event code (0-9, 10 = `*`, 11 = `#`, 12-15 = A-D, RFC 4733 §3.2).
        event: u8,
        /// How long the key was held.
        duration: Duration,
    },
    /// A venue's audio level, every [`MixerConfig::level_interval`].
    LevelReport {
        /// The venue.
        venue: VenueId,
        /// Smoothed level in -dBov (0 loudest, 127 silence), the RFC 6464 scale.
        level: u8,
        /// Voice activity.
        voice: bool,
        /// Whether the venue is in the mix now.
        mixed: bool,
    },
}

/// Counters of one source.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SourceStats {
    /// Audio packets accepted into the jitter buffer.
    pub accepted: u64,
    /// Frames played from received audio.
    pub played: u64,
    /// Frames (partly) concealed by repetition.
    pub concealed: u64,
    /// Frames of silence because nothing (or nothing recent) arrived.
    pub silent: u64,
    /// Frames skipped to shrink the buffer.
    pub skipped: u64,
    /// Frames held (concealed without advancing) to grow the buffer.
    pub held: u64,
    /// Current jitter buffer target delay.
    pub target_delay: std::time::Duration,
    /// Audio made up by the Opus decoder for lost packets (its own concealment, or in-band FEC
    /// from the next packet). Always zero for G.711 sources.
    pub decoder_concealed: std::time::Duration,
    /// Dropped packets by reason.
    pub drops: crate::error::DropCounts,
    /// Opus packets run through the decoder (on arrival, when woken, in probes; not counting
    /// the decoder's loss concealment). Zero for G.711.
    pub opus_decodes: u64,
    /// Opus packets accepted while the source was parked (kept undecoded).
    pub opus_parked: u64,
    /// Whether the Opus source is parked now (outside the mix, not decoded).
    pub opus_is_parked: bool,
}

/// Mixer-wide counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MixerStats {
    /// Frames mixed.
    pub ticks: u64,
    /// Payload encodes (one per distinct mix × codec per frame: the sharing figure).
    pub encodes: u64,
    /// Packets queued for receivers.
    pub packets_out: u64,
    /// Packets discarded because the owner did not drain them before the next tick.
    pub packets_discarded: u64,
    /// Ticks skipped because `handle_timeout` came too late to catch up.
    pub ticks_skipped: u64,
    /// Opus packets decoded, all sources (see [`SourceStats::opus_decodes`]).
    pub opus_decodes: u64,
    /// Opus packets kept undecoded by parked sources (see
    /// [`MixerConfig::skip_unheard_opus`]).
    pub opus_parked: u64,
    /// Parked Opus sources that started decoding again.
    pub opus_wakes: u64,
    /// Probe decodes of parked Opus sources without RFC 6464 levels.
    pub opus_probes: u64,
}
