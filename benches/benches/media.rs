//! Media engine benchmarks.
//!
//! - `media/forward/K`: one RTP packet of a shown source through `handle_datagram` plus the
//!   shell's in-place `apply` (header once, payload type per group) for a feed with K
//!   subscribers in two payload-type groups. The fan-out batch is built, not sent. The scenario
//!   lives in `dais_benches::forward_scenario`, shared with the `forward_instructions` driver.
//! - `media/forward_nack_ring/N`: `media/forward/16` with a NACK ring of N slots per video
//!   feed (512 is the default; 0 turns the copy into the ring off), to see what the copy costs.
//! - `media/switch_decision/gated`: a packet from a pending switch target that is not a
//!   keyframe (the decision to hold it back).
//! - `media/switch_decision/cutover`: `switch` to the other source plus its keyframe packet
//!   (request, gate, cut-over, new mapping), alternating between two sources.
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dais_benches::forward_scenario::{ForwardScenario, leg, packet, src_addr};
use dais_media::{Engine, EngineConfig, LegId, MediaKind, Routed};

fn forward(c: &mut Criterion) {
    let mut g = c.benchmark_group("media/forward");
    for k in [1u32, 4, 16, 64, 256] {
        let mut s = ForwardScenario::new(k);
        g.throughput(Throughput::Elements(1));
        g.bench_with_input(BenchmarkId::from_parameter(k), &k, |b, _| {
            b.iter(|| black_box(s.step()))
        });
    }
    g.finish();
}

fn nack_ring(c: &mut Criterion) {
    let mut g = c.benchmark_group("media/forward_nack_ring");
    for slots in [0usize, 512] {
        let cfg = EngineConfig {
            nack_cache: slots,
            ..EngineConfig::default()
        };
        let mut s = ForwardScenario::with_config(16, cfg);
        g.throughput(Throughput::Elements(1));
        g.bench_with_input(BenchmarkId::from_parameter(slots), &slots, |b, _| {
            b.iter(|| black_box(s.step()))
        });
    }
    g.finish();
}

fn switch_decision(c: &mut Criterion) {
    let mut g = c.benchmark_group("media/switch_decision");
    let t0 = Instant::now();
    let mut e = Engine::new(EngineConfig::default());
    e.add_leg(t0, LegId(1), leg(src_addr(1), 96, true, false))
        .unwrap();
    e.add_leg(t0, LegId(2), leg(src_addr(2), 96, true, false))
        .unwrap();
    e.add_leg(t0, LegId(3), leg(src_addr(3), 96, false, true))
        .unwrap();
    let feed = e.create_feed(MediaKind::Video);
    e.subscribe(t0, LegId(3), feed).unwrap();
    e.switch(t0, feed, Some(LegId(1))).unwrap();
    let mut now = t0;
    let _ = e.handle_datagram(now, src_addr(1), &packet(0, 0, 0xa, true));
    e.switch(now, feed, Some(LegId(2))).unwrap();
    while e.poll_transmit().is_some() {}
    while e.poll_event().is_some() {}
    let mut seq = 0u16;
    let mut buf = packet(0, 0, 0xb, false);
    g.bench_function("gated", |b| {
        b.iter(|| {
            seq = seq.wrapping_add(1);
            buf[2..4].copy_from_slice(&seq.to_be_bytes());
            black_box(matches!(
                e.handle_datagram(now, src_addr(2), &buf),
                Routed::Dropped(_)
            ))
        })
    });

    let mut seqs = [1000u16, 2000u16];
    let mut which = 0usize;
    let mut pkts = [packet(0, 0, 0xa, true), packet(0, 0, 0xb, true)];
    g.bench_function("cutover", |b| {
        b.iter(|| {
            which ^= 1;
            now += Duration::from_millis(1);
            e.switch(now, feed, Some(LegId(which as u32 + 1))).unwrap();
            seqs[which] = seqs[which].wrapping_add(1);
            let p = &mut pkts[which];
            p[2..4].copy_from_slice(&seqs[which].to_be_bytes());
            let fwd = matches!(
                e.handle_datagram(now, src_addr(which as u8 + 1), p),
                Routed::Forward(_)
            );
            // Drain what the switch produced (keyframe request, events) like the shell would.
            while e.poll_transmit().is_some() {}
            while e.poll_event().is_some() {}
            if e.poll_timeout().is_some_and(|t| t <= now) {
                e.handle_timeout(now);
            }
            black_box(fwd)
        })
    });
    g.finish();
}

criterion_group!(benches, forward, nack_ring, switch_decision);
criterion_main!(benches);
