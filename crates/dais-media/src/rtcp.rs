//! Minimal RTCP: the feedback the engine terminates and the reports it sends.
//!
//! Local and allocation-free on purpose: the engine only needs PLI/FIR/NACK in and
//! PLI/FIR/SR/RR out, in fixed layouts (RFC 3550 §6.4, RFC 4585 §6.2.1 and §6.3.1,
//! RFC 5104 §4.3.1). Reports from receivers (SR/RR/SDES/BYE/XR) are accepted and ignored.

use bytes::{BufMut, Bytes, BytesMut};
use dais_rtp::Ssrc;

const PT_SR: u8 = 200;
const PT_RR: u8 = 201;
const PT_RTPFB: u8 = 205;
const PT_PSFB: u8 = 206;
const FMT_NACK: u8 = 1;
const FMT_PLI: u8 = 1;
const FMT_FIR: u8 = 4;

/// Feedback the engine acts upon.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Feedback {
    /// Picture loss for `media`.
    Pli { media: u32 },
    /// Full intra request for `media`.
    Fir { media: u32 },
    /// Generic NACK entry: `pid` and the 16 following packets flagged in `blp`.
    Nack { media: u32, pid: u16, blp: u16 },
}

/// The RTCP compound did not parse.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Malformed;

fn be32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn be16(b: &[u8], at: usize) -> Option<u16> {
    let s = b.get(at..at + 2)?;
    Some(u16::from_be_bytes([s[0], s[1]]))
}

/// Walks a compound packet and reports every PLI, FIR entry and NACK entry. The whole compound
/// is validated first, so a malformed one reports nothing.
pub(crate) fn for_each_feedback(buf: &[u8], mut f: impl FnMut(Feedback)) -> Result<(), Malformed> {
    let mut at = 0;
    while at < buf.len() {
        let len = packet_len(buf, at).ok_or(Malformed)?;
        at += len;
    }
    let mut at = 0;
    while at < buf.len() {
        let len = packet_len(buf, at).ok_or(Malformed)?;
        let pkt = buf.get(at..at + len).ok_or(Malformed)?;
        let fmt = pkt[0] & 0x1f;
        match (pkt[1], fmt) {
            (PT_PSFB, FMT_PLI) => {
                if let Some(media) = be32(pkt, 8) {
                    f(Feedback::Pli { media });
                }
            }
            (PT_PSFB, FMT_FIR) => {
                for entry in pkt.get(12..).unwrap_or(&[]).chunks_exact(8) {
                    if let Some(media) = be32(entry, 0) {
                        f(Feedback::Fir { media });
                    }
                }
            }
            (PT_RTPFB, FMT_NACK) => {
                let media = be32(pkt, 8).ok_or(Malformed)?;
                for entry in pkt.get(12..).unwrap_or(&[]).chunks_exact(4) {
                    if let (Some(pid), Some(blp)) = (be16(entry, 0), be16(entry, 2)) {
                        f(Feedback::Nack { media, pid, blp });
                    }
                }
            }
            _ => {}
        }
        at += len;
    }
    Ok(())
}

/// Length in bytes of the RTCP packet at `at`, if its header is sound and it fits.
fn packet_len(buf: &[u8], at: usize) -> Option<usize> {
    let b0 = *buf.get(at)?;
    if b0 >> 6 != 2 {
        return None;
    }
    let words = usize::from(be16(buf, at + 2)?);
    let len = (words + 1) * 4;
    buf.get(at..at + len)?;
    Some(len)
}

fn header(out: &mut BytesMut, count_or_fmt: u8, pt: u8, len_bytes: usize) {
    out.put_u8(0x80 | (count_or_fmt & 0x1f));
    out.put_u8(pt);
    out.put_u16((len_bytes / 4 - 1) as u16);
}

/// An empty receiver report (RFC 3550 §6.1: a compound starts with SR or RR).
pub(crate) fn put_empty_rr(out: &mut BytesMut, sender: Ssrc) {
    header(out, 0, PT_RR, 8);
    out.put_u32(sender.0);
}

