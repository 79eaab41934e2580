//! `daisd`'s library: the server shell around the Dais core.
//!
//! # Run loop
//!
//! ```text
//! Config::from_env_and_args()        flags > DAIS_* env > TOML file > defaults, validated once
//!   └─ App::start(config)            open store (migrations), ensure admin, bind HTTP
//!        ├─ set_meeting_control(..)   the meeting engine behind /api/v1/meetings*
//!        ├─ add_router(..)            extra routes (WebSocket events, console, ...)
//!        ├─ registry_mut()            register metrics (all named dais_*)
//!        ├─ add_shutdown_step(..)     e.g. "BYE every leg"
//!        └─ serve(shutdown_signal)    HTTP until the signal, then the shutdown sequence
//! ```
//!
//! Shutdown order: `/healthz` turns 503, [`MeetingControl::shutdown`], the registered steps
//! (each bounded by `shutdown_grace_secs`), the HTTP server stops accepting and drains
//! in-flight requests, a `server.stop` audit row, the store checkpoints and closes.
//!
//! Every listener defaults to loopback; binding a public address is an explicit choice.

#![warn(missing_docs)]

pub mod api;
mod app;
pub mod config;
pub mod console;
pub mod control;
pub mod logging;
pub mod media_metrics;
pub mod meetings;
pub mod metrics;
pub mod scheduler;
pub mod sip;

pub use api::auth::AuthedOperator;
pub use api::error::{ApiError, ErrorBody};
pub use app::{App, AppState, ServerError, unix_now};
pub use config::{Config, ConfigError, LogFormat, RtpPortRange, Secret};
pub use control::{
    Actor, BoxFuture, ChairCommandJson, CommandOutcome, ControlError, MeetingControl,
    MeetingDetail, MeetingSummary, VenueStatus,
};
