//! Keyframe detection from the RTP payload, so a switch can cut over on the new source's
//! first decodable packet.

/// The video codecs whose keyframes the router can recognise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VideoCodec {
    /// H.264 / AVC, RTP payload format RFC 6184 (packetization modes 0 and 1; STAP-B and FU-B
    /// of mode 2 are recognised too, MTAP is not).
    H264,
    /// VP8, RTP payload format RFC 7741.
    Vp8,
}

// H.264 NAL unit types (ITU-T H.264 Table 7-1) and RFC 6184 §5.2 packet types.
const NAL_IDR: u8 = 5;
const NAL_SPS: u8 = 7;
const STAP_A: u8 = 24;
const STAP_B: u8 = 25;
const FU_A: u8 = 28;
const FU_B: u8 = 29;

/// True when this packet starts a keyframe: a decoder that has seen nothing before can start
/// decoding from this packet on.
///
/// Precisely: the packet carries the *beginning* of a NAL unit / frame that a fresh decoder can
/// start from, and forwarding every packet from here on (without anything earlier) yields a
/// decodable picture. For a keyframe sent as several packets, the first one is reported; later
/// packets that begin another such unit of the same keyframe (an FU-A start of the IDR slice after
/// a STAP-A with SPS/PPS, a second IDR slice) are reported too, which is harmless: cutting over
/// there at worst drops the parameter sets the receiver already got in the same frame's first
/// packet, so the router should cut over on the *first* `true` it sees.
///
/// * H.264 (RFC 6184): a single NAL unit of type IDR (5) or SPS (7) (SPS/PPS precede the IDR);
///   a STAP-A/STAP-B whose aggregated NAL units include an SPS or IDR; an FU-A/FU-B with the
///   S bit set whose original NAL type is IDR (or SPS). A stream that signals SPS/PPS only out of
///   band (SDP `sprop-parameter-sets`) is covered by the IDR rule.
/// * VP8 (RFC 7741 §4.2-4.3): the payload descriptor has S=1 and PID=0 (start of partition 0,
///   i.e. the first packet of the frame) and the P bit of the VP8 payload header is 0 (key frame).
///
/// Never panics on short payloads: truncated structures yield `false`.
pub fn is_keyframe(codec: VideoCodec, payload: &[u8]) -> bool {
    match codec {
        VideoCodec::H264 => h264_starts_keyframe(payload),
        VideoCodec::Vp8 => vp8_starts_keyframe(payload),
    }
}

fn h264_is_key_nal(nal_header: u8) -> bool {
    matches!(nal_header & 0x1f, NAL_IDR | NAL_SPS)
}

fn h264_starts_keyframe(payload: &[u8]) -> bool {
    let Some(&nal) = payload.first() else {
        return false;
    };
    match nal & 0x1f {
        1..=23 => h264_is_key_nal(nal),
        STAP_A => stap_has_key(payload.get(1..).unwrap_or(&[])),
        // STAP-B carries a 16-bit DON before the units (RFC 6184 §5.7.1).
        STAP_B => stap_has_key(payload.get(3..).unwrap_or(&[])),
        // The FU header follows the FU indicator in both FU-A and FU-B (§5.8).
        FU_A | FU_B => match payload.get(1) {
            Some(&fu) => fu & 0x80 != 0 && h264_is_key_nal(fu),
            None => false,
        },
        _ => false,
    }
}

/// Walks the (16-bit size, NAL unit) list of a STAP. A truncated last unit still counts if its
/// NAL header byte is present: the parameter sets or IDR it announces are what a decoder needs,
/// and a sender that truncates is broken anyway (the decoder will tell).
fn stap_has_key(mut units: &[u8]) -> bool {
    while let [hi, lo, rest @ ..] = units {
        let size = u16::from_be_bytes([*hi, *lo]) as usize;
        let Some(&nal) = rest.first() else {
            return false;
        };
        if size > 0 && h264_is_key_nal(nal) {
            return true;
        }
        units = rest.get(size..).unwrap_or(&[]);
    }
    false
}

