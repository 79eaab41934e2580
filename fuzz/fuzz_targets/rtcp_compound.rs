#![no_main]
//! Compound RTCP: decode, then re-encode what has a builder and check it decodes the same.
use dais_rtp::rtcp::{
    RtcpPacket, build_fir, build_pli, build_receiver_report, build_remb, build_sender_report,
    parse_compound,
};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Ok(packets) = parse_compound(data) else {
        return;
    };
    for p in &packets {
        let bytes = match p {
            RtcpPacket::SenderReport(sr) => match build_sender_report(sr) {
                Ok(b) => b,
                Err(_) => continue,
            },
            RtcpPacket::ReceiverReport(rr) => match build_receiver_report(rr) {
                Ok(b) => b,
                Err(_) => continue,
            },
            RtcpPacket::Pli { sender, media } => build_pli(*sender, *media),
            RtcpPacket::Fir { sender, entries } if entries.len() == 1 => {
                build_fir(*sender, entries[0].0, entries[0].1)
            }
            RtcpPacket::Remb {
                sender,
                bitrate,
                ssrcs,
            } => {
                let _ = build_remb(*sender, *bitrate, ssrcs);
                continue;
            }
            _ => continue,
        };
        let again = parse_compound(&bytes).expect("re-encoded packet decodes");
        assert_eq!(again.len(), 1);
        assert_eq!(&again[0], p);
    }
});
