//! A source that never produces a keyframe is cut over to after `switch_timeout`, reported
//! as forced, and asked for a keyframe again.
mod common;

use std::time::Duration;

use common::*;
use dais_media::*;

#[test]
fn switch_without_keyframe_is_forced_after_the_timeout() {
    let mut w = World::new(6, test_config());
    let a = w.add_venue(10_000);
    let b = w.add_venue(10_000);
    w.venue(b).answer_delay = None;
    let feed = w.engine.create_feed(MediaKind::Video);
    let r = w.add_receiver(feed, 96);
    w.switch(feed, Some(a));
    w.run_for(Duration::from_millis(300));
    w.switch(feed, Some(b));
    w.run_for(Duration::from_millis(1900));
    assert_eq!(w.completed().len(), 1, "only the switch to A so far");
    w.run_for(Duration::from_millis(300));
    let (to, latency, forced) = *w.completed().last().unwrap();
    assert_eq!(to, b);
    assert!(forced);
    assert!(
        latency >= Duration::from_secs(2) && latency < Duration::from_millis(2100),
        "{latency:?}"
    );
    assert_eq!(w.engine.stats().forced_switches, 1);

    // Sequence continuity holds even though B did not start on a keyframe.
    let log = w.log(r);
    for pair in log.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq.wrapping_add(1));
        assert!((pair[1].ts.wrapping_sub(pair[0].ts) as i32) > 0 || pair[1].ts == pair[0].ts);
    }
    assert!(log.last().unwrap().tag.unwrap().venue == b.0);
    // 8 retries over 2 s, and one more request after the forced cut-over.
    assert!(
        w.venue(b).requests_received >= 9,
        "{}",
        w.venue(b).requests_received
    );
}
