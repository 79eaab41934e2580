//! Per-stream statistics: RFC 3550 appendix A.1 (sequence validation), A.3 (loss), A.8 (jitter),
//! rates over a sliding window, and what SR/RR report blocks need. Time is always a parameter.

use std::time::{Duration, Instant};

use crate::header::{RtpHeader, Ssrc};
use crate::rtcp::{ReportBlock, SenderReport, ntp_compact};

const RTP_SEQ_MOD: u32 = 1 << 16;
/// A.1: a forward jump up to this many is accepted as loss.
const MAX_DROPOUT: u16 = 3000;
/// A.1: a backward jump up to this many is a late or duplicate packet.
const MAX_MISORDER: u16 = 100;
/// A.1: consecutive packets needed before a new source is believed.
const MIN_SEQUENTIAL: u8 = 2;
/// Rate window buckets: the window slides in steps of `window / BUCKETS`.
const BUCKETS: usize = 10;

/// What one packet did to the sequence-number state (RFC 3550 A.1 `update_seq`).
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SeqUpdate {
    /// In order (possibly after a gap of lost packets): counted.
    InOrder,
    /// Late, reordered or duplicated (within `MAX_MISORDER` behind): counted, max unchanged.
    Late,
    /// The source is still on probation (fewer than 2 consecutive packets seen): not counted.
    Probation,
    /// A large jump; counted only if the next packet confirms it (the peer restarted).
    Jump,
    /// The jump was confirmed: statistics restarted from this packet.
    Restarted,
}

impl SeqUpdate {
    /// Whether RFC 3550 counts the packet as received (A.1 `update_seq` returned 1).
    pub fn is_valid(self) -> bool {
        matches!(
            self,
            SeqUpdate::InOrder | SeqUpdate::Late | SeqUpdate::Restarted
        )
    }
}

#[derive(Debug, Clone, Copy, Default)]
struct Bucket {
    slot: u64,
    bytes: u64,
    packets: u32,
}

/// Packet and bit rate over a sliding window, in fixed buckets (no allocation per packet).
///
/// Times are offsets from the owning stream's epoch, in nanoseconds (u64 holds 584 years), so
/// the per-packet path does one `Instant` subtraction for the whole stream and no u128
/// division; the current bucket's range is cached, so most packets do no division at all.
#[derive(Debug, Clone)]
struct RateWindow {
    bucket_ns: u64,
    /// `[start, end)` of the bucket the last packet went to, in ns since the epoch.
    current: (u64, u64),
    /// Index into `buckets` of that bucket.
    current_index: usize,
    buckets: [Bucket; BUCKETS],
}

impl RateWindow {
    fn new(window: Duration) -> Self {
        let bucket = (window / BUCKETS as u32).max(Duration::from_millis(1));
        RateWindow {
            bucket_ns: nanos(bucket),
            current: (0, 0),
            current_index: 0,
            buckets: [Bucket {
                slot: u64::MAX,
                ..Bucket::default()
            }; BUCKETS],
        }
    }

    fn slot(&self, elapsed_ns: u64) -> u64 {
        elapsed_ns / self.bucket_ns
    }

    fn add(&mut self, elapsed_ns: u64, bytes: usize) {
        let (start, end) = self.current;
        if !(start..end).contains(&elapsed_ns) {
            let slot = self.slot(elapsed_ns);
            let start = slot * self.bucket_ns;
            self.current = (start, start.saturating_add(self.bucket_ns));
            self.current_index = (slot % BUCKETS as u64) as usize;
            let b = &mut self.buckets[self.current_index];
            if b.slot != slot {
                *b = Bucket {
                    slot,
                    bytes: 0,
                    packets: 0,
                };
            }
        }
        let b = &mut self.buckets[self.current_index];
        b.bytes += bytes as u64;
        b.packets += 1;
    }

