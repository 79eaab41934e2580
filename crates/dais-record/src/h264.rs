//! H.264 over RTP (RFC 6184) back to access units: single NAL unit packets, STAP-A and FU-A
//! (packetization modes 0 and 1; the interleaved mode's STAP-B/MTAP/FU-B are refused).
//!
//! Loss handling: a gap in the sequence numbers, or an FU-A that does not start, continue and
//! end in order, throws the access unit away and everything after it until the next keyframe
//! (IDR), because an H.264 decoder fed a picture whose references are missing shows garbage
//! until then. The recording therefore freezes on the last good picture rather than smearing.

use dais_rtp::RtpHeader;

/// NAL unit types this module cares about (H.264 Table 7-1, RFC 6184 Table 3).
pub mod nal {
    /// Coded slice of an IDR picture: a keyframe.
    pub const IDR: u8 = 5;
    /// Sequence parameter set.
    pub const SPS: u8 = 7;
    /// Picture parameter set.
    pub const PPS: u8 = 8;
    /// Single-time aggregation packet (RFC 6184 §5.7.1).
    pub const STAP_A: u8 = 24;
    /// Fragmentation unit (RFC 6184 §5.8).
    pub const FU_A: u8 = 28;
}

/// Largest access unit accepted (bytes): bounds memory against a source that never ends one.
pub const MAX_ACCESS_UNIT: usize = 4 << 20;

/// Why a packet's payload could not be used. The depacketiser recovers by itself (it waits for
/// the next keyframe); these are reported for counting.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DepacketizeError {
    /// The RTP header is malformed.
    #[error("bad RTP header: {0}")]
    Rtp(#[from] dais_rtp::RtpError),
    /// The payload is empty.
    #[error("empty RTP payload")]
    Empty,
    /// A NAL unit type this depacketiser does not handle (0, 25–27, 29–31).
    #[error("unsupported NAL unit type {0}")]
    Unsupported(u8),
    /// A STAP-A whose NAL sizes run past the payload, or hold an empty NAL unit.
    #[error("STAP-A aggregate truncated at byte {at}")]
    BadStapA {
        /// Offset in the payload where the next unit did not fit.
        at: usize,
    },
    /// An FU-A shorter than its two header bytes, or with both start and end bits set.
    #[error("malformed FU-A header")]
    BadFuA,
    /// An FU-A continuation without its start (the start was lost).
    #[error("FU-A fragment without its start")]
    FuWithoutStart,
    /// The access unit grew past [`MAX_ACCESS_UNIT`].
    #[error("access unit larger than {MAX_ACCESS_UNIT} bytes")]
    TooLarge,
}

/// One complete picture: its NAL units (without start codes or length prefixes) and its RTP
/// timestamp (90 kHz).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AccessUnit {
    /// RTP timestamp of the picture.
    pub timestamp: u32,
    /// The NAL units in decoding order.
    pub nals: Vec<Vec<u8>>,
    /// Contains an IDR slice.
    pub keyframe: bool,
}

impl AccessUnit {
    /// The NAL units of one type.
    pub fn nals_of_type(&self, t: u8) -> impl Iterator<Item = &[u8]> {
        self.nals
            .iter()
            .filter(move |n| n.first().is_some_and(|h| h & 0x1f == t))
            .map(Vec::as_slice)
    }
}

/// Counters of a depacketiser.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DepacketizeStats {
    /// Packets accepted.
    pub packets: u64,
    /// Packets refused (malformed or unsupported).
    pub malformed: u64,
    /// Sequence gaps seen.
    pub gaps: u64,
    /// Access units delivered.
    pub access_units: u64,
    /// Access units thrown away (incomplete, or waiting for a keyframe after a loss).
    pub discarded: u64,
}

/// Reassembles H.264 access units from the RTP packets of one stream (the switched feed: one
/// SSRC, one sequence space).
#[derive(Debug, Default)]
pub struct Depacketizer {
    current: Option<Pending>,
    last_seq: Option<u16>,
    /// After a loss: drop everything until an access unit with an IDR slice.
    need_keyframe: bool,
    /// The access unit in progress is damaged; drop it when it ends.
    damaged: bool,
    /// An FU-A in progress: its reassembled NAL unit.
    fu: Option<Vec<u8>>,
    stats: DepacketizeStats,
    ready: Option<AccessUnit>,
}

