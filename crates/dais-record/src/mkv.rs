//! A minimal Matroska writer for live recording: the EBML header, a Segment whose size is
//! patched at the end, clusters written whole (known size) and synced as they close, and on a
//! clean finish the duration, the cues (keyframe index) and a seek head.
//!
//! Crash safety: everything up to the last closed cluster is on disk (clusters close at every
//! video keyframe and at least every [`MAX_CLUSTER_MS`]). A file that was never finished has
//! an unknown-size Segment and no duration or cues; Matroska demuxers (ffmpeg, VLC) play it
//! from the start and find its length by reading it.

use std::io::{self, Seek, SeekFrom, Write};

/// Matroska element IDs used here (RFC 9559).
mod id {
    pub const EBML: u32 = 0x1A45_DFA3;
    pub const EBML_VERSION: u32 = 0x4286;
    pub const EBML_READ_VERSION: u32 = 0x42F7;
    pub const EBML_MAX_ID_LENGTH: u32 = 0x42F2;
    pub const EBML_MAX_SIZE_LENGTH: u32 = 0x42F3;
    pub const DOC_TYPE: u32 = 0x4282;
    pub const DOC_TYPE_VERSION: u32 = 0x4287;
    pub const DOC_TYPE_READ_VERSION: u32 = 0x4285;
    pub const SEGMENT: u32 = 0x1853_8067;
    pub const SEEK_HEAD: u32 = 0x114D_9B74;
    pub const SEEK: u32 = 0x4DBB;
    pub const SEEK_ID: u32 = 0x53AB;
    pub const SEEK_POSITION: u32 = 0x53AC;
    pub const VOID: u32 = 0xEC;
    pub const INFO: u32 = 0x1549_A966;
    pub const TIMESTAMP_SCALE: u32 = 0x2A_D7B1;
    pub const MUXING_APP: u32 = 0x4D80;
    pub const WRITING_APP: u32 = 0x5741;
    pub const DURATION: u32 = 0x4489;
    pub const TITLE: u32 = 0x7BA9;
    pub const TRACKS: u32 = 0x1654_AE6B;
    pub const TRACK_ENTRY: u32 = 0xAE;
    pub const TRACK_NUMBER: u32 = 0xD7;
    pub const TRACK_UID: u32 = 0x73C5;
    pub const TRACK_TYPE: u32 = 0x83;
    pub const FLAG_LACING: u32 = 0x9C;
    pub const NAME: u32 = 0x536E;
    pub const CODEC_ID: u32 = 0x86;
    pub const CODEC_PRIVATE: u32 = 0x63A2;
    pub const VIDEO: u32 = 0xE0;
    pub const PIXEL_WIDTH: u32 = 0xB0;
    pub const PIXEL_HEIGHT: u32 = 0xBA;
    pub const AUDIO: u32 = 0xE1;
    pub const SAMPLING_FREQUENCY: u32 = 0xB5;
    pub const CHANNELS: u32 = 0x9F;
    pub const BIT_DEPTH: u32 = 0x6264;
    pub const CLUSTER: u32 = 0x1F43_B675;
    pub const TIMESTAMP: u32 = 0xE7;
    pub const SIMPLE_BLOCK: u32 = 0xA3;
    pub const CUES: u32 = 0x1C53_BB6B;
    pub const CUE_POINT: u32 = 0xBB;
    pub const CUE_TIME: u32 = 0xB3;
    pub const CUE_TRACK_POSITIONS: u32 = 0xB7;
    pub const CUE_TRACK: u32 = 0xF7;
    pub const CUE_CLUSTER_POSITION: u32 = 0xF1;
}

/// A cluster closes once it spans this long, keyframe or not: the most a crash can lose.
pub const MAX_CLUSTER_MS: i64 = 1000;
/// Bytes reserved after the Segment header for the seek head written on finish.
const SEEK_HEAD_RESERVE: usize = 100;
/// The "unknown size" marker of an 8-byte size field.
const UNKNOWN_SIZE: [u8; 8] = [0x01, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF];

