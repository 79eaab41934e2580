//! Without the `opus` feature an Opus venue is refused with an error that names the fix.
#![cfg(not(feature = "opus"))]

use std::time::Duration;

use dais_audio::*;

#[test]
fn opus_is_refused_without_the_feature() {
    let mut mixer = Mixer::new(MixerConfig::default()).unwrap();
    assert!(!Codec::Opus.is_available());
    let e = mixer
        .add_source(VenueId(1), Codec::Opus, 111, 48000)
        .unwrap_err();
    assert_eq!(e, MixerError::CodecNotBuilt(Codec::Opus));
    assert!(e.to_string().contains("`opus` feature"), "{e}");
    assert_eq!(
        mixer.add_receiver(VenueId(1), Codec::Opus, 111, Duration::from_millis(20)),
        Err(MixerError::CodecNotBuilt(Codec::Opus))
    );
    // Nothing half-added: the venue can still join with G.711.
    mixer.add_source(VenueId(1), Codec::Pcmu, 0, 8000).unwrap();
    mixer
        .add_receiver(VenueId(1), Codec::Pcmu, 0, Duration::from_millis(20))
        .unwrap();
}