#[derive(Debug)]
struct Pending {
    timestamp: u32,
    nals: Vec<Vec<u8>>,
    bytes: usize,
}

impl Depacketizer {
    /// A depacketiser that waits for a keyframe before delivering anything.
    pub fn new() -> Self {
        Depacketizer {
            need_keyframe: true,
            ..Default::default()
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> DepacketizeStats {
        self.stats
    }

    /// Feeds one RTP datagram. Returns a completed access unit when this packet completed one
    /// (marker bit) or started the next (a new timestamp). Packets must come in sequence order
    /// (the switched feed is forwarded in arrival order; a reordered packet counts as a loss).
    ///
    /// # Errors
    /// A malformed or unsupported packet: it is dropped, the access unit it belonged to is
    /// discarded, and the depacketiser waits for the next keyframe.
    pub fn push(&mut self, datagram: &[u8]) -> Result<Option<AccessUnit>, DepacketizeError> {
        let hdr = match RtpHeader::parse(datagram) {
            Ok(h) => h,
            Err(e) => {
                self.stats.malformed += 1;
                return Err(e.into());
            }
        };
        let payload = hdr.payload(datagram);
        if let Some(last) = self.last_seq
            && hdr.sequence != last.wrapping_add(1)
        {
            self.stats.gaps += 1;
            self.lost();
        }
        self.last_seq = Some(hdr.sequence);
        if self
            .current
            .as_ref()
            .is_some_and(|p| p.timestamp != hdr.timestamp)
        {
            // A new picture started without the previous one's marker (marker lost or unset).
            self.finish();
        }
        if self.current.is_none() {
            self.current = Some(Pending {
                timestamp: hdr.timestamp,
                nals: Vec::new(),
                bytes: 0,
            });
        }
        let r = self.payload(payload);
        match &r {
            Ok(()) => self.stats.packets += 1,
            Err(_) => {
                self.stats.malformed += 1;
                self.lost();
            }
        }
        if hdr.marker {
            self.finish();
        }
        r.map(|()| self.ready.take())
    }

    /// The stream changed under us (a switch forced without a keyframe): the access unit in
    /// progress and everything until the next keyframe are dropped.
    pub fn resync(&mut self) {
        self.lost();
    }

    /// The access unit in progress is unusable and so is everything until the next keyframe.
    fn lost(&mut self) {
        self.damaged = true;
        self.need_keyframe = true;
        self.fu = None;
    }

    fn payload(&mut self, p: &[u8]) -> Result<(), DepacketizeError> {
        let Some(&h) = p.first() else {
            return Err(DepacketizeError::Empty);
        };
        match h & 0x1f {
            1..=23 => {
                self.fu = None;
                self.add(p.to_vec())
            }
            nal::STAP_A => {
                self.fu = None;
                let mut at = 1;
                while at < p.len() {
                    let (Some(&a), Some(&b)) = (p.get(at), p.get(at + 1)) else {
                        return Err(DepacketizeError::BadStapA { at });
                    };
                    let size = usize::from(u16::from_be_bytes([a, b]));
                    let Some(unit) = p.get(at + 2..at + 2 + size).filter(|u| !u.is_empty()) else {
                        return Err(DepacketizeError::BadStapA { at });
                    };
                    self.add(unit.to_vec())?;
                    at += 2 + size;
                }
                Ok(())
            }
            nal::FU_A => {
                let (Some(&fu), Some(data)) = (p.get(1), p.get(2..)) else {
                    return Err(DepacketizeError::BadFuA);
                };
                let (start, end) = (fu & 0x80 != 0, fu & 0x40 != 0);
                if start && end {
                    return Err(DepacketizeError::BadFuA);
                }
                if start {
                    let mut n = Vec::with_capacity(1 + data.len());
                    n.push((h & 0xe0) | (fu & 0x1f));
                    n.extend_from_slice(data);
                    self.fu = Some(n);
                } else {
                    let Some(n) = self.fu.as_mut() else {
                        return Err(DepacketizeError::FuWithoutStart);
                    };
                    if n.len() + data.len() > MAX_ACCESS_UNIT {
                        return Err(DepacketizeError::TooLarge);
                    }
                    n.extend_from_slice(data);
                }
                if end && let Some(n) = self.fu.take() {
                    self.add(n)?;
                }
                Ok(())
            }
            t => Err(DepacketizeError::Unsupported(t)),
        }
    }

    fn add(&mut self, unit: Vec<u8>) -> Result<(), DepacketizeError> {
        let Some(cur) = self.current.as_mut() else {
            return Ok(());
        };
        cur.bytes += unit.len();
        if cur.bytes > MAX_ACCESS_UNIT {
            return Err(DepacketizeError::TooLarge);
        }
        cur.nals.push(unit);
        Ok(())
    }

    fn finish(&mut self) {
        let Some(p) = self.current.take() else {
            return;
        };
        let damaged = std::mem::take(&mut self.damaged) || self.fu.take().is_some();
        if p.nals.is_empty() {
            if damaged {
                self.stats.discarded += 1;
            }
            return;
        }
        let keyframe = p
            .nals
            .iter()
            .any(|n| n.first().is_some_and(|h| h & 0x1f == nal::IDR));
        if damaged || (self.need_keyframe && !keyframe) {
            self.stats.discarded += 1;
            return;
        }
        self.need_keyframe = false;
        self.stats.access_units += 1;
        self.ready = Some(AccessUnit {
            timestamp: p.timestamp,
            nals: p.nals,
            keyframe,
        });
    }
}

/// Splits access units into RTP packets (RFC 6184 mode 1): NAL units that fit go alone, larger
/// ones as FU-A fragments; SPS and PPS travel together in one STAP-A. The marker bit is set on
/// the last packet of the access unit. Used by tests and tools that play H.264 as a venue.
#[derive(Debug)]
pub struct Packetizer {
    /// Payload type written into each packet.
    pub payload_type: u8,
    /// SSRC written into each packet.
    pub ssrc: u32,
    /// Next sequence number.
    pub sequence: u16,
    /// Largest payload per packet.
    pub mtu: usize,
}

impl Packetizer {
    /// Packets of one access unit (NAL units without start codes) at RTP time `timestamp`.
    pub fn packetize(&mut self, timestamp: u32, nals: &[&[u8]]) -> Vec<Vec<u8>> {
        let mut payloads: Vec<Vec<u8>> = Vec::new();
        let mut i = 0;
        while i < nals.len() {
            let n = nals[i];
            let t = n.first().map_or(0, |h| h & 0x1f);
            if t == nal::SPS
                && nals
                    .get(i + 1)
                    .is_some_and(|p| p.first().is_some_and(|h| h & 0x1f == nal::PPS))
            {
                let pps = nals[i + 1];
                let mut p = vec![(n[0] & 0x60) | nal::STAP_A];
                for u in [n, pps] {
                    p.extend_from_slice(&(u.len() as u16).to_be_bytes());
                    p.extend_from_slice(u);
                }
                payloads.push(p);
                i += 2;
                continue;
            }
            if n.len() <= self.mtu {
                payloads.push(n.to_vec());
            } else if let Some((&h, body)) = n.split_first() {
                let chunk = self.mtu.saturating_sub(2).max(1);
                let parts: Vec<&[u8]> = body.chunks(chunk).collect();
                for (k, part) in parts.iter().enumerate() {
                    let mut fu = (h & 0x1f) & 0x1f;
                    if k == 0 {
                        fu |= 0x80;
                    }
                    if k + 1 == parts.len() {
                        fu |= 0x40;
                    }
                    let mut p = vec![(h & 0xe0) | nal::FU_A, fu];
                    p.extend_from_slice(part);
                    payloads.push(p);
                }
            }
            i += 1;
        }
        let last = payloads.len().saturating_sub(1);
        payloads
            .into_iter()
            .enumerate()
            .map(|(k, p)| {
                let mut pkt = Vec::with_capacity(12 + p.len());
                pkt.push(0x80);
                pkt.push(self.payload_type & 0x7f | if k == last { 0x80 } else { 0 });
                pkt.extend_from_slice(&self.sequence.to_be_bytes());
                pkt.extend_from_slice(&timestamp.to_be_bytes());
                pkt.extend_from_slice(&self.ssrc.to_be_bytes());
                pkt.extend_from_slice(&p);
                self.sequence = self.sequence.wrapping_add(1);
                pkt
            })
            .collect()
    }
}

/// Splits an Annex B byte stream (start codes `00 00 01` / `00 00 00 01`) into NAL units.
pub fn split_annex_b(stream: &[u8]) -> Vec<&[u8]> {
    let mut out = Vec::new();
    let mut starts = Vec::new();
    let mut i = 0;
    while i + 3 <= stream.len() {
        if stream[i] == 0 && stream[i + 1] == 0 && stream[i + 2] == 1 {
            starts.push((i, i + 3));
            i += 3;
        } else {
            i += 1;
        }
    }
    for (k, &(_, body)) in starts.iter().enumerate() {
        let mut end = starts.get(k + 1).map_or(stream.len(), |&(s, _)| s);
        // A four-byte start code's leading zero (and trailing_zero_8bits) belong to no NAL unit.
        while end > body && stream[end - 1] == 0 {
            end -= 1;
        }
        if end > body {
            out.push(&stream[body..end]);
        }
    }
    out
}

/// Picture size and codec profile read from a sequence parameter set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SpsInfo {
    /// `profile_idc`.
    pub profile: u8,
    /// `constraint_set` flags byte.
    pub compatibility: u8,
    /// `level_idc`.
    pub level: u8,
    /// Width in pixels after cropping.
    pub width: u32,
    /// Height in pixels after cropping.
    pub height: u32,
}

/// Why an SPS could not be read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpsError {
    /// The NAL unit is not an SPS.
    #[error("not a sequence parameter set")]
    NotSps,
    /// The bits ran out before the picture size.
    #[error("sequence parameter set truncated")]
    Truncated,
    /// A value outside what H.264 allows.
    #[error("sequence parameter set field out of range")]
    OutOfRange,
}

