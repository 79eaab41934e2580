//! A shown source that really changes SSRC (after probation) is a discontinuity: the feed
//! waits for its next keyframe, asks for one, and continues its own numbering.
mod common;

use std::time::Duration;

use common::*;
use dais_media::*;

#[test]
fn new_ssrc_is_gated_on_the_next_keyframe() {
    let mut w = World::new(13, test_config());
    let a = w.add_venue(10_000);
    let feed = w.engine.create_feed(MediaKind::Video);
    let r = w.add_receiver(feed, 96);
    w.switch(feed, Some(a));
    w.run_for(Duration::from_millis(500));
    let old = w.venue(a).ssrc;
    w.venue(a).ssrc = 0xdead_beef;
    w.venue(a).seq = w.venue(a).seq.wrapping_add(30_000);
    // Packets already in flight carry the old SSRC; anything delivered later is the new stream.
    w.run_for(Duration::from_millis(10));
    let before = w.log(r).len();
    w.run_for(Duration::from_millis(500));

    assert!(w.events.iter().any(|(_, e)| *e
        == MediaEvent::SsrcChanged {
            leg: a,
            kind: MediaKind::Video,
            old: Ssrc(old),
            new: Ssrc(0xdead_beef)
        }));
    assert_eq!(
        w.engine.source_ssrc(a, MediaKind::Video),
        Some(Ssrc(0xdead_beef))
    );
    let log = w.log(r);
    assert!(log.len() > before);
    let first_new = &log[before];
    assert!(first_new.tag.unwrap().keyframe_start, "{:?}", first_new.tag);
    assert_eq!(first_new.seq, log[before - 1].seq.wrapping_add(1));
    for pair in log.windows(2) {
        assert_eq!(pair[1].seq, pair[0].seq.wrapping_add(1));
        assert_eq!(pair[1].feed_ssrc, pair[0].feed_ssrc);
    }
    // The SSRC change is not a commanded switch.
    assert_eq!(w.completed().len(), 1);
}
