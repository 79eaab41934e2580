//! Who is shown and heard: feeds, subscriptions, microphones, roll call, polling, voice.

use std::time::{Duration, Instant};

use super::{Applied, Conference, Polling, Timer, Touch};
use crate::error::{CommandError, Conflict};
use crate::model::VenueId;
use crate::output::{Action, ConferenceEvent, FeedRole, PollingStatus, RecordKind, ShowCause};

/// Longest accepted polling interval: beyond an hour it is not polling but a typo, and the bound
/// keeps deadline arithmetic far from `Instant` overflow.
pub const MAX_POLLING_INTERVAL: Duration = Duration::from_secs(3600);

const FEEDS: [FeedRole; 3] = [
    FeedRole::Broadcast,
    FeedRole::BroadcasterView,
    FeedRole::ChairView,
];

impl Conference {
    /// What each feed should carry now.
    pub(super) fn feed_source(&self, feed: FeedRole) -> Option<usize> {
        match feed {
            FeedRole::Broadcast => Some(self.broadcast),
            FeedRole::BroadcasterView if self.broadcast != self.main => Some(self.main),
            FeedRole::BroadcasterView => self.previous,
            FeedRole::ChairView => self.chair_view,
        }
    }

    /// Which feed venue `v` should receive.
    pub(super) fn picture_of(&self, v: usize) -> FeedRole {
        if v == self.main && self.chair_view.is_some() {
            FeedRole::ChairView
        } else if v == self.broadcast {
            FeedRole::BroadcasterView
        } else {
            FeedRole::Broadcast
        }
    }

    /// Whether `v`'s microphone should be open.
    pub(super) fn mic_open(&self, v: usize) -> bool {
        let Some(leg) = self.legs.get(v) else {
            return false;
        };
        let silenced_by_roll_call = self.roll_call.is_some_and(|r| r != v && v != self.main);
        leg.status.is_connected() && !leg.muted && !silenced_by_roll_call
    }

    /// Brings the shell in line with the policy: `Show` for every feed whose source changed,
    /// and `Subscribe` / `SetMicrophone` / `BlockAudio` for the touched venues whose applied
    /// state differs. The old and new broadcaster and the main venue are always touched, since
    /// they are the only venues whose picture a feed change can move.
    pub(super) fn sync(
        &mut self,
        now: Instant,
        cause: ShowCause,
        touch: Touch,
        out: &mut Vec<Action>,
    ) {
        if !self.meeting.state.has_media() {
            return;
        }
        let old_broadcaster = self.shown[0];
        for (slot, feed) in FEEDS.into_iter().enumerate() {
            let want = self.feed_source(feed);
            if self.shown.get(slot).copied().flatten() != want {
                if let Some(s) = self.shown.get_mut(slot) {
                    *s = want;
                }
                let venue = want.map(|v| self.id(v).clone());
                out.push(Action::Show {
                    feed,
                    venue: venue.clone(),
                });
                self.log(
                    now,
                    None,
                    RecordKind::Shown {
                        feed,
                        venue: venue.clone(),
                        cause,
                    },
                );
                self.events
                    .push_back(ConferenceEvent::Shown { feed, venue });
            }
        }
        let fixed = [old_broadcaster, Some(self.broadcast), Some(self.main)];
        for v in fixed.into_iter().flatten() {
            self.apply_venue(v, out);
        }
        match touch {
            Touch::None => {}
            Touch::One(v) => self.apply_venue(v, out),
            Touch::Two(a, b) => {
                self.apply_venue(a, out);
                self.apply_venue(b, out);
            }
            Touch::All => {
                for v in 0..self.legs.len() {
                    self.apply_venue(v, out);
                }
            }
        }
    }