struct Bits<'a> {
    data: Vec<u8>,
    pos: usize,
    _p: std::marker::PhantomData<&'a ()>,
}

impl Bits<'_> {
    fn new(nal: &[u8]) -> Self {
        // Remove emulation prevention bytes (00 00 03 → 00 00).
        let mut data = Vec::with_capacity(nal.len());
        let mut zeros = 0;
        for &b in nal {
            if zeros >= 2 && b == 3 {
                zeros = 0;
                continue;
            }
            zeros = if b == 0 { zeros + 1 } else { 0 };
            data.push(b);
        }
        Bits {
            data,
            pos: 0,
            _p: std::marker::PhantomData,
        }
    }

    fn bit(&mut self) -> Result<u32, SpsError> {
        let byte = self.data.get(self.pos / 8).ok_or(SpsError::Truncated)?;
        let b = (byte >> (7 - self.pos % 8)) & 1;
        self.pos += 1;
        Ok(u32::from(b))
    }

    fn bits(&mut self, n: u32) -> Result<u32, SpsError> {
        let mut v = 0;
        for _ in 0..n {
            v = (v << 1) | self.bit()?;
        }
        Ok(v)
    }

    fn ue(&mut self) -> Result<u32, SpsError> {
        let mut zeros = 0;
        while self.bit()? == 0 {
            zeros += 1;
            if zeros > 31 {
                return Err(SpsError::OutOfRange);
            }
        }
        Ok(((1u64 << zeros) - 1 + u64::from(self.bits(zeros)?)) as u32)
    }

    fn se(&mut self) -> Result<i32, SpsError> {
        let k = self.ue()?;
        Ok(if k % 2 == 1 {
            k.div_ceil(2) as i32
        } else {
            -((k / 2) as i32)
        })
    }
}