    /// (bits per second, packets per second) over the last full window ending at `elapsed_ns`.
    fn rates(&self, elapsed_ns: u64) -> (u64, f64) {
        let slot = self.slot(elapsed_ns);
        let (bytes, packets) = self
            .buckets
            .iter()
            .filter(|b| b.slot != u64::MAX && b.slot <= slot && slot - b.slot < BUCKETS as u64)
            .fold((0u64, 0u64), |(by, p), b| {
                (by + b.bytes, p + b.packets as u64)
            });
        let secs = self.bucket_ns as f64 * BUCKETS as f64 / 1e9;
        ((bytes as f64 * 8.0 / secs) as u64, packets as f64 / secs)
    }
}

/// A duration in nanoseconds, saturating (u64 nanoseconds cover 584 years).
fn nanos(d: Duration) -> u64 {
    d.as_secs()
        .saturating_mul(1_000_000_000)
        .saturating_add(u64::from(d.subsec_nanos()))
}

/// Receive statistics for one incoming RTP stream (one SSRC).
#[derive(Debug, Clone)]
pub struct ReceiveStats {
    ssrc: Ssrc,
    clock_rate: u32,
    // RFC 3550 A.1 source state.
    max_seq: u16,
    cycles: u32,
    base_seq: u32,
    bad_seq: u32,
    probation: u8,
    received: u32,
    expected_prior: u32,
    received_prior: u32,
    // A.8 jitter, in timestamp units (kept as f64; the RFC's integer form is the same filter).
    jitter: f64,
    transit: Option<i64>,
    epoch: Instant,
    rates: RateWindow,
    bytes: u64,
    last_packet_at: Option<Instant>,
    // The last SR from this source: (LSR, when it arrived).
    last_sr: Option<(u32, Instant)>,
}

impl ReceiveStats {
    /// Statistics for `ssrc`, whose RTP clock runs at `clock_rate` Hz (8000 for G.711, 90000 for
    /// video), with rates measured over `window` (1 s is a good default). `now` anchors the
    /// jitter's arrival clock and the rate window.
    pub fn new(ssrc: Ssrc, clock_rate: u32, window: Duration, now: Instant) -> Self {
        ReceiveStats {
            ssrc,
            clock_rate: clock_rate.max(1),
            max_seq: 0,
            cycles: 0,
            base_seq: 0,
            bad_seq: RTP_SEQ_MOD + 1,
            probation: MIN_SEQUENTIAL,
            received: 0,
            expected_prior: 0,
            received_prior: 0,
            jitter: 0.0,
            transit: None,
            epoch: now,
            rates: RateWindow::new(window),
            bytes: 0,
            last_packet_at: None,
            last_sr: None,
        }
    }

    /// The stream's SSRC.
    pub fn ssrc(&self) -> Ssrc {
        self.ssrc
    }

    /// A.1 `init_seq`.
    fn init_seq(&mut self, seq: u16) {
        self.base_seq = seq as u32;
        self.max_seq = seq;
        self.bad_seq = RTP_SEQ_MOD + 1;
        self.cycles = 0;
        self.received = 0;
        self.received_prior = 0;
        self.expected_prior = 0;
    }

    /// A.1 `update_seq`, with the first packet's set-up folded in.
    fn update_seq(&mut self, seq: u16) -> SeqUpdate {
        if self.last_packet_at.is_none() {
            self.init_seq(seq);
            self.max_seq = seq.wrapping_sub(1);
            self.probation = MIN_SEQUENTIAL;
        }
        let udelta = seq.wrapping_sub(self.max_seq);
        if self.probation > 0 {
            if seq == self.max_seq.wrapping_add(1) {
                self.probation -= 1;
                self.max_seq = seq;
                if self.probation == 0 {
                    self.init_seq(seq);
                    self.received += 1;
                    return SeqUpdate::InOrder;
                }
            } else {
                self.probation = MIN_SEQUENTIAL - 1;
                self.max_seq = seq;
            }
            return SeqUpdate::Probation;
        }
        let verdict = if udelta < MAX_DROPOUT {
            if seq < self.max_seq {
                self.cycles = self.cycles.wrapping_add(RTP_SEQ_MOD);
            }
            self.max_seq = seq;
            SeqUpdate::InOrder
        } else if udelta as u32 <= RTP_SEQ_MOD - MAX_MISORDER as u32 {
            if seq as u32 == self.bad_seq {
                // Two sequential packets after a big jump: the sender restarted.
                self.init_seq(seq);
                self.transit = None;
                SeqUpdate::Restarted
            } else {
                self.bad_seq = (seq as u32 + 1) & (RTP_SEQ_MOD - 1);
                return SeqUpdate::Jump;
            }
        } else {
            SeqUpdate::Late
        };
        self.received = self.received.wrapping_add(1);
        verdict
    }

