//! Arbitrary packets (valid headers with wild timestamps, sequence numbers, payload types,
//! SSRCs and lengths, and raw garbage), interleaved with ticks and control calls, never panic,
//! and every tick still gives each receiver exactly one well-formed packet.
use std::time::{Duration, Instant};

use dais_audio::*;
use proptest::prelude::*;

#[derive(Clone, Debug)]
enum Op {
    Rtp {
        venue: u32,
        pt: u8,
        seq: u16,
        ts: u32,
        ssrc: u32,
        len: usize,
        ext: bool,
    },
    Garbage {
        venue: u32,
        bytes: Vec<u8>,
    },
    Advance(u16),
    Mute(u32, bool),
    Block(u32, bool),
    Main(Option<u32>),
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u32..4, prop_oneof![Just(0u8), Just(8), Just(101), Just(13), Just(111), any::<u8>()], any::<u16>(),
              prop_oneof![0u32..4000, any::<u32>()], 0u32..3, 0usize..1200, any::<bool>())
            .prop_map(|(venue, pt, seq, ts, ssrc, len, ext)| Op::Rtp { venue, pt, seq, ts, ssrc, len, ext }),
        1 => (0u32..4, proptest::collection::vec(any::<u8>(), 0..40)).prop_map(|(venue, bytes)| Op::Garbage { venue, bytes }),
        3 => (0u16..200).prop_map(Op::Advance),
        1 => (0u32..4, any::<bool>()).prop_map(|(v, b)| Op::Mute(v, b)),
        1 => (0u32..4, any::<bool>()).prop_map(|(v, b)| Op::Block(v, b)),
        1 => proptest::option::of(0u32..4).prop_map(Op::Main),
    ]
}

fn packet(pt: u8, seq: u16, ts: u32, ssrc: u32, len: usize, ext: bool) -> Vec<u8> {
    let mut v = vec![if ext { 0x90 } else { 0x80 }, pt & 0x7f];
    v.extend_from_slice(&seq.to_be_bytes());
    v.extend_from_slice(&ts.to_be_bytes());
    v.extend_from_slice(&ssrc.to_be_bytes());
    if ext {
        v.extend_from_slice(&[0xbe, 0xde, 0, 1, 0x10, (seq & 0xff) as u8, 0, 0]);
    }
    v.extend((0..len).map(|i| (i as u8).wrapping_mul(37) ^ (seq as u8)));
    v
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 128, ..ProptestConfig::default() })]
    #[test]
    fn arbitrary_packet_sequences_never_panic(ops in proptest::collection::vec(op(), 1..300)) {
        let t0 = Instant::now();
        let mut m = Mixer::new(MixerConfig { max_mixed: 2, ..MixerConfig::default() }).unwrap();
        for v in 0..3u32 {
            let codec = if v == 1 { Codec::Pcma } else { Codec::Pcmu };
            m.add_source(VenueId(v), codec, if v == 1 { 8 } else { 0 }, 8000).unwrap();
            m.set_telephone_event(VenueId(v), Some(101)).unwrap();
            m.set_level_extension(VenueId(v), Some(1)).unwrap();
            m.add_receiver(VenueId(v), codec, 0, Duration::from_millis(20 * (v as u64 + 1))).unwrap();
        }
        // With the `opus` feature venue 3 speaks Opus: arbitrary bytes reach libopus.
        #[cfg(feature = "opus")]
        {
            m.add_source(VenueId(3), Codec::Opus, 111, 48000).unwrap();
            m.set_telephone_event(VenueId(3), Some(101)).unwrap();
            m.set_level_extension(VenueId(3), Some(1)).unwrap();
            m.add_receiver(VenueId(3), Codec::Opus, 111, Duration::from_millis(20)).unwrap();
        }
        let mut now = t0;
        for op in ops {
            match op {
                Op::Rtp { venue, pt, seq, ts, ssrc, len, ext } => {
                    let _ = m.handle_rtp(now, VenueId(venue), &packet(pt, seq, ts, ssrc, len, ext));
                }
                Op::Garbage { venue, bytes } => { let _ = m.handle_rtp(now, VenueId(venue), &bytes); }
                Op::Advance(ms) => {
                    now += Duration::from_millis(ms as u64);
                    m.handle_timeout(now);
                    while let Some((id, p)) = m.poll_output() {
                        if id == VenueId(3) {
                            prop_assert!((1..=1275).contains(&p.payload.len()));
                            let mut buf = [0u8; 1500];
                            prop_assert_eq!(p.write_rtp(&mut buf), Some(12 + p.payload.len()));
                            continue;
                        }
                        let per_frame = 160 * (id.0 as usize + 1);
                        prop_assert_eq!(p.payload.len(), per_frame);
                        let mut buf = [0u8; 1500];
                        prop_assert_eq!(p.write_rtp(&mut buf), Some(12 + per_frame));
                    }
                    while m.poll_event().is_some() {}
                }
                Op::Mute(v, b) => { let _ = m.set_muted(VenueId(v), b); }
                Op::Block(v, b) => { let _ = m.set_blocked(VenueId(v), b); }
                Op::Main(v) => m.set_main(v.map(VenueId)),
            }
            prop_assert!(m.mixed().count() <= 3);
        }
    }
}
