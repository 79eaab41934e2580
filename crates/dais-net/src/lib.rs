//! The I/O shell around the Dais media core.
//!
//! The core crates (`dais-rtp`, `dais-media`) decide; this crate owns what they must not touch:
//! sockets, the tokio runtime, the clock. It provides
//!
//! * [`sim`]: synthetic venues (H.264-shaped video that answers keyframe requests, G.711 tones)
//!   for the demo, the load generator and the benchmarks;
//! * [`udp`]: batched UDP receive and fan-out send (`recvmmsg`/`sendmmsg` on Linux), written by
//!   hand because the fan-out sends one packet to many destinations in one syscall, which
//!   `quinn-udp` (one destination per transmit, GSO) does not do;
//!
//! The hot path allocates nothing per packet: buffers are owned by the batch structures and
//! reused.
#![warn(missing_docs)]

pub mod demo;
pub mod media_task;
pub mod meeting;
pub mod recording;
pub mod send_pool;
pub mod sim;
pub mod trains;
pub mod udp;
