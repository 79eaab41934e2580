//! The `media/forward/K` scenario, shared by the criterion bench (`benches/media.rs`) and the
//! instruction-count driver (`bin/forward_instructions.rs`), so the two measure the same thing:
//! one 1200-byte RTP packet of a shown video source through `Engine::handle_datagram` plus the
//! shell's in-place rewrite, for one feed with K subscribers in two payload-type groups.

use std::hint::black_box;
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dais_media::{
    AudioParams, Engine, EngineConfig, KeyframeRequestMode, LegConfig, LegId, MediaKind, Routed,
    VideoCodec, VideoParams, apply,
};

/// The source's SSRC in the scenario.
const SOURCE_SSRC: u32 = 0xabc;

/// A leg with video on `pt` and G.711 audio.
pub fn leg(addr: SocketAddr, pt: u8, send: bool, recv: bool) -> LegConfig {
    LegConfig {
        rtp_addr: addr,
        rtcp_addr: None,
        video: Some(VideoParams {
            payload_type: pt,
            codec: VideoCodec::H264,
            clock_rate: 90_000,
            keyframe_request: KeyframeRequestMode::Rtcp,
        }),
        audio: Some(AudioParams {
            payload_type: 0,
            clock_rate: 8000,
        }),
        send,
        recv,
    }
}

/// A 1200-byte H.264-shaped RTP packet (payload type 96).
pub fn packet(seq: u16, ts: u32, ssrc: u32, keyframe: bool) -> Vec<u8> {
    let mut v = vec![0x80, 96];
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ts.to_be_bytes());
    v.extend_from_slice(&ssrc.to_be_bytes());
    v.extend_from_slice(if keyframe {
        &[0x67, 0x42]
    } else {
        &[0x7c, 0x01]
    });
    v.resize(1200, 0xaa);
    v
}

/// The address of source venue `i`.
pub fn src_addr(i: u8) -> SocketAddr {
    SocketAddr::from(([10, 0, 0, i], 5000))
}

/// One engine showing source 1 on a feed with `k` subscribers, and the packet buffer it is fed.
#[derive(Debug)]
pub struct ForwardScenario {
    engine: Engine,
    now: Instant,
    seq: u16,
    buf: Vec<u8>,
}

impl ForwardScenario {
    /// Sets up the meeting with the default configuration and forwards the source's first
    /// (key)frame packet.
    pub fn new(k: u32) -> ForwardScenario {
        ForwardScenario::with_config(k, EngineConfig::default())
    }

    /// As [`ForwardScenario::new`], with an engine configuration of the caller's.
    pub fn with_config(k: u32, cfg: EngineConfig) -> ForwardScenario {
        let t0 = Instant::now();
        let mut e = Engine::new(cfg);
        e.add_leg(t0, LegId(1), leg(src_addr(1), 96, true, false))
            .expect("add source");
        let feed = e.create_feed(MediaKind::Video);
        for i in 0..k {
            let a = SocketAddr::from(([10, 1, (i / 250) as u8, (i % 250) as u8 + 1], 6000));
            e.add_leg(
                t0,
                LegId(100 + i),
                leg(a, if i % 2 == 0 { 96 } else { 97 }, false, true),
            )
            .expect("add receiver");
            e.subscribe(t0, LegId(100 + i), feed).expect("subscribe");
        }
        e.switch(t0, feed, Some(LegId(1))).expect("switch");
        let buf = packet(0, 0, SOURCE_SSRC, true);
        let _ = e.handle_datagram(t0, src_addr(1), &buf);
        ForwardScenario {
            engine: e,
            now: t0,
            seq: 0,
            buf,
        }
    }

    /// Forwards the next packet (100 µs after the previous one) and applies the rewrite for
    /// every group, as the shell does. Returns the number of destinations.
    pub fn step(&mut self) -> usize {
        self.seq = self.seq.wrapping_add(1);
        self.now += Duration::from_micros(100);
        let buf = &mut self.buf;
        buf[2..4].copy_from_slice(&self.seq.to_be_bytes());
        let mut dests = 0;
        if let Routed::Forward(f) = self.engine.handle_datagram(self.now, src_addr(1), buf) {
            for fwd in f.iter() {
                apply(&fwd, buf);
                for group in fwd.groups {
                    group.apply(&fwd.rewrite, buf);
                    dests += black_box(group.destinations()).len();
                }
            }
        }
        // Undo the rewrite so the next step parses the source's SSRC again.
        buf[8..12].copy_from_slice(&SOURCE_SSRC.to_be_bytes());
        buf[1] = 96;
        dests
    }
}
