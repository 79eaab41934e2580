//! The seam between the HTTP API and whatever runs meetings (`dais-net` and
//! `dais-conference`, attached by the binary with [`crate::App::set_meeting_control`]).
//!
//! The API only translates: JSON in, [`MeetingControl`] call, JSON out. Who may issue which
//! command is the conference policy's decision, reported back as [`ControlError::Forbidden`]
//! or [`ControlError::Refused`].

use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// A boxed, sendable future (what [`MeetingControl`] methods return, so the trait stays
/// object-safe).
pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Who issued a command: the authenticated operator and where the request came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Actor {
    /// The operator's account name.
    pub username: String,
    /// The operator's role as the store records it.
    pub role: dais_store::Role,
    /// The client's address, when known.
    pub from: Option<SocketAddr>,
}

/// A chair command as the API accepts it: `{"command": "broadcast", "venue": "jinan"}`.
/// Venues are named by their venue name. Durations are whole seconds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "command", rename_all = "snake_case", deny_unknown_fields)]
#[non_exhaustive]
pub enum ChairCommandJson {
    /// Scheduled → testing.
    StartTesting,
    /// Scheduled or testing → live.
    GoLive,
    /// End the meeting for everyone: every leg is hung up.
    EndMeeting,
    /// Show a venue to everyone.
    Broadcast {
        /// Venue name.
        venue: String,
    },
    /// The chair privately watches a venue.
    View {
        /// Venue name.
        venue: String,
    },
    /// End the chair's private view.
    StopView,
    /// Broadcast the main venue.
    ReturnToMain,
    /// Roll-call a venue.
    RollCall {
        /// Venue name.
        venue: String,
    },
    /// Roll-call the next venue.
    RollCallNext,
    /// Leave roll-call mode.
    EndRollCall,
    /// Broadcast venues in turn.
    StartPolling {
        /// Venue names in order.
        venues: Vec<String>,
        /// Seconds between switches.
        interval_secs: u32,
    },
    /// Hold polling.
    PausePolling,
    /// Continue polling.
    ResumePolling,
    /// Stop polling.
    StopPolling,
    /// Voice-activated switching on or off.
    SetVoiceActivation {
        /// On or off.
        on: bool,
    },
    /// Close a venue's microphone.
    Mute {
        /// Venue name.
        venue: String,
    },
    /// Open a venue's microphone.
    Unmute {
        /// Venue name.
        venue: String,
    },
    /// Mute every venue but the main one.
    MuteAllButMain,
    /// Stop sending the meeting's audio to a venue.
    BlockAudio {
        /// Venue name.
        venue: String,
    },
    /// Send the meeting's audio to a venue again.
    UnblockAudio {
        /// Venue name.
        venue: String,
    },
    /// Admit no new dial-ins.
    Lock,
    /// Admit dial-ins again.
    Unlock,
    /// Move the planned end later.
    Extend {
        /// Seconds to add.
        by_secs: u32,
    },
    /// Hand the chair to another operator.
    HandChair {
        /// The new chair's account name.
        to: String,
    },
    /// Call a venue.
    Dial {
        /// Venue name.
        venue: String,
    },
    /// Hang up a venue.
    HangUp {
        /// Venue name.
        venue: String,
    },
    /// Call a dropped venue again now.
    Redial {
        /// Venue name.
        venue: String,
    },
}

impl ChairCommandJson {
    /// The command's wire name (`broadcast`, `end_meeting`, ...), for audit and metrics.
    pub fn name(&self) -> &'static str {
        use ChairCommandJson::*;
        match self {
            StartTesting => "start_testing",
            GoLive => "go_live",
            EndMeeting => "end_meeting",
            Broadcast { .. } => "broadcast",
            View { .. } => "view",
            StopView => "stop_view",
            ReturnToMain => "return_to_main",
            RollCall { .. } => "roll_call",
            RollCallNext => "roll_call_next",
            EndRollCall => "end_roll_call",
            StartPolling { .. } => "start_polling",
            PausePolling => "pause_polling",
            ResumePolling => "resume_polling",
            StopPolling => "stop_polling",
            SetVoiceActivation { .. } => "set_voice_activation",
            Mute { .. } => "mute",
            Unmute { .. } => "unmute",
            MuteAllButMain => "mute_all_but_main",
            BlockAudio { .. } => "block_audio",
            UnblockAudio { .. } => "unblock_audio",
            Lock => "lock",
            Unlock => "unlock",
            Extend { .. } => "extend",
            HandChair { .. } => "hand_chair",
            Dial { .. } => "dial",
            HangUp { .. } => "hang_up",
            Redial { .. } => "redial",
        }
    }
}

/// One line of the meeting list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MeetingSummary {
    /// Dial number, e.g. `8001`.
    pub number: String,
    /// Subject.
    pub subject: String,
    /// `scheduled`, `testing`, `live` or `ended`.
    pub state: String,
    /// Venues in the meeting's plan.
    pub venues_total: u32,
    /// Venues with a connected leg now.
    pub venues_connected: u32,
}