/// PLI (RFC 4585 §6.3.1).
pub(crate) fn put_pli(out: &mut BytesMut, sender: Ssrc, media: Ssrc) {
    header(out, FMT_PLI, PT_PSFB, 12);
    out.put_u32(sender.0);
    out.put_u32(media.0);
}

/// FIR (RFC 5104 §4.3.1): media SSRC field zero, the target in the FCI entry.
pub(crate) fn put_fir(out: &mut BytesMut, sender: Ssrc, media: Ssrc, seq_nr: u8) {
    header(out, FMT_FIR, PT_PSFB, 20);
    out.put_u32(sender.0);
    out.put_u32(0);
    out.put_u32(media.0);
    out.put_u8(seq_nr);
    out.put_bytes(0, 3);
}

/// RR+PLI+FIR in one compound: one datagram, accepted by endpoints that want a
/// report first and by those that honour only one of the two requests.
pub(crate) fn keyframe_request(sender: Ssrc, media: Ssrc, fir_seq: u8) -> Bytes {
    let mut out = BytesMut::with_capacity(40);
    put_empty_rr(&mut out, sender);
    put_pli(&mut out, sender, media);
    put_fir(&mut out, sender, media, fir_seq);
    out.freeze()
}

/// One RR report block (RFC 3550 §6.4.1).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ReportBlock {
    pub(crate) ssrc: u32,
    pub(crate) fraction_lost: u8,
    pub(crate) cumulative_lost: u32,
    pub(crate) highest_seq: u32,
    pub(crate) jitter: u32,
    pub(crate) lsr: u32,
    pub(crate) dlsr: u32,
}

/// A receiver report with up to 31 blocks.
pub(crate) fn receiver_report(sender: Ssrc, blocks: &[ReportBlock]) -> Bytes {
    let blocks = &blocks[..blocks.len().min(31)];
    let len = 8 + 24 * blocks.len();
    let mut out = BytesMut::with_capacity(len);
    header(&mut out, blocks.len() as u8, PT_RR, len);
    out.put_u32(sender.0);
    for b in blocks {
        out.put_u32(b.ssrc);
        out.put_u32((u32::from(b.fraction_lost) << 24) | (b.cumulative_lost & 0x00ff_ffff));
        out.put_u32(b.highest_seq);
        out.put_u32(b.jitter);
        out.put_u32(b.lsr);
        out.put_u32(b.dlsr);
    }
    out.freeze()
}

/// A sender report without report blocks (RFC 3550 §6.4.1).
pub(crate) fn sender_report(ssrc: Ssrc, ntp: u64, rtp_ts: u32, packets: u32, octets: u32) -> Bytes {
    let mut out = BytesMut::with_capacity(28);
    header(&mut out, 0, PT_SR, 28);
    out.put_u32(ssrc.0);
    out.put_u64(ntp);
    out.put_u32(rtp_ts);
    out.put_u32(packets);
    out.put_u32(octets);
    out.freeze()
}

/// Generic NACK (RFC 4585 §6.2.1) with one entry, for tests and tools.
pub fn build_nack(sender: Ssrc, media: Ssrc, pid: u16, blp: u16) -> Bytes {
    let mut out = BytesMut::with_capacity(16);
    header(&mut out, FMT_NACK, PT_RTPFB, 16);
    out.put_u32(sender.0);
    out.put_u32(media.0);
    out.put_u16(pid);
    out.put_u16(blp);
    out.freeze()
}

/// PLI alone, for tests and tools.
pub fn build_pli(sender: Ssrc, media: Ssrc) -> Bytes {
    let mut out = BytesMut::with_capacity(12);
    put_pli(&mut out, sender, media);
    out.freeze()
}

