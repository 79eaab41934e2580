//! Steady state allocates nothing: `handle_rtp` for every venue plus `handle_timeout` and the
//! drain of outputs and events, counted by a global allocator (this test binary only).
mod common;

use std::time::Duration;

use common::*;
use dais_audio::*;

#[global_allocator]
static GLOBAL: dais_testkit::CountingAlloc = dais_testkit::CountingAlloc;

use dais_testkit::allocations;

#[test]
fn no_allocation_per_packet_or_frame() {
    let mut m = Mixer::new(MixerConfig::default()).unwrap();
    let mut tones: Vec<Tone> = (0..32)
        .map(|i| {
            Tone::new(
                i,
                if i % 2 == 0 { Codec::Pcmu } else { Codec::Pcma },
                300.0 + 50.0 * i as f64,
                3000.0,
            )
        })
        .collect();
    for t in &tones {
        m.add_source(t.id, t.codec, t.pt, 8000).unwrap();
        let ptime = Duration::from_millis(if t.id.0 % 3 == 0 { 40 } else { 20 });
        m.add_receiver(t.id, t.codec, t.pt, ptime).unwrap();
    }
    m.set_main(Some(VenueId(5)));
    // Packets are built before counting; the mixer's work is what is measured.
    let packets: Vec<Vec<Vec<u8>>> = (0..400)
        .map(|_| tones.iter_mut().map(|t| t.packet()).collect())
        .collect();
    let t0 = std::time::Instant::now();
    let mut run = |from: usize, to: usize| {
        let before = allocations();
        let mut outs = 0u64;
        for (k, frame) in packets.iter().enumerate().take(to).skip(from) {
            let now = t0 + FRAME * k as u32;
            for (t, p) in tones.iter().zip(frame) {
                let _ = m.handle_rtp(now, t.id, p);
            }
            m.handle_timeout(now + Duration::from_millis(5));
            while let Some((_, p)) = m.poll_output() {
                outs += std::hint::black_box(p.payload.len()) as u64;
            }
            while m.poll_event().is_some() {}
        }
        (allocations() - before, outs)
    };
    // Warm-up: queues reach their steady capacity.
    run(0, 100);
    let (allocs, outs) = run(100, 400);
    assert!(outs > 0);
    assert_eq!(
        allocs, 0,
        "allocations in 300 steady-state frames of 32 venues"
    );
}

/// The same with Opus venues (feature `opus`), losing every 7th Opus packet so the decoder's
/// concealment runs too. Counts Rust allocations; libopus allocates its state once at creation
/// (`opus_*_create`) and nothing per call.
#[cfg(feature = "opus")]
#[test]
fn no_allocation_per_opus_packet_or_frame() {
    use dais_audio::opus::{Application, Channels, Encoder};

    let mut m = Mixer::new(MixerConfig::default()).unwrap();
    let n = 16u32;
    for i in 0..n {
        let (codec, pt) = if i % 2 == 0 {
            (Codec::Opus, 111)
        } else {
            (Codec::Pcmu, 0)
        };
        m.add_source(VenueId(i), codec, pt, codec.clock_rate())
            .unwrap();
        m.add_receiver(VenueId(i), codec, pt, FRAME).unwrap();
    }
    m.add_receiver(VenueId(100), Codec::Opus, 111, FRAME)
        .unwrap();
    m.set_blocked(VenueId(100), true).unwrap();
    m.set_main(Some(VenueId(2)));
    let mut g711: Vec<Tone> = (0..n)
        .filter(|i| i % 2 == 1)
        .map(|i| Tone::new(i, Codec::Pcmu, 300.0 + 50.0 * i as f64, 3000.0))
        .collect();
    let mut encoders: Vec<(u32, Encoder)> = (0..n)
        .filter(|i| i % 2 == 0)
        .map(|i| {
            let e = Encoder::new(48000, Channels::Mono, Application::Voip).unwrap();
            (i, e)
        })
        .collect();
    let packets: Vec<Vec<(VenueId, Vec<u8>)>> = (0..400u32)
        .map(|k| {
            let mut frame: Vec<(VenueId, Vec<u8>)> =
                g711.iter_mut().map(|t| (t.id, t.packet())).collect();
            for (i, e) in &mut encoders {
                let f = 300.0 + 50.0 * *i as f64;
                let pcm: Vec<i16> = (0..960u32)
                    .map(|s| {
                        let t = (k * 960 + s) as f64 / 48000.0;
                        (3000.0 * (2.0 * std::f64::consts::PI * f * t).sin()) as i16
                    })
                    .collect();
                let payload = e.encode_vec(&pcm, 1500).unwrap();
                if k % 7 != 3 {
                    let p = rtp(111, k == 0, k as u16, k * 960, 0x9000 + *i, &payload);
                    frame.push((VenueId(*i), p));
                }
            }
            frame
        })
        .collect();
    let t0 = std::time::Instant::now();
    let mut run = |from: usize, to: usize| {
        let before = allocations();
        let mut outs = 0u64;
        for (k, frame) in packets.iter().enumerate().take(to).skip(from) {
            let now = t0 + FRAME * k as u32;
            for (id, p) in frame {
                let _ = m.handle_rtp(now, *id, p);
            }
            m.handle_timeout(now + Duration::from_millis(5));
            while let Some((_, p)) = m.poll_output() {
                outs += std::hint::black_box(p.payload.len()) as u64;
            }
            while m.poll_event().is_some() {}
        }
        (allocations() - before, outs)
    };
    // Warm-up: queues reach their capacity, every signal's encoder exists.
    run(0, 100);
    let (allocs, outs) = run(100, 400);
    assert!(outs > 0);
    let concealed = m.source_stats(VenueId(0)).unwrap().decoder_concealed;
    assert!(concealed > Duration::from_millis(500), "{concealed:?}");
    assert_eq!(
        allocs, 0,
        "allocations in 300 steady-state frames of 8 Opus + 8 G.711 venues"
    );
}

