//! With seeded uplink loss and jitter, every receiver still gets one packet per frame with
//! continuous numbering, and the lossy venue's tone is missing only where concealment ran out.
mod common;

use std::time::Duration;

use common::*;
use dais_audio::*;

#[test]
fn output_stays_continuous_under_seeded_loss_and_jitter() {
    let tones = vec![
        Tone::new(1, Codec::Pcmu, 600.0, 6000.0),
        Tone::new(2, Codec::Pcma, 1300.0, 6000.0),
    ];
    let mut sim = Sim::new(MixerConfig::default(), tones);
    sim.loss = 0.05;
    sim.jitter = Duration::from_millis(60);
    sim.rng = Rng(7);
    sim.run(Duration::from_secs(10));

    for id in [1u32, 2] {
        let r = &sim.received[&VenueId(id)];
        assert!(
            r.packets.len() >= 499,
            "one packet per frame: {}",
            r.packets.len()
        );
        for w in r.packets.windows(2) {
            assert_eq!(w[1].0, w[0].0.wrapping_add(1), "sequence continuous");
            assert_eq!(w[1].1, w[0].1.wrapping_add(160), "timestamp continuous");
        }
    }
    // Venue 2 hears venue 1's tone in (nearly) every 20 ms frame after the start: loss is
    // concealed, jitter absorbed. Count frames where the tone is missing.
    let x = &sim.received[&VenueId(2)].pcm;
    let frames: Vec<f64> = x
        .chunks(160)
        .skip(25)
        .map(|c| tone_amplitude(c, 600.0))
        .collect();
    let missing = frames.iter().filter(|a| **a < 1000.0).count();
    let st = sim.mixer.source_stats(VenueId(1)).unwrap();
    // Only frames where concealment faded (or ran out) may lack the tone.
    assert!(
        missing as u64 <= st.concealed + st.silent,
        "missing {missing}, stats {st:?}"
    );
    assert!(
        missing * 100 <= frames.len() * 8,
        "missing {missing} of {}",
        frames.len()
    );
    // The buffer adapted to the jitter without dropping much as late.
    let late = st.drops.get(DropReason::Late);
    assert!(late * 100 <= st.accepted * 3, "late {late}, {st:?}");
    assert!(st.target_delay >= Duration::from_millis(40), "{st:?}");
}

#[test]
fn a_venue_that_stops_is_concealed_briefly_then_silent() {
    let tones = vec![
        Tone::new(1, Codec::Pcmu, 600.0, 6000.0),
        Tone::new(2, Codec::Pcmu, 1300.0, 6000.0),
    ];
    let mut sim = Sim::new(MixerConfig::default(), tones);
    sim.run(Duration::from_secs(2));
    sim.tone_mut(1).sending = false;
    sim.clear_received();
    sim.run(Duration::from_secs(1));
    let x = &sim.received[&VenueId(2)].pcm;
    let amps: Vec<f64> = x.chunks(160).map(|c| tone_amplitude(c, 600.0)).collect();
    let audible = amps.iter().take_while(|a| **a > 100.0).count();
    // The buffered frames play out, then at most 60 ms (3 frames) of fading repetition.
    assert!(audible <= 10, "{amps:?}");
    assert!(
        amps[audible..].iter().all(|a| *a < 60.0),
        "then silence: {amps:?}"
    );
}
