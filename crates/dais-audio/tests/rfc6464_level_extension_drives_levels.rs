//! When a venue sends RFC 6464 levels, they (not the decoded samples) drive its level, voice
//! activity and the dominant speaker.
mod common;

use std::time::{Duration, Instant};

use common::*;
use dais_audio::*;

fn with_level(seq: u16, ts: u32, level: u8, voice: bool) -> Vec<u8> {
    let mut p = vec![0x90, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&0x5150u32.to_be_bytes());
    // RFC 8285 one-byte header, id 3, length 1: V bit + level.
    p.extend_from_slice(&[
        0xbe,
        0xde,
        0,
        1,
        0x30,
        level | if voice { 0x80 } else { 0 },
        0,
        0,
    ]);
    p.extend_from_slice(&[0xffu8; 160]); // μ-law silence
    p
}

#[test]
fn rfc6464_level_extension_drives_levels() {
    let mut m = Mixer::new(MixerConfig::default()).unwrap();
    m.add_source(VenueId(1), Codec::Pcmu, 0, 8000).unwrap();
    m.set_level_extension(VenueId(1), Some(3)).unwrap();
    m.add_source(VenueId(2), Codec::Pcmu, 0, 8000).unwrap();
    let t0 = Instant::now();
    let mut events = Vec::new();
    for k in 0..150u32 {
        let now = t0 + FRAME * k;
        m.handle_rtp(now, VenueId(1), &with_level(k as u16, 160 * k, 12, true))
            .unwrap();
        m.handle_rtp(now, VenueId(2), &with_level(k as u16, 160 * k, 12, true))
            .unwrap();
        m.handle_timeout(now + Duration::from_millis(5));
        while m.poll_output().is_some() {}
        while let Some(e) = m.poll_event() {
            events.push(e);
        }
    }
    // Venue 1's level comes from the extension (12 dBov, talking); venue 2's extension is not
    // configured, so its silent samples count.
    let last = |v: u32| {
        events.iter().rev().find_map(|e| match e {
            MixerEvent::LevelReport {
                venue,
                level,
                voice,
                ..
            } if venue.0 == v => Some((*level, *voice)),
            _ => None,
        })
    };
    assert_eq!(last(1), Some((12, true)));
    assert_eq!(last(2), Some((127, false)));
    assert_eq!(m.dominant_speaker(), Some(VenueId(1)));
    assert_eq!(m.mixed().collect::<Vec<_>>(), vec![VenueId(1)]);
}
