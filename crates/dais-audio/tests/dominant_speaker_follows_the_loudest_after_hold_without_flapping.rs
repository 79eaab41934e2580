//! The dominant speaker follows the loudest venue once the hold time has passed, and two
//! equally loud venues do not take the floor from each other.
mod common;

use std::time::Duration;

use common::*;
use dais_audio::*;

fn dominant_events(sim: &Sim) -> Vec<(Duration, u32)> {
    sim.events
        .iter()
        .filter_map(|(t, e)| match e {
            MixerEvent::DominantSpeaker { venue } => Some((*t, venue.0)),
            _ => None,
        })
        .collect()
}

#[test]
fn dominant_speaker_follows_the_loudest_after_the_hold_time() {
    let mut tones = vec![
        Tone::new(1, Codec::Pcmu, 500.0, 8000.0),
        Tone::new(2, Codec::Pcmu, 900.0, 8000.0),
    ];
    tones[1].sending = false;
    let mut sim = Sim::new(MixerConfig::default(), tones);
    sim.run(Duration::from_secs(3));
    assert_eq!(
        dominant_events(&sim)
            .iter()
            .map(|e| e.1)
            .collect::<Vec<_>>(),
        vec![1]
    );
    // Venue 2 starts, 12 dB louder; venue 1 keeps talking.
    sim.tone_mut(1).amp = 2000.0;
    let t2 = sim.now - sim.t0;
    sim.tone_mut(2).sending = true;
    sim.run(Duration::from_secs(3));
    let ev = dominant_events(&sim);
    assert_eq!(ev.iter().map(|e| e.1).collect::<Vec<_>>(), vec![1, 2]);
    let took = ev[1].0 - t2;
    assert!(
        took >= Duration::from_secs(1),
        "not before the hold time: {took:?}"
    );
    assert!(
        took <= Duration::from_millis(1600),
        "soon after it: {took:?}"
    );
    assert_eq!(sim.mixer.dominant_speaker(), Some(VenueId(2)));
}

#[test]
fn two_equal_venues_do_not_flap() {
    let tones = vec![
        Tone::new(1, Codec::Pcmu, 500.0, 6000.0),
        Tone::new(2, Codec::Pcmu, 900.0, 6000.0),
    ];
    let mut sim = Sim::new(MixerConfig::default(), tones);
    sim.jitter = Duration::from_millis(15);
    sim.run(Duration::from_secs(20));
    let ev = dominant_events(&sim);
    assert_eq!(ev.len(), 1, "one election, then no flapping: {ev:?}");
}

#[test]
fn a_silent_speaker_hands_over_to_the_next() {
    let tones = vec![
        Tone::new(1, Codec::Pcmu, 500.0, 8000.0),
        Tone::new(2, Codec::Pcmu, 900.0, 3000.0),
    ];
    let mut sim = Sim::new(MixerConfig::default(), tones);
    sim.run(Duration::from_secs(3));
    assert_eq!(sim.mixer.dominant_speaker(), Some(VenueId(1)));
    sim.tone_mut(1).sending = false;
    sim.run(Duration::from_secs(3));
    assert_eq!(
        dominant_events(&sim)
            .iter()
            .map(|e| e.1)
            .collect::<Vec<_>>(),
        vec![1, 2]
    );
}
