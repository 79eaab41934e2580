//! Synthetic venues: RTP video and audio generators that look like real endpoints to the router.
//!
//! Used by `daisd --demo`, the load-test harness and the end-to-end benchmark. They are sans-IO:
//! the caller passes the time and sends the bytes.
//!
//! Video is H.264-shaped (RFC 6184): each frame is split into FU-A fragments, keyframes carry an
//! IDR NAL type, interframes a non-IDR slice, so `dais_rtp::is_keyframe` classifies them like a
//! real encoder's output. Every payload carries a [`Probe`] after the FU-A header: which venue
//! sent it, when, and which frame, so a receiver can tell which venue it is watching, measure
//! latency and check that a switch landed on a keyframe.

/// RTP payload bytes reserved for the probe (after the 2-byte FU-A header).
pub const PROBE_LEN: usize = 4 + 4 + 8 + 4 + 2 + 1;
const MAGIC: [u8; 4] = *b"DAIS";
const FU_A: u8 = 28;
const NAL_IDR: u8 = 5;
const NAL_SLICE: u8 = 1;

/// What a synthetic packet says about itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Probe {
    /// The sending venue's number.
    pub venue: u32,
    /// Send time, in nanoseconds on the sender's clock (a shared origin in tests).
    pub sent_ns: u64,
    /// Frame number within the venue's stream.
    pub frame: u32,
    /// Packet index within the frame.
    pub index: u16,
    /// True for the packets of a keyframe.
    pub keyframe: bool,
}

impl Probe {
    /// Reads the probe from an RTP payload produced by [`SyntheticVideo`] (the FU-A header
    /// included). `None` for any other payload.
    pub fn parse(payload: &[u8]) -> Option<Probe> {
        let p = payload.get(2..2 + PROBE_LEN)?;
        if p[..4] != MAGIC {
            return None;
        }
        Some(Probe {
            venue: u32::from_be_bytes(p[4..8].try_into().ok()?),
            sent_ns: u64::from_be_bytes(p[8..16].try_into().ok()?),
            frame: u32::from_be_bytes(p[16..20].try_into().ok()?),
            index: u16::from_be_bytes(p[20..22].try_into().ok()?),
            keyframe: p[22] == 1,
        })
    }
}

/// Parameters of a synthetic video stream.
#[derive(Debug, Clone, Copy)]
pub struct VideoShape {
    /// Frames per second.
    pub fps: u32,
    /// RTP packets per interframe (keyframes get three times as many).
    pub packets_per_frame: u16,
    /// A keyframe every this many frames (the encoder's GOP).
    pub gop: u32,
    /// RTP payload size in bytes (at least 2 + [`PROBE_LEN`]).
    pub payload_size: usize,
}

impl Default for VideoShape {
    /// 30 fps, 10 packets per frame (300 packets/s, what issue #9 calls realistic), a keyframe
    /// every 2 s, 1000-byte payloads (~2.4 Mbit/s).
    fn default() -> Self {
        VideoShape {
            fps: 30,
            packets_per_frame: 10,
            gop: 60,
            payload_size: 1000,
        }
    }
}

/// An H.264-shaped RTP video source that answers keyframe requests.
#[derive(Debug, Clone)]
pub struct SyntheticVideo {
    venue: u32,
    ssrc: u32,
    payload_type: u8,
    shape: VideoShape,
    seq: u16,
    ts: u32,
    frame: u32,
    frames_since_key: u32,
    key_requested: bool,
}

impl SyntheticVideo {
    /// A stream for venue number `venue`; `ssrc` and the initial sequence/timestamp derive from
    /// `seed` so venues differ (RFC 3550 asks for random initial values).
    pub fn new(venue: u32, payload_type: u8, shape: VideoShape, seed: u32) -> SyntheticVideo {
        let mix = seed.wrapping_mul(0x9E37_79B9) ^ venue.wrapping_mul(0x85EB_CA6B);
        SyntheticVideo {
            venue,
            ssrc: mix | 1,
            payload_type,
            shape: VideoShape {
                payload_size: shape.payload_size.max(2 + PROBE_LEN),
                fps: shape.fps.max(1),
                packets_per_frame: shape.packets_per_frame.max(1),
                gop: shape.gop.max(1),
            },
            seq: (mix >> 16) as u16,
            ts: mix.rotate_left(7),
            frame: 0,
            frames_since_key: 0,
            key_requested: true,
        }
    }

