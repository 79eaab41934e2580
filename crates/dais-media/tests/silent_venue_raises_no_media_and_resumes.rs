//! A venue that stops sending raises SourceNoMedia after `no_media_after`, SourceResumed when
//! it sends again; a venue that never sends is reported too.
mod common;

use std::time::Duration;

use common::*;
use dais_media::*;

#[test]
fn stop_and_resume_are_reported_once_each() {
    let mut w = World::new(10, test_config());
    let a = w.add_venue(30);
    let b = w.add_venue(30);
    w.run_for(Duration::from_secs(1));
    w.venue(a).sending = false;
    let stopped = w.now;
    w.run_for(Duration::from_secs(5));
    let no_media: Vec<_> = w
        .events
        .iter()
        .filter(|(_, e)| matches!(e, MediaEvent::SourceNoMedia { .. }))
        .collect();
    // Video only: the simulated venues send no audio, so their audio sources are silent too.
    let video: Vec<_> = no_media
        .iter()
        .filter(|(_, e)| {
            matches!(
                e,
                MediaEvent::SourceNoMedia {
                    kind: MediaKind::Video,
                    ..
                }
            )
        })
        .collect();
    assert_eq!(video.len(), 1);
    assert!(matches!(video[0].1, MediaEvent::SourceNoMedia { leg, .. } if leg == a));
    let at = video[0].0;
    assert!(at >= stopped + Duration::from_secs(2) && at < stopped + Duration::from_millis(2100));
    assert!(no_media.iter().any(
        |(_, e)| matches!(e, MediaEvent::SourceNoMedia { leg, kind: MediaKind::Audio } if *leg == b)
    ));

    w.venue(a).sending = true;
    w.run_for(Duration::from_secs(1));
    let resumed = w
        .events
        .iter()
        .filter(|(_, e)| matches!(e, MediaEvent::SourceResumed { leg, kind: MediaKind::Video } if *leg == a))
        .count();
    assert_eq!(resumed, 1);
    w.venue(a).sending = false;
    w.run_for(Duration::from_secs(3));
    let again = w
        .events
        .iter()
        .filter(|(_, e)| matches!(e, MediaEvent::SourceNoMedia { leg, kind: MediaKind::Video } if *leg == a))
        .count();
    assert_eq!(again, 2);
}

#[test]
fn video_without_keyframes_is_reported_frozen_and_thawed() {
    let mut cfg = test_config();
    cfg.frozen_after = Duration::from_secs(2);
    let mut w = World::new(11, cfg);
    let a = w.add_venue(10_000);
    w.run_for(Duration::from_secs(3));
    assert!(
        w.events
            .iter()
            .any(|(_, e)| *e == MediaEvent::SourceFrozen { leg: a })
    );
    // A switch asks for a keyframe; it thaws the source.
    let feed = w.engine.create_feed(MediaKind::Video);
    w.switch(feed, Some(a));
    w.run_for(Duration::from_millis(200));
    assert!(
        w.events
            .iter()
            .any(|(_, e)| *e == MediaEvent::SourceThawed { leg: a })
    );
}
