//! Voice-activated switching over real loopback sockets: one venue talks much louder than the
//! others; the mixer elects it dominant speaker (after its own hold and hysteresis), the
//! controller reports it and hands it to the policy, and with voice activation on the policy
//! broadcasts it once it has stayed dominant for the voice hold time.

mod audio_common;

use std::time::Instant;

use audio_common::*;
use dais_conference::{ChairCommand, ConferenceConfig, ConferenceEvent, FeedRole};
use dais_net::meeting::MeetingEvent;
use tokio::sync::broadcast::error::TryRecvError;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_loudest_venue_is_broadcast_after_the_hold() {
    let names = ["province", "jinan", "qingdao", "licheng"];
    let conf = ConferenceConfig::default();
    let voice_hold = conf.voice_hold;
    let meeting = start_meeting("8101", &names, conf).await;
    let mut events = meeting.subscribe();
    let freqs = [500.0, 700.0, 1100.0, 1300.0];
    // Qingdao speaks 18 dB louder than everyone else.
    let amplitudes = [0.05, 0.05, 0.4, 0.05];
    let mut venues = Vec::new();
    for (i, name) in names.iter().enumerate() {
        venues.push(ToneVenue::join(&meeting, name, i as u32 + 1, freqs[i], amplitudes[i]).await);
    }

    // The mixer elects Qingdao; the controller says so.
    let mut dominant = Vec::new();
    eventually("a dominant speaker is reported", || {
        loop {
            match events.try_recv() {
                Ok(MeetingEvent::DominantSpeaker { venue }) => dominant.push(venue),
                Ok(_) => {}
                Err(TryRecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
        let done = !dominant.is_empty();
        async move { done }
    })
    .await;
    assert_eq!(
        dominant,
        vec![id("qingdao")],
        "only the loud venue is elected"
    );
    let view = meeting.view().await.unwrap();
    assert_eq!(
        view.conference.feeds.broadcast,
        Some(id("province")),
        "without voice activation the dominant speaker is not shown"
    );

    // Voice activation on: Qingdao, dominant already, is broadcast after the hold.
    let asked = Instant::now();
    meeting
        .command(chair(), ChairCommand::SetVoiceActivation { on: true })
        .await
        .unwrap();
    let mut shown_at = None;
    eventually("voice activation broadcasts Qingdao", || {
        loop {
            match events.try_recv() {
                Ok(MeetingEvent::Conference {
                    event:
                        ConferenceEvent::Shown {
                            feed: FeedRole::Broadcast,
                            venue,
                        },
                }) => {
                    assert_eq!(venue, Some(id("qingdao")), "only Qingdao is voice-switched");
                    shown_at.get_or_insert_with(Instant::now);
                }
                Ok(MeetingEvent::DominantSpeaker { venue }) => {
                    assert_eq!(venue, id("qingdao"), "the dominant speaker does not flap");
                }
                Ok(_) | Err(TryRecvError::Lagged(_)) => {}
                Err(_) => break,
            }
        }
        let done = shown_at.is_some();
        async move { done }
    })
    .await;
    // Timers never fire early: the switch came no sooner than the hold after the command.
    let waited = shown_at.unwrap().duration_since(asked);
    assert!(
        waited >= voice_hold,
        "switched after {waited:?}, hold {voice_hold:?}"
    );
    let view = meeting.view().await.unwrap();
    assert_eq!(view.conference.feeds.broadcast, Some(id("qingdao")));
    assert!(view.conference.voice.on);

    // Every venue's audio went to the mixer.
    let engine = meeting.media().stats().await.unwrap().engine;
    assert!(engine.to_mixer > 0, "{engine:?}");
    for v in &venues {
        v.stop();
    }
    meeting.shutdown().await;
}
