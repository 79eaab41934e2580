//! Chair commands, who may issue them and in which meeting state.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{MeetingState, VenueId, millis};

/// Who issues a command: an authenticated operator and the role the store gave them.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Actor {
    /// The operator's account name.
    pub operator: String,
    /// What the account may do.
    pub role: Role,
}

impl Actor {
    /// Builds an actor.
    pub fn new(operator: impl Into<String>, role: Role) -> Self {
        Self {
            operator: operator.into(),
            role,
        }
    }
}

/// An account's role (see `regulation.md`, "Who does what").
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "role", rename_all = "snake_case")]
pub enum Role {
    /// Provincial IT centre administrator: may command any meeting.
    ItCentre,
    /// One of a site's A/B administrators: may operate its own venue's leg and microphone.
    SiteAdmin {
        /// The venue the administrator runs.
        site: VenueId,
    },
    /// A chair operator: commands the meetings whose chair they hold.
    ChairOperator,
    /// Approves bookings and recording releases; no meeting control.
    Approver,
    /// Reads records and snapshots; no meeting control.
    Auditor,
}

/// A command to a meeting, from the chair's console, the API or the CLI.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
#[non_exhaustive]
pub enum ChairCommand {
    /// `Scheduled → Testing`: venues may join for the pre-meeting check.
    StartTesting,
    /// `Scheduled | Testing → Live`.
    GoLive,
    /// Anything → `Ended`: every leg hung up, redials stopped, the record closed.
    EndMeeting,
    /// Show a venue to everyone (pauses polling, ends a roll call).
    Broadcast {
        /// The venue to show.
        venue: VenueId,
    },
    /// The chair privately watches a venue on the main venue's screen.
    View {
        /// The venue to watch.
        venue: VenueId,
    },
    /// End the chair's private view.
    StopView,
    /// Broadcast the main venue (pauses polling, ends a roll call).
    ReturnToMain,
    /// Broadcast a venue and open its microphone, every other venue but the main one muted.
    RollCall {
        /// The venue called.
        venue: VenueId,
    },
    /// Roll-call the next connected venue of the plan's roll-call order.
    RollCallNext,
    /// Leave roll-call mode: microphones return to each venue's own mute state.
    EndRollCall,
    /// Broadcast each venue of `venues` in turn, one every `interval`.
    StartPolling {
        /// The order; every id must be a venue of the meeting.
        venues: Vec<VenueId>,
        /// Time between two switches; longer than the configured keyframe lead.
        #[serde(with = "millis")]
        interval: Duration,
    },
    /// Hold polling on the venue shown now.
    PausePolling,
    /// Continue polling from where it paused; the next switch one interval later.
    ResumePolling,
    /// Stop polling; the broadcast stays on the venue shown now.
    StopPolling,
    /// Turn voice-activated switching on or off.
    SetVoiceActivation {
        /// On or off.
        on: bool,
    },
    /// Close a venue's microphone.
    Mute {
        /// The venue.
        venue: VenueId,
    },
    /// Open a venue's microphone.
    Unmute {
        /// The venue.
        venue: VenueId,
    },
    /// Mute every venue but the main venue.
    MuteAllButMain,
    /// Stop sending the meeting's audio to a venue.
    BlockAudio {
        /// The venue.
        venue: VenueId,
    },
    /// Send the meeting's audio to a venue again.
    UnblockAudio {
        /// The venue.
        venue: VenueId,
    },
    /// Admit no new dial-ins (venues that already joined may still come back).
    Lock,
    /// Admit dial-ins again.
    Unlock,
    /// Move the planned end later.
    Extend {
        /// How much later than the current planned end (or than now, if there is none).
        #[serde(with = "millis")]
        by: Duration,
    },
    /// Hand the chair to another operator.
    HandChair {
        /// The new chair operator's account name.
        to: String,
    },
    /// Call a venue.
    Dial {
        /// The venue.
        venue: VenueId,
    },
    /// Hang up a venue (it is not redialled).
    HangUp {
        /// The venue.
        venue: VenueId,
    },
    /// Call a dropped or failed venue again now, resetting its backoff.
    Redial {
        /// The venue.
        venue: VenueId,
    },
}

