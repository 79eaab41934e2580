//! Audio mixer benchmarks.
//!
//! - `audio/decode_g711` and `audio/encode_g711`: one 20 ms frame (160 samples) per codec.
//! - `audio/frame/N`: one 20 ms frame of an N-venue meeting: N packets into `handle_rtp`, one
//!   `handle_timeout` (pull, levels, selection, mix-minus, encode) and the drain of N outputs.
//! - `audio/meeting_second/N`: one second (50 frames) of an N-venue G.711 meeting, everyone
//!   talking: time per iteration divided by 1 s is the share of one core the meeting costs.
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use dais_audio::{Codec, Mixer, MixerConfig, VenueId, decode, encode};

const FRAME: Duration = Duration::from_millis(20);

fn tone(freq: f64, n: usize) -> Vec<i16> {
    (0..n)
        .map(|i| (6000.0 * (2.0 * std::f64::consts::PI * freq * i as f64 / 8000.0).sin()) as i16)
        .collect()
}

fn codecs(c: &mut Criterion) {
    let pcm = tone(440.0, 160);
    let mut g = c.benchmark_group("audio");
    g.throughput(Throughput::Elements(160));
    for codec in [Codec::Pcmu, Codec::Pcma] {
        let mut bytes = vec![0u8; 160];
        encode(codec, &pcm, &mut bytes);
        let mut out = vec![0i16; 160];
        g.bench_function(BenchmarkId::new("decode_g711", format!("{codec:?}")), |b| {
            b.iter(|| decode(codec, black_box(&bytes), &mut out))
        });
        let mut enc = vec![0u8; 160];
        g.bench_function(BenchmarkId::new("encode_g711", format!("{codec:?}")), |b| {
            b.iter(|| encode(codec, black_box(&pcm), &mut enc))
        });
    }
    g.finish();
}

/// A meeting of `n` G.711 venues, each sending its own tone, with its packets' payloads.
struct Meeting {
    mixer: Mixer,
    packets: Vec<Vec<u8>>,
    frame: u32,
    t0: Instant,
}

impl Meeting {
    fn new(n: u32) -> Meeting {
        let mut mixer = Mixer::new(MixerConfig::default()).unwrap();
        let mut packets = Vec::new();
        for i in 0..n {
            let codec = if i % 2 == 0 { Codec::Pcmu } else { Codec::Pcma };
            let pt = if i % 2 == 0 { 0 } else { 8 };
            mixer.add_source(VenueId(i), codec, pt, 8000).unwrap();
            mixer.add_receiver(VenueId(i), codec, pt, FRAME).unwrap();
            let mut p = vec![0x80, pt, 0, 0, 0, 0, 0, 0];
            p.extend_from_slice(&(0x1000 + i).to_be_bytes());
            let mut payload = vec![0u8; 160];
            encode(codec, &tone(200.0 + 10.0 * i as f64, 160), &mut payload);
            p.extend_from_slice(&payload);
            packets.push(p);
        }
        mixer.set_main(Some(VenueId(0)));
        let mut m = Meeting {
            mixer,
            packets,
            frame: 0,
            t0: Instant::now(),
        };
        for _ in 0..50 {
            m.step();
        }
        m
    }

    /// One frame: every venue's packet, a tick, the drain.
    fn step(&mut self) -> usize {
        let now = self.t0 + FRAME * self.frame;
        let seq = self.frame as u16;
        let ts = self.frame.wrapping_mul(160);
        for (i, p) in self.packets.iter_mut().enumerate() {
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

fn frame(c: &mut Criterion) {
    let mut g = c.benchmark_group("audio/frame");
    for n in [16u32, 64, 256] {
        let mut m = Meeting::new(n);
        g.throughput(Throughput::Elements(n as u64));
        g.bench_function(BenchmarkId::from_parameter(n), |b| b.iter(|| m.step()));
    }
    g.finish();
}

fn meeting_second(c: &mut Criterion) {
    let mut g = c.benchmark_group("audio/meeting_second");
    g.sample_size(20);
    for n in [16u32, 64, 256] {
        let mut m = Meeting::new(n);
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

criterion_group!(benches, codecs, frame, meeting_second);
criterion_main!(benches);
