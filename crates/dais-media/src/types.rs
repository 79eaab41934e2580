//! Identifiers and validated configuration.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use dais_rtp::VideoCodec;

/// A call leg (one venue's media session), named by the caller.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct LegId(pub u32);

impl fmt::Debug for LegId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LegId({})", self.0)
    }
}

/// A feed: one distinct picture (or sound) that receivers watch, allocated by the engine.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct FeedId(pub u32);

impl fmt::Debug for FeedId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FeedId({})", self.0)
    }
}

/// Audio or video.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum MediaKind {
    /// Audio (no keyframe gating).
    Audio,
    /// Video (cut-over gated on keyframes).
    Video,
}

impl MediaKind {
    pub(crate) fn index(self) -> usize {
        match self {
            MediaKind::Audio => 0,
            MediaKind::Video => 1,
        }
    }
}

/// How a venue wants to be asked for a keyframe.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyframeRequestMode {
    /// RTCP PLI and FIR (RFC 4585 §6.3.1, RFC 5104 §4.3.1), built and sent by the engine.
    Rtcp,
    /// SIP INFO `picture_fast_update` (RFC 5168): the engine emits
    /// [`MediaEvent::KeyframeRequested`](crate::MediaEvent::KeyframeRequested) and the shell sends it.
    SipInfo,
    /// Both of the above (many hardware endpoints honour only one of them, unpredictably).
    Both,
}

/// Negotiated video parameters of a leg.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VideoParams {
    /// RTP payload type this leg uses for video (in both directions).
    pub payload_type: u8,
    /// Video codec (for keyframe detection).
    pub codec: VideoCodec,
    /// RTP clock rate, normally 90 000.
    pub clock_rate: u32,
    /// How to ask this leg for a keyframe.
    pub keyframe_request: KeyframeRequestMode,
}

/// Negotiated audio parameters of a leg.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AudioParams {
    /// RTP payload type this leg uses for audio.
    pub payload_type: u8,
    /// RTP clock rate (8 000 for G.711, 48 000 for Opus).
    pub clock_rate: u32,
}

/// Where a leg's uplink audio goes.
///
/// The engine switches audio like video by default: feeds show one venue's sound. A meeting
/// with an audio mixer in its shell hands the audio of the legs it can decode to the mixer
/// instead ([`Engine::set_audio_route`](crate::Engine::set_audio_route)).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum AudioRoute {
    /// Feeds may show the leg's audio (the model for codecs the mixer does not decode).
    #[default]
    Feeds,
    /// The leg's audio goes to the shell's mixer: `handle_datagram` returns
    /// [`Routed::Audio`](crate::Routed::Audio) for its audio payload type and for
    /// `telephone_event`, after the address, header and SSRC checks. Feeds never get it.
    Mixed {
        /// The RFC 4733 telephone-event payload type the leg negotiated, if any.
        telephone_event: Option<u8>,
    },
}

/// One leg's media configuration (from its negotiated SDP).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LegConfig {
    /// Where the venue sends RTP from and receives it on.
    pub rtp_addr: SocketAddr,
    /// The venue's RTCP address; `None` means rtcp-mux (RTCP shares `rtp_addr`).
    pub rtcp_addr: Option<SocketAddr>,
    /// Video, if negotiated.
    pub video: Option<VideoParams>,
    /// Audio, if negotiated.
    pub audio: Option<AudioParams>,
    /// The venue sends media to us (its uplink is a source).
    pub send: bool,
    /// The venue receives media from us (it may subscribe to feeds).
    pub recv: bool,
}

impl LegConfig {
    /// Where RTCP for this leg goes.
    pub fn rtcp_destination(&self) -> SocketAddr {
        self.rtcp_addr.unwrap_or(self.rtp_addr)
    }

    pub(crate) fn payload_type(&self, kind: MediaKind) -> Option<u8> {
        match kind {
            MediaKind::Audio => self.audio.map(|a| a.payload_type),
            MediaKind::Video => self.video.map(|v| v.payload_type),
        }
    }

    pub(crate) fn clock_rate(&self, kind: MediaKind) -> Option<u32> {
        match kind {
            MediaKind::Audio => self.audio.map(|a| a.clock_rate),
            MediaKind::Video => self.video.map(|v| v.clock_rate),
        }
    }

    pub(crate) fn kind_of_payload_type(&self, pt: u8) -> Option<MediaKind> {
        if self.video.is_some_and(|v| v.payload_type == pt) {
            Some(MediaKind::Video)
        } else if self.audio.is_some_and(|a| a.payload_type == pt) {
            Some(MediaKind::Audio)
        } else {
            None
        }
    }
}

/// Engine-wide tuning. `Default` gives values suited to hardware SIP endpoints.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EngineConfig {
    /// How often a pending switch repeats its keyframe request.
    pub keyframe_retry: Duration,
    /// After this long without a keyframe, a pending switch cuts over anyway (`forced: true`).
    pub switch_timeout: Duration,
    /// A source that sends nothing for this long raises [`MediaEvent::SourceNoMedia`](crate::MediaEvent::SourceNoMedia).
    pub no_media_after: Duration,
    /// A video source whose last keyframe is older than this raises
    /// [`MediaEvent::SourceFrozen`](crate::MediaEvent::SourceFrozen).
    pub frozen_after: Duration,
    /// Period of sender reports (per feed) and receiver reports (per source).
    pub rtcp_interval: Duration,
    /// Receivers' keyframe requests reach a source at most once per this interval.
    pub pli_min_interval: Duration,
    /// Rewritten packets kept per video feed to answer NACKs (0 disables retransmission).
    pub nack_cache: usize,
    /// Seed for output SSRCs, so tests and replays are deterministic.
    pub ssrc_seed: u64,
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            keyframe_retry: Duration::from_millis(250),
            switch_timeout: Duration::from_secs(2),
            no_media_after: Duration::from_secs(3),
            frozen_after: Duration::from_secs(10),
            rtcp_interval: Duration::from_secs(1),
            pli_min_interval: Duration::from_millis(500),
            nack_cache: 512,
            ssrc_seed: 0x0da1_5eed,
        }
    }
}
