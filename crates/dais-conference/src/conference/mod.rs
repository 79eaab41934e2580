//! The conference: one meeting's policy state machine.

mod legs;
mod snapshot;
mod switching;

pub use snapshot::{FeedsSnapshot, LegSnapshot, PollingSnapshot, Snapshot, VoiceSnapshot};
pub use switching::MAX_POLLING_INTERVAL;

use std::collections::{BTreeSet, HashMap, VecDeque};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::command::{Actor, ChairCommand, CommandKind, permits};
use crate::error::{CommandError, ConfigError, Conflict};
use crate::leg::{LegStatus, RedialPolicy};
use crate::model::{
    Meeting, MeetingPlan, MeetingState, MeetingTime, VenueId, millis, validate_plan,
};
use crate::output::{Action, ConferenceEvent, FeedRole, RecordEntry, RecordKind};

/// The state of the chair's control commands, compared before and after a command.
#[derive(Debug)]
struct Controls {
    legs: Vec<(bool, bool)>,
    locked: bool,
    chair: String,
    ends_at: Option<crate::model::MeetingTime>,
}

/// Timing and redial settings of a conference.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConferenceConfig {
    /// How dropped and failed venues are called again.
    pub redial: RedialPolicy,
    /// How long before a polling switch the next venue is asked for a keyframe, so that the
    /// switch lands at once instead of waiting up to a GOP.
    #[serde(with = "millis")]
    pub keyframe_lead: Duration,
    /// How long a venue must stay the dominant speaker before voice activation shows it.
    #[serde(with = "millis")]
    pub voice_hold: Duration,
    /// The least time a voice-activated picture stays before voice activation switches again.
    #[serde(with = "millis")]
    pub voice_min_dwell: Duration,
}

impl Default for ConferenceConfig {
    fn default() -> Self {
        Self {
            redial: RedialPolicy::default(),
            keyframe_lead: Duration::from_millis(500),
            voice_hold: Duration::from_millis(1500),
            voice_min_dwell: Duration::from_secs(3),
        }
    }
}

impl ConferenceConfig {
    fn validate(&self) -> Result<(), ConfigError> {
        if self.redial.attempts > 0 && self.redial.interval.is_zero() {
            return Err(ConfigError::Invalid {
                reason: "redial interval must be positive when redial is on",
            });
        }
        if self.voice_hold.is_zero() {
            // A zero hold would switch on every mixer report: the flapping it exists to stop.
            return Err(ConfigError::Invalid {
                reason: "voice hold must be positive",
            });
        }
        Ok(())
    }
}

/// What the shell was last told about a connected venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Applied {
    picture: FeedRole,
    mic_open: bool,
    blocked: bool,
}

