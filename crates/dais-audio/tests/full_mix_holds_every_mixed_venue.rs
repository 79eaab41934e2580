//! The full mix a recording takes ([`Mixer::full_mix`]): every mixed venue's voice, nobody's
//! taken out, one frame per tick with sample indices that follow the mixer's clock.
mod common;

use std::time::Duration;

use common::*;
use dais_audio::*;

#[test]
fn full_mix_holds_every_mixed_venue() {
    let freqs = [400.0, 900.0, 1300.0];
    let tones = (0..3)
        .map(|i| Tone::new(i + 1, Codec::Pcmu, freqs[i as usize], 6000.0))
        .collect();
    let mut sim = Sim::new(MixerConfig::default(), tones);
    assert!(
        sim.mixer.full_mix().is_none(),
        "nothing before the first frame"
    );
    let mut recorded: Vec<i16> = Vec::new();
    let mut indices = Vec::new();
    for _ in 0..150 {
        sim.run(FRAME);
        let (index, pcm) = sim.mixer.full_mix().unwrap();
        if indices.last() != Some(&index) {
            indices.push(index);
            recorded.extend_from_slice(pcm);
        }
    }
    assert!(indices.len() >= 149, "{} frames", indices.len());
    assert!(
        indices.windows(2).all(|w| w[1] == w[0] + 160),
        "one 20 ms frame after another: {indices:?}"
    );
    let tail = &recorded[recorded.len() - 8000..];
    assert_tones(tail, &freqs, &[], "full mix");
    // Every venue hears a mix-minus; the recording hears what a listener outside the mix would.
    assert_tones(
        sim.heard_tail(1, Duration::from_secs(1)),
        &[900.0, 1300.0],
        &[400.0],
        "venue 1",
    );
}
