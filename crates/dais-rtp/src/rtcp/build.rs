//! Builders for the RTCP packets Dais sends. Encoding goes through the `rtcp` crate except REMB,
//! whose `rtcp` representation holds the bitrate as an `f32`.

use ::rtcp::Packet;
use bytes::{BufMut, Bytes, BytesMut};

use super::{ReceiverReport, ReportBlock, RtcpError, SenderReport};
use crate::header::Ssrc;

const COUNT_MAX: usize = 31;

fn marshal(p: Box<dyn Packet>) -> Result<Bytes, RtcpError> {
    ::rtcp::packet::marshal(&[p])
        .map(BytesMut::freeze)
        .map_err(|e| RtcpError::Encode(e.to_string()))
}

/// For fixed-size packets the encoder cannot refuse: a failure would be a bug in the `rtcp`
/// crate, logged and answered with an empty buffer (which the sender skips) rather than a panic.
fn marshal_infallible(p: Box<dyn Packet>) -> Bytes {
    marshal(p).unwrap_or_else(|e| {
        tracing::error!(error = %e, "RTCP encoder refused a fixed-size packet");
        Bytes::new()
    })
}

fn block_to(b: &ReportBlock) -> ::rtcp::reception_report::ReceptionReport {
    ::rtcp::reception_report::ReceptionReport {
        ssrc: b.ssrc.0,
        fraction_lost: b.fraction_lost,
        // 24-bit two's complement on the wire; clamp as RFC 3550 A.3 does.
        total_lost: (b.cumulative_lost.clamp(-0x80_0000, 0x7f_ffff) as u32) & 0x00ff_ffff,
        last_sequence_number: b.extended_highest_seq,
        jitter: b.jitter,
        last_sender_report: b.last_sr,
        delay: b.delay_since_last_sr,
    }
}

fn check_count(count: usize) -> Result<(), RtcpError> {
    if count > COUNT_MAX {
        return Err(RtcpError::TooManyItems { count });
    }
    Ok(())
}

/// A picture loss indication (RFC 4585 §6.3.1): `sender` asks `media` for a keyframe.
pub fn build_pli(sender: Ssrc, media: Ssrc) -> Bytes {
    use ::rtcp::payload_feedbacks::picture_loss_indication::PictureLossIndication;
    marshal_infallible(Box::new(PictureLossIndication {
        sender_ssrc: sender.0,
        media_ssrc: media.0,
    }))
}

/// A full intra request (RFC 5104 §4.3.1) for one media source with command sequence number
/// `seq_nr` (increment it for each new request, repeat it for a retransmission).
pub fn build_fir(sender: Ssrc, media: Ssrc, seq_nr: u8) -> Bytes {
    use ::rtcp::payload_feedbacks::full_intra_request::{FirEntry, FullIntraRequest};
    marshal_infallible(Box::new(FullIntraRequest {
        sender_ssrc: sender.0,
        // RFC 5104 §4.3.1.2: the media source field is unused (0); the FCI names the source.
        media_ssrc: 0,
        fir: vec![FirEntry {
            ssrc: media.0,
            sequence_number: seq_nr,
        }],
    }))
}

/// Packs lost sequence numbers into generic NACK `(PID, BLP)` pairs (RFC 4585 §6.2.1).
///
/// Order and duplicates in `lost` do not matter; sequence numbers are ordered from the first one
/// given, so a list spanning the 16-bit wrap packs as tightly as any other.
pub fn nack_pairs(lost: &[u16]) -> Vec<(u16, u16)> {
    let Some(&first) = lost.first() else {
        return Vec::new();
    };
    let mut keys: Vec<u16> = lost.iter().map(|s| s.wrapping_sub(first)).collect();
    keys.sort_unstable();
    keys.dedup();
    let mut pairs: Vec<(u16, u16)> = Vec::new();
    let mut current: Option<(u16, u16)> = None; // (key of PID, BLP)
    for k in keys {
        match current {
            Some((pid, ref mut blp)) if k - pid <= 16 => *blp |= 1 << (k - pid - 1),
            _ => {
                if let Some((pid, blp)) = current {
                    pairs.push((pid.wrapping_add(first), blp));
                }
                current = Some((k, 0));
            }
        }
    }
    if let Some((pid, blp)) = current {
        pairs.push((pid.wrapping_add(first), blp));
    }
    pairs
}

/// A generic NACK (RFC 4585 §6.2.1) for the given lost sequence numbers.
///
/// Errors with [`RtcpError::NothingToReport`] on an empty list (a NACK needs at least one entry).
pub fn build_nack(sender: Ssrc, media: Ssrc, lost: &[u16]) -> Result<Bytes, RtcpError> {
    use ::rtcp::transport_feedbacks::transport_layer_nack::{NackPair, TransportLayerNack};
    if lost.is_empty() {
        return Err(RtcpError::NothingToReport);
    }
    // At most 65536/17 + 1 pairs after dedup: always fits the 16-bit length field.
    let nacks = nack_pairs(lost)
        .into_iter()
        .map(|(packet_id, lost_packets)| NackPair {
            packet_id,
            lost_packets,
        })
        .collect();
    marshal(Box::new(TransportLayerNack {
        sender_ssrc: sender.0,
        media_ssrc: media.0,
        nacks,
    }))
}