/// What one track carries.
#[derive(Clone, Debug, PartialEq)]
pub enum TrackKind {
    /// H.264 in AVCC form (`V_MPEG4/ISO/AVC`): 4-byte length-prefixed NAL units per frame.
    H264 {
        /// Picture width in pixels.
        width: u32,
        /// Picture height in pixels.
        height: u32,
        /// The `AVCDecoderConfigurationRecord` (see [`avc_decoder_config`]).
        avcc: Vec<u8>,
    },
    /// Signed 16-bit little-endian PCM (`A_PCM/INT/LIT`).
    Pcm {
        /// Sample rate in Hz.
        rate: u32,
        /// Channel count.
        channels: u8,
    },
}

/// One track of the file.
#[derive(Clone, Debug, PartialEq)]
pub struct Track {
    /// Track number (1-based), as blocks refer to it.
    pub number: u8,
    /// Shown by players.
    pub name: String,
    /// Codec and its parameters.
    pub kind: TrackKind,
}

/// Builds an `AVCDecoderConfigurationRecord` (ISO 14496-15 §5.3.3.1) from one SPS and one PPS,
/// with 4-byte NAL length fields.
pub fn avc_decoder_config(sps: &[u8], pps: &[u8]) -> Vec<u8> {
    let b = |i: usize| sps.get(i).copied().unwrap_or(0);
    let mut v = vec![1, b(1), b(2), b(3), 0xFF, 0xE1];
    v.extend_from_slice(&(sps.len() as u16).to_be_bytes());
    v.extend_from_slice(sps);
    v.push(1);
    v.extend_from_slice(&(pps.len() as u16).to_be_bytes());
    v.extend_from_slice(pps);
    v
}

fn put_id(out: &mut Vec<u8>, id: u32) {
    let bytes = id.to_be_bytes();
    let skip = bytes.iter().position(|b| *b != 0).unwrap_or(3);
    out.extend_from_slice(&bytes[skip..]);
}

/// An EBML size field in the fewest bytes (all-ones patterns are reserved for "unknown").
fn put_size(out: &mut Vec<u8>, size: u64) {
    let mut len = 1;
    while len < 8 && size >= (1u64 << (7 * len)) - 1 {
        len += 1;
    }
    put_size_len(out, size, len);
}

fn put_size_len(out: &mut Vec<u8>, size: u64, len: usize) {
    let v = size | (1u64 << (7 * len));
    out.extend_from_slice(&v.to_be_bytes()[8 - len..]);
}

fn put_master(out: &mut Vec<u8>, id: u32, body: &[u8]) {
    put_id(out, id);
    put_size(out, body.len() as u64);
    out.extend_from_slice(body);
}

fn put_uint(out: &mut Vec<u8>, id: u32, v: u64) {
    let bytes = v.to_be_bytes();
    let skip = bytes.iter().position(|b| *b != 0).unwrap_or(7);
    put_master(out, id, &bytes[skip..]);
}

fn put_float(out: &mut Vec<u8>, id: u32, v: f64) {
    put_master(out, id, &v.to_be_bytes());
}

fn put_void(out: &mut Vec<u8>, total: usize) {
    // ID (1 byte) + size (1 byte if the body fits 126 bytes, else 8 bytes).
    debug_assert!(total >= 2);
    put_id(out, id::VOID);
    if total - 2 < 127 {
        put_size_len(out, (total - 2) as u64, 1);
        out.resize(out.len() + total - 2, 0);
    } else {
        put_size_len(out, (total - 9) as u64, 8);
        out.resize(out.len() + total - 9, 0);
    }
}

/// Writes one Matroska file progressively. Timestamps are milliseconds from the start of the
/// recording (TimestampScale 1 ms).
#[derive(Debug)]
pub struct MkvWriter<W: Write + Seek> {
    out: W,
    /// File offset of the Segment's size field and of its first body byte.
    segment_size_at: u64,
    segment_body: u64,
    info_at: u64,
    duration_at: u64,
    tracks_at: u64,
    /// Where the next cluster goes.
    pos: u64,
    cluster: Vec<u8>,
    cluster_ms: Option<i64>,
    video_track: Option<u8>,
    cues: Vec<(i64, u8, u64)>,
    end_ms: i64,
}

