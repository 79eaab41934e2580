//! A leg whose audio is mixed: its audio and telephone-event packets come back as
//! `Routed::Audio { leg }` (after the address, header and SSRC checks, and counted), never reach
//! an audio feed, while its video is still switched; turning the route back to feeds restores
//! the old behaviour. Allocation-free in steady state.
mod common;

use std::time::{Duration, Instant};

use common::*;
use dais_media::*;

#[global_allocator]
static GLOBAL: dais_testkit::CountingAlloc = dais_testkit::CountingAlloc;

use dais_testkit::allocations;

const TELEPHONE_EVENT: u8 = 101;

/// What the engine said, without the borrow.
#[derive(Debug, PartialEq, Eq)]
enum Verdict {
    Forward(usize),
    Consumed,
    Audio(LegId),
    Dropped(DropReason),
}

fn verdict(r: Routed<'_>) -> Verdict {
    match r {
        Routed::Forward(f) => Verdict::Forward(f.len()),
        Routed::Consumed => Verdict::Consumed,
        Routed::Audio { leg } => Verdict::Audio(leg),
        Routed::Dropped(d) => Verdict::Dropped(d),
    }
}

fn audio(seq: u16, ssrc: u32) -> Vec<u8> {
    rtp_packet(
        AUDIO_PT,
        false,
        seq,
        160 * u32::from(seq),
        ssrc,
        &[0xd5; 160],
    )
}

#[test]
fn mixed_leg_audio_goes_to_the_mixer_and_nowhere_else() {
    let t0 = Instant::now();
    let mut e = Engine::new(test_config());
    let (a, b, r) = (LegId(1), LegId(2), LegId(3));
    let (addr_a, addr_b) = (addr(1, 5000), addr(2, 5000));
    e.add_leg(t0, a, video_leg(addr_a, VIDEO_PT, true, true))
        .unwrap();
    e.add_leg(t0, b, video_leg(addr_b, VIDEO_PT, true, true))
        .unwrap();
    e.add_leg(t0, r, video_leg(addr(3, 5000), VIDEO_PT, false, true))
        .unwrap();
    assert_eq!(e.audio_route(a), Some(AudioRoute::Feeds));
    e.set_audio_route(
        a,
        AudioRoute::Mixed {
            telephone_event: Some(TELEPHONE_EVENT),
        },
    )
    .unwrap();
    assert_eq!(
        e.audio_route(a),
        Some(AudioRoute::Mixed {
            telephone_event: Some(TELEPHONE_EVENT)
        })
    );
    assert_eq!(e.leg_config(a).map(|c| c.rtp_addr), Some(addr_a));

    // An audio feed shows A: while A is mixed it gets nothing from A.
    let feed = e.create_feed(MediaKind::Audio);
    e.subscribe(t0, r, feed).unwrap();
    e.switch(t0, feed, Some(a)).unwrap();
    let video_feed = e.create_feed(MediaKind::Video);
    e.switch(t0, video_feed, Some(a)).unwrap();

    let mut now = t0;
    let mut seq = 100u16;
    for _ in 0..10 {
        now += Duration::from_millis(20);
        seq += 1;
        assert_eq!(
            verdict(e.handle_datagram(now, addr_a, &audio(seq, 0xa1))),
            Verdict::Audio(a)
        );
    }
    // A telephone-event (RFC 4733: event 5, end bit, volume 10, duration 800).
    seq += 1;
    let dtmf = rtp_packet(
        TELEPHONE_EVENT,
        true,
        seq,
        160 * u32::from(seq),
        0xa1,
        &[5, 0x8a, 0x03, 0x20],
    );
    assert_eq!(
        verdict(e.handle_datagram(now, addr_a, &dtmf)),
        Verdict::Audio(a)
    );
    // Video of the mixed leg is still switched: the keyframe cuts the video feed over.
    let kf = rtp_packet(
        VIDEO_PT,
        true,
        7,
        3000,
        0xa2,
        &video_payload(
            Tag {
                venue: 1,
                frame: 0,
                index: 0,
                keyframe_start: true,
            },
            true,
        ),
    );
    assert_eq!(
        verdict(e.handle_datagram(now, addr_a, &kf)),
        Verdict::Forward(1)
    );

    // The checks still apply before the mixer sees anything.
    assert_eq!(
        verdict(e.handle_datagram(now, addr(9, 9), &audio(seq + 1, 0xa1))),
        Verdict::Dropped(DropReason::UnknownAddress)
    );
    assert_eq!(
        verdict(e.handle_datagram(now, addr_a, &[0x80, 0, 1])),
        Verdict::Dropped(DropReason::MalformedRtp)
    );
    assert_eq!(
        verdict(e.handle_datagram(
            now,
            addr_a,
            &rtp_packet(13, false, seq + 1, 0, 0xa1, &[0; 10])
        )),
        Verdict::Dropped(DropReason::UnknownPayloadType)
    );
    // One stray packet with another SSRC is held in probation, not handed to the mixer.
    assert_eq!(
        verdict(e.handle_datagram(now, addr_a, &audio(seq + 1, 0xbad))),
        Verdict::Dropped(DropReason::SsrcProbation)
    );
    assert_eq!(
        verdict(e.handle_datagram(now, addr_a, &audio(seq + 2, 0xa1))),
        Verdict::Audio(a)
    );
    // B is not mixed: its telephone-event payload type means nothing for it.
    assert_eq!(
        verdict(e.handle_datagram(
            now,
            addr_b,
            &rtp_packet(TELEPHONE_EVENT, true, 1, 0, 0xb1, &[5, 0x8a, 0x03, 0x20])
        )),
        Verdict::Dropped(DropReason::UnknownPayloadType)
    );

    let stats = *e.stats();
    assert_eq!(stats.to_mixer, 12);
    assert_eq!(stats.forwarded, 1, "only the video keyframe was forwarded");
    let leg = *e.leg_stats(a).unwrap();
    assert_eq!(leg.rtp_received, 15);
    assert_eq!(leg.dropped.get(DropReason::SsrcProbation), 1);
    assert_eq!(leg.dropped.get(DropReason::UnknownPayloadType), 1);
    assert_eq!(e.source_ssrc(a, MediaKind::Audio), Some(Ssrc(0xa1)));

    // Back to feeds: A's audio reaches the audio feed again.
    e.set_audio_route(a, AudioRoute::Feeds).unwrap();
    now += Duration::from_millis(20);
    assert_eq!(
        verdict(e.handle_datagram(now, addr_a, &audio(seq + 3, 0xa1))),
        Verdict::Forward(1)
    );
    assert_eq!(
        verdict(e.handle_datagram(now, addr_a, &dtmf)),
        Verdict::Dropped(DropReason::UnknownPayloadType)
    );
}

