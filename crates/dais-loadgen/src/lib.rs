//! `dais-loadgen`: the load-test harness of Dais (issue 9).
//!
//! N simulated venues dial into a `daisd` meeting over real SIP with digest auth, send
//! H.264-shaped video (with in-band [`dais_net::sim::Probe`]s) and G.711 audio at real rates,
//! and receive what the MCU sends them; the chair is driven through the HTTP API. The run
//! measures SIP set-up, packets, loss, added latency, switch time, continuity and the
//! server's CPU and memory, and can compare with a minimal reference forwarder.
//!
//! # Threads of a run
//!
//! ```text
//!  main: API set-up ─► chair loop (broadcast / mute / drop every S s, 10 ms turns) ─► figures
//!  SIP:      one UDP socket, ≤ window INVITEs in flight, 401 → digest → 200 → ACK, BYE
//!  sender:   paces every venue's video (30 fps) and audio (50 pps) to the MCU's RTP port
//!  receiver: poll() over every venue socket → ReceiverTracker (loss, continuity, switches)
//! ```
//!
//! The pure parts ([`analysis`], [`sip`], [`report`], the parsers in [`api`] and
//! [`procstat`]) are unit-tested; `tests/smoke.rs` runs the whole harness against a spawned
//! `daisd`. Everything is sent to 127.0.0.1 only, and every loop is bounded in count or time.
#![warn(missing_docs)]

pub mod analysis;
pub mod api;
pub mod error;
pub mod events;
pub mod media;
pub mod procstat;
pub mod reference;
pub mod report;
pub mod run;
pub mod signaling;
pub mod sip;
pub mod spawn;

pub use error::LoadgenError;
pub use media::IoMode;
pub use report::Report;
pub use run::{DropMode, RunOptions, run};