impl<W: Write + Seek> MkvWriter<W> {
    /// Writes the header (EBML header, Segment start, Info, Tracks) at the writer's current
    /// position.
    ///
    /// # Errors
    /// I/O errors of the writer.
    pub fn new(mut out: W, title: &str, tracks: &[Track]) -> io::Result<Self> {
        let start = out.stream_position()?;
        let mut h = Vec::with_capacity(512);
        let mut ebml = Vec::new();
        put_uint(&mut ebml, id::EBML_VERSION, 1);
        put_uint(&mut ebml, id::EBML_READ_VERSION, 1);
        put_uint(&mut ebml, id::EBML_MAX_ID_LENGTH, 4);
        put_uint(&mut ebml, id::EBML_MAX_SIZE_LENGTH, 8);
        put_master(&mut ebml, id::DOC_TYPE, b"matroska");
        put_uint(&mut ebml, id::DOC_TYPE_VERSION, 4);
        put_uint(&mut ebml, id::DOC_TYPE_READ_VERSION, 2);
        put_master(&mut h, id::EBML, &ebml);
        put_id(&mut h, id::SEGMENT);
        let segment_size_at = start + h.len() as u64;
        h.extend_from_slice(&UNKNOWN_SIZE);
        let segment_body = start + h.len() as u64;
        put_void(&mut h, SEEK_HEAD_RESERVE);

        let info_at = start + h.len() as u64;
        let mut info = Vec::new();
        put_uint(&mut info, id::TIMESTAMP_SCALE, 1_000_000);
        put_master(&mut info, id::MUXING_APP, b"dais-record");
        put_master(&mut info, id::WRITING_APP, b"dais");
        put_master(&mut info, id::TITLE, title.as_bytes());
        let duration_in_info = info.len();
        // Room for the Duration (2-byte ID, 1-byte size, 8-byte float) written on finish.
        put_void(&mut info, 11);
        put_id(&mut h, id::INFO);
        put_size(&mut h, info.len() as u64);
        let duration_at = start + (h.len() + duration_in_info) as u64;
        h.extend_from_slice(&info);

        let tracks_at = start + h.len() as u64;
        let mut body = Vec::new();
        let mut video_track = None;
        for t in tracks {
            let mut e = Vec::new();
            put_uint(&mut e, id::TRACK_NUMBER, u64::from(t.number));
            put_uint(&mut e, id::TRACK_UID, u64::from(t.number));
            put_uint(&mut e, id::FLAG_LACING, 0);
            put_master(&mut e, id::NAME, t.name.as_bytes());
            match &t.kind {
                TrackKind::H264 {
                    width,
                    height,
                    avcc,
                } => {
                    video_track = Some(t.number);
                    put_uint(&mut e, id::TRACK_TYPE, 1);
                    put_master(&mut e, id::CODEC_ID, b"V_MPEG4/ISO/AVC");
                    put_master(&mut e, id::CODEC_PRIVATE, avcc);
                    let mut v = Vec::new();
                    put_uint(&mut v, id::PIXEL_WIDTH, u64::from(*width));
                    put_uint(&mut v, id::PIXEL_HEIGHT, u64::from(*height));
                    put_master(&mut e, id::VIDEO, &v);
                }
                TrackKind::Pcm { rate, channels } => {
                    put_uint(&mut e, id::TRACK_TYPE, 2);
                    put_master(&mut e, id::CODEC_ID, b"A_PCM/INT/LIT");
                    let mut a = Vec::new();
                    put_float(&mut a, id::SAMPLING_FREQUENCY, f64::from(*rate));
                    put_uint(&mut a, id::CHANNELS, u64::from(*channels));
                    put_uint(&mut a, id::BIT_DEPTH, 16);
                    put_master(&mut e, id::AUDIO, &a);
                }
            }
            put_master(&mut body, id::TRACK_ENTRY, &e);
        }
        put_master(&mut h, id::TRACKS, &body);
        out.write_all(&h)?;
        out.flush()?;
        Ok(MkvWriter {
            pos: start + h.len() as u64,
            out,
            segment_size_at,
            segment_body,
            info_at,
            duration_at,
            tracks_at,
            cluster: Vec::with_capacity(64 << 10),
            cluster_ms: None,
            video_track,
            cues: Vec::new(),
            end_ms: 0,
        })
    }

