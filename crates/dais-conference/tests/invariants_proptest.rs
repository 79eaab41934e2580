//! Any sequence of commands, leg events, mixer reports and time keeps the invariants: the shell's
//! view (built only from emitted actions) equals the policy's snapshot, the broadcaster never
//! receives the broadcast, a muted venue's microphone is never open, nothing is dialled or
//! shown after the end, and no deadline is ever in the past.

mod common;

use std::time::Duration;

use common::*;
use dais_conference::*;
use proptest::prelude::*;

const VENUES: [&str; 6] = [MAIN, "b1", "b2", "b3", "b4", "ghost"];

#[derive(Debug, Clone)]
enum Op {
    Cmd(usize, ChairCommand),
    Leg(usize, LegEvent),
    Speaker(usize),
    Admit(usize),
    Advance(u64),
}

fn venue() -> impl Strategy<Value = VenueId> {
    (0..VENUES.len()).prop_map(|i| id(VENUES[i]))
}

fn command() -> impl Strategy<Value = ChairCommand> {
    use ChairCommand as C;
    prop_oneof![
        1 => Just(C::StartTesting),
        3 => Just(C::GoLive),
        1 => Just(C::EndMeeting),
        4 => venue().prop_map(|venue| C::Broadcast { venue }),
        2 => venue().prop_map(|venue| C::View { venue }),
        1 => Just(C::StopView),
        2 => Just(C::ReturnToMain),
        2 => venue().prop_map(|venue| C::RollCall { venue }),
        2 => Just(C::RollCallNext),
        1 => Just(C::EndRollCall),
        2 => (proptest::collection::vec(venue(), 0..4), prop_oneof![0u64..20_000, Just(u64::MAX)]).prop_map(|(venues, ms)| {
            C::StartPolling { venues, interval: Duration::from_millis(ms) }
        }),
        1 => Just(C::PausePolling),
        1 => Just(C::ResumePolling),
        1 => Just(C::StopPolling),
        2 => any::<bool>().prop_map(|on| C::SetVoiceActivation { on }),
        3 => venue().prop_map(|venue| C::Mute { venue }),
        3 => venue().prop_map(|venue| C::Unmute { venue }),
        1 => Just(C::MuteAllButMain),
        1 => venue().prop_map(|venue| C::BlockAudio { venue }),
        1 => venue().prop_map(|venue| C::UnblockAudio { venue }),
        1 => Just(C::Lock),
        1 => Just(C::Unlock),
        1 => (0u64..5_000).prop_map(|ms| C::Extend { by: Duration::from_millis(ms) }),
        1 => Just(C::HandChair { to: "zhao.chair".into() }),
        2 => venue().prop_map(|venue| C::Dial { venue }),
        2 => venue().prop_map(|venue| C::HangUp { venue }),
        2 => venue().prop_map(|venue| C::Redial { venue }),
    ]
}

fn leg_event() -> impl Strategy<Value = LegEvent> {
    prop_oneof![
        1 => Just(LegEvent::Dialing),
        1 => Just(LegEvent::Ringing),
        4 => Just(LegEvent::Answered),
        1 => Just(LegEvent::Busy),
        1 => Just(LegEvent::Failed),
        2 => Just(LegEvent::Dropped { reason: DropReason::MediaTimeout }),
        1 => Just(LegEvent::HungUpByVenue),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..7usize, command()).prop_map(|(a, c)| Op::Cmd(a, c)),
        5 => (0..5usize, leg_event()).prop_map(|(v, e)| Op::Leg(v, e)),
        2 => (0..5usize).prop_map(Op::Speaker),
        1 => (0..6usize).prop_map(Op::Admit),
        3 => (0u64..30_000).prop_map(Op::Advance),
    ]
}

fn actor(i: usize) -> Actor {
    match i {
        0 | 1 => it(),
        2 | 3 => chair(),
        4 => Actor::new("b1.admin", Role::SiteAdmin { site: id("b1") }),
        5 => Actor::new("zhao.chair", Role::ChairOperator),
        _ => Actor::new("audit", Role::Auditor),
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn invariants_hold_for_any_sequence(
        start in 0..3u8,
        ops in proptest::collection::vec(op(), 1..120),
    ) {
        // Start scheduled, live with everyone connected, or testing with two venues up, so
        // that short sequences reach the interesting states.
        let mut s = match start {
            0 => Sim::new(4),
            1 => Sim::live(4),
            _ => {
                let mut s = Sim::new(4);
                s.ok(&it(), ChairCommand::StartTesting);
                s.answer(MAIN);
                s.answer("b2");
                s
            }
        };
        for op in ops {
            let ended_before = s.conf.state() == MeetingState::Ended;
            let record_before = s.conf.record().len();
            s.log.clear();
            match op {
                Op::Cmd(a, c) => {
                    let who = actor(a);
                    let kind = c.kind();
                    let snap = s.conf.snapshot();
                    let len = s.conf.record().len();
                    if let Err(e) = s.cmd(&who, c) {
                        prop_assert_eq!(s.conf.snapshot(), snap, "refused {} ({}) changed state", kind, e);
                        prop_assert_eq!(s.conf.record().len(), len);
                    }
                }
                Op::Leg(v, e) => {
                    s.event(VENUES[v], e);
                }
                Op::Speaker(v) => {
                    s.speaker(VENUES[v]);
                }
                Op::Admit(v) => {
                    let _ = s.conf.admit(s.now, &id(VENUES[v]));
                }
                Op::Advance(ms) => {
                    s.advance(Duration::from_millis(ms));
                }
            }
            if ended_before {
                prop_assert_eq!(s.conf.record().len(), record_before, "record grew after the end");
                for (_, a) in &s.log {
                    let allowed = matches!(a, Action::HangUp { .. });
                    prop_assert!(allowed, "{:?} after the end", a);
                }
            }
            s.check_invariants();
        }
    }
}
