//! End-to-end loopback forwarding benchmark: the Dais media engine against the minimal
//! reference forwarder, in the same run, at K = 1, 4, 16, 64 receivers.
//!
//! `cargo run --release -p dais-benches --bin forward_e2e -- [seconds]`
#![allow(clippy::print_stdout)]

use std::time::Duration;

use dais_benches::{Load, ReferenceForwarder, Rig};
use dais_net::sim::VideoShape;

fn main() {
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    // One venue at 3.3x a real venue's video rate: 1000 packets/s into the forwarder, which
    // keeps K = 64 (64,000 sends/s) within what 2 cores can also receive.
    let shape = VideoShape {
        fps: 100,
        packets_per_frame: 10,
        ..VideoShape::default()
    };
    println!("K\tforwarder\tin\tout\treceived\tcpu_ns/out\tp50_us\tp99_us");
    for k in [1usize, 4, 16, 64] {
        let load = Load {
            venues: 1,
            shape,
            duration: Duration::from_secs(secs),
            receivers: k,
        };
        let rig = Rig::bind(&load).expect("bind loopback sockets");
        let fwd = ReferenceForwarder {
            dests: rig.receiver_addrs(),
        };
        let r = rig.run(&load, fwd, |_| {});
        println!(
            "{k}\treference\t{}\t{}\t{}\t{:.0}\t{}\t{}",
            r.forwarded_in,
            r.forwarded_out,
            r.received,
            r.cpu_ns_per_sent(),
            r.latency_p50_us,
            r.latency_p99_us
        );
    }
}