    /// Appends one frame of `track` at `ms` (milliseconds since the recording's start).
    ///
    /// # Errors
    /// I/O errors of the writer; a frame larger than the cluster limits is written in a cluster
    /// of its own.
    pub fn write_frame(
        &mut self,
        track: u8,
        ms: i64,
        keyframe: bool,
        data: &[u8],
    ) -> io::Result<()> {
        let ms = ms.max(0);
        let is_video_key = keyframe && Some(track) == self.video_track;
        if let Some(c) = self.cluster_ms {
            let rel = ms - c;
            if is_video_key
                || rel >= MAX_CLUSTER_MS
                || rel < i64::from(i16::MIN)
                || rel > i64::from(i16::MAX)
            {
                self.close_cluster()?;
            }
        }
        let c = *self.cluster_ms.get_or_insert(ms);
        if self.cluster.is_empty() && is_video_key {
            self.cues.push((ms, track, self.pos - self.segment_body));
        }
        let rel = (ms - c) as i16;
        put_id(&mut self.cluster, id::SIMPLE_BLOCK);
        put_size(&mut self.cluster, 4 + data.len() as u64);
        put_size_len(&mut self.cluster, u64::from(track), 1);
        self.cluster.extend_from_slice(&rel.to_be_bytes());
        self.cluster.push(if keyframe { 0x80 } else { 0 });
        self.cluster.extend_from_slice(data);
        self.end_ms = self.end_ms.max(ms);
        Ok(())
    }

    /// Writes the cluster in progress to the output and flushes it.
    ///
    /// # Errors
    /// I/O errors of the writer.
    pub fn close_cluster(&mut self) -> io::Result<()> {
        let Some(ms) = self.cluster_ms.take() else {
            return Ok(());
        };
        let mut head = Vec::with_capacity(24);
        let mut ts = Vec::new();
        put_uint(&mut ts, id::TIMESTAMP, ms as u64);
        put_id(&mut head, id::CLUSTER);
        put_size(&mut head, (ts.len() + self.cluster.len()) as u64);
        head.extend_from_slice(&ts);
        // One write for the whole cluster: a process killed mid-recording leaves whole clusters.
        head.extend_from_slice(&self.cluster);
        self.out.write_all(&head)?;
        self.out.flush()?;
        self.pos += head.len() as u64;
        self.cluster.clear();
        Ok(())
    }

    /// The latest frame time written, in milliseconds.
    pub fn end_ms(&self) -> i64 {
        self.end_ms
    }

    /// Bytes written so far (the cluster in progress excluded).
    pub fn bytes_written(&self) -> u64 {
        self.pos
    }

    /// The output, for syncing a file after [`MkvWriter::close_cluster`].
    pub fn get_ref(&self) -> &W {
        &self.out
    }

