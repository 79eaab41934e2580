//! The RTP fixed header (RFC 3550 §5.1): an allocation-free parse and in-place rewrites.

use std::fmt;

/// An RTP synchronisation source. Debug prints `Ssrc(0x1234abcd)`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Ssrc(pub u32);

impl fmt::Debug for Ssrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Ssrc({:#010x})", self.0)
    }
}

impl fmt::Display for Ssrc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#010x}", self.0)
    }
}

impl From<u32> for Ssrc {
    fn from(v: u32) -> Self {
        Ssrc(v)
    }
}

impl From<Ssrc> for u32 {
    fn from(v: Ssrc) -> Self {
        v.0
    }
}

/// Why an RTP packet was rejected.
///
/// Every variant is the sending peer's fault: the packet is dropped and counted, never answered.
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RtpError {
    /// Fewer bytes than the 12-byte fixed header.
    #[error("RTP packet too short: {len} bytes, the fixed header needs 12")]
    TooShort {
        /// Length of the datagram.
        len: usize,
    },
    /// The version field is not 2.
    #[error("RTP version {0}, expected 2")]
    BadVersion(u8),
    /// The CSRC list announced by the CC field runs past the end of the datagram.
    #[error("{csrc_count} CSRCs announced but only {len} bytes in the packet")]
    CsrcOverrun {
        /// The CC field.
        csrc_count: u8,
        /// Length of the datagram.
        len: usize,
    },
    /// The header extension (its 4-byte preamble or its announced length) runs past the end.
    #[error("header extension needs {needed} bytes, packet has {len}")]
    ExtensionOverrun {
        /// Bytes the headers (fixed, CSRCs, extension) need.
        needed: usize,
        /// Length of the datagram.
        len: usize,
    },
    /// The P bit is set but the padding count is 0 or larger than what follows the headers.
    #[error("padding count {padding} invalid, {available} bytes follow the headers")]
    BadPadding {
        /// The last byte of the packet (the padding count).
        padding: u8,
        /// Bytes between the end of the headers and the end of the packet.
        available: usize,
    },
}

/// The parsed fixed header of an RTP packet plus the offsets the router needs (RFC 3550 §5.1).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RtpHeader {
    /// The M bit.
    pub marker: bool,
    /// The 7-bit payload type.
    pub payload_type: u8,
    /// The 16-bit sequence number, as sent.
    pub sequence: u16,
    /// The 32-bit media timestamp, as sent.
    pub timestamp: u32,
    /// The synchronisation source.
    pub ssrc: Ssrc,
    /// The CC field: how many CSRCs follow the fixed header.
    pub csrc_count: u8,
    /// The X bit: a header extension follows the CSRCs.
    pub has_extension: bool,
    /// Fixed header + CSRCs + header extension, in bytes.
    pub header_len: usize,
    /// Payload bytes, padding excluded.
    pub payload_len: usize,
    /// Padding bytes at the end (the count byte included); 0 when the P bit is clear.
    pub padding_len: u8,
}

/// Length of the fixed RTP header.
pub const FIXED_HEADER_LEN: usize = 12;

