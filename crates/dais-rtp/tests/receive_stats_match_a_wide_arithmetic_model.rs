//! `ReceiveStats` computes jitter and rates with one clock subtraction and u64 arithmetic per
//! packet (the forward path's budget). This checks it against a straightforward model that
//! uses u128 nanoseconds, a division per packet and keeps every packet, over arbitrary
//! arrival patterns: sub-millisecond bursts, bucket boundaries, silences of hours that wrap the
//! 32-bit arrival clock in timestamp units (13 h at 90 kHz), and all the usual clock rates.

use std::time::{Duration, Instant};

use dais_rtp::{ReceiveStats, RtpHeader, SeqUpdate, Ssrc};
use proptest::prelude::*;

const WINDOW: Duration = Duration::from_secs(1);
const BUCKETS: u128 = 10;

fn header(seq: u16, ts: u32, payload_len: usize) -> RtpHeader {
    RtpHeader {
        marker: false,
        payload_type: 96,
        sequence: seq,
        timestamp: ts,
        ssrc: Ssrc(9),
        csrc_count: 0,
        has_extension: false,
        header_len: 12,
        payload_len,
        padding_len: 0,
    }
}

/// RFC 3550 A.8 with the arrival time computed in u128, as the obvious code would.
#[derive(Default)]
struct JitterModel {
    jitter: f64,
    transit: Option<i64>,
}

impl JitterModel {
    fn on_packet(&mut self, elapsed: Duration, clock_rate: u32, ts: u32) {
        let arrival = (elapsed.as_nanos() * clock_rate as u128 / 1_000_000_000) as u32;
        let transit = arrival.wrapping_sub(ts) as i32 as i64;
        if let Some(prev) = self.transit {
            let d = ((transit - prev) as i32 as i64).unsigned_abs() as f64;
            self.jitter += (d - self.jitter) / 16.0;
        }
        self.transit = Some(transit);
    }
}

/// Packets and bytes whose bucket is among the last `BUCKETS` ending at the query's bucket.
fn window_model(packets: &[(Duration, usize)], at: Duration) -> (u64, f64) {
    let bucket = (WINDOW / BUCKETS as u32).as_nanos();
    let q = at.as_nanos() / bucket;
    let (mut bytes, mut count) = (0u64, 0u64);
    for (t, size) in packets {
        let slot = t.as_nanos() / bucket;
        if slot <= q && q - slot < BUCKETS {
            bytes += *size as u64;
            count += 1;
        }
    }
    let secs = WINDOW.as_secs_f64();
    ((bytes as f64 * 8.0 / secs) as u64, count as f64 / secs)
}

fn gap() -> impl Strategy<Value = Duration> {
    prop_oneof![
        8 => (0u64..40_000).prop_map(Duration::from_micros),
        2 => (0u64..3_000_000).prop_map(Duration::from_micros),
        1 => (0u64..20 * 3600).prop_map(Duration::from_secs),
        1 => (0u64..1_000_000).prop_map(Duration::from_nanos),
        // Exactly on bucket boundaries (buckets are 100 ms).
        2 => (0u32..25).prop_map(|n| Duration::from_millis(100) * n),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn jitter_and_rates_match_the_model(
        clock_rate in prop_oneof![Just(8000u32), Just(16_000), Just(48_000), Just(90_000)],
        ts0 in any::<u32>(),
        packets in prop::collection::vec((gap(), -2000i32..2000, 0usize..1400), 1..300),
        after in gap(),
    ) {
        let t0 = Instant::now();
        let mut s = ReceiveStats::new(Ssrc(9), clock_rate, WINDOW, t0);
        let mut model = JitterModel::default();
        let mut seen = Vec::new();
        let mut elapsed = Duration::ZERO;
        for (i, (g, wobble, len)) in packets.iter().enumerate() {
            elapsed += *g;
            // The sender's clock: nominal 20 ms steps plus a wobble, wrapping.
            let ts = ts0
                .wrapping_add((i as u32).wrapping_mul(clock_rate / 50))
                .wrapping_add(*wobble as u32);
            let update = s.on_packet(t0 + elapsed, &header(i as u16, ts, *len));
            if update == SeqUpdate::Restarted {
                model.transit = None;
            }
            if update.is_valid() {
                model.on_packet(elapsed, clock_rate, ts);
            }
            seen.push((elapsed, 12 + *len));
            prop_assert_eq!(s.jitter(), model.jitter as u32, "after packet {}", i);
        }
        for at in [elapsed, elapsed + after] {
            let (bps, pps) = window_model(&seen, at);
            prop_assert_eq!(s.bitrate(t0 + at), bps);
            prop_assert!((s.packet_rate(t0 + at) - pps).abs() < 1e-9, "{} vs {}", s.packet_rate(t0 + at), pps);
        }
    }
}
