//! A small deterministic simulated world: virtual clock, venues sending H.264-shaped video at
//! 30 fps (several packets per frame, a keyframe every `gop` frames, answering keyframe
//! requests after a delay), receivers recording what reaches them, and a seeded impaired
//! network (loss, jitter, reorder) between venues and the engine.
#![allow(dead_code)]

use std::collections::{BTreeMap, HashMap};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use dais_media::*;
use dais_rtp::RtpHeader;

/// Tiny xorshift PRNG: deterministic per seed.
#[derive(Clone, Debug)]
pub struct Prng(u64);

impl Prng {
    pub fn new(seed: u64) -> Self {
        Prng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1)
    }
    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.0 = x;
        x
    }
    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && (self.next_u64() % 1_000_000) < (p * 1_000_000.0) as u64
    }
    pub fn below(&mut self, n: u64) -> u64 {
        if n == 0 { 0 } else { self.next_u64() % n }
    }
}

pub fn addr(host: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::V4(Ipv4Addr::new(10, 0, 0, host)), port)
}

pub const VIDEO_PT: u8 = 96;
pub const AUDIO_PT: u8 = 0;

/// What a payload says about itself (the simulated venues tag every packet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tag {
    pub venue: u32,
    pub frame: u32,
    pub index: u16,
    /// The first packet of a keyframe (what `is_keyframe` should recognise).
    pub keyframe_start: bool,
}

/// H.264-shaped payloads: a keyframe starts with an SPS NAL, continues with FU-A fragments of
/// an IDR (S=0); delta frames are FU-A fragments of a non-IDR slice.
pub fn video_payload(tag: Tag, keyframe: bool) -> Vec<u8> {
    let mut p = match (keyframe, tag.index) {
        (true, 0) => vec![0x67, 0x42],
        (true, _) => vec![0x7c, 0x05],
        (false, 0) => vec![0x7c, 0x81],
        (false, _) => vec![0x7c, 0x01],
    };
    p.extend_from_slice(&tag.venue.to_be_bytes());
    p.extend_from_slice(&tag.frame.to_be_bytes());
    p.extend_from_slice(&tag.index.to_be_bytes());
    p.push(u8::from(keyframe && tag.index == 0));
    p.resize(120, 0xaa);
    p
}

pub fn parse_tag(payload: &[u8]) -> Option<Tag> {
    let b = payload.get(2..13)?;
    Some(Tag {
        venue: u32::from_be_bytes([b[0], b[1], b[2], b[3]]),
        frame: u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        index: u16::from_be_bytes([b[8], b[9]]),
        keyframe_start: b[10] == 1,
    })
}

