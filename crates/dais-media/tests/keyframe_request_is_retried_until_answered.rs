//! A lost keyframe request is repeated every `keyframe_retry` until the keyframe arrives.
mod common;

use std::time::Duration;

use common::*;
use dais_media::*;

#[test]
fn lost_requests_are_retried_and_the_switch_completes() {
    let mut w = World::new(4, test_config());
    let a = w.add_venue(10_000);
    let b = w.add_venue(10_000); // no periodic keyframes: only requests produce them
    w.venue(b).lose_requests = 2;
    let feed = w.engine.create_feed(MediaKind::Video);
    let r = w.add_receiver(feed, 96);
    w.switch(feed, Some(a));
    w.run_for(Duration::from_millis(300));
    w.switch(feed, Some(b));
    w.run_for(Duration::from_millis(1500));

    assert_eq!(
        w.venue(b).requests_received,
        3,
        "two lost, the third answered"
    );
    let done = w.completed();
    let (to, latency, forced) = *done.last().unwrap();
    assert_eq!(to, b);
    assert!(!forced);
    // Third request goes out at +500 ms (retry 250 ms), answered 40 ms later.
    assert!(
        latency >= Duration::from_millis(540) && latency < Duration::from_millis(700),
        "{latency:?}"
    );
    assert_clean_stream(w.log(r));
    // Receiver reports go there too; each keyframe request is RR+PLI+FIR to the venue's RTCP address (rtcp-mux here: its RTP address).
    let b_addr = w.venue(b).addr;
    let reqs: Vec<_> = w
        .transmits
        .iter()
        .filter(|(_, t)| t.destination == b_addr && t.contents.get(9) == Some(&206))
        .collect();
    assert_eq!(reqs.len(), 3);
    assert!(
        reqs.iter()
            .all(|(_, t)| t.socket == LocalSocket::Rtp && t.contents.len() == 40)
    );
}

#[test]
fn retries_stop_once_the_switch_completes() {
    let mut w = World::new(5, test_config());
    let a = w.add_venue(10_000);
    let feed = w.engine.create_feed(MediaKind::Video);
    w.add_receiver(feed, 96);
    w.switch(feed, Some(a));
    w.run_for(Duration::from_secs(3));
    assert_eq!(w.venue(a).requests_received, 1);
}
