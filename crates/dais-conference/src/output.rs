//! What the conference asks of the shell and tells the operators.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::command::{ChairCommand, CommandKind};
use crate::error::CommandError;
use crate::model::{MeetingState, MeetingTime, VenueId, millis};

/// One of the meeting's pictures. The media engine owns one output stream per feed; venues
/// subscribe to a feed, so a switch is one change of source, not one per receiver.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeedRole {
    /// The broadcast venue: what everyone sees, except the broadcaster itself.
    Broadcast,
    /// What the broadcasting venue sees: the main venue, or, when the main venue itself
    /// broadcasts, the previous broadcaster (nothing if there was none).
    BroadcasterView,
    /// The chair's private view of a venue, shown on the main venue's screen only.
    ChairView,
}

/// An instruction to the shell (media engine and SIP layer). Apply in order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Make `feed` carry `venue`'s uplink (`None`: a blank or logo picture). The media engine
    /// asks the new source for a keyframe and cuts over when it arrives; a newer `Show` of the
    /// same feed replaces a pending one.
    Show {
        /// The feed.
        feed: FeedRole,
        /// Its new source.
        venue: Option<VenueId>,
    },
    /// Send `feed` to `venue`'s downlink (replacing what it received). Emitted only for
    /// connected venues whose picture changed, and for every venue as it connects.
    Subscribe {
        /// The receiver.
        venue: VenueId,
        /// What it now receives.
        feed: FeedRole,
    },
    /// Open or close `venue`'s microphone in the mix.
    SetMicrophone {
        /// The venue.
        venue: VenueId,
        /// Open (heard) or closed.
        open: bool,
    },
    /// Stop (or resume) sending the mix to `venue`.
    BlockAudio {
        /// The venue.
        venue: VenueId,
        /// Blocked or not.
        blocked: bool,
    },
    /// Ask `venue` for a keyframe now, so that a switch to it due shortly lands at once.
    RequestKeyframe {
        /// The venue.
        venue: VenueId,
    },
    /// Call `venue` (SIP INVITE).
    Dial {
        /// The venue.
        venue: VenueId,
    },
    /// Hang up `venue`'s leg (SIP BYE or CANCEL).
    HangUp {
        /// The venue.
        venue: VenueId,
    },
    /// Hang up every leg at once: the meeting has ended.
    HangUpAll,
}

/// Polling's status, for events and the snapshot.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PollingStatus {
    /// Not polling.
    Off,
    /// Switching every interval.
    Running,
    /// Holding on the current venue.
    Paused,
}

/// Something operators should see (WebSocket events, alarms). Drain with
/// [`crate::Conference::poll_event`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ConferenceEvent {
    /// The meeting changed state.
    StateChanged {
        /// Before.
        from: MeetingState,
        /// After.
        to: MeetingState,
    },
    /// A feed's source changed.
    Shown {
        /// The feed.
        feed: FeedRole,
        /// Its source.
        venue: Option<VenueId>,
    },
    /// A leg changed status.
    LegChanged {
        /// The venue.
        venue: VenueId,
        /// Its new status.
        status: crate::leg::LegStatus,
    },
    /// Alarm: a connected venue dropped.
    VenueDropped {
        /// The venue.
        venue: VenueId,
        /// Why, as the SIP layer saw it.
        reason: crate::leg::DropReason,
    },
    /// Alarm: automatic redial gave up; the venue needs a person.
    RedialsExhausted {
        /// The venue.
        venue: VenueId,
    },
    /// Polling started, paused, resumed or stopped.
    Polling {
        /// The new status.
        status: PollingStatus,
    },
    /// A roll call moved to a venue, or ended (`None`).
    RollCall {
        /// The venue called.
        venue: Option<VenueId>,
    },
    /// A command was refused (counted by the shell; shown to the operator).
    CommandRefused {
        /// Who.
        operator: String,
        /// What.
        command: CommandKind,
        /// Why.
        error: CommandError,
    },
    /// A venue's dial-in was refused by [`crate::Conference::admit`].
    AdmitRefused {
        /// The venue.
        venue: VenueId,
        /// Why.
        error: crate::error::AdmitError,
    },
    /// The planned end has passed (the meeting goes on until the chair ends it).
    EndTimeReached,
    /// A venue's microphone was muted or opened by a command (any operator's).
    MuteChanged {
        /// The venue.
        venue: VenueId,
        /// Muted now.
        muted: bool,
    },
    /// A venue's audio was blocked (it hears silence) or unblocked by a command.
    AudioBlockChanged {
        /// The venue.
        venue: VenueId,
        /// Blocked now.
        blocked: bool,
    },
    /// The meeting was locked (no new dial-ins) or unlocked.
    LockChanged {
        /// Locked now.
        locked: bool,
    },
    /// The chair was handed to another operator.
    ChairChanged {
        /// The new chair operator.
        chair: String,
    },
    /// The planned end moved (`extend`).
    EndTimeChanged {
        /// The new planned end, from the meeting's start.
        ends_at: Option<crate::model::MeetingTime>,
    },
}

