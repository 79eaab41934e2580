//! A venue that becomes the broadcaster leaves the broadcast feed for the broadcaster's view,
//! and goes back when the chair picks another venue. Its decoder must see one continuous
//! stream throughout: the SSRC it first knew, sequence numbers without a gap, timestamps that
//! only move forward, every new picture starting on a keyframe (D25). Its RTCP (PLI, NACK)
//! names that SSRC and its own sequence numbers, and must still reach the right source and
//! the right cached packet; its sender reports name that SSRC too.
mod common;

use std::time::Duration;

use common::*;
use dais_media::*;
use dais_rtp::{RtcpPacket, parse_compound};

struct Setup {
    w: World,
    a: LegId,
    b: LegId,
    broadcast: FeedId,
    view: FeedId,
    mover: LegId,
    stayer: LegId,
}

fn setup(seed: u64) -> Setup {
    let mut w = World::new(seed, test_config());
    let a = w.add_venue(60);
    let b = w.add_venue(60);
    let broadcast = w.engine.create_feed(MediaKind::Video);
    let view = w.engine.create_feed(MediaKind::Video);
    let mover = w.add_receiver(broadcast, 96);
    let stayer = w.add_receiver(broadcast, 96);
    w.switch(broadcast, Some(a));
    w.switch(view, Some(b));
    w.run_for(Duration::from_millis(800));
    Setup {
        w,
        a,
        b,
        broadcast,
        view,
        mover,
        stayer,
    }
}

fn move_to(w: &mut World, leg: LegId, from: FeedId, to: FeedId) {
    w.engine.unsubscribe(leg, from);
    w.engine.subscribe(w.now, leg, to).unwrap();
}

#[test]
fn moving_back_and_forth_is_one_continuous_stream() {
    let Setup {
        mut w,
        a,
        b,
        broadcast,
        view,
        mover,
        stayer,
    } = setup(51);
    let first_ssrc = w.log(mover)[0].feed_ssrc;
    assert_eq!(first_ssrc, w.engine.feed_info(broadcast).unwrap().ssrc.0);
    for _ in 0..3 {
        move_to(&mut w, mover, broadcast, view);
        w.run_for(Duration::from_millis(700));
        move_to(&mut w, mover, view, broadcast);
        w.run_for(Duration::from_millis(700));
    }
    let log = w.log(mover);
    // One SSRC, no sequence gap, timestamps forward, each change of picture on a keyframe.
    assert_clean_stream(log);
    assert!(log.iter().all(|d| d.feed_ssrc == first_ssrc));
    let venues_seen = log
        .windows(2)
        .filter(|p| p[0].tag.unwrap().venue != p[1].tag.unwrap().venue)
        .count();
    assert_eq!(venues_seen, 6, "three moves there and three back");
    assert!(log.iter().any(|d| d.tag.unwrap().venue == a.0));
    assert!(log.iter().any(|d| d.tag.unwrap().venue == b.0));
    // The receiver that never moved still gets the feed's own, untranslated stream.
    assert_clean_stream(w.log(stayer));
    let feed_ssrc = w.engine.feed_info(broadcast).unwrap().ssrc.0;
    assert!(w.log(stayer).iter().all(|d| d.feed_ssrc == feed_ssrc));
    assert!(w.log(stayer).iter().all(|d| d.tag.unwrap().venue == a.0));
}

