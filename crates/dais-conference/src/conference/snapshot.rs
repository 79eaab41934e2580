//! The live state, for the API.

use std::time::Duration;

use serde::Serialize;

use super::Conference;
use crate::leg::LegStatus;
use crate::model::{MeetingState, MeetingTime, VenueId, millis};
use crate::output::{FeedRole, PollingStatus};

/// Everything an operator console shows about a running meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Snapshot {
    /// The meeting number.
    pub number: String,
    /// The subject.
    pub subject: String,
    /// Its state.
    pub state: MeetingState,
    /// The chair operator.
    pub chair: String,
    /// The main venue.
    pub main_venue: VenueId,
    /// Whether new dial-ins are refused.
    pub locked: bool,
    /// Planned end.
    pub ends_at: Option<MeetingTime>,
    /// What each feed shows (as last sent to the media engine).
    pub feeds: FeedsSnapshot,
    /// Every venue's leg, in the plan's order.
    pub legs: Vec<LegSnapshot>,
    /// Polling.
    pub polling: PollingSnapshot,
    /// The venue being roll-called, if a roll call runs.
    pub roll_call: Option<VenueId>,
    /// Voice-activated switching.
    pub voice: VoiceSnapshot,
}

/// The source of each feed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FeedsSnapshot {
    /// What everyone sees.
    pub broadcast: Option<VenueId>,
    /// What the broadcaster sees.
    pub broadcaster_view: Option<VenueId>,
    /// The chair's private view.
    pub chair_view: Option<VenueId>,
}

/// One venue's leg and audio state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct LegSnapshot {
    /// The venue.
    pub venue: VenueId,
    /// Its call.
    pub status: LegStatus,
    /// Muted by the chair or its site admin (kept across drops).
    pub muted: bool,
    /// Meeting audio to it blocked (kept across drops).
    pub audio_blocked: bool,
    /// Whether its microphone is open in the mix now.
    pub microphone_open: bool,
    /// The feed it receives, while connected.
    pub picture: Option<FeedRole>,
}

/// Polling state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PollingSnapshot {
    /// Off, running or paused.
    pub status: PollingStatus,
    /// The list being polled.
    pub venues: Vec<VenueId>,
    /// The interval, in milliseconds.
    #[serde(serialize_with = "opt_millis")]
    pub interval: Option<Duration>,
    /// When the next switch is due, while running.
    pub next_switch: Option<MeetingTime>,
}

/// Voice-activation state.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct VoiceSnapshot {
    /// Turned on by the chair.
    pub on: bool,
    /// On but held off by polling or a roll call.
    pub suspended: bool,
    /// The venue about to be shown if it stays dominant.
    pub candidate: Option<VenueId>,
}

fn opt_millis<S: serde::Serializer>(d: &Option<Duration>, s: S) -> Result<S::Ok, S::Error> {
    match d {
        Some(d) => millis::serialize(d, s),
        None => s.serialize_none(),
    }
}

impl Conference {
    /// The whole live state (O(venues): for API reads, not for a hot loop).
    pub fn snapshot(&self) -> Snapshot {
        let name = |i: Option<usize>| i.map(|i| self.id(i).clone());
        let legs = self
            .legs
            .iter()
            .enumerate()
            .map(|(i, leg)| LegSnapshot {
                venue: self.id(i).clone(),
                status: leg.status,
                muted: leg.muted,
                audio_blocked: leg.blocked,
                microphone_open: leg.applied.is_some_and(|a| a.mic_open),
                picture: leg.applied.map(|a| a.picture),
            })
            .collect();
        let (order, interval, next) = self.polling_list();
        Snapshot {
            number: self.meeting.number.clone(),
            subject: self.meeting.subject.clone(),
            state: self.meeting.state,
            chair: self.meeting.chair.clone(),
            main_venue: self.meeting.main_venue.clone(),
            locked: self.locked,
            ends_at: self.meeting.ends_at,
            feeds: FeedsSnapshot {
                broadcast: name(self.shown[0]),
                broadcaster_view: name(self.shown[1]),
                chair_view: name(self.shown[2]),
            },
            legs,
            polling: PollingSnapshot {
                status: self.polling_status(),
                venues: order.iter().map(|&i| self.id(i).clone()).collect(),
                interval,
                next_switch: next.map(|t| self.stamp(t)),
            },
            roll_call: name(self.roll_call),
            voice: VoiceSnapshot {
                on: self.voice.on,
                suspended: self.voice.on && self.voice_suspended(),
                candidate: name(self.voice.candidate.map(|(c, _)| c)),
            },
        }
    }
}