    /// Records one received packet. Returns what it did to the sequence state; jitter is updated
    /// for counted packets only (a confirmed restart resets it).
    pub fn on_packet(&mut self, now: Instant, header: &RtpHeader) -> SeqUpdate {
        let update = self.update_seq(header.sequence);
        let size = header.header_len + header.payload_len + header.padding_len as usize;
        // One clock subtraction per packet, shared by the rate window and the jitter.
        let elapsed = now.saturating_duration_since(self.epoch);
        self.rates.add(nanos(elapsed), size);
        self.bytes += size as u64;
        self.last_packet_at = Some(now);
        if update.is_valid() {
            self.update_jitter(elapsed, header.timestamp);
        }
        update
    }

    /// A.8: J += (|D| - J) / 16, with D the change in transit time, in timestamp units.
    fn update_jitter(&mut self, elapsed: Duration, rtp_ts: u32) {
        // floor(elapsed × rate) in timestamp units, modulo 2^32 (only differences matter):
        // whole seconds are exact, and the sub-second part (< 10^9 × 2^32) fits in u64, so
        // this equals the u128 product and division without the u128 division.
        let rate = u64::from(self.clock_rate);
        let arrival = elapsed
            .as_secs()
            .wrapping_mul(rate)
            .wrapping_add(u64::from(elapsed.subsec_nanos()) * rate / 1_000_000_000)
            as u32;
        // Transit differences are taken modulo 2^32 so a timestamp wrap is a small step.
        let transit = arrival.wrapping_sub(rtp_ts) as i32 as i64;
        if let Some(prev) = self.transit {
            let d = (transit - prev) as i32;
            let d = (d as i64).unsigned_abs() as f64;
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.transit = Some(transit);
    }

    /// Records an SR received from this source (its NTP time), for LSR/DLSR in our next report.
    pub fn on_sender_report(&mut self, now: Instant, ntp_time: u64) {
        self.last_sr = Some((ntp_compact(ntp_time), now));
    }

    /// Extended highest sequence number received (A.1: cycles + max_seq).
    pub fn extended_highest_seq(&self) -> u32 {
        self.cycles.wrapping_add(self.max_seq as u32)
    }

    /// Packets expected since the stream was (re)started (A.3).
    pub fn expected(&self) -> u32 {
        if self.received == 0 && self.probation > 0 {
            return 0;
        }
        self.extended_highest_seq()
            .wrapping_sub(self.base_seq)
            .wrapping_add(1)
    }

    /// Packets counted as received (A.1; duplicates count, probation packets do not).
    pub fn packets_received(&self) -> u32 {
        self.received
    }

    /// Cumulative packets lost (A.3): expected - received, clamped to the 24-bit signed range.
    pub fn cumulative_lost(&self) -> i32 {
        let lost = self.expected() as i64 - self.received as i64;
        lost.clamp(-0x80_0000, 0x7f_ffff) as i32
    }

    /// Interarrival jitter in timestamp units (A.8).
    pub fn jitter(&self) -> u32 {
        self.jitter as u32
    }

    /// Interarrival jitter as a duration.
    pub fn jitter_duration(&self) -> Duration {
        Duration::from_secs_f64(self.jitter / self.clock_rate as f64)
    }

    /// Bits per second over the sliding window ending at `now` (headers included, IP/UDP not).
    pub fn bitrate(&self, now: Instant) -> u64 {
        self.rates
            .rates(nanos(now.saturating_duration_since(self.epoch)))
            .0
    }

    /// Packets per second over the sliding window ending at `now`.
    pub fn packet_rate(&self, now: Instant) -> f64 {
        self.rates
            .rates(nanos(now.saturating_duration_since(self.epoch)))
            .1
    }

    /// Total RTP bytes received (headers included).
    pub fn bytes_received(&self) -> u64 {
        self.bytes
    }

    /// When the last packet (valid or not) arrived; `None` before the first.
    pub fn last_packet_at(&self) -> Option<Instant> {
        self.last_packet_at
    }

    /// The report block for an RR/SR about this stream, and starts a new loss interval (A.3).
    /// `None` until a packet has been counted.
    pub fn report_block(&mut self, now: Instant) -> Option<ReportBlock> {
        if self.received == 0 {
            return None;
        }
        let expected = self.expected();
        let expected_interval = expected.wrapping_sub(self.expected_prior);
        self.expected_prior = expected;
        let received_interval = self.received.wrapping_sub(self.received_prior);
        self.received_prior = self.received;
        let lost_interval = expected_interval as i64 - received_interval as i64;
        let fraction_lost = if expected_interval == 0 || lost_interval <= 0 {
            0
        } else {
            ((lost_interval << 8) / expected_interval as i64).min(255) as u8
        };
        let (last_sr, delay_since_last_sr) = match self.last_sr {
            Some((lsr, at)) => {
                let d = now.saturating_duration_since(at);
                let units = (d.as_nanos() * 65536 / 1_000_000_000).min(u32::MAX as u128);
                (lsr, units as u32)
            }
            None => (0, 0),
        };
        Some(ReportBlock {
            ssrc: self.ssrc,
            fraction_lost,
            cumulative_lost: self.cumulative_lost(),
            extended_highest_seq: self.extended_highest_seq(),
            jitter: self.jitter(),
            last_sr,
            delay_since_last_sr,
        })
    }
}

/// Send statistics for one outgoing RTP stream: what a sender report needs.
#[derive(Debug, Clone, Default)]
pub struct SendStats {
    packets: u32,
    octets: u32,
    last_rtp_time: Option<u32>,
}

impl SendStats {
    /// No packets sent yet.
    pub fn new() -> Self {
        SendStats::default()
    }

