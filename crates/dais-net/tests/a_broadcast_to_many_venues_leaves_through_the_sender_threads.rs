//! A meeting of 48 simulated venues on real loopback sockets: a broadcast fans each packet out
//! to 47 receivers, more than the task sends itself, so the batches go to the sender threads
//! (D38) as GSO trains (D37), read from the venues' sockets with GRO. Every receiver must
//! still see one continuous stream of the broadcaster's picture: no gap, no reordering, no
//! second SSRC, never its own picture, across two broadcast changes.

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;
use std::time::Duration;

use dais_conference::{
    Actor, ChairCommand, ConferenceConfig, MeetingPlan, Role, Venue, VenueId, VenueKind,
};
use dais_media::EngineConfig;
use dais_net::demo::SimDialer;
use dais_net::media_task;
use dais_net::meeting;
use dais_net::sim::VideoShape;
use tokio::sync::mpsc;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
const VENUES: usize = 48;

fn id(s: &str) -> VenueId {
    s.parse().unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_broadcast_to_many_venues_stays_one_ordered_stream_per_receiver() {
    // The sender threads exist whatever the machine (the default is one per core).
    dais_net::send_pool::configure(2);
    assert!(dais_net::send_pool::global().threads() >= 1);

    let venues: Vec<VenueId> = (0..VENUES).map(|i| id(&format!("v{i}"))).collect();
    let plan = MeetingPlan {
        number: "8048".into(),
        subject: "Many venues".into(),
        main_venue: venues[0].clone(),
        venues: venues
            .iter()
            .enumerate()
            .map(|(i, v)| Venue {
                id: v.clone(),
                name: format!("Venue {i}"),
                kind: if i == 0 {
                    VenueKind::Main
                } else {
                    VenueKind::Branch
                },
                parent: (i > 0).then(|| venues[0].clone()),
            })
            .collect(),
        chair: "li".into(),
        duration: None,
        roll_call_order: vec![],
    };
    let (rtp, rtcp) = media_task::bind_pair(LOOPBACK, 0).unwrap();
    let (ev_tx, ev_rx) = mpsc::channel(4096);
    let media = media_task::spawn(rtp, rtcp, EngineConfig::default(), ev_tx).unwrap();
    let dialer = SimDialer::new(LOOPBACK, &venues, VideoShape::default());
    let m = meeting::start(
        plan,
        ConferenceConfig::default(),
        media,
        ev_rx,
        dialer.clone(),
    )
    .await
    .unwrap();
    dialer.attach(m.clone());
    let chair = Actor::new("li", Role::ChairOperator);
    m.command(chair.clone(), ChairCommand::GoLive)
        .await
        .unwrap();
    for v in &venues {
        m.command(chair.clone(), ChairCommand::Dial { venue: v.clone() })
            .await
            .unwrap();
    }
    let stats = |v: &VenueId| dialer.stats(v).unwrap();
    let watching = |v: &VenueId| stats(v).watching.load(Ordering::Relaxed);
    let mut joined = false;
    for _ in 0..750 {
        let view = m.view().await.unwrap();
        if view
            .conference
            .legs
            .iter()
            .filter(|l| l.status.is_connected())
            .count()
            == VENUES
        {
            joined = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert!(joined, "all {VENUES} venues joined");

    for shown in [&venues[7], &venues[31]] {
        m.command(
            chair.clone(),
            ChairCommand::Broadcast {
                venue: shown.clone(),
            },
        )
        .await
        .unwrap();
        let number = dialer.number_of(shown).unwrap();
        let mut everyone = false;
        for _ in 0..750 {
            if venues
                .iter()
                .filter(|v| *v != shown)
                .all(|v| watching(v) == number)
            {
                everyone = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert!(everyone, "every venue but {shown} watches {shown}");
        // A second of the broadcast: ~300 packets to each of 47 receivers.
        tokio::time::sleep(Duration::from_secs(1)).await;
    }

    let counters = m.media().counters();
    let handed_off = counters.handed_off.load(Ordering::Relaxed);
    assert!(
        handed_off > 0,
        "batches fanned out to 47 receivers went to the sender threads"
    );
    assert_eq!(counters.send_dropped.load(Ordering::Relaxed), 0);
    for v in &venues {
        let s = stats(v);
        assert!(
            s.received.load(Ordering::Relaxed) > 300,
            "{v} got its picture"
        );
        assert_eq!(s.self_views.load(Ordering::Relaxed), 0, "{v} saw itself");
        assert_eq!(
            s.video_ssrc_changes.load(Ordering::Relaxed),
            0,
            "{v}: one stream across the broadcast changes"
        );
        assert_eq!(
            s.video_seq_breaks.load(Ordering::Relaxed),
            0,
            "{v}: no gap and no reordering"
        );
    }
    m.command(chair, ChairCommand::EndMeeting).await.unwrap();
}
