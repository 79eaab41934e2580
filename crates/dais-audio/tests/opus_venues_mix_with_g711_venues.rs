//! Opus venues in a mixed meeting (needs the `opus` feature: `cargo test -p dais-audio
//! --features opus`). Senders are real libopus encoders at 48 kHz, receivers real libopus
//! decoders at 48 kHz, as a WebRTC endpoint would be; G.711 venues share the meeting.
#![cfg(feature = "opus")]

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use dais_audio::opus::{Application, Channels, Decoder, Encoder};
use dais_audio::*;

const FRAME: Duration = Duration::from_millis(20);
const PT_OPUS: u8 = 111;

fn rtp(pt: u8, marker: bool, seq: u16, ts: u32, ssrc: u32, payload: &[u8]) -> Vec<u8> {
    let mut v = vec![0x80, pt | if marker { 0x80 } else { 0 }];
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ts.to_be_bytes());
    v.extend_from_slice(&ssrc.to_be_bytes());
    v.extend_from_slice(payload);
    v
}

/// Goertzel: amplitude of the `freq` component of `x` sampled at `rate`.
fn tone_amplitude(x: &[i16], freq: f64, rate: f64) -> f64 {
    let n = x.len() as f64;
    let w = 2.0 * std::f64::consts::PI * freq / rate;
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

/// A venue's uplink: a tone at `freq`, 20 ms packets, Opus at 48 kHz or G.711 μ-law.
struct Sender {
    id: VenueId,
    codec: Codec,
    freq: f64,
    enc: Option<Encoder>,
    seq: u16,
    ts: u32,
    n: u64,
}

impl Sender {
    fn new(id: u32, codec: Codec, freq: f64) -> Self {
        let enc = (codec == Codec::Opus)
            .then(|| Encoder::new(48000, Channels::Mono, Application::Voip).unwrap());
        Sender {
            id: VenueId(id),
            codec,
            freq,
            enc,
            seq: 1000 * id as u16,
            // Near the wrap, so the 48 kHz → 16 kHz timestamp map crosses 2^32 in the test.
            ts: u32::MAX - 48_000 * id,
            n: 0,
        }
    }

    fn packet(&mut self) -> Vec<u8> {
        let rate = if self.codec == Codec::Opus {
            48000
        } else {
            8000
        };
        let len = rate as usize / 50;
        let pcm: Vec<i16> = (0..len as u64)
            .map(|i| {
                let t = (self.n + i) as f64 / rate as f64;
                (8000.0 * (2.0 * std::f64::consts::PI * self.freq * t).sin()) as i16
            })
            .collect();
        let (pt, payload) = match self.enc.as_mut() {
            Some(e) => (PT_OPUS, e.encode_vec(&pcm, 1500).unwrap()),
            None => {
                let mut p = vec![0; len];
                encode(self.codec, &pcm, &mut p);
                (0, p)
            }
        };
        let p = rtp(
            pt,
            self.n == 0,
            self.seq,
            self.ts,
            0x5000 + self.id.0,
            &payload,
        );
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(len as u32);
        self.n += len as u64;
        p
    }
}

/// What a receiver got: decoded audio (8 kHz for G.711, 48 kHz for Opus) and headers.
struct Heard {
    codec: Codec,
    dec: Option<Decoder>,
    pcm: Vec<i16>,
    packets: Vec<(u8, u16, u32, bool)>,
}

impl Heard {
    fn new(codec: Codec) -> Self {
        Heard {
            codec,
            dec: (codec == Codec::Opus).then(|| Decoder::new(48000, Channels::Mono).unwrap()),
            pcm: Vec::new(),
            packets: Vec::new(),
        }
    }

    fn rate(&self) -> f64 {
        if self.codec == Codec::Opus {
            48000.0
        } else {
            8000.0
        }
    }

    fn push(&mut self, pkt: &OutPacket<'_>) {
        self.packets
            .push((pkt.payload_type, pkt.sequence, pkt.timestamp, pkt.marker));
        match self.dec.as_mut() {
            Some(d) => {
                let mut out = [0i16; 5760];
                let n = d.decode(pkt.payload, &mut out, false).unwrap();
                self.pcm.extend_from_slice(&out[..n]);
            }
            None => {
                let mut out = vec![0i16; pkt.payload.len()];
                decode(self.codec, pkt.payload, &mut out);
                self.pcm.extend_from_slice(&out);
            }
        }
    }

    /// Tone amplitude over the last second.
    fn amplitude(&self, freq: f64) -> f64 {
        let n = (self.rate() as usize).min(self.pcm.len());
        tone_amplitude(&self.pcm[self.pcm.len() - n..], freq, self.rate())
    }
}

/// Runs `frames` frames: every sender sends (unless `lose(venue, frame)`), packets arrive 5 ms
/// later, the mixer ticks on its own 20 ms grid and every output is decoded.
fn run(
    mixer: &mut Mixer,
    senders: &mut [Sender],
    heard: &mut BTreeMap<VenueId, Heard>,
    t0: Instant,
    frames: u32,
    mut lose: impl FnMut(VenueId, u32) -> bool,
) {
    for f in 0..frames {
        let now = t0 + FRAME * f;
        for s in senders.iter_mut() {
            let p = s.packet();
            if !lose(s.id, f) {
                mixer
                    .handle_rtp(now + Duration::from_millis(5), s.id, &p)
                    .unwrap();
            }
        }
        mixer.handle_timeout(now + Duration::from_millis(7));
        while let Some((id, pkt)) = mixer.poll_output() {
            heard.get_mut(&id).unwrap().push(&pkt);
        }
        while mixer.poll_event().is_some() {}
    }
}

#[test]
fn opus_source_is_heard_by_g711_and_opus_receivers_and_not_by_itself() {
    let mut mixer = Mixer::new(MixerConfig::default()).unwrap();
    // 1 and 3 speak Opus, 2 G.711; 4 (G.711) and 5, 6, 7 (Opus) only listen; 8 (Opus) listens
    // but is blocked.
    let mut senders = vec![
        Sender::new(1, Codec::Opus, 600.0),
        Sender::new(2, Codec::Pcmu, 1000.0),
        Sender::new(3, Codec::Opus, 1400.0),
    ];
    let mut heard = BTreeMap::new();
    for s in &senders {
        let pt = if s.codec == Codec::Opus { PT_OPUS } else { 0 };
        mixer
            .add_source(s.id, s.codec, pt, s.codec.clock_rate())
            .unwrap();
        mixer.add_receiver(s.id, s.codec, pt, FRAME).unwrap();
        heard.insert(s.id, Heard::new(s.codec));
    }
    mixer
        .add_receiver(VenueId(4), Codec::Pcmu, 0, FRAME)
        .unwrap();
    heard.insert(VenueId(4), Heard::new(Codec::Pcmu));
    for id in 5..=7 {
        mixer
            .add_receiver(VenueId(id), Codec::Opus, PT_OPUS, FRAME)
            .unwrap();
        heard.insert(VenueId(id), Heard::new(Codec::Opus));
    }
    mixer
        .add_receiver(VenueId(8), Codec::Opus, PT_OPUS, FRAME)
        .unwrap();
    mixer.set_blocked(VenueId(8), true).unwrap();
    heard.insert(VenueId(8), Heard::new(Codec::Opus));
    let t0 = Instant::now();
    run(&mut mixer, &mut senders, &mut heard, t0, 100, |_, _| false);
    let before = mixer.stats().encodes;
    run(
        &mut mixer,
        &mut senders,
        &mut heard,
        t0 + FRAME * 100,
        100,
        |_, _| false,
    );

    let tones = [(1, 600.0), (2, 1000.0), (3, 1400.0)];
    for (rx, h) in &heard {
        for (venue, f) in tones {
            let a = h.amplitude(f);
            if rx.0 == venue || rx.0 == 8 {
                assert!(a < 100.0, "{rx:?} hears {f} Hz (own or blocked): {a:.1}");
            } else {
                assert!(
                    a > 3000.0,
                    "{rx:?} ({:?}) misses venue {venue}'s {f} Hz: {a:.1}",
                    h.codec
                );
            }
        }
    }
    // Distinct signals × codecs per frame: minus-1 (Opus), minus-2 (μ), minus-3 (Opus), the
    // full mix in μ-law (4) and in Opus (5, 6, 7 share one encoder), Opus silence (8): 6,
    // however many listen.
    assert_eq!(mixer.stats().encodes - before, 6 * 100);
    // Opus receivers: 48 kHz clock (960 per 20 ms), continuous sequence, one marker.
    for id in [1, 3, 5, 6, 7, 8] {
        let p = &heard[&VenueId(id)].packets;
        assert_eq!(p.len(), 200);
        assert!(p.iter().all(|x| x.0 == PT_OPUS));
        assert!(p[0].3 && p[1..].iter().all(|x| !x.3));
        for w in p.windows(2) {
            assert_eq!(w[1].1, w[0].1.wrapping_add(1));
            assert_eq!(w[1].2, w[0].2.wrapping_add(960));
        }
    }
}

#[test]
fn opus_loss_is_concealed_by_the_decoder_without_gaps() {
    let mut mixer = Mixer::new(MixerConfig::default()).unwrap();
    let mut senders = vec![Sender::new(1, Codec::Opus, 800.0)];
    mixer
        .add_source(VenueId(1), Codec::Opus, PT_OPUS, 48000)
        .unwrap();
    mixer
        .add_receiver(VenueId(9), Codec::Pcmu, 0, FRAME)
        .unwrap();
    let mut heard = BTreeMap::from([(VenueId(9), Heard::new(Codec::Pcmu))]);
    // Seeded loss: about 8 %, single losses and a few bursts of two.
    let mut lost = 0;
    let mut rng = 0x0bad_5eedu64;
    let mut burst = false;
    let t0 = Instant::now();
    run(&mut mixer, &mut senders, &mut heard, t0, 500, |_, f| {
        rng ^= rng << 13;
        rng ^= rng >> 7;
        rng ^= rng << 17;
        let lose = f > 20 && f < 490 && (burst || rng % 100 < 6);
        burst = lose && !burst && rng.is_multiple_of(3);
        lost += lose as u32;
        lose
    });
    assert!(lost > 25, "the run lost only {lost} packets");
    let st = mixer.source_stats(VenueId(1)).unwrap();
    assert_eq!(st.drops.total(), 0);
    // Every lost packet's 20 ms was made up by the decoder, not left to silence.
    assert_eq!(st.decoder_concealed, FRAME * lost);
    // …so the jitter buffer never had to repeat a frame; the one silent frame is the first
    // tick, before the first packet's playout time.
    assert_eq!(st.concealed, 0, "{st:?}");
    assert!(st.silent <= 1, "{st:?}");
    assert_eq!(st.played + st.silent, 500, "{st:?}");
    // No gap: every 20 ms of what the listener heard after start-up carries the tone.
    let pcm = &heard[&VenueId(9)].pcm;
    let frames: Vec<f64> = pcm[160 * 30..]
        .chunks_exact(160)
        .map(|c| tone_amplitude(c, 800.0, 8000.0))
        .collect();
    let mut sorted = frames.clone();
    sorted.sort_by(f64::total_cmp);
    let median = sorted[sorted.len() / 2];
    let weakest = sorted[0];
    assert!(median > 4000.0, "median {median:.0}");
    // libopus's concealment fades when losses cluster (two losses a frame apart, bursts of
    // three: down to about -18 dB here), but never to silence: a gap would be ~0.
    assert!(
        weakest > 0.05 * median,
        "a frame fell to {weakest:.0} (median {median:.0}): a gap"
    );
    let weak = frames.iter().filter(|a| **a < 0.5 * median).count();
    assert!(
        weak * 100 <= frames.len() * 3,
        "{weak} of {} frames below half the tone",
        frames.len()
    );
}

#[test]
fn bad_opus_input_is_refused_precisely() {
    let mut mixer = Mixer::new(MixerConfig::default()).unwrap();
    assert_eq!(
        mixer.add_source(VenueId(1), Codec::Opus, PT_OPUS, 8000),
        Err(MixerError::ClockRate {
            clock_rate: 8000,
            expected: 48000
        })
    );
    mixer
        .add_source(VenueId(1), Codec::Opus, PT_OPUS, 48000)
        .unwrap();
    let ptime = Duration::from_millis(40);
    assert_eq!(
        mixer.add_receiver(VenueId(1), Codec::Opus, PT_OPUS, ptime),
        Err(MixerError::OpusPacketTime(ptime))
    );
    let cfg = MixerConfig {
        frame: Duration::from_millis(30),
        ..MixerConfig::default()
    };
    assert_eq!(
        Mixer::new(cfg).unwrap().add_receiver(
            VenueId(1),
            Codec::Opus,
            PT_OPUS,
            Duration::from_millis(30)
        ),
        Err(MixerError::OpusPacketTime(Duration::from_millis(30)))
    );
    let now = Instant::now();
    // TOC code 3 without its frame-count byte; then an empty payload.
    let r = mixer.handle_rtp(now, VenueId(1), &rtp(PT_OPUS, false, 1, 960, 7, &[0x03]));
    assert_eq!(r, Err(DropReason::Undecodable));
    let r = mixer.handle_rtp(now, VenueId(1), &rtp(PT_OPUS, false, 2, 1920, 7, &[]));
    assert_eq!(r, Err(DropReason::MalformedPayload));
    // A good packet, then an older one: Opus decodes in order, so the late one is refused.
    let mut s = Sender::new(1, Codec::Opus, 500.0);
    let first = s.packet();
    let second = s.packet();
    mixer.handle_rtp(now, VenueId(1), &second).unwrap();
    assert_eq!(
        mixer.handle_rtp(now, VenueId(1), &first),
        Err(DropReason::OutOfOrder)
    );
    let st = mixer.source_stats(VenueId(1)).unwrap();
    assert_eq!(st.drops.get(DropReason::Undecodable), 1);
    assert_eq!(st.drops.get(DropReason::OutOfOrder), 1);
    // The sender's timestamps restart 10 s back (same SSRC): not "out of order" forever, but
    // a jump the jitter buffer confirms after three packets, then the stream plays again.
    s.ts = s.ts.wrapping_sub(480_000);
    let results: Vec<_> = (0..5)
        .map(|_| mixer.handle_rtp(now, VenueId(1), &s.packet()))
        .collect();
    assert_eq!(
        results,
        [
            Err(DropReason::TimestampJump),
            Err(DropReason::TimestampJump),
            Ok(()),
            Ok(()),
            Ok(())
        ]
    );
}