/// Reception statistics of one source for its receiver reports (RFC 3550 §6.4.1, A.3, A.8).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct RecvTracker {
    started: bool,
    base_ext: u64,
    highest_ext: u64,
    received: u64,
    expected_prior: u64,
    received_prior: u64,
    /// Interarrival jitter in timestamp units, ×16 (RFC 3550 A.8 fixed point).
    jitter16: u64,
    last_transit: Option<i64>,
}

impl RecvTracker {
    pub(crate) fn reset(&mut self) {
        *self = RecvTracker::default();
    }

    /// `arrival` is in the stream's clock-rate units (from the engine's monotonic origin).
    pub(crate) fn observe(&mut self, seq: u16, rtp_ts: u32, arrival: u64) {
        if !self.started {
            self.started = true;
            self.base_ext = (1 << 16) | u64::from(seq);
            self.highest_ext = self.base_ext;
        } else {
            let diff = i64::from(seq.wrapping_sub(self.highest_ext as u16) as i16);
            let ext = self.highest_ext.wrapping_add_signed(diff);
            if ext > self.highest_ext {
                self.highest_ext = ext;
            }
        }
        self.received += 1;
        let transit = (arrival as i64).wrapping_sub(i64::from(rtp_ts));
        if let Some(prev) = self.last_transit {
            // Timestamps wrap at 32 bits: take the difference in that space.
            let d = i64::from((transit.wrapping_sub(prev) as i32).unsigned_abs());
            let j = self.jitter16 as i64;
            self.jitter16 = (j + d - ((j + 8) >> 4)).max(0) as u64;
        }
        self.last_transit = Some(transit);
    }

    pub(crate) fn report_block(&mut self, ssrc: u32) -> Option<ReportBlock> {
        if !self.started {
            return None;
        }
        let expected = self.highest_ext - self.base_ext + 1;
        let lost = expected.saturating_sub(self.received);
        let expected_interval = expected - self.expected_prior.min(expected);
        let received_interval = self.received - self.received_prior.min(self.received);
        self.expected_prior = expected;
        self.received_prior = self.received;
        let lost_interval = expected_interval.saturating_sub(received_interval);
        let fraction_lost = if expected_interval == 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval).min(255) as u8
        };
        Some(ReportBlock {
            ssrc,
            fraction_lost,
            cumulative_lost: lost.min(0x7f_ffff) as u32,
            highest_seq: (self.highest_ext - (1 << 16)) as u32,
            jitter: (self.jitter16 >> 4) as u32,
            lsr: 0,
            dlsr: 0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_feedback_parses_back() {
        let mut seen = Vec::new();
        let req = keyframe_request(Ssrc(1), Ssrc(2), 3);
        for_each_feedback(&req, |f| seen.push(f)).unwrap();
        assert_eq!(
            seen,
            [Feedback::Pli { media: 2 }, Feedback::Fir { media: 2 }]
        );
        seen.clear();
        for_each_feedback(&build_nack(Ssrc(1), Ssrc(9), 100, 0b101), |f| seen.push(f)).unwrap();
        assert_eq!(
            seen,
            [Feedback::Nack {
                media: 9,
                pid: 100,
                blp: 0b101
            }]
        );
    }

    #[test]
    fn truncated_compound_is_malformed_and_reports_nothing() {
        let req = keyframe_request(Ssrc(1), Ssrc(2), 3);
        let mut n = 0;
        assert_eq!(
            for_each_feedback(&req[..req.len() - 1], |_| n += 1),
            Err(Malformed)
        );
        assert_eq!(n, 0);
    }

    #[test]
    fn loss_is_counted_from_sequence_gaps() {
        let mut t = RecvTracker::default();
        for seq in [65534u16, 65535, 1, 2] {
            t.observe(seq, 0, 0);
        }
        let b = t.report_block(5).unwrap();
        assert_eq!(b.cumulative_lost, 1);
        assert_eq!(b.highest_seq, (1 << 16) | 2);
        assert_eq!(b.fraction_lost, 51); // 1 of 5 expected, ×256
    }
}
