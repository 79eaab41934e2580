//! Polling in virtual time: a switch at exactly each interval, the keyframe pre-roll before it.

mod common;

use std::time::Duration;

use common::*;
use dais_conference::*;

const INTERVAL: Duration = Duration::from_secs(15);
const LEAD: Duration = Duration::from_millis(400);

fn start(s: &mut Sim, venues: &[&str]) {
    s.ok(
        &chair(),
        ChairCommand::StartPolling {
            venues: venues.iter().map(|v| id(v)).collect(),
            interval: INTERVAL,
        },
    );
}

/// (time, venue) of every broadcast switch and every keyframe request in the log.
type Timeline = Vec<(Duration, String)>;

fn timeline(s: &Sim) -> (Timeline, Timeline) {
    let mut shows = Vec::new();
    let mut keys = Vec::new();
    for (at, a) in &s.log {
        match a {
            Action::Show {
                feed: FeedRole::Broadcast,
                venue: Some(v),
            } => shows.push((*at, v.to_string())),
            Action::RequestKeyframe { venue } => keys.push((*at, venue.to_string())),
            _ => {}
        }
    }
    (shows, keys)
}

#[test]
fn each_tick_lands_exactly_on_the_interval_with_a_keyframe_lead_before_it() {
    let mut s = Sim::live(3);
    s.log.clear();
    let started = s.now - s.t0;
    start(&mut s, &["b1", "b2", "b3"]);
    s.advance(INTERVAL * 7);
    let (shows, keys) = timeline(&s);
    let order = ["b1", "b2", "b3"];
    let expected: Vec<_> = (0..=7u32)
        .map(|k| (started + INTERVAL * k, order[k as usize % 3].to_string()))
        .collect();
    assert_eq!(shows, expected);
    let expected_keys: Vec<_> = (1..=7u32)
        .map(|k| {
            (
                started + INTERVAL * k - LEAD,
                order[k as usize % 3].to_string(),
            )
        })
        .collect();
    assert_eq!(keys, expected_keys);
    let snap = s.conf.snapshot();
    assert_eq!(snap.polling.status, PollingStatus::Running);
    assert_eq!(snap.polling.interval, Some(INTERVAL));
    assert_eq!(
        snap.polling.next_switch,
        Some(MeetingTime(started + INTERVAL * 8))
    );
    s.check_invariants();
}

#[test]
fn a_late_timeout_does_not_drift_the_grid() {
    let mut s = Sim::live(2);
    s.log.clear();
    let t = s.now;
    start(&mut s, &["b1", "b2"]);
    // The shell wakes 3 s late for the first tick.
    s.now = t + INTERVAL + Duration::from_secs(3);
    let a = s.conf.handle_timeout(s.now);
    assert!(a.contains(&Action::Show {
        feed: FeedRole::Broadcast,
        venue: Some(id("b2"))
    }));
    assert_eq!(
        s.conf.poll_timeout(),
        Some(t + 2 * INTERVAL - LEAD),
        "next pre-roll on the grid"
    );
}

#[test]
fn venues_that_are_not_connected_are_skipped() {
    let mut s = Sim::live(4);
    s.event("b2", LegEvent::HungUpByVenue);
    s.log.clear();
    start(&mut s, &["b1", "b2", "b3"]);
    s.advance(INTERVAL * 3);
    let (shows, keys) = timeline(&s);
    let venues: Vec<_> = shows.iter().map(|(_, v)| v.as_str()).collect();
    assert_eq!(venues, vec!["b1", "b3", "b1", "b3"]);
    assert!(
        keys.iter().all(|(_, v)| v != "b2"),
        "no keyframe asked of an absent venue"
    );
    s.check_invariants();
}

#[test]
fn a_venue_dropping_between_pre_roll_and_tick_is_skipped_at_the_tick() {
    let mut s = Sim::live(3);
    start(&mut s, &["b1", "b2", "b3"]);
    let a = s.advance(INTERVAL - LEAD);
    assert_eq!(a, vec![Action::RequestKeyframe { venue: id("b2") }]);
    s.event(
        "b2",
        LegEvent::Dropped {
            reason: DropReason::MediaTimeout,
        },
    );
    s.advance(LEAD);
    assert_eq!(s.conf.broadcast(), &id("b3"));
    s.check_invariants();
}

#[test]
fn a_single_venue_list_never_re_switches() {
    let mut s = Sim::live(2);
    start(&mut s, &["b1"]);
    s.log.clear();
    s.advance(INTERVAL * 4);
    assert!(s.log.is_empty(), "{:?}", s.log);
}

#[test]
fn stop_keeps_the_picture_and_cancels_the_ticks() {
    let mut s = Sim::live(3);
    start(&mut s, &["b1", "b2"]);
    s.advance(INTERVAL);
    s.ok(&chair(), ChairCommand::StopPolling);
    assert_eq!(s.conf.broadcast(), &id("b2"));
    s.log.clear();
    s.advance(INTERVAL * 3);
    assert!(s.log.is_empty());
    assert_eq!(s.conf.snapshot().polling.status, PollingStatus::Off);
}

#[test]
fn resume_gives_the_current_venue_a_full_interval() {
    let mut s = Sim::live(3);
    start(&mut s, &["b1", "b2", "b3"]);
    s.advance(Duration::from_secs(5));
    s.ok(&chair(), ChairCommand::PausePolling);
    s.advance(Duration::from_secs(100));
    s.ok(&chair(), ChairCommand::ResumePolling);
    let resumed = s.now;
    s.log.clear();
    s.advance(INTERVAL);
    let (shows, _) = timeline(&s);
    assert_eq!(shows, vec![(resumed + INTERVAL - s.t0, "b2".to_string())]);
}

#[test]
fn an_interval_not_longer_than_the_lead_is_refused() {
    let mut s = Sim::live(2);
    assert_eq!(
        s.cmd(
            &chair(),
            ChairCommand::StartPolling {
                venues: vec![id("b1")],
                interval: LEAD
            }
        ),
        Err(CommandError::InvalidArgument {
            reason: "the polling interval must be longer than the keyframe lead"
        })
    );
}

#[test]
fn a_new_list_replaces_the_running_one() {
    let mut s = Sim::live(4);
    start(&mut s, &["b1", "b2"]);
    s.advance(Duration::from_secs(3));
    start(&mut s, &["b3", "b4"]);
    assert_eq!(s.conf.broadcast(), &id("b3"));
    s.advance(INTERVAL);
    assert_eq!(s.conf.broadcast(), &id("b4"));
    s.advance(INTERVAL);
    assert_eq!(s.conf.broadcast(), &id("b3"));
}

#[test]
fn an_absurd_interval_is_refused_not_a_panic() {
    let mut s = Sim::live(2);
    for interval in [
        MAX_POLLING_INTERVAL + Duration::from_millis(1),
        Duration::MAX,
    ] {
        assert_eq!(
            s.cmd(
                &chair(),
                ChairCommand::StartPolling {
                    venues: vec![id("b1")],
                    interval
                }
            ),
            Err(CommandError::InvalidArgument {
                reason: "the polling interval is longer than an hour"
            })
        );
    }
}