#[derive(Debug)]
struct Leg {
    status: LegStatus,
    /// The chair's (or site admin's) mute; survives drops.
    muted: bool,
    /// Audio to the venue blocked; survives drops.
    blocked: bool,
    /// Whether it was ever connected: a locked meeting still lets it back in.
    joined_before: bool,
    /// The attempt number of the current or last call (0: first call).
    attempt: u32,
    redial_due: Option<Instant>,
    /// `Some` exactly while connected.
    applied: Option<Applied>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Timer {
    // Declaration order is firing order at equal instants: the keyframe pre-roll before the
    // tick it prepares.
    PollPreroll,
    PollTick,
    VoiceHold,
    EndTime,
    Redial(usize),
}

#[derive(Debug)]
enum Polling {
    Off,
    Running {
        order: Vec<usize>,
        /// Position in `order` the next tick starts its search from.
        next: usize,
        interval: Duration,
        tick_at: Instant,
        preroll_at: Instant,
    },
    Paused {
        order: Vec<usize>,
        next: usize,
        interval: Duration,
    },
}

#[derive(Debug, Default)]
struct Voice {
    on: bool,
    candidate: Option<(usize, Instant)>,
    last_switch: Option<Instant>,
}

/// Which venues' applied state to recompute after a change.
#[derive(Debug, Clone, Copy)]
enum Touch {
    None,
    One(usize),
    Two(usize, usize),
    All,
}

/// One meeting's policy: who is shown, who may command it and when.
///
/// # Driving it
///
/// The shell owns one `Conference` per meeting and feeds it, from one task:
///
/// - operator commands: [`Conference::command`] (an `Err` is a refusal to report, 403/404/409);
/// - SIP facts: [`Conference::admit`] before answering a dial-in, then
///   [`Conference::handle_leg_event`];
/// - mixer facts: [`Conference::handle_dominant_speaker`];
/// - time: whenever `now` reaches [`Conference::poll_timeout`], [`Conference::handle_timeout`].
///
/// Each returns the [`Action`]s to apply, in order. Operator events come out of
/// [`Conference::poll_event`]; the meeting record is [`Conference::record`]; the live state for
/// the API is [`Conference::snapshot`]. Every `now` must be non-decreasing; nothing here reads a
/// clock, so a test can run a day-long meeting in a millisecond.
#[derive(Debug)]
pub struct Conference {
    epoch: Instant,
    meeting: Meeting,
    config: ConferenceConfig,
    index: HashMap<VenueId, usize>,
    ids: Vec<VenueId>,
    legs: Vec<Leg>,
    main: usize,
    roll_call_order: Vec<usize>,
    roll_call_cursor: usize,
    roll_call: Option<usize>,
    broadcast: usize,
    /// The broadcaster before the current one, the main venue excepted: what the main venue
    /// sees while it broadcasts itself.
    previous: Option<usize>,
    chair_view: Option<usize>,
    /// A broadcaster that dropped and was replaced by the main venue; shown again on return.
    displaced: Option<usize>,
    /// Last `Show` sent per feed (Broadcast, BroadcasterView, ChairView).
    shown: [Option<usize>; 3],
    polling: Polling,
    voice: Voice,
    locked: bool,
    end_due: Option<Instant>,
    timers: BTreeSet<(Instant, Timer)>,
    events: VecDeque<ConferenceEvent>,
    record: Vec<RecordEntry>,
    record_closed: bool,
}

impl Conference {
    /// Opens the policy for an approved meeting. `now` becomes the epoch of every
    /// [`MeetingTime`] in the record and snapshot. The meeting starts `Scheduled`, with no legs.
    pub fn new(
        now: Instant,
        plan: MeetingPlan,
        config: ConferenceConfig,
    ) -> Result<Self, ConfigError> {
        validate_plan(&plan)?;
        config.validate()?;
        let ids: Vec<VenueId> = plan.venues.iter().map(|v| v.id.clone()).collect();
        let index: HashMap<VenueId, usize> = ids
            .iter()
            .enumerate()
            .map(|(i, id)| (id.clone(), i))
            .collect();
        let main =
            *index
                .get(&plan.main_venue)
                .ok_or_else(|| ConfigError::MainVenueNotInvited {
                    venue: plan.main_venue.clone(),
                })?;
        let roll_call_order = plan
            .roll_call_order
            .iter()
            .filter_map(|id| index.get(id).copied())
            .collect();
        let legs = ids
            .iter()
            .map(|_| Leg {
                status: LegStatus::Idle,
                muted: false,
                blocked: false,
                joined_before: false,
                attempt: 0,
                redial_due: None,
                applied: None,
            })
            .collect();
        let end_due = plan.duration.and_then(|d| now.checked_add(d));
        let mut timers = BTreeSet::new();
        if let Some(at) = end_due {
            timers.insert((at, Timer::EndTime));
        }
        Ok(Self {
            epoch: now,
            meeting: Meeting {
                number: plan.number,
                subject: plan.subject,
                main_venue: plan.main_venue,
                venues: plan.venues,
                state: MeetingState::Scheduled,
                chair: plan.chair,
                ends_at: end_due.map(|at| MeetingTime::between(now, at)),
            },
            config,
            index,
            ids,
            legs,
            main,
            roll_call_order,
            roll_call_cursor: 0,
            roll_call: None,
            broadcast: main,
            previous: None,
            chair_view: None,
            displaced: None,
            shown: [None; 3],
            polling: Polling::Off,
            voice: Voice::default(),
            locked: false,
            end_due,
            timers,
            events: VecDeque::new(),
            record: Vec::new(),
            record_closed: false,
        })
    }

    /// The meeting.
    pub fn meeting(&self) -> &Meeting {
        &self.meeting
    }

    /// The meeting's state.
    pub fn state(&self) -> MeetingState {
        self.meeting.state
    }

    /// The configuration it runs with.
    pub fn config(&self) -> &ConferenceConfig {
        &self.config
    }

