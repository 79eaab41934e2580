//! Errors (the caller's fault) and drop reasons (the peer's fault, or policy).

use std::net::SocketAddr;

use crate::types::{FeedId, LegId, MediaKind};

/// A refused command. Every variant is the caller's fault: peers cannot cause these (their
/// misbehaviour is a [`DropReason`]), and the engine has no internal failure mode to report.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MediaError {
    /// No leg with this id.
    #[error("unknown leg {0:?}")]
    UnknownLeg(LegId),
    /// No feed with this id.
    #[error("unknown feed {0:?}")]
    UnknownFeed(FeedId),
    /// `add_leg` with an id already in use.
    #[error("leg {0:?} already exists")]
    DuplicateLeg(LegId),
    /// Another leg already uses this address (addresses identify sources).
    #[error("address {addr} is already used by leg {owner:?}")]
    AddressInUse {
        /// The contested address.
        addr: SocketAddr,
        /// The leg that has it.
        owner: LegId,
    },
    /// The leg's RTCP address equals its RTP address: say rtcp-mux with `rtcp_addr: None`.
    #[error("rtcp_addr equals rtp_addr; use None for rtcp-mux")]
    RtcpAddrIsRtpAddr,
    /// The leg did not negotiate this kind of media.
    #[error("leg {leg:?} has no {kind:?} negotiated")]
    KindNotNegotiated {
        /// The leg.
        leg: LegId,
        /// The missing kind.
        kind: MediaKind,
    },
    /// A switch to a leg that does not send media.
    #[error("leg {0:?} does not send media")]
    LegNotSending(LegId),
    /// A subscription for a leg that does not receive media.
    #[error("leg {0:?} does not receive media")]
    LegNotReceiving(LegId),
    /// The leg already has a subscription of this kind (one video and one audio feed per leg).
    #[error("leg {leg:?} already subscribes to {existing:?} for {kind:?}")]
    AlreadySubscribed {
        /// The leg.
        leg: LegId,
        /// The kind.
        kind: MediaKind,
        /// The feed it watches now.
        existing: FeedId,
    },
}

macro_rules! drop_reasons {
    ($($(#[$doc:meta])* $name:ident,)*) => {
        /// Why a datagram was not forwarded. Counted per leg and in totals.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        pub enum DropReason { $($(#[$doc])* $name,)* }

        impl DropReason {
            /// Every reason, in counter order.
            pub const ALL: &'static [DropReason] = &[$(DropReason::$name,)*];
            /// Number of reasons (size of [`DropCounts`]).
            pub const COUNT: usize = Self::ALL.len();
            /// A stable snake_case name, for metrics labels.
            pub fn as_str(self) -> &'static str {
                match self { $(DropReason::$name => stringify!($name),)* }
            }
        }
    };
}

drop_reasons! {
    /// The source address belongs to no leg (stray or spoofed).
    UnknownAddress,
    /// Not RTP or RTCP (STUN, DTLS or garbage).
    NotRtp,
    /// The RTP header did not parse.
    MalformedRtp,
    /// The RTCP compound did not parse.
    MalformedRtcp,
    /// RTP arrived from the leg's RTCP address.
    RtpOnRtcpAddress,
    /// The leg is receive-only.
    LegNotSending,
    /// The payload type matches neither of the leg's negotiated ones.
    UnknownPayloadType,
    /// A new SSRC on an established source, not yet confirmed by enough packets.
    SsrcProbation,
    /// No feed shows this source.
    NotShown,
    /// A feed is switching to this source and waits for its keyframe.
    AwaitingKeyframe,
    /// A reordered packet older than the cut-over point of its feed.
    BeforeCutover,
}

/// A counter per [`DropReason`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DropCounts([u64; DropReason::COUNT]);

impl DropCounts {
    /// Packets dropped for `reason`.
    pub fn get(&self, reason: DropReason) -> u64 {
        self.0[reason as usize]
    }

    /// Packets dropped for any reason.
    pub fn total(&self) -> u64 {
        self.0.iter().sum()
    }

    /// Non-zero counters.
    pub fn iter(&self) -> impl Iterator<Item = (DropReason, u64)> + '_ {
        DropReason::ALL
            .iter()
            .map(|r| (*r, self.get(*r)))
            .filter(|(_, n)| *n > 0)
    }

    pub(crate) fn add(&mut self, reason: DropReason) {
        self.0[reason as usize] += 1;
    }
}
