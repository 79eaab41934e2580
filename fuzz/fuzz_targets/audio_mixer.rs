#![no_main]
//! Audio mixer: the input bytes decode into operations (RTP packets with chosen header fields
//! and payloads, raw datagrams, time passing, mute/block/main changes, sources and receivers
//! removed and re-added) against one `Mixer` with three venues. It must never panic, and every
//! output must carry exactly its receiver's packet time of audio.
use std::time::{Duration, Instant};

use dais_audio::{Codec, Mixer, MixerConfig, VenueId};

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
        Some(u32::from_be_bytes([self.u8()?, self.u8()?, self.u8()?, self.u8()?]))
    }
    fn bytes(&mut self, n: usize) -> &[u8] {
        let n = n.min(self.0.len());
        let (a, b) = self.0.split_at(n);
        self.0 = b;
        a
    }
}

fn codec(v: u32) -> (Codec, u8) {
    if v % 2 == 0 { (Codec::Pcmu, 0) } else { (Codec::Pcma, 8) }
}

fn ptime(v: u32) -> Duration {
    Duration::from_millis(20 * (v as u64 % 3 + 1))
}

fn add(m: &mut Mixer, v: u32) {
    let (c, pt) = codec(v);
    let _ = m.add_source(VenueId(v), c, pt, 8000);
    let _ = m.set_telephone_event(VenueId(v), Some(101));
    let _ = m.set_level_extension(VenueId(v), Some(1));
    let _ = m.add_receiver(VenueId(v), c, pt, ptime(v));
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let cfg = MixerConfig { max_mixed: 1, ..MixerConfig::default() };
    let mut m = Mixer::new(cfg).expect("valid config");
    for v in 0..3 {
        add(&mut m, v);
    }
    let t0 = Instant::now();
    let mut now = t0;
    let mut input = Input(data);
    while let Some(op) = input.u8() {
        let venue = (op >> 4) as u32 % 4;
        match op & 0x0f {
            0..=5 => {
                // An RTP packet: flags byte, pt, seq, ts, ssrc selector, payload length.
                let (Some(flags), Some(pt), Some(seq), Some(ts), Some(ssrc), Some(len)) =
                    (input.u8(), input.u8(), input.u16(), input.u32(), input.u8(), input.u8())
                else {
                    break;
                };
                let mut p = vec![0x80 | (flags & 0x3f), pt];
                p.extend_from_slice(&seq.to_be_bytes());
                p.extend_from_slice(&ts.to_be_bytes());
                p.extend_from_slice(&(ssrc as u32 % 3).to_be_bytes());
                p.extend_from_slice(input.bytes(len as usize));
                if flags & 0x40 != 0 {
                    p.resize(p.len() + 160, 0xd5);
                }
                let _ = m.handle_rtp(now, VenueId(venue), &p);
            }
            6 => {
                let Some(len) = input.u8() else { break };
                let raw = input.bytes(len as usize).to_vec();
                let _ = m.handle_rtp(now, VenueId(venue), &raw);
            }
            7..=10 => {
                let Some(ms) = input.u8() else { break };
                now += Duration::from_millis(ms as u64 * 4);
                m.handle_timeout(now);
                while let Some((id, p)) = m.poll_output() {
                    assert_eq!(p.payload.len(), 8 * ptime(id.0).as_millis() as usize);
                }
                while m.poll_event().is_some() {}
            }
            11 => {
                let _ = m.set_muted(VenueId(venue), op & 0x80 != 0);
            }
            12 => {
                let _ = m.set_blocked(VenueId(venue), op & 0x80 != 0);
            }
            13 => m.set_main(if venue == 3 { None } else { Some(VenueId(venue)) }),
            14 => {
                let _ = m.remove_source(VenueId(venue));
                let _ = m.remove_receiver(VenueId(venue));
            }
            _ => add(&mut m, venue),
        }
        assert!(m.mixed().count() <= 2);
    }
});
