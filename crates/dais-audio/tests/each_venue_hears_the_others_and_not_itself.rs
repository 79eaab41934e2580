//! Mix-minus: every venue hears every other mixed venue's tone and never its own; a listen-only
//! receiver hears all of them; one encode serves every receiver of the same mix and codec.
mod common;

use std::time::Duration;

use common::*;
use dais_audio::*;

const FREQS: [f64; 4] = [400.0, 700.0, 1100.0, 1500.0];

#[test]
fn each_venue_hears_the_others_and_not_itself() {
    let tones = (0..4)
        .map(|i| Tone::new(i + 1, Codec::Pcmu, FREQS[i as usize], 6000.0))
        .collect();
    let cfg = MixerConfig {
        max_mixed: 4,
        ..MixerConfig::default()
    };
    let mut sim = Sim::new(cfg, tones);
    sim.mixer
        .add_receiver(VenueId(99), Codec::Pcmu, 0, FRAME)
        .unwrap();
    sim.run(Duration::from_secs(3));
    assert_eq!(sim.mixer.mixed().count(), 4);
    for i in 0..4u32 {
        let own = FREQS[i as usize];
        let others: Vec<f64> = FREQS.iter().copied().filter(|f| *f != own).collect();
        assert_tones(
            sim.heard_tail(i + 1, Duration::from_secs(1)),
            &others,
            &[own],
            &format!("venue {}", i + 1),
        );
    }
    assert_tones(
        sim.heard_tail(99, Duration::from_secs(1)),
        &FREQS,
        &[],
        "listener",
    );
    // Per frame: the full mix (listener) and four mix-minuses: 5 encodes, not 5 per receiver
    // plus duplicates. Check over the whole run.
    let st = sim.mixer.stats();
    assert!(st.encodes <= st.ticks * 5, "{st:?}");
    assert_eq!(st.packets_discarded, 0);
}

#[test]
fn listeners_outside_the_mix_share_one_encode() {
    // Two talkers and 20 listen-only receivers: per frame 1 full mix + 2 mix-minus encodes.
    let tones = vec![
        Tone::new(1, Codec::Pcmu, 400.0, 6000.0),
        Tone::new(2, Codec::Pcmu, 900.0, 6000.0),
    ];
    let mut sim = Sim::new(MixerConfig::default(), tones);
    for i in 0..20 {
        sim.mixer
            .add_receiver(VenueId(100 + i), Codec::Pcmu, 0, FRAME)
            .unwrap();
    }
    sim.run(Duration::from_secs(2));
    let before = sim.mixer.stats();
    sim.run(Duration::from_secs(1));
    let after = sim.mixer.stats();
    let ticks = after.ticks - before.ticks;
    assert_eq!(after.encodes - before.encodes, ticks * 3);
    assert_eq!(after.packets_out - before.packets_out, ticks * 22);
    for i in 0..20 {
        assert_tones(
            sim.heard_tail(100 + i, Duration::from_secs(1)),
            &[400.0, 900.0],
            &[],
            "listener",
        );
    }
}

#[test]
fn a_law_receiver_with_40ms_packets_hears_the_same_mix() {
    let tones = vec![
        Tone::new(1, Codec::Pcmu, 400.0, 6000.0),
        Tone::new(2, Codec::Pcma, 900.0, 6000.0),
    ];
    let mut sim = Sim::new(MixerConfig::default(), tones);
    sim.add_receiver(3, Codec::Pcma, 8, Duration::from_millis(40));
    sim.run(Duration::from_secs(2));
    let r = &sim.received[&VenueId(3)];
    assert!(
        r.packets.iter().all(|p| p.3 == 320),
        "40 ms of A-law per packet"
    );
    for w in r.packets.windows(2) {
        assert_eq!(w[1].0, w[0].0.wrapping_add(1));
        assert_eq!(w[1].1, w[0].1.wrapping_add(320));
    }
    assert!(
        r.packets[0].2 && r.packets[1..].iter().all(|p| !p.2),
        "marker on the first packet only"
    );
    assert_tones(
        sim.heard_tail(3, Duration::from_secs(1)),
        &[400.0, 900.0],
        &[],
        "venue 3 (A-law, 40 ms)",
    );
    assert_tones(
        sim.heard_tail(1, Duration::from_secs(1)),
        &[900.0],
        &[400.0],
        "venue 1 (μ-law)",
    );
    assert_tones(
        sim.heard_tail(2, Duration::from_secs(1)),
        &[400.0],
        &[900.0],
        "venue 2 (A-law)",
    );
}
