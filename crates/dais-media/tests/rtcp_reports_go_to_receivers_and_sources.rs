//! RTCP termination: each feed sends SRs (its own SSRC) to its receivers, each source gets RRs
//! about its stream, every `rtcp_interval`.
mod common;

use std::time::Duration;

use common::*;
use dais_media::*;
use dais_rtp::{RtcpPacket, parse_compound};

#[test]
fn sender_and_receiver_reports_flow_every_interval() {
    let mut w = World::new(17, test_config());
    w.impairment = Impairment {
        loss: 0.05,
        jitter_ms: 0,
    };
    let a = w.add_venue(30);
    let feed = w.engine.create_feed(MediaKind::Video);
    let r = w.add_receiver(feed, 96);
    w.switch(feed, Some(a));
    w.run_for(Duration::from_millis(3500));
    let feed_ssrc = w.engine.feed_info(feed).unwrap().ssrc;
    let (r_addr, a_addr, a_ssrc) = (w.receiver_legs[&r], w.venue(a).addr, w.venue(a).ssrc);

    let srs: Vec<_> = w
        .transmits
        .iter()
        .filter(|(_, t)| t.destination == r_addr)
        .flat_map(|(_, t)| parse_compound(&t.contents).unwrap())
        .filter_map(|p| match p {
            RtcpPacket::SenderReport(sr) => Some(sr),
            _ => None,
        })
        .collect();
    assert!((2..=4).contains(&srs.len()), "{} SRs", srs.len());
    assert!(
        srs.iter()
            .all(|sr| sr.ssrc == feed_ssrc && sr.packet_count > 0)
    );
    assert!(
        srs.windows(2)
            .all(|p| p[1].ntp_time > p[0].ntp_time && p[1].packet_count > p[0].packet_count)
    );
    // The SR's RTP time tracks the feed's timestamps (within a frame or two).
    let last_ts = w.log(r).last().unwrap().ts;
    let last_sr = srs.last().unwrap();
    assert!(last_ts.wrapping_sub(last_sr.rtp_time) as i32 > -20_000);

    let blocks: Vec<_> = w
        .transmits
        .iter()
        .filter(|(_, t)| t.destination == a_addr)
        .flat_map(|(_, t)| parse_compound(&t.contents).unwrap())
        .filter_map(|p| match p {
            RtcpPacket::ReceiverReport(rr) => Some(rr.reports),
            _ => None,
        })
        .flatten()
        .collect();
    assert!(blocks.len() >= 3);
    assert!(blocks.iter().all(|b| b.ssrc == Ssrc(a_ssrc)));
    // 5 % loss upstream shows in the cumulative count.
    assert!(blocks.last().unwrap().cumulative_lost > 0);
}