/// Why a feed changed source, for the record.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ShowCause {
    /// A chair command.
    Command,
    /// A polling tick.
    Polling,
    /// Voice-activated switching.
    Voice,
    /// The broadcaster dropped; the main venue is shown instead.
    Fallback,
    /// The dropped broadcaster came back and is shown again.
    Restore,
    /// The meeting opened (`Scheduled → Testing | Live`).
    Opening,
}

/// One line of the meeting record: who did or suffered what, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RecordEntry {
    /// When, as an offset from the conference's creation (milliseconds in JSON and CSV).
    pub at: MeetingTime,
    /// The operator, or `None` when the system acted (leg events, polling, redial).
    pub actor: Option<crate::command::Actor>,
    /// What.
    pub kind: RecordKind,
}

/// What a record entry records.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
#[non_exhaustive]
pub enum RecordKind {
    /// An accepted chair command, with its arguments (flattened in JSON:
    /// `{"kind":"command","command":"broadcast","venue":"b1"}`).
    Command {
        /// The command.
        #[serde(flatten)]
        command: ChairCommand,
    },
    /// The meeting changed state.
    StateChanged {
        /// Before.
        from: MeetingState,
        /// After.
        to: MeetingState,
    },
    /// A feed changed source ("what was shown when").
    Shown {
        /// The feed.
        feed: FeedRole,
        /// Its source.
        venue: Option<VenueId>,
        /// Why.
        cause: ShowCause,
    },
    /// A venue's leg came up.
    Joined {
        /// The venue.
        venue: VenueId,
    },
    /// A connected venue dropped.
    Dropped {
        /// The venue.
        venue: VenueId,
        /// Why.
        reason: crate::leg::DropReason,
    },
    /// The venue hung up by itself.
    LeftByItself {
        /// The venue.
        venue: VenueId,
    },
    /// A call to the venue failed.
    DialFailed {
        /// The venue.
        venue: VenueId,
        /// Why.
        reason: crate::leg::FailReason,
    },
    /// An automatic redial is due.
    RedialScheduled {
        /// The venue.
        venue: VenueId,
        /// Which redial (1-based).
        attempt: u32,
        /// After how long.
        #[serde(with = "millis")]
        after: Duration,
    },
    /// Automatic redial gave up.
    RedialsExhausted {
        /// The venue.
        venue: VenueId,
    },
    /// A venue of the roll-call order was passed over because it was not connected.
    RollCallAbsent {
        /// The venue.
        venue: VenueId,
    },
    /// Polling paused because the chair switched the broadcast by hand.
    PollingPaused,
    /// A dial-in was refused.
    AdmitRefused {
        /// The venue.
        venue: VenueId,
    },
    /// The planned end passed.
    EndTimeReached,
}

impl RecordKind {
    /// A short snake_case name for the CSV `kind` column.
    pub fn name(&self) -> &'static str {
        match self {
            RecordKind::Command { command } => command.kind().name(),
            RecordKind::StateChanged { .. } => "state_changed",
            RecordKind::Shown { .. } => "shown",
            RecordKind::Joined { .. } => "joined",
            RecordKind::Dropped { .. } => "dropped",
            RecordKind::LeftByItself { .. } => "left_by_itself",
            RecordKind::DialFailed { .. } => "dial_failed",
            RecordKind::RedialScheduled { .. } => "redial_scheduled",
            RecordKind::RedialsExhausted { .. } => "redials_exhausted",
            RecordKind::RollCallAbsent { .. } => "roll_call_absent",
            RecordKind::PollingPaused => "polling_paused",
            RecordKind::AdmitRefused { .. } => "admit_refused",
            RecordKind::EndTimeReached => "end_time_reached",
        }
    }

    /// The venue concerned, if one.
    pub fn venue(&self) -> Option<&VenueId> {
        match self {
            RecordKind::Command { command } => command.venue(),
            RecordKind::Shown { venue, .. } => venue.as_ref(),
            RecordKind::Joined { venue }
            | RecordKind::Dropped { venue, .. }
            | RecordKind::LeftByItself { venue }
            | RecordKind::DialFailed { venue, .. }
            | RecordKind::RedialScheduled { venue, .. }
            | RecordKind::RedialsExhausted { venue }
            | RecordKind::RollCallAbsent { venue }
            | RecordKind::AdmitRefused { venue } => Some(venue),
            RecordKind::StateChanged { .. }
            | RecordKind::PollingPaused
            | RecordKind::EndTimeReached => None,
        }
    }
}
