//! `ReceiveStats`/`SendStats` against RFC 3550 appendix A semantics, in virtual time, and on a
//! real G.711 capture from SIPp.

mod common;

use std::time::{Duration, Instant};

use dais_rtp::rtcp::{ReportBlock, rtt_from_report};
use dais_rtp::{ReceiveStats, RtpHeader, SendStats, SeqUpdate, Ssrc};

fn header(seq: u16, ts: u32) -> RtpHeader {
    RtpHeader {
        marker: false,
        payload_type: 0,
        sequence: seq,
        timestamp: ts,
        ssrc: Ssrc(7),
        csrc_count: 0,
        has_extension: false,
        header_len: 12,
        payload_len: 160,
        padding_len: 0,
    }
}

const MS20: Duration = Duration::from_millis(20);

#[test]
fn in_order_stream_across_the_wrap_has_no_loss() {
    let t0 = Instant::now();
    let mut s = ReceiveStats::new(Ssrc(7), 8000, Duration::from_secs(1), t0);
    let start = 65500u16;
    for i in 0..100u16 {
        let v = s.on_packet(
            t0 + MS20 * i as u32,
            &header(start.wrapping_add(i), 160 * i as u32),
        );
        assert_eq!(
            v,
            if i == 0 {
                SeqUpdate::Probation
            } else {
                SeqUpdate::InOrder
            },
            "{i}"
        );
    }
    // Probation swallowed the first packet (A.1): 99 counted, base is the second one.
    assert_eq!(s.packets_received(), 99);
    assert_eq!(s.expected(), 99);
    assert_eq!(s.cumulative_lost(), 0);
    assert_eq!(
        s.extended_highest_seq(),
        65536 + (start.wrapping_add(99)) as u32
    );
    assert_eq!(s.jitter(), 0, "perfectly paced packets have no jitter");
    let rb = s.report_block(t0 + Duration::from_secs(2)).unwrap();
    assert_eq!(
        (rb.fraction_lost, rb.cumulative_lost, rb.last_sr),
        (0, 0, 0)
    );
}

#[test]
fn loss_is_cumulative_and_fraction_is_per_interval() {
    let t0 = Instant::now();
    let mut s = ReceiveStats::new(Ssrc(7), 8000, Duration::from_secs(1), t0);
    // 2 probation packets, then 100 with every 10th lost.
    for i in 0..102u16 {
        if i >= 2 && i % 10 == 5 {
            continue;
        }
        s.on_packet(t0 + MS20 * i as u32, &header(i, 160 * i as u32));
    }
    assert_eq!(s.cumulative_lost(), 10);
    let rb = s.report_block(t0 + Duration::from_secs(3)).unwrap();
    assert_eq!(rb.cumulative_lost, 10);
    assert_eq!(rb.fraction_lost, (10 * 256 / 101) as u8);
    // Next interval without loss: fraction back to 0, cumulative stays.
    for i in 102..150u16 {
        s.on_packet(t0 + MS20 * i as u32, &header(i, 160 * i as u32));
    }
    let rb = s.report_block(t0 + Duration::from_secs(4)).unwrap();
    assert_eq!((rb.fraction_lost, rb.cumulative_lost), (0, 10));
}

#[test]
fn duplicates_make_loss_negative_and_late_packets_keep_max() {
    let t0 = Instant::now();
    let mut s = ReceiveStats::new(Ssrc(7), 8000, Duration::from_secs(1), t0);
    for i in 0..10u16 {
        s.on_packet(t0, &header(i, 0));
    }
    assert_eq!(s.on_packet(t0, &header(5, 0)), SeqUpdate::Late);
    assert_eq!(s.on_packet(t0, &header(6, 0)), SeqUpdate::Late);
    assert_eq!(s.extended_highest_seq(), 9);
    assert_eq!(s.cumulative_lost(), -2);
    let rb = s.report_block(t0).unwrap();
    assert_eq!(rb.fraction_lost, 0, "negative interval loss reports 0");
}

#[test]
fn a_confirmed_jump_restarts_and_a_single_one_is_ignored() {
    let t0 = Instant::now();
    let mut s = ReceiveStats::new(Ssrc(7), 8000, Duration::from_secs(1), t0);
    for i in 0..10u16 {
        s.on_packet(t0, &header(i, 0));
    }
    assert_eq!(s.on_packet(t0, &header(30_000, 0)), SeqUpdate::Jump);
    assert_eq!(s.on_packet(t0, &header(10, 0)), SeqUpdate::InOrder);
    assert_eq!(s.on_packet(t0, &header(40_000, 0)), SeqUpdate::Jump);
    assert_eq!(s.on_packet(t0, &header(40_001, 0)), SeqUpdate::Restarted);
    assert_eq!(s.on_packet(t0, &header(40_002, 0)), SeqUpdate::InOrder);
    assert_eq!(
        (s.packets_received(), s.expected(), s.cumulative_lost()),
        (2, 2, 0)
    );
}