    /// This stream's SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// The frame interval in microseconds.
    pub fn frame_interval_us(&self) -> u64 {
        1_000_000 / u64::from(self.shape.fps)
    }

    /// Asks for a keyframe as a PLI or FIR would: the next frame is a keyframe.
    pub fn request_keyframe(&mut self) {
        self.key_requested = true;
    }

    /// Produces the packets of the next frame into `out` (cleared first; its buffers are
    /// reused), stamped with `now_ns`. Returns whether the frame is a keyframe.
    pub fn next_frame(&mut self, now_ns: u64, out: &mut Vec<Vec<u8>>) -> bool {
        let key = self.key_requested || self.frames_since_key >= self.shape.gop;
        if key {
            self.key_requested = false;
            self.frames_since_key = 0;
        }
        self.frames_since_key += 1;
        let count = if key {
            self.shape.packets_per_frame.saturating_mul(3)
        } else {
            self.shape.packets_per_frame
        };
        let nal = if key { NAL_IDR } else { NAL_SLICE };
        out.resize_with(usize::from(count), Vec::new);
        out.truncate(usize::from(count));
        for (i, pkt) in out.iter_mut().enumerate() {
            let first = i == 0;
            let last = i + 1 == usize::from(count);
            pkt.clear();
            pkt.reserve(12 + self.shape.payload_size);
            pkt.push(0x80);
            pkt.push(self.payload_type | if last { 0x80 } else { 0 });
            pkt.extend_from_slice(&self.seq.to_be_bytes());
            pkt.extend_from_slice(&self.ts.to_be_bytes());
            pkt.extend_from_slice(&self.ssrc.to_be_bytes());
            pkt.push(0x60 | FU_A); // NRI 3
            pkt.push(nal | if first { 0x80 } else { 0 } | if last { 0x40 } else { 0 });
            pkt.extend_from_slice(&MAGIC);
            pkt.extend_from_slice(&self.venue.to_be_bytes());
            pkt.extend_from_slice(&now_ns.to_be_bytes());
            pkt.extend_from_slice(&self.frame.to_be_bytes());
            pkt.extend_from_slice(&(i as u16).to_be_bytes());
            pkt.push(u8::from(key));
            pkt.resize(
                12 + self.shape.payload_size,
                (self.venue as u8).wrapping_add(0x10),
            );
            self.seq = self.seq.wrapping_add(1);
        }
        self.ts = self.ts.wrapping_add(90_000 / self.shape.fps);
        self.frame = self.frame.wrapping_add(1);
        key
    }
}

/// A G.711 μ-law (PCMU, payload type 0) tone source, 20 ms per packet.
#[derive(Debug, Clone)]
pub struct SyntheticAudio {
    ssrc: u32,
    seq: u16,
    ts: u32,
    phase: f32,
    step: f32,
    amplitude: f32,
}

impl SyntheticAudio {
    /// A tone of `freq_hz` at `amplitude` (0.0–1.0 of full scale).
    pub fn new(venue: u32, freq_hz: f32, amplitude: f32, seed: u32) -> SyntheticAudio {
        let mix = seed.wrapping_mul(0x2545_F491) ^ venue.wrapping_mul(0x9E37_79B9);
        SyntheticAudio {
            ssrc: mix | 2,
            seq: (mix >> 8) as u16,
            ts: mix.rotate_left(11),
            phase: 0.0,
            step: std::f32::consts::TAU * freq_hz / 8000.0,
            amplitude: amplitude.clamp(0.0, 1.0),
        }
    }

    /// This stream's SSRC.
    pub fn ssrc(&self) -> u32 {
        self.ssrc
    }