impl RtpHeader {
    /// Validates version 2, CSRC count, extension length and padding against the buffer.
    ///
    /// Allocation-free and reads only the header bytes and the last byte (padding count).
    #[inline]
    pub fn parse(buf: &[u8]) -> Result<RtpHeader, RtpError> {
        let len = buf.len();
        let Some(fixed) = buf.first_chunk::<FIXED_HEADER_LEN>() else {
            return Err(RtpError::TooShort { len });
        };
        let b0 = fixed[0];
        let version = b0 >> 6;
        if version != 2 {
            return Err(RtpError::BadVersion(version));
        }
        let has_padding = b0 & 0x20 != 0;
        let has_extension = b0 & 0x10 != 0;
        let csrc_count = b0 & 0x0f;
        let mut header_len = FIXED_HEADER_LEN + 4 * csrc_count as usize;
        if header_len > len {
            return Err(RtpError::CsrcOverrun { csrc_count, len });
        }
        if has_extension {
            // RFC 3550 §5.3.1: 16-bit profile word, 16-bit length in 32-bit words (preamble excluded).
            let Some(words) = buf.get(header_len + 2..header_len + 4) else {
                return Err(RtpError::ExtensionOverrun {
                    needed: header_len + 4,
                    len,
                });
            };
            let ext_words = u16::from_be_bytes([words[0], words[1]]) as usize;
            header_len += 4 + 4 * ext_words;
            if header_len > len {
                return Err(RtpError::ExtensionOverrun {
                    needed: header_len,
                    len,
                });
            }
        }
        let available = len - header_len;
        let padding_len = if has_padding {
            // Non-empty: len >= 12. The count includes itself, so 0 is malformed (RFC 3550 §5.1).
            let padding = buf[len - 1];
            if padding == 0 || padding as usize > available {
                return Err(RtpError::BadPadding { padding, available });
            }
            padding
        } else {
            0
        };
        Ok(RtpHeader {
            marker: fixed[1] & 0x80 != 0,
            payload_type: fixed[1] & 0x7f,
            sequence: u16::from_be_bytes([fixed[2], fixed[3]]),
            timestamp: u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]),
            ssrc: Ssrc(u32::from_be_bytes([
                fixed[8], fixed[9], fixed[10], fixed[11],
            ])),
            csrc_count,
            has_extension,
            header_len,
            payload_len: available - padding_len as usize,
            padding_len,
        })
    }

    /// The payload of `buf` (the buffer this header was parsed from), padding excluded.
    ///
    /// Returns an empty slice if `buf` is shorter than the header says (a different buffer).
    #[inline]
    pub fn payload<'a>(&self, buf: &'a [u8]) -> &'a [u8] {
        buf.get(self.header_len..self.header_len + self.payload_len)
            .unwrap_or(&[])
    }

    /// Byte range of the header extension body (after its 4-byte preamble) within the packet,
    /// and the 16-bit "defined by profile" word; `None` when the X bit is clear.
    pub fn extension_range(&self, buf: &[u8]) -> Option<(u16, std::ops::Range<usize>)> {
        if !self.has_extension {
            return None;
        }
        let start = FIXED_HEADER_LEN + 4 * self.csrc_count as usize;
        let pre = buf.get(start..start + 4)?;
        let profile = u16::from_be_bytes([pre[0], pre[1]]);
        let body = start + 4..self.header_len;
        buf.get(body.clone())?;
        Some((profile, body))
    }
}

/// Overwrites SSRC, sequence number and timestamp in place (bytes 2..12).
///
/// A buffer shorter than 12 bytes is left untouched (callers rewrite only parsed packets).
#[inline]
pub fn rewrite_header(buf: &mut [u8], ssrc: Ssrc, sequence: u16, timestamp: u32) {
    if let Some(h) = buf.get_mut(2..FIXED_HEADER_LEN) {
        h[0..2].copy_from_slice(&sequence.to_be_bytes());
        h[2..6].copy_from_slice(&timestamp.to_be_bytes());
        h[6..10].copy_from_slice(&ssrc.0.to_be_bytes());
    }
}

/// Sets the 7-bit payload type, keeping the marker bit. No-op on a buffer shorter than 2 bytes.
#[inline]
pub fn set_payload_type(buf: &mut [u8], pt: u8) {
    if let Some(b) = buf.get_mut(1) {
        *b = (*b & 0x80) | (pt & 0x7f);
    }
}

