//! Who sees which picture, and that a switch touches only the venues whose picture changed.

mod common;

use common::*;
use dais_conference::*;

fn subscribes(actions: &[Action]) -> Vec<(String, FeedRole)> {
    let mut v: Vec<_> = actions
        .iter()
        .filter_map(|a| match a {
            Action::Subscribe { venue, feed } => Some((venue.to_string(), *feed)),
            _ => None,
        })
        .collect();
    v.sort();
    v
}

fn shows(actions: &[Action]) -> Vec<(FeedRole, Option<String>)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Show { feed, venue } => Some((*feed, venue.as_ref().map(|v| v.to_string()))),
            _ => None,
        })
        .collect()
}

#[test]
fn opening_shows_the_main_venue_and_joining_venues_subscribe() {
    let mut s = Sim::new(2);
    let a = s.ok(&it(), ChairCommand::GoLive);
    assert_eq!(shows(&a), vec![(FeedRole::Broadcast, Some(MAIN.into()))]);
    let a = s.answer(MAIN);
    // The main venue broadcasts and has no previous broadcaster to watch.
    assert_eq!(
        subscribes(&a),
        vec![(MAIN.into(), FeedRole::BroadcasterView)]
    );
    assert!(a.contains(&Action::SetMicrophone {
        venue: id(MAIN),
        open: true
    }));
    assert!(a.contains(&Action::BlockAudio {
        venue: id(MAIN),
        blocked: false
    }));
    let a = s.answer("b1");
    assert_eq!(subscribes(&a), vec![("b1".into(), FeedRole::Broadcast)]);
    s.check_invariants();
}

#[test]
fn broadcast_switch_resubscribes_only_old_and_new_broadcaster_and_main() {
    let mut s = Sim::live(50);
    let a = s.ok(&chair(), ChairCommand::Broadcast { venue: id("b7") });
    assert_eq!(
        shows(&a),
        vec![
            (FeedRole::Broadcast, Some("b7".into())),
            (FeedRole::BroadcasterView, Some(MAIN.into())),
        ]
    );
    assert_eq!(
        subscribes(&a),
        vec![
            ("b7".into(), FeedRole::BroadcasterView),
            (MAIN.into(), FeedRole::Broadcast)
        ]
    );
    let a = s.ok(&chair(), ChairCommand::Broadcast { venue: id("b9") });
    assert_eq!(shows(&a), vec![(FeedRole::Broadcast, Some("b9".into()))]);
    assert_eq!(
        subscribes(&a),
        vec![
            ("b7".into(), FeedRole::Broadcast),
            ("b9".into(), FeedRole::BroadcasterView)
        ]
    );
    assert_eq!(
        a.len(),
        3,
        "nothing else moves in a 51-venue meeting: {a:?}"
    );
    s.check_invariants();
}

#[test]
fn main_venue_broadcasting_sees_the_previous_broadcaster() {
    let mut s = Sim::live(3);
    s.ok(&chair(), ChairCommand::Broadcast { venue: id("b2") });
    let a = s.ok(&chair(), ChairCommand::ReturnToMain);
    assert_eq!(
        shows(&a),
        vec![
            (FeedRole::Broadcast, Some(MAIN.into())),
            (FeedRole::BroadcasterView, Some("b2".into())),
        ]
    );
    assert_eq!(
        subscribes(&a),
        vec![
            ("b2".into(), FeedRole::Broadcast),
            (MAIN.into(), FeedRole::BroadcasterView)
        ]
    );
    assert_eq!(s.conf.snapshot().feeds.broadcaster_view, Some(id("b2")));
    s.check_invariants();
}