    /// Writes the next 20 ms packet into `out` (cleared first).
    pub fn next_packet(&mut self, out: &mut Vec<u8>) {
        out.clear();
        out.push(0x80);
        out.push(0);
        out.extend_from_slice(&self.seq.to_be_bytes());
        out.extend_from_slice(&self.ts.to_be_bytes());
        out.extend_from_slice(&self.ssrc.to_be_bytes());
        for _ in 0..160 {
            let sample = (self.phase.sin() * self.amplitude * 32_000.0) as i16;
            out.push(linear_to_ulaw(sample));
            self.phase = (self.phase + self.step) % std::f32::consts::TAU;
        }
        self.seq = self.seq.wrapping_add(1);
        self.ts = self.ts.wrapping_add(160);
    }
}

/// G.711 μ-law encoding of one sample (ITU-T G.711, the classic segment search).
fn linear_to_ulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32_635;
    let mut s = i32::from(sample);
    let sign = if s < 0 {
        s = -s;
        0x80
    } else {
        0
    };
    s = s.min(CLIP) + BIAS;
    let exponent = (31 - (s as u32).leading_zeros()).saturating_sub(7).min(7);
    let mantissa = (s >> (exponent + 3)) & 0x0F;
    !(sign | ((exponent as i32) << 4) | mantissa) as u8
}

#[cfg(test)]
mod tests {
    use super::*;
    use dais_rtp::{RtpHeader, VideoCodec, is_keyframe};

    #[test]
    fn keyframes_are_recognised_by_the_router_and_probes_round_trip() {
        let mut v = SyntheticVideo::new(7, 96, VideoShape::default(), 1);
        let mut frame = Vec::new();
        assert!(
            v.next_frame(1_000, &mut frame),
            "the first frame is a keyframe"
        );
        assert_eq!(frame.len(), 30);
        let h = RtpHeader::parse(&frame[0]).unwrap();
        assert!(is_keyframe(VideoCodec::H264, h.payload(&frame[0])));
        let probe = Probe::parse(h.payload(&frame[0])).unwrap();
        assert_eq!(
            probe,
            Probe {
                venue: 7,
                sent_ns: 1_000,
                frame: 0,
                index: 0,
                keyframe: true
            }
        );
        let last = RtpHeader::parse(frame.last().unwrap()).unwrap();
        assert!(last.marker, "the marker closes the frame");
        assert!(!is_keyframe(
            VideoCodec::H264,
            last.payload(frame.last().unwrap())
        ));

        assert!(!v.next_frame(2_000, &mut frame));
        assert_eq!(frame.len(), 10);
        let h2 = RtpHeader::parse(&frame[0]).unwrap();
        assert!(!is_keyframe(VideoCodec::H264, h2.payload(&frame[0])));
        assert_eq!(h2.sequence, h.sequence.wrapping_add(30));
        v.request_keyframe();
        assert!(
            v.next_frame(3_000, &mut frame),
            "a PLI makes the next frame a keyframe"
        );
    }

    #[test]
    fn gop_sets_the_keyframe_interval() {
        let shape = VideoShape {
            gop: 5,
            ..VideoShape::default()
        };
        let mut v = SyntheticVideo::new(1, 96, shape, 9);
        let mut frame = Vec::new();
        let keys: Vec<bool> = (0..11).map(|i| v.next_frame(i, &mut frame)).collect();
        assert_eq!(
            keys,
            [
                true, false, false, false, false, true, false, false, false, false, true
            ]
        );
    }

    #[test]
    fn ulaw_matches_g711_reference_points() {
        // Reference values from the ITU-T G.711 tables.
        assert_eq!(linear_to_ulaw(0), 0xFF);
        assert_eq!(linear_to_ulaw(-1), 0x7F);
        assert_eq!(linear_to_ulaw(32_767), 0x80);
        assert_eq!(linear_to_ulaw(-32_768), 0x00);
        let mut a = SyntheticAudio::new(1, 440.0, 0.5, 3);
        let mut pkt = Vec::new();
        a.next_packet(&mut pkt);
        assert_eq!(pkt.len(), 12 + 160);
        let h = RtpHeader::parse(&pkt).unwrap();
        assert_eq!(h.payload_type, 0);
        assert!(
            h.payload(&pkt).iter().any(|&b| b != 0xFF),
            "a tone, not silence"
        );
    }
}