fn vp8_starts_keyframe(payload: &[u8]) -> bool {
    let Some(&b0) = payload.first() else {
        return false;
    };
    let start = b0 & 0x10 != 0;
    let pid = b0 & 0x07;
    if !start || pid != 0 {
        return false;
    }
    let mut i = 1;
    if b0 & 0x80 != 0 {
        // X: extension byte with I, L, T, K flags (RFC 7741 §4.2).
        let Some(&x) = payload.get(1) else {
            return false;
        };
        i = 2;
        if x & 0x80 != 0 {
            // I: PictureID, 15 bits when its M bit is set, else 7.
            let Some(&pic) = payload.get(i) else {
                return false;
            };
            i += if pic & 0x80 != 0 { 2 } else { 1 };
        }
        if x & 0x40 != 0 {
            i += 1; // L: TL0PICIDX
        }
        if x & 0x30 != 0 {
            i += 1; // T or K: TID/Y/KEYIDX byte
        }
    }
    match payload.get(i) {
        // VP8 payload header (RFC 7741 §4.3, RFC 6386 §9.1): P (inverse key frame flag) is bit 0.
        Some(&hdr) => hdr & 0x01 == 0,
        None => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn h264_single_nal_types() {
        assert!(is_keyframe(VideoCodec::H264, &[0x65, 0x88]));
        assert!(is_keyframe(VideoCodec::H264, &[0x67, 0x42]));
        assert!(!is_keyframe(VideoCodec::H264, &[0x68, 0xce])); // PPS alone
        assert!(!is_keyframe(VideoCodec::H264, &[0x41, 0x9a])); // non-IDR slice
        assert!(!is_keyframe(VideoCodec::H264, &[]));
    }

    #[test]
    fn h264_stap_a_with_sps_is_key_and_without_is_not() {
        let key = [0x78, 0x00, 0x02, 0x67, 0x42, 0x00, 0x02, 0x68, 0xce];
        assert!(is_keyframe(VideoCodec::H264, &key));
        let sei_only = [0x78, 0x00, 0x02, 0x06, 0x05, 0x00, 0x02, 0x41, 0x9a];
        assert!(!is_keyframe(VideoCodec::H264, &sei_only));
        // Second unit is the IDR.
        let idr_second = [0x78, 0x00, 0x02, 0x06, 0x05, 0x00, 0x02, 0x65, 0x88];
        assert!(is_keyframe(VideoCodec::H264, &idr_second));
        // Truncated aggregates never panic.
        for n in 0..key.len() {
            let _ = is_keyframe(VideoCodec::H264, &key[..n]);
        }
        assert!(!is_keyframe(VideoCodec::H264, &[0x78, 0x00]));
    }

    #[test]
    fn h264_fu_a_only_the_start_of_an_idr() {
        assert!(is_keyframe(VideoCodec::H264, &[0x7c, 0x85, 0x88]));
        assert!(!is_keyframe(VideoCodec::H264, &[0x7c, 0x05, 0x88])); // middle
        assert!(!is_keyframe(VideoCodec::H264, &[0x7c, 0x45, 0x88])); // end
        assert!(!is_keyframe(VideoCodec::H264, &[0x5c, 0x81, 0x9a])); // start of non-IDR
        assert!(!is_keyframe(VideoCodec::H264, &[0x7c]));
    }

    #[test]
    fn vp8_descriptor_variants() {
        // Minimal descriptor: S=1, PID=0; payload header P=0.
        assert!(is_keyframe(VideoCodec::Vp8, &[0x10, 0x9c]));
        assert!(!is_keyframe(VideoCodec::Vp8, &[0x10, 0x9d])); // P=1
        assert!(!is_keyframe(VideoCodec::Vp8, &[0x00, 0x9c])); // S=0
        assert!(!is_keyframe(VideoCodec::Vp8, &[0x11, 0x9c])); // PID=1
        // X, I with 15-bit picture id, L, T: 1 + 1 + 2 + 1 + 1 bytes then the header.
        assert!(is_keyframe(
            VideoCodec::Vp8,
            &[0x90, 0xe0, 0x80, 0x01, 0x05, 0x20, 0x9c]
        ));
        assert!(!is_keyframe(
            VideoCodec::Vp8,
            &[0x90, 0xe0, 0x80, 0x01, 0x05, 0x20, 0x9d]
        ));
        // 7-bit picture id.
        assert!(is_keyframe(VideoCodec::Vp8, &[0x90, 0x80, 0x05, 0x9c]));
        // Truncated: never panics, never true.
        for p in [
            &[][..],
            &[0x90],
            &[0x90, 0x80],
            &[0x90, 0x80, 0x85],
            &[0x10],
        ] {
            assert!(!is_keyframe(VideoCodec::Vp8, p));
        }
    }
}