/// Opus venues parking, waking and being probed (`MixerConfig::skip_unheard_opus`) allocate
/// nothing either: 3 talkers and 4 silent venues with RFC 6464 levels, 4 silent venues without
/// (probed every 8 frames), and one loud venue with levels that talks 40 frames in every 100
/// (it wakes into the mix, and a talker it displaced parks, every cycle).
#[cfg(feature = "opus")]
#[test]
fn no_allocation_while_opus_venues_park_wake_and_are_probed() {
    use dais_audio::opus::{Application, Channels, Encoder};

    let mut m = Mixer::new(MixerConfig::default()).unwrap();
    m.add_receiver(VenueId(100), Codec::Pcmu, 0, FRAME).unwrap();
    let mut encoders = Vec::new();
    for i in 0..12u32 {
        m.add_source(VenueId(i), Codec::Opus, 111, 48000).unwrap();
        if !(7..11).contains(&i) {
            m.set_level_extension(VenueId(i), Some(1)).unwrap();
        }
        encoders.push(Encoder::new(48000, Channels::Mono, Application::Voip).unwrap());
    }
    let packets: Vec<Vec<(VenueId, Vec<u8>)>> = (0..500u32)
        .map(|k| {
            (0..12u32)
                .map(|i| {
                    let talking = i < 3 || (i == 11 && k % 100 < 40);
                    let f = 300.0 + 100.0 * i as f64;
                    let pcm: Vec<i16> = (0..960u32)
                        .map(|s| {
                            let t = (k * 960 + s) as f64 / 48000.0;
                            let a = match (talking, i) {
                                (false, _) => 0.0,
                                (true, 11) => 12000.0,
                                (true, _) => 3000.0,
                            };
                            (a * (2.0 * std::f64::consts::PI * f * t).sin()) as i16
                        })
                        .collect();
                    let payload = encoders[i as usize].encode_vec(&pcm, 1500).unwrap();
                    let mut p = rtp(111, k == 0, k as u16, k * 960, 0x9000 + i, &[]);
                    if !(7..11).contains(&i) {
                        p[0] |= 0x10;
                        // Venue 11 is louder than the talkers: it takes a slot.
                        let level = match (talking, i) {
                            (false, _) => 127,
                            (true, 11) => 0x80 | 12,
                            (true, _) => 0x80 | 24,
                        };
                        p.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, level, 0, 0]);
                    }
                    p.extend_from_slice(&payload);
                    (VenueId(i), p)
                })
                .collect()
        })
        .collect();
    let t0 = std::time::Instant::now();
    let mut run = |from: usize, to: usize| {
        let before = allocations();
        for (k, frame) in packets.iter().enumerate().take(to).skip(from) {
            let now = t0 + FRAME * k as u32;
            for (id, p) in frame {
                m.handle_rtp(now, *id, p).unwrap();
            }
            m.handle_timeout(now + Duration::from_millis(5));
            while m.poll_output().is_some() {}
            while m.poll_event().is_some() {}
        }
        (allocations() - before, m.stats())
    };
    let (_, warm) = run(0, 200);
    let (allocs, st) = run(200, 500);
    assert!(st.opus_wakes >= warm.opus_wakes + 3, "{warm:?} → {st:?}");
    assert!(st.opus_probes > warm.opus_probes, "{warm:?} → {st:?}");
    assert!(
        st.opus_parked > warm.opus_parked + 8 * 300,
        "{warm:?} → {st:?}"
    );
    assert_eq!(
        allocs, 0,
        "allocations in 300 frames of Opus venues parking, waking and probed"
    );
}