#[test]
fn jitter_follows_the_a8_filter() {
    let t0 = Instant::now();
    let mut s = ReceiveStats::new(Ssrc(7), 8000, Duration::from_secs(1), t0);
    // Every other packet arrives 5 ms (40 timestamp units) late: |D| = 40 each time.
    let mut expect = 0.0f64;
    for i in 0..200u16 {
        let late = if i % 2 == 1 {
            Duration::from_millis(5)
        } else {
            Duration::ZERO
        };
        s.on_packet(t0 + MS20 * i as u32 + late, &header(i, 160 * i as u32));
        if i >= 2 {
            expect += (40.0 - expect) / 16.0;
        }
    }
    assert!(
        (s.jitter() as f64 - expect).abs() <= 1.0,
        "{} vs {expect}",
        s.jitter()
    );
    assert!((s.jitter_duration().as_secs_f64() - 0.005).abs() < 0.0002);
}

#[test]
fn rates_cover_the_sliding_window() {
    let t0 = Instant::now();
    let mut s = ReceiveStats::new(Ssrc(7), 8000, Duration::from_secs(1), t0);
    for i in 0..150u16 {
        s.on_packet(t0 + MS20 * i as u32, &header(i, 160 * i as u32));
    }
    let now = t0 + MS20 * 149;
    // 50 packet/s of 172 bytes: 68.8 kbit/s; the current bucket is partial, so allow one bucket.
    let pps = s.packet_rate(now);
    assert!((45.0..=50.0).contains(&pps), "{pps}");
    let bps = s.bitrate(now);
    assert!((61_000..=68_800).contains(&bps), "{bps}");
    assert_eq!(s.last_packet_at(), Some(now));
    assert_eq!(
        s.bitrate(now + Duration::from_secs(5)),
        0,
        "silence empties the window"
    );
}

#[test]
fn lsr_dlsr_and_rtt_roundtrip() {
    let t0 = Instant::now();
    let mut s = ReceiveStats::new(Ssrc(7), 8000, Duration::from_secs(1), t0);
    for i in 0..3u16 {
        s.on_packet(t0, &header(i, 0));
    }
    let sr_ntp: u64 = (3_900_000_000u64 << 32) | 0x8000_0000; // x.5 s
    s.on_sender_report(t0, sr_ntp);
    let rb = s.report_block(t0 + Duration::from_millis(250)).unwrap();
    assert_eq!(rb.last_sr, (sr_ntp >> 16) as u32);
    assert_eq!(rb.delay_since_last_sr, 65536 / 4);
    // The sender gets it back 100 ms after its SR + 250 ms hold: RTT 100 ms.
    let arrival = sr_ntp + (((350u64 << 32) / 1000) & !0xffff);
    let rtt = rtt_from_report(&rb, arrival).unwrap();
    assert!((rtt.as_secs_f64() - 0.100).abs() < 0.001, "{rtt:?}");
    assert_eq!(
        rtt_from_report(&ReportBlock { last_sr: 0, ..rb }, arrival),
        None
    );
    assert_eq!(
        rtt_from_report(&rb, sr_ntp),
        None,
        "negative RTT is rejected"
    );
}

#[test]
fn send_stats_fill_the_sender_report() {
    let mut s = SendStats::new();
    for i in 0..10 {
        s.on_packet(160, 160 * i);
    }
    let sr = s.sender_report(Ssrc(9), 1 << 32, 1600, vec![]);
    assert_eq!(
        (sr.packet_count, sr.octet_count, s.last_rtp_time()),
        (10, 1600, Some(1440))
    );
}

#[test]
fn sipp_g711a_capture_has_no_loss_and_sane_jitter() {
    let grams = common::udp_datagrams("sipp/g711a.pcap");
    assert_eq!(grams.len(), 236);
    let t0 = Instant::now();
    let first = grams[0].micros;
    let h0 = RtpHeader::parse(&grams[0].payload).unwrap();
    let mut s = ReceiveStats::new(h0.ssrc, 8000, Duration::from_secs(1), t0);
    for g in &grams {
        let h = RtpHeader::parse(&g.payload).unwrap();
        assert_eq!((h.payload_type, h.payload_len), (8, 240));
        s.on_packet(t0 + Duration::from_micros(g.micros - first), &h);
    }
    assert_eq!(s.packets_received(), 235);
    assert_eq!(s.cumulative_lost(), 0);
    let rb = s.report_block(t0 + Duration::from_secs(10)).unwrap();
    assert_eq!(rb.fraction_lost, 0);
    // 30 ms packets from a capture: jitter well under one packet time.
    assert!(
        s.jitter_duration() < Duration::from_millis(30),
        "{:?}",
        s.jitter_duration()
    );
}
