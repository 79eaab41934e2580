//! Compound RTCP decoding (RFC 3550 §6.1, appendix A.2 framing checks).

use bytes::Bytes;

use super::{
    ReceiverReport, ReportBlock, RtcpError, RtcpPacket, SdesChunk, SenderReport, packet_type as pt,
};
use crate::header::Ssrc;

/// Decodes every packet of a compound RTCP datagram, in order.
///
/// Framing is checked first for each packet (version 2, length within the datagram, padding
/// count); a datagram with any framing or body error is rejected as a whole, as RFC 3550 A.2
/// does, with an error naming the offset. Unknown packet types and feedback formats decode to
/// [`RtcpPacket::Other`] rather than failing. RFC 5506 reduced-size RTCP (a lone feedback packet)
/// is accepted: the first packet need not be an SR or RR.
pub fn parse_compound(buf: &[u8]) -> Result<Vec<RtcpPacket>, RtcpError> {
    if buf.is_empty() {
        return Err(RtcpError::TooShort { offset: 0, len: 0 });
    }
    let mut out = Vec::with_capacity(2);
    let mut offset = 0;
    while let Some(rest) = buf.get(offset..).filter(|r| !r.is_empty()) {
        let &[b0, _, l0, l1, ..] = rest else {
            return Err(RtcpError::TooShort {
                offset,
                len: rest.len(),
            });
        };
        let version = b0 >> 6;
        if version != 2 {
            return Err(RtcpError::BadVersion { offset, version });
        }
        let declared = (u16::from_be_bytes([l0, l1]) as usize + 1) * 4;
        let Some(packet) = rest.get(..declared) else {
            return Err(RtcpError::LengthOverrun {
                offset,
                declared,
                available: rest.len(),
            });
        };
        let body_end = if b0 & 0x20 != 0 {
            let padding = packet[declared - 1];
            if padding == 0 || padding as usize > declared - 4 {
                return Err(RtcpError::BadPadding { offset, padding });
            }
            declared - padding as usize
        } else {
            declared
        };
        out.push(decode_one(packet, body_end, offset)?);
        offset += declared;
    }
    Ok(out)
}