    /// The meeting record so far (closed once the meeting ended).
    pub fn record(&self) -> &[RecordEntry] {
        &self.record
    }

    /// A venue's leg status, `None` if the venue is not in the meeting.
    pub fn leg_status(&self, venue: &VenueId) -> Option<LegStatus> {
        let i = *self.index.get(venue)?;
        self.legs.get(i).map(|l| l.status)
    }

    /// The venue everyone sees.
    pub fn broadcast(&self) -> &VenueId {
        self.id(self.broadcast)
    }

    /// The next operator event, if any.
    pub fn poll_event(&mut self) -> Option<ConferenceEvent> {
        self.events.pop_front()
    }

    /// When [`Conference::handle_timeout`] must next be called, if anything is pending.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.first().map(|(at, _)| *at)
    }

    /// What the chair's control commands change, for [`Conference::controls_changed`].
    fn controls(&self) -> Controls {
        Controls {
            legs: self.legs.iter().map(|l| (l.muted, l.blocked)).collect(),
            locked: self.locked,
            chair: self.meeting.chair.clone(),
            ends_at: self.meeting.ends_at,
        }
    }

    /// Events for what a command changed that no other event reports, so that every
    /// operator's console shows another operator's mute, block, lock, hand-over or extension
    /// at once.
    fn controls_changed(&mut self, before: &Controls) {
        for (i, (muted, blocked)) in before.legs.iter().enumerate() {
            let Some(leg) = self.legs.get(i) else {
                continue;
            };
            let venue = self.id(i).clone();
            if leg.muted != *muted {
                self.events.push_back(ConferenceEvent::MuteChanged {
                    venue: venue.clone(),
                    muted: leg.muted,
                });
            }
            if leg.blocked != *blocked {
                self.events.push_back(ConferenceEvent::AudioBlockChanged {
                    venue,
                    blocked: leg.blocked,
                });
            }
        }
        if self.locked != before.locked {
            self.events.push_back(ConferenceEvent::LockChanged {
                locked: self.locked,
            });
        }
        if self.meeting.chair != before.chair {
            self.events.push_back(ConferenceEvent::ChairChanged {
                chair: self.meeting.chair.clone(),
            });
        }
        if self.meeting.ends_at != before.ends_at {
            self.events.push_back(ConferenceEvent::EndTimeChanged {
                ends_at: self.meeting.ends_at,
            });
        }
    }

    /// Applies an operator's command.
    ///
    /// Checked in this order: permission ([`CommandError::NotPermitted`], so that a stranger
    /// learns nothing else), meeting state ([`CommandError::WrongState`]), the venue named
    /// ([`CommandError::UnknownVenue`]), then the command's own preconditions
    /// ([`CommandError::NotConnected`], [`CommandError::Conflict`],
    /// [`CommandError::InvalidArgument`]). A refused command changes nothing, and is reported
    /// as a [`ConferenceEvent::CommandRefused`]. An accepted one is recorded with its actor,
    /// followed by what it caused.
    pub fn command(
        &mut self,
        now: Instant,
        actor: &Actor,
        command: ChairCommand,
    ) -> Result<Vec<Action>, CommandError> {
        let mark = self.record.len();
        let mut out = Vec::new();
        let before = self.controls();
        match self.try_command(now, actor, &command, &mut out) {
            Ok(()) => {
                tracing::debug!(operator = %actor.operator, command = %command.kind(), "command accepted");
                self.controls_changed(&before);
                let entry = RecordEntry {
                    at: self.stamp(now),
                    actor: Some(actor.clone()),
                    kind: RecordKind::Command { command },
                };
                // Inserted before the entries it caused; the record may have just closed
                // (end meeting), which must still name who ended it.
                self.record.insert(mark.min(self.record.len()), entry);
                Ok(out)
            }
            Err(error) => {
                tracing::info!(operator = %actor.operator, command = %command.kind(), %error, "command refused");
                self.events.push_back(ConferenceEvent::CommandRefused {
                    operator: actor.operator.clone(),
                    command: command.kind(),
                    error: error.clone(),
                });
                Err(error)
            }
        }
    }

