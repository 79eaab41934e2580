//! Dropped venues are redialled with backoff and get their picture and audio state back.

mod common;

use std::time::Duration;

use common::*;
use dais_conference::*;

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

fn dials(s: &Sim) -> Vec<(Duration, String)> {
    s.log
        .iter()
        .filter_map(|(at, a)| match a {
            Action::Dial { venue } => Some((*at, venue.to_string())),
            _ => None,
        })
        .collect()
}

#[test]
fn redials_back_off_then_give_up_with_an_alarm() {
    let mut s = Sim::live(2);
    s.log.clear();
    let t = s.now - s.t0;
    s.event(
        "b1",
        LegEvent::Dropped {
            reason: DropReason::MediaTimeout,
        },
    );
    assert_eq!(
        s.status("b1"),
        LegStatus::RedialPending {
            attempt: 1,
            at: MeetingTime(t + secs(2))
        }
    );
    s.advance(secs(2));
    assert_eq!(s.status("b1"), LegStatus::Dialing { attempt: 1 });
    s.event("b1", LegEvent::Ringing);
    s.event("b1", LegEvent::Busy);
    assert_eq!(
        s.status("b1"),
        LegStatus::RedialPending {
            attempt: 2,
            at: MeetingTime(t + secs(6))
        }
    );
    s.advance(secs(4));
    s.event("b1", LegEvent::Failed);
    s.advance(secs(8));
    s.event("b1", LegEvent::Failed);
    assert_eq!(
        s.status("b1"),
        LegStatus::Failed {
            reason: FailReason::Unreachable
        }
    );
    s.advance(secs(600));
    assert_eq!(
        dials(&s),
        vec![
            (t + secs(2), "b1".to_string()),
            (t + secs(6), "b1".to_string()),
            (t + secs(14), "b1".to_string()),
        ]
    );
    let events = s.events();
    assert!(events.contains(&ConferenceEvent::VenueDropped {
        venue: id("b1"),
        reason: DropReason::MediaTimeout
    }));
    assert!(events.contains(&ConferenceEvent::RedialsExhausted { venue: id("b1") }));
    assert!(
        s.conf
            .record()
            .iter()
            .any(|e| e.kind == RecordKind::RedialsExhausted { venue: id("b1") })
    );
    // A person can still redial; the backoff starts over.
    s.ok(&chair(), ChairCommand::Redial { venue: id("b1") });
    assert_eq!(s.status("b1"), LegStatus::Dialing { attempt: 0 });
    s.event("b1", LegEvent::Busy);
    assert_eq!(
        s.status("b1"),
        LegStatus::RedialPending {
            attempt: 1,
            at: MeetingTime(s.now - s.t0 + secs(2))
        }
    );
}

#[test]
fn reconnect_restores_picture_mute_block_and_the_broadcast() {
    let mut s = Sim::live(3);
    s.ok(&chair(), ChairCommand::Broadcast { venue: id("b1") });
    s.ok(&chair(), ChairCommand::Mute { venue: id("b1") });
    s.ok(&chair(), ChairCommand::BlockAudio { venue: id("b1") });
    s.log.clear();
    let a = s.event(
        "b1",
        LegEvent::Dropped {
            reason: DropReason::SessionTimeout,
        },
    );
    assert!(a.contains(&Action::Show {
        feed: FeedRole::Broadcast,
        venue: Some(id(MAIN))
    }));
    assert!(s.conf.record().iter().any(|e| matches!(
        &e.kind,
        RecordKind::Shown { cause: ShowCause::Fallback, venue: Some(v), .. } if *v == id(MAIN)
    )));
    s.check_invariants();
    s.advance(secs(2));
    let a = s.answer("b1");
    assert!(a.contains(&Action::Show {
        feed: FeedRole::Broadcast,
        venue: Some(id("b1"))
    }));
    assert!(a.contains(&Action::Subscribe {
        venue: id("b1"),
        feed: FeedRole::BroadcasterView
    }));
    assert!(a.contains(&Action::SetMicrophone {
        venue: id("b1"),
        open: false
    }));
    assert!(a.contains(&Action::BlockAudio {
        venue: id("b1"),
        blocked: true
    }));
    assert!(matches!(s.status("b1"), LegStatus::Connected { .. }));
    s.check_invariants();
    s.advance(secs(600));
    assert_eq!(dials(&s).len(), 1, "no redial after the venue is back");
}