/// The live view of one venue in a meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VenueStatus {
    /// Venue name.
    pub name: String,
    /// Leg state, e.g. `connected`, `dialing`, `dropped`, `idle`.
    pub leg: String,
    /// Whether its microphone is closed.
    pub muted: bool,
}

/// The live state of one meeting.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct MeetingDetail {
    /// The list line.
    #[serde(flatten)]
    pub summary: MeetingSummary,
    /// The venue everyone sees, if any.
    pub broadcast: Option<String>,
    /// The main venue's name.
    pub main_venue: Option<String>,
    /// Every venue of the plan.
    pub venues: Vec<VenueStatus>,
    /// Anything else the implementation wants to show (mode, polling, roll call...).
    #[schema(value_type = Object)]
    pub extra: serde_json::Value,
}

/// What a command did.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct CommandOutcome {
    /// Always true on success (kept so clients can check one field).
    pub accepted: bool,
    /// Human-readable summary, e.g. `broadcasting jinan`.
    pub message: String,
}

/// Why a [`MeetingControl`] call failed. Mapped to HTTP statuses by the API.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// No such meeting or venue (404).
    #[error("{what} not found")]
    NotFound {
        /// What was missing.
        what: String,
    },
    /// The actor may not do this (403).
    #[error("forbidden: {reason}")]
    Forbidden {
        /// Why.
        reason: String,
    },
    /// Not possible in the meeting's current state (409), e.g. broadcasting in an ended meeting.
    #[error("refused: {reason}")]
    Refused {
        /// Why.
        reason: String,
    },
    /// The command's arguments are wrong (400).
    #[error("invalid command: {reason}")]
    Invalid {
        /// Why.
        reason: String,
    },
    /// The meeting engine is not available right now (503), e.g. shutting down.
    #[error("unavailable: {reason}")]
    Unavailable {
        /// Why.
        reason: String,
    },
    /// A bug or internal failure (500).
    #[error("internal: {0}")]
    Internal(String),
}

/// What the HTTP API needs from the meeting engine. Implemented by the code that owns the
/// meetings; every method must answer promptly (send a message to the meeting's owner task and
/// await a oneshot reply, never hold a lock across slow work).
///
/// Cancel safety: the HTTP server drops the future when the client disconnects. An
/// implementation should make sure a command that has been handed to the meeting's owner is
/// applied whole or not at all regardless.
pub trait MeetingControl: Send + Sync + 'static {
    /// Every meeting known to the engine.
    fn list_meetings(&self) -> BoxFuture<'_, Result<Vec<MeetingSummary>, ControlError>>;

    /// The live state of the meeting with this dial number.
    fn meeting_state(&self, number: String) -> BoxFuture<'_, Result<MeetingDetail, ControlError>>;

    /// Applies a chair command on behalf of `actor`. The implementation checks permissions.
    fn command(
        &self,
        number: String,
        actor: Actor,
        command: ChairCommandJson,
    ) -> BoxFuture<'_, Result<CommandOutcome, ControlError>>;

    /// Ends every meeting (BYE to every leg) and stops the engine. Called once at shutdown,
    /// before the HTTP server stops.
    fn shutdown(&self) -> BoxFuture<'_, ()>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_parse_from_the_documented_json() {
        let c: ChairCommandJson =
            serde_json::from_str(r#"{"command":"broadcast","venue":"jinan"}"#).unwrap();
        assert_eq!(
            c,
            ChairCommandJson::Broadcast {
                venue: "jinan".into()
            }
        );
        assert_eq!(c.name(), "broadcast");
        let c: ChairCommandJson = serde_json::from_str(
            r#"{"command":"start_polling","venues":["a","b"],"interval_secs":20}"#,
        )
        .unwrap();
        assert_eq!(c.name(), "start_polling");
        let c: ChairCommandJson = serde_json::from_str(r#"{"command":"end_meeting"}"#).unwrap();
        assert_eq!(c, ChairCommandJson::EndMeeting);
    }

    #[test]
    fn unknown_commands_and_fields_are_refused() {
        assert!(serde_json::from_str::<ChairCommandJson>(r#"{"command":"explode"}"#).is_err());
        assert!(
            serde_json::from_str::<ChairCommandJson>(
                r#"{"command":"broadcast","venue":"a","x":1}"#
            )
            .is_err()
        );
        assert!(serde_json::from_str::<ChairCommandJson>(r#"{"command":"broadcast"}"#).is_err());
    }

    #[test]
    fn every_name_round_trips_through_serde() {
        let c = ChairCommandJson::SetVoiceActivation { on: true };
        let v = serde_json::to_value(&c).unwrap();
        assert_eq!(v["command"], c.name());
    }
}
