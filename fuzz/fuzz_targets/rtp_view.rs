#![no_main]
//! RTP view: header parse, RFC 8285 extensions, RFC 6464 audio level, demultiplexing and
//! keyframe detection for both codecs, on arbitrary datagrams.
use dais_rtp::{RtpHeader, VideoCodec, audio_level, classify, is_keyframe, rewrite_header};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let _ = classify(data);
    let _ = is_keyframe(VideoCodec::H264, data);
    let _ = is_keyframe(VideoCodec::Vp8, data);
    let Ok(h) = RtpHeader::parse(data) else {
        return;
    };
    assert_eq!(
        h.header_len + h.payload_len + h.padding_len as usize,
        data.len()
    );
    let payload = h.payload(data);
    assert_eq!(payload.len(), h.payload_len);
    let _ = is_keyframe(VideoCodec::H264, payload);
    let _ = is_keyframe(VideoCodec::Vp8, payload);
    for e in h.extensions(data) {
        let _ = e.data.first();
    }
    let _ = audio_level(data, 1);
    // Rewriting a parsed packet keeps it parseable with the same layout.
    let mut copy = data.to_vec();
    rewrite_header(&mut copy, dais_rtp::Ssrc(0x1234abcd), 7, 9);
    let again = RtpHeader::parse(&copy).expect("rewritten packet parses");
    assert_eq!(
        (again.header_len, again.payload_len),
        (h.header_len, h.payload_len)
    );
});
