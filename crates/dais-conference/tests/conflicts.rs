//! What happens when commands meet running automation (documented in the crate root).

mod common;

use std::time::Duration;

use common::*;
use dais_conference::*;

fn polling(venues: &[&str], secs: u64) -> ChairCommand {
    ChairCommand::StartPolling {
        venues: venues.iter().map(|v| id(v)).collect(),
        interval: Duration::from_secs(secs),
    }
}

#[test]
fn a_hand_broadcast_pauses_polling_and_resume_continues_the_list() {
    let mut s = Sim::live(4);
    s.ok(&chair(), polling(&["b1", "b2", "b3"], 10));
    assert_eq!(s.conf.broadcast(), &id("b1"));
    s.advance(Duration::from_secs(10));
    assert_eq!(s.conf.broadcast(), &id("b2"));
    s.ok(&chair(), ChairCommand::Broadcast { venue: id("b4") });
    assert_eq!(s.conf.snapshot().polling.status, PollingStatus::Paused);
    assert!(
        s.conf
            .record()
            .iter()
            .any(|e| e.kind == RecordKind::PollingPaused)
    );
    // Paused: no tick moves the picture.
    s.advance(Duration::from_secs(60));
    assert_eq!(s.conf.broadcast(), &id("b4"));
    s.ok(&chair(), ChairCommand::ResumePolling);
    s.advance(Duration::from_secs(10));
    assert_eq!(s.conf.broadcast(), &id("b3"), "resumes where it paused");
    s.check_invariants();
}

#[test]
fn polling_during_a_roll_call_is_refused_and_a_roll_call_pauses_polling() {
    let mut s = Sim::live(3);
    s.ok(&chair(), ChairCommand::RollCall { venue: id("b1") });
    assert_eq!(
        s.cmd(&chair(), polling(&["b2", "b3"], 10)),
        Err(CommandError::Conflict {
            conflict: Conflict::RollCallRunning
        })
    );
    s.ok(&chair(), ChairCommand::EndRollCall);
    s.ok(&chair(), polling(&["b2", "b3"], 10));
    s.ok(&chair(), ChairCommand::RollCall { venue: id("b1") });
    assert_eq!(s.conf.snapshot().polling.status, PollingStatus::Paused);
    assert_eq!(
        s.cmd(&chair(), ChairCommand::ResumePolling),
        Err(CommandError::Conflict {
            conflict: Conflict::RollCallRunning
        })
    );
    assert_eq!(
        s.conf.snapshot().polling.status,
        PollingStatus::Paused,
        "refusal changed nothing"
    );
    s.check_invariants();
}

#[test]
fn polling_commands_out_of_turn_are_conflicts() {
    let mut s = Sim::live(2);
    let c = |conflict| Err(CommandError::Conflict { conflict });
    assert_eq!(
        s.cmd(&chair(), ChairCommand::PausePolling),
        c(Conflict::PollingNotRunning)
    );
    assert_eq!(
        s.cmd(&chair(), ChairCommand::StopPolling),
        c(Conflict::PollingNotRunning)
    );
    assert_eq!(
        s.cmd(&chair(), ChairCommand::ResumePolling),
        c(Conflict::PollingNotPaused)
    );
    assert_eq!(
        s.cmd(&chair(), ChairCommand::EndRollCall),
        c(Conflict::NoRollCall)
    );
    s.ok(&chair(), polling(&["b1", "b2"], 10));
    assert_eq!(
        s.cmd(&chair(), ChairCommand::ResumePolling),
        c(Conflict::PollingNotPaused)
    );
    assert_eq!(
        s.cmd(&chair(), polling(&[], 10)),
        Err(CommandError::InvalidArgument {
            reason: "the polling list is empty"
        })
    );
    assert!(matches!(
        s.cmd(&chair(), polling(&["b1"], 0)),
        Err(CommandError::InvalidArgument { .. })
    ));
    assert_eq!(
        s.cmd(&chair(), polling(&["b1", "ghost"], 10)),
        Err(CommandError::UnknownVenue { venue: id("ghost") })
    );
}

