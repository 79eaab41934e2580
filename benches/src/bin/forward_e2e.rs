//! End-to-end loopback forwarding benchmark: the Dais media engine against the minimal
//! reference forwarder, in the same run, at K = 1, 4, 16, 64 receivers; then the switch time
//! over 100 switches between two venues that answer PLI like an encoder.
//!
//! `cargo run --release -p dais-benches --bin forward_e2e -- [seconds] [json-file]`
//!
//! Each forwarder runs on its own thread; its CPU time comes from the thread's CPU clock, so
//! senders and receivers (which share the machine) do not count. Figures are per datagram sent
//! by the forwarder.
#![allow(clippy::print_stdout)]

use std::time::{Duration, Instant};

use dais_benches::{Forwarder, Load, ReferenceForwarder, Rig, RunReport, SendIo};
use dais_media::{
    Engine, EngineConfig, FeedId, KeyframeRequestMode, LegConfig, LegId, MediaKind, Routed,
    VideoCodec, VideoParams, apply,
};
use dais_net::sim::VideoShape;

/// The media engine driven exactly as `dais-net`'s media task drives it.
struct EngineForwarder {
    engine: Engine,
    feed: FeedId,
}

impl EngineForwarder {
    fn new(rig: &Rig) -> EngineForwarder {
        let now = Instant::now();
        let mut engine = Engine::new(EngineConfig::default());
        let video = Some(VideoParams {
            payload_type: 96,
            codec: VideoCodec::H264,
            clock_rate: 90_000,
            keyframe_request: KeyframeRequestMode::Rtcp,
        });
        for (i, addr) in rig.sender_addrs().into_iter().enumerate() {
            let cfg = LegConfig {
                rtp_addr: addr,
                rtcp_addr: None,
                video,
                audio: None,
                send: true,
                recv: false,
            };
            engine.add_leg(now, LegId(i as u32 + 1), cfg).unwrap();
        }
        let feed = engine.create_feed(MediaKind::Video);
        for (i, addr) in rig.receiver_addrs().into_iter().enumerate() {
            let leg = LegId(10_000 + i as u32);
            let cfg = LegConfig {
                rtp_addr: addr,
                rtcp_addr: None,
                video,
                audio: None,
                send: false,
                recv: true,
            };
            engine.add_leg(now, leg, cfg).unwrap();
            engine.subscribe(now, leg, feed).unwrap();
        }
        engine.switch(now, feed, Some(LegId(1))).unwrap();
        EngineForwarder { engine, feed }
    }
}

impl Forwarder for EngineForwarder {
    fn on_datagram(
        &mut self,
        now: Instant,
        from: std::net::SocketAddr,
        buf: &mut [u8],
        io: &mut SendIo<'_>,
    ) -> usize {
        let mut sent = 0;
        if let Routed::Forward(forwards) = self.engine.handle_datagram(now, from, buf) {
            for fw in forwards.iter() {
                apply(&fw, buf);
                for group in fw.groups {
                    group.apply(&fw.rewrite, buf);
                    sent += io.send_all(buf, group.destinations());
                }
            }
        }
        sent
    }

    fn on_tick(&mut self, now: Instant, io: &mut SendIo<'_>) {
        if self.engine.poll_timeout().is_some_and(|t| t <= now) {
            self.engine.handle_timeout(now);
        }
        while let Some(t) = self.engine.poll_transmit() {
            io.send_to(&t.contents, t.destination);
        }
        while self.engine.poll_event().is_some() {}
    }

    fn switch_to(&mut self, now: Instant, venue: u32) {
        let _ = self.engine.switch(now, self.feed, Some(LegId(venue)));
    }
}

fn percentile(sorted: &[Duration], q: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let i = ((sorted.len() as f64 - 1.0) * q).round() as usize;
    sorted[i.min(sorted.len() - 1)]
}

fn row(k: usize, name: &str, r: &RunReport) {
    println!(
        "{k}\t{name}\t{}\t{}\t{}\t{:.0}\t{}\t{}",
        r.forwarded_in,
        r.forwarded_out,
        r.received,
        r.cpu_ns_per_sent(),
        r.latency_p50_us,
        r.latency_p99_us
    );
}

