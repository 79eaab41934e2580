//! Differential tests: our allocation-free RTP parser against webrtc-rs's `rtc-rtp`, an
//! independent implementation. Packets that `rtc-rtp` builds must parse to the same fields,
//! payload and header extensions; on arbitrary bytes, whenever both accept, both agree.

use bytes::Bytes;
use dais_rtp::RtpHeader;
use proptest::prelude::*;
use rtc_shared::marshal::{Marshal, Unmarshal};
use rtp::header::{EXTENSION_PROFILE_ONE_BYTE, Extension, Header};
use rtp::packet::Packet;

fn agree(raw: &[u8], theirs: &Packet) {
    let ours = RtpHeader::parse(raw).expect("a packet rtc-rtp accepts and built is valid");
    assert_eq!(ours.marker, theirs.header.marker);
    assert_eq!(ours.payload_type, theirs.header.payload_type);
    assert_eq!(ours.sequence, theirs.header.sequence_number);
    assert_eq!(ours.timestamp, theirs.header.timestamp);
    assert_eq!(ours.ssrc.0, theirs.header.ssrc);
    assert_eq!(usize::from(ours.csrc_count), theirs.header.csrc.len());
    assert_eq!(ours.has_extension, theirs.header.extension);
    assert_eq!(ours.payload(raw), &theirs.payload[..]);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2048))]

    #[test]
    fn packets_built_by_webrtc_rs_parse_to_the_same_fields(
        marker in any::<bool>(),
        pt in 0u8..128,
        seq in any::<u16>(),
        ts in any::<u32>(),
        ssrc in any::<u32>(),
        csrc in proptest::collection::vec(any::<u32>(), 0..15),
        exts in proptest::collection::vec((1u8..15, proptest::collection::vec(any::<u8>(), 1..16)), 0..4),
        payload in proptest::collection::vec(any::<u8>(), 0..1400),
    ) {
        let mut header = Header {
            version: 2,
            marker,
            payload_type: pt,
            sequence_number: seq,
            timestamp: ts,
            ssrc,
            csrc,
            ..Header::default()
        };
        // Distinct ids: rtc-rtp replaces an element whose id repeats.
        let mut seen = std::collections::BTreeSet::new();
        let exts: Vec<(u8, Vec<u8>)> = exts.into_iter().filter(|(id, _)| seen.insert(*id)).collect();
        if !exts.is_empty() {
            header.extension = true;
            header.extension_profile = EXTENSION_PROFILE_ONE_BYTE;
            header.extensions = exts
                .iter()
                .map(|(id, data)| Extension { id: *id, payload: Bytes::from(data.clone()) })
                .collect();
        }
        let packet = Packet { header, payload: Bytes::from(payload) };
        let raw = packet.marshal().unwrap();
        agree(&raw, &packet);

        let ours = RtpHeader::parse(&raw).unwrap();
        let got: Vec<(u8, Vec<u8>)> = ours
            .extensions(&raw)
            .map(|e| (e.id, e.data.to_vec()))
            .collect();
        prop_assert_eq!(got, exts);
    }

    #[test]
    fn where_both_parsers_accept_arbitrary_bytes_they_agree(
        mut raw in proptest::collection::vec(any::<u8>(), 12..300),
    ) {
        // Steer half the inputs to version 2 so both parsers get past the first byte.
        raw[0] = (raw[0] & 0x3f) | 0x80;
        let mut buf = Bytes::from(raw.clone());
        if let (Ok(theirs), Ok(_)) = (Packet::unmarshal(&mut buf), RtpHeader::parse(&raw)) {
            agree(&raw, &theirs);
        }
    }
}
