//! A venue that joins while a picture is running (a late dial-in, a redial, a venue moving to
//! another feed) must not be fed the middle of a picture: its decoder would show garbage until
//! the next keyframe. It waits for the keyframe its subscription asked for; a source that never
//! sends one is not allowed to keep it dark beyond the switch timeout.
mod common;

use std::time::Duration;

use common::*;
use dais_media::*;

#[test]
fn a_late_receiver_starts_on_the_keyframe_its_subscription_asked_for() {
    let mut w = World::new(31, test_config());
    // A long GOP: without the gate the late receiver would see seconds of interframes first.
    let a = w.add_venue(250);
    let feed = w.engine.create_feed(MediaKind::Video);
    let early = w.add_receiver(feed, 96);
    w.switch(feed, Some(a));
    w.run_for(Duration::from_millis(700));
    let asked = w.venue(a).requests_received;

    let late = w.add_receiver(feed, 96);
    w.run_for(Duration::from_millis(700));
    assert!(
        w.venue(a).requests_received > asked,
        "joining asked the source for a keyframe"
    );
    let log = w.log(late);
    assert!(!log.is_empty(), "the late receiver gets the picture");
    assert!(
        log[0].tag.unwrap().keyframe_start,
        "its first packet starts a keyframe: {:?}",
        log[0].tag
    );
    assert_clean_stream(log);
    // The early receiver was not disturbed: same packets from the late one's start on.
    let first = log[0].seq;
    let early_tail: Vec<u16> = w
        .log(early)
        .iter()
        .map(|d| d.seq)
        .skip_while(|s| *s != first)
        .collect();
    assert_eq!(early_tail, log.iter().map(|d| d.seq).collect::<Vec<_>>());
}

#[test]
fn a_source_that_never_sends_a_keyframe_does_not_keep_a_joiner_dark() {
    let mut w = World::new(32, test_config());
    let a = w.add_venue(250);
    let feed = w.engine.create_feed(MediaKind::Video);
    w.add_receiver(feed, 96);
    w.switch(feed, Some(a));
    w.run_for(Duration::from_millis(700));
    // From now on the venue ignores keyframe requests (and its GOP is long).
    w.venue(a).lose_requests = u32::MAX;
    let late = w.add_receiver(feed, 96);
    w.run_for(Duration::from_millis(500));
    assert!(
        w.log(late).is_empty(),
        "held while a keyframe may still come"
    );
    w.run_for(test_config().switch_timeout);
    assert!(
        !w.log(late).is_empty(),
        "after the switch timeout the joiner gets the picture anyway"
    );
}
