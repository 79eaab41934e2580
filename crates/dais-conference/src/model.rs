//! The nouns: venues, meetings, meeting states and the meeting clock.

use std::fmt;
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::error::{ConfigError, InvalidVenueId};

/// Longest accepted venue slug, in bytes.
pub const VENUE_ID_MAX_LEN: usize = 32;

/// A venue's identity: a short lowercase slug such as `jinan` or `jinan-licheng`.
///
/// A slug rather than a number because it is what an operator reads in the record, the logs and
/// the API, and it is the store's key; the conference runs at command rate, so the few
/// allocations a slug costs do not matter (the media engine keys its hot path by its own indices).
/// Only `a-z`, `0-9`, `-` and `_`, 1 to [`VENUE_ID_MAX_LEN`] bytes: safe in a URL path, a CSV
/// cell and a log line without quoting.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct VenueId(String);

impl VenueId {
    /// Parses a slug, refusing anything but `[a-z0-9_-]{1,32}`.
    pub fn new(slug: &str) -> Result<Self, InvalidVenueId> {
        let ok_len = !slug.is_empty() && slug.len() <= VENUE_ID_MAX_LEN;
        let ok_chars = slug
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
        if ok_len && ok_chars {
            Ok(Self(slug.to_owned()))
        } else {
            Err(InvalidVenueId {
                slug: slug.chars().take(VENUE_ID_MAX_LEN + 8).collect(),
            })
        }
    }

    /// The slug.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for VenueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "VenueId({:?})", self.0)
    }
}

impl fmt::Display for VenueId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for VenueId {
    type Err = InvalidVenueId;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for VenueId {
    type Error = InvalidVenueId;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::new(&s)
    }
}

impl From<VenueId> for String {
    fn from(id: VenueId) -> Self {
        id.0
    }
}

/// Where a venue sits in the provincial network (see `regulation.md`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VenueKind {
    /// A provincial main venue room: can host a meeting and can also be a branch.
    Main,
    /// A terminal endpoint: an affiliated unit, or a county under its city.
    Branch,
    /// A prefecture city: a branch of the province and the main venue of its counties.
    City,
}

/// A venue taking part in a meeting.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Venue {
    /// Its identity.
    pub id: VenueId,
    /// Display name, e.g. "Jinan municipal".
    pub name: String,
    /// Its place in the hierarchy.
    pub kind: VenueKind,
    /// The venue above it (a county's city, a city's province main venue), if any.
    pub parent: Option<VenueId>,
}

/// A meeting's life cycle.
///
/// Legal transitions: `Scheduled → Testing → Live`, `Scheduled → Live`, and anything but
/// `Ended` `→ Ended`. There is no way back.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MeetingState {
    /// Booked, not yet opened: no legs.
    Scheduled,
    /// Venues join and are checked before the meeting proper.
    Testing,
    /// The meeting is running.
    Live,
    /// Every leg torn down; the record is closed.
    Ended,
}

impl MeetingState {
    /// Whether `self → to` is a legal transition.
    pub fn can_become(self, to: MeetingState) -> bool {
        use MeetingState::*;
        matches!(
            (self, to),
            (Scheduled, Testing)
                | (Scheduled, Live)
                | (Testing, Live)
                | (Scheduled | Testing | Live, Ended)
        )
    }

    /// Whether legs and media exist in this state (`Testing` or `Live`).
    pub fn has_media(self) -> bool {
        matches!(self, MeetingState::Testing | MeetingState::Live)
    }
}

impl fmt::Display for MeetingState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            MeetingState::Scheduled => "scheduled",
            MeetingState::Testing => "testing",
            MeetingState::Live => "live",
            MeetingState::Ended => "ended",
        })
    }
}

/// A meeting as the conference sees it. Read it through [`crate::Conference::meeting`]; it
/// changes only through commands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Meeting {
    /// The booking's meeting number.
    pub number: String,
    /// What the meeting is about.
    pub subject: String,
    /// The venue that hosts it and whose chair operator runs it.
    pub main_venue: VenueId,
    /// Every venue invited, the main venue included.
    pub venues: Vec<Venue>,
    /// Where it is in its life cycle.
    pub state: MeetingState,
    /// The operator name holding the chair.
    pub chair: String,
    /// Planned end, if any (a reminder, never an automatic hang-up).
    pub ends_at: Option<MeetingTime>,
}

/// What it takes to open a conference: the approved booking, in validated form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MeetingPlan {
    /// The booking's meeting number.
    pub number: String,
    /// What the meeting is about.
    pub subject: String,
    /// The hosting venue; must be one of `venues`.
    pub main_venue: VenueId,
    /// Every venue invited, the main venue included; ids unique.
    pub venues: Vec<Venue>,
    /// The chair operator's name.
    pub chair: String,
    /// Planned length from the conference's creation, if known.
    pub duration: Option<Duration>,
    /// The order of `roll call next`; every id must be one of `venues`, the main venue excluded.
    pub roll_call_order: Vec<VenueId>,
}

/// How long after the conference's creation something happened.
///
/// The core reads no clock, so it cannot know wall time; the shell that created the conference
/// knows its wall-clock start and adds this offset. Serialized as whole milliseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct MeetingTime(pub Duration);

impl MeetingTime {
    /// The offset of `at` from `epoch`, zero if `at` is earlier.
    pub fn between(epoch: Instant, at: Instant) -> Self {
        Self(at.saturating_duration_since(epoch))
    }

    /// Whole milliseconds since the epoch, saturating.
    pub fn as_millis(self) -> u64 {
        u64::try_from(self.0.as_millis()).unwrap_or(u64::MAX)
    }
}

impl Serialize for MeetingTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(self.as_millis())
    }
}

/// Serde helper: a `Duration` as whole milliseconds, so JSON commands read `"interval": 15000`.
pub(crate) mod millis {
    use std::time::Duration;

    use serde::{Deserialize, Deserializer, Serializer};

    pub(crate) fn serialize<S: Serializer>(d: &Duration, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_u64(u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
    }

    pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Duration, D::Error> {
        u64::deserialize(d).map(Duration::from_millis)
    }
}

pub(crate) fn validate_plan(plan: &MeetingPlan) -> Result<(), ConfigError> {
    if plan.venues.is_empty() {
        return Err(ConfigError::NoVenues);
    }
    let mut seen = std::collections::HashSet::new();
    for v in &plan.venues {
        if !seen.insert(&v.id) {
            return Err(ConfigError::DuplicateVenue {
                venue: v.id.clone(),
            });
        }
        if v.parent.as_ref() == Some(&v.id) {
            return Err(ConfigError::OwnParent {
                venue: v.id.clone(),
            });
        }
    }
    if !seen.contains(&plan.main_venue) {
        return Err(ConfigError::MainVenueNotInvited {
            venue: plan.main_venue.clone(),
        });
    }
    for v in &plan.roll_call_order {
        if !seen.contains(v) || *v == plan.main_venue {
            return Err(ConfigError::BadRollCallEntry { venue: v.clone() });
        }
    }
    if plan.chair.is_empty() {
        return Err(ConfigError::NoChair);
    }
    Ok(())
}
