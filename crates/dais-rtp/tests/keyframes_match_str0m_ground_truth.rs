//! `is_keyframe` against the per-packet ground truth shipped with str0m's captures.

mod common;

use std::collections::HashMap;

use common::{seq_of, udp_datagrams};
use dais_rtp::{PacketClass, RtpHeader, VideoCodec, classify, is_keyframe};

/// (sequence number -> ground-truth description) for every packet listed in a `.txt` twin.
fn truth(rel: &str) -> HashMap<u16, String> {
    let text = String::from_utf8(common::read(rel)).unwrap();
    text.lines()
        .filter_map(|l| Some((seq_of(l)?, l.to_owned())))
        .collect()
}

/// (seq, timestamp, detected) for each RTP packet of the capture, in capture order.
fn detect(rel: &str, codec: VideoCodec) -> Vec<(u16, u32, bool)> {
    udp_datagrams(rel)
        .iter()
        .filter(|d| classify(&d.payload) == PacketClass::Rtp)
        .map(|d| {
            let h = RtpHeader::parse(&d.payload).unwrap();
            (
                h.sequence,
                h.timestamp,
                is_keyframe(codec, h.payload(&d.payload)),
            )
        })
        .collect()
}

#[test]
fn vp8_first_packet_of_every_keyframe_is_detected_and_no_interframe_is() {
    let truth = truth("str0m/vp8.txt");
    let got = detect("str0m/vp8.pcap", VideoCodec::Vp8);
    assert_eq!(got.len(), 104);
    let mut keyframes = 0;
    let mut prev_ts = None;
    for (seq, ts, detected) in &got {
        let line = &truth[seq];
        let is_key = line.ends_with("Keyframe");
        // Labels: Keyframe, Interframe, Continuation (a later packet of an interframe).
        assert!(
            is_key || line.ends_with("Interframe") || line.ends_with("Continuation"),
            "{line}"
        );
        let first_of_frame = prev_ts != Some(*ts);
        prev_ts = Some(*ts);
        if is_key && first_of_frame {
            keyframes += 1;
            assert!(detected, "keyframe start missed: {line}");
        }
        if !is_key {
            assert!(!detected, "interframe packet taken for a keyframe: {line}");
        }
        // Later packets of a keyframe are continuations (S=0), not starts.
        if is_key && !first_of_frame {
            assert!(!detected, "continuation reported as a start: {line}");
        }
    }
    assert_eq!(keyframes, 3);
}

#[test]
fn h264_first_packet_of_every_keyframe_is_detected_and_no_interframe_is() {
    let truth = truth("str0m/h264.txt");
    let got = detect("str0m/h264.pcap", VideoCodec::H264);
    assert_eq!(got.len(), 298);
    let mut keyframes = 0;
    let mut prev_ts = None;
    for (seq, ts, detected) in &got {
        let line = &truth[seq];
        let desc = line.rsplit(", ").next().unwrap();
        // tshark's description: SPS and IDR-Slice (not non-IDR) mark keyframe content; a line
        // without a slice type is a continuation fragment (FU-A middle/end).
        let keyframe_content =
            desc.contains("SPS") || desc.contains(":IDR") || desc.contains(" IDR");
        let first_of_frame = prev_ts != Some(*ts);
        prev_ts = Some(*ts);
        if keyframe_content && first_of_frame {
            keyframes += 1;
            assert!(detected, "keyframe start missed: {line}");
        }
        if desc.contains("non-IDR") || desc.ends_with("FU-A") || desc.ends_with("FU-A End") {
            assert!(
                !detected,
                "interframe or continuation packet taken for a start: {line}"
            );
        }
        // Starts of the IDR slice after the STAP-A with SPS/PPS are reported as well (documented).
        if desc.contains("Start:IDR") {
            assert!(detected, "{line}");
        }
    }
    // 4 STAP-A carrying SPS/PPS/IDR, 1 with a length tshark disputes, 3 STAP-A SPS/PPS + FU-A IDR.
    assert_eq!(keyframes, 8);
}
