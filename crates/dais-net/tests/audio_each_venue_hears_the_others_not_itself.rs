//! The audio MCU over real loopback sockets, through the meeting controller: four venues each
//! send a G.711 tone of their own frequency; each hears the others' tones and not its own
//! (mix-minus, checked with a Goertzel filter on the decoded audio); a muted venue's tone is
//! heard nowhere; a venue whose audio is blocked hears silence; level meters and the mixer's
//! counters reach the operators.

mod audio_common;

use audio_common::*;
use dais_conference::{ChairCommand, ConferenceConfig};
use dais_net::meeting::MeetingEvent;

/// One second of audio at 8 kHz: every test tone has a whole number of cycles in it.
const WINDOW: usize = 8000;
/// A tone counts as heard above this amplitude, and as absent below `ABSENT`.
const PRESENT: f32 = 0.3 * SENT_PEAK;
const ABSENT: f32 = 0.05 * SENT_PEAK;

fn amplitudes(x: &[i16], venues: &[ToneVenue]) -> Vec<f32> {
    venues.iter().map(|v| tone_amplitude(x, v.freq)).collect()
}

/// Audio heard after `mark` that may still predate a change: half a second's worth of samples
/// (counted in audio, not wall-clock time, so a stalled machine cannot make it too short).
const SETTLE: usize = 4000;

/// One window of what `v` heard, starting `SETTLE` samples after `mark`.
fn window(v: &ToneVenue, mark: usize) -> Vec<i16> {
    let h = v.heard_since(mark);
    h[SETTLE..SETTLE + WINDOW].to_vec()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn each_venue_hears_the_others_muted_is_absent_blocked_hears_silence() {
    let names = ["province", "jinan", "qingdao", "licheng"];
    let meeting = start_meeting("8100", &names, ConferenceConfig::default()).await;
    let mut events = meeting.subscribe();
    let freqs = [500.0, 700.0, 1100.0, 1300.0];
    let mut venues = Vec::new();
    for (i, (name, f)) in names.iter().zip(freqs).enumerate() {
        venues.push(ToneVenue::join(&meeting, name, i as u32 + 1, f, AMPLITUDE).await);
    }

    // Mix-minus: everyone hears the other three, not itself (the first half second, skipped,
    // is the jitter buffers filling).
    let marks: Vec<usize> = venues.iter().map(ToneVenue::mark).collect();
    hear_for(&venues, &marks, SETTLE + WINDOW).await;
    for (i, v) in venues.iter().enumerate() {
        let a = amplitudes(&window(v, marks[i]), &venues);
        for (j, amp) in a.iter().enumerate() {
            if i == j {
                assert!(*amp < ABSENT, "{} hears itself: {a:?}", v.venue);
            } else {
                assert!(
                    *amp > PRESENT,
                    "{} does not hear {}: {a:?}",
                    v.venue,
                    venues[j].venue
                );
            }
        }
    }

    // Mute Qingdao: nobody hears it any more; the others are still heard.
    meeting
        .command(
            chair(),
            ChairCommand::Mute {
                venue: id("qingdao"),
            },
        )
        .await
        .unwrap();
    // The command returns once the mixer has applied it; what was already in the sockets is
    // skipped with the first half second.
    let marks: Vec<usize> = venues.iter().map(ToneVenue::mark).collect();
    hear_for(&venues, &marks, SETTLE + WINDOW).await;
    for (i, v) in venues.iter().enumerate() {
        let a = amplitudes(&window(v, marks[i]), &venues);
        assert!(
            a[2] < ABSENT,
            "{} still hears muted Qingdao: {a:?}",
            v.venue
        );
        for (j, amp) in a.iter().enumerate() {
            if j != i && j != 2 {
                assert!(
                    *amp > PRESENT,
                    "{} lost {}: {a:?}",
                    v.venue,
                    venues[j].venue
                );
            }
        }
    }

    // Block Licheng's audio: it hears silence (packets keep coming, so its stream stays up);
    // it is still heard by the others.
    meeting
        .command(
            chair(),
            ChairCommand::BlockAudio {
                venue: id("licheng"),
            },
        )
        .await
        .unwrap();
    let marks: Vec<usize> = venues.iter().map(ToneVenue::mark).collect();
    hear_for(&venues, &marks, SETTLE + WINDOW).await;
    let blocked = window(&venues[3], marks[3]);
    let peak = blocked.iter().map(|s| s.unsigned_abs()).max().unwrap_or(0);
    assert_eq!(peak, 0, "a blocked venue hears digital silence");
    let a = amplitudes(&window(&venues[0], marks[0]), &venues);
    assert!(a[3] > PRESENT, "the main venue still hears Licheng: {a:?}");

    // Unmute and unblock: back to the full mix-minus.
    for cmd in [
        ChairCommand::Unmute {
            venue: id("qingdao"),
        },
        ChairCommand::UnblockAudio {
            venue: id("licheng"),
        },
    ] {
        meeting.command(chair(), cmd).await.unwrap();
    }
    let marks: Vec<usize> = venues.iter().map(ToneVenue::mark).collect();
    hear_for(&venues, &marks, SETTLE + WINDOW).await;
    let a = amplitudes(&window(&venues[3], marks[3]), &venues);
    assert!(
        a[0] > PRESENT && a[1] > PRESENT && a[2] > PRESENT && a[3] < ABSENT,
        "Licheng hears the others again, not itself: {a:?}"
    );

    // The console's meters: level reports name every venue, no more than one per 500 ms.
    let mut reports = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if let MeetingEvent::AudioLevels { levels } = ev {
            reports.push(levels);
        }
    }
    assert!(reports.len() >= 3, "{} level reports", reports.len());
    let last = reports.last().unwrap();
    for name in names {
        let l = last.iter().find(|l| l.venue == id(name)).unwrap();
        assert!(l.level < 40, "{name} is loud: {l:?}");
    }
    // The JSON the WebSocket clients get.
    let json = serde_json::to_value(MeetingEvent::AudioLevels {
        levels: last.clone(),
    })
    .unwrap();
    assert_eq!(json["type"], "audio_levels");
    assert!(json["levels"][0]["level"].is_u64());

    let stats = meeting.media().mixer_stats().await.unwrap();
    assert!(stats.ticks > 100, "{stats:?}");
    assert_eq!(stats.packets_discarded, 0, "{stats:?}");
    let engine = meeting.media().stats().await.unwrap().engine;
    assert!(engine.to_mixer > 400, "{engine:?}");
    assert_eq!(
        engine.forwarded, 0,
        "no audio went through a feed: {engine:?}"
    );

    for v in &venues {
        v.stop();
    }
    meeting.shutdown().await;
}