#[test]
fn a_moved_receivers_rtcp_names_its_own_ssrc_and_numbers() {
    let Setup {
        mut w,
        b,
        broadcast,
        view,
        mover,
        ..
    } = setup(52);
    let own = w.log(mover)[0].feed_ssrc;
    move_to(&mut w, mover, broadcast, view);
    w.run_for(Duration::from_millis(1500));
    let from = w.receiver_legs[&mover];
    let view_ssrc = w.engine.feed_info(view).unwrap().ssrc;
    assert_ne!(view_ssrc.0, own);

    // A PLI naming the SSRC it knows reaches the view's source.
    w.run_for(Duration::from_millis(600)); // past the PLI coalescing interval
    let asked = w.venue(b).requests_received;
    assert_eq!(
        w.inject(from, dais_rtp::rtcp::build_pli(Ssrc(9), Ssrc(own)).to_vec()),
        None
    );
    w.run_for(Duration::from_millis(1));
    assert_eq!(w.venue(b).requests_received, asked + 1);

    // A NACK in its own numbering returns the very packet it got at that number.
    let log = w.log(mover).to_vec();
    let target = &log[log.len() - 6];
    assert_eq!(target.tag.unwrap().venue, b.0, "a packet of the view");
    let t0 = w.transmits.len();
    w.inject(
        from,
        dais_rtp::rtcp::build_nack(Ssrc(9), Ssrc(own), &[target.seq])
            .unwrap()
            .to_vec(),
    );
    w.run_for(Duration::from_millis(1));
    let rtx: Vec<_> = w.transmits[t0..]
        .iter()
        .filter(|(_, t)| t.destination == from && t.contents.get(1).is_some_and(|b| b & 0x7f == 96))
        .collect();
    assert_eq!(rtx.len(), 1);
    assert_eq!(rtx[0].1.contents.as_ref(), target.bytes.as_slice());

    // The same NACK naming the view's own SSRC is not this receiver's stream: ignored.
    let t1 = w.transmits.len();
    w.inject(
        from,
        dais_rtp::rtcp::build_nack(Ssrc(9), view_ssrc, &[target.seq])
            .unwrap()
            .to_vec(),
    );
    w.run_for(Duration::from_millis(1));
    assert!(
        w.transmits[t1..]
            .iter()
            .all(|(_, t)| t.destination != from || t.contents.get(1).is_none_or(|b| b & 0x7f != 96))
    );

    // Its sender reports name its own SSRC, on its own timeline.
    let t2 = w.transmits.len();
    w.run_for(Duration::from_millis(2200));
    let srs: Vec<_> = w.transmits[t2..]
        .iter()
        .filter(|(_, t)| t.destination == from)
        .flat_map(|(_, t)| parse_compound(&t.contents).unwrap())
        .filter_map(|p| match p {
            RtcpPacket::SenderReport(sr) => Some(sr),
            _ => None,
        })
        .collect();
    assert!(!srs.is_empty(), "sender reports keep coming");
    assert!(srs.iter().all(|sr| sr.ssrc.0 == own));
    let last = w.log(mover).last().unwrap().ts;
    let sr_ts = srs.last().unwrap().rtp_time;
    // The SR's RTP time is "now" on the receiver's timeline: within a second of its packets.
    assert!(
        sr_ts.wrapping_sub(last).wrapping_add(90_000) < 180_000,
        "{sr_ts} vs {last}"
    );
}

/// Polling makes a venue the broadcast while it still watches the broadcast: the feed cuts
/// over to it before the policy moves it to the broadcaster's view. It must not be fed its own
/// picture, and the packets it is not fed must not become a gap in its stream: it waits, and
/// continues seamlessly when the feed shows someone else again.
#[test]
fn a_receiver_that_becomes_the_feeds_source_waits_without_a_gap() {
    let mut w = World::new(53, test_config());
    let a = w.add_venue(30);
    let b = w.add_venue(30);
    let broadcast = w.engine.create_feed(MediaKind::Video);
    // Venue b (a sender) also watches the broadcast.
    w.engine.subscribe(w.now, b, broadcast).unwrap();
    let b_addr = w.venue(b).addr;
    w.receivers.insert(b_addr, Vec::new());
    w.receiver_legs.insert(b, b_addr);
    w.switch(broadcast, Some(a));
    w.run_for(Duration::from_millis(800));
    w.switch(broadcast, Some(b));
    w.run_for(Duration::from_millis(800));
    w.switch(broadcast, Some(a));
    w.run_for(Duration::from_millis(800));
    let log = w.log(b);
    assert!(
        log.iter().all(|d| d.tag.unwrap().venue == a.0),
        "venue b was fed its own picture"
    );
    let first = log
        .iter()
        .position(|d| d.at > w.start + Duration::from_millis(1700));
    assert!(first.is_some_and(|i| i > 0), "b gets the picture again");
    // One SSRC, no sequence gap across the time it was the source.
    assert_clean_stream(log);
}
