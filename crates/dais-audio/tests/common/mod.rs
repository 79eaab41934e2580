//! Simulated venues for the mixer tests: each sends a G.711 tone of its own frequency, with
//! seeded loss and jitter; receivers' packets are decoded and kept for analysis.
#![allow(dead_code)]

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap};
use std::time::{Duration, Instant};

use dais_audio::*;

pub const FRAME: Duration = Duration::from_millis(20);

/// A tiny deterministic RNG (splitmix64), so tests need no extra crate.
#[derive(Clone, Debug)]
pub struct Rng(pub u64);

impl Rng {
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

pub fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ts.to_be_bytes());
    v.extend_from_slice(&ssrc.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// A simulated venue's uplink: a sine at `freq` Hz with peak `amp`.
#[derive(Clone, Debug)]
pub struct Tone {
    pub id: VenueId,
    pub codec: Codec,
    pub pt: u8,
    pub freq: f64,
    pub amp: f64,
    pub sending: bool,
    seq: u16,
    ts: u32,
    n: u64,
}

impl Tone {
    pub fn new(id: u32, codec: Codec, freq: f64, amp: f64) -> Self {
        let pt = match codec {
            Codec::Pcmu => 0,
            _ => 8,
        };
        Tone {
            id: VenueId(id),
            codec,
            pt,
            freq,
            amp,
            sending: true,
            seq: id as u16 * 1000,
            ts: id * 77_777,
            n: 0,
        }
    }

    /// The next 20 ms packet.
    pub fn packet(&mut self) -> Vec<u8> {
        let pcm: Vec<i16> = (0..160)
            .map(|i| {
                let t = (self.n + i) as f64 / 8000.0;
                (self.amp * (2.0 * std::f64::consts::PI * self.freq * t).sin()) as i16
            })
            .collect();
        let mut payload = vec![0u8; 160];
        encode(self.codec, &pcm, &mut payload);
        let p = rtp(
            self.pt,
            self.n == 0,
            self.seq,
            self.ts,
            0x1000 + self.id.0,
            &payload,
        );
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(160);
        self.n += 160;
        p
    }
}

/// Goertzel: amplitude of the `freq` component of `x` (8 kHz).
pub fn tone_amplitude(x: &[i16], freq: f64) -> f64 {
    let n = x.len() as f64;
    let w = 2.0 * std::f64::consts::PI * freq / 8000.0;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for v in x {
        let s0 = *v as f64 + coeff * s1 - s2;
        s2 = s1;
        s1 = s0;
    }
    let power = s1 * s1 + s2 * s2 - coeff * s1 * s2;
    2.0 * power.max(0.0).sqrt() / n
}

#[derive(Clone, Debug, Default)]
pub struct Received {
    pub pcm: Vec<i16>,
    pub packets: Vec<(u16, u32, bool, usize)>,
}

/// (arrival time, tie-breaker, venue index, datagram).
type Arrival = (Instant, u64, usize, Vec<u8>);

/// A meeting in virtual time.
pub struct Sim {
    pub mixer: Mixer,
    pub t0: Instant,
    pub now: Instant,
    pub tones: Vec<Tone>,
    pub received: BTreeMap<VenueId, Received>,
    pub events: Vec<(Duration, MixerEvent)>,
    pub drops: Vec<DropReason>,
    pub rx_codecs: BTreeMap<VenueId, Codec>,
    pub rng: Rng,
    /// Loss probability and maximum extra delay of each uplink packet.
    pub loss: f64,
    pub jitter: Duration,
    arrivals: BinaryHeap<Reverse<Arrival>>,
    next_send: Instant,
    counter: u64,
}

impl Sim {
    pub fn new(cfg: MixerConfig, tones: Vec<Tone>) -> Sim {
        let mut mixer = Mixer::new(cfg).unwrap();
        for t in &tones {
            mixer.add_source(t.id, t.codec, t.pt, 8000).unwrap();
            mixer.add_receiver(t.id, t.codec, t.pt, FRAME).unwrap();
        }
        let t0 = Instant::now();
        let rx_codecs = tones.iter().map(|t| (t.id, t.codec)).collect();
        Sim {
            mixer,
            t0,
            now: t0,
            tones,
            received: BTreeMap::new(),
            events: Vec::new(),
            drops: Vec::new(),
            rx_codecs,
            rng: Rng(42),
            loss: 0.0,
            jitter: Duration::ZERO,
            arrivals: BinaryHeap::new(),
            next_send: t0,
            counter: 0,
        }
    }

    pub fn add_receiver(&mut self, id: u32, codec: Codec, pt: u8, ptime: Duration) {
        self.mixer
            .add_receiver(VenueId(id), codec, pt, ptime)
            .unwrap();
        self.rx_codecs.insert(VenueId(id), codec);
    }

    pub fn tone_mut(&mut self, id: u32) -> &mut Tone {
        self.tones.iter_mut().find(|t| t.id == VenueId(id)).unwrap()
    }

    /// Runs for `d` of virtual time: venues send every 20 ms, the mixer ticks when it asks.
    pub fn run(&mut self, d: Duration) {
        let end = self.now + d;
        // The mixer's clock starts with its first call; start it off the send grid.
        if self.mixer.poll_timeout().is_none() {
            self.mixer
                .handle_timeout(self.t0 + Duration::from_millis(7));
            self.drain();
        }
        loop {
            let tick = self.mixer.poll_timeout().unwrap();
            let arrival = self.arrivals.peek().map(|Reverse(a)| a.0);
            let next = [Some(tick), arrival, Some(self.next_send)]
                .into_iter()
                .flatten()
                .min()
                .unwrap();
            if next >= end {
                self.now = end;
                return;
            }
            self.now = next;
            if next == self.next_send {
                for i in 0..self.tones.len() {
                    let t = &mut self.tones[i];
                    if !t.sending {
                        continue;
                    }
                    let p = t.packet();
                    if self.rng.unit() < self.loss {
                        continue;
                    }
                    let delay = self.jitter.mul_f64(self.rng.unit());
                    self.counter += 1;
                    self.arrivals
                        .push(Reverse((next + delay, self.counter, i, p)));
                }
                self.next_send += FRAME;
                continue;
            }
            if arrival == Some(next) {
                let Reverse((_, _, i, p)) = self.arrivals.pop().unwrap();
                let id = self.tones[i].id;
                if let Err(r) = self.mixer.handle_rtp(next, id, &p) {
                    self.drops.push(r);
                }
                continue;
            }
            self.mixer.handle_timeout(next);
            self.drain();
        }
    }

    pub fn drain(&mut self) {
        let at = self.now - self.t0;
        while let Some((id, pkt)) = self.mixer.poll_output() {
            let r = self.received.entry(id).or_default();
            let codec = self.rx_codecs.get(&id).copied().unwrap_or(Codec::Pcmu);
            let mut pcm = vec![0i16; pkt.payload.len()];
            decode(codec, pkt.payload, &mut pcm);
            r.pcm.extend_from_slice(&pcm);
            r.packets
                .push((pkt.sequence, pkt.timestamp, pkt.marker, pkt.payload.len()));
        }
        while let Some(e) = self.mixer.poll_event() {
            self.events.push((at, e));
        }
    }

    /// The last `d` of what `id` heard.
    pub fn heard_tail(&self, id: u32, d: Duration) -> &[i16] {
        let pcm = &self.received[&VenueId(id)].pcm;
        let n = (d.as_millis() as usize * 8).min(pcm.len());
        &pcm[pcm.len() - n..]
    }

    pub fn clear_received(&mut self) {
        self.received.clear();
    }
}

/// Asserts which of `freqs` are present (amplitude > 500) and absent (< 60) in `x`.
pub fn assert_tones(x: &[i16], present: &[f64], absent: &[f64], what: &str) {
    for f in present {
        let a = tone_amplitude(x, *f);
        assert!(
            a > 500.0,
            "{what}: {f} Hz should be heard, amplitude {a:.1}"
        );
    }
    for f in absent {
        let a = tone_amplitude(x, *f);
        assert!(
            a < 60.0,
            "{what}: {f} Hz should be absent, amplitude {a:.1}"
        );
    }
}
