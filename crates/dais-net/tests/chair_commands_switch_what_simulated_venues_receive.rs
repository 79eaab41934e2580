//! A meeting of four simulated venues on real loopback sockets, driven by chair commands
//! through the meeting controller: broadcast changes what every receiver gets (and the
//! broadcaster sees the main venue), view changes only the main venue's picture, mute keeps the
//! venue's picture but not its sound, and ending the meeting hangs up every leg.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use dais_conference::{
    Actor, ChairCommand, CommandError, ConferenceConfig, MeetingPlan, MeetingState, Role, Venue,
    VenueId, VenueKind,
};
use dais_media::EngineConfig;
use dais_net::demo::SimDialer;
use dais_net::media_task;
use dais_net::meeting::{self, ControlError, MeetingEvent, MeetingHandle};
use dais_net::sim::VideoShape;
use tokio::sync::mpsc;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn id(s: &str) -> VenueId {
    s.parse().unwrap()
}

/// Polls `cond` every 20 ms for up to 10 s (generous: the machine is shared and noisy).
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    for _ in 0..500 {
        if cond() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}

async fn all_connected(m: &MeetingHandle, n: usize) -> bool {
    let v = m.view().await.unwrap();
    v.conference
        .legs
        .iter()
        .filter(|l| l.status.is_connected())
        .count()
        == n
}

struct World {
    meeting: MeetingHandle,
    dialer: Arc<SimDialer>,
    chair: Actor,
    venues: Vec<VenueId>,
}

impl World {
    async fn start() -> World {
        let venues = vec![id("province"), id("jinan"), id("qingdao"), id("licheng")];
        let plan = MeetingPlan {
            number: "8001".into(),
            subject: "Provincial work meeting".into(),
            main_venue: id("province"),
            venues: vec![
                Venue {
                    id: id("province"),
                    name: "Province".into(),
                    kind: VenueKind::Main,
                    parent: None,
                },
                Venue {
                    id: id("jinan"),
                    name: "Jinan".into(),
                    kind: VenueKind::City,
                    parent: Some(id("province")),
                },
                Venue {
                    id: id("qingdao"),
                    name: "Qingdao".into(),
                    kind: VenueKind::City,
                    parent: Some(id("province")),
                },
                Venue {
                    id: id("licheng"),
                    name: "Licheng county".into(),
                    kind: VenueKind::Branch,
                    parent: Some(id("jinan")),
                },
            ],
            chair: "li".into(),
            duration: None,
            roll_call_order: vec![],
        };
        let (rtp, rtcp) = media_task::bind_pair(LOOPBACK, 0).unwrap();
        let (ev_tx, ev_rx) = mpsc::channel(1024);
        let media = media_task::spawn(rtp, rtcp, EngineConfig::default(), ev_tx).unwrap();
        let dialer = SimDialer::new(LOOPBACK, &venues, VideoShape::default());
        let meeting = meeting::start(
            plan,
            ConferenceConfig::default(),
            media,
            ev_rx,
            dialer.clone(),
        )
        .await
        .unwrap();
        dialer.attach(meeting.clone());
        let chair = Actor::new("li", Role::ChairOperator);
        meeting
            .command(chair.clone(), ChairCommand::GoLive)
            .await
            .unwrap();
        for v in &venues {
            meeting
                .command(chair.clone(), ChairCommand::Dial { venue: v.clone() })
                .await
                .unwrap();
        }
        World {
            meeting,
            dialer,
            chair,
            venues,
        }
    }

