//! A whole meeting over real loopback UDP: a province main venue and three branches, all
//! simulated, joined through the meeting controller; the chair broadcasts, views and ends the
//! meeting, and the example prints which venue's picture each venue receives.
//!
//! `cargo run -p dais-examples --example meeting_on_loopback`
#![allow(clippy::print_stdout)]

use std::net::{IpAddr, Ipv4Addr};
use std::sync::atomic::Ordering;
use std::time::Duration;

use dais_conference::{
    Actor, ChairCommand, ConferenceConfig, MeetingPlan, Role, Venue, VenueId, VenueKind,
};
use dais_media::EngineConfig;
use dais_net::demo::SimDialer;
use dais_net::sim::VideoShape;
use dais_net::{media_task, meeting};

#[tokio::main]
async fn main() {
    let ip = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let names = ["province", "jinan", "qingdao", "licheng"];
    let ids: Vec<VenueId> = names.iter().map(|n| n.parse().unwrap()).collect();
    let venues = ids
        .iter()
        .enumerate()
        .map(|(i, id)| Venue {
            id: id.clone(),
            name: names[i].to_string(),
            kind: if i == 0 {
                VenueKind::Main
            } else {
                VenueKind::Branch
            },
            parent: (i > 0).then(|| ids[0].clone()),
        })
        .collect();
    let plan = MeetingPlan {
        number: "8001".into(),
        subject: "Example meeting".into(),
        main_venue: ids[0].clone(),
        venues,
        chair: "li".into(),
        duration: None,
        roll_call_order: vec![],
    };
    let (rtp, rtcp) = media_task::bind_pair(ip, 0).unwrap();
    let (tx, rx) = tokio::sync::mpsc::channel(1024);
    let media = media_task::spawn(rtp, rtcp, EngineConfig::default(), tx).unwrap();
    println!("meeting 8001 media on {}", media.rtp_addr());
    let dialer = SimDialer::new(ip, &ids, VideoShape::default());
    let m = meeting::start(plan, ConferenceConfig::default(), media, rx, dialer.clone())
        .await
        .unwrap();
    dialer.attach(m.clone());
    let chair = Actor::new("li", Role::ChairOperator);
    m.command(chair.clone(), ChairCommand::GoLive)
        .await
        .unwrap();
    for id in &ids {
        m.command(chair.clone(), ChairCommand::Dial { venue: id.clone() })
            .await
            .unwrap();
    }
    let show = |label: &str| {
        let seen: Vec<String> = ids
            .iter()
            .map(|id| {
                let w = dialer
                    .stats(id)
                    .map(|s| s.watching.load(Ordering::Relaxed))
                    .unwrap_or(0);
                let name = if w == 0 { "-" } else { names[w as usize - 1] };
                format!("{id} sees {name}")
            })
            .collect();
        println!("{label:<28} {}", seen.join(", "));
    };
    tokio::time::sleep(Duration::from_millis(700)).await;
    show("after joining:");
    m.command(
        chair.clone(),
        ChairCommand::Broadcast {
            venue: ids[1].clone(),
        },
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    show("broadcast jinan:");
    m.command(
        chair.clone(),
        ChairCommand::View {
            venue: ids[2].clone(),
        },
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_millis(700)).await;
    show("chair views qingdao:");
    m.command(chair, ChairCommand::EndMeeting).await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    println!("ended: {} simulated calls still up", dialer.active());
    m.shutdown().await;
}
