//! Named RTCP packets from Janus' corpus decode to the types and values tshark reports
//! (corpus README), and crash/timeout reproducers come back as a value, never a panic or a hang.

mod common;

use bytes::Bytes;
use dais_rtp::Ssrc;
use dais_rtp::rtcp::{
    ReceiverReport, RtcpPacket, SenderReport, build_bye, build_fir, build_nack, build_pli,
    build_receiver_report, build_remb, build_sdes_cname, build_sender_report, compound,
    parse_compound,
};

fn parse(name: &str) -> Vec<RtcpPacket> {
    parse_compound(&common::read(&format!("janus-rtcp/{name}")))
        .unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn feedback_packets_decode_to_their_types_and_values() {
    let (a, b) = (Ssrc(0x8c08a05d), Ssrc(0xf310a866));
    assert_eq!(
        parse("fir.rtcp"),
        [RtcpPacket::Fir {
            sender: a,
            entries: vec![(b, 10)]
        }]
    );
    assert_eq!(
        parse("pli.rtcp"),
        [RtcpPacket::Pli {
            sender: a,
            media: b
        }]
    );
    assert_eq!(
        parse("remb.rtcp"),
        [RtcpPacket::Remb {
            sender: a,
            bitrate: 128_000,
            ssrcs: vec![b]
        }]
    );
    let nack = RtcpPacket::Nack {
        sender: Ssrc(0x5bf5b77d),
        media: Ssrc(0xb075af13),
        lost: vec![43087, 43091],
    };
    assert_eq!(parse("nacks.rtcp"), std::slice::from_ref(&nack));
    assert_eq!(parse("nacks.bin"), [nack]);
    assert_eq!(
        parse("twcc-feedback.rtcp"),
        [RtcpPacket::TransportCc {
            sender: Ssrc(0x16ca50ce),
            media: Ssrc(0xae657257),
            base_seq: 2676,
            packet_count: 10
        }]
    );
}

#[test]
fn compound_packets_decode_in_order() {
    let rr = parse("rr.rtcp");
    let [RtcpPacket::ReceiverReport(r)] = &rr[..] else {
        panic!("{rr:?}")
    };
    assert_eq!(r.reports.len(), 1);
    assert_eq!(r.reports[0].ssrc, Ssrc(0xae657257));
    assert_eq!(r.reports[0].extended_highest_seq, 15044);
    assert_eq!(r.reports[0].jitter, 466);

    let rr_remb = parse("rr-remb.rtcp");
    assert!(matches!(rr_remb[0], RtcpPacket::ReceiverReport(_)));
    assert!(matches!(
        rr_remb[1],
        RtcpPacket::Remb {
            bitrate: 2_791_744,
            ..
        }
    ));
    assert_eq!(rr_remb.len(), 2);

    let rsb = parse("rr-sdes-bye.rtcp");
    assert_eq!(rsb.len(), 3);
    let RtcpPacket::Sdes(chunks) = &rsb[1] else {
        panic!("{rsb:?}")
    };
    assert_eq!(chunks[0].cname().unwrap().as_ref(), b"j1okRle4gSEIMwMO");
    assert_eq!(
        rsb[2],
        RtcpPacket::Bye {
            ssrcs: vec![Ssrc(0x1ca57379)],
            reason: None
        }
    );

    let srs = parse("sr-sdes.rtcp");
    let RtcpPacket::SenderReport(sr) = &srs[0] else {
        panic!("{srs:?}")
    };
    assert_eq!(
        (sr.ssrc, sr.packet_count, sr.octet_count),
        (Ssrc(0xae657257), 18115, 19705426)
    );
    assert!(matches!(&srs[1], RtcpPacket::Sdes(c) if c[0].cname().is_some()));
}

#[test]
fn the_udp_capture_carries_the_same_named_packets() {
    let grams = common::udp_datagrams("janus-rtcp/DERIVED-named-rtcp-in-udp.pcap");
    assert_eq!(grams.len(), 10);
    for g in &grams {
        assert_eq!(dais_rtp::classify(&g.payload), dais_rtp::PacketClass::Rtcp);
        assert!(parse_compound(&g.payload).is_ok());
    }
}

fn files(dir: &str, prefix: &str) -> Vec<(String, Vec<u8>)> {
    let mut v: Vec<_> = std::fs::read_dir(common::data_path(dir))
        .unwrap()
        .map(|e| e.unwrap().file_name().into_string().unwrap())
        .filter(|n| n.starts_with(prefix) && n != "LICENSE")
        .map(|n| {
            let data = common::read(&format!("{dir}/{n}"));
            (n, data)
        })
        .collect();
    v.sort();
    v
}

/// Everything that decodes must re-encode (where we have a builder) to bytes that decode the same.
fn reencode_roundtrip(p: &RtcpPacket) {
    let bytes = match p {
        RtcpPacket::SenderReport(sr) if sr.reports.len() <= 31 => build_sender_report(sr).unwrap(),
        RtcpPacket::ReceiverReport(rr) if rr.reports.len() <= 31 => {
            build_receiver_report(rr).unwrap()
        }
        RtcpPacket::Pli { sender, media } => build_pli(*sender, *media),
        RtcpPacket::Nack {
            sender,
            media,
            lost,
        } if !lost.is_empty() => {
            let b = build_nack(*sender, *media, lost).unwrap();
            let again = parse_compound(&b).unwrap();
            let [RtcpPacket::Nack { lost: l2, .. }] = &again[..] else {
                panic!()
            };
            let (mut a, mut b) = (lost.clone(), l2.clone());
            a.sort_unstable();
            a.dedup();
            b.sort_unstable();
            assert_eq!(a, b);
            return;
        }
        _ => return,
    };
    assert_eq!(parse_compound(&bytes).unwrap(), std::slice::from_ref(p));
}

#[test]
fn crash_and_timeout_reproducers_return_a_value() {
    let set = files("janus-rtcp", "rtcp_fuzzer-");
    assert_eq!(set.len(), 11);
    for (name, data) in set {
        match parse_compound(&data) {
            Ok(packets) => packets.iter().for_each(reencode_roundtrip),
            Err(e) => assert!(!e.to_string().is_empty(), "{name}"),
        }
    }
}

#[test]
fn libwebrtc_seeds_return_a_value_and_most_decode() {
    let set = files("janus-rtcp-webrtc", "");
    assert_eq!(set.len(), 67);
    let mut ok = 0;
    for (_, data) in &set {
        if let Ok(packets) = parse_compound(data) {
            ok += 1;
            packets.iter().for_each(reencode_roundtrip);
        }
    }
    // These seeds come from libwebrtc's unit tests, valid and invalid ones alike.
    assert!(ok >= 30, "only {ok} of 67 decoded");
}

#[test]
fn builders_roundtrip_through_the_decoder() {
    let (a, b) = (Ssrc(0x11223344), Ssrc(0xaabbccdd));
    assert_eq!(
        parse_compound(&build_pli(a, b)).unwrap(),
        [RtcpPacket::Pli {
            sender: a,
            media: b
        }]
    );
    assert_eq!(build_pli(a, b).len(), 12);
    assert_eq!(
        parse_compound(&build_fir(a, b, 7)).unwrap(),
        [RtcpPacket::Fir {
            sender: a,
            entries: vec![(b, 7)]
        }]
    );
    for bitrate in [
        0u64,
        1,
        128_000,
        2_791_744,
        262_143,
        262_144,
        10_000_000_000,
    ] {
        let got = parse_compound(&build_remb(a, bitrate, &[b]).unwrap()).unwrap();
        let [RtcpPacket::Remb { bitrate: r, .. }] = got[..] else {
            panic!()
        };
        assert!(
            r <= bitrate && bitrate - r <= bitrate >> 17,
            "{bitrate} -> {r}"
        );
    }
    let sr = SenderReport {
        ssrc: a,
        ntp_time: 0xe000_0000_8000_0000,
        rtp_time: 90_000,
        packet_count: 10,
        octet_count: 12_000,
        reports: vec![dais_rtp::rtcp::ReportBlock {
            ssrc: b,
            fraction_lost: 25,
            cumulative_lost: -3,
            extended_highest_seq: 0x0001_0005,
            jitter: 40,
            last_sr: 0x1234_5678,
            delay_since_last_sr: 65536,
        }],
    };
    let rr = ReceiverReport {
        ssrc: a,
        reports: sr.reports.clone(),
    };
    let all = compound(&[
        build_sender_report(&sr).unwrap(),
        build_receiver_report(&rr).unwrap(),
        build_sdes_cname(a, b"venue-7").unwrap(),
        build_bye(&[a, b], Some(b"meeting ended")).unwrap(),
    ]);
    let got = parse_compound(&all).unwrap();
    assert_eq!(got[0], RtcpPacket::SenderReport(sr));
    assert_eq!(got[1], RtcpPacket::ReceiverReport(rr));
    assert!(matches!(&got[2], RtcpPacket::Sdes(c) if c[0].cname().unwrap() == &b"venue-7"[..]));
    assert_eq!(
        got[3],
        RtcpPacket::Bye {
            ssrcs: vec![a, b],
            reason: Some(Bytes::from_static(b"meeting ended"))
        }
    );
    let too_many = vec![a; 32];
    assert!(build_bye(&too_many, None).is_err());
    assert!(build_nack(a, b, &[]).is_err());
    assert!(build_sdes_cname(a, &[b'x'; 256]).is_err());
}