#[test]
fn chair_view_goes_to_the_main_venue_only_and_stop_view_restores_its_picture() {
    let mut s = Sim::live(3);
    s.ok(&chair(), ChairCommand::Broadcast { venue: id("b1") });
    let a = s.ok(&chair(), ChairCommand::View { venue: id("b3") });
    assert_eq!(shows(&a), vec![(FeedRole::ChairView, Some("b3".into()))]);
    assert_eq!(subscribes(&a), vec![(MAIN.into(), FeedRole::ChairView)]);
    // The chair view is private: everyone else still sees the broadcast.
    assert_eq!(s.shell.subscribed[&id("b2")], FeedRole::Broadcast);
    assert_eq!(s.shell.subscribed[&id("b3")], FeedRole::Broadcast);
    // Switching the broadcast does not disturb the private view.
    let a = s.ok(&chair(), ChairCommand::Broadcast { venue: id("b2") });
    assert!(!subscribes(&a).iter().any(|(v, _)| v == MAIN));
    let a = s.ok(&chair(), ChairCommand::StopView);
    assert_eq!(shows(&a), vec![(FeedRole::ChairView, None)]);
    assert_eq!(subscribes(&a), vec![(MAIN.into(), FeedRole::Broadcast)]);
    assert_eq!(
        s.cmd(&chair(), ChairCommand::StopView),
        Err(CommandError::Conflict {
            conflict: Conflict::NoView
        })
    );
    s.check_invariants();
}

#[test]
fn main_venue_in_chair_view_while_broadcasting_gets_the_chair_view() {
    let mut s = Sim::live(2);
    s.ok(&chair(), ChairCommand::View { venue: id("b1") });
    assert_eq!(s.shell.subscribed[&id(MAIN)], FeedRole::ChairView);
    s.ok(&chair(), ChairCommand::Broadcast { venue: id("b2") });
    s.ok(&chair(), ChairCommand::ReturnToMain);
    assert_eq!(s.shell.subscribed[&id(MAIN)], FeedRole::ChairView);
    s.check_invariants();
}

#[test]
fn switching_to_a_venue_that_is_not_connected_is_refused() {
    let mut s = Sim::live(2);
    s.event("b2", LegEvent::HungUpByVenue);
    for c in [
        ChairCommand::Broadcast { venue: id("b2") },
        ChairCommand::View { venue: id("b2") },
        ChairCommand::RollCall { venue: id("b2") },
    ] {
        assert_eq!(
            s.cmd(&chair(), c),
            Err(CommandError::NotConnected { venue: id("b2") })
        );
    }
}

#[test]
fn muting_is_kept_per_venue_and_mute_all_spares_the_main_venue() {
    let mut s = Sim::live(3);
    let a = s.ok(&chair(), ChairCommand::Mute { venue: id("b1") });
    assert_eq!(
        a,
        vec![Action::SetMicrophone {
            venue: id("b1"),
            open: false
        }]
    );
    assert_eq!(
        s.ok(&chair(), ChairCommand::Mute { venue: id("b1") }),
        vec![],
        "idempotent"
    );
    let a = s.ok(&chair(), ChairCommand::MuteAllButMain);
    let mut closed: Vec<_> = a
        .iter()
        .filter_map(|a| match a {
            Action::SetMicrophone { venue, open: false } => Some(venue.to_string()),
            _ => None,
        })
        .collect();
    closed.sort();
    assert_eq!(
        closed,
        vec!["b2", "b3"],
        "b1 was already closed; main stays open"
    );
    assert!(s.shell.mic[&id(MAIN)]);
    let a = s.ok(&chair(), ChairCommand::BlockAudio { venue: id("b2") });
    assert_eq!(
        a,
        vec![Action::BlockAudio {
            venue: id("b2"),
            blocked: true
        }]
    );
    let snap = s.conf.snapshot();
    let b2 = snap.legs.iter().find(|l| l.venue == id("b2")).unwrap();
    assert!(b2.muted && b2.audio_blocked && !b2.microphone_open);
    s.check_invariants();
}

#[test]
fn a_venue_muted_before_it_joins_joins_muted() {
    let mut s = Sim::new(2);
    s.ok(&it(), ChairCommand::StartTesting);
    s.ok(&it(), ChairCommand::Mute { venue: id("b2") });
    let a = s.answer("b2");
    assert!(a.contains(&Action::SetMicrophone {
        venue: id("b2"),
        open: false
    }));
    s.check_invariants();
}
