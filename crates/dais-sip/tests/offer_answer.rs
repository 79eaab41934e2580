//! SDP offer/answer against the shared corpus and room-system shaped offers.
use std::path::Path;

use dais_sip::offer_answer::{
    Capabilities, Codec, Direction, MAX_SDP_BYTES, SdpError, build_offer, negotiate, parse_sdp,
};

fn corpus(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/sdp")
            .join(name),
    )
    .unwrap()
}

const ROOM: &str = "v=0\r\no=room 1 1 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n\
m=audio 49170 RTP/AVP 9 0 8 101\r\na=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\na=rtcp:49175\r\na=sendrecv\r\n\
m=video 49180 RTP/AVPF 109 96\r\na=rtpmap:109 H264/90000\r\n\
a=fmtp:109 profile-level-id=42801f\r\na=rtpmap:96 H264/90000\r\n\
a=fmtp:96 profile-level-id=640032;packetization-mode=1\r\n\
a=rtcp-fb:* ccm fir\r\na=rtcp-fb:96 nack pli\r\na=rtcp-mux\r\na=sendonly\r\n";

#[test]
fn room_system_offer_gets_pcmu_and_h264_mode1_with_their_payload_types() {
    let n = negotiate(ROOM.as_bytes(), &Capabilities::default(), 7).unwrap();
    let audio = &n.media[0];
    assert_eq!(audio.codec, Some(Codec::Pcmu));
    assert_eq!(audio.payload_type, 0);
    assert_eq!(audio.telephone_event, Some(101));
    assert_eq!(audio.remote_rtp, Some("192.0.2.50:49170".parse().unwrap()));
    assert_eq!(audio.remote_rtcp, Some("192.0.2.50:49175".parse().unwrap()));
    assert!(!audio.rtcp_mux);
    assert_eq!(audio.direction, Direction::SendRecv);
    let video = &n.media[1];
    assert_eq!(video.codec, Some(Codec::H264));
    assert_eq!(video.payload_type, 96, "PT 109 lacks packetization-mode=1");
    // High profile kept, level capped to ours (0x28 = 4.0).
    assert_eq!(video.h264_profile_level_id.as_deref(), Some("640028"));
    assert!(video.feedback.pli && video.feedback.fir && !video.feedback.nack);
    assert!(video.rtcp_mux);
    assert_eq!(video.remote_rtcp, video.remote_rtp);
    assert_eq!(video.direction, Direction::RecvOnly, "they only send");
    assert!(n.answer.contains("m=audio 20000 RTP/AVP 0 101\r\n"));
    assert!(
        n.answer
            .contains("a=fmtp:96 profile-level-id=640028;packetization-mode=1")
    );
    assert!(n.answer.contains("a=recvonly"));
    parse_sdp(n.answer.as_bytes()).expect("our answer is SDP");
}

#[test]
fn unsupported_video_codec_is_refused_with_port_zero_not_a_failed_call() {
    // RFC 4317 example: PCMU/PCMA/iLBC audio, H.261/MPV video.
    let n = negotiate(&corpus("2.sdp"), &Capabilities::default(), 1).unwrap();
    assert_eq!(
        n.media[0].codec,
        Some(Codec::Pcmu),
        "our preference among theirs"
    );
    assert_eq!(n.media[1].codec, None);
    assert!(n.answer.contains("m=video 0 RTP/AVP 31\r\n"));
    // c= names a host, not an address: no RTP address (the shell resolves names, not us).
    assert_eq!(n.media[0].remote_rtp, None);
}

#[test]
fn h264_without_mode1_falls_back_to_vp8_or_is_refused() {
    let base = "v=0\r\no=x 1 1 IN IP4 192.0.2.1\r\ns=-\r\nc=IN IP4 192.0.2.1\r\nt=0 0\r\n\
                m=audio 5000 RTP/AVP 8\r\nm=video 5002 RTP/AVP 100";
    let h264_only = format!("{base}\r\na=rtpmap:100 H264/90000\r\n");
    let n = negotiate(h264_only.as_bytes(), &Capabilities::default(), 1).unwrap();
    assert_eq!(n.media[0].codec, Some(Codec::Pcma));
    assert_eq!(n.media[1].codec, None);
    let with_vp8 = format!("{base} 101\r\na=rtpmap:100 H264/90000\r\na=rtpmap:101 VP8/90000\r\n");
    let n = negotiate(with_vp8.as_bytes(), &Capabilities::default(), 1).unwrap();
    assert_eq!(n.media[1].codec, Some(Codec::Vp8));
    assert_eq!(n.media[1].payload_type, 101);
}

#[test]
fn browser_dtls_offers_have_no_acceptable_media_here() {
    // SIP venues speak plain RTP; browser legs go through the WebRTC stack, not this module.
    for f in ["firefox-1.sdp", "opera-1.sdp"] {
        assert_eq!(
            negotiate(&corpus(f), &Capabilities::default(), 1).unwrap_err(),
            SdpError::NoAcceptableMedia,
            "{f}"
        );
    }
}

