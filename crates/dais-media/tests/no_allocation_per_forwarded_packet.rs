//! Steady-state forwarding allocates nothing: `handle_datagram` + `apply` for a shown source,
//! for 1 and for 64 subscribers, counted by a global allocator (this test binary only).
mod common;

use std::time::{Duration, Instant};

use common::*;
use dais_media::*;

#[global_allocator]
static GLOBAL: dais_testkit::CountingAlloc = dais_testkit::CountingAlloc;

use dais_testkit::allocations;

fn forward_allocations(subscribers: u32) -> (u64, usize) {
    let t0 = Instant::now();
    let mut e = Engine::new(test_config());
    let src = addr(1, 5000);
    e.add_leg(t0, LegId(1), video_leg(src, VIDEO_PT, true, false))
        .unwrap();
    // A second source that is shown by another feed, to have more than one feed around.
    e.add_leg(
        t0,
        LegId(2),
        video_leg(addr(2, 5000), VIDEO_PT, true, false),
    )
    .unwrap();
    let feed = e.create_feed(MediaKind::Video);
    let other = e.create_feed(MediaKind::Video);
    for i in 0..subscribers {
        let a = std::net::SocketAddr::from(([10, 9, (i / 200) as u8, (i % 200) as u8 + 1], 7000));
        e.add_leg(
            t0,
            LegId(100 + i),
            video_leg(a, if i % 2 == 0 { 96 } else { 97 }, false, true),
        )
        .unwrap();
        e.subscribe(t0, LegId(100 + i), feed).unwrap();
    }
    e.switch(t0, feed, Some(LegId(1))).unwrap();
    e.switch(t0, other, Some(LegId(2))).unwrap();

    let payload_kf = video_payload(
        Tag {
            venue: 1,
            frame: 0,
            index: 0,
            keyframe_start: true,
        },
        true,
    );
    let payload = video_payload(
        Tag {
            venue: 1,
            frame: 1,
            index: 1,
            keyframe_start: false,
        },
        false,
    );
    let mut buf = Vec::with_capacity(1500);
    let mut now = t0;
    let mut sends = 0usize;
    let mut run = |e: &mut Engine, n: u32, seq0: u16, now: &mut Instant, counting: bool| -> u64 {
        let mut allocs = 0;
        for i in 0..n {
            *now += Duration::from_micros(300);
            let seq = seq0.wrapping_add(i as u16);
            let p = if seq0 == 0 && i == 0 {
                &payload_kf
            } else {
                &payload
            };
            buf.clear();
            buf.extend_from_slice(&rtp_packet(
                VIDEO_PT,
                i % 4 == 3,
                seq,
                3000 * (i / 4),
                0xabc,
                p,
            ));
            let before = allocations();
            if let Routed::Forward(f) = e.handle_datagram(*now, src, &buf) {
                for fwd in f.iter() {
                    apply(&fwd, &mut buf);
                    for g in fwd.groups {
                        g.apply(&fwd.rewrite, &mut buf);
                        sends += std::hint::black_box(g.destinations()).len();
                    }
                }
            } else {
                panic!("not forwarded");
            }
            if counting {
                allocs += allocations() - before;
            }
        }
        allocs
    };
    // Warm-up: the cut-over, first-use buffers, a full turn of the retransmission ring.
    let _ = run(&mut e, 1000, 0, &mut now, false);
    let allocs = run(&mut e, 5000, 1000, &mut now, true);
    (allocs, sends)
}

#[test]
fn zero_allocations_per_forwarded_packet() {
    // The counter works: an allocation on this thread is seen.
    let before = allocations();
    std::hint::black_box(vec![0u8; 64]);
    assert!(allocations() > before);
    for k in [1, 64] {
        let (allocs, sends) = forward_allocations(k);
        assert_eq!(
            allocs, 0,
            "{allocs} allocations for 5000 packets with {k} subscribers"
        );
        assert_eq!(sends, 6000 * k as usize);
    }
}