#[test]
fn a_broadcaster_that_returns_after_the_chair_moved_on_is_not_forced_back() {
    let mut s = Sim::live(3);
    s.ok(&chair(), ChairCommand::Broadcast { venue: id("b1") });
    s.event(
        "b1",
        LegEvent::Dropped {
            reason: DropReason::Transport,
        },
    );
    s.ok(&chair(), ChairCommand::Broadcast { venue: id("b2") });
    s.advance(secs(2));
    s.answer("b1");
    assert_eq!(s.conf.broadcast(), &id("b2"));
    assert_eq!(s.shell.subscribed[&id("b1")], FeedRole::Broadcast);
    s.check_invariants();
}

#[test]
fn a_venue_that_dials_back_in_by_itself_cancels_the_redial() {
    let mut s = Sim::live(2);
    s.event(
        "b2",
        LegEvent::Dropped {
            reason: DropReason::MediaTimeout,
        },
    );
    s.log.clear();
    assert_eq!(s.conf.admit(s.now, &id("b2")), Ok(()));
    s.answer("b2");
    s.advance(secs(600));
    assert!(dials(&s).is_empty());
    assert_eq!(
        s.conf.poll_timeout().map(|t| t > s.now),
        Some(true),
        "only the end reminder may remain"
    );
}

#[test]
fn venues_that_leave_on_purpose_are_not_redialled() {
    let mut s = Sim::live(3);
    s.log.clear();
    s.event("b1", LegEvent::HungUpByVenue);
    s.ok(&chair(), ChairCommand::HangUp { venue: id("b2") });
    s.advance(secs(600));
    assert!(dials(&s).is_empty());
    assert_eq!(s.status("b1"), LegStatus::HungUp);
    assert_eq!(s.status("b2"), LegStatus::HungUp);
    // Hanging up a venue waiting for its redial cancels the redial.
    s.event(
        "b3",
        LegEvent::Dropped {
            reason: DropReason::MediaTimeout,
        },
    );
    s.ok(&chair(), ChairCommand::HangUp { venue: id("b3") });
    s.advance(secs(600));
    assert!(dials(&s).is_empty());
}

#[test]
fn with_redial_off_a_drop_stays_dropped() {
    let mut cfg = config();
    cfg.redial.attempts = 0;
    let mut s = Sim::with(plan(1), cfg);
    s.ok(&it(), ChairCommand::GoLive);
    s.answer("b1");
    let t = s.now - s.t0;
    s.event(
        "b1",
        LegEvent::Dropped {
            reason: DropReason::Other,
        },
    );
    assert_eq!(
        s.status("b1"),
        LegStatus::Dropped {
            at: MeetingTime(t),
            reason: DropReason::Other
        }
    );
    s.advance(secs(600));
    assert!(dials(&s).is_empty());
}

#[test]
fn a_chair_dial_that_is_busy_is_retried_by_the_policy() {
    let mut s = Sim::new(1);
    s.ok(&it(), ChairCommand::GoLive);
    s.ok(&chair(), ChairCommand::Dial { venue: id("b1") });
    s.event("b1", LegEvent::Dialing);
    s.event("b1", LegEvent::Ringing);
    assert_eq!(s.status("b1"), LegStatus::Ringing);
    s.event("b1", LegEvent::Busy);
    s.advance(secs(2));
    assert_eq!(dials(&s).len(), 2);
    s.answer("b1");
    assert!(matches!(s.status("b1"), LegStatus::Connected { .. }));
}

#[test]
fn nonsense_leg_events_are_ignored_not_errors() {
    let mut s = Sim::live(1);
    let before = s.conf.snapshot();
    for e in [
        LegEvent::Ringing,
        LegEvent::Busy,
        LegEvent::Failed,
        LegEvent::Answered,
        LegEvent::Dialing,
    ] {
        assert_eq!(s.event("b1", e), vec![]);
    }
    assert_eq!(s.conf.snapshot(), before);
    assert_eq!(
        s.conf
            .handle_leg_event(s.now, &id("ghost"), LegEvent::Answered),
        Err(EventError::UnknownVenue { venue: id("ghost") })
    );
}