pub fn rtp_packet(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80, (pt & 0x7f) | if marker { 0x80 } else { 0 }];
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ts.to_be_bytes());
    v.extend_from_slice(&ssrc.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// A simulated venue's uplink.
#[derive(Debug)]
pub struct Venue {
    pub leg: LegId,
    pub addr: SocketAddr,
    pub ssrc: u32,
    pub seq: u16,
    pub ts: u32,
    pub frame: u32,
    pub gop: u32,
    pub packets_per_frame: u16,
    pub next_frame_at: Instant,
    pub sending: bool,
    /// Answer a keyframe request after this delay (None: never answer).
    pub answer_delay: Option<Duration>,
    /// Ignore this many keyframe requests first (lost on the way).
    pub lose_requests: u32,
    pub keyframe_due_at: Option<Instant>,
    pub requests_received: u32,
    pub kind: MediaKind,
}

#[derive(Clone, Debug)]
pub struct Delivered {
    pub at: Instant,
    pub feed_ssrc: u32,
    pub seq: u16,
    pub ts: u32,
    pub pt: u8,
    pub tag: Option<Tag>,
    pub bytes: Vec<u8>,
}

#[derive(Clone, Copy, Debug, Default)]
pub struct Impairment {
    pub loss: f64,
    /// Uniform extra delay in 0..jitter_ms.
    pub jitter_ms: u64,
}

pub struct World {
    pub engine: Engine,
    pub now: Instant,
    pub start: Instant,
    pub venues: Vec<Venue>,
    pub receivers: HashMap<SocketAddr, Vec<Delivered>>,
    pub receiver_legs: HashMap<LegId, SocketAddr>,
    pub events: Vec<(Instant, MediaEvent)>,
    pub transmits: Vec<(Instant, Transmit)>,
    pub net: BTreeMap<(Instant, u64), (SocketAddr, Vec<u8>)>,
    pub net_seq: u64,
    pub rng: Prng,
    pub impairment: Impairment,
    pub drops: Vec<DropReason>,
}

pub fn test_config() -> EngineConfig {
    EngineConfig {
        keyframe_retry: Duration::from_millis(250),
        switch_timeout: Duration::from_secs(2),
        no_media_after: Duration::from_secs(2),
        frozen_after: Duration::from_secs(30),
        rtcp_interval: Duration::from_secs(1),
        pli_min_interval: Duration::from_millis(500),
        nack_cache: 256,
        ssrc_seed: 42,
    }
}

pub fn video_leg(a: SocketAddr, pt: u8, send: bool, recv: bool) -> LegConfig {
    LegConfig {
        rtp_addr: a,
        rtcp_addr: None,
        video: Some(VideoParams {
            payload_type: pt,
            codec: VideoCodec::H264,
            clock_rate: 90_000,
            keyframe_request: KeyframeRequestMode::Rtcp,
        }),
        audio: Some(AudioParams {
            payload_type: AUDIO_PT,
            clock_rate: 8000,
        }),
        send,
        recv,
    }
}

impl World {
    pub fn new(seed: u64, cfg: EngineConfig) -> Self {
        let start = Instant::now();
        World {
            engine: Engine::new(cfg),
            now: start,
            start,
            venues: Vec::new(),
            receivers: HashMap::new(),
            receiver_legs: HashMap::new(),
            events: Vec::new(),
            transmits: Vec::new(),
            net: BTreeMap::new(),
            net_seq: 0,
            rng: Prng::new(seed),
            impairment: Impairment::default(),
            drops: Vec::new(),
        }
    }

    /// Adds a sending venue (leg id = index + 1, host = index + 1) with the given GOP.
    pub fn add_venue(&mut self, gop: u32) -> LegId {
        let i = self.venues.len() as u32;
        let leg = LegId(i + 1);
        let a = addr((i + 1) as u8, 5000);
        self.engine
            .add_leg(self.now, leg, video_leg(a, VIDEO_PT, true, true))
            .unwrap();
        let r = self.rng.next_u64();
        self.venues.push(Venue {
            leg,
            addr: a,
            ssrc: 0x1000_0000 + i,
            seq: r as u16,
            ts: (r >> 16) as u32,
            frame: 0,
            gop,
            packets_per_frame: 4,
            next_frame_at: self.now + Duration::from_millis(u64::from(i) * 7),
            sending: true,
            answer_delay: Some(Duration::from_millis(40)),
            lose_requests: 0,
            keyframe_due_at: None,
            requests_received: 0,
            kind: MediaKind::Video,
        });
        leg
    }

    /// Adds a receive-only leg (ids from 1000) subscribed to `feed`.
    pub fn add_receiver(&mut self, feed: FeedId, pt: u8) -> LegId {
        let n = self.receiver_legs.len() as u32;
        let leg = LegId(1000 + n);
        let a = SocketAddr::new(
            IpAddr::V4(Ipv4Addr::new(10, 1, (n / 200) as u8, (n % 200) as u8 + 1)),
            6000,
        );
        self.engine
            .add_leg(self.now, leg, video_leg(a, pt, false, true))
            .unwrap();
        self.engine.subscribe(self.now, leg, feed).unwrap();
        self.receivers.insert(a, Vec::new());
        self.receiver_legs.insert(leg, a);
        leg
    }

    pub fn venue(&mut self, leg: LegId) -> &mut Venue {
        self.venues.iter_mut().find(|v| v.leg == leg).unwrap()
    }

    fn emit_frames(&mut self) {
        let now = self.now;
        let mut out = Vec::new();
        for v in &mut self.venues {
            if now < v.next_frame_at {
                continue;
            }
            v.next_frame_at += Duration::from_nanos(1_000_000_000 / 30);
            v.ts = v.ts.wrapping_add(3000);
            if !v.sending {
                continue;
            }
            let requested = v.keyframe_due_at.is_some_and(|t| now >= t);
            let keyframe = v.frame % v.gop.max(1) == 0 || requested;
            if requested {
                v.keyframe_due_at = None;
            }
            for index in 0..v.packets_per_frame {
                let tag = Tag {
                    venue: v.leg.0,
                    frame: v.frame,
                    index,
                    keyframe_start: false,
                };
                let payload = video_payload(tag, keyframe);
                let marker = index + 1 == v.packets_per_frame;
                out.push((
                    v.addr,
                    rtp_packet(VIDEO_PT, marker, v.seq, v.ts, v.ssrc, &payload),
                ));
                v.seq = v.seq.wrapping_add(1);
            }
            v.frame += 1;
        }
        for (from, pkt) in out {
            self.send_to_engine(from, pkt);
        }
    }

    /// Puts a datagram on the impaired network towards the engine.
    pub fn send_to_engine(&mut self, from: SocketAddr, pkt: Vec<u8>) {
        if self.rng.chance(self.impairment.loss) {
            return;
        }
        let delay = Duration::from_millis(5 + self.rng.below(self.impairment.jitter_ms + 1));
        self.net_seq += 1;
        self.net
            .insert((self.now + delay, self.net_seq), (from, pkt));
    }

    /// Hands a datagram to the engine now, bypassing the network, and records deliveries.
    pub fn inject(&mut self, from: SocketAddr, mut pkt: Vec<u8>) -> Option<DropReason> {
        let now = self.now;
        let mut deliveries = Vec::new();
        let dropped = match self.engine.handle_datagram(now, from, &pkt) {
            Routed::Forward(fwds) => {
                for fwd in fwds.iter() {
                    apply(&fwd, &mut pkt);
                    for g in fwd.groups {
                        g.apply(&fwd.rewrite, &mut pkt);
                        for d in g.destinations() {
                            deliveries.push((*d, pkt.clone()));
                        }
                    }
                }
                None
            }
            Routed::Consumed | Routed::Audio { .. } => None,
            Routed::Dropped(r) => Some(r),
        };
        if let Some(r) = dropped {
            self.drops.push(r);
        }
        for (to, bytes) in deliveries {
            self.deliver(to, bytes);
        }
        dropped
    }

    fn deliver(&mut self, to: SocketAddr, bytes: Vec<u8>) {
        let h = RtpHeader::parse(&bytes).unwrap();
        let d = Delivered {
            at: self.now,
            feed_ssrc: h.ssrc.0,
            seq: h.sequence,
            ts: h.timestamp,
            pt: h.payload_type,
            tag: parse_tag(h.payload(&bytes)),
            bytes: bytes.clone(),
        };
        if let Some(log) = self.receivers.get_mut(&to) {
            log.push(d);
        }
    }

    fn drain_outputs(&mut self) {
        while let Some(t) = self.engine.poll_transmit() {
            // A keyframe request (RR+PLI+FIR) to a venue: it answers after its delay.
            let is_request = t.contents.len() >= 20 && t.contents.get(9) == Some(&206);
            if is_request && let Some(v) = self.venues.iter_mut().find(|v| v.addr == t.destination)
            {
                v.requests_received += 1;
                if v.lose_requests > 0 {
                    v.lose_requests -= 1;
                } else if let Some(d) = v.answer_delay
                    && v.keyframe_due_at.is_none()
                {
                    v.keyframe_due_at = Some(self.now + d);
                }
            }
            self.transmits.push((self.now, t));
        }
        while let Some(e) = self.engine.poll_event() {
            self.events.push((self.now, e));
        }
    }

    /// Advances virtual time in 1 ms steps.
    pub fn run_for(&mut self, d: Duration) {
        let end = self.now + d;
        while self.now < end {
            self.now += Duration::from_millis(1);
            self.emit_frames();
            while let Some((&(at, n), _)) = self.net.iter().next() {
                if at > self.now {
                    break;
                }
                let (from, pkt) = self.net.remove(&(at, n)).unwrap();
                self.inject(from, pkt);
            }
            if self.engine.poll_timeout().is_some_and(|t| t <= self.now) {
                self.engine.handle_timeout(self.now);
            }
            self.drain_outputs();
        }
    }

    pub fn switch(&mut self, feed: FeedId, to: Option<LegId>) {
        self.engine.switch(self.now, feed, to).unwrap();
        self.drain_outputs();
    }

    pub fn log(&self, receiver: LegId) -> &[Delivered] {
        &self.receivers[&self.receiver_legs[&receiver]]
    }

    pub fn completed(&self) -> Vec<(LegId, Duration, bool)> {
        self.events
            .iter()
            .filter_map(|(_, e)| match e {
                MediaEvent::SwitchCompleted {
                    to,
                    latency,
                    forced,
                    ..
                } => Some((*to, *latency, *forced)),
                _ => None,
            })
            .collect()
    }

    pub fn keyframe_requests_to(&self, leg: LegId) -> usize {
        self.events
            .iter()
            .filter(|(_, e)| matches!(e, MediaEvent::KeyframeRequested { leg: l, .. } if *l == leg))
            .count()
    }
}

/// Invariants every receiver's log must satisfy with a loss-free in-order network.
pub fn assert_clean_stream(log: &[Delivered]) {
    assert!(!log.is_empty(), "receiver got nothing");
    let ssrc = log[0].feed_ssrc;
    for w in log.windows(2) {
        assert_eq!(w[1].feed_ssrc, ssrc, "SSRC changed within a feed");
        assert_eq!(
            w[1].seq,
            w[0].seq.wrapping_add(1),
            "sequence not continuous: {:?} -> {:?}",
            w[0].tag,
            w[1].tag
        );
        assert!(
            (w[1].ts.wrapping_sub(w[0].ts) as i32) >= 0,
            "timestamp went backwards"
        );
        let (a, b) = (w[0].tag.unwrap(), w[1].tag.unwrap());
        if a.venue != b.venue {
            assert!(
                b.keyframe_start,
                "first packet of venue {} is not a keyframe start: {b:?}",
                b.venue
            );
            assert!(
                w[1].ts != w[0].ts,
                "new source's frame shares the old one's timestamp"
            );
        }
    }
}
