//! Switching back to a venue moments after its last keyframe request was answered asks it for a
//! new keyframe at once. The request de-duplication (two feeds switching to one venue together
//! share one request) must not treat an already-answered request as pending: that made one
//! quick switch in ten wait a whole retry interval (found by the API latency measurement).
mod common;

use std::time::Duration;

use common::*;
use dais_media::*;

#[test]
fn switching_away_and_back_within_the_dedup_window_still_requests_a_keyframe() {
    let mut w = World::new(11, test_config());
    let a = w.add_venue(10_000); // keyframes only on request
    let b = w.add_venue(10_000);
    let feed = w.engine.create_feed(MediaKind::Video);
    let r = w.add_receiver(feed, 96);
    w.switch(feed, Some(a));
    w.run_for(Duration::from_millis(400));
    w.switch(feed, Some(b));
    // B answers its request (the simulated encoder takes 40 ms) …
    w.run_for(Duration::from_millis(60));
    // … and the chair switches away and straight back to B, within half a retry interval of
    // B's request.
    w.switch(feed, Some(a));
    w.run_for(Duration::from_millis(50));
    w.switch(feed, Some(b));
    w.run_for(Duration::from_millis(400));

    let done = w.completed();
    let (to, latency, forced) = *done.last().unwrap();
    assert_eq!(to, b);
    assert!(!forced);
    assert!(
        latency < test_config().keyframe_retry,
        "the switch back waited for a retry: {latency:?}"
    );
    assert_clean_stream(w.log(r));
}
