//! RTCP (RFC 3550 §6, RFC 4585, RFC 5104, REMB draft, transport-wide CC draft): decoding of
//! compound packets into [`RtcpPacket`] values and builders for the packets Dais sends.
//!
//! Decoding walks the compound framing itself (so one bad length can never make a sub-parser read
//! a neighbour's bytes), then decodes each packet: SR, RR, SDES, generic NACK, PLI and FIR
//! through the `rtcp` crate (rtc-rtcp), BYE, APP, REMB and transport-wide CC by hand (see
//! `docs/notes/dais-rtp.md` for why).

mod build;
mod parse;

use bytes::Bytes;

use crate::header::Ssrc;

pub use build::{
    build_bye, build_fir, build_nack, build_pli, build_receiver_report, build_remb,
    build_sdes_cname, build_sender_report, compound, nack_pairs,
};
pub use parse::parse_compound;

/// RTCP packet type values (RFC 3550 §12.1, RFC 4585 §6.1).
pub mod packet_type {
    /// Sender report.
    pub const SR: u8 = 200;
    /// Receiver report.
    pub const RR: u8 = 201;
    /// Source description.
    pub const SDES: u8 = 202;
    /// Goodbye.
    pub const BYE: u8 = 203;
    /// Application-defined.
    pub const APP: u8 = 204;
    /// Transport-layer feedback (RFC 4585): NACK (FMT 1), transport-wide CC (FMT 15).
    pub const RTPFB: u8 = 205;
    /// Payload-specific feedback (RFC 4585): PLI (FMT 1), FIR (FMT 4), REMB (FMT 15).
    pub const PSFB: u8 = 206;
    /// Extended report (RFC 3611).
    pub const XR: u8 = 207;
}

/// One reception report block (RFC 3550 §6.4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReportBlock {
    /// The source this block reports on.
    pub ssrc: Ssrc,
    /// Fraction of packets lost since the previous report, in 1/256.
    pub fraction_lost: u8,
    /// Cumulative packets lost (24-bit signed on the wire: duplicates can make it negative).
    pub cumulative_lost: i32,
    /// Extended highest sequence number received (cycles in the upper 16 bits).
    pub extended_highest_seq: u32,
    /// Interarrival jitter, in RTP timestamp units.
    pub jitter: u32,
    /// LSR: middle 32 bits of the NTP timestamp of the last SR received from the source (0: none).
    pub last_sr: u32,
    /// DLSR: delay since that SR was received, in 1/65536 s.
    pub delay_since_last_sr: u32,
}

/// A sender report (RFC 3550 §6.4.1).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SenderReport {
    /// The sender.
    pub ssrc: Ssrc,
    /// 64-bit NTP timestamp of the report (seconds since 1900 in the upper 32 bits).
    pub ntp_time: u64,
    /// The RTP timestamp corresponding to `ntp_time`.
    pub rtp_time: u32,
    /// Packets sent since the start of transmission (wraps).
    pub packet_count: u32,
    /// Payload octets sent since the start of transmission (wraps).
    pub octet_count: u32,
    /// Reception report blocks.
    pub reports: Vec<ReportBlock>,
}

/// A receiver report (RFC 3550 §6.4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReceiverReport {
    /// The reporter.
    pub ssrc: Ssrc,
    /// Reception report blocks.
    pub reports: Vec<ReportBlock>,
}

/// One SDES chunk (RFC 3550 §6.5): the items describing one source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SdesChunk {
    /// The source described.
    pub ssrc: Ssrc,
    /// `(item type, text)`: 1 CNAME, 2 NAME, 3 EMAIL, ... 8 PRIV.
    pub items: Vec<(u8, Bytes)>,
}

impl SdesChunk {
    /// The CNAME item, if present.
    pub fn cname(&self) -> Option<&Bytes> {
        self.items.iter().find(|(t, _)| *t == 1).map(|(_, v)| v)
    }
}

