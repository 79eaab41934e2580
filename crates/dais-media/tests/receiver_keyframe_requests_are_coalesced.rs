//! 500 receivers' PLIs for a feed become one keyframe request to its source per
//! `pli_min_interval`, addressed with the source's SSRC.
mod common;

use std::time::Duration;

use common::*;
use dais_media::*;

#[test]
fn many_plis_make_one_request_per_interval() {
    let mut w = World::new(14, test_config());
    let a = w.add_venue(10_000);
    let feed = w.engine.create_feed(MediaKind::Video);
    let rx: Vec<LegId> = (0..500).map(|_| w.add_receiver(feed, 96)).collect();
    w.switch(feed, Some(a));
    w.run_for(Duration::from_secs(1));
    let before = w.venue(a).requests_received;
    let feed_ssrc = w.engine.feed_info(feed).unwrap().ssrc;

    // Every receiver sends a PLI, five times over one second.
    for _ in 0..5 {
        for r in &rx {
            let from = w.receiver_legs[r];
            let pli = dais_rtp::rtcp::build_pli(Ssrc(0x5000 + r.0), feed_ssrc).to_vec();
            assert_eq!(w.inject(from, pli), None);
        }
        w.run_for(Duration::from_millis(200));
    }
    let sent = w.venue(a).requests_received - before;
    // 1 s at one request per 500 ms: the first at once, then at most one deferred per interval.
    assert!((2..=3).contains(&sent), "{sent} requests for 2500 PLIs");
    assert!(w.engine.stats().keyframe_requests_coalesced >= 2490);
    // The request carries the source's SSRC as media SSRC (bytes 16..20 of RR+PLI).
    let a_ssrc = w.venue(a).ssrc;
    let a_addr = w.venue(a).addr;
    let (_, t) = w
        .transmits
        .iter()
        .rev()
        .find(|(_, t)| t.destination == a_addr && t.contents.get(9) == Some(&206))
        .unwrap();
    assert_eq!(&t.contents[16..20], &a_ssrc.to_be_bytes());
}

#[test]
fn pli_from_a_non_subscriber_is_ignored() {
    let mut w = World::new(15, test_config());
    let a = w.add_venue(10_000);
    let b = w.add_venue(10_000);
    let feed = w.engine.create_feed(MediaKind::Video);
    w.add_receiver(feed, 96);
    w.switch(feed, Some(a));
    w.run_for(Duration::from_secs(1));
    let before = w.venue(a).requests_received;
    let feed_ssrc = w.engine.feed_info(feed).unwrap().ssrc;
    let b_addr = w.venue(b).addr;
    w.inject(
        b_addr,
        dais_rtp::rtcp::build_pli(Ssrc(1), feed_ssrc).to_vec(),
    );
    w.run_for(Duration::from_millis(600));
    assert_eq!(w.venue(a).requests_received, before);
}

#[test]
fn a_keyframe_wanted_by_sip_info_reaches_the_source_the_receiver_watches() {
    let mut w = World::new(16, test_config());
    let a = w.add_venue(10_000);
    let b = w.add_venue(10_000);
    let feed = w.engine.create_feed(MediaKind::Video);
    let rx = w.add_receiver(feed, 96);
    w.switch(feed, Some(a));
    w.run_for(Duration::from_secs(1));
    let (a0, b0) = (w.venue(a).requests_received, w.venue(b).requests_received);

    w.engine.keyframe_wanted_by(w.now, rx);
    w.run_for(Duration::from_millis(20));
    assert_eq!(
        w.venue(a).requests_received,
        a0 + 1,
        "the watched source is asked"
    );
    assert_eq!(w.venue(b).requests_received, b0, "nobody else is");

    // A leg that watches nothing, and an unknown leg, ask nobody.
    w.engine.keyframe_wanted_by(w.now, a);
    w.engine.keyframe_wanted_by(w.now, LegId(999));
    w.run_for(Duration::from_millis(20));
    assert_eq!(w.venue(a).requests_received, a0 + 1);
    assert_eq!(w.venue(b).requests_received, b0);

    // Prefetching asks the named source directly, ahead of a switch.
    w.engine.prefetch_keyframe(w.now, b);
    w.run_for(Duration::from_millis(20));
    assert_eq!(w.venue(b).requests_received, b0 + 1);
}
