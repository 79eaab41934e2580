//! Garbage from unknown addresses, malformed packets and SSRC strays from one venue leave every
//! other venue's feed byte-for-byte unchanged, and each is dropped with a counted reason.
mod common;

use std::time::Duration;

use common::*;
use dais_media::*;

fn run(garbage: bool) -> (Vec<Vec<u8>>, Vec<Vec<u8>>, World) {
    let mut w = World::new(12, test_config());
    let a = w.add_venue(30);
    let b = w.add_venue(30);
    let feed_a = w.engine.create_feed(MediaKind::Video);
    let feed_b = w.engine.create_feed(MediaKind::Video);
    let ra = w.add_receiver(feed_a, 96);
    let rb = w.add_receiver(feed_b, 96);
    w.switch(feed_a, Some(a));
    w.switch(feed_b, Some(b));
    for step in 0..40 {
        w.run_for(Duration::from_millis(50));
        if garbage {
            let a_addr = w.venue(a).addr;
            let b_ssrc = w.venue(b).ssrc;
            // Unknown address claiming to be B (its SSRC, plausible numbers).
            let forged = rtp_packet(
                96,
                false,
                1,
                1,
                b_ssrc,
                &video_payload(
                    Tag {
                        venue: 99,
                        frame: 0,
                        index: 0,
                        keyframe_start: true,
                    },
                    true,
                ),
            );
            assert_eq!(
                w.inject(addr(200, 5000), forged),
                Some(DropReason::UnknownAddress)
            );
            // Truncated RTP, bad RTCP, STUN-looking bytes, unknown payload type, from A.
            assert_eq!(
                w.inject(a_addr, vec![0x80, 96, 0, 1, 0]),
                Some(DropReason::MalformedRtp)
            );
            assert_eq!(
                w.inject(a_addr, vec![0x80, 201, 0, 9, 1, 2, 3, 4]),
                Some(DropReason::MalformedRtcp)
            );
            assert_eq!(
                w.inject(a_addr, vec![0x00, 0x01, 0, 0]),
                Some(DropReason::NotRtp)
            );
            assert_eq!(
                w.inject(a_addr, rtp_packet(111, false, 1, 1, 5, &[0; 10])),
                Some(DropReason::UnknownPayloadType)
            );
            // One stray packet with B's SSRC from A's address: probation, not a new stream.
            if step % 10 == 0 {
                assert_eq!(
                    w.inject(
                        a_addr,
                        rtp_packet(96, false, 7, 7, b_ssrc, &[0x7c, 0x01, 0, 0])
                    ),
                    Some(DropReason::SsrcProbation)
                );
            }
        }
    }
    let la = w.log(ra).iter().map(|d| d.bytes.clone()).collect();
    let lb = w.log(rb).iter().map(|d| d.bytes.clone()).collect();
    (la, lb, w)
}

#[test]
fn other_venues_are_unaffected_and_drops_are_counted() {
    let (clean_a, clean_b, _) = run(false);
    let (dirty_a, dirty_b, w) = run(true);
    assert_eq!(
        clean_b, dirty_b,
        "B's receivers must see exactly the same bytes"
    );
    assert_eq!(clean_a, dirty_a, "A's own stream survives its garbage too");
    assert!(!clean_b.is_empty());
    let s = w.engine.stats();
    assert_eq!(s.dropped.get(DropReason::UnknownAddress), 40);
    assert_eq!(s.dropped.get(DropReason::MalformedRtp), 40);
    assert_eq!(s.dropped.get(DropReason::MalformedRtcp), 40);
    assert_eq!(s.dropped.get(DropReason::NotRtp), 40);
    assert_eq!(s.dropped.get(DropReason::UnknownPayloadType), 40);
    assert_eq!(s.dropped.get(DropReason::SsrcProbation), 4);
    let a_stats = w.engine.leg_stats(LegId(1)).unwrap();
    assert_eq!(a_stats.dropped.get(DropReason::MalformedRtp), 40);
    assert_eq!(w.engine.leg_stats(LegId(2)).unwrap().dropped.total(), 0);
    assert!(
        !w.events
            .iter()
            .any(|(_, e)| matches!(e, MediaEvent::SsrcChanged { .. }))
    );
}
