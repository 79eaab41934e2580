//! Opus benchmarks (`cargo bench -p dais-audio --features opus --bench opus`).
//!
//! - `opus/decode_20ms` and `opus/encode_20ms`: one 20 ms frame through libopus at the 16 kHz
//!   the mixer uses (decode of a 48 kHz sender's packet; encode at 32 kb/s, complexity 10).
//! - `opus/meeting_second/N`: one second (50 frames) of an N-venue meeting where every venue
//!   sends and receives Opus and everyone talks (so every source is decoded and metered, 3 are
//!   mixed; 4 mix-minus signals + the full mix are encoded per frame). Time per iteration
//!   divided by 1 s is the share of one core the meeting costs.
//! - `opus/meeting_second_g711/N`: the same meeting in G.711, for the ratio.
//! - `opus/mostly_silent/{park,decode_all}/{levels,no_levels}/N`: one second of an N-venue
//!   all-Opus meeting where 3 venues talk and the others send silence, with
//!   `MixerConfig::skip_unheard_opus` on (`park`) and off (`decode_all`), the senders adding
//!   RFC 6464 levels (`levels`) or not (`no_levels`, parked venues are probed). Both settings
//!   run in the same process: read the ratio, the machine is noisy.
//! - `opus/g711_share/*`: what parking G.711 venues could save at most: one G.711 decode (20
//!   ms) against one second of a 256-venue G.711 meeting with 3 talkers, in the same run.
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dais_audio::opus::{Application, Channels, Decoder, Encoder};
use dais_audio::{Codec, Mixer, MixerConfig, VenueId, decode, encode};

const FRAME: Duration = Duration::from_millis(20);

fn tone(freq: f64, rate: f64, n: usize, from: usize) -> Vec<i16> {
    (from..from + n)
        .map(|i| (6000.0 * (2.0 * std::f64::consts::PI * freq * i as f64 / rate).sin()) as i16)
        .collect()
}

fn codec(c: &mut Criterion) {
    let mut g = c.benchmark_group("opus");
    g.throughput(Throughput::Elements(1));
    let mut sender = Encoder::new(48000, Channels::Mono, Application::Voip).unwrap();
    let packets: Vec<Vec<u8>> = (0..50)
        .map(|k| {
            sender
                .encode_vec(&tone(440.0, 48000.0, 960, k * 960), 1500)
                .unwrap()
        })
        .collect();
    let mut dec = Decoder::new(16000, Channels::Mono).unwrap();
    let mut out = [0i16; 320];
    let mut k = 0;
    g.bench_function("decode_20ms", |b| {
        b.iter(|| {
            k = (k + 1) % packets.len();
            dec.decode(black_box(&packets[k]), &mut out, false).unwrap()
        })
    });
    let mut enc = Encoder::new(16000, Channels::Mono, Application::Voip).unwrap();
    enc.set_bitrate(dais_audio::opus::Bitrate::Bits(32_000))
        .unwrap();
    let frames: Vec<Vec<i16>> = (0..50)
        .map(|k| tone(440.0, 16000.0, 320, k * 320))
        .collect();
    let mut buf = [0u8; 1275];
    g.bench_function("encode_20ms", |b| {
        b.iter(|| {
            k = (k + 1) % frames.len();
            enc.encode(black_box(&frames[k]), &mut buf).unwrap()
        })
    });
    g.finish();
}

/// A meeting of `n` venues in `codec`, each sending its own tone (a second of packets,
/// replayed with advancing sequence numbers and timestamps).
struct Meeting {
    mixer: Mixer,
    /// Per venue, 50 packets (RTP header + payload).
    packets: Vec<Vec<Vec<u8>>>,
    step_ts: u32,
    frame: u32,
    t0: Instant,
}

impl Meeting {
    fn new(n: u32, codec: Codec) -> Meeting {
        let mut mixer = Mixer::new(MixerConfig::default()).unwrap();
        let pt = if codec == Codec::Opus { 111 } else { 0 };
        let mut packets = Vec::new();
        for i in 0..n {
            mixer
                .add_source(VenueId(i), codec, pt, codec.clock_rate())
                .unwrap();
            mixer.add_receiver(VenueId(i), codec, pt, FRAME).unwrap();
            let freq = 200.0 + 10.0 * i as f64;
            let mut enc = (codec == Codec::Opus)
                .then(|| Encoder::new(48000, Channels::Mono, Application::Voip).unwrap());
            let venue: Vec<Vec<u8>> = (0..50)
                .map(|k| {
                    let payload = match enc.as_mut() {
                        Some(e) => e
                            .encode_vec(&tone(freq, 48000.0, 960, k * 960), 1500)
                            .unwrap(),
                        None => {
                            let mut p = vec![0u8; 160];
                            encode(codec, &tone(freq, 8000.0, 160, k * 160), &mut p);
                            p
                        }
                    };
                    let mut p = vec![0x80, pt, 0, 0, 0, 0, 0, 0];
                    p.extend_from_slice(&(0x1000 + i).to_be_bytes());
                    p.extend_from_slice(&payload);
                    p
                })
                .collect();
            packets.push(venue);
        }
        mixer.set_main(Some(VenueId(0)));
        let mut m = Meeting {
            mixer,
            packets,
            step_ts: codec.clock_rate() / 50,
            frame: 0,
            t0: Instant::now(),
        };
        for _ in 0..50 {
            m.step();
        }
        m
    }