#[test]
fn every_corpus_sdp_parses_or_fails_cleanly() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sdp");
    let mut parsed = 0;
    let mut negotiated = 0;
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "sdp") {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        if parse_sdp(&bytes).is_ok() {
            parsed += 1;
        }
        if let Ok(n) = negotiate(&bytes, &Capabilities::default(), 1) {
            negotiated += 1;
            assert!(n.media.iter().any(|m| m.codec.is_some()));
            parse_sdp(n.answer.as_bytes()).unwrap();
        }
    }
    assert_eq!(
        parsed, 64,
        "3 of the 67 are media-section fragments without v="
    );
    // The rest offer only codecs we lack (iLBC, H.261...), refuse every stream, or are DTLS.
    assert_eq!(negotiated, 19);
}

#[test]
fn oversized_and_garbage_bodies_are_refused() {
    let big = vec![b'a'; MAX_SDP_BYTES + 1];
    assert_eq!(
        negotiate(&big, &Capabilities::default(), 1).unwrap_err(),
        SdpError::TooLarge(MAX_SDP_BYTES + 1)
    );
    assert!(matches!(
        negotiate(b"\xff\xfe", &Capabilities::default(), 1),
        Err(SdpError::Malformed(_))
    ));
    assert!(matches!(
        negotiate(b"hello", &Capabilities::default(), 1),
        Err(SdpError::Malformed(_))
    ));
}

#[test]
fn our_offer_answers_itself_with_opus_and_h264() {
    let caps = Capabilities::default();
    let offer = build_offer(&caps, 99);
    parse_sdp(offer.as_bytes()).unwrap();
    let n = negotiate(offer.as_bytes(), &caps, 100).unwrap();
    assert_eq!(n.media[0].codec, Some(Codec::Opus));
    assert_eq!(n.media[0].payload_type, 111);
    assert_eq!(
        n.media[0].telephone_event,
        Some(100),
        "the 48 kHz event matches Opus"
    );
    assert_eq!(n.media[1].codec, Some(Codec::H264));
    assert!(n.media[1].feedback.nack && n.media[1].feedback.pli && n.media[1].feedback.fir);
    assert!(n.media.iter().all(|m| m.rtcp_mux));
}

#[test]
fn the_audio_level_extension_is_agreed_with_the_offers_id_on_audio_only() {
    let offer = "v=0\r\no=ep 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 0\r\na=rtpmap:0 PCMU/8000\r\n\
a=extmap:3 urn:ietf:params:rtp-hdrext:toffset\r\n\
a=extmap:5/sendonly urn:ietf:params:rtp-hdrext:ssrc-audio-level vad=on\r\n\
m=video 4002 RTP/AVP 96\r\na=rtpmap:96 VP8/90000\r\n\
a=extmap:5 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n";
    let n = negotiate(offer.as_bytes(), &Capabilities::default(), 3).unwrap();
    assert_eq!(n.media[0].audio_level_ext, Some(5));
    assert_eq!(
        n.media[1].audio_level_ext, None,
        "video carries no audio level"
    );
    assert!(
        n.answer
            .contains("a=extmap:5 urn:ietf:params:rtp-hdrext:ssrc-audio-level\r\n")
    );
    assert_eq!(n.answer.matches("a=extmap:").count(), 1, "{}", n.answer);

    // Ids the one-byte form cannot carry, or garbage, are not agreed.
    for bad in ["15", "0", "300", "x", ""] {
        let o = offer.replace("a=extmap:5/sendonly", &format!("a=extmap:{bad}"));
        let n = negotiate(o.as_bytes(), &Capabilities::default(), 3).unwrap();
        assert_eq!(n.media[0].audio_level_ext, None, "id {bad:?}");
        assert!(!n.answer.contains("ssrc-audio-level"), "id {bad:?}");
    }

    // Our own offer proposes it, and answers itself with it.
    let ours = build_offer(&Capabilities::default(), 1);
    let n = negotiate(ours.as_bytes(), &Capabilities::default(), 2).unwrap();
    let audio = n.media.iter().find(|m| m.kind == "audio").unwrap();
    assert_eq!(audio.audio_level_ext, Some(1));
}

#[test]
fn the_offers_packet_time_is_read_from_the_audio_line() {
    let offer = |ptime: &str| {
        format!(
            "v=0\r\no=ep 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\n\
m=audio 4000 RTP/AVP 8\r\na=rtpmap:8 PCMA/8000\r\na=ptime:{ptime}\r\n"
        )
    };
    let n = negotiate(offer("40").as_bytes(), &Capabilities::default(), 3).unwrap();
    assert_eq!(n.media[0].ptime_ms, Some(40));
    for bad in ["0", "-20", "x", "100000"] {
        let n = negotiate(offer(bad).as_bytes(), &Capabilities::default(), 3).unwrap();
        assert_eq!(n.media[0].ptime_ms, None, "ptime {bad:?}");
    }
}