    fn try_command(
        &mut self,
        now: Instant,
        actor: &Actor,
        command: &ChairCommand,
        out: &mut Vec<Action>,
    ) -> Result<(), CommandError> {
        let kind = command.kind();
        if !permits(actor, &self.meeting.chair, command) {
            return Err(CommandError::NotPermitted {
                operator: actor.operator.clone(),
                command: kind,
            });
        }
        if !kind.allowed_in(self.meeting.state) {
            return Err(CommandError::WrongState {
                command: kind,
                state: self.meeting.state,
            });
        }
        let target = match command.venue() {
            Some(v) => Some(self.lookup(v)?),
            None => None,
        };
        use ChairCommand as C;
        match (command, target) {
            (C::StartTesting, _) => self.transition(now, MeetingState::Testing, out),
            (C::GoLive, _) => self.transition(now, MeetingState::Live, out),
            (C::EndMeeting, _) => {
                self.end(now, out);
                Ok(())
            }
            (C::Broadcast { .. }, Some(v)) => self.cmd_broadcast(now, v, out),
            (C::View { .. }, Some(v)) => self.cmd_view(now, v, out),
            (C::StopView, _) => self.cmd_stop_view(now, out),
            (C::ReturnToMain, _) => self.cmd_broadcast(now, self.main, out),
            (C::RollCall { .. }, Some(v)) => self.cmd_roll_call(now, v, out),
            (C::RollCallNext, _) => self.cmd_roll_call_next(now, out),
            (C::EndRollCall, _) => self.cmd_end_roll_call(now, out),
            (C::StartPolling { venues, interval }, _) => {
                self.cmd_start_polling(now, venues, *interval, out)
            }
            (C::PausePolling, _) => self.cmd_pause_polling(),
            (C::ResumePolling, _) => self.cmd_resume_polling(now),
            (C::StopPolling, _) => self.cmd_stop_polling(),
            (C::SetVoiceActivation { on }, _) => {
                self.voice.on = *on;
                self.clear_voice_candidate();
                Ok(())
            }
            (C::Mute { .. }, Some(v)) => {
                self.leg_mut(v)?.muted = true;
                self.sync(now, crate::output::ShowCause::Command, Touch::One(v), out);
                Ok(())
            }
            (C::Unmute { .. }, Some(v)) => self.cmd_unmute(now, v, out),
            (C::MuteAllButMain, _) => {
                let main = self.main;
                for (i, leg) in self.legs.iter_mut().enumerate() {
                    leg.muted |= i != main;
                }
                self.sync(now, crate::output::ShowCause::Command, Touch::All, out);
                Ok(())
            }
            (C::BlockAudio { .. }, Some(v)) | (C::UnblockAudio { .. }, Some(v)) => {
                self.leg_mut(v)?.blocked = kind == CommandKind::BlockAudio;
                self.sync(now, crate::output::ShowCause::Command, Touch::One(v), out);
                Ok(())
            }
            (C::Lock, _) => {
                self.locked = true;
                Ok(())
            }
            (C::Unlock, _) => {
                self.locked = false;
                Ok(())
            }
            (C::Extend { by }, _) => self.cmd_extend(now, *by),
            (C::HandChair { to }, _) => {
                if to.trim().is_empty() {
                    return Err(CommandError::InvalidArgument {
                        reason: "the new chair operator's name is empty",
                    });
                }
                self.meeting.chair = to.clone();
                Ok(())
            }
            (C::Dial { .. }, Some(v)) => self.cmd_dial(now, v, false, out),
            (C::Redial { .. }, Some(v)) => self.cmd_dial(now, v, true, out),
            (C::HangUp { .. }, Some(v)) => self.cmd_hang_up(now, v, out),
            _ => Err(CommandError::Internal {
                detail: "command with a venue argument reached dispatch without one",
            }),
        }
    }

    fn transition(
        &mut self,
        now: Instant,
        to: MeetingState,
        out: &mut Vec<Action>,
    ) -> Result<(), CommandError> {
        let from = self.meeting.state;
        if !from.can_become(to) {
            return Err(CommandError::WrongState {
                command: if to == MeetingState::Testing {
                    CommandKind::StartTesting
                } else {
                    CommandKind::GoLive
                },
                state: from,
            });
        }
        self.set_state(now, to);
        // Opening from `Scheduled` puts the first pictures up; Testing → Live changes none.
        self.sync(now, crate::output::ShowCause::Opening, Touch::None, out);
        Ok(())
    }