/// Sets or clears the marker bit. No-op on a buffer shorter than 2 bytes.
#[inline]
pub fn set_marker(buf: &mut [u8], marker: bool) {
    if let Some(b) = buf.get_mut(1) {
        *b = (*b & 0x7f) | if marker { 0x80 } else { 0 };
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(b0: u8, extra: &[u8]) -> Vec<u8> {
        let mut v = vec![
            b0,
            0x80 | 96,
            0x12,
            0x34,
            0,
            0,
            0x10,
            0,
            0xde,
            0xad,
            0xbe,
            0xef,
        ];
        v.extend_from_slice(extra);
        v
    }

    #[test]
    fn parses_fixed_header_fields() {
        let p = pkt(0x80, &[1, 2, 3]);
        let h = RtpHeader::parse(&p).unwrap();
        assert!(h.marker);
        assert_eq!(h.payload_type, 96);
        assert_eq!(h.sequence, 0x1234);
        assert_eq!(h.timestamp, 0x1000);
        assert_eq!(h.ssrc, Ssrc(0xdeadbeef));
        assert_eq!((h.header_len, h.payload_len, h.padding_len), (12, 3, 0));
        assert_eq!(h.payload(&p), &[1, 2, 3]);
        assert_eq!(format!("{:?}", Ssrc(0x1234abcd)), "Ssrc(0x1234abcd)");
        assert_eq!(format!("{:?}", Ssrc(1)), "Ssrc(0x00000001)");
    }

    #[test]
    fn csrcs_extension_and_padding_are_accounted_for() {
        // CC=1, X=1, P=1: CSRC, extension of one word, 2-byte payload, 3 bytes padding.
        let p = pkt(
            0x80 | 0x20 | 0x10 | 1,
            &[
                0, 0, 0, 9, 0xbe, 0xde, 0, 1, 0x10, 0xff, 0, 0, 0xaa, 0xbb, 0, 0, 3,
            ],
        );
        let h = RtpHeader::parse(&p).unwrap();
        assert_eq!(h.csrc_count, 1);
        assert!(h.has_extension);
        assert_eq!(h.header_len, 12 + 4 + 4 + 4);
        assert_eq!(h.padding_len, 3);
        assert_eq!(h.payload(&p), &[0xaa, 0xbb]);
        let (profile, range) = h.extension_range(&p).unwrap();
        assert_eq!(profile, 0xbede);
        assert_eq!(&p[range], &[0x10, 0xff, 0, 0]);
    }

    #[test]
    fn malformed_headers_are_named() {
        assert_eq!(
            RtpHeader::parse(&[0x80; 11]),
            Err(RtpError::TooShort { len: 11 })
        );
        assert_eq!(
            RtpHeader::parse(&pkt(0x40, &[])),
            Err(RtpError::BadVersion(1))
        );
        assert_eq!(
            RtpHeader::parse(&pkt(0x82, &[0, 0, 0, 1])),
            Err(RtpError::CsrcOverrun {
                csrc_count: 2,
                len: 16
            })
        );
        assert_eq!(
            RtpHeader::parse(&pkt(0x90, &[0xbe, 0xde])),
            Err(RtpError::ExtensionOverrun {
                needed: 16,
                len: 14
            })
        );
        assert_eq!(
            RtpHeader::parse(&pkt(0x90, &[0xbe, 0xde, 0, 2, 0, 0, 0, 0])),
            Err(RtpError::ExtensionOverrun {
                needed: 24,
                len: 20
            })
        );
        assert_eq!(
            RtpHeader::parse(&pkt(0xa0, &[1, 0])),
            Err(RtpError::BadPadding {
                padding: 0,
                available: 2
            })
        );
        assert_eq!(
            RtpHeader::parse(&pkt(0xa0, &[1, 3])),
            Err(RtpError::BadPadding {
                padding: 3,
                available: 2
            })
        );
        // Padding that eats the whole payload is legal.
        assert_eq!(
            RtpHeader::parse(&pkt(0xa0, &[0, 2])).unwrap().payload_len,
            0
        );
    }

    #[test]
    fn rewrites_touch_only_their_fields() {
        let mut p = pkt(0x80, &[7, 8]);
        rewrite_header(&mut p, Ssrc(0x01020304), 0xfffe, 0xcafebabe);
        set_payload_type(&mut p, 111);
        let h = RtpHeader::parse(&p).unwrap();
        assert_eq!(
            (h.ssrc, h.sequence, h.timestamp),
            (Ssrc(0x01020304), 0xfffe, 0xcafebabe)
        );
        assert_eq!(h.payload_type, 111);
        assert!(h.marker, "set_payload_type keeps the marker");
        set_marker(&mut p, false);
        let h = RtpHeader::parse(&p).unwrap();
        assert!(!h.marker);
        assert_eq!(h.payload_type, 111);
        assert_eq!(h.payload(&p), &[7, 8]);
        // Short buffers are left alone.
        let mut short = [0x80u8; 5];
        rewrite_header(&mut short, Ssrc(1), 1, 1);
        assert_eq!(short, [0x80; 5]);
        set_marker(&mut [], true);
        set_payload_type(&mut [0x80], 1);
    }
}