/// A [`ChairCommand`]'s name without its arguments: for errors, records and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[allow(missing_docs)] // one variant per ChairCommand variant, documented there
#[non_exhaustive]
pub enum CommandKind {
    StartTesting,
    GoLive,
    EndMeeting,
    Broadcast,
    View,
    StopView,
    ReturnToMain,
    RollCall,
    RollCallNext,
    EndRollCall,
    StartPolling,
    PausePolling,
    ResumePolling,
    StopPolling,
    SetVoiceActivation,
    Mute,
    Unmute,
    MuteAllButMain,
    BlockAudio,
    UnblockAudio,
    Lock,
    Unlock,
    Extend,
    HandChair,
    Dial,
    HangUp,
    Redial,
}

impl CommandKind {
    /// Every kind, in declaration order (for tables and tests).
    pub const ALL: [CommandKind; 27] = [
        CommandKind::StartTesting,
        CommandKind::GoLive,
        CommandKind::EndMeeting,
        CommandKind::Broadcast,
        CommandKind::View,
        CommandKind::StopView,
        CommandKind::ReturnToMain,
        CommandKind::RollCall,
        CommandKind::RollCallNext,
        CommandKind::EndRollCall,
        CommandKind::StartPolling,
        CommandKind::PausePolling,
        CommandKind::ResumePolling,
        CommandKind::StopPolling,
        CommandKind::SetVoiceActivation,
        CommandKind::Mute,
        CommandKind::Unmute,
        CommandKind::MuteAllButMain,
        CommandKind::BlockAudio,
        CommandKind::UnblockAudio,
        CommandKind::Lock,
        CommandKind::Unlock,
        CommandKind::Extend,
        CommandKind::HandChair,
        CommandKind::Dial,
        CommandKind::HangUp,
        CommandKind::Redial,
    ];

    /// Who may issue it (see [`Authority`]).
    pub fn authority(self) -> Authority {
        use CommandKind::*;
        match self {
            Mute | Unmute | Dial | HangUp | Redial => Authority::ChairOrOwnSite,
            _ => Authority::Chair,
        }
    }

    /// Whether the command may run in `state`.
    ///
    /// | command | Scheduled | Testing | Live | Ended |
    /// | --- | --- | --- | --- | --- |
    /// | start testing | ✓ | | | |
    /// | go live | ✓ | ✓ | | |
    /// | end meeting, lock, unlock, extend, hand chair | ✓ | ✓ | ✓ | |
    /// | roll call, roll call next, end roll call | | | ✓ | |
    /// | every other (pictures, polling, voice, audio, legs) | | ✓ | ✓ | |
    pub fn allowed_in(self, state: MeetingState) -> bool {
        use CommandKind::*;
        use MeetingState::*;
        match self {
            StartTesting => state == Scheduled,
            GoLive => matches!(state, Scheduled | Testing),
            EndMeeting | Lock | Unlock | Extend | HandChair => state != Ended,
            RollCall | RollCallNext | EndRollCall => state == Live,
            _ => state.has_media(),
        }
    }

    /// The snake_case name used in records and the API.
    pub fn name(self) -> &'static str {
        use CommandKind::*;
        match self {
            StartTesting => "start_testing",
            GoLive => "go_live",
            EndMeeting => "end_meeting",
            Broadcast => "broadcast",
            View => "view",
            StopView => "stop_view",
            ReturnToMain => "return_to_main",
            RollCall => "roll_call",
            RollCallNext => "roll_call_next",
            EndRollCall => "end_roll_call",
            StartPolling => "start_polling",
            PausePolling => "pause_polling",
            ResumePolling => "resume_polling",
            StopPolling => "stop_polling",
            SetVoiceActivation => "set_voice_activation",
            Mute => "mute",
            Unmute => "unmute",
            MuteAllButMain => "mute_all_but_main",
            BlockAudio => "block_audio",
            UnblockAudio => "unblock_audio",
            Lock => "lock",
            Unlock => "unlock",
            Extend => "extend",
            HandChair => "hand_chair",
            Dial => "dial",
            HangUp => "hang_up",
            Redial => "redial",
        }
    }
}

