//! A venue that negotiated the RFC 6464 audio-level header extension reports its own level in
//! every packet; once the meeting knows the extension's id (`set_audio_extras`, what the SIP
//! service does after the SDP answer), the level meters follow what the venue reports, not
//! what the mixer would compute from the samples. Here the samples are silence and the
//! extension says "speech at -20 dBov", so the two readings cannot be confused.

mod audio_common;

use std::time::Duration;

use audio_common::*;
use dais_conference::ConferenceConfig;
use dais_net::meeting::{AudioExtras, MeetingEvent};
use tokio::net::UdpSocket;

const EXT_ID: u8 = 3;
const SAID_LEVEL: u8 = 20;

/// A PCMU packet of silence (μ-law 0xFF) carrying a one-byte-header audio-level element.
fn packet(seq: u16, ts: u32, ssrc: u32) -> Vec<u8> {
    let mut p = vec![0x90, 0];
    p.extend_from_slice(&seq.to_be_bytes());
    p.extend_from_slice(&ts.to_be_bytes());
    p.extend_from_slice(&ssrc.to_be_bytes());
    // RFC 8285 one-byte form: 0xBEDE, one 32-bit word: id 3, length 1, V=1 and the level.
    p.extend_from_slice(&[0xBE, 0xDE, 0, 1, EXT_ID << 4, 0x80 | SAID_LEVEL, 0, 0]);
    p.extend_from_slice(&[0xFF; 160]);
    p
}

async fn level_of(events: &mut tokio::sync::broadcast::Receiver<MeetingEvent>) -> u8 {
    loop {
        match tokio::time::timeout(Duration::from_secs(15), events.recv()).await {
            Ok(Ok(MeetingEvent::AudioLevels { levels })) => {
                if let Some(l) = levels.iter().find(|l| l.venue == id("jinan")) {
                    return l.level;
                }
            }
            Ok(Ok(_)) | Ok(Err(tokio::sync::broadcast::error::RecvError::Lagged(_))) => {}
            other => panic!("no level report: {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_level_meter_follows_the_venues_own_report() {
    let meeting = start_meeting("8104", &["province", "jinan"], ConferenceConfig::default()).await;
    let mut events = meeting.subscribe();
    let _province = ToneVenue::join(&meeting, "province", 1, 500.0, AMPLITUDE).await;
    let socket = UdpSocket::bind((LOOPBACK, 0)).await.unwrap();
    let cfg = pcmu_leg(socket.local_addr().unwrap(), true);
    meeting.leg_up(&id("jinan"), cfg).await.unwrap();
    let target = meeting.media().rtp_addr();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        for i in 0..1500u32 {
            tick.tick().await;
            let p = packet(1000 + i as u16, 160 * i, 0x5151_0001);
            let _ = socket.send_to(&p, target).await;
        }
    });

    // Unknown extension: the mixer measures the samples, which are silence.
    let mut quiet = 0;
    for _ in 0..6 {
        quiet = quiet.max(level_of(&mut events).await);
    }
    assert!(quiet > 100, "silence measured as {quiet}");

    meeting
        .set_audio_extras(
            &id("jinan"),
            AudioExtras {
                telephone_event: None,
                level_extension: Some(EXT_ID),
                ptime: None,
            },
        )
        .await
        .unwrap();
    // The meter is smoothed: it reaches the reported level within a few reports.
    let mut reached = false;
    for _ in 0..20 {
        let l = level_of(&mut events).await;
        if l <= SAID_LEVEL + 3 {
            reached = true;
            break;
        }
    }
    assert!(reached, "the meter never followed the venue's own level");
    meeting.shutdown().await;
}