    /// Emits the actions that bring one connected venue to its wanted state.
    fn apply_venue(&mut self, v: usize, out: &mut Vec<Action>) {
        let connected = self.is_connected(v);
        let want = Applied {
            picture: self.picture_of(v),
            mic_open: self.mic_open(v),
            blocked: self.legs.get(v).is_some_and(|l| l.blocked),
        };
        let id = self.id(v).clone();
        let Some(leg) = self.legs.get_mut(v) else {
            return;
        };
        if !connected {
            leg.applied = None;
            return;
        }
        let had = leg.applied.replace(want);
        if had.map(|a| a.picture) != Some(want.picture) {
            out.push(Action::Subscribe {
                venue: id.clone(),
                feed: want.picture,
            });
        }
        if had.map(|a| a.mic_open) != Some(want.mic_open) {
            out.push(Action::SetMicrophone {
                venue: id.clone(),
                open: want.mic_open,
            });
        }
        if had.map(|a| a.blocked) != Some(want.blocked) {
            out.push(Action::BlockAudio {
                venue: id,
                blocked: want.blocked,
            });
        }
    }

    /// Points the broadcast at `v`. A displaced broadcaster is forgotten: whatever switched
    /// the picture since has the last word.
    pub(super) fn set_broadcast(&mut self, v: usize) {
        self.displaced = None;
        if v != self.broadcast {
            if self.broadcast != self.main {
                self.previous = Some(self.broadcast);
            }
            self.broadcast = v;
        }
    }

    pub(super) fn cmd_broadcast(
        &mut self,
        now: Instant,
        v: usize,
        out: &mut Vec<Action>,
    ) -> Result<(), CommandError> {
        self.require_connected(v)?;
        // A hand switch overrides automation: polling pauses (resume continues where it was),
        // a roll call ends (microphones return to their own state).
        self.pause_polling_for_hand_switch(now);
        let touch = if self.roll_call.take().is_some() {
            self.events
                .push_back(ConferenceEvent::RollCall { venue: None });
            Touch::All
        } else {
            Touch::None
        };
        self.clear_voice_candidate();
        self.voice.last_switch = Some(now);
        self.set_broadcast(v);
        self.sync(now, ShowCause::Command, touch, out);
        Ok(())
    }

    pub(super) fn cmd_view(
        &mut self,
        now: Instant,
        v: usize,
        out: &mut Vec<Action>,
    ) -> Result<(), CommandError> {
        self.require_connected(v)?;
        self.chair_view = Some(v);
        self.sync(now, ShowCause::Command, Touch::None, out);
        Ok(())
    }

