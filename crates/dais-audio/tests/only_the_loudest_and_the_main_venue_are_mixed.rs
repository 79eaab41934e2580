//! The mix holds the N loudest unmuted venues plus the main venue, however quiet it is.
mod common;

use std::time::Duration;

use common::*;
use dais_audio::*;

#[test]
fn only_the_loudest_and_the_main_venue_are_mixed() {
    let spec = [
        (1, 400.0, 1500.0),
        (2, 700.0, 9000.0),
        (3, 1100.0, 3000.0),
        (4, 1500.0, 6000.0),
        (5, 1900.0, 500.0),
    ];
    let tones = spec
        .iter()
        .map(|(id, f, a)| Tone::new(*id, Codec::Pcmu, *f, *a))
        .collect();
    let cfg = MixerConfig {
        max_mixed: 2,
        ..MixerConfig::default()
    };
    let mut sim = Sim::new(cfg, tones);
    sim.mixer.set_main(Some(VenueId(5)));
    sim.run(Duration::from_secs(2));
    let mut mixed: Vec<u32> = sim.mixer.mixed().map(|v| v.0).collect();
    mixed.sort();
    assert_eq!(mixed, vec![2, 4, 5], "the two loudest plus the main venue");
    // Venue 3 (not mixed) hears 2, 4 and the quiet main venue, but not 1 or itself.
    let x = sim.heard_tail(3, Duration::from_secs(1));
    assert_tones(x, &[700.0, 1500.0], &[400.0, 1100.0], "venue 3");
    assert!(tone_amplitude(x, 1900.0) > 200.0, "main venue heard");
    // Venue 2 hears 4 and 5, not itself.
    let x = sim.heard_tail(2, Duration::from_secs(1));
    assert_tones(x, &[1500.0], &[700.0, 400.0, 1100.0], "venue 2");
    // Muting the main venue frees nothing for others: it just leaves the mix.
    sim.mixer.set_muted(VenueId(5), true).unwrap();
    sim.run(Duration::from_secs(1));
    let mut mixed: Vec<u32> = sim.mixer.mixed().map(|v| v.0).collect();
    mixed.sort();
    assert_eq!(mixed, vec![2, 4]);
    // A venue that falls silent leaves the mix; the next loudest takes its place.
    sim.tone_mut(2).sending = false;
    sim.run(Duration::from_secs(2));
    let mut mixed: Vec<u32> = sim.mixer.mixed().map(|v| v.0).collect();
    mixed.sort();
    assert_eq!(mixed, vec![3, 4]);
}
