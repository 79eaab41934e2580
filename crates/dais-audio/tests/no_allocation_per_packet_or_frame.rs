//! Steady state allocates nothing: `handle_rtp` for every venue plus `handle_timeout` and the
//! drain of outputs and events, counted by a global allocator (this test binary only).
mod common;

use std::time::Duration;

use common::*;
use dais_audio::*;

#[global_allocator]
static GLOBAL: dais_testkit::CountingAlloc = dais_testkit::CountingAlloc;

use dais_testkit::allocations;

#[test]
fn no_allocation_per_packet_or_frame() {
    let mut m = Mixer::new(MixerConfig::default()).unwrap();
    let mut tones: Vec<Tone> = (0..32)
        .map(|i| {
            Tone::new(
                i,
                if i % 2 == 0 { Codec::Pcmu } else { Codec::Pcma },
                300.0 + 50.0 * i as f64,
                3000.0,
            )
        })
        .collect();
    for t in &tones {
        m.add_source(t.id, t.codec, t.pt, 8000).unwrap();
        let ptime = Duration::from_millis(if t.id.0 % 3 == 0 { 40 } else { 20 });
        m.add_receiver(t.id, t.codec, t.pt, ptime).unwrap();
    }
    m.set_main(Some(VenueId(5)));
    // Packets are built before counting; the mixer's work is what is measured.
    let packets: Vec<Vec<Vec<u8>>> = (0..400)
        .map(|_| tones.iter_mut().map(|t| t.packet()).collect())
        .collect();
    let t0 = std::time::Instant::now();
    let mut run = |from: usize, to: usize| {
        let before = allocations();
        let mut outs = 0u64;
        for (k, frame) in packets.iter().enumerate().take(to).skip(from) {
            let now = t0 + FRAME * k as u32;
            for (t, p) in tones.iter().zip(frame) {
                let _ = m.handle_rtp(now, t.id, p);
            }
            m.handle_timeout(now + Duration::from_millis(5));
            while let Some((_, p)) = m.poll_output() {
                outs += std::hint::black_box(p.payload.len()) as u64;
            }
            while m.poll_event().is_some() {}
        }
        (allocations() - before, outs)
    };
    // Warm-up: queues reach their steady capacity.
    run(0, 100);
    let (allocs, outs) = run(100, 400);
    assert!(outs > 0);
    assert_eq!(
        allocs, 0,
        "allocations in 300 steady-state frames of 32 venues"
    );
}
