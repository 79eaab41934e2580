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

/// A receiver's report on the feed it watches gives the meeting its round-trip time (arrival −
/// LSR − DLSR, RFC 3550 §6.4.1) and how much of our stream it lost; a report naming a stream
/// it does not watch changes nothing.
#[test]
fn a_receivers_report_gives_its_round_trip_time_and_downlink_loss() {
    let mut w = World::new(19, test_config());
    let a = w.add_venue(30);
    let feed = w.engine.create_feed(MediaKind::Video);
    let r = w.add_receiver(feed, 96);
    w.switch(feed, Some(a));
    w.run_for(Duration::from_millis(1500));
    let r_addr = w.receiver_legs[&r];
    let feed_ssrc = w.engine.feed_info(feed).unwrap().ssrc;
    let (sent_at, sr) = w
        .transmits
        .iter()
        .filter(|(_, t)| t.destination == r_addr)
        .flat_map(|(at, t)| {
            parse_compound(&t.contents)
                .unwrap()
                .into_iter()
                .map(move |p| (*at, p))
        })
        .find_map(|(at, p)| match p {
            RtcpPacket::SenderReport(sr) => Some((at, sr)),
            _ => None,
        })
        .expect("an SR to the receiver");
    assert_eq!(w.engine.leg_stats(r).unwrap().rtt_us, None);

    // The receiver answers now, having held our SR for all but 40 ms of the time since it
    // left: RTT 40 ms.
    w.run_for(Duration::from_millis(50));
    let held = w.now - sent_at - Duration::from_millis(40);
    let dlsr = u32::try_from(held.as_micros() * 65_536 / 1_000_000).unwrap();
    let lsr = dais_rtp::rtcp::ntp_compact(sr.ntp_time);
    let report = |ssrc| {
        dais_rtp::rtcp::build_receiver_report(&dais_rtp::rtcp::ReceiverReport {
            ssrc: Ssrc(0x0bad_cafe),
            reports: vec![dais_rtp::rtcp::ReportBlock {
                ssrc,
                fraction_lost: 26,
                cumulative_lost: 3,
                extended_highest_seq: 1000,
                jitter: 90,
                last_sr: lsr,
                delay_since_last_sr: dlsr,
            }],
        })
        .unwrap()
        .to_vec()
    };
    w.inject(r_addr, report(Ssrc(0x1234_5678)));
    assert_eq!(
        w.engine.leg_stats(r).unwrap().rtt_us,
        None,
        "a block about another stream"
    );
    w.inject(r_addr, report(feed_ssrc));
    let st = *w.engine.leg_stats(r).unwrap();
    let rtt = st.rtt_us.expect("an RTT");
    assert!((39_000..=41_000).contains(&rtt), "{rtt} µs");
    assert_eq!(st.downlink_fraction_lost, 26);
}
