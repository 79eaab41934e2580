//! The reference forwarder under the same load: `dais-benches`' loopback rig with N sending
//! venues and N-1 receivers, and a minimal forwarder that passes ONE venue's packets to every
//! receiver and drops the rest: what a broadcast meeting asks of an MCU, minus everything an
//! MCU adds (switching, rewriting, RTCP, audio, signaling).

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dais_benches::{Forwarder, Load, Rig, SendIo};
use dais_net::sim::VideoShape;

use crate::error::LoadgenError;

/// Forwards the selected venue's datagrams to every receiver; drops the others.
#[derive(Debug)]
pub struct SelectiveReference {
    /// The sender shown.
    pub source: SocketAddr,
    /// Every receiver.
    pub dests: Vec<SocketAddr>,
}

impl Forwarder for SelectiveReference {
    fn on_datagram(
        &mut self,
        _now: Instant,
        from: SocketAddr,
        buf: &mut [u8],
        io: &mut SendIo<'_>,
    ) -> usize {
        if from != self.source {
            return 0;
        }
        io.send_all(buf, &self.dests)
    }
}

/// Figures of a reference run.
#[derive(Debug, Clone, Copy)]
pub struct ReferenceFigures {
    /// Forwarder thread CPU per datagram sent, µs.
    pub cpu_us_per_packet: f64,
    /// Datagrams it sent.
    pub sent: u64,
    /// Datagrams the receivers got.
    pub received: u64,
}

/// Runs the reference for `duration` with `venues` senders of `shape` video.
///
/// # Errors
/// Socket errors binding the rig.
pub fn run_reference(
    venues: usize,
    shape: VideoShape,
    duration: Duration,
) -> Result<ReferenceFigures, LoadgenError> {
    let load = Load {
        venues: venues as u32,
        shape,
        duration,
        receivers: venues.saturating_sub(1).max(1),
        // The same sending as daisd's (D37), so the ratio measures the engine, not the I/O.
        trains: true,
    };
    let rig = Rig::bind(&load).map_err(|e| LoadgenError::Io {
        what: "binding the reference rig".into(),
        source: e,
    })?;
    let source =
        rig.sender_addrs().first().copied().ok_or_else(|| {
            LoadgenError::Options("the reference needs at least one venue".into())
        })?;
    let fwd = SelectiveReference {
        source,
        dests: rig.receiver_addrs(),
    };
    let r = rig.run(&load, fwd, |_| None);
    Ok(ReferenceFigures {
        cpu_us_per_packet: r.cpu_ns_per_sent() / 1000.0,
        sent: r.forwarded_out,
        received: r.received,
    })
}
