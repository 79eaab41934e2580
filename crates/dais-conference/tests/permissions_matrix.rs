//! Every command by every role in every meeting state: refused with the right typed error, or
//! accepted; a refusal changes nothing.

mod common;

use std::time::Duration;

use common::*;
use dais_conference::*;

const ROLES: [&str; 7] = [
    "it_centre",
    "chair",
    "other_chair_operator",
    "own_site_admin",
    "other_site_admin",
    "approver",
    "auditor",
];

const STATES: [MeetingState; 4] = [
    MeetingState::Scheduled,
    MeetingState::Testing,
    MeetingState::Live,
    MeetingState::Ended,
];

fn actor(role: &str) -> Actor {
    match role {
        "it_centre" => it(),
        "chair" => chair(),
        "other_chair_operator" => Actor::new("zhao.chair", Role::ChairOperator),
        "own_site_admin" => Actor::new("b1.admin.a", Role::SiteAdmin { site: id("b1") }),
        "other_site_admin" => Actor::new("b2.admin.a", Role::SiteAdmin { site: id("b2") }),
        "approver" => Actor::new("head", Role::Approver),
        "auditor" => Actor::new("audit", Role::Auditor),
        _ => unreachable!(),
    }
}

/// The permission table of `docs/notes/dais-conference.md`, written out independently.
fn role_may(role: &str, kind: CommandKind) -> bool {
    use CommandKind::*;
    match role {
        "it_centre" | "chair" => true,
        "own_site_admin" => matches!(kind, Mute | Unmute | Dial | HangUp | Redial),
        _ => false,
    }
}

/// The state table of `docs/notes/dais-conference.md`, written out independently.
fn state_allows(kind: CommandKind, s: MeetingState) -> bool {
    use CommandKind::*;
    use MeetingState::*;
    match kind {
        StartTesting => s == Scheduled,
        GoLive => matches!(s, Scheduled | Testing),
        EndMeeting | Lock | Unlock | Extend | HandChair => s != Ended,
        RollCall | RollCallNext | EndRollCall => s == Live,
        _ => matches!(s, Testing | Live),
    }
}

/// A representative command of each kind (targeting b1 when it targets a venue), and what to
/// do first so that it can succeed.
fn representative(kind: CommandKind) -> (ChairCommand, Vec<ChairCommand>) {
    use ChairCommand as C;
    let b1 = || id("b1");
    let polling = || C::StartPolling {
        venues: vec![id("b1"), id("b2")],
        interval: Duration::from_secs(10),
    };
    match kind {
        CommandKind::StartTesting => (C::StartTesting, vec![]),
        CommandKind::GoLive => (C::GoLive, vec![]),
        CommandKind::EndMeeting => (C::EndMeeting, vec![]),
        CommandKind::Broadcast => (C::Broadcast { venue: b1() }, vec![]),
        CommandKind::View => (C::View { venue: b1() }, vec![]),
        CommandKind::StopView => (C::StopView, vec![C::View { venue: id("b2") }]),
        CommandKind::ReturnToMain => (C::ReturnToMain, vec![C::Broadcast { venue: id("b2") }]),
        CommandKind::RollCall => (C::RollCall { venue: b1() }, vec![]),
        CommandKind::RollCallNext => (C::RollCallNext, vec![]),
        CommandKind::EndRollCall => (C::EndRollCall, vec![C::RollCall { venue: id("b2") }]),
        CommandKind::StartPolling => (polling(), vec![]),
        CommandKind::PausePolling => (C::PausePolling, vec![polling()]),
        CommandKind::ResumePolling => (C::ResumePolling, vec![polling(), C::PausePolling]),
        CommandKind::StopPolling => (C::StopPolling, vec![polling()]),
        CommandKind::SetVoiceActivation => (C::SetVoiceActivation { on: true }, vec![]),
        CommandKind::Mute => (C::Mute { venue: b1() }, vec![]),
        CommandKind::Unmute => (C::Unmute { venue: b1() }, vec![C::Mute { venue: b1() }]),
        CommandKind::MuteAllButMain => (C::MuteAllButMain, vec![]),
        CommandKind::BlockAudio => (C::BlockAudio { venue: b1() }, vec![]),
        CommandKind::UnblockAudio => (
            C::UnblockAudio { venue: b1() },
            vec![C::BlockAudio { venue: b1() }],
        ),
        CommandKind::Lock => (C::Lock, vec![]),
        CommandKind::Unlock => (C::Unlock, vec![C::Lock]),
        CommandKind::Extend => (
            C::Extend {
                by: Duration::from_secs(600),
            },
            vec![],
        ),
        CommandKind::HandChair => (
            C::HandChair {
                to: "zhao.chair".into(),
            },
            vec![],
        ),
        CommandKind::Dial => (C::Dial { venue: b1() }, vec![C::HangUp { venue: b1() }]),
        CommandKind::HangUp => (C::HangUp { venue: b1() }, vec![]),
        CommandKind::Redial => (C::Redial { venue: b1() }, vec![]),
        other => panic!("no representative for {other:?}: extend the matrix"),
    }
}

