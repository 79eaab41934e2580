//! dais-rtp micro-benchmarks: the per-packet header path and the RTCP the router handles.
use std::hint::black_box;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dais_rtp::rtcp::{
    ReceiverReport, ReportBlock, SenderReport, build_pli, build_receiver_report, build_remb,
    build_sender_report, compound, parse_compound,
};
use dais_rtp::{RtpHeader, Ssrc, rewrite_header};

/// A 1200-byte video packet with one CSRC and a one-byte extension block (audio level + abs time).
fn video_packet() -> Vec<u8> {
    let mut p = vec![
        0x91, 96, 0x12, 0x34, 0, 1, 0x5f, 0x90, 0xde, 0xad, 0xbe, 0xef,
    ];
    p.extend_from_slice(&[0, 0, 0, 1]);
    p.extend_from_slice(&[0xbe, 0xde, 0, 2, 0x10, 0x85, 0x32, 1, 2, 3, 0, 0]);
    p.resize(1200, 0x42);
    p
}

fn block(ssrc: u32) -> ReportBlock {
    ReportBlock {
        ssrc: Ssrc(ssrc),
        fraction_lost: 3,
        cumulative_lost: 17,
        extended_highest_seq: 0x0001_2345,
        jitter: 120,
        last_sr: 0x1234_5678,
        delay_since_last_sr: 4096,
    }
}

fn rtp(c: &mut Criterion) {
    let pkt = video_packet();
    c.bench_function("rtp/parse", |b| {
        b.iter(|| RtpHeader::parse(black_box(&pkt)))
    });

    let mut buf = pkt.clone();
    let mut seq = 0u16;
    c.bench_function("rtp/rewrite_header", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            rewrite_header(black_box(&mut buf), Ssrc(0x1234abcd), seq, 90 * seq as u32);
        })
    });

    let mut group = c.benchmark_group("rtp/rewrite_per_receiver");
    for k in [1usize, 4, 16, 64, 256] {
        let mut bufs: Vec<Vec<u8>> = (0..k).map(|_| pkt.clone()).collect();
        let params: Vec<(Ssrc, u16, u32)> = (0..k)
            .map(|i| (Ssrc(0x1000 + i as u32), (i * 7) as u16, (i * 9000) as u32))
            .collect();
        group.throughput(Throughput::Elements(k as u64));
        group.bench_with_input(BenchmarkId::from_parameter(k), &k, |b, _| {
            b.iter(|| {
                for (buf, &(ssrc, seq, ts)) in bufs.iter_mut().zip(&params) {
                    rewrite_header(black_box(buf), ssrc, seq, ts);
                }
            })
        });
    }
    group.finish();
}

fn rtcp(c: &mut Criterion) {
    let rr_remb = compound(&[
        build_receiver_report(&ReceiverReport {
            ssrc: Ssrc(1),
            reports: vec![block(0xf2892c59)],
        })
        .unwrap(),
        build_remb(Ssrc(1), 2_791_744, &[Ssrc(0xf2892c59)]).unwrap(),
    ]);
    c.bench_function("rtcp/parse_compound", |b| {
        b.iter(|| parse_compound(black_box(&rr_remb)))
    });
    c.bench_function("rtcp/build_pli", |b| {
        b.iter(|| build_pli(black_box(Ssrc(1)), black_box(Ssrc(2))))
    });
    let sr = SenderReport {
        ssrc: Ssrc(1),
        ntp_time: 0xe000_0000_8000_0000,
        rtp_time: 90_000,
        packet_count: 1000,
        octet_count: 1_200_000,
        reports: vec![block(2)],
    };
    c.bench_function("rtcp/build_sr", |b| {
        b.iter(|| build_sender_report(black_box(&sr)))
    });
}

criterion_group!(benches, rtp, rtcp);
criterion_main!(benches);
