//! RTCP glue: which dais-rtp builders the engine uses, and how it reads feedback.
//!
//! Packets are built and parsed by `dais_rtp` (RFC 3550 §6.4, RFC 4585 §6.2.1 and §6.3.1,
//! RFC 5104 §4.3.1). The RTCP path may allocate; only the RTP forwarding path must not.

use bytes::Bytes;
use dais_rtp::Ssrc;
use dais_rtp::rtcp::{
    ReceiverReport, ReportBlock, SenderReport, build_fir, build_pli, build_receiver_report,
    build_sender_report, compound,
};

/// RR (empty) + PLI + FIR in one compound: one datagram, accepted by endpoints that want a
/// report first (RFC 3550 §6.1) and by those that honour only one of the two requests.
pub(crate) fn keyframe_request(sender: Ssrc, media: Ssrc, fir_seq: u8) -> Bytes {
    let pli = build_pli(sender, media);
    let fir = build_fir(sender, media, fir_seq);
    match build_receiver_report(&ReceiverReport {
        ssrc: sender,
        reports: Vec::new(),
    }) {
        Ok(rr) => compound(&[rr, pli, fir]),
        Err(e) => {
            tracing::error!(error = %e, "empty RR refused (bug); sending PLI+FIR alone");
            compound(&[pli, fir])
        }
    }
}

/// A receiver report about a leg's sources (at most two blocks: audio and video).
pub(crate) fn receiver_report(sender: Ssrc, reports: Vec<ReportBlock>) -> Option<Bytes> {
    build_receiver_report(&ReceiverReport {
        ssrc: sender,
        reports,
    })
    .map_err(|e| tracing::error!(error = %e, "receiver report refused (bug)"))
    .ok()
}

/// A sender report for a feed, without report blocks.
pub(crate) fn sender_report(
    ssrc: Ssrc,
    ntp_time: u64,
    rtp_time: u32,
    packets: u32,
    octets: u32,
) -> Option<Bytes> {
    build_sender_report(&SenderReport {
        ssrc,
        ntp_time,
        rtp_time,
        packet_count: packets,
        octet_count: octets,
        reports: Vec::new(),
    })
    .map_err(|e| tracing::error!(error = %e, "sender report refused (bug)"))
    .ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use dais_rtp::{RtcpPacket, parse_compound};

    #[test]
    fn keyframe_request_is_rr_pli_fir_for_the_source() {
        let req = keyframe_request(Ssrc(1), Ssrc(2), 3);
        let p = parse_compound(&req).unwrap();
        assert!(matches!(p[0], RtcpPacket::ReceiverReport(_)));
        assert_eq!(
            p[1],
            RtcpPacket::Pli {
                sender: Ssrc(1),
                media: Ssrc(2)
            }
        );
        assert_eq!(
            p[2],
            RtcpPacket::Fir {
                sender: Ssrc(1),
                entries: vec![(Ssrc(2), 3)]
            }
        );
    }
}