    /// Closes the last cluster and writes the cues, the duration (`duration_ms`), the seek head
    /// and the Segment's size. Returns the output and the file's total size.
    ///
    /// # Errors
    /// I/O errors of the writer.
    pub fn finish(mut self, duration_ms: f64) -> io::Result<(W, u64)> {
        self.close_cluster()?;
        let cues_at = self.pos;
        let mut cues = Vec::new();
        for &(ms, track, pos) in &self.cues {
            let mut tp = Vec::new();
            put_uint(&mut tp, id::CUE_TRACK, u64::from(track));
            put_uint(&mut tp, id::CUE_CLUSTER_POSITION, pos);
            let mut cp = Vec::new();
            put_uint(&mut cp, id::CUE_TIME, ms as u64);
            put_master(&mut cp, id::CUE_TRACK_POSITIONS, &tp);
            put_master(&mut cues, id::CUE_POINT, &cp);
        }
        let mut out = Vec::new();
        if !self.cues.is_empty() {
            put_master(&mut out, id::CUES, &cues);
        }
        self.out.write_all(&out)?;
        let end = self.pos + out.len() as u64;

        let mut seeks = Vec::new();
        let mut entries = vec![(id::INFO, self.info_at), (id::TRACKS, self.tracks_at)];
        if !self.cues.is_empty() {
            entries.push((id::CUES, cues_at));
        }
        for (eid, at) in entries {
            let mut s = Vec::new();
            let mut idb = Vec::new();
            put_id(&mut idb, eid);
            put_master(&mut s, id::SEEK_ID, &idb);
            put_uint(&mut s, id::SEEK_POSITION, at - self.segment_body);
            put_master(&mut seeks, id::SEEK, &s);
        }
        let mut sh = Vec::new();
        put_master(&mut sh, id::SEEK_HEAD, &seeks);
        if SEEK_HEAD_RESERVE - sh.len() == 1 {
            // A Void needs two bytes: spend the odd byte on a longer size field instead.
            sh.clear();
            put_id(&mut sh, id::SEEK_HEAD);
            put_size_len(&mut sh, seeks.len() as u64, 2);
            sh.extend_from_slice(&seeks);
        }
        if SEEK_HEAD_RESERVE > sh.len() {
            let pad = SEEK_HEAD_RESERVE - sh.len();
            put_void(&mut sh, pad);
        }
        debug_assert_eq!(sh.len(), SEEK_HEAD_RESERVE);
        self.out.seek(SeekFrom::Start(self.segment_body))?;
        self.out.write_all(&sh)?;

        let mut d = Vec::new();
        put_float(&mut d, id::DURATION, duration_ms);
        self.out.seek(SeekFrom::Start(self.duration_at))?;
        self.out.write_all(&d)?;

        let mut size = Vec::new();
        put_size_len(&mut size, end - self.segment_body, 8);
        self.out.seek(SeekFrom::Start(self.segment_size_at))?;
        self.out.write_all(&size)?;
        self.out.seek(SeekFrom::Start(end))?;
        self.out.flush()?;
        Ok((self.out, end))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_use_the_fewest_bytes_and_avoid_the_unknown_pattern() {
        let enc = |s| {
            let mut v = Vec::new();
            put_size(&mut v, s);
            v
        };
        assert_eq!(enc(0), [0x80]);
        assert_eq!(enc(126), [0xFE]);
        assert_eq!(enc(127), [0x40, 0x7F]);
        assert_eq!(enc(16382), [0x7F, 0xFE]);
        assert_eq!(enc(16383), [0x20, 0x3F, 0xFF]);
    }

    #[test]
    fn voids_fill_exactly() {
        for n in [2usize, 3, 11, 128, 129, 200] {
            let mut v = Vec::new();
            put_void(&mut v, n);
            assert_eq!(v.len(), n);
        }
    }

    #[test]
    fn finish_patches_in_place() {
        let mut cur = io::Cursor::new(Vec::new());
        cur.write_all(b"").unwrap();
        let tracks = [Track {
            number: 1,
            name: "mix".into(),
            kind: TrackKind::Pcm {
                rate: 8000,
                channels: 1,
            },
        }];
        let mut w = MkvWriter::new(cur, "t", &tracks).unwrap();
        let header = w.bytes_written();
        for i in 0..200 {
            w.write_frame(1, i * 20, true, &[0; 320]).unwrap();
        }
        let (cur, end) = w.finish(4000.0).unwrap();
        let buf = cur.into_inner();
        assert_eq!(buf.len() as u64, end);
        assert!(end > header + 200 * 320);
        // The Segment size is known now.
        let seg = buf
            .windows(4)
            .position(|w| w == [0x18, 0x53, 0x80, 0x67])
            .unwrap();
        assert_ne!(buf[seg + 4..seg + 12], UNKNOWN_SIZE);
    }
}
