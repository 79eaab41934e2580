//! Events drained with `Engine::poll_event`, and statistics.

use std::time::Duration;

use dais_rtp::Ssrc;

use crate::error::DropCounts;
use crate::types::{FeedId, LegId, MediaKind};

/// How a keyframe was asked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyframeVia {
    /// RTCP PLI and FIR, already queued in `poll_transmit`.
    Rtcp,
    /// The shell must send a SIP INFO `picture_fast_update` (RFC 5168) on the leg's dialog.
    SipInfo,
}

/// Something the owner (conference, operator surface, shell) should know or act upon.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum MediaEvent {
    /// A switch was accepted; `to: None` means the feed goes idle at once.
    SwitchRequested {
        /// The feed.
        feed: FeedId,
        /// The requested source.
        to: Option<LegId>,
    },
    /// A feed cut over to a new source.
    SwitchCompleted {
        /// The feed.
        feed: FeedId,
        /// Its new source.
        to: LegId,
        /// From the request to the cut-over packet.
        latency: Duration,
        /// True if no keyframe came before the switch timeout and the feed cut over anyway.
        forced: bool,
    },
    /// A pending switch lost its target (the leg was removed or stopped sending).
    SwitchAbandoned {
        /// The feed.
        feed: FeedId,
        /// The lost target.
        to: LegId,
    },
    /// A feed lost the source it showed and shows nothing now.
    FeedIdle {
        /// The feed.
        feed: FeedId,
        /// The source that went away.
        lost: LegId,
    },
    /// A keyframe was requested from a leg.
    KeyframeRequested {
        /// The leg asked.
        leg: LegId,
        /// How.
        via: KeyframeVia,
    },
    /// A source sent nothing for `no_media_after` (or never sent anything).
    SourceNoMedia {
        /// The leg.
        leg: LegId,
        /// Which of its streams.
        kind: MediaKind,
    },
    /// A source that had no media sends again.
    SourceResumed {
        /// The leg.
        leg: LegId,
        /// Which of its streams.
        kind: MediaKind,
    },
    /// A video source sends, but no keyframe for `frozen_after`: receivers may see a frozen picture.
    SourceFrozen {
        /// The leg.
        leg: LegId,
    },
    /// A frozen video source sent a keyframe again.
    SourceThawed {
        /// The leg.
        leg: LegId,
    },
    /// A source changed SSRC (after probation); feeds showing it wait for its next keyframe.
    SsrcChanged {
        /// The leg.
        leg: LegId,
        /// Which of its streams.
        kind: MediaKind,
        /// Previous SSRC.
        old: Ssrc,
        /// New SSRC.
        new: Ssrc,
    },
    /// A source restarted its sequence numbers under the same SSRC; feeds re-synced.
    SequenceRestarted {
        /// The leg.
        leg: LegId,
        /// Which of its streams.
        kind: MediaKind,
    },
}

/// Engine-wide counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct EngineStats {
    /// Datagrams handed to `handle_datagram`.
    pub datagrams: u64,
    /// RTP packets forwarded, counted once per feed.
    pub forwarded: u64,
    /// RTP audio packets handed to the mixer ([`Routed::Audio`](crate::Routed::Audio)).
    pub to_mixer: u64,
    /// Sends those forwards cost (packets × destinations).
    pub sends: u64,
    /// RTCP compounds terminated.
    pub rtcp_received: u64,
    /// Dropped datagrams by reason.
    pub dropped: DropCounts,
    /// Completed switches (including forced).
    pub switches: u64,
    /// Switches that timed out waiting for a keyframe.
    pub forced_switches: u64,
    /// Keyframe requests sent to sources (PLI+FIR or SIP INFO count as one).
    pub keyframe_requests: u64,
    /// Receivers' PLI/FIR absorbed by coalescing.
    pub keyframe_requests_coalesced: u64,
    /// Packets retransmitted from the NACK cache.
    pub retransmitted: u64,
    /// NACKed packets no longer (or never) in the cache.
    pub retransmit_misses: u64,
}

/// One leg's counters.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct LegStats {
    /// RTP packets received from the leg.
    pub rtp_received: u64,
    /// RTP bytes received from the leg.
    pub rtp_bytes: u64,
    /// RTCP compounds received from the leg.
    pub rtcp_received: u64,
    /// Dropped datagrams from this leg, by reason.
    pub dropped: DropCounts,
    /// Keyframe requests sent to this leg.
    pub keyframe_requests: u64,
    /// Round-trip time to the leg, microseconds, from its last receiver report on a video
    /// feed it watches (LSR/DLSR of our sender report, RFC 3550 §6.4.1); `None` before one.
    pub rtt_us: Option<u64>,
    /// The fraction of our packets the leg lost, in 1/256, from that same report: how well
    /// it receives what the meeting sends it.
    pub downlink_fraction_lost: u8,
}

/// Reception quality of one leg's uplink of one kind (RFC 3550 A.3 and A.8), for operators.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
#[non_exhaustive]
pub struct SourceQuality {
    /// Cumulative packets lost (negative when duplicates outnumber losses).
    pub lost: i64,
    /// Packets expected from the extended sequence numbers.
    pub expected: u64,
    /// Interarrival jitter, in milliseconds.
    pub jitter_ms: f64,
    /// Receive bitrate over the statistics window, bits per second.
    pub bitrate: u64,
    /// Packets per second over the window.
    pub packet_rate: f64,
}
