//! Property: for arbitrary switch sequences, keyframe patterns and (wrapping) input sequence
//! numbers and timestamps, a feed's output keeps its invariants: sequence numbers continue by
//! exactly one, timestamps never go backwards, the SSRC is constant, a new source starts on a
//! keyframe (unless the switch was forced), and only the commanded source ever appears.
mod common;

use std::time::{Duration, Instant};

use common::*;
use dais_media::*;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Packet {
        src: usize,
        keyframe: bool,
        advance_ms: u64,
    },
    Switch {
        src: Option<usize>,
    },
    Wait {
        ms: u64,
    },
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        8 => (0..3usize, prop::bool::weighted(0.1), 0..40u64)
            .prop_map(|(src, keyframe, advance_ms)| Op::Packet { src, keyframe, advance_ms }),
        2 => prop::option::weighted(0.9, 0..3usize).prop_map(|src| Op::Switch { src }),
        1 => (0..3000u64).prop_map(|ms| Op::Wait { ms }),
    ]
}

struct Src {
    seq: u16,
    ts: u32,
    ssrc: u32,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    #[test]
    fn output_invariants(
        starts in prop::collection::vec((any::<u16>(), any::<u32>(), 1..u32::MAX), 3),
        ops in prop::collection::vec(op(), 1..300),
        audio in any::<bool>(),
    ) {
        let t0 = Instant::now();
        let mut now = t0;
        let mut e = Engine::new(test_config());
        let kind = if audio { MediaKind::Audio } else { MediaKind::Video };
        let pt = if audio { AUDIO_PT } else { VIDEO_PT };
        for i in 0..3u32 {
            e.add_leg(now, LegId(i), video_leg(addr(i as u8 + 1, 5000), VIDEO_PT, true, false)).unwrap();
        }
        e.add_leg(now, LegId(9), video_leg(addr(50, 5000), VIDEO_PT, false, true)).unwrap();
        let feed = e.create_feed(kind);
        e.subscribe(now, LegId(9), feed).unwrap();
        let feed_ssrc = e.feed_info(feed).unwrap().ssrc;
        let mut srcs: Vec<Src> = starts.iter().map(|&(seq, ts, ssrc)| Src { seq, ts, ssrc }).collect();

        let mut target: Option<usize> = None;
        let mut shown: Option<usize> = None;
        let mut last: Option<(u16, u32)> = None;
        let mut forced_pending = false;
        for op in ops {
            match op {
                Op::Switch { src } => {
                    e.switch(now, feed, src.map(|s| LegId(s as u32))).unwrap();
                    target = src;
                    if src.is_none() { shown = None; }
                }
                Op::Wait { ms } => {
                    now += Duration::from_millis(ms);
                    e.handle_timeout(now);
                }
                Op::Packet { src, keyframe, advance_ms } => {
                    now += Duration::from_millis(advance_ms);
                    if e.poll_timeout().is_some_and(|t| t <= now) { e.handle_timeout(now); }
                    let s = &mut srcs[src];
                    let payload = video_payload(Tag { venue: src as u32, frame: 0, index: 0, keyframe_start: keyframe }, keyframe);
                    let pkt = rtp_packet(pt, false, s.seq, s.ts, s.ssrc, &payload);
                    s.seq = s.seq.wrapping_add(1);
                    s.ts = s.ts.wrapping_add(3000);
                    let routed = e.handle_datagram(now, addr(src as u8 + 1, 5000), &pkt);
                    let fwd = match routed {
                        Routed::Forward(f) => { prop_assert_eq!(f.len(), 1); Some(f.get(0).unwrap().rewrite) }
                        Routed::Dropped(_) => None,
                        Routed::Consumed | Routed::Audio { .. } => { prop_assert!(false, "RTP consumed"); None }
                    };
                    while let Some(ev) = e.poll_event() {
                        if let MediaEvent::SwitchCompleted { forced: true, .. } = ev { forced_pending = true; }
                    }
                    let Some(r) = fwd else { continue };
                    prop_assert_eq!(r.ssrc, feed_ssrc);
                    if let Some((seq, ts)) = last {
                        prop_assert_eq!(r.sequence, seq.wrapping_add(1));
                        prop_assert!((r.timestamp.wrapping_sub(ts) as i32) >= 0, "timestamp went back");
                    }
                    if shown != Some(src) {
                        prop_assert_eq!(target, Some(src), "forwarded a source nobody asked for");
                        if kind == MediaKind::Video {
                            prop_assert!(keyframe || forced_pending, "cut over on a non-keyframe");
                        }
                        if last.is_some() {
                            prop_assert!(r.timestamp != last.unwrap().1, "cut-over frame shares the old timestamp");
                        }
                        shown = Some(src);
                    }
                    forced_pending = false;
                    last = Some((r.sequence, r.timestamp));
                }
            }
        }
    }
}
