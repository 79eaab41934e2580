//! Voice-activated switching: hold time, minimum dwell, and no flapping.

mod common;

use std::time::Duration;

use common::*;
use dais_conference::*;

const HOLD: Duration = Duration::from_secs(2);
const DWELL: Duration = Duration::from_secs(4);

fn voice_on(branches: usize) -> Sim {
    let mut s = Sim::live(branches);
    s.ok(&chair(), ChairCommand::SetVoiceActivation { on: true });
    s.advance(Duration::from_secs(60)); // well past any dwell from opening
    s.log.clear();
    s
}

fn broadcast_switches(s: &Sim) -> Vec<(Duration, String)> {
    s.log
        .iter()
        .filter_map(|(at, a)| match a {
            Action::Show {
                feed: FeedRole::Broadcast,
                venue: Some(v),
            } => Some((*at, v.to_string())),
            _ => None,
        })
        .collect()
}

#[test]
fn a_steady_speaker_is_shown_after_exactly_the_hold_time() {
    let mut s = voice_on(2);
    let t = s.now;
    s.speaker("b1");
    s.advance(HOLD - Duration::from_millis(1));
    assert_eq!(s.conf.broadcast(), &id(MAIN));
    assert_eq!(s.conf.snapshot().voice.candidate, Some(id("b1")));
    s.advance(Duration::from_millis(1));
    assert_eq!(
        broadcast_switches(&s),
        vec![(t + HOLD - s.t0, "b1".to_string())]
    );
    // Repeated reports from the same speaker do not restart the hold.
    s.speaker("b2");
    s.advance(Duration::from_secs(1));
    s.speaker("b2");
    s.advance(Duration::from_secs(3));
    assert_eq!(s.conf.broadcast(), &id("b2"));
    s.check_invariants();
}

#[test]
fn two_equally_loud_venues_never_flap() {
    let mut s = voice_on(2);
    // Dominance alternates every 500 ms for two minutes.
    for k in 0..240 {
        s.speaker(if k % 2 == 0 { "b1" } else { "b2" });
        s.advance(Duration::from_millis(500));
    }
    assert!(
        broadcast_switches(&s).is_empty(),
        "{:?}",
        broadcast_switches(&s)
    );
}

#[test]
fn the_broadcaster_regaining_the_floor_cancels_the_candidate() {
    let mut s = voice_on(2);
    s.speaker("b1");
    s.advance(HOLD * 2);
    s.log.clear();
    s.speaker("b2");
    s.advance(Duration::from_secs(1));
    s.speaker("b1");
    s.advance(Duration::from_secs(10));
    assert!(broadcast_switches(&s).is_empty());
    assert_eq!(s.conf.snapshot().voice.candidate, None);
}

#[test]
fn switches_are_at_least_the_minimum_dwell_apart() {
    let mut s = voice_on(3);
    let t = s.now;
    s.speaker("b1");
    s.advance(HOLD); // b1 at t+2
    s.speaker("b2"); // hold would end at t+4, but dwell holds until t+6
    s.advance(Duration::from_secs(20));
    let rel = |d: Duration| t + d - s.t0;
    assert_eq!(
        broadcast_switches(&s),
        vec![
            (rel(HOLD), "b1".to_string()),
            (rel(HOLD + DWELL), "b2".to_string()),
        ]
    );
}

#[test]
fn a_hand_switch_counts_as_a_switch_for_the_dwell() {
    let mut s = voice_on(3);
    let t = s.now;
    s.ok(&chair(), ChairCommand::Broadcast { venue: id("b3") });
    s.speaker("b1");
    s.advance(Duration::from_secs(10));
    assert_eq!(
        broadcast_switches(&s).last(),
        Some(&(t + DWELL - s.t0, "b1".to_string()))
    );
}

#[test]
fn off_means_off_and_speakers_that_are_not_connected_are_ignored() {
    let mut s = voice_on(2);
    s.event("b2", LegEvent::HungUpByVenue);
    s.speaker("b2");
    s.advance(Duration::from_secs(10));
    assert_eq!(s.conf.broadcast(), &id(MAIN));
    s.ok(&chair(), ChairCommand::SetVoiceActivation { on: false });
    s.speaker("b1");
    s.advance(Duration::from_secs(10));
    assert_eq!(s.conf.broadcast(), &id(MAIN));
    assert!(matches!(
        s.conf.handle_dominant_speaker(s.now, &id("ghost")),
        Err(EventError::UnknownVenue { .. })
    ));
}

#[test]
fn a_candidate_that_drops_is_forgotten() {
    let mut s = voice_on(2);
    s.speaker("b1");
    s.advance(Duration::from_secs(1));
    s.event(
        "b1",
        LegEvent::Dropped {
            reason: DropReason::MediaTimeout,
        },
    );
    s.advance(Duration::from_secs(5));
    assert_eq!(s.conf.broadcast(), &id(MAIN));
    s.check_invariants();
}