impl fmt::Display for CommandKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Who may issue a class of commands.
///
/// | role | `Chair` commands | `ChairOrOwnSite` commands |
/// | --- | --- | --- |
/// | IT centre | ✓ | ✓ |
/// | chair operator holding this meeting's chair | ✓ | ✓ |
/// | chair operator not holding it | ✗ | ✗ |
/// | site admin of the target venue | ✗ | ✓ |
/// | site admin of another venue | ✗ | ✗ |
/// | approver, auditor | ✗ | ✗ |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Authority {
    /// The meeting's chair operator and IT-centre administrators.
    Chair,
    /// Those, plus the site administrator of the venue the command targets (mute, unmute, dial,
    /// hang up, redial: "branch venues adjust their microphone" and "reconnect by themselves").
    ChairOrOwnSite,
}

/// Whether `actor` may issue `command` to a meeting whose chair is `chair`.
pub fn permits(actor: &Actor, chair: &str, command: &ChairCommand) -> bool {
    match &actor.role {
        Role::ItCentre => true,
        Role::ChairOperator => actor.operator == chair,
        Role::SiteAdmin { site } => {
            command.kind().authority() == Authority::ChairOrOwnSite && command.venue() == Some(site)
        }
        Role::Approver | Role::Auditor => false,
    }
}

impl ChairCommand {
    /// The command's name.
    pub fn kind(&self) -> CommandKind {
        use ChairCommand as C;
        match self {
            C::StartTesting => CommandKind::StartTesting,
            C::GoLive => CommandKind::GoLive,
            C::EndMeeting => CommandKind::EndMeeting,
            C::Broadcast { .. } => CommandKind::Broadcast,
            C::View { .. } => CommandKind::View,
            C::StopView => CommandKind::StopView,
            C::ReturnToMain => CommandKind::ReturnToMain,
            C::RollCall { .. } => CommandKind::RollCall,
            C::RollCallNext => CommandKind::RollCallNext,
            C::EndRollCall => CommandKind::EndRollCall,
            C::StartPolling { .. } => CommandKind::StartPolling,
            C::PausePolling => CommandKind::PausePolling,
            C::ResumePolling => CommandKind::ResumePolling,
            C::StopPolling => CommandKind::StopPolling,
            C::SetVoiceActivation { .. } => CommandKind::SetVoiceActivation,
            C::Mute { .. } => CommandKind::Mute,
            C::Unmute { .. } => CommandKind::Unmute,
            C::MuteAllButMain => CommandKind::MuteAllButMain,
            C::BlockAudio { .. } => CommandKind::BlockAudio,
            C::UnblockAudio { .. } => CommandKind::UnblockAudio,
            C::Lock => CommandKind::Lock,
            C::Unlock => CommandKind::Unlock,
            C::Extend { .. } => CommandKind::Extend,
            C::HandChair { .. } => CommandKind::HandChair,
            C::Dial { .. } => CommandKind::Dial,
            C::HangUp { .. } => CommandKind::HangUp,
            C::Redial { .. } => CommandKind::Redial,
        }
    }

    /// The single venue the command targets, if it targets one.
    pub fn venue(&self) -> Option<&VenueId> {
        use ChairCommand as C;
        match self {
            C::Broadcast { venue }
            | C::View { venue }
            | C::RollCall { venue }
            | C::Mute { venue }
            | C::Unmute { venue }
            | C::BlockAudio { venue }
            | C::UnblockAudio { venue }
            | C::Dial { venue }
            | C::HangUp { venue }
            | C::Redial { venue } => Some(venue),
            _ => None,
        }
    }
}
