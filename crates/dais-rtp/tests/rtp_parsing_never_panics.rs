//! Property tests and the Janus RTP corpus: parsing, extension iteration, classification and
//! keyframe detection never panic; rewrites land exactly where they should.

mod common;

use dais_rtp::{
    PacketClass, RtpHeader, Ssrc, VideoCodec, audio_level, classify, is_keyframe, parse_compound,
    rewrite_header, set_marker, set_payload_type,
};
use proptest::prelude::*;

fn exercise(data: &[u8]) {
    let _ = classify(data);
    let _ = parse_compound(data);
    let _ = is_keyframe(VideoCodec::H264, data);
    let _ = is_keyframe(VideoCodec::Vp8, data);
    if let Ok(h) = RtpHeader::parse(data) {
        assert!(h.header_len + h.payload_len + h.padding_len as usize == data.len());
        let payload = h.payload(data);
        assert_eq!(payload.len(), h.payload_len);
        let _ = is_keyframe(VideoCodec::H264, payload);
        let _ = is_keyframe(VideoCodec::Vp8, payload);
        for e in h.extensions(data) {
            assert!(e.data.len() <= h.header_len);
        }
        for id in 0..=15 {
            let _ = audio_level(data, id);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, ..ProptestConfig::default() })]

    #[test]
    fn parse_never_panics_on_arbitrary_bytes(data in proptest::collection::vec(any::<u8>(), 0..200)) {
        exercise(&data);
    }

    #[test]
    fn parse_never_panics_on_version_2_headers(
        b0 in 0x80u8..=0xbf,
        rest in proptest::collection::vec(any::<u8>(), 0..120),
    ) {
        let mut data = vec![b0];
        data.extend_from_slice(&rest);
        exercise(&data);
    }

    #[test]
    fn rewrite_then_parse_returns_the_written_values_and_keeps_the_payload(
        csrcs in 0u8..4,
        ext_words in proptest::option::of(0u16..4),
        payload in proptest::collection::vec(any::<u8>(), 0..64),
        ssrc: u32, seq: u16, ts: u32, pt in 0u8..128, marker: bool,
    ) {
        let mut pkt = vec![0x80 | csrcs | if ext_words.is_some() { 0x10 } else { 0 }, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        pkt.extend(std::iter::repeat_n(0xcc, 4 * csrcs as usize));
        if let Some(w) = ext_words {
            pkt.extend_from_slice(&[0xbe, 0xde]);
            pkt.extend_from_slice(&w.to_be_bytes());
            pkt.extend(std::iter::repeat_n(0, 4 * w as usize));
        }
        pkt.extend_from_slice(&payload);
        let before = RtpHeader::parse(&pkt).unwrap();
        let original = pkt.clone();
        rewrite_header(&mut pkt, Ssrc(ssrc), seq, ts);
        set_payload_type(&mut pkt, pt);
        set_marker(&mut pkt, marker);
        let after = RtpHeader::parse(&pkt).unwrap();
        prop_assert_eq!((after.ssrc, after.sequence, after.timestamp), (Ssrc(ssrc), seq, ts));
        prop_assert_eq!((after.payload_type, after.marker), (pt, marker));
        prop_assert_eq!(after.header_len, before.header_len);
        prop_assert_eq!(after.payload(&pkt), &payload[..]);
        prop_assert_eq!(&pkt[12..before.header_len], &original[12..before.header_len]);
    }

    #[test]
    fn extension_iteration_never_panics(
        profile in prop_oneof![Just(0xbedeu16), 0x1000u16..0x1010, any::<u16>()],
        body in proptest::collection::vec(any::<u8>(), 0..40),
    ) {
        let words = body.len() / 4;
        let mut pkt = vec![0x90, 96, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3];
        pkt.extend_from_slice(&profile.to_be_bytes());
        pkt.extend_from_slice(&(words as u16).to_be_bytes());
        pkt.extend_from_slice(&body[..4 * words]);
        let h = RtpHeader::parse(&pkt).unwrap();
        let total: usize = h.extensions(&pkt).map(|e| e.data.len()).sum();
        prop_assert!(total <= 4 * words);
    }
}

#[test]
fn janus_rtp_corpus_and_crash_reproducers_return_a_value() {
    let mut n = 0;
    for e in std::fs::read_dir(common::data_path("janus-rtp")).unwrap() {
        let name = e.unwrap().file_name().into_string().unwrap();
        exercise(&common::read(&format!("janus-rtp/{name}")));
        n += 1;
    }
    assert_eq!(n, 30);
}

#[test]
fn janus_packets_with_extensions_decode() {
    let audio = common::read("janus-rtp/rtp_0_audio-with-ext");
    let h = RtpHeader::parse(&audio).unwrap();
    assert_eq!(classify(&audio), PacketClass::Rtp);
    assert_eq!(h.payload_type, 111);
    let ids: Vec<u8> = h.extensions(&audio).map(|e| e.id).collect();
    assert!(!ids.is_empty(), "one-byte extensions expected");
    let video = common::read("janus-rtp/rtp_1_video-with-ext");
    let h = RtpHeader::parse(&video).unwrap();
    assert_eq!(h.payload_type, 96);
    assert!(h.extensions(&video).count() > 0);
}