    fn set_state(&mut self, now: Instant, to: MeetingState) {
        let from = self.meeting.state;
        self.meeting.state = to;
        self.log(now, None, RecordKind::StateChanged { from, to });
        self.events
            .push_back(ConferenceEvent::StateChanged { from, to });
    }

    fn end(&mut self, now: Instant, out: &mut Vec<Action>) {
        out.push(Action::HangUpAll);
        for leg in &mut self.legs {
            if matches!(
                leg.status,
                LegStatus::Connected { .. }
                    | LegStatus::Dialing { .. }
                    | LegStatus::Ringing
                    | LegStatus::RedialPending { .. }
            ) {
                leg.status = LegStatus::HungUp;
            }
            leg.applied = None;
            leg.redial_due = None;
        }
        self.timers.clear();
        self.end_due = None;
        self.polling = Polling::Off;
        self.roll_call = None;
        self.voice = Voice::default();
        self.set_state(now, MeetingState::Ended);
        self.record_closed = true;
    }

    fn cmd_extend(&mut self, now: Instant, by: Duration) -> Result<(), CommandError> {
        if by.is_zero() {
            return Err(CommandError::InvalidArgument {
                reason: "extension must be positive",
            });
        }
        let base = self.end_due.map_or(now, |due| due.max(now));
        let due = base.checked_add(by).ok_or(CommandError::InvalidArgument {
            reason: "extension too long",
        })?;
        if let Some(old) = self.end_due.replace(due) {
            self.timers.remove(&(old, Timer::EndTime));
        }
        self.timers.insert((due, Timer::EndTime));
        self.meeting.ends_at = Some(self.stamp(due));
        Ok(())
    }

    fn end_time_reached(&mut self, now: Instant) {
        self.end_due = None;
        self.log(now, None, RecordKind::EndTimeReached);
        self.events.push_back(ConferenceEvent::EndTimeReached);
    }

    /// Runs every deadline due at or before `now`, in deadline order.
    pub fn handle_timeout(&mut self, now: Instant) -> Vec<Action> {
        let mut out = Vec::new();
        while let Some(&(at, timer)) = self.timers.first() {
            if at > now {
                break;
            }
            self.timers.pop_first();
            match timer {
                Timer::PollPreroll => self.poll_preroll(&mut out),
                Timer::PollTick => self.poll_tick(now, at, &mut out),
                Timer::VoiceHold => self.voice_hold_expired(now, &mut out),
                Timer::EndTime => self.end_time_reached(now),
                Timer::Redial(v) => self.redial_due(now, v, &mut out),
            }
        }
        out
    }

    // --- helpers -------------------------------------------------------------------------

    fn stamp(&self, at: Instant) -> MeetingTime {
        MeetingTime::between(self.epoch, at)
    }

    fn log(&mut self, now: Instant, actor: Option<&Actor>, kind: RecordKind) {
        if self.record_closed {
            return;
        }
        let at = self.stamp(now);
        self.record.push(RecordEntry {
            at,
            actor: actor.cloned(),
            kind,
        });
    }

    fn lookup(&self, venue: &VenueId) -> Result<usize, CommandError> {
        self.index
            .get(venue)
            .copied()
            .ok_or_else(|| CommandError::UnknownVenue {
                venue: venue.clone(),
            })
    }

    fn id(&self, i: usize) -> &VenueId {
        // Indices come only from `index`, built with `ids`; the main venue's id is the fallback
        // so that a broken invariant shows as a wrong name, never a panic.
        self.ids.get(i).unwrap_or(&self.meeting.main_venue)
    }

    fn leg(&self, i: usize) -> Result<&Leg, CommandError> {
        self.legs.get(i).ok_or(CommandError::Internal {
            detail: "venue index out of range",
        })
    }

    fn leg_mut(&mut self, i: usize) -> Result<&mut Leg, CommandError> {
        self.legs.get_mut(i).ok_or(CommandError::Internal {
            detail: "venue index out of range",
        })
    }

    fn is_connected(&self, i: usize) -> bool {
        self.legs.get(i).is_some_and(|l| l.status.is_connected())
    }

    fn require_connected(&self, i: usize) -> Result<(), CommandError> {
        if self.is_connected(i) {
            Ok(())
        } else {
            Err(CommandError::NotConnected {
                venue: self.id(i).clone(),
            })
        }
    }

    fn conflict(conflict: Conflict) -> CommandError {
        CommandError::Conflict { conflict }
    }
}