#[test]
fn mixed_route_needs_a_known_leg_with_audio() {
    let t0 = Instant::now();
    let mut e = Engine::new(test_config());
    let mixed = AudioRoute::Mixed {
        telephone_event: None,
    };
    assert_eq!(
        e.set_audio_route(LegId(9), mixed),
        Err(MediaError::UnknownLeg(LegId(9)))
    );
    let mut cfg = video_leg(addr(1, 5000), VIDEO_PT, true, true);
    cfg.audio = None;
    e.add_leg(t0, LegId(1), cfg).unwrap();
    assert_eq!(
        e.set_audio_route(LegId(1), mixed),
        Err(MediaError::KindNotNegotiated {
            leg: LegId(1),
            kind: MediaKind::Audio
        })
    );
    assert_eq!(e.audio_route(LegId(9)), None);
}

#[test]
fn mixed_audio_allocates_nothing_per_packet() {
    let t0 = Instant::now();
    let mut e = Engine::new(test_config());
    let src = addr(1, 5000);
    e.add_leg(t0, LegId(1), video_leg(src, VIDEO_PT, true, true))
        .unwrap();
    e.set_audio_route(
        LegId(1),
        AudioRoute::Mixed {
            telephone_event: Some(TELEPHONE_EVENT),
        },
    )
    .unwrap();
    let mut now = t0;
    let mut buf = Vec::with_capacity(1500);
    let mut count = |n: u16, seq0: u16, now: &mut Instant, counting: bool| {
        let mut allocs = 0;
        for i in 0..n {
            *now += Duration::from_millis(20);
            buf.clear();
            buf.extend_from_slice(&audio(seq0.wrapping_add(i), 0xa1));
            let before = allocations();
            let v = matches!(
                e.handle_datagram(*now, src, &buf),
                Routed::Audio { leg: LegId(1) }
            );
            if counting {
                allocs += allocations() - before;
            }
            assert!(v);
            // Timers (receiver reports) run as the shell would run them.
            if e.poll_timeout().is_some_and(|t| t <= *now) {
                e.handle_timeout(*now);
            }
            while e.poll_transmit().is_some() {}
            while e.poll_event().is_some() {}
        }
        allocs
    };
    let _ = count(200, 0, &mut now, false);
    let allocs = count(3000, 200, &mut now, true);
    assert_eq!(
        allocs, 0,
        "{allocs} allocations for 3000 mixed audio packets"
    );
}
