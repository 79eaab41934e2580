//! What `handle_datagram` returns: decisions that the shell applies to its own buffer.

use std::net::SocketAddr;

use bytes::Bytes;
use dais_rtp::{Ssrc, rewrite_header, set_marker, set_payload_type};

use crate::engine::Feed;
use crate::error::DropReason;
use crate::switching::Rewrite;
use crate::types::{FeedId, LegId};

/// How a receiver that moved between feeds keeps its one stream: its own SSRC, and fixed
/// offsets from the feed's numbering to the numbering it has been seeing (D25).
///
/// A receiver that only ever watched one feed has none: it gets the feed's header as is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Translation {
    /// The SSRC this receiver has known since its first feed.
    pub ssrc: Ssrc,
    /// Added to the feed's sequence number.
    pub seq_delta: u16,
    /// Added to the feed's timestamp.
    pub ts_delta: u32,
}

impl Translation {
    /// The header values this receiver gets for a packet the feed numbered `r`.
    #[inline]
    pub fn map(&self, r: &Rewrite) -> (Ssrc, u16, u32) {
        (
            self.ssrc,
            r.sequence.wrapping_add(self.seq_delta),
            r.timestamp.wrapping_add(self.ts_delta),
        )
    }
}

/// The receivers of one feed that share a payload type and a header: one write of the
/// group's header, then one batched send to all of `destinations`.
///
/// Receivers that never changed feed share one group per payload type; a receiver that moved
/// here from another feed has its own [`Translation`] and so its own group (D25).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestGroup {
    pub(crate) payload_type: u8,
    pub(crate) translation: Option<Translation>,
    pub(crate) destinations: Vec<SocketAddr>,
}

impl DestGroup {
    /// The payload type these receivers negotiated.
    pub fn payload_type(&self) -> u8 {
        self.payload_type
    }

    /// The translation these receivers need, if they moved here from another feed.
    pub fn translation(&self) -> Option<Translation> {
        self.translation
    }

    /// Their RTP addresses.
    pub fn destinations(&self) -> &[SocketAddr] {
        &self.destinations
    }

    /// Writes this group's payload type, SSRC, sequence number and timestamp into a packet
    /// of the forward numbered `rewrite`. Every write is absolute, so groups can be applied
    /// one after the other to the same buffer.
    #[inline]
    pub fn apply(&self, rewrite: &Rewrite, buf: &mut [u8]) {
        set_payload_type(buf, self.payload_type);
        let (ssrc, seq, ts) = match &self.translation {
            Some(t) => t.map(rewrite),
            None => (rewrite.ssrc, rewrite.sequence, rewrite.timestamp),
        };
        rewrite_header(buf, ssrc, seq, ts);
    }
}

/// One feed's share of an incoming packet: the header to write once, and who receives it.
#[derive(Clone, Copy, Debug)]
pub struct Forward<'a> {
    /// The feed.
    pub feed: FeedId,
    /// Header values to write (SSRC, sequence, timestamp, marker).
    pub rewrite: Rewrite,
    /// Receivers, grouped by payload type. Empty when only the tap wants the packet.
    pub groups: &'a [DestGroup],
    /// The feed's recording tap wants a copy.
    pub tap: bool,
}

impl Forward<'_> {
    /// Number of sends this forward costs.
    pub fn destination_count(&self) -> usize {
        self.groups.iter().map(|g| g.destinations.len()).sum()
    }
}

/// Rewrites SSRC, sequence number, timestamp and marker in place: the feed's header, as the
/// recording tap and the retransmission cache keep it. Payload types and receivers' own
/// numbering are per group: call [`DestGroup::apply`] before each group's send. Applying several forwards of the
/// same packet one after the other is fine: every write is absolute.
#[inline]
pub fn apply(forward: &Forward<'_>, buf: &mut [u8]) {
    let r = &forward.rewrite;
    rewrite_header(buf, r.ssrc, r.sequence, r.timestamp);
    set_marker(buf, r.marker);
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct ForwardItem {
    pub(crate) feed: FeedId,
    pub(crate) rewrite: Rewrite,
}

/// The forwards of one packet, borrowed from the engine until the next call.
#[derive(Clone, Copy)]
pub struct Forwards<'a> {
    pub(crate) items: &'a [ForwardItem],
    pub(crate) feeds: &'a [Option<Feed>],
}

impl std::fmt::Debug for Forwards<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

impl<'a> Forwards<'a> {
    /// Number of feeds the packet goes to.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// Never true for a [`Routed::Forward`] (an empty list is reported as a drop).
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// The i-th forward.
    pub fn get(&self, i: usize) -> Option<Forward<'a>> {
        let item = self.items.get(i)?;
        let feed = self.feeds.get(item.feed.0 as usize)?.as_ref()?;
        Some(Forward {
            feed: item.feed,
            rewrite: item.rewrite,
            groups: &feed.groups,
            tap: feed.tap,
        })
    }

    /// All forwards.
    pub fn iter(&self) -> impl Iterator<Item = Forward<'a>> + '_ {
        (0..self.items.len()).filter_map(|i| self.get(i))
    }
}

/// The engine's verdict on one datagram.
#[derive(Debug)]
pub enum Routed<'a> {
    /// Forward to these feeds' receivers (apply each with [`apply`] and [`DestGroup::apply`]).
    Forward(Forwards<'a>),
    /// RTCP (or similar) that the engine terminated; its answers come from `poll_transmit`.
    Consumed,
    /// Audio (or an RFC 4733 telephone-event) of a leg whose audio is mixed
    /// ([`AudioRoute::Mixed`](crate::AudioRoute::Mixed)): the address was validated, the RTP
    /// header parsed, the SSRC checked and the packet counted; hand the datagram to the mixer
    /// as this leg's.
    Audio {
        /// The leg it came from.
        leg: LegId,
    },
    /// Not forwarded, and why.
    Dropped(DropReason),
}

/// The local socket a generated packet leaves from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LocalSocket {
    /// The meeting's RTP port.
    Rtp,
    /// The meeting's RTCP port (RTP port + 1), for legs without rtcp-mux.
    Rtcp,
}

/// A packet generated by the engine (RTCP, retransmission), owned.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Transmit {
    /// Which of the meeting's sockets sends it.
    pub socket: LocalSocket,
    /// Where to.
    pub destination: SocketAddr,
    /// The datagram.
    pub contents: Bytes,
}
