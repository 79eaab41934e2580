//! A second switch while the first waits for its keyframe replaces the target: the first
//! target never reaches the receivers.
mod common;

use std::time::Duration;

use common::*;
use dais_media::*;

#[test]
fn pending_target_is_replaced() {
    let mut w = World::new(7, test_config());
    let a = w.add_venue(10_000);
    let b = w.add_venue(10_000);
    let c = w.add_venue(10_000);
    w.venue(b).answer_delay = Some(Duration::from_millis(200));
    let feed = w.engine.create_feed(MediaKind::Video);
    let r = w.add_receiver(feed, 96);
    w.switch(feed, Some(a));
    w.run_for(Duration::from_millis(300));
    w.switch(feed, Some(b));
    w.run_for(Duration::from_millis(50));
    assert_eq!(w.engine.feed_info(feed).unwrap().pending, Some(b));
    w.switch(feed, Some(c));
    assert_eq!(w.engine.feed_info(feed).unwrap().pending, Some(c));
    w.run_for(Duration::from_millis(600));

    let done: Vec<LegId> = w.completed().iter().map(|d| d.0).collect();
    assert_eq!(done, [a, c]);
    let log = w.log(r);
    assert_clean_stream(log);
    assert!(
        log.iter().all(|d| d.tag.unwrap().venue != b.0),
        "B must never be shown"
    );
    let info = w.engine.feed_info(feed).unwrap();
    assert_eq!((info.showing, info.pending), (Some(c), None));
}

#[test]
fn switching_back_to_the_shown_source_cancels_the_pending_switch() {
    let mut w = World::new(8, test_config());
    let a = w.add_venue(10_000);
    let b = w.add_venue(10_000);
    w.venue(b).answer_delay = None;
    let feed = w.engine.create_feed(MediaKind::Video);
    let r = w.add_receiver(feed, 96);
    w.switch(feed, Some(a));
    w.run_for(Duration::from_millis(300));
    w.switch(feed, Some(b));
    w.run_for(Duration::from_millis(100));
    w.switch(feed, Some(a));
    w.run_for(Duration::from_secs(3)); // past the timeout: nothing forced happens
    assert!(w.completed().iter().all(|d| !d.2));
    assert!(w.log(r).iter().all(|d| d.tag.unwrap().venue == a.0));
    assert_clean_stream(w.log(r));
}

#[test]
fn switch_to_none_goes_idle_at_once() {
    let mut w = World::new(9, test_config());
    let a = w.add_venue(30);
    let feed = w.engine.create_feed(MediaKind::Video);
    let r = w.add_receiver(feed, 96);
    w.switch(feed, Some(a));
    w.run_for(Duration::from_millis(300));
    let n = w.log(r).len();
    w.switch(feed, None);
    w.run_for(Duration::from_millis(300));
    assert_eq!(w.log(r).len(), n);
    assert_eq!(w.engine.feed_info(feed).unwrap().showing, None);
}
