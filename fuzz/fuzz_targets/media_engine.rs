#![no_main]
//! Media engine: the input bytes decode into a sequence of operations (legs added, updated and
//! removed, feeds created, subscriptions, switches, datagrams from known and unknown addresses,
//! time passing) against one `Engine`. It must never panic, and every forward must carry its
//! feed's SSRC.
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use dais_media::{
    AudioParams, Engine, EngineConfig, FeedId, KeyframeRequestMode, LegConfig, LegId, MediaKind,
    Routed, VideoCodec, VideoParams, apply,
};

struct Input<'a>(&'a [u8]);

impl Input<'_> {
    fn u8(&mut self) -> Option<u8> {
        let (&b, rest) = self.0.split_first()?;
        self.0 = rest;
        Some(b)
    }
    fn u16(&mut self) -> Option<u16> {
        Some(u16::from_be_bytes([self.u8()?, self.u8()?]))
    }
    fn u32(&mut self) -> Option<u32> {
        Some(u32::from_be_bytes([
            self.u8()?,
            self.u8()?,
            self.u8()?,
            self.u8()?,
        ]))
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
}

fn addr(host: u8, port: u16) -> SocketAddr {
    SocketAddr::new(
        IpAddr::V4(Ipv4Addr::new(10, 0, 0, host % 12)),
        5000 + port % 2,
    )
}

fn leg_config(host: u8, flags: u8, pt: u8) -> LegConfig {
    let mode = match flags >> 6 {
        0 => KeyframeRequestMode::Rtcp,
        1 => KeyframeRequestMode::SipInfo,
        _ => KeyframeRequestMode::Both,
    };
    LegConfig {
        rtp_addr: addr(host, 0),
        rtcp_addr: (flags & 1 != 0).then(|| addr(host, 1)),
        video: (flags & 2 != 0).then_some(VideoParams {
            payload_type: pt & 0x7f,
            codec: if flags & 32 != 0 {
                VideoCodec::Vp8
            } else {
                VideoCodec::H264
            },
            clock_rate: 90_000,
            keyframe_request: mode,
        }),
        audio: (flags & 4 != 0).then_some(AudioParams {
            payload_type: 0,
            clock_rate: 8000,
        }),
        send: flags & 8 != 0,
        recv: flags & 16 != 0,
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut input = Input(data);
    let mut now = Instant::now();
    let mut e = Engine::new(EngineConfig {
        nack_cache: 8,
        ..EngineConfig::default()
    });
    let mut feeds: Vec<FeedId> = Vec::new();
    let mut buf = Vec::with_capacity(1500);
    while let Some(op) = input.u8() {
        match op % 12 {
            0 | 1 => {
                let (Some(id), Some(host), Some(flags), Some(pt)) =
                    (input.u8(), input.u8(), input.u8(), input.u8())
                else {
                    break;
                };
                let cfg = leg_config(host, flags, pt);
                let leg = LegId(u32::from(id % 8));
                if op % 12 == 0 {
                    let _ = e.add_leg(now, leg, cfg);
                } else {
                    let _ = e.update_leg(now, leg, cfg);
                }
            }
            2 => {
                let Some(id) = input.u8() else { break };
                e.remove_leg(now, LegId(u32::from(id % 8)));
            }
            3 => {
                let Some(k) = input.u8() else { break };
                if feeds.len() < 8 {
                    feeds.push(e.create_feed(if k & 1 == 0 {
                        MediaKind::Video
                    } else {
                        MediaKind::Audio
                    }));
                }
            }
            4 | 5 => {
                let (Some(l), Some(f)) = (input.u8(), input.u8()) else {
                    break;
                };
                let Some(&feed) = feeds.get(usize::from(f) % feeds.len().max(1)) else {
                    continue;
                };
                let leg = LegId(u32::from(l % 8));
                if op % 12 == 4 {
                    let _ = e.subscribe(now, leg, feed);
                } else {
                    e.unsubscribe(leg, feed);
                }
            }
            6 => {
                let (Some(l), Some(f)) = (input.u8(), input.u8()) else {
                    break;
                };
                let Some(&feed) = feeds.get(usize::from(f) % feeds.len().max(1)) else {
                    continue;
                };
                let to = (l < 200).then_some(LegId(u32::from(l % 8)));
                let _ = e.switch(now, feed, to);
            }
            7 => {
                // A well-formed RTP packet with fuzzed fields (reaches the switching logic).
                let (Some(host), Some(pt), Some(seq), Some(ts), Some(ssrc), Some(kind)) = (
                    input.u8(),
                    input.u8(),
                    input.u16(),
                    input.u32(),
                    input.u32(),
                    input.u8(),
                ) else {
                    break;
                };
                buf.clear();
                buf.extend_from_slice(&[0x80, pt & 0xff]);
                buf.extend_from_slice(&seq.to_be_bytes());
                buf.extend_from_slice(&ts.to_be_bytes());
                buf.extend_from_slice(&ssrc.to_be_bytes());
                let payload: &[u8] = match kind % 4 {
                    0 => &[0x67, 0x42, 0, 0],
                    1 => &[0x7c, 0x85, 0, 0],
                    2 => &[0x10, 0x00, 0, 0, 0x9d, 0x01, 0x2a],
                    _ => &[0x7c, 0x01, 0, 0],
                };
                buf.extend_from_slice(payload);
                route(&mut e, now, addr(host, u16::from(host >> 4)), &mut buf);
            }
            8 => {
                // Raw bytes from some address.
                let (Some(host), Some(len)) = (input.u8(), input.u8()) else {
                    break;
                };
                buf.clear();
                buf.extend_from_slice(input.bytes(usize::from(len)));
                route(&mut e, now, addr(host, u16::from(host >> 4)), &mut buf);
            }
            9 => {
                let Some(ms) = input.u16() else { break };
                now += Duration::from_millis(u64::from(ms));
                e.handle_timeout(now);
            }
            10 => {
                let (Some(f), Some(on)) = (input.u8(), input.u8()) else {
                    break;
                };
                if let Some(&feed) = feeds.get(usize::from(f) % feeds.len().max(1)) {
                    let _ = e.set_tap(feed, on & 1 == 1);
                }
            }
            _ => {
                let Some(f) = input.u8() else { break };
                if let Some(&feed) = feeds.get(usize::from(f) % feeds.len().max(1)) {
                    e.remove_feed(feed);
                }
            }
        }
        if e.poll_timeout().is_some_and(|t| t <= now) {
            e.handle_timeout(now);
        }
        while e.poll_transmit().is_some() {}
        while e.poll_event().is_some() {}
        let _ = e.stats();
    }
});

fn route(e: &mut Engine, now: Instant, from: SocketAddr, buf: &mut Vec<u8>) {
    let mut feed_ssrcs = Vec::new();
    if let Routed::Forward(f) = e.handle_datagram(now, from, buf) {
        for fwd in f.iter() {
            apply(&fwd, buf);
            feed_ssrcs.push((fwd.feed, fwd.rewrite.ssrc));
            for g in fwd.groups {
                g.apply(&fwd.rewrite, buf);
                let _ = g.destinations().len();
            }
        }
    }
    for (feed, ssrc) in feed_ssrcs {
        let info = e.feed_info(feed).expect("forwarded for a live feed");
        assert_eq!(info.ssrc, ssrc, "forward with a foreign SSRC");
    }
}