#[test]
fn roll_call_opens_the_called_microphone_and_silences_all_but_main() {
    let mut s = Sim::live(4);
    s.ok(&chair(), ChairCommand::Mute { venue: id("b2") });
    s.ok(&chair(), ChairCommand::RollCall { venue: id("b2") });
    assert_eq!(s.conf.broadcast(), &id("b2"));
    assert!(
        s.shell.mic[&id("b2")],
        "called venue opened even though muted"
    );
    assert!(s.shell.mic[&id(MAIN)]);
    for v in ["b1", "b3", "b4"] {
        assert!(!s.shell.mic[&id(v)], "{v}");
    }
    // Unmuting a silenced venue during the roll call would be overridden: refused.
    assert_eq!(
        s.cmd(&chair(), ChairCommand::Unmute { venue: id("b3") }),
        Err(CommandError::Conflict {
            conflict: Conflict::RollCallRunning
        })
    );
    // Next: only the previous and the next called venue change microphone.
    let a = s.ok(&chair(), ChairCommand::RollCall { venue: id("b4") });
    let mics: Vec<_> = a
        .iter()
        .filter(|a| matches!(a, Action::SetMicrophone { .. }))
        .collect();
    assert_eq!(mics.len(), 2, "{a:?}");
    s.ok(&chair(), ChairCommand::EndRollCall);
    for v in [MAIN, "b1", "b2", "b3", "b4"] {
        assert!(s.shell.mic[&id(v)], "{v} back to its own state");
    }
    s.check_invariants();
}

#[test]
fn a_hand_broadcast_ends_the_roll_call() {
    let mut s = Sim::live(3);
    s.ok(&chair(), ChairCommand::RollCall { venue: id("b1") });
    s.ok(&chair(), ChairCommand::Broadcast { venue: id("b3") });
    assert_eq!(s.conf.snapshot().roll_call, None);
    assert!(s.shell.mic[&id("b2")]);
    s.check_invariants();
}

#[test]
fn roll_call_next_follows_the_order_and_records_absent_venues() {
    let mut s = Sim::live(4);
    s.event("b2", LegEvent::HungUpByVenue);
    s.ok(&chair(), ChairCommand::RollCallNext);
    assert_eq!(s.conf.snapshot().roll_call, Some(id("b1")));
    s.ok(&chair(), ChairCommand::RollCallNext);
    assert_eq!(s.conf.snapshot().roll_call, Some(id("b3")), "b2 is absent");
    assert!(
        s.conf
            .record()
            .iter()
            .any(|e| e.kind == RecordKind::RollCallAbsent { venue: id("b2") })
    );
    s.ok(&chair(), ChairCommand::RollCallNext);
    assert_eq!(
        s.cmd(&chair(), ChairCommand::RollCallNext),
        Err(CommandError::Conflict {
            conflict: Conflict::RollCallOrderExhausted
        })
    );
    assert!(matches!(
        s.cmd(&chair(), ChairCommand::RollCall { venue: id(MAIN) }),
        Err(CommandError::InvalidArgument { .. })
    ));
    s.check_invariants();
}

#[test]
fn voice_activation_is_suspended_while_polling_exists_or_a_roll_call_runs() {
    let mut s = Sim::live(3);
    s.ok(&chair(), ChairCommand::SetVoiceActivation { on: true });
    s.ok(&chair(), polling(&["b1", "b2"], 30));
    s.speaker("b3");
    s.advance(Duration::from_secs(10));
    assert_eq!(
        s.conf.broadcast(),
        &id("b1"),
        "voice ignored while polling runs"
    );
    s.ok(&chair(), ChairCommand::PausePolling);
    s.speaker("b3");
    s.advance(Duration::from_secs(10));
    assert_eq!(
        s.conf.broadcast(),
        &id("b1"),
        "paused polling still holds the picture"
    );
    assert!(s.conf.snapshot().voice.suspended);
    s.ok(&chair(), ChairCommand::StopPolling);
    s.ok(&chair(), ChairCommand::RollCall { venue: id("b2") });
    s.speaker("b3");
    s.advance(Duration::from_secs(10));
    assert_eq!(s.conf.broadcast(), &id("b2"));
    s.ok(&chair(), ChairCommand::EndRollCall);
    s.speaker("b3");
    s.advance(Duration::from_secs(10));
    assert_eq!(
        s.conf.broadcast(),
        &id("b3"),
        "voice resumes once nothing holds it"
    );
    s.check_invariants();
}