/// Decodes one framed packet; `packet[..body_end]` is the header and body without padding.
fn decode_one(packet: &[u8], body_end: usize, offset: usize) -> Result<RtcpPacket, RtcpError> {
    let fmt = packet[0] & 0x1f;
    let ptype = packet[1];
    let body = &packet[4..body_end];
    let malformed = |reason: &str| RtcpError::Malformed {
        offset,
        pt: ptype,
        fmt,
        reason: reason.to_owned(),
    };
    let u32_at = |i: usize| -> Result<u32, RtcpError> {
        body.get(i..i + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
            .ok_or_else(|| malformed("truncated"))
    };
    let ssrc_at = |i: usize| u32_at(i).map(Ssrc);
    match (ptype, fmt) {
        (pt::APP, subtype) => {
            let ssrc = ssrc_at(0)?;
            let name = u32_at(4)?.to_be_bytes();
            Ok(RtcpPacket::App {
                subtype,
                ssrc,
                name,
                data: Bytes::copy_from_slice(&body[8..]),
            })
        }
        (pt::RTPFB, 15) => Ok(RtcpPacket::TransportCc {
            sender: ssrc_at(0)?,
            media: ssrc_at(4)?,
            base_seq: (u32_at(8)? >> 16) as u16,
            packet_count: u32_at(8)? as u16,
        }),
        (pt::PSFB, 15) => {
            if body.get(8..12) != Some(b"REMB") {
                return Ok(RtcpPacket::Other { pt: ptype, fmt });
            }
            let sender = ssrc_at(0)?;
            let word = u32_at(12)?;
            let count = (word >> 24) as usize;
            let exp = (word >> 18) & 0x3f;
            let mantissa = (word & 0x3ffff) as u128;
            let bitrate = u64::try_from(mantissa << exp).unwrap_or(u64::MAX);
            let ssrcs = (0..count)
                .map(|i| ssrc_at(16 + 4 * i))
                .collect::<Result<Vec<_>, _>>()?;
            Ok(RtcpPacket::Remb {
                sender,
                bitrate,
                ssrcs,
            })
        }
        (pt::BYE, count) => {
            // Hand-written: the `rtcp` crate's BYE codec treats reason alignment as P-bit
            // padding (see build_bye); here both null-octet and P-bit alignment decode.
            let ssrcs = (0..count as usize)
                .map(|i| ssrc_at(4 * i))
                .collect::<Result<Vec<_>, _>>()?;
            let rest = body.get(4 * count as usize..).unwrap_or_default();
            let reason = match rest.split_first() {
                Some((&n, text)) if n > 0 => Some(Bytes::copy_from_slice(
                    text.get(..n as usize)
                        .ok_or_else(|| malformed("BYE reason overruns the packet"))?,
                )),
                _ => None,
            };
            Ok(RtcpPacket::Bye { ssrcs, reason })
        }
        (pt::SR | pt::RR | pt::SDES, _) | (pt::RTPFB, 1) | (pt::PSFB, 1 | 4) => {
            decode_with_rtcp_crate(packet, body_end, offset)
        }
        _ => Ok(RtcpPacket::Other { pt: ptype, fmt }),
    }
}

/// The packet types the `rtcp` crate decodes well: it gets a buffer holding exactly this one
/// packet (our framing already checked), so it can never see a neighbour's bytes.
fn decode_with_rtcp_crate(
    packet: &[u8],
    body_end: usize,
    offset: usize,
) -> Result<RtcpPacket, RtcpError> {
    let fmt = packet[0] & 0x1f;
    let ptype = packet[1];
    let malformed = |reason: String| RtcpError::Malformed {
        offset,
        pt: ptype,
        fmt,
        reason,
    };
    // The crate does not strip padding: hand it an unpadded copy (padding is rare in practice).
    let unpadded;
    let bytes = if body_end == packet.len() {
        packet
    } else {
        if !body_end.is_multiple_of(4) {
            return Err(malformed("padding leaves a partial word".into()));
        }
        let mut v = packet[..body_end].to_vec();
        v[0] &= !0x20;
        v[2..4].copy_from_slice(&((body_end / 4 - 1) as u16).to_be_bytes());
        unpadded = v;
        &unpadded[..]
    };
    let mut cursor = bytes;
    let mut decoded =
        ::rtcp::packet::unmarshal(&mut cursor).map_err(|e| malformed(e.to_string()))?;
    if decoded.len() != 1 {
        return Err(malformed(format!("decoded into {} packets", decoded.len())));
    }
    let Some(p) = decoded.pop() else {
        return Err(malformed("decoded into nothing".into()));
    };
    let any = p.as_any();
    use ::rtcp::{
        payload_feedbacks::full_intra_request::FullIntraRequest,
        payload_feedbacks::picture_loss_indication::PictureLossIndication,
        receiver_report::ReceiverReport as RrIn, sender_report::SenderReport as SrIn,
        source_description::SourceDescription,
        transport_feedbacks::transport_layer_nack::TransportLayerNack,
    };
    if let Some(sr) = any.downcast_ref::<SrIn>() {
        return Ok(RtcpPacket::SenderReport(SenderReport {
            ssrc: Ssrc(sr.ssrc),
            ntp_time: sr.ntp_time,
            rtp_time: sr.rtp_time,
            packet_count: sr.packet_count,
            octet_count: sr.octet_count,
            reports: sr.reports.iter().map(block_from).collect(),
        }));
    }
    if let Some(rr) = any.downcast_ref::<RrIn>() {
        return Ok(RtcpPacket::ReceiverReport(ReceiverReport {
            ssrc: Ssrc(rr.ssrc),
            reports: rr.reports.iter().map(block_from).collect(),
        }));
    }
    if let Some(sdes) = any.downcast_ref::<SourceDescription>() {
        return Ok(RtcpPacket::Sdes(
            sdes.chunks
                .iter()
                .map(|c| SdesChunk {
                    ssrc: Ssrc(c.source),
                    items: c
                        .items
                        .iter()
                        .map(|i| (i.sdes_type as u8, i.text.clone()))
                        .collect(),
                })
                .collect(),
        ));
    }
    if let Some(nack) = any.downcast_ref::<TransportLayerNack>() {
        return Ok(RtcpPacket::Nack {
            sender: Ssrc(nack.sender_ssrc),
            media: Ssrc(nack.media_ssrc),
            lost: nack.nacks.iter().flat_map(|p| p.into_iter()).collect(),
        });
    }
    if let Some(pli) = any.downcast_ref::<PictureLossIndication>() {
        return Ok(RtcpPacket::Pli {
            sender: Ssrc(pli.sender_ssrc),
            media: Ssrc(pli.media_ssrc),
        });
    }
    if let Some(fir) = any.downcast_ref::<FullIntraRequest>() {
        return Ok(RtcpPacket::Fir {
            sender: Ssrc(fir.sender_ssrc),
            entries: fir
                .fir
                .iter()
                .map(|e| (Ssrc(e.ssrc), e.sequence_number))
                .collect(),
        });
    }
    Ok(RtcpPacket::Other { pt: ptype, fmt })
}

fn block_from(r: &::rtcp::reception_report::ReceptionReport) -> ReportBlock {
    // 24-bit two's complement on the wire (RFC 3550 §6.4.1); the crate hands back the raw bits.
    let raw = r.total_lost & 0x00ff_ffff;
    let cumulative_lost = ((raw << 8) as i32) >> 8;
    ReportBlock {
        ssrc: Ssrc(r.ssrc),
        fraction_lost: r.fraction_lost,
        cumulative_lost,
        extended_highest_seq: r.last_sequence_number,
        jitter: r.jitter,
        last_sr: r.last_sender_report,
        delay_since_last_sr: r.delay,
    }
}
