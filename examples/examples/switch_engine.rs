//! The media engine on its own, sans-IO: two venues send H.264-shaped video, one receiver
//! watches a feed, the chair switches the feed from venue 1 to venue 2. Time is virtual: the
//! example feeds `now` values itself, so it runs in microseconds and always the same way.
//!
//! `cargo run -p dais-examples --example switch_engine`
#![allow(clippy::print_stdout)]

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dais_media::{
    Engine, EngineConfig, KeyframeRequestMode, LegConfig, LegId, MediaEvent, MediaKind, Routed,
    VideoCodec, VideoParams, apply,
};
use dais_net::sim::{Probe, SyntheticVideo, VideoShape};

fn main() {
    let t0 = Instant::now();
    let mut engine = Engine::new(EngineConfig::default());
    let video = Some(VideoParams {
        payload_type: 96,
        codec: VideoCodec::H264,
        clock_rate: 90_000,
        keyframe_request: KeyframeRequestMode::Rtcp,
    });
    let addr = |port: u16| SocketAddr::from(([127, 0, 0, 1], port));
    let leg = |port, send, recv| LegConfig {
        rtp_addr: addr(port),
        rtcp_addr: None,
        video,
        audio: None,
        send,
        recv,
    };
    engine
        .add_leg(t0, LegId(1), leg(40_000, true, false))
        .unwrap();
    engine
        .add_leg(t0, LegId(2), leg(40_002, true, false))
        .unwrap();
    engine
        .add_leg(t0, LegId(9), leg(40_100, false, true))
        .unwrap();
    let feed = engine.create_feed(MediaKind::Video);
    engine.subscribe(t0, LegId(9), feed).unwrap();
    engine.switch(t0, feed, Some(LegId(1))).unwrap();

    // A keyframe every second, so the switch below waits for one (the simulated encoders here
    // do not answer the engine's PLI; the media task's real venues do).
    let shape = VideoShape {
        gop: 30,
        ..VideoShape::default()
    };
    let mut venues = [
        (addr(40_000), SyntheticVideo::new(1, 96, shape, 1)),
        (addr(40_002), SyntheticVideo::new(2, 96, shape, 2)),
    ];
    let mut frame = Vec::new();
    let mut last_seen = 0;
    for i in 0..90u64 {
        let now = t0 + Duration::from_millis(i * 33);
        if i == 40 {
            println!("t={:>5} ms  chair: switch the feed to venue 2", i * 33);
            engine.switch(now, feed, Some(LegId(2))).unwrap();
        }
        engine.handle_timeout(now);
        for (from, venue) in &mut venues {
            venue.next_frame(i * 33_000_000, &mut frame);
            for pkt in &mut frame {
                if let Routed::Forward(forwards) = engine.handle_datagram(now, *from, pkt) {
                    for fw in forwards.iter() {
                        apply(&fw, pkt);
                        let header = dais_rtp::RtpHeader::parse(pkt).unwrap();
                        let probe = Probe::parse(header.payload(pkt)).unwrap();
                        if probe.venue != last_seen {
                            println!(
                                "t={:>5} ms  receiver now sees venue {} (keyframe: {}), \
                                 output seq {} ssrc {:?}",
                                i * 33,
                                probe.venue,
                                probe.keyframe,
                                header.sequence,
                                header.ssrc
                            );
                            last_seen = probe.venue;
                        }
                    }
                }
            }
        }
        while let Some(ev) = engine.poll_event() {
            if let MediaEvent::SwitchCompleted { to, latency, .. } = ev {
                println!("            switch to {to:?} completed after {latency:?}");
            }
        }
        while engine.poll_transmit().is_some() {}
    }
    println!("engine stats: {:?}", engine.stats());
}
