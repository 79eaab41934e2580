//! Mute removes a venue's voice from every mix; block silences what a venue hears.
mod common;

use std::time::Duration;

use common::*;
use dais_audio::*;

const FREQS: [f64; 3] = [400.0, 700.0, 1100.0];

fn sim() -> Sim {
    let tones = (0..3)
        .map(|i| Tone::new(i + 1, Codec::Pcmu, FREQS[i as usize], 6000.0))
        .collect();
    let mut sim = Sim::new(MixerConfig::default(), tones);
    sim.add_receiver(9, Codec::Pcma, 8, FRAME);
    sim
}

#[test]
fn muted_venue_is_heard_nowhere() {
    let mut sim = sim();
    sim.mixer.set_muted(VenueId(2), true).unwrap();
    sim.run(Duration::from_secs(2));
    assert_tones(
        sim.heard_tail(1, Duration::from_secs(1)),
        &[1100.0],
        &[400.0, 700.0],
        "venue 1",
    );
    assert_tones(
        sim.heard_tail(3, Duration::from_secs(1)),
        &[400.0],
        &[700.0, 1100.0],
        "venue 3",
    );
    assert_tones(
        sim.heard_tail(9, Duration::from_secs(1)),
        &[400.0, 1100.0],
        &[700.0],
        "listener",
    );
    // The muted venue still hears the others.
    assert_tones(
        sim.heard_tail(2, Duration::from_secs(1)),
        &[400.0, 1100.0],
        &[700.0],
        "venue 2",
    );
    // Its level is still reported, marked as not mixed.
    assert!(sim.events.iter().any(|(_, e)| matches!(e,
        MixerEvent::LevelReport { venue: VenueId(2), mixed: false, level, .. } if *level < 30)));
    // Unmuting brings it back.
    sim.mixer.set_muted(VenueId(2), false).unwrap();
    sim.run(Duration::from_secs(1));
    assert_tones(
        sim.heard_tail(9, Duration::from_millis(500)),
        &FREQS,
        &[],
        "listener after unmute",
    );
}

#[test]
fn blocked_venue_hears_silence_and_keeps_its_stream() {
    let mut sim = sim();
    sim.mixer.set_blocked(VenueId(1), true).unwrap();
    sim.run(Duration::from_secs(2));
    let r = &sim.received[&VenueId(1)];
    let tail = sim.heard_tail(1, Duration::from_secs(1));
    assert!(
        tail.iter().all(|s| *s == 0),
        "blocked venue hears digital silence"
    );
    assert!(
        r.packets.len() >= 95,
        "packets keep flowing: {}",
        r.packets.len()
    );
    // Blocked is about hearing: venue 1 is still heard by the others.
    assert_tones(
        sim.heard_tail(2, Duration::from_secs(1)),
        &[400.0, 1100.0],
        &[700.0],
        "venue 2",
    );
    sim.mixer.set_blocked(VenueId(1), false).unwrap();
    sim.run(Duration::from_secs(1));
    assert_tones(
        sim.heard_tail(1, Duration::from_millis(500)),
        &[700.0, 1100.0],
        &[400.0],
        "unblocked",
    );
}
