//! RFC 4733 telephone-events come out as one DTMF event per key press and never reach a mix.
mod common;

use std::time::Duration;

use common::*;
use dais_audio::*;

#[test]
fn dtmf_is_reported_once_per_press_and_never_mixed() {
    let tones = vec![
        Tone::new(1, Codec::Pcmu, 600.0, 6000.0),
        Tone::new(2, Codec::Pcmu, 1300.0, 0.0),
    ];
    let mut sim = Sim::new(MixerConfig::default(), tones);
    sim.mixer
        .set_telephone_event(VenueId(2), Some(101))
        .unwrap();
    sim.run(Duration::from_secs(1));
    // Venue 2 presses '#' (11): five progress packets, three end packets, one timestamp.
    for k in 0..8u16 {
        let end = k >= 5;
        let dur = 160 * (k.min(5) + 1);
        let payload = [
            11,
            if end { 0x8a } else { 0x0a },
            (dur >> 8) as u8,
            dur as u8,
        ];
        let p = rtp(101, k == 0, 500 + k, 123_456, 0x2002, &payload);
        assert_eq!(sim.mixer.handle_rtp(sim.now, VenueId(2), &p), Ok(()));
    }
    sim.run(Duration::from_millis(100));
    let dtmf: Vec<_> = sim
        .events
        .iter()
        .filter(|(_, e)| matches!(e, MixerEvent::Dtmf { .. }))
        .collect();
    assert_eq!(dtmf.len(), 1, "{dtmf:?}");
    assert_eq!(
        dtmf[0].1,
        MixerEvent::Dtmf {
            venue: VenueId(2),
            event: 11,
            duration: Duration::from_millis(120)
        }
    );
    // Short or unknown payloads are dropped with a reason.
    let short = rtp(101, false, 600, 9, 0x2002, &[1, 2]);
    assert_eq!(
        sim.mixer.handle_rtp(sim.now, VenueId(2), &short),
        Err(DropReason::MalformedPayload)
    );
    let cn = rtp(13, false, 601, 9, 0x2002, &[40]);
    assert_eq!(
        sim.mixer.handle_rtp(sim.now, VenueId(2), &cn),
        Err(DropReason::NotMixed)
    );
    let other = rtp(96, false, 602, 9, 0x2002, &[0; 160]);
    assert_eq!(
        sim.mixer.handle_rtp(sim.now, VenueId(2), &other),
        Err(DropReason::UnknownPayloadType)
    );
    assert_eq!(
        sim.mixer.handle_rtp(sim.now, VenueId(77), &other),
        Err(DropReason::UnknownSource)
    );
    assert_eq!(
        sim.mixer.handle_rtp(sim.now, VenueId(2), &[0x80, 0]),
        Err(DropReason::MalformedRtp)
    );
    let st = sim.mixer.source_stats(VenueId(2)).unwrap();
    assert_eq!(st.drops.total(), 4);
}