    /// Records one sent packet (payload octets as RFC 3550 §6.4.1 counts them: no header, no
    /// padding) and its RTP timestamp.
    pub fn on_packet(&mut self, payload_len: usize, rtp_time: u32) {
        self.packets = self.packets.wrapping_add(1);
        self.octets = self.octets.wrapping_add(payload_len as u32);
        self.last_rtp_time = Some(rtp_time);
    }

    /// Packets sent (wraps at 2^32 as the SR field does).
    pub fn packet_count(&self) -> u32 {
        self.packets
    }

    /// Payload octets sent (wraps at 2^32 as the SR field does).
    pub fn octet_count(&self) -> u32 {
        self.octets
    }

    /// RTP timestamp of the last packet sent.
    pub fn last_rtp_time(&self) -> Option<u32> {
        self.last_rtp_time
    }

    /// A sender report for `ssrc` at wall-clock `ntp_time` (the caller's clock), whose RTP time
    /// the caller derives from its media clock, carrying `reports`.
    pub fn sender_report(
        &self,
        ssrc: Ssrc,
        ntp_time: u64,
        rtp_time: u32,
        reports: Vec<ReportBlock>,
    ) -> SenderReport {
        SenderReport {
            ssrc,
            ntp_time,
            rtp_time,
            packet_count: self.packets,
            octet_count: self.octets,
            reports,
        }
    }
}
