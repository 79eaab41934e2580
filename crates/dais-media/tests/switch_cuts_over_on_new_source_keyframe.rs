//! After switch(B), every receiver gets B's keyframe first and nothing of B before it;
//! sequence numbers continue across switches, timestamps stay monotonic, the SSRC is the feed's.
mod common;

use std::time::Duration;

use common::*;
use dais_media::*;

#[test]
fn every_receiver_sees_the_new_source_start_on_its_keyframe() {
    let mut w = World::new(1, test_config());
    let a = w.add_venue(90);
    let b = w.add_venue(90);
    let c = w.add_venue(90);
    let feed = w.engine.create_feed(MediaKind::Video);
    // Receivers negotiated different payload types: grouped and mapped per receiver.
    let rx: Vec<LegId> = (0..6)
        .map(|i| w.add_receiver(feed, if i % 2 == 0 { 96 } else { 97 }))
        .collect();

    w.switch(feed, Some(a));
    w.run_for(Duration::from_secs(1));
    w.switch(feed, Some(b));
    w.run_for(Duration::from_secs(1));
    w.switch(feed, Some(c));
    w.run_for(Duration::from_secs(1));
    w.switch(feed, Some(a));
    w.run_for(Duration::from_millis(500));

    let done = w.completed();
    assert_eq!(done.iter().map(|d| d.0).collect::<Vec<_>>(), [a, b, c, a]);
    assert!(
        done.iter().all(|d| !d.2),
        "no switch should be forced: {done:?}"
    );
    // Venues answer a keyframe request after 40 ms; the next frame carries it.
    assert!(
        done.iter()
            .skip(1)
            .all(|d| d.1 < Duration::from_millis(150)),
        "{done:?}"
    );

    let ssrc = w.engine.feed_info(feed).unwrap().ssrc;
    for (i, r) in rx.iter().enumerate() {
        let log = w.log(*r);
        assert_clean_stream(log);
        assert_eq!(log[0].feed_ssrc, ssrc.0);
        assert!(
            log[0].tag.unwrap().keyframe_start,
            "stream must start on a keyframe"
        );
        let want_pt = if i % 2 == 0 { 96 } else { 97 };
        assert!(
            log.iter().all(|d| d.pt == want_pt),
            "payload type not mapped per receiver"
        );
        let venues: Vec<u32> = log.iter().map(|d| d.tag.unwrap().venue).collect();
        let mut order = venues.clone();
        order.dedup();
        assert_eq!(order, [a.0, b.0, c.0, a.0]);
    }
    // Every receiver got the same packets.
    let first: Vec<u16> = w.log(rx[0]).iter().map(|d| d.seq).collect();
    for r in &rx[1..] {
        assert_eq!(w.log(*r).iter().map(|d| d.seq).collect::<Vec<_>>(), first);
    }
    // A and C kept sending while not shown: counted as NotShown / AwaitingKeyframe, never forwarded.
    assert!(w.engine.stats().dropped.get(DropReason::NotShown) > 0);
    assert!(w.engine.stats().dropped.get(DropReason::AwaitingKeyframe) > 0);
}

#[test]
fn old_source_stays_on_screen_until_the_keyframe_arrives() {
    let mut w = World::new(2, test_config());
    let a = w.add_venue(1000);
    let b = w.add_venue(1000);
    w.venue(b).answer_delay = Some(Duration::from_millis(300));
    let feed = w.engine.create_feed(MediaKind::Video);
    let r = w.add_receiver(feed, 96);
    w.switch(feed, Some(a));
    w.run_for(Duration::from_millis(500));
    w.switch(feed, Some(b));
    let switched_at = w.now;
    w.run_for(Duration::from_millis(700));
    let log = w.log(r);
    assert_clean_stream(log);
    let first_b = log
        .iter()
        .position(|d| d.tag.unwrap().venue == b.0)
        .unwrap();
    // A was forwarded right up to the cut-over, 300+ ms after the request.
    assert!(log[first_b - 1].tag.unwrap().venue == a.0);
    assert!(log[first_b - 1].at >= switched_at + Duration::from_millis(290));
    assert!(log[first_b].at >= switched_at + Duration::from_millis(300));
}

#[test]
fn impaired_network_keeps_the_gating_invariants() {
    let mut w = World::new(3, test_config());
    w.impairment = Impairment {
        loss: 0.03,
        jitter_ms: 30,
    };
    let a = w.add_venue(30);
    let b = w.add_venue(30);
    let feed = w.engine.create_feed(MediaKind::Video);
    let r = w.add_receiver(feed, 96);
    for i in 0..8 {
        w.switch(feed, Some(if i % 2 == 0 { a } else { b }));
        w.run_for(Duration::from_millis(700));
    }
    let log = w.log(r);
    assert!(log.len() > 300);
    let mut seen = std::collections::HashSet::new();
    let mut highest = log[0].seq;
    for (i, d) in log.iter().enumerate() {
        assert!(seen.insert(d.seq), "duplicate output sequence {}", d.seq);
        assert_eq!(d.feed_ssrc, log[0].feed_ssrc);
        if i > 0 && d.tag.unwrap().venue != log[i - 1].tag.unwrap().venue {
            // Across a cut-over: keyframe first, sequence continues from the highest so far.
            let t = d.tag.unwrap();
            let newest_from_new = log[..i]
                .iter()
                .rev()
                .find(|x| x.tag.unwrap().venue == t.venue);
            if newest_from_new.is_none_or(|x| x.tag.unwrap().frame < t.frame) {
                assert!(t.keyframe_start, "cut-over on a non-keyframe: {t:?}");
                assert_eq!(d.seq, highest.wrapping_add(1));
            }
        }
        if (d.seq.wrapping_sub(highest) as i16) > 0 {
            highest = d.seq;
        }
    }
}
