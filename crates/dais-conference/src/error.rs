//! Errors, split by blame.
//!
//! - The operator's (caller's) fault: [`CommandError`] other than `Internal` — a refused command,
//!   answered on the API (403 / 404 / 409 / 422) and never a panic.
//! - The shell's fault: [`EventError`] (an event for a venue the meeting does not have) and
//!   [`ConfigError`] (a meeting plan that does not hold together).
//! - Peers cannot cause an error here: SIP and mixer facts that make no sense in a leg's
//!   current state are ignored and logged, because the network is allowed to be late and odd.
//! - A bug in this crate: `CommandError::Internal`.

use serde::Serialize;

use crate::command::CommandKind;
use crate::model::{MeetingState, VenueId};

/// Why a chair command was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
#[non_exhaustive]
pub enum CommandError {
    /// The actor's role does not allow this command here (API: 403).
    #[error("{operator} may not {command}")]
    NotPermitted {
        /// Who tried.
        operator: String,
        /// What they tried.
        command: CommandKind,
    },
    /// The command does not apply in the meeting's current state (API: 409).
    #[error("{command} is not allowed while the meeting is {state}")]
    WrongState {
        /// What was tried.
        command: CommandKind,
        /// The meeting's state.
        state: MeetingState,
    },
    /// The venue is not part of this meeting (API: 404).
    #[error("venue {venue} is not part of this meeting")]
    UnknownVenue {
        /// The venue named.
        venue: VenueId,
    },
    /// The command needs the venue's leg to be connected (API: 409).
    #[error("venue {venue} is not connected")]
    NotConnected {
        /// The venue named.
        venue: VenueId,
    },
    /// The command clashes with something running (API: 409).
    #[error("conflict: {conflict}")]
    Conflict {
        /// What it clashes with.
        conflict: Conflict,
    },
    /// An argument is out of range (API: 422).
    #[error("invalid argument: {reason}")]
    InvalidArgument {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// An internal invariant broke: a bug in this crate, not the caller's fault (API: 500).
    #[error("internal error: {detail}")]
    Internal {
        /// Which invariant.
        detail: &'static str,
    },
}

/// What a refused command clashed with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error, Serialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum Conflict {
    /// Polling is running; stop or pause it first.
    #[error("polling is running")]
    PollingRunning,
    /// Polling is not running (pause, stop).
    #[error("polling is not running")]
    PollingNotRunning,
    /// Polling is not paused (resume).
    #[error("polling is not paused")]
    PollingNotPaused,
    /// A roll call is running; end it first.
    #[error("a roll call is running")]
    RollCallRunning,
    /// No roll call is running (end roll call).
    #[error("no roll call is running")]
    NoRollCall,
    /// Every venue of the roll-call order has been called or is absent.
    #[error("the roll-call order is exhausted")]
    RollCallOrderExhausted,
    /// The chair has no private view open.
    #[error("no private view is open")]
    NoView,
    /// The venue's leg is already up.
    #[error("the venue is already connected")]
    AlreadyConnected,
    /// A call to the venue is already being set up.
    #[error("a call to the venue is in progress")]
    CallInProgress,
    /// The venue has no leg to hang up, or nothing to redial.
    #[error("the venue has no call")]
    NoCall,
    /// The meeting is locked against new dial-ins.
    #[error("the meeting is locked")]
    Locked,
}

/// Why the shell's event was not applied.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EventError {
    /// The venue is not part of this meeting: the shell routed the event to the wrong meeting.
    #[error("venue {venue} is not part of this meeting")]
    UnknownVenue {
        /// The venue named.
        venue: VenueId,
    },
}

/// Why a meeting plan or configuration was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A meeting needs at least its main venue.
    #[error("the meeting has no venues")]
    NoVenues,
    /// Venue ids must be unique.
    #[error("venue {venue} is listed twice")]
    DuplicateVenue {
        /// The duplicate.
        venue: VenueId,
    },
    /// A venue names itself as its parent.
    #[error("venue {venue} is its own parent")]
    OwnParent {
        /// The venue.
        venue: VenueId,
    },
    /// The main venue must be one of the meeting's venues.
    #[error("main venue {venue} is not among the meeting's venues")]
    MainVenueNotInvited {
        /// The main venue.
        venue: VenueId,
    },
    /// A roll-call entry is unknown or is the main venue.
    #[error("roll-call entry {venue} is unknown or is the main venue")]
    BadRollCallEntry {
        /// The entry.
        venue: VenueId,
    },
    /// A meeting needs a chair operator.
    #[error("the meeting has no chair operator")]
    NoChair,
    /// A timing setting is zero where it must not be.
    #[error("invalid configuration: {reason}")]
    Invalid {
        /// Which setting.
        reason: &'static str,
    },
}

/// A string that is not a valid venue slug (`[a-z0-9_-]{1,32}`).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid venue id {slug:?}: expected 1 to 32 of a-z 0-9 - _")]
pub struct InvalidVenueId {
    /// The refused input (truncated).
    pub slug: String,
}

/// Why [`crate::Conference::admit`] refused a venue's dial-in (SIP: 404 / 480 / 403 / 486).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error, Serialize)]
#[serde(tag = "error", rename_all = "snake_case")]
#[non_exhaustive]
pub enum AdmitError {
    /// The venue is not invited to this meeting (SIP 404).
    #[error("venue {venue} is not part of this meeting")]
    UnknownVenue {
        /// The venue.
        venue: VenueId,
    },
    /// The meeting is not open for legs: scheduled or ended (SIP 480).
    #[error("the meeting is {state}")]
    NotOpen {
        /// Its state.
        state: MeetingState,
    },
    /// The meeting is locked and the venue never joined it (SIP 403).
    #[error("the meeting is locked")]
    Locked,
    /// The venue already has a connected leg (SIP 486).
    #[error("the venue is already connected")]
    AlreadyConnected,
}
