//! Meetings, venues and chair-command policy for Dais (sans-IO).
//!
//! The media engine knows *how* to switch a picture; this crate decides *who* is shown, *who*
//! may command the meeting and *when*. It owns no socket, no clock and no task: operator
//! commands, SIP facts and mixer reports come in with the current `now: Instant`; [`Action`]s
//! for the shell, [`ConferenceEvent`]s for operators and [`RecordEntry`]s for the meeting
//! record come out; deadlines (polling ticks, keyframe pre-roll, voice hold, redials, planned
//! end) surface through [`Conference::poll_timeout`] and run in
//! [`Conference::handle_timeout`].
//!
//! # Run loop (in the shell)
//!
//! ```
//! # use std::time::{Duration, Instant};
//! # use dais_conference::*;
//! # let now = Instant::now();
//! # let main: VenueId = "province".parse().unwrap();
//! # let plan = MeetingPlan { number: "2024-001".into(), subject: "s".into(),
//! #   main_venue: main.clone(), chair: "li".into(), duration: None, roll_call_order: vec![],
//! #   venues: vec![Venue { id: main.clone(), name: "Province".into(), kind: VenueKind::Main, parent: None }] };
//! let mut conf = Conference::new(now, plan, ConferenceConfig::default()).unwrap();
//! let chair = Actor::new("li", Role::ChairOperator);
//! let mut actions = conf.command(now, &chair, ChairCommand::GoLive).unwrap();
//! actions.extend(conf.handle_leg_event(now, &main, LegEvent::Answered).unwrap());
//! // apply `actions` to the media engine and SIP layer, then sleep until:
//! if let Some(deadline) = conf.poll_timeout() {
//!     actions = conf.handle_timeout(deadline);
//! }
//! while let Some(event) = conf.poll_event() { /* push to WebSocket clients */ }
//! ```
//!
//! # Pictures
//!
//! Three feeds ([`FeedRole`]): everyone receives `Broadcast` except the broadcaster, which
//! receives `BroadcasterView` (the main venue, or the previous broadcaster while the main venue
//! broadcasts itself); the main venue receives `ChairView` while the chair views a venue
//! privately. A broadcast switch therefore re-subscribes at most three venues, whatever the
//! meeting's size.
//!
//! # Conflicts
//!
//! A hand switch (broadcast, return to main, roll call) pauses running polling and ends a roll
//! call; starting polling during a roll call is refused; voice activation is held off while
//! polling exists or a roll call runs; a new switch while the media engine is still cutting
//! over simply replaces the pending one there.

#![warn(missing_docs)]

mod command;
mod conference;
mod error;
mod leg;
mod model;
mod output;
pub mod record;

pub use command::{Actor, Authority, ChairCommand, CommandKind, Role, permits};
pub use conference::{
    Conference, ConferenceConfig, FeedsSnapshot, LegSnapshot, MAX_POLLING_INTERVAL,
    PollingSnapshot, Snapshot, VoiceSnapshot,
};
pub use error::{AdmitError, CommandError, ConfigError, Conflict, EventError, InvalidVenueId};
pub use leg::{DropReason, FailReason, LegEvent, LegStatus, RedialPolicy};
pub use model::{
    Meeting, MeetingPlan, MeetingState, MeetingTime, VENUE_ID_MAX_LEN, Venue, VenueId, VenueKind,
};
pub use output::{
    Action, ConferenceEvent, FeedRole, PollingStatus, RecordEntry, RecordKind, ShowCause,
};
