//! Legs: dial-in admission, SIP facts, dial / hang up, and redial with backoff.

use std::time::Instant;

use super::{Conference, Timer, Touch};
use crate::error::{AdmitError, CommandError, Conflict, EventError};
use crate::leg::{DropReason, FailReason, LegEvent, LegStatus};
use crate::model::VenueId;
use crate::output::{Action, ConferenceEvent, RecordKind, ShowCause};

impl Conference {
    /// Whether the SIP layer may answer `venue`'s dial-in.
    ///
    /// Refused when the venue is not invited, the meeting is not `Testing` or `Live`, the venue
    /// is already connected, or the meeting is locked and the venue never joined it (a venue
    /// that dropped may always come back: "a branch that drops must reconnect by itself").
    /// Refusals are recorded and reported; acceptance changes nothing until
    /// [`LegEvent::Answered`].
    pub fn admit(&mut self, now: Instant, venue: &VenueId) -> Result<(), AdmitError> {
        let result = self.check_admit(venue);
        if let Err(error) = &result {
            tracing::info!(%venue, %error, "dial-in refused");
            if self.index.contains_key(venue) {
                self.log(
                    now,
                    None,
                    RecordKind::AdmitRefused {
                        venue: venue.clone(),
                    },
                );
            }
            self.events.push_back(ConferenceEvent::AdmitRefused {
                venue: venue.clone(),
                error: error.clone(),
            });
        }
        result
    }

    fn check_admit(&self, venue: &VenueId) -> Result<(), AdmitError> {
        let leg = self
            .index
            .get(venue)
            .and_then(|&i| self.legs.get(i))
            .ok_or_else(|| AdmitError::UnknownVenue {
                venue: venue.clone(),
            })?;
        if !self.meeting.state.has_media() {
            return Err(AdmitError::NotOpen {
                state: self.meeting.state,
            });
        }
        if leg.status.is_connected() {
            return Err(AdmitError::AlreadyConnected);
        }
        if self.locked && !leg.joined_before {
            return Err(AdmitError::Locked);
        }
        Ok(())
    }

    /// Applies a SIP fact about `venue`'s leg.
    ///
    /// Facts that make no sense in the leg's status (a late `Ringing`, a `Busy` for a call
    /// nobody made) are ignored: the network may reorder and repeat. A call answered after the
    /// meeting ended (or before it opened) is hung up.
    pub fn handle_leg_event(
        &mut self,
        now: Instant,
        venue: &VenueId,
        event: LegEvent,
    ) -> Result<Vec<Action>, EventError> {
        let v = self
            .index
            .get(venue)
            .copied()
            .ok_or_else(|| EventError::UnknownVenue {
                venue: venue.clone(),
            })?;
        let mut out = Vec::new();
        let Some(status) = self.legs.get(v).map(|l| l.status) else {
            return Ok(out);
        };
        if !self.meeting.state.has_media() {
            if event == LegEvent::Answered {
                out.push(Action::HangUp {
                    venue: venue.clone(),
                });
            }
            return Ok(out);
        }
        let calling = status.is_calling();
        let connected = status.is_connected();
        match event {
            LegEvent::Dialing if !connected => {
                let attempt = self.legs.get(v).map_or(0, |l| l.attempt);
                self.set_status(v, LegStatus::Dialing { attempt });
            }
            LegEvent::Ringing if calling => self.set_status(v, LegStatus::Ringing),
            LegEvent::Answered if !connected => self.leg_up(now, v, &mut out),
            LegEvent::Busy if calling => self.call_failed(now, v, FailReason::Busy),
            LegEvent::Failed if calling => self.call_failed(now, v, FailReason::Unreachable),
            LegEvent::Dropped { reason } if calling => {
                self.call_failed(now, v, FailReason::Dropped(reason));
            }
            LegEvent::Dropped { reason } if connected => self.dropped(now, v, reason, &mut out),
            LegEvent::HungUpByVenue if connected || calling => {
                self.set_status(v, LegStatus::HungUp);
                self.log(
                    now,
                    None,
                    RecordKind::LeftByItself {
                        venue: venue.clone(),
                    },
                );
                self.leg_lost(now, v, &mut out);
            }
            _ => {
                tracing::debug!(%venue, ?event, ?status, "leg event ignored in this status");
            }
        }
        Ok(out)
    }

    fn set_status(&mut self, v: usize, status: LegStatus) {
        let Some(leg) = self.legs.get_mut(v) else {
            return;
        };
        if leg.status == status {
            return;
        }
        leg.status = status;
        if !matches!(status, LegStatus::RedialPending { .. })
            && let Some(due) = leg.redial_due.take()
        {
            self.timers.remove(&(due, Timer::Redial(v)));
        }
        let venue = self.id(v).clone();
        self.events
            .push_back(ConferenceEvent::LegChanged { venue, status });
    }

    fn leg_up(&mut self, now: Instant, v: usize, out: &mut Vec<Action>) {
        let since = self.stamp(now);
        self.set_status(v, LegStatus::Connected { since });
        if let Some(leg) = self.legs.get_mut(v) {
            leg.joined_before = true;
            leg.attempt = 0;
            leg.applied = None;
        }
        let venue = self.id(v).clone();
        self.log(now, None, RecordKind::Joined { venue });
        // A broadcaster that dropped is shown again, unless something switched since.
        let cause = if self.displaced == Some(v) {
            self.set_broadcast(v);
            ShowCause::Restore
        } else {
            ShowCause::Command
        };
        // Its picture, microphone and audio block come back as they were: muted stays muted.
        self.sync(now, cause, Touch::One(v), out);
    }