    pub(super) fn cmd_stop_view(
        &mut self,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> Result<(), CommandError> {
        if self.chair_view.take().is_none() {
            return Err(Self::conflict(Conflict::NoView));
        }
        self.sync(now, ShowCause::Command, Touch::None, out);
        Ok(())
    }

    pub(super) fn cmd_unmute(
        &mut self,
        now: Instant,
        v: usize,
        out: &mut Vec<Action>,
    ) -> Result<(), CommandError> {
        // During a roll call only the called venue and the main venue speak; unmuting anyone
        // else would be silently overridden, so it is refused instead.
        if self.roll_call.is_some_and(|r| r != v && v != self.main) {
            return Err(Self::conflict(Conflict::RollCallRunning));
        }
        self.leg_mut(v)?.muted = false;
        self.sync(now, ShowCause::Command, Touch::One(v), out);
        Ok(())
    }

    // --- roll call ---------------------------------------------------------------------------

    pub(super) fn cmd_roll_call(
        &mut self,
        now: Instant,
        v: usize,
        out: &mut Vec<Action>,
    ) -> Result<(), CommandError> {
        if v == self.main {
            return Err(CommandError::InvalidArgument {
                reason: "the main venue cannot be roll-called",
            });
        }
        self.require_connected(v)?;
        if let Some(pos) = self.roll_call_order.iter().position(|&o| o == v) {
            self.roll_call_cursor = pos + 1;
        }
        self.start_roll_call(now, v, out);
        Ok(())
    }

    pub(super) fn cmd_roll_call_next(
        &mut self,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> Result<(), CommandError> {
        let rest = self
            .roll_call_order
            .get(self.roll_call_cursor..)
            .unwrap_or(&[]);
        let Some(offset) = rest.iter().position(|&o| self.is_connected(o)) else {
            return Err(Self::conflict(Conflict::RollCallOrderExhausted));
        };
        let absent: Vec<usize> = rest.iter().take(offset).copied().collect();
        let v = rest.get(offset).copied().ok_or(CommandError::Internal {
            detail: "roll-call position vanished",
        })?;
        for a in absent {
            let venue = self.id(a).clone();
            self.log(now, None, RecordKind::RollCallAbsent { venue });
        }
        self.roll_call_cursor += offset + 1;
        self.start_roll_call(now, v, out);
        Ok(())
    }

    fn start_roll_call(&mut self, now: Instant, v: usize, out: &mut Vec<Action>) {
        self.pause_polling_for_hand_switch(now);
        self.clear_voice_candidate();
        let touch = match self.roll_call.replace(v) {
            // Moving from one called venue to the next touches only those two.
            Some(prev) => Touch::Two(prev, v),
            None => Touch::All,
        };
        if let Some(leg) = self.legs.get_mut(v) {
            // Calling a venue opens its microphone: an explicit unmute.
            leg.muted = false;
        }
        self.set_broadcast(v);
        self.voice.last_switch = Some(now);
        self.sync(now, ShowCause::Command, touch, out);
        let venue = Some(self.id(v).clone());
        self.events.push_back(ConferenceEvent::RollCall { venue });
    }

    pub(super) fn cmd_end_roll_call(
        &mut self,
        now: Instant,
        out: &mut Vec<Action>,
    ) -> Result<(), CommandError> {
        if self.roll_call.take().is_none() {
            return Err(Self::conflict(Conflict::NoRollCall));
        }
        self.sync(now, ShowCause::Command, Touch::All, out);
        self.events
            .push_back(ConferenceEvent::RollCall { venue: None });
        Ok(())
    }

    // --- polling -----------------------------------------------------------------------------

    pub(super) fn cmd_start_polling(
        &mut self,
        now: Instant,
        venues: &[VenueId],
        interval: Duration,
        out: &mut Vec<Action>,
    ) -> Result<(), CommandError> {
        if self.roll_call.is_some() {
            return Err(Self::conflict(Conflict::RollCallRunning));
        }
        if venues.is_empty() {
            return Err(CommandError::InvalidArgument {
                reason: "the polling list is empty",
            });
        }
        if interval > MAX_POLLING_INTERVAL {
            return Err(CommandError::InvalidArgument {
                reason: "the polling interval is longer than an hour",
            });
        }
        if interval <= self.config.keyframe_lead {
            return Err(CommandError::InvalidArgument {
                reason: "the polling interval must be longer than the keyframe lead",
            });
        }
        let order = venues
            .iter()
            .map(|v| self.lookup(v))
            .collect::<Result<Vec<_>, _>>()?;
        // A new list replaces a running or paused one.
        self.cancel_polling_timers();
        self.clear_voice_candidate();
        self.polling = Polling::Paused {
            order,
            next: 0,
            interval,
        };
        self.events.push_back(ConferenceEvent::Polling {
            status: PollingStatus::Running,
        });
        // The first venue goes up at once; the tick grid starts here.
        self.run_tick(now, now, out);
        Ok(())
    }

    pub(super) fn cmd_pause_polling(&mut self) -> Result<(), CommandError> {
        if !matches!(self.polling, Polling::Running { .. }) {
            return Err(Self::conflict(Conflict::PollingNotRunning));
        }
        self.pause_polling();
        Ok(())
    }

    pub(super) fn cmd_resume_polling(&mut self, now: Instant) -> Result<(), CommandError> {
        if !matches!(self.polling, Polling::Paused { .. }) {
            return Err(Self::conflict(Conflict::PollingNotPaused));
        }
        if self.roll_call.is_some() {
            return Err(Self::conflict(Conflict::RollCallRunning));
        }
        let Polling::Paused {
            order,
            next,
            interval,
        } = std::mem::replace(&mut self.polling, Polling::Off)
        else {
            return Err(CommandError::Internal {
                detail: "polling changed state during resume",
            });
        };
        self.clear_voice_candidate();
        // The venue on screen gets a full interval before the next switch.
        // Bounded by MAX_POLLING_INTERVAL at start, so only an absurd `now` can overflow.
        let tick_at = now.checked_add(interval).unwrap_or(now);
        self.schedule_tick(order, next, interval, tick_at);
        self.events.push_back(ConferenceEvent::Polling {
            status: PollingStatus::Running,
        });
        Ok(())
    }

    pub(super) fn cmd_stop_polling(&mut self) -> Result<(), CommandError> {
        if matches!(self.polling, Polling::Off) {
            return Err(Self::conflict(Conflict::PollingNotRunning));
        }
        self.cancel_polling_timers();
        self.polling = Polling::Off;
        self.events.push_back(ConferenceEvent::Polling {
            status: PollingStatus::Off,
        });
        Ok(())
    }

    fn pause_polling(&mut self) {
        self.cancel_polling_timers();
        if let Polling::Running {
            order,
            next,
            interval,
            ..
        } = std::mem::replace(&mut self.polling, Polling::Off)
        {
            self.polling = Polling::Paused {
                order,
                next,
                interval,
            };
            self.events.push_back(ConferenceEvent::Polling {
                status: PollingStatus::Paused,
            });
        }
    }

    fn pause_polling_for_hand_switch(&mut self, now: Instant) {
        if matches!(self.polling, Polling::Running { .. }) {
            self.pause_polling();
            self.log(now, None, RecordKind::PollingPaused);
        }
    }

    fn cancel_polling_timers(&mut self) {
        if let Polling::Running {
            tick_at,
            preroll_at,
            ..
        } = self.polling
        {
            self.timers.remove(&(tick_at, Timer::PollTick));
            self.timers.remove(&(preroll_at, Timer::PollPreroll));
        }
    }

    /// The position in `order`, from `next` on and wrapping once, of the first connected venue.
    fn next_polled(&self, order: &[usize], next: usize) -> Option<usize> {
        let n = order.len();
        (0..n)
            .map(|k| (next + k) % n)
            .find(|&p| order.get(p).is_some_and(|&v| self.is_connected(v)))
    }

    fn schedule_tick(
        &mut self,
        order: Vec<usize>,
        next: usize,
        interval: Duration,
        tick_at: Instant,
    ) {
        let preroll_at = tick_at
            .checked_sub(self.config.keyframe_lead)
            .unwrap_or(tick_at);
        self.timers.insert((preroll_at, Timer::PollPreroll));
        self.timers.insert((tick_at, Timer::PollTick));
        self.polling = Polling::Running {
            order,
            next,
            interval,
            tick_at,
            preroll_at,
        };
    }

    /// One polling step at grid time `due` (handled at `now`): show the next connected venue and
    /// schedule the next step exactly one interval after `due`, so lateness does not drift.
    fn run_tick(&mut self, now: Instant, due: Instant, out: &mut Vec<Action>) {
        let (order, next, interval) = match std::mem::replace(&mut self.polling, Polling::Off) {
            Polling::Running {
                order,
                next,
                interval,
                ..
            }
            | Polling::Paused {
                order,
                next,
                interval,
            } => (order, next, interval),
            Polling::Off => return,
        };
        let mut next_pos = next;
        if let Some(p) = self.next_polled(&order, next) {
            if let Some(&v) = order.get(p) {
                self.set_broadcast(v);
                self.sync(now, ShowCause::Polling, Touch::None, out);
            }
            next_pos = (p + 1) % order.len().max(1);
        }
        let tick_at = due.checked_add(interval).unwrap_or(due);
        self.schedule_tick(order, next_pos, interval, tick_at);
    }

    pub(super) fn poll_tick(&mut self, now: Instant, due: Instant, out: &mut Vec<Action>) {
        if matches!(self.polling, Polling::Running { tick_at, .. } if tick_at == due) {
            self.run_tick(now, due, out);
        }
    }

    /// Asks the venue the coming tick will show for a keyframe, so the cut is immediate.
    pub(super) fn poll_preroll(&mut self, out: &mut Vec<Action>) {
        let Polling::Running { order, next, .. } = &self.polling else {
            return;
        };
        let coming = self
            .next_polled(order, *next)
            .and_then(|p| order.get(p).copied());
        if let Some(v) = coming.filter(|&v| v != self.broadcast) {
            out.push(Action::RequestKeyframe {
                venue: self.id(v).clone(),
            });
        }
    }

    pub(super) fn polling_status(&self) -> PollingStatus {
        match self.polling {
            Polling::Off => PollingStatus::Off,
            Polling::Running { .. } => PollingStatus::Running,
            Polling::Paused { .. } => PollingStatus::Paused,
        }
    }

    pub(super) fn polling_list(&self) -> (&[usize], Option<Duration>, Option<Instant>) {
        match &self.polling {
            Polling::Off => (&[], None, None),
            Polling::Running {
                order,
                interval,
                tick_at,
                ..
            } => (order, Some(*interval), Some(*tick_at)),
            Polling::Paused {
                order, interval, ..
            } => (order, Some(*interval), None),
        }
    }

    // --- voice activation --------------------------------------------------------------------

    /// Whether voice activation is on but held off by polling or a roll call.
    pub(super) fn voice_suspended(&self) -> bool {
        !matches!(self.polling, Polling::Off) || self.roll_call.is_some()
    }

    pub(super) fn clear_voice_candidate(&mut self) {
        if let Some((_, due)) = self.voice.candidate.take() {
            self.timers.remove(&(due, Timer::VoiceHold));
        }
    }

    /// The audio mixer reports `venue` as the dominant speaker.
    ///
    /// With voice activation on (and not suspended by polling, running or paused, or a roll
    /// call), a venue that stays dominant for the hold time is broadcast. Hysteresis: a new
    /// candidate restarts the hold, the current broadcaster becoming dominant again cancels the
    /// candidate, and no switch happens sooner than the minimum dwell after the last one — so
    /// two equally loud venues trading dominance faster than the hold never switch at all.
    pub fn handle_dominant_speaker(
        &mut self,
        now: Instant,
        venue: &VenueId,
    ) -> Result<Vec<Action>, crate::error::EventError> {
        let v = self.index.get(venue).copied().ok_or_else(|| {
            crate::error::EventError::UnknownVenue {
                venue: venue.clone(),
            }
        })?;
        let active = self.voice.on && self.meeting.state.has_media() && !self.voice_suspended();
        if !active || !self.is_connected(v) {
            return Ok(Vec::new());
        }
        if v == self.broadcast {
            self.clear_voice_candidate();
        } else if self.voice.candidate.map(|(c, _)| c) != Some(v) {
            self.clear_voice_candidate();
            let mut due = now.checked_add(self.config.voice_hold).unwrap_or(now);
            if let Some(last) = self.voice.last_switch {
                due = due.max(
                    last.checked_add(self.config.voice_min_dwell)
                        .unwrap_or(last),
                );
            }
            self.voice.candidate = Some((v, due));
            self.timers.insert((due, Timer::VoiceHold));
        }
        Ok(Vec::new())
    }

    pub(super) fn voice_hold_expired(&mut self, now: Instant, out: &mut Vec<Action>) {
        let Some((v, _)) = self.voice.candidate.take() else {
            return;
        };
        if self.voice.on && !self.voice_suspended() && self.is_connected(v) {
            self.set_broadcast(v);
            self.voice.last_switch = Some(now);
            self.sync(now, ShowCause::Voice, Touch::None, out);
        }
    }
}
