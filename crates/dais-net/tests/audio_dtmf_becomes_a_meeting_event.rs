//! A key pressed at a venue (RFC 4733 telephone-event on the payload type its SDP named)
//! reaches the operators as one `MeetingEvent::Dtmf`, however many redundant end packets the
//! venue sends; without the payload type set, the same packets are dropped, not mixed.

mod audio_common;

use audio_common::*;
use dais_conference::ConferenceConfig;
use dais_net::meeting::{AudioExtras, MeetingEvent};
use tokio::sync::broadcast::error::TryRecvError;

const TELEPHONE_EVENT: u8 = 101;

/// One key press as an RFC 4733 §2.5 sender sends it: start (marker), an update, and the end
/// packet three times, all with the press's timestamp.
fn key_press(ssrc: u32, seq: u16, ts: u32, event: u8) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for (i, (end, duration)) in [
        (false, 160u16),
        (false, 320),
        (true, 480),
        (true, 480),
        (true, 480),
    ]
    .into_iter()
    .enumerate()
    {
        let mut p = vec![0x80, TELEPHONE_EVENT | if i == 0 { 0x80 } else { 0 }];
        p.extend_from_slice(&seq.wrapping_add(i as u16).to_be_bytes());
        p.extend_from_slice(&ts.to_be_bytes());
        p.extend_from_slice(&ssrc.to_be_bytes());
        p.extend_from_slice(&[event, if end { 0x8a } else { 0x0a }]);
        p.extend_from_slice(&duration.to_be_bytes());
        out.push(p);
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_key_press_becomes_one_dtmf_event() {
    let names = ["province", "jinan"];
    let meeting = start_meeting("8102", &names, ConferenceConfig::default()).await;
    let mut events = meeting.subscribe();
    let province = ToneVenue::join(&meeting, "province", 1, 500.0, AMPLITUDE).await;
    let jinan = ToneVenue::join(&meeting, "jinan", 2, 700.0, AMPLITUDE).await;

    // Before SDP's telephone-event is known, a key press is an unknown payload type.
    for p in key_press(jinan.ssrc, 40_000, 1_000, 3) {
        jinan.send_raw(p);
    }
    eventually("the engine drops the early press", || {
        let meeting = meeting.clone();
        async move {
            let view = meeting.view().await.unwrap();
            view.media
                .iter()
                .any(|m| m.venue == id("jinan") && m.dropped >= 5)
        }
    })
    .await;
    meeting
        .set_audio_extras(
            &id("jinan"),
            AudioExtras {
                telephone_event: Some(TELEPHONE_EVENT),
                level_extension: None,
                ptime: None,
            },
        )
        .await
        .unwrap();
    // `#` (event 11), then `7`.
    for (k, event) in [11u8, 7].into_iter().enumerate() {
        for p in key_press(
            jinan.ssrc,
            50_000 + 10 * k as u16,
            80_000 + 8_000 * k as u32,
            event,
        ) {
            jinan.send_raw(p);
        }
    }

    let mut digits = Vec::new();
    eventually("two key presses are reported", || {
        loop {
            match events.try_recv() {
                Ok(MeetingEvent::Dtmf {
                    venue,
                    digit,
                    duration_ms,
                }) => digits.push((venue, digit, duration_ms)),
                Ok(_) | Err(TryRecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
        let n = digits.len();
        async move { n >= 2 }
    })
    .await;
    assert_eq!(
        digits,
        vec![(id("jinan"), '#', 60), (id("jinan"), '7', 60)],
        "one event per press (480 samples = 60 ms), none for the press before the payload type was known"
    );
    province.stop();
    jinan.stop();
    meeting.shutdown().await;
}
