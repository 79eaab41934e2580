//! Every operator's console must show another operator's mute, block, lock, hand-over or
//! extension at once, not at its next poll: each change a command makes is an event, and a
//! command that changes nothing (muting a muted venue) makes none.

mod common;

use std::time::Duration;

use common::*;
use dais_conference::*;

fn controls(events: Vec<ConferenceEvent>) -> Vec<ConferenceEvent> {
    events
        .into_iter()
        .filter(|e| {
            matches!(
                e,
                ConferenceEvent::MuteChanged { .. }
                    | ConferenceEvent::AudioBlockChanged { .. }
                    | ConferenceEvent::LockChanged { .. }
                    | ConferenceEvent::ChairChanged { .. }
                    | ConferenceEvent::EndTimeChanged { .. }
            )
        })
        .collect()
}

#[test]
fn mute_block_lock_hand_over_and_extend_are_reported_once_each() {
    let mut s = Sim::live(3);
    s.events();
    s.ok(&chair(), ChairCommand::Mute { venue: id("b1") });
    assert_eq!(
        controls(s.events()),
        vec![ConferenceEvent::MuteChanged {
            venue: id("b1"),
            muted: true
        }]
    );
    // Already muted: nothing changed, nothing reported.
    s.ok(&chair(), ChairCommand::Mute { venue: id("b1") });
    assert_eq!(controls(s.events()), vec![]);
    // Mute all but the main venue: the two that were open.
    s.ok(&chair(), ChairCommand::MuteAllButMain);
    let mut muted: Vec<String> = controls(s.events())
        .into_iter()
        .map(|e| match e {
            ConferenceEvent::MuteChanged { venue, muted: true } => venue.to_string(),
            other => panic!("unexpected {other:?}"),
        })
        .collect();
    muted.sort();
    assert_eq!(muted, vec!["b2", "b3"]);
    s.ok(&chair(), ChairCommand::Unmute { venue: id("b2") });
    assert_eq!(
        controls(s.events()),
        vec![ConferenceEvent::MuteChanged {
            venue: id("b2"),
            muted: false
        }]
    );
    s.ok(&chair(), ChairCommand::BlockAudio { venue: id("b3") });
    assert_eq!(
        controls(s.events()),
        vec![ConferenceEvent::AudioBlockChanged {
            venue: id("b3"),
            blocked: true
        }]
    );
    s.ok(&chair(), ChairCommand::Lock);
    assert_eq!(
        controls(s.events()),
        vec![ConferenceEvent::LockChanged { locked: true }]
    );
    s.ok(&chair(), ChairCommand::Unlock);
    assert_eq!(
        controls(s.events()),
        vec![ConferenceEvent::LockChanged { locked: false }]
    );
    s.ok(&chair(), ChairCommand::HandChair { to: "wang".into() });
    assert_eq!(
        controls(s.events()),
        vec![ConferenceEvent::ChairChanged {
            chair: "wang".into()
        }]
    );
    let before = s.conf.meeting().ends_at.expect("the plan has a duration");
    s.ok(
        &it(),
        ChairCommand::Extend {
            by: Duration::from_secs(600),
        },
    );
    match controls(s.events()).as_slice() {
        [ConferenceEvent::EndTimeChanged { ends_at: Some(t) }] => {
            assert_eq!(t.0, before.0 + Duration::from_secs(600));
        }
        other => panic!("{other:?}"),
    }
    // A refused command changes nothing and reports only its refusal.
    let stranger = Actor::new("nobody", Role::Auditor);
    assert!(
        s.cmd(&stranger, ChairCommand::Unmute { venue: id("b1") })
            .is_err()
    );
    assert_eq!(controls(s.events()), vec![]);
}