/// A decoded RTCP packet (one element of a compound packet).
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RtcpPacket {
    /// SR (PT 200).
    SenderReport(SenderReport),
    /// RR (PT 201).
    ReceiverReport(ReceiverReport),
    /// SDES (PT 202).
    Sdes(Vec<SdesChunk>),
    /// BYE (PT 203).
    Bye {
        /// Sources leaving.
        ssrcs: Vec<Ssrc>,
        /// Optional reason text.
        reason: Option<Bytes>,
    },
    /// APP (PT 204, RFC 3550 §6.7).
    App {
        /// The 5-bit subtype.
        subtype: u8,
        /// The sender.
        ssrc: Ssrc,
        /// Four ASCII characters naming the application.
        name: [u8; 4],
        /// Application data.
        data: Bytes,
    },
    /// Generic NACK (RTPFB FMT 1, RFC 4585 §6.2.1), expanded to the lost sequence numbers.
    Nack {
        /// Who sends the feedback.
        sender: Ssrc,
        /// The media source it is about.
        media: Ssrc,
        /// Lost sequence numbers, in the order the FCI lists them.
        lost: Vec<u16>,
    },
    /// Picture loss indication (PSFB FMT 1, RFC 4585 §6.3.1).
    Pli {
        /// Who asks for a keyframe.
        sender: Ssrc,
        /// The media source asked.
        media: Ssrc,
    },
    /// Full intra request (PSFB FMT 4, RFC 5104 §4.3.1).
    Fir {
        /// Who asks.
        sender: Ssrc,
        /// `(media source asked, command sequence number)`.
        entries: Vec<(Ssrc, u8)>,
    },
    /// Receiver estimated maximum bitrate (PSFB FMT 15, draft-alvestrand-rmcat-remb).
    Remb {
        /// Who estimates.
        sender: Ssrc,
        /// Estimated maximum total bitrate, bit/s (saturates at `u64::MAX`).
        bitrate: u64,
        /// The media sources the estimate applies to.
        ssrcs: Vec<Ssrc>,
    },
    /// Transport-wide congestion control feedback (RTPFB FMT 15,
    /// draft-holmer-rmcat-transport-wide-cc-extensions-01): header fields only.
    TransportCc {
        /// Who sends the feedback.
        sender: Ssrc,
        /// The media source (often 0 or any of the sender's streams).
        media: Ssrc,
        /// Transport-wide sequence number of the first packet reported.
        base_seq: u16,
        /// How many packets the feedback reports on.
        packet_count: u16,
    },
    /// A packet type or feedback format not modelled here (XR, SLI, RPSI, AFB other than REMB...).
    Other {
        /// Packet type.
        pt: u8,
        /// The 5-bit count/format field.
        fmt: u8,
    },
}

/// Why RTCP could not be decoded or built.
#[non_exhaustive]
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RtcpError {
    // --- the peer's fault: the datagram is dropped and counted ---
    /// Fewer than the 4 header bytes left where a packet should start.
    #[error("RTCP packet too short: {len} bytes at offset {offset}")]
    TooShort {
        /// Offset of the packet within the compound.
        offset: usize,
        /// Bytes left there.
        len: usize,
    },
    /// Version field not 2.
    #[error("RTCP version {version} at offset {offset}, expected 2")]
    BadVersion {
        /// Offset of the packet within the compound.
        offset: usize,
        /// The version field.
        version: u8,
    },
    /// The length field announces more bytes than the datagram holds.
    #[error("RTCP packet at offset {offset} announces {declared} bytes, {available} left")]
    LengthOverrun {
        /// Offset of the packet within the compound.
        offset: usize,
        /// Bytes announced by the length field (header included).
        declared: usize,
        /// Bytes left in the datagram.
        available: usize,
    },
    /// The padding count is 0 or larger than the packet body.
    #[error("RTCP padding count {padding} invalid at offset {offset}")]
    BadPadding {
        /// Offset of the packet within the compound.
        offset: usize,
        /// The padding count.
        padding: u8,
    },
    /// The framing is fine but a packet's body does not match its type.
    #[error("malformed RTCP packet (PT {pt}, FMT {fmt}) at offset {offset}: {reason}")]
    Malformed {
        /// Offset of the packet within the compound.
        offset: usize,
        /// Packet type.
        pt: u8,
        /// Count/format field.
        fmt: u8,
        /// What was wrong (from our checks or from the `rtcp` crate's decoder).
        reason: String,
    },
    // --- the caller's fault: nothing is sent ---
    /// More items than the 5-bit count field can carry (report blocks, BYE sources).
    #[error("{count} items, an RTCP packet carries at most 31")]
    TooManyItems {
        /// Items given.
        count: usize,
    },
    /// A text item (CNAME, BYE reason) longer than 255 bytes.
    #[error("text of {len} bytes, at most 255 fit")]
    TextTooLong {
        /// Length given.
        len: usize,
    },
    /// An empty list where the packet needs at least one entry (a NACK without losses).
    #[error("nothing to report")]
    NothingToReport,
    // --- a bug here or in the `rtcp` crate ---
    /// The encoder refused a packet our checks accepted.
    #[error("RTCP encoder failed: {0} (bug)")]
    Encode(String),
}

/// Round-trip time from a report block about one of our streams (RFC 3550 §6.4.1):
/// `arrival - LSR - DLSR`, where `arrival_ntp` is the 64-bit NTP time the report arrived.
///
/// `None` if the block carries no LSR (the peer has not seen an SR yet) or the result would be
/// negative (clocks moved, or a report for an older SR).
pub fn rtt_from_report(block: &ReportBlock, arrival_ntp: u64) -> Option<std::time::Duration> {
    if block.last_sr == 0 {
        return None;
    }
    let arrival = ntp_compact(arrival_ntp);
    let since_sr = arrival.wrapping_sub(block.last_sr);
    // A "negative" difference shows up as a huge one: reject anything past half the range.
    if since_sr > u32::MAX / 2 || since_sr < block.delay_since_last_sr {
        return None;
    }
    let units = since_sr - block.delay_since_last_sr;
    Some(std::time::Duration::from_nanos(
        (units as u64 * 1_000_000_000) >> 16,
    ))
}

/// The middle 32 bits of a 64-bit NTP timestamp (the LSR/DLSR "compact" format, 1/65536 s units).
#[inline]
pub fn ntp_compact(ntp: u64) -> u32 {
    (ntp >> 16) as u32
}