/// Reads profile, level and picture size from an SPS NAL unit (H.264 §7.3.2.1.1).
///
/// # Errors
/// [`SpsError`] when the unit is not an SPS or is truncated or out of range.
pub fn parse_sps(nal_unit: &[u8]) -> Result<SpsInfo, SpsError> {
    if nal_unit.first().map(|h| h & 0x1f) != Some(nal::SPS) || nal_unit.len() < 4 {
        return Err(SpsError::NotSps);
    }
    let (profile, compatibility, level) = (nal_unit[1], nal_unit[2], nal_unit[3]);
    let mut r = Bits::new(&nal_unit[4..]);
    r.ue()?; // seq_parameter_set_id
    let mut chroma_format_idc = 1;
    if matches!(
        profile,
        100 | 110 | 122 | 244 | 44 | 83 | 86 | 118 | 128 | 138 | 139 | 134 | 135
    ) {
        chroma_format_idc = r.ue()?;
        if chroma_format_idc > 3 {
            return Err(SpsError::OutOfRange);
        }
        if chroma_format_idc == 3 {
            r.bit()?; // separate_colour_plane_flag
        }
        r.ue()?; // bit_depth_luma_minus8
        r.ue()?; // bit_depth_chroma_minus8
        r.bit()?; // qpprime_y_zero_transform_bypass_flag
        if r.bit()? == 1 {
            let lists = if chroma_format_idc == 3 { 12 } else { 8 };
            for i in 0..lists {
                if r.bit()? == 1 {
                    let size = if i < 6 { 16 } else { 64 };
                    let (mut last, mut next) = (8i32, 8i32);
                    for _ in 0..size {
                        if next != 0 {
                            next = (last + r.se()?).rem_euclid(256);
                        }
                        if next != 0 {
                            last = next;
                        }
                    }
                }
            }
        }
    }
    r.ue()?; // log2_max_frame_num_minus4
    let poc_type = r.ue()?;
    match poc_type {
        0 => {
            r.ue()?;
        }
        1 => {
            r.bit()?;
            r.se()?;
            r.se()?;
            let n = r.ue()?;
            if n > 255 {
                return Err(SpsError::OutOfRange);
            }
            for _ in 0..n {
                r.se()?;
            }
        }
        2 => {}
        _ => return Err(SpsError::OutOfRange),
    }
    r.ue()?; // max_num_ref_frames
    r.bit()?; // gaps_in_frame_num_value_allowed_flag
    let w_mbs = u64::from(r.ue()?) + 1;
    let h_map = u64::from(r.ue()?) + 1;
    let frame_mbs_only = u64::from(r.bit()?);
    if frame_mbs_only == 0 {
        r.bit()?; // mb_adaptive_frame_field_flag
    }
    r.bit()?; // direct_8x8_inference_flag
    let mut width = w_mbs * 16;
    let mut height = (2 - frame_mbs_only) * h_map * 16;
    if r.bit()? == 1 {
        let (l, rt, t, b) = (r.ue()?, r.ue()?, r.ue()?, r.ue()?);
        let (cx, cy) = match chroma_format_idc {
            0 | 3 => (1, 2 - frame_mbs_only),
            2 => (2, 2 - frame_mbs_only),
            _ => (2, 2 * (2 - frame_mbs_only)),
        };
        width = width.saturating_sub(cx * (u64::from(l) + u64::from(rt)));
        height = height.saturating_sub(cy * (u64::from(t) + u64::from(b)));
    }
    if width == 0 || height == 0 || width > 16384 || height > 16384 {
        return Err(SpsError::OutOfRange);
    }
    Ok(SpsInfo {
        profile,
        compatibility,
        level,
        width: width as u32,
        height: height as u32,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pk() -> Packetizer {
        Packetizer {
            payload_type: 96,
            ssrc: 7,
            sequence: 100,
            mtu: 50,
        }
    }

    fn idr(len: usize) -> Vec<u8> {
        let mut v = vec![0x65];
        v.extend((0..len).map(|i| (i % 251) as u8 + 1));
        v
    }

    #[test]
    fn single_stap_and_fu_round_trip() {
        let sps = [0x67u8, 0x42, 0xc0, 0x1e, 0xda];
        let pps = [0x68u8, 0xce, 0x3c, 0x80];
        let big = idr(400);
        let mut p = pk();
        let pkts = p.packetize(3000, &[&sps, &pps, &big]);
        assert!(pkts.len() > 3, "SPS+PPS aggregate plus FU-A fragments");
        let mut d = Depacketizer::new();
        let mut out = None;
        for pkt in &pkts {
            if let Some(au) = d.push(pkt).unwrap() {
                out = Some(au);
            }
        }
        let au = out.expect("the marker ends the access unit");
        assert_eq!(au.timestamp, 3000);
        assert!(au.keyframe);
        assert_eq!(au.nals, vec![sps.to_vec(), pps.to_vec(), big]);
    }

    #[test]
    fn loss_drops_until_the_next_keyframe() {
        let mut p = pk();
        let mut d = Depacketizer::new();
        let key = p.packetize(0, &[&idr(120)]);
        let delta1 = p.packetize(3000, &[&[0x41, 1, 2, 3][..]]);
        let delta2 = p.packetize(6000, &[&[0x41, 4, 5, 6][..]]);
        let key2 = p.packetize(9000, &[&idr(30)]);
        let mut got = Vec::new();
        for pkt in key.iter().take(1).chain(key.iter().skip(2)) {
            // The continuation after the lost fragment is refused; the rest is silence.
            got.extend(d.push(pkt).ok().flatten());
        }
        for pkt in delta1.iter().chain(&delta2).chain(&key2) {
            got.extend(d.push(pkt).unwrap());
        }
        assert_eq!(got.len(), 1, "only the second keyframe survives the loss");
        assert_eq!(got[0].timestamp, 9000);
        assert_eq!(
            (d.stats().gaps, d.stats().discarded),
            (1, 3),
            "{:?}",
            d.stats()
        );
    }

    #[test]
    fn waits_for_the_first_keyframe() {
        let mut p = pk();
        let mut d = Depacketizer::new();
        assert_eq!(d.push(&p.packetize(0, &[&[0x41, 9][..]])[0]).unwrap(), None);
        assert!(d.push(&p.packetize(3000, &[&idr(5)])[0]).unwrap().is_some());
        assert!(
            d.push(&p.packetize(6000, &[&[0x41, 9][..]])[0])
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn malformed_payloads_are_typed_errors() {
        let mut d = Depacketizer::new();
        let hdr = [0x80u8, 96, 0, 1, 0, 0, 0, 0, 0, 0, 0, 1];
        let with = |p: &[u8]| [&hdr[..], p].concat();
        assert_eq!(d.push(&with(&[])), Err(DepacketizeError::Empty));
        assert_eq!(
            d.push(&with(&[24, 0, 9, 1])),
            Err(DepacketizeError::BadStapA { at: 1 })
        );
        assert_eq!(d.push(&with(&[28])), Err(DepacketizeError::BadFuA));
        assert_eq!(
            d.push(&with(&[28, 0x05, 1])),
            Err(DepacketizeError::FuWithoutStart)
        );
        assert_eq!(
            d.push(&with(&[26, 1])),
            Err(DepacketizeError::Unsupported(26))
        );
        assert!(matches!(d.push(&[0x40, 0]), Err(DepacketizeError::Rtp(_))));
    }

    #[test]
    fn sps_of_a_real_encoder() {
        // libx264 baseline 320x240 SPS.
        let sps = [
            0x67, 0x42, 0xc0, 0x0d, 0xd9, 0x01, 0x41, 0xfb, 0x01, 0x10, 0x00, 0x00, 0x03, 0x00,
            0x10, 0x00, 0x00, 0x03, 0x03, 0x28, 0xf1, 0x42, 0xa4, 0x80,
        ];
        let info = parse_sps(&sps).unwrap();
        assert_eq!((info.width, info.height), (320, 240));
        // libx264 high profile 176x144.
        let high = [
            0x67, 0x64, 0x00, 0x0b, 0xac, 0xd9, 0x42, 0xc4, 0xec, 0x04, 0x40, 0x00, 0x00, 0x03,
            0x00, 0x40, 0x00, 0x00, 0x0c, 0x83, 0xc5, 0x0a, 0x65, 0x80,
        ];
        let info = parse_sps(&high).unwrap();
        assert_eq!((info.profile, info.width, info.height), (100, 176, 144));
        assert_eq!(parse_sps(&[0x68, 1, 2, 3]), Err(SpsError::NotSps));
        assert_eq!(parse_sps(&sps[..5]), Err(SpsError::Truncated));
    }

    #[test]
    fn annex_b_split() {
        let s = [
            0, 0, 0, 1, 0x67, 1, 0, 0, 1, 0x68, 2, 0, 0, 0, 1, 0x65, 3, 3,
        ];
        assert_eq!(
            split_annex_b(&s),
            vec![&[0x67, 1][..], &[0x68, 2][..], &[0x65, 3, 3][..]]
        );
    }

    proptest::proptest! {
        #[test]
        fn arbitrary_datagrams_never_panic(pkts in proptest::collection::vec(proptest::collection::vec(proptest::prelude::any::<u8>(), 0..200), 0..40)) {
            let mut d = Depacketizer::new();
            for p in &pkts {
                let _ = d.push(p);
            }
        }

        #[test]
        fn arbitrary_sps_never_panics(b in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..64)) {
            let mut v = vec![0x67];
            v.extend(b);
            let _ = parse_sps(&v);
        }
    }
}