fn sim_in(state: MeetingState) -> Sim {
    let mut s = Sim::new(3);
    match state {
        MeetingState::Scheduled => {}
        MeetingState::Testing | MeetingState::Live => {
            let c = if state == MeetingState::Testing {
                ChairCommand::StartTesting
            } else {
                ChairCommand::GoLive
            };
            s.ok(&it(), c);
            for v in [MAIN, "b1", "b2", "b3"] {
                s.answer(v);
            }
        }
        MeetingState::Ended => {
            s.ok(&it(), ChairCommand::GoLive);
            s.answer(MAIN);
            s.answer("b1");
            s.ok(&it(), ChairCommand::EndMeeting);
        }
    }
    assert_eq!(s.conf.state(), state);
    s
}

#[test]
fn every_command_by_every_role_in_every_state() {
    let mut cells = 0;
    for kind in CommandKind::ALL {
        for role in ROLES {
            for state in STATES {
                let mut s = sim_in(state);
                let (command, prepare) = representative(kind);
                if state_allows(kind, state) {
                    for p in prepare {
                        s.ok(&it(), p);
                    }
                    if kind == CommandKind::Redial {
                        s.event(
                            "b1",
                            LegEvent::Dropped {
                                reason: DropReason::MediaTimeout,
                            },
                        );
                    }
                }
                let before = s.conf.snapshot();
                let record_len = s.conf.record().len();
                let who = actor(role);
                let result = s.cmd(&who, command.clone());
                let cell = format!("{kind} by {role} while {state}");
                match (role_may(role, kind), state_allows(kind, state)) {
                    (false, _) => assert_eq!(
                        result,
                        Err(CommandError::NotPermitted {
                            operator: who.operator.clone(),
                            command: kind
                        }),
                        "{cell}"
                    ),
                    (true, false) => assert_eq!(
                        result,
                        Err(CommandError::WrongState {
                            command: kind,
                            state
                        }),
                        "{cell}"
                    ),
                    (true, true) => {
                        assert!(result.is_ok(), "{cell}: {result:?}");
                        let last = s.conf.record().get(record_len).map(|e| &e.kind);
                        assert_eq!(
                            last,
                            Some(&RecordKind::Command { command }),
                            "{cell}: not recorded first"
                        );
                        assert_eq!(
                            s.conf.record()[record_len].actor.as_ref(),
                            Some(&who),
                            "{cell}"
                        );
                    }
                }
                if result.is_err() {
                    assert_eq!(s.conf.snapshot(), before, "{cell}: a refusal changed state");
                    assert_eq!(
                        s.conf.record().len(),
                        record_len,
                        "{cell}: a refusal was recorded"
                    );
                    let refused = s.events().into_iter().any(|e| {
                        matches!(e, ConferenceEvent::CommandRefused { command, .. } if command == kind)
                    });
                    assert!(refused, "{cell}: no refusal event");
                }
                s.check_invariants();
                cells += 1;
            }
        }
    }
    assert_eq!(cells, 27 * 7 * 4);
}

#[test]
fn site_admin_may_not_touch_another_venue_even_with_a_venue_command() {
    let mut s = sim_in(MeetingState::Live);
    let admin = actor("own_site_admin");
    for c in [
        ChairCommand::Mute { venue: id("b2") },
        ChairCommand::HangUp { venue: id(MAIN) },
        ChairCommand::Broadcast { venue: id("b1") },
        ChairCommand::BlockAudio { venue: id("b1") },
    ] {
        let kind = c.kind();
        assert_eq!(
            s.cmd(&admin, c),
            Err(CommandError::NotPermitted {
                operator: admin.operator.clone(),
                command: kind
            })
        );
    }
}

#[test]
fn handing_the_chair_moves_the_right_to_command() {
    let mut s = sim_in(MeetingState::Live);
    s.ok(
        &chair(),
        ChairCommand::HandChair {
            to: "zhao.chair".into(),
        },
    );
    assert_eq!(s.conf.meeting().chair, "zhao.chair");
    let old = chair();
    assert!(matches!(
        s.cmd(&old, ChairCommand::Broadcast { venue: id("b1") }),
        Err(CommandError::NotPermitted { .. })
    ));
    s.ok(
        &actor("other_chair_operator"),
        ChairCommand::Broadcast { venue: id("b1") },
    );
    assert_eq!(
        s.cmd(&it(), ChairCommand::HandChair { to: "  ".into() }),
        Err(CommandError::InvalidArgument {
            reason: "the new chair operator's name is empty"
        })
    );
}

#[test]
fn unknown_venue_is_reported_after_permission_and_state() {
    let mut s = sim_in(MeetingState::Live);
    let ghost = id("nowhere");
    assert_eq!(
        s.cmd(
            &it(),
            ChairCommand::Broadcast {
                venue: ghost.clone()
            }
        ),
        Err(CommandError::UnknownVenue {
            venue: ghost.clone()
        })
    );
    assert!(matches!(
        s.cmd(
            &actor("auditor"),
            ChairCommand::Broadcast {
                venue: ghost.clone()
            }
        ),
        Err(CommandError::NotPermitted { .. })
    ));
    let mut ended = sim_in(MeetingState::Ended);
    assert!(matches!(
        ended.cmd(&it(), ChairCommand::Broadcast { venue: ghost }),
        Err(CommandError::WrongState { .. })
    ));
}
