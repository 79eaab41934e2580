//! Ending the meeting hangs up every leg at once, stops every timer and closes the record.

mod common;

use std::time::Duration;

use common::*;
use dais_conference::*;

#[test]
fn end_hangs_up_all_stops_redials_and_polling_and_closes_the_record() {
    let mut s = Sim::live(4);
    s.ok(
        &chair(),
        ChairCommand::StartPolling {
            venues: vec![id("b1"), id("b2")],
            interval: Duration::from_secs(10),
        },
    );
    s.ok(&chair(), ChairCommand::SetVoiceActivation { on: true });
    s.event(
        "b3",
        LegEvent::Dropped {
            reason: DropReason::MediaTimeout,
        },
    );
    s.ok(&chair(), ChairCommand::Dial { venue: id("b3") });
    s.event(
        "b4",
        LegEvent::Dropped {
            reason: DropReason::MediaTimeout,
        },
    );
    let a = s.ok(&chair(), ChairCommand::EndMeeting);
    assert_eq!(a, vec![Action::HangUpAll]);
    assert_eq!(s.conf.state(), MeetingState::Ended);
    assert_eq!(s.conf.poll_timeout(), None);
    for v in [MAIN, "b1", "b2", "b3", "b4"] {
        assert_eq!(s.status(v), LegStatus::HungUp, "{v}");
    }
    let record = s.conf.record().to_vec();
    let n = record.len();
    assert_eq!(
        record[n - 2].kind,
        RecordKind::Command {
            command: ChairCommand::EndMeeting
        }
    );
    assert_eq!(record[n - 2].actor, Some(chair()));
    assert_eq!(
        record[n - 1].kind,
        RecordKind::StateChanged {
            from: MeetingState::Live,
            to: MeetingState::Ended
        }
    );
    s.log.clear();
    // Drops and answers that arrive after the end: no redial, late answers hung up, no record.
    s.event(
        "b1",
        LegEvent::Dropped {
            reason: DropReason::Transport,
        },
    );
    let a = s.answer("b3");
    assert_eq!(a, vec![Action::HangUp { venue: id("b3") }]);
    s.speaker("b2");
    s.advance(Duration::from_secs(3600));
    assert!(
        s.log
            .iter()
            .all(|(_, a)| !matches!(a, Action::Dial { .. } | Action::Show { .. }))
    );
    assert_eq!(s.conf.record().len(), n, "the record is closed");
    assert_eq!(
        s.conf.admit(s.now, &id("b1")),
        Err(AdmitError::NotOpen {
            state: MeetingState::Ended
        })
    );
    assert!(matches!(
        s.cmd(&it(), ChairCommand::EndMeeting),
        Err(CommandError::WrongState {
            state: MeetingState::Ended,
            ..
        })
    ));
    let snap = s.conf.snapshot();
    assert_eq!(snap.polling.status, PollingStatus::Off);
    assert!(!snap.voice.on);
    assert!(
        snap.legs
            .iter()
            .all(|l| l.picture.is_none() && !l.microphone_open)
    );
    s.check_invariants();
}

#[test]
fn a_scheduled_meeting_can_be_ended_without_legs() {
    let mut s = Sim::new(2);
    let a = s.ok(&chair(), ChairCommand::EndMeeting);
    assert_eq!(a, vec![Action::HangUpAll]);
    assert_eq!(s.status("b1"), LegStatus::Idle);
}

#[test]
fn state_transitions_are_only_the_legal_ones() {
    use MeetingState::*;
    let all = [Scheduled, Testing, Live, Ended];
    let legal = [
        (Scheduled, Testing),
        (Scheduled, Live),
        (Testing, Live),
        (Scheduled, Ended),
        (Testing, Ended),
        (Live, Ended),
    ];
    for from in all {
        for to in all {
            assert_eq!(
                from.can_become(to),
                legal.contains(&(from, to)),
                "{from} -> {to}"
            );
        }
    }
    let mut s = Sim::new(1);
    s.ok(&it(), ChairCommand::StartTesting);
    s.answer("b1");
    let a = s.ok(&it(), ChairCommand::GoLive);
    assert_eq!(a, vec![], "testing to live changes no picture");
    let changes: Vec<_> = s
        .events()
        .into_iter()
        .filter(|e| matches!(e, ConferenceEvent::StateChanged { .. }))
        .collect();
    assert_eq!(
        changes,
        vec![
            ConferenceEvent::StateChanged {
                from: Scheduled,
                to: Testing
            },
            ConferenceEvent::StateChanged {
                from: Testing,
                to: Live
            },
        ]
    );
}