/// A sender report (RFC 3550 §6.4.1). At most 31 report blocks.
pub fn build_sender_report(sr: &SenderReport) -> Result<Bytes, RtcpError> {
    check_count(sr.reports.len())?;
    marshal(Box::new(::rtcp::sender_report::SenderReport {
        ssrc: sr.ssrc.0,
        ntp_time: sr.ntp_time,
        rtp_time: sr.rtp_time,
        packet_count: sr.packet_count,
        octet_count: sr.octet_count,
        reports: sr.reports.iter().map(block_to).collect(),
        profile_extensions: Bytes::new(),
    }))
}

/// A receiver report (RFC 3550 §6.4.2). At most 31 report blocks; zero is valid (an empty RR
/// starts a compound when there is nothing to report).
pub fn build_receiver_report(rr: &ReceiverReport) -> Result<Bytes, RtcpError> {
    check_count(rr.reports.len())?;
    marshal(Box::new(::rtcp::receiver_report::ReceiverReport {
        ssrc: rr.ssrc.0,
        reports: rr.reports.iter().map(block_to).collect(),
        profile_extensions: Bytes::new(),
    }))
}

/// A BYE (RFC 3550 §6.6) for up to 31 sources with an optional reason of at most 255 bytes.
///
/// Hand-written: the `rtcp` crate aligns the reason with the P bit and a padding count, where
/// §6.6 asks for null octets (P is meant for the compound's last packet, e.g. for encryption).
pub fn build_bye(ssrcs: &[Ssrc], reason: Option<&[u8]>) -> Result<Bytes, RtcpError> {
    check_count(ssrcs.len())?;
    let reason_len = match reason {
        Some(r) if r.len() > 255 => return Err(RtcpError::TextTooLong { len: r.len() }),
        Some(r) => (1 + r.len()).div_ceil(4) * 4,
        None => 0,
    };
    let len = 4 + 4 * ssrcs.len() + reason_len;
    let mut b = BytesMut::with_capacity(len);
    b.put_u8(0x80 | ssrcs.len() as u8);
    b.put_u8(super::packet_type::BYE);
    b.put_u16((len / 4 - 1) as u16);
    for s in ssrcs {
        b.put_u32(s.0);
    }
    if let Some(r) = reason {
        b.put_u8(r.len() as u8);
        b.put_slice(r);
        b.resize(len, 0);
    }
    Ok(b.freeze())
}

/// An SDES packet with one chunk carrying the CNAME (RFC 3550 §6.5.1), which every compound
/// RTCP packet must include.
pub fn build_sdes_cname(ssrc: Ssrc, cname: &[u8]) -> Result<Bytes, RtcpError> {
    use ::rtcp::source_description::{
        SdesType, SourceDescription, SourceDescriptionChunk, SourceDescriptionItem,
    };
    if cname.len() > 255 {
        return Err(RtcpError::TextTooLong { len: cname.len() });
    }
    marshal(Box::new(SourceDescription {
        chunks: vec![SourceDescriptionChunk {
            source: ssrc.0,
            items: vec![SourceDescriptionItem {
                sdes_type: SdesType::SdesCname,
                text: Bytes::copy_from_slice(cname),
            }],
        }],
    }))
}

/// A REMB (draft-alvestrand-rmcat-remb §2.2): `bitrate` in bit/s for up to 255 media sources.
///
/// The bitrate is encoded as an 18-bit mantissa and 6-bit exponent, rounded down.
pub fn build_remb(sender: Ssrc, bitrate: u64, ssrcs: &[Ssrc]) -> Result<Bytes, RtcpError> {
    if ssrcs.len() > 255 {
        return Err(RtcpError::TooManyItems { count: ssrcs.len() });
    }
    let exp = (64 - bitrate.leading_zeros()).saturating_sub(18);
    let mantissa = (bitrate >> exp) as u32;
    let words = 4 + ssrcs.len();
    let mut b = BytesMut::with_capacity(4 * (words + 1));
    b.put_u8(0x80 | 15);
    b.put_u8(super::packet_type::PSFB);
    b.put_u16(words as u16);
    b.put_u32(sender.0);
    b.put_u32(0);
    b.put_slice(b"REMB");
    b.put_u32((ssrcs.len() as u32) << 24 | exp << 18 | mantissa);
    for s in ssrcs {
        b.put_u32(s.0);
    }
    Ok(b.freeze())
}

/// Concatenates packets into one compound RTCP datagram (RFC 3550 §6.1). The caller puts an SR or
/// RR first and an SDES CNAME in it, unless it sends reduced-size RTCP (RFC 5506).
pub fn compound(parts: &[Bytes]) -> Bytes {
    let mut b = BytesMut::with_capacity(parts.iter().map(Bytes::len).sum());
    for p in parts {
        b.put_slice(p);
    }
    b.freeze()
}
