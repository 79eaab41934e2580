#![no_main]
//! H.264 RTP depacketiser (RFC 6184) and the Matroska writer behind it, on arbitrary packet
//! sequences: the input is a list of datagrams, each prefixed by its 16-bit big-endian length.
//! Every access unit that comes out is written as a frame; SPS units are parsed.
use std::io::Cursor;

use dais_record::h264::{Depacketizer, MAX_ACCESS_UNIT, nal, parse_sps};
use dais_record::mkv::{MkvWriter, Track, TrackKind};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let mut d = Depacketizer::new();
    let tracks = [Track {
        number: 1,
        name: "v".into(),
        kind: TrackKind::H264 {
            width: 16,
            height: 16,
            avcc: Vec::new(),
        },
    }];
    let mut w = MkvWriter::new(Cursor::new(Vec::new()), "fuzz", &tracks).expect("in memory");
    let mut rest = data;
    let mut delivered = 0u64;
    while let [a, b, tail @ ..] = rest {
        let n = usize::from(u16::from_be_bytes([*a, *b])).min(tail.len());
        let (pkt, next) = tail.split_at(n);
        rest = next;
        if let Ok(Some(au)) = d.push(pkt) {
            delivered += 1;
            assert!(!au.nals.is_empty());
            assert!(au.nals.iter().all(|n| !n.is_empty()));
            assert!(au.nals.iter().map(Vec::len).sum::<usize>() <= MAX_ACCESS_UNIT);
            for sps in au.nals_of_type(nal::SPS) {
                let _ = parse_sps(sps);
            }
            let frame: Vec<u8> = au.nals.concat();
            w.write_frame(1, i64::from(au.timestamp / 90), au.keyframe, &frame)
                .expect("in memory");
        }
    }
    assert_eq!(d.stats().access_units, delivered);
    let (out, size) = w.finish(1.0).expect("in memory");
    assert_eq!(out.into_inner().len() as u64, size);
});
