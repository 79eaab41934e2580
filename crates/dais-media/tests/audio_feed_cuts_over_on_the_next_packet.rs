//! Audio feeds do not wait for keyframes: they cut over on the new source's next packet, with
//! continuous numbering, and never ask for a keyframe.
mod common;

use std::time::{Duration, Instant};

use common::*;
use dais_media::*;

#[test]
fn audio_switch_is_immediate_and_continuous() {
    let t0 = Instant::now();
    let mut e = Engine::new(test_config());
    let (a, b, r) = (LegId(1), LegId(2), LegId(3));
    e.add_leg(t0, a, video_leg(addr(1, 5000), 96, true, true))
        .unwrap();
    e.add_leg(t0, b, video_leg(addr(2, 5000), 96, true, true))
        .unwrap();
    e.add_leg(t0, r, video_leg(addr(3, 5000), 96, false, true))
        .unwrap();
    let feed = e.create_feed(MediaKind::Audio);
    e.subscribe(t0, r, feed).unwrap();
    e.switch(t0, feed, Some(a)).unwrap();
    let mut out = Vec::new();
    let mut now = t0;
    for i in 0..100u16 {
        now += Duration::from_millis(20);
        if i == 50 {
            e.switch(now, feed, Some(b)).unwrap();
        }
        for (leg, base) in [(a, 1000u16), (b, 60000u16)] {
            let pkt = rtp_packet(
                AUDIO_PT,
                false,
                base.wrapping_add(i),
                160 * u32::from(i),
                0x100 + leg.0,
                &[0xd5; 160],
            );
            if let Routed::Forward(f) = e.handle_datagram(
                now,
                if leg == a {
                    addr(1, 5000)
                } else {
                    addr(2, 5000)
                },
                &pkt,
            ) {
                let fw = f.get(0).unwrap();
                assert_eq!(fw.groups[0].payload_type(), AUDIO_PT);
                out.push((leg, fw.rewrite));
            }
        }
    }
    // At the switch A's packet still goes out (A shows until B's first packet), then B's.
    assert_eq!(out.len(), 101);
    assert!(out[..51].iter().all(|(l, _)| *l == a));
    assert!(out[51..].iter().all(|(l, _)| *l == b));
    for pair in out.windows(2) {
        assert_eq!(pair[1].1.sequence, pair[0].1.sequence.wrapping_add(1));
        let dt = pair[1].1.timestamp.wrapping_sub(pair[0].1.timestamp);
        assert!(dt > 0 && dt <= 160, "{dt}");
    }
    let mut kf = 0;
    while let Some(ev) = e.poll_event() {
        kf += usize::from(matches!(ev, MediaEvent::KeyframeRequested { .. }));
    }
    assert_eq!(kf, 0);
}