#[test]
fn dial_and_hang_up_out_of_turn_are_conflicts() {
    let mut s = Sim::live(2);
    let c = |conflict| Err(CommandError::Conflict { conflict });
    assert_eq!(
        s.cmd(&chair(), ChairCommand::Dial { venue: id("b1") }),
        c(Conflict::AlreadyConnected)
    );
    assert_eq!(
        s.cmd(&chair(), ChairCommand::Redial { venue: id("b1") }),
        c(Conflict::AlreadyConnected)
    );
    s.ok(&chair(), ChairCommand::HangUp { venue: id("b1") });
    assert_eq!(
        s.cmd(&chair(), ChairCommand::HangUp { venue: id("b1") }),
        c(Conflict::NoCall)
    );
    s.ok(&chair(), ChairCommand::Dial { venue: id("b1") });
    assert_eq!(
        s.cmd(&chair(), ChairCommand::Dial { venue: id("b1") }),
        c(Conflict::CallInProgress)
    );
    let mut fresh = Sim::new(2);
    fresh.ok(&it(), ChairCommand::GoLive);
    assert_eq!(
        fresh.cmd(&chair(), ChairCommand::Redial { venue: id("b2") }),
        c(Conflict::NoCall)
    );
}

#[test]
fn lock_refuses_new_dial_ins_but_lets_venues_that_joined_come_back() {
    let mut s = Sim::new(3);
    assert_eq!(
        s.conf.admit(s.now, &id("b1")),
        Err(AdmitError::NotOpen {
            state: MeetingState::Scheduled
        })
    );
    s.ok(&it(), ChairCommand::GoLive);
    s.answer("b1");
    s.ok(&chair(), ChairCommand::Lock);
    assert_eq!(s.conf.admit(s.now, &id("b2")), Err(AdmitError::Locked));
    assert_eq!(
        s.conf.admit(s.now, &id("b1")),
        Err(AdmitError::AlreadyConnected)
    );
    s.event(
        "b1",
        LegEvent::Dropped {
            reason: DropReason::Transport,
        },
    );
    assert_eq!(
        s.conf.admit(s.now, &id("b1")),
        Ok(()),
        "a dropped venue may rejoin"
    );
    assert_eq!(
        s.conf.admit(s.now, &id("ghost")),
        Err(AdmitError::UnknownVenue { venue: id("ghost") })
    );
    assert!(
        s.conf
            .record()
            .iter()
            .any(|e| e.kind == RecordKind::AdmitRefused { venue: id("b2") })
    );
    s.ok(&chair(), ChairCommand::Unlock);
    assert_eq!(s.conf.admit(s.now, &id("b2")), Ok(()));
}

#[test]
fn extend_moves_the_end_reminder() {
    let mut s = Sim::live(1);
    s.ok(
        &chair(),
        ChairCommand::Extend {
            by: Duration::from_secs(1800),
        },
    );
    assert_eq!(
        s.conf.meeting().ends_at,
        Some(MeetingTime(Duration::from_secs(5400)))
    );
    s.advance(Duration::from_secs(3600));
    assert!(!s.events().contains(&ConferenceEvent::EndTimeReached));
    s.advance(Duration::from_secs(1800));
    assert!(s.events().contains(&ConferenceEvent::EndTimeReached));
    assert_eq!(
        s.conf.state(),
        MeetingState::Live,
        "the reminder never ends the meeting"
    );
    assert!(matches!(
        s.cmd(&chair(), ChairCommand::Extend { by: Duration::ZERO }),
        Err(CommandError::InvalidArgument { .. })
    ));
}