    /// The venue's media is gone (drop or hang-up): forget what it was told, and if it was on
    /// the broadcast, show the main venue instead until it returns.
    fn leg_lost(&mut self, now: Instant, v: usize, out: &mut Vec<Action>) {
        if let Some(leg) = self.legs.get_mut(v) {
            leg.applied = None;
        }
        if self.voice.candidate.is_some_and(|(c, _)| c == v) {
            self.clear_voice_candidate();
        }
        if self.broadcast == v && v != self.main {
            self.set_broadcast(self.main);
            self.displaced = Some(v);
            self.sync(now, ShowCause::Fallback, Touch::None, out);
        }
    }

    fn dropped(&mut self, now: Instant, v: usize, reason: DropReason, out: &mut Vec<Action>) {
        let venue = self.id(v).clone();
        tracing::warn!(%venue, ?reason, "venue dropped");
        self.log(
            now,
            None,
            RecordKind::Dropped {
                venue: venue.clone(),
                reason,
            },
        );
        self.events
            .push_back(ConferenceEvent::VenueDropped { venue, reason });
        let at = self.stamp(now);
        self.set_status(v, LegStatus::Dropped { at, reason });
        self.leg_lost(now, v, out);
        if self.config.redial.attempts > 0 {
            self.schedule_redial(now, v, 1);
        }
    }

    fn call_failed(&mut self, now: Instant, v: usize, reason: FailReason) {
        let venue = self.id(v).clone();
        self.log(
            now,
            None,
            RecordKind::DialFailed {
                venue: venue.clone(),
                reason,
            },
        );
        let next = self
            .legs
            .get(v)
            .map_or(u32::MAX, |l| l.attempt)
            .saturating_add(1);
        if next <= self.config.redial.attempts {
            self.schedule_redial(now, v, next);
        } else {
            self.set_status(v, LegStatus::Failed { reason });
            if self.config.redial.attempts > 0 {
                tracing::warn!(%venue, "redials exhausted");
                self.log(
                    now,
                    None,
                    RecordKind::RedialsExhausted {
                        venue: venue.clone(),
                    },
                );
                self.events
                    .push_back(ConferenceEvent::RedialsExhausted { venue });
            }
        }
    }

    fn schedule_redial(&mut self, now: Instant, v: usize, attempt: u32) {
        let after = self.config.redial.delay(attempt);
        let due = now.checked_add(after).unwrap_or(now);
        let at = self.stamp(due);
        self.set_status(v, LegStatus::RedialPending { attempt, at });
        if let Some(leg) = self.legs.get_mut(v)
            && let Some(old) = leg.redial_due.replace(due)
        {
            self.timers.remove(&(old, Timer::Redial(v)));
        }
        self.timers.insert((due, Timer::Redial(v)));
        let venue = self.id(v).clone();
        self.log(
            now,
            None,
            RecordKind::RedialScheduled {
                venue,
                attempt,
                after,
            },
        );
    }

    pub(super) fn redial_due(&mut self, _now: Instant, v: usize, out: &mut Vec<Action>) {
        let Some(leg) = self.legs.get_mut(v) else {
            return;
        };
        leg.redial_due = None;
        let LegStatus::RedialPending { attempt, .. } = leg.status else {
            return;
        };
        leg.attempt = attempt;
        self.set_status(v, LegStatus::Dialing { attempt });
        out.push(Action::Dial {
            venue: self.id(v).clone(),
        });
    }

    pub(super) fn cmd_dial(
        &mut self,
        _now: Instant,
        v: usize,
        redial: bool,
        out: &mut Vec<Action>,
    ) -> Result<(), CommandError> {
        let status = self.leg(v)?.status;
        match status {
            LegStatus::Connected { .. } => return Err(Self::conflict(Conflict::AlreadyConnected)),
            LegStatus::Dialing { .. } | LegStatus::Ringing => {
                return Err(Self::conflict(Conflict::CallInProgress));
            }
            // Redial is for a call that went wrong; a venue never called is dialled.
            LegStatus::Idle if redial => return Err(Self::conflict(Conflict::NoCall)),
            _ => {}
        }
        self.leg_mut(v)?.attempt = 0;
        self.set_status(v, LegStatus::Dialing { attempt: 0 });
        out.push(Action::Dial {
            venue: self.id(v).clone(),
        });
        Ok(())
    }

    pub(super) fn cmd_hang_up(
        &mut self,
        now: Instant,
        v: usize,
        out: &mut Vec<Action>,
    ) -> Result<(), CommandError> {
        let status = self.leg(v)?.status;
        match status {
            LegStatus::Connected { .. } | LegStatus::Dialing { .. } | LegStatus::Ringing => {
                out.push(Action::HangUp {
                    venue: self.id(v).clone(),
                });
            }
            // No call exists; hanging up cancels the pending redial.
            LegStatus::RedialPending { .. } | LegStatus::Dropped { .. } => {}
            LegStatus::Idle | LegStatus::HungUp | LegStatus::Failed { .. } => {
                return Err(Self::conflict(Conflict::NoCall));
            }
        }
        self.set_status(v, LegStatus::HungUp);
        if status.is_connected() {
            self.leg_lost(now, v, out);
        }
        Ok(())
    }
}
