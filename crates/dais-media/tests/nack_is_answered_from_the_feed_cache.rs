//! A receiver's NACK for a feed is answered from the feed's cache with the rewritten packet
//! (feed SSRC, output numbers, the receiver's payload type).
mod common;

use std::time::Duration;

use common::*;
use dais_media::*;

#[test]
fn nacked_packets_are_retransmitted_with_output_numbers() {
    let mut w = World::new(16, test_config());
    let a = w.add_venue(30);
    let feed = w.engine.create_feed(MediaKind::Video);
    let r96 = w.add_receiver(feed, 96);
    let r97 = w.add_receiver(feed, 97);
    w.switch(feed, Some(a));
    w.run_for(Duration::from_secs(3));
    let feed_ssrc = w.engine.feed_info(feed).unwrap().ssrc;
    let log = w.log(r97).to_vec();
    let target = &log[log.len() - 10];
    let also = &log[log.len() - 8]; // pid + 2 => blp bit 1
    let from = w.receiver_legs[&r97];
    let t0 = w.transmits.len();
    assert_eq!(
        w.inject(
            from,
            dais_rtp::rtcp::build_nack(Ssrc(9), feed_ssrc, &[target.seq, also.seq])
                .unwrap()
                .to_vec()
        ),
        None
    );
    w.run_for(Duration::from_millis(1));
    let rtx: Vec<_> = w.transmits[t0..]
        .iter()
        .filter(|(_, t)| t.destination == from)
        .collect();
    assert_eq!(rtx.len(), 2);
    assert_eq!(rtx[0].1.contents.as_ref(), target.bytes.as_slice());
    assert_eq!(rtx[1].1.contents.as_ref(), also.bytes.as_slice());
    assert_eq!(rtx[0].1.socket, LocalSocket::Rtp);
    assert_eq!(w.engine.stats().retransmitted, 2);

    // Too old for a 256-packet cache: a miss, nothing sent.
    let old = log[0].seq;
    assert!(log.len() > 300);
    let t1 = w.transmits.len();
    w.inject(
        from,
        dais_rtp::rtcp::build_nack(Ssrc(9), feed_ssrc, &[old])
            .unwrap()
            .to_vec(),
    );
    w.run_for(Duration::from_millis(1));
    assert!(
        w.transmits[t1..]
            .iter()
            .all(|(_, t)| t.destination != from || t.contents.get(1) != Some(&97))
    );
    assert_eq!(w.engine.stats().retransmit_misses, 1);
    let _ = r96;
}