    fn step(&mut self) -> usize {
        let now = self.t0 + FRAME * self.frame;
        let seq = self.frame as u16;
        let ts = self.frame.wrapping_mul(self.step_ts);
        let k = self.frame as usize % 50;
        for (i, venue) in self.packets.iter_mut().enumerate() {
            let p = &mut venue[k];
            p[2..4].copy_from_slice(&seq.to_be_bytes());
            p[4..8].copy_from_slice(&ts.to_be_bytes());
            let _ = self.mixer.handle_rtp(now, VenueId(i as u32), p);
        }
        self.mixer.handle_timeout(now + Duration::from_millis(3));
        let mut bytes = 0;
        while let Some((_, out)) = self.mixer.poll_output() {
            bytes += black_box(out.payload).len();
        }
        while self.mixer.poll_event().is_some() {}
        self.frame += 1;
        bytes
    }
}

fn meeting_second(c: &mut Criterion) {
    for (name, codec) in [
        ("opus/meeting_second", Codec::Opus),
        ("opus/meeting_second_g711", Codec::Pcmu),
    ] {
        let mut g = c.benchmark_group(name);
        g.sample_size(10);
        for n in [16u32, 64] {
            let mut m = Meeting::new(n, codec);
            g.bench_function(BenchmarkId::from_parameter(n), |b| {
                b.iter(|| {
                    for _ in 0..50 {
                        m.step();
                    }
                })
            });
        }
        g.finish();
    }
}

/// An all-Opus meeting of `n` venues, 3 of them talking (venue 0, the main venue, among
/// them), the rest sending encoded silence; with or without RFC 6464 levels (extension id 1).
fn mostly_silent(n: u32, skip: bool, levels: bool) -> Meeting {
    let mut mixer = Mixer::new(MixerConfig {
        skip_unheard_opus: skip,
        ..MixerConfig::default()
    })
    .unwrap();
    let mut packets = Vec::new();
    for i in 0..n {
        mixer
            .add_source(VenueId(i), Codec::Opus, 111, 48000)
            .unwrap();
        mixer
            .add_receiver(VenueId(i), Codec::Opus, 111, FRAME)
            .unwrap();
        if levels {
            mixer.set_level_extension(VenueId(i), Some(1)).unwrap();
        }
        let talking = i < 3;
        let freq = 200.0 + 10.0 * i as f64;
        let mut enc = Encoder::new(48000, Channels::Mono, Application::Voip).unwrap();
        let venue: Vec<Vec<u8>> = (0..50)
            .map(|k| {
                let mut pcm = tone(freq, 48000.0, 960, k * 960);
                if !talking {
                    pcm.fill(0);
                }
                let payload = enc.encode_vec(&pcm, 1500).unwrap();
                let mut p = vec![if levels { 0x90 } else { 0x80 }, 111, 0, 0, 0, 0, 0, 0];
                p.extend_from_slice(&(0x1000 + i).to_be_bytes());
                if levels {
                    // The tone's level (peak 6000: about -18 dBov) with the V bit, or silence.
                    let level = if talking { 0x80 | 18 } else { 127 };
                    p.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, level, 0, 0]);
                }
                p.extend_from_slice(&payload);
                p
            })
            .collect();
        packets.push(venue);
    }
    mixer.set_main(Some(VenueId(0)));
    let mut m = Meeting {
        mixer,
        packets,
        step_ts: 960,
        frame: 0,
        t0: Instant::now(),
    };
    for _ in 0..50 {
        m.step();
    }
    m
}

fn mostly_silent_second(c: &mut Criterion) {
    for levels in [true, false] {
        let name = if levels { "levels" } else { "no_levels" };
        let mut g = c.benchmark_group(format!("opus/mostly_silent/{name}"));
        g.sample_size(10);
        for n in [16u32, 64, 256] {
            for skip in [true, false] {
                let mut m = mostly_silent(n, skip, levels);
                let what = if skip { "park" } else { "decode_all" };
                g.bench_function(BenchmarkId::new(what, n), |b| {
                    b.iter(|| {
                        for _ in 0..50 {
                            m.step();
                        }
                    })
                });
                let st = m.mixer.stats();
                // Not a measurement: a check that the bench runs what it says.
                assert_eq!(st.opus_parked > 0, skip, "{st:?}");
            }
        }
        g.finish();
    }
}

fn g711_share(c: &mut Criterion) {
    let mut g = c.benchmark_group("opus/g711_share");
    g.sample_size(20);
    let mut bytes = vec![0u8; 160];
    encode(Codec::Pcmu, &tone(440.0, 8000.0, 160, 0), &mut bytes);
    let mut out = vec![0i16; 160];
    g.bench_function("decode_20ms", |b| {
        b.iter(|| decode(Codec::Pcmu, black_box(&bytes), &mut out))
    });
    let mut m = Meeting::new(256, Codec::Pcmu);
    // Venues 3.. fall silent (μ-law 0xff): 3 talkers, as in the Opus rows.
    for venue in m.packets.iter_mut().skip(3) {
        for p in venue.iter_mut() {
            p[12..].fill(0xff);
        }
    }
    g.bench_function("meeting_second_3_of_256_talk", |b| {
        b.iter(|| {
            for _ in 0..50 {
                m.step();
            }
        })
    });
    g.finish();
}

criterion_group!(
    benches,
    codec,
    meeting_second,
    mostly_silent_second,
    g711_share
);
criterion_main!(benches);
