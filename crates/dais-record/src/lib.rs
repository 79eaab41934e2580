//! Meeting recording for Dais: the broadcast picture as it was shown (switches included) and
//! the meeting's full mix, written progressively into one Matroska file that ffmpeg and VLC
//! play, crash-safe up to the last second.
//!
//! - [`h264`]: H.264 RTP depacketiser (RFC 6184 single NAL, STAP-A, FU-A; a loss drops to the
//!   next keyframe), SPS reader, and a packetiser for tests and tools.
//! - [`mkv`]: the Matroska writer (whole clusters at every keyframe and at least every second;
//!   duration, cues and seek head on a clean finish).
//! - [`Recorder`]: puts both streams on one timeline from their media clocks (90 kHz RTP time,
//!   audio sample count), so audio and video stay in sync however late packets arrive.
//! - [`RecorderThread`]: the recorder on its own thread behind a bounded queue; producers
//!   ([`RecordSink`]) never block, a full queue drops and counts.
//!
//! - [`archive`]: the backup copy and SHA-256 verification of both copies.
//!
//! Why a hand-written muxer rather than a crate: docs/decisions.md (D-entry "Recording").
#![warn(missing_docs)]

pub mod archive;
pub mod h264;
pub mod mkv;
mod recorder;
mod thread;

pub use recorder::{Recorder, RecorderConfig, RecordingSummary};
pub use thread::{DEFAULT_QUEUE, RecordSink, RecorderThread};