fn main() {
    let secs: u64 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(4);
    let json_path = std::env::args().nth(2);
    // One venue at 3.3x a real venue's video rate: 1000 packets/s into the forwarder, which
    // keeps K = 64 (64,000 sends/s) within what 2 cores can also receive.
    let shape = VideoShape {
        fps: 100,
        packets_per_frame: 10,
        ..VideoShape::default()
    };
    let mut json_rows = Vec::new();
    println!("K\tforwarder\tin\tout\treceived\tcpu_ns/out\tp50_us\tp99_us");
    for k in [1usize, 4, 16, 64] {
        let load = Load {
            venues: 1,
            shape,
            duration: Duration::from_secs(secs),
            receivers: k,
            trains: false,
        };
        let rig = Rig::bind(&load).expect("bind loopback sockets");
        let fwd = ReferenceForwarder {
            dests: rig.receiver_addrs(),
        };
        let reference = rig.run(&load, fwd, |_| None);
        row(k, "reference", &reference);

        let rig = Rig::bind(&load).expect("bind loopback sockets");
        let fwd = EngineForwarder::new(&rig);
        let engine = rig.run(&load, fwd, |_| None);
        row(k, "engine", &engine);
        let ratio = engine.cpu_ns_per_sent() / reference.cpu_ns_per_sent();
        println!(
            "{k}\tratio\t\t\t\t{ratio:.3}\t+{}\t+{}",
            engine.latency_p50_us as i64 - reference.latency_p50_us as i64,
            engine.latency_p99_us as i64 - reference.latency_p99_us as i64
        );
        json_rows.push(serde_json::json!({
            "k": k,
            "reference_cpu_ns_per_sent": reference.cpu_ns_per_sent(),
            "engine_cpu_ns_per_sent": engine.cpu_ns_per_sent(),
            "ratio": ratio,
            "reference_latency_us": {"p50": reference.latency_p50_us, "p99": reference.latency_p99_us},
            "engine_latency_us": {"p50": engine.latency_p50_us, "p99": engine.latency_p99_us},
            "engine_received": engine.received,
            "engine_expected": engine.forwarded_in * k as u64,
            "engine_seq_discontinuities": engine.seq_discontinuities,
        }));
    }

    // Switch time: two venues at a real venue's rate, 16 receivers, a switch every 200 ms.
    let load = Load {
        venues: 2,
        shape: VideoShape::default(),
        duration: Duration::from_millis(20_500),
        receivers: 16,
        trains: false,
    };
    let rig = Rig::bind(&load).expect("bind loopback sockets");
    let fwd = EngineForwarder::new(&rig);
    let mut next = Duration::from_millis(500);
    let mut venue = 1;
    let r = rig.run(&load, fwd, |t| {
        if t >= next && t < Duration::from_millis(20_300) {
            next += Duration::from_millis(200);
            venue = 3 - venue;
            Some(venue)
        } else {
            None
        }
    });
    let mut lat = r.switch_latencies();
    lat.sort();
    println!(
        "switch: {} commands, {} receiver cut-overs, p50 {:?}, p99 {:?}, max {:?}; \
         sequence discontinuities {}, packets before keyframe {}",
        r.switches.len(),
        lat.len(),
        percentile(&lat, 0.5),
        percentile(&lat, 0.99),
        lat.last().copied().unwrap_or_default(),
        r.seq_discontinuities,
        r.before_keyframe
    );
    if let Some(path) = json_path {
        let doc = serde_json::json!({
            "forwarding": json_rows,
            "switch": {
                "commands": r.switches.len(),
                "cutovers": lat.len(),
                "p50_ms": percentile(&lat, 0.5).as_secs_f64() * 1e3,
                "p99_ms": percentile(&lat, 0.99).as_secs_f64() * 1e3,
                "seq_discontinuities": r.seq_discontinuities,
                "before_keyframe": r.before_keyframe,
            }
        });
        std::fs::write(&path, serde_json::to_string_pretty(&doc).unwrap()).unwrap();
    }
}
