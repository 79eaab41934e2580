//! Legs (one call per venue), what the SIP layer reports about them, and the redial policy.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::model::{MeetingTime, millis};

/// A venue's call, as the conference tracks it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum LegStatus {
    /// Never called, never joined.
    Idle,
    /// A call is being set up. `attempt` 0 is a first call (chair's dial or redial), `n ≥ 1`
    /// the n-th automatic redial.
    Dialing {
        /// Which attempt.
        attempt: u32,
    },
    /// The venue is ringing.
    Ringing,
    /// Media flows.
    Connected {
        /// Since when.
        since: MeetingTime,
    },
    /// Dropped and not redialled (the policy allows no redial, or the meeting ended).
    Dropped {
        /// When.
        at: MeetingTime,
        /// Why.
        reason: DropReason,
    },
    /// Dropped or failed; redial `attempt` is due at `at`.
    RedialPending {
        /// Which redial (1-based).
        attempt: u32,
        /// When it is due.
        at: MeetingTime,
    },
    /// Hung up on purpose (by the chair, the venue, or the meeting's end). Not redialled.
    HungUp,
    /// Calling failed and automatic redial gave up (or is off).
    Failed {
        /// The last failure.
        reason: FailReason,
    },
}

impl LegStatus {
    /// Whether media flows.
    pub fn is_connected(&self) -> bool {
        matches!(self, LegStatus::Connected { .. })
    }

    /// Whether a call is being set up.
    pub fn is_calling(&self) -> bool {
        matches!(self, LegStatus::Dialing { .. } | LegStatus::Ringing)
    }
}

/// Why a connected leg dropped, as the SIP layer classified it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum DropReason {
    /// No RTP for too long.
    MediaTimeout,
    /// The SIP session timer (RFC 4028) expired, or OPTIONS keep-alives went unanswered.
    SessionTimeout,
    /// The transport failed (TCP reset, ICMP unreachable).
    Transport,
    /// Anything else.
    Other,
}

/// Why a call attempt failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
#[non_exhaustive]
pub enum FailReason {
    /// The venue answered busy (486/600).
    Busy,
    /// The call failed otherwise (timeout, 4xx/5xx, unreachable).
    Unreachable,
    /// The leg dropped during setup.
    Dropped(DropReason),
}

/// A fact about a venue's call, from the SIP layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "event", rename_all = "snake_case")]
#[non_exhaustive]
pub enum LegEvent {
    /// An outgoing INVITE left.
    Dialing,
    /// 180 Ringing.
    Ringing,
    /// The call is up (200 OK to our INVITE, or ACK to our 200 on a dial-in).
    Answered,
    /// 486 Busy Here / 600 Busy Everywhere.
    Busy,
    /// The call attempt failed.
    Failed,
    /// An established call died without a BYE.
    Dropped {
        /// Why.
        reason: DropReason,
    },
    /// The venue sent BYE (or CANCEL): it left on purpose.
    HungUpByVenue,
}

/// How a dropped or failed venue is called again.
///
/// Redial `n` (1-based) is due `interval × backoff^(n−1)` after the drop or failure that caused
/// it, saturating; after `attempts` redials the leg is [`LegStatus::Failed`] and an alarm is
/// raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RedialPolicy {
    /// Automatic redials per drop; 0 turns redial off.
    pub attempts: u32,
    /// Delay before the first redial.
    #[serde(with = "millis")]
    pub interval: Duration,
    /// Multiplier of the delay from one redial to the next (1: constant delay).
    pub backoff: u32,
}

impl RedialPolicy {
    /// The delay before redial `attempt` (1-based).
    pub fn delay(&self, attempt: u32) -> Duration {
        let factor = self
            .backoff
            .max(1)
            .checked_pow(attempt.saturating_sub(1))
            .unwrap_or(u32::MAX);
        self.interval.saturating_mul(factor)
    }
}

impl Default for RedialPolicy {
    /// Five redials, 5 s, 10 s, 20 s, 40 s, 80 s after the drop.
    fn default() -> Self {
        Self {
            attempts: 5,
            interval: Duration::from_secs(5),
            backoff: 2,
        }
    }
}