    /// Polls until every venue's leg is connected (10 s at most), and says so.
    async fn wait_all_connected(&self) {
        for _ in 0..500 {
            if all_connected(&self.meeting, self.venues.len()).await {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        panic!("not every venue joined");
    }

    fn watching(&self, venue: &str) -> u32 {
        self.dialer
            .stats(&id(venue))
            .map(|s| s.watching.load(Ordering::Relaxed))
            .unwrap_or(0)
    }

    fn no(&self, venue: &str) -> u32 {
        self.dialer.number_of(&id(venue)).unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn broadcast_view_and_end_meeting_reach_every_venue() {
    let w = World::start().await;
    let mut events = w.meeting.subscribe();
    w.wait_all_connected().await;
    assert!(
        all_connected(&w.meeting, w.venues.len()).await,
        "all four venues joined"
    );

    // Broadcast Jinan: everyone sees Jinan except Jinan, which sees the main venue.
    w.meeting
        .command(
            w.chair.clone(),
            ChairCommand::Broadcast { venue: id("jinan") },
        )
        .await
        .unwrap();
    let jinan = w.no("jinan");
    let province = w.no("province");
    eventually("everyone but Jinan watches Jinan", || {
        ["province", "qingdao", "licheng"]
            .iter()
            .all(|v| w.watching(v) == jinan)
    })
    .await;
    eventually("Jinan watches the main venue", || {
        w.watching("jinan") == province
    })
    .await;

    // The chair views Qingdao privately: only the main venue's picture changes.
    w.meeting
        .command(
            w.chair.clone(),
            ChairCommand::View {
                venue: id("qingdao"),
            },
        )
        .await
        .unwrap();
    let qingdao = w.no("qingdao");
    eventually("the main venue watches Qingdao", || {
        w.watching("province") == qingdao
    })
    .await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        w.watching("licheng"),
        jinan,
        "the county still watches the broadcast"
    );
    assert_eq!(
        w.watching("qingdao"),
        jinan,
        "Qingdao still watches the broadcast"
    );

    let view = w.meeting.view().await.unwrap();
    assert_eq!(view.conference.feeds.broadcast, Some(id("jinan")));
    assert_eq!(view.conference.feeds.chair_view, Some(id("qingdao")));
    assert!(
        view.media.iter().all(|m| m.packets_in > 0),
        "every venue's media reached the router: {:?}",
        view.media
    );

    // Switch events carry the latency of each cut-over; none was forced by the timeout.
    let mut completed = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if let MeetingEvent::SwitchCompleted { venue, forced, .. } = ev {
            completed.push((venue, forced));
        }
    }
    assert!(
        completed.contains(&(id("jinan"), false)),
        "a keyframe-gated switch to Jinan completed: {completed:?}"
    );
    assert!(completed.iter().all(|(_, forced)| !forced), "{completed:?}");

    // Ending the meeting hangs every leg up.
    w.meeting
        .command(w.chair.clone(), ChairCommand::EndMeeting)
        .await
        .unwrap();
    eventually("every simulated venue hung up", || w.dialer.active() == 0).await;
    let view = w.meeting.view().await.unwrap();
    assert_eq!(view.conference.state, MeetingState::Ended);
    let err = w
        .meeting
        .command(
            w.chair.clone(),
            ChairCommand::Broadcast {
                venue: id("qingdao"),
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ControlError::Refused(CommandError::WrongState {
                state: MeetingState::Ended,
                ..
            })
        ),
        "{err:?}"
    );
    w.meeting.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_auditor_cannot_switch_and_nothing_changes() {
    let w = World::start().await;
    w.wait_all_connected().await;
    let auditor = Actor::new("zhao", Role::Auditor);
    let err = w
        .meeting
        .command(
            auditor,
            ChairCommand::Broadcast {
                venue: id("qingdao"),
            },
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ControlError::Refused(CommandError::NotPermitted { .. })
        ),
        "{err:?}"
    );
    let view = w.meeting.view().await.unwrap();
    assert_ne!(view.conference.feeds.broadcast, Some(id("qingdao")));
    w.meeting.shutdown().await;
    eventually("shutdown hangs every venue up", || w.dialer.active() == 0).await;
}

/// The old broadcaster goes back to the broadcast picture, which still shows it until the new
/// broadcaster's keyframe arrives: it must wait for the cut-over rather than see itself
/// (found by the load generator's `self_views` count), and across all these moves each
/// venue's video stays one stream (one SSRC, no sequence gap).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_venue_ever_receives_its_own_picture_across_broadcast_changes() {
    let w = World::start().await;
    w.wait_all_connected().await;
    let order = [
        "jinan", "qingdao", "jinan", "licheng", "province", "qingdao", "jinan",
    ];
    for (i, v) in order.iter().cycle().take(21).enumerate() {
        w.meeting
            .command(w.chair.clone(), ChairCommand::Broadcast { venue: id(v) })
            .await
            .unwrap();
        // Some changes land before the previous one completed, most after.
        let pause = if i % 3 == 0 { 20 } else { 150 };
        tokio::time::sleep(Duration::from_millis(pause)).await;
    }
    let last = w.no(order[20 % order.len()]);
    eventually("the last broadcast reached the county", || {
        w.watching("licheng") == last || order[20 % order.len()] == "licheng"
    })
    .await;
    for v in &w.venues {
        let stats = w.dialer.stats(v).unwrap();
        assert!(
            stats.received.load(Ordering::Relaxed) > 0,
            "{v} received media"
        );
        assert_eq!(
            stats.self_views.load(Ordering::Relaxed),
            0,
            "{v} was shown its own picture"
        );
        // Becoming and ceasing to be the broadcaster moved it between feeds: its decoder
        // still saw one stream, with no sequence gap (D25).
        assert_eq!(
            stats.video_ssrc_changes.load(Ordering::Relaxed),
            0,
            "{v} saw its video SSRC change"
        );
        assert_eq!(
            stats.video_seq_breaks.load(Ordering::Relaxed),
            0,
            "{v} saw a sequence gap"
        );
    }
    w.meeting.shutdown().await;
}

/// Every few seconds the meeting publishes each venue's uplink quality (bitrate, loss, jitter,
/// frozen picture) and, from its receiver reports, its round-trip time and downlink loss: what
/// the console's quality column shows.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn media_stats_events_report_every_venues_uplink() {
    let w = World::start().await;
    let mut events = w.meeting.subscribe();
    let mut reported = None;
    // Bounded: at most 20 events of any kind per second for 10 s.
    for _ in 0..200 {
        match tokio::time::timeout(Duration::from_secs(10), events.recv()).await {
            Ok(Ok(MeetingEvent::MediaStats { venues }))
                if venues.len() == w.venues.len()
                    && venues.iter().all(|v| v.video_kbps > 0)
                    && venues
                        .iter()
                        .all(|v| v.rtt_ms.is_some() || v.venue == id("province")) =>
            {
                reported = Some(venues);
                break;
            }
            Ok(Ok(_)) => {}
            _ => break,
        }
    }
    let venues = reported.expect("a media_stats event with all four venues sending and reporting");
    for v in &venues {
        // Synthetic venues send ~2.4 Mbit/s of video and 64 kbit/s of G.711 on loopback.
        assert!(v.video_kbps > 500, "{v:?}");
        assert!(v.audio_kbps > 30, "{v:?}");
        assert_eq!(v.lost, 0, "{v:?}");
        assert!(!v.frozen, "{v:?}");
        // Round trip from their receiver reports on the picture they watch (the main venue,
        // shown to everyone, watches a picture nobody is on yet: no sender report, no RTT).
        if v.venue != id("province") {
            assert!(v.rtt_ms.is_some_and(|ms| ms >= 0.0), "{v:?}");
            assert_eq!(v.downlink_loss_percent, 0.0, "{v:?}");
        }
    }
    let json = serde_json::to_value(MeetingEvent::MediaStats { venues }).unwrap();
    assert_eq!(json["type"], "media_stats");
    assert!(json["venues"][0]["jitter_ms"].is_number());
    w.meeting.shutdown().await;
}
