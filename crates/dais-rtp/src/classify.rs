//! Demultiplexing of one UDP port shared by RTP, RTCP, STUN and DTLS.

/// What a datagram on a shared port carries.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PacketClass {
    /// RTP media (or SRTP).
    Rtp,
    /// RTCP (or SRTCP), muxed on the RTP port (RFC 5761).
    Rtcp,
    /// STUN (ICE connectivity checks, consent).
    Stun,
    /// DTLS records (DTLS-SRTP handshake).
    Dtls,
    /// Anything else: ZRTP, TURN channel data, garbage, empty datagrams.
    Unknown,
}

/// RFC 7983 first-byte demultiplexing, then RFC 5761 §4 (RTCP packet types 192..=223 on a muxed port).
///
/// First byte 0..=3 is STUN, 20..=63 DTLS, 128..=191 RTP or RTCP; RTP/RTCP needs a second byte
/// to tell them apart: RTCP packet types 192..=223 would be RTP payload types 64..=95 with the
/// marker set, which RFC 5761 §4 reserves for exactly this reason. Nothing else is validated:
/// that is the parsers' job.
#[inline]
pub fn classify(buf: &[u8]) -> PacketClass {
    match buf {
        [0..=3, ..] => PacketClass::Stun,
        [20..=63, ..] => PacketClass::Dtls,
        [128..=191, 192..=223, ..] => PacketClass::Rtcp,
        [128..=191, _, ..] => PacketClass::Rtp,
        _ => PacketClass::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_byte_ranges_follow_rfc_7983() {
        assert_eq!(classify(&[0x00, 0x01, 0, 0]), PacketClass::Stun);
        assert_eq!(classify(&[0x03]), PacketClass::Stun);
        assert_eq!(classify(&[22, 0xfe, 0xfd]), PacketClass::Dtls);
        assert_eq!(classify(&[63]), PacketClass::Dtls);
        assert_eq!(classify(&[0x80, 96]), PacketClass::Rtp);
        assert_eq!(classify(&[0x80, 0x80 | 96]), PacketClass::Rtp);
        assert_eq!(classify(&[0x81, 201]), PacketClass::Rtcp);
        assert_eq!(classify(&[0x80, 200]), PacketClass::Rtcp);
        assert_eq!(classify(&[0x8f, 206]), PacketClass::Rtcp);
        assert_eq!(classify(&[0x80, 223]), PacketClass::Rtcp);
        assert_eq!(classify(&[0x80, 224]), PacketClass::Rtp);
        assert_eq!(classify(&[0x80]), PacketClass::Unknown);
        assert_eq!(classify(&[]), PacketClass::Unknown);
        assert_eq!(classify(&[16, 0]), PacketClass::Unknown); // ZRTP
        assert_eq!(classify(&[64, 0]), PacketClass::Unknown); // TURN channel
        assert_eq!(classify(&[200, 0]), PacketClass::Unknown);
    }
}
