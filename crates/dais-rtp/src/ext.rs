//! RTP header extensions (RFC 8285): a zero-copy iterator over one-byte and two-byte elements,
//! and the RFC 6464 client-to-mixer audio level.

use crate::header::RtpHeader;

/// "Defined by profile" value of the one-byte header form (RFC 8285 §4.2).
pub const ONE_BYTE_PROFILE: u16 = 0xbede;
/// The two-byte form's profile value, with the 4 "appbits" masked off (RFC 8285 §4.3).
pub const TWO_BYTE_PROFILE: u16 = 0x1000;

/// One header extension element: its local identifier and its data (borrowed from the packet).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExtensionElement<'a> {
    /// Local identifier negotiated in SDP (`a=extmap`): 1..=14 one-byte, 1..=255 two-byte.
    pub id: u8,
    /// The element's data.
    pub data: &'a [u8],
}

/// Iterator over the elements of an RFC 8285 header extension block.
///
/// Padding bytes are skipped. Iteration stops (without error) at the end of the block, at the
/// reserved one-byte ID 15 (RFC 8285 §4.2 says to stop processing there) and at an element whose
/// length runs past the block: what came before is still yielded, nothing after it is guessed.
/// A block with another profile (not RFC 8285) yields nothing.
#[derive(Debug, Clone)]
pub struct Extensions<'a> {
    body: &'a [u8],
    two_byte: bool,
}

impl<'a> Extensions<'a> {
    /// Iterates the extension block of `buf`, the packet `header` was parsed from.
    pub fn new(header: &RtpHeader, buf: &'a [u8]) -> Extensions<'a> {
        let empty = Extensions {
            body: &[],
            two_byte: false,
        };
        let Some((profile, range)) = header.extension_range(buf) else {
            return empty;
        };
        let body = buf.get(range).unwrap_or(&[]);
        if profile == ONE_BYTE_PROFILE {
            Extensions {
                body,
                two_byte: false,
            }
        } else if profile & 0xfff0 == TWO_BYTE_PROFILE {
            Extensions {
                body,
                two_byte: true,
            }
        } else {
            empty
        }
    }

    /// The element with local identifier `id`, if present.
    pub fn get(self, id: u8) -> Option<&'a [u8]> {
        let mut it = self;
        it.find(|e| e.id == id).map(|e| e.data)
    }
}

impl<'a> Iterator for Extensions<'a> {
    type Item = ExtensionElement<'a>;

    fn next(&mut self) -> Option<ExtensionElement<'a>> {
        loop {
            let (&first, rest) = self.body.split_first()?;
            if first == 0 {
                // Padding byte (ID 0) in either form.
                self.body = rest;
                continue;
            }
            let (id, len, rest) = if self.two_byte {
                let Some((&len, rest)) = rest.split_first() else {
                    self.body = &[];
                    return None;
                };
                (first, len as usize, rest)
            } else {
                let id = first >> 4;
                if id == 15 {
                    self.body = &[];
                    return None;
                }
                (id, (first & 0x0f) as usize + 1, rest)
            };
            let Some(data) = rest.get(..len) else {
                self.body = &[];
                return None;
            };
            self.body = &rest[len..];
            return Some(ExtensionElement { id, data });
        }
    }
}

impl RtpHeader {
    /// The RFC 8285 header extension elements of `buf`, the packet this header was parsed from.
    pub fn extensions<'a>(&self, buf: &'a [u8]) -> Extensions<'a> {
        Extensions::new(self, buf)
    }
}

/// The RFC 6464 audio level carried in extension `ext_id`: `(voice activity, level)`, the level
/// in -dBov (0 is loudest, 127 silence). `None` if the packet does not parse or has no such element.
pub fn audio_level(buf: &[u8], ext_id: u8) -> Option<(bool, u8)> {
    let header = RtpHeader::parse(buf).ok()?;
    let data = header.extensions(buf).get(ext_id)?;
    let &b = data.first()?;
    Some((b & 0x80 != 0, b & 0x7f))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with_ext(profile: u16, body: &[u8]) -> Vec<u8> {
        assert_eq!(body.len() % 4, 0);
        let mut v = vec![0x90, 111, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1];
        v.extend_from_slice(&profile.to_be_bytes());
        v.extend_from_slice(&((body.len() / 4) as u16).to_be_bytes());
        v.extend_from_slice(body);
        v.extend_from_slice(&[0xaa, 0xbb]);
        v
    }

    fn elements(p: &[u8]) -> Vec<(u8, Vec<u8>)> {
        let h = RtpHeader::parse(p).unwrap();
        h.extensions(p).map(|e| (e.id, e.data.to_vec())).collect()
    }

    #[test]
    fn one_byte_elements_with_padding() {
        // id 1 len 1 (audio level 0x85), padding, id 3 len 3, trailing padding.
        let p = with_ext(0xbede, &[0x10, 0x85, 0x00, 0x32, 1, 2, 3, 0x00]);
        assert_eq!(elements(&p), vec![(1, vec![0x85]), (3, vec![1, 2, 3])]);
        assert_eq!(audio_level(&p, 1), Some((true, 5)));
        assert_eq!(audio_level(&p, 2), None);
    }

    #[test]
    fn one_byte_id_15_stops_and_overruns_stop() {
        let p = with_ext(0xbede, &[0x10, 0x01, 0xf0, 0x20, 0x07, 0, 0, 0]);
        assert_eq!(elements(&p), vec![(1, vec![0x01])]);
        // id 2 claims 16 bytes, block has 3 left.
        let p = with_ext(0xbede, &[0x10, 0x01, 0x2f, 0x00]);
        assert_eq!(elements(&p), vec![(1, vec![0x01])]);
    }

    #[test]
    fn two_byte_elements_including_empty_ones() {
        let p = with_ext(0x1000, &[0x01, 0x00, 0x00, 0x20, 0x02, 9, 8, 0]);
        assert_eq!(elements(&p), vec![(1, vec![]), (0x20, vec![9, 8])]);
        // Appbits are ignored.
        let p = with_ext(0x100f, &[0x05, 0x01, 0x7f, 0x00]);
        assert_eq!(elements(&p), vec![(5, vec![0x7f])]);
        assert_eq!(audio_level(&p, 5), Some((false, 127)));
        // Truncated length byte.
        let p = with_ext(0x1000, &[0x00, 0x00, 0x00, 0x07]);
        assert_eq!(elements(&p), vec![]);
    }

    #[test]
    fn other_profiles_and_no_extension_yield_nothing() {
        let p = with_ext(0xabac, &[0x10, 0x01, 0, 0]);
        assert_eq!(elements(&p), vec![]);
        let p = [0x80, 0, 0, 1, 0, 0, 0, 1, 0, 0, 0, 1];
        assert_eq!(elements(&p), vec![]);
        assert_eq!(audio_level(&[1, 2, 3], 1), None);
    }
}
