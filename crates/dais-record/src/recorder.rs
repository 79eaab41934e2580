//! The recording of one meeting: the broadcast picture (the switched feed's RTP, as shown) and
//! the meeting's full mix (PCM frames from the mixer) into one Matroska file.
//!
//! Timeline: both streams are placed on one millisecond axis whose zero is the recording's
//! start. Each stream's first packet is placed at its arrival time; after that its own media
//! clock rules: video at `(rtp_ts - first_ts) / 90`, audio at `(sample - first_sample) / rate`.
//! Arrival jitter therefore never moves a frame, and the two clocks only drift as much as the
//! venues' clocks and the mixer's frame clock differ (both follow real time).

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tracing::{debug, warn};

use crate::h264::{AccessUnit, DepacketizeStats, Depacketizer, nal, parse_sps};
use crate::mkv::{MkvWriter, Track, TrackKind, avc_decoder_config};

const VIDEO_TRACK: u8 = 1;
const AUDIO_TRACK_WITH_VIDEO: u8 = 2;

/// Recording settings.
#[derive(Clone, Debug)]
pub struct RecorderConfig {
    /// Sample rate of the PCM frames handed to [`Recorder::audio`].
    pub audio_rate: u32,
    /// Audio kept in memory while waiting for the first keyframe (the file's track list needs
    /// the picture's parameter sets); past this the file is started audio-only.
    pub max_wait_for_video: Duration,
    /// Title written into the file.
    pub title: String,
}

impl Default for RecorderConfig {
    fn default() -> Self {
        RecorderConfig {
            audio_rate: 8000,
            max_wait_for_video: Duration::from_secs(10),
            title: "Dais meeting".into(),
        }
    }
}

/// What a finished (or abandoned) recording contains.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RecordingSummary {
    /// The file.
    pub path: PathBuf,
    /// Size in bytes.
    pub bytes: u64,
    /// Pictures written.
    pub video_frames: u64,
    /// Audio frames written.
    pub audio_frames: u64,
    /// End of the last video frame on the file's timeline (ms).
    pub video_end_ms: i64,
    /// End of the last audio frame on the file's timeline (ms).
    pub audio_end_ms: i64,
    /// Pictures left out because a switch replaced them within a fraction of a frame.
    pub video_shadowed: u64,
    /// The depacketiser's counters (loss, discarded pictures).
    pub depacketizer: DepacketizeStats,
}

/// Extends 32-bit RTP timestamps to 64 bits across wrap-around.
#[derive(Debug, Default)]
struct Unwrap {
    last: Option<(u32, i64)>,
}

impl Unwrap {
    fn next(&mut self, ts: u32) -> i64 {
        let ext = match self.last {
            None => i64::from(ts),
            Some((prev, ext)) => ext + i64::from(ts.wrapping_sub(prev) as i32),
        };
        self.last = Some((ts, ext));
        ext
    }
}

enum State {
    /// Waiting for the first keyframe; audio frames held as (ms, bytes).
    Waiting(Vec<(i64, Vec<u8>)>),
    Writing(Box<MkvWriter<File>>),
    Failed,
}

/// One meeting's recording. Not thread-safe by design: one writer owns it (see
/// [`crate::RecorderThread`]).
pub struct Recorder {
    path: PathBuf,
    file: Option<File>,
    cfg: RecorderConfig,
    start: Instant,
    state: State,
    depack: Depacketizer,
    unwrap: Unwrap,
    /// (ms at the first picture, its extended RTP timestamp).
    video_origin: Option<(i64, i64)>,
    /// (ms at the first audio frame, its sample index).
    audio_origin: Option<(i64, u64)>,
    sps: Option<Vec<u8>>,
    pps: Option<Vec<u8>>,
    /// A keyframe without parameter sets was reported (once: a source that never sends them,
    /// like the demo's synthetic venues, would otherwise warn at every keyframe).
    told_no_params: bool,
    audio_track: u8,
    has_video: bool,
    summary: RecordingSummary,
    last_synced: u64,
    /// The latest picture, written when the next one shows it was not shadowed by a switch.
    held: Option<(i64, bool, Vec<u8>)>,
    /// The usual interval between pictures (ms), from the last two written.
    frame_gap: Option<i64>,
    /// The timestamp of the last picture written (ms).
    last_video_ms: Option<i64>,
    /// The last video packet completed a picture.
    last_completed: bool,
}

impl std::fmt::Debug for Recorder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Recorder")
            .field("path", &self.path)
            .field("summary", &self.summary)
            .finish_non_exhaustive()
    }
}

impl Recorder {
    /// Creates the file (refusing to overwrite one) and starts the recording's clock at `start`.
    ///
    /// # Errors
    /// The file exists or cannot be created.
    pub fn create(path: &Path, start: Instant, cfg: RecorderConfig) -> io::Result<Recorder> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let file = File::options().write(true).create_new(true).open(path)?;
        Ok(Recorder {
            path: path.to_path_buf(),
            file: Some(file),
            cfg,
            start,
            state: State::Waiting(Vec::new()),
            depack: Depacketizer::new(),
            unwrap: Unwrap::default(),
            video_origin: None,
            audio_origin: None,
            sps: None,
            pps: None,
            told_no_params: false,
            audio_track: AUDIO_TRACK_WITH_VIDEO,
            has_video: false,
            summary: RecordingSummary {
                path: path.to_path_buf(),
                ..Default::default()
            },
            last_synced: 0,
            held: None,
            frame_gap: None,
            last_video_ms: None,
            last_completed: false,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    fn ms_since_start(&self, at: Instant) -> i64 {
        at.saturating_duration_since(self.start).as_millis() as i64
    }

    /// One RTP datagram of the broadcast feed (already rewritten: one SSRC, continuous
    /// sequence numbers and timestamps across switches), received at `at`.
    pub fn video(&mut self, at: Instant, datagram: &[u8]) {
        self.last_completed = false;
        match self.depack.push(datagram) {
            Ok(Some(au)) => {
                self.last_completed = true;
                self.picture(at, au);
            }
            Ok(None) => {}
            Err(e) => debug!(error = %e, "recording: video packet refused"),
        }
    }

    /// The last video packet was the first of a new source that did not start with a keyframe
    /// (the engine forced a switch after its timeout): the pictures from that packet on cannot
    /// be decoded until the new source's next keyframe, so they are left out and the recording
    /// holds the last good picture until then.
    pub fn discontinuity(&mut self) {
        if self.last_completed {
            // That packet completed the picture still held back: it is the new source's.
            if self.held.take().is_some() {
                self.summary.video_shadowed += 1;
            }
        }
        self.depack.resync();
    }

    fn picture(&mut self, at: Instant, mut au: AccessUnit) {
        for n in au.nals_of_type(nal::SPS) {
            self.sps = Some(n.to_vec());
        }
        for n in au.nals_of_type(nal::PPS) {
            self.pps = Some(n.to_vec());
        }
        if au.keyframe && au.nals_of_type(nal::SPS).next().is_none() {
            // A venue that sends its parameter sets only out of band (SDP) or only once: the
            // file carries them before every keyframe so that each switch decodes on its own.
            if let (Some(sps), Some(pps)) = (&self.sps, &self.pps) {
                au.nals.insert(0, pps.clone());
                au.nals.insert(0, sps.clone());
            }
        }
        let ext = self.unwrap.next(au.timestamp);
        if self.video_origin.is_none() {
            self.video_origin = Some((self.ms_since_start(at), ext));
        }
        if matches!(self.state, State::Waiting(_)) {
            if !au.keyframe {
                return;
            }
            let (Some(sps), Some(pps)) = (self.sps.clone(), self.pps.clone()) else {
                if self.told_no_params {
                    debug!("recording: keyframe without SPS/PPS; waiting for the next one");
                } else {
                    self.told_no_params = true;
                    warn!(
                        "recording: keyframe without SPS/PPS; waiting for one that carries them \
                         (said once per recording)"
                    );
                }
                return;
            };
            self.open(Some((&sps, &pps)));
        }
        if !self.has_video {
            return;
        }
        let Some((origin_ms, origin_ts)) = self.video_origin else {
            return;
        };
        let mut ms = origin_ms + (ext - origin_ts).div_euclid(90);
        let mut data = Vec::with_capacity(au.nals.iter().map(|n| n.len() + 4).sum());
        for n in &au.nals {
            data.extend_from_slice(&(n.len() as u32).to_be_bytes());
            data.extend_from_slice(n);
        }
        // Pictures are written one behind: at a switch the engine cuts over to the new venue's
        // keyframe a few milliseconds after the old venue's last picture (the timestamp advances
        // by the wall-clock gap). That picture was on screen for those milliseconds only, and
        // players that assume a constant frame rate (ffmpeg's default) refuse two pictures
        // closer than a frame: it is dropped. Nothing refers to it after a keyframe.
        if let Some(held) = self.held.take() {
            let gap = ms - held.0;
            // A switch inside one receive batch stamps the new venue's keyframe one RTP tick
            // after the old venue's last picture: on screen for no time at all, whether or
            // not the frame rate is known yet.
            let shadowed =
                au.keyframe && (gap <= 0 || self.frame_gap.is_some_and(|g| gap < g * 9 / 10));
            if shadowed {
                self.summary.video_shadowed += 1;
            } else {
                // Long pauses (a switch waiting for a keyframe) do not count as the frame rate.
                if gap > 0 {
                    self.frame_gap = Some(match self.frame_gap {
                        Some(g) if gap > 2 * g => g,
                        _ => gap,
                    });
                }
                self.write_picture(held);
            }
        }
        // The file's timestamps only ever increase: a muxer, and every player, refuses a
        // picture stamped at or before the one written last.
        if let Some(last) = self.last_video_ms
            && ms <= last
        {
            ms = last + 1;
        }
        self.held = Some((ms, au.keyframe, data));
    }

    fn write_picture(&mut self, (ms, key, data): (i64, bool, Vec<u8>)) {
        if self.write(VIDEO_TRACK, ms, key, &data) {
            self.last_video_ms = Some(ms);
            self.summary.video_frames += 1;
            // A picture lasts until the next: one frame interval is the estimate for the last.
            let last = self.frame_gap.unwrap_or(40);
            self.summary.video_end_ms = self.summary.video_end_ms.max(ms + last);
        }
    }

    /// One frame of the full mix (mono PCM at [`RecorderConfig::audio_rate`]) whose first
    /// sample is `sample_index` on the mixer's clock (frames the mixer skipped leave a gap).
    pub fn audio(&mut self, at: Instant, sample_index: u64, pcm: &[i16]) {
        if self.audio_origin.is_none() {
            self.audio_origin = Some((self.ms_since_start(at), sample_index));
        }
        let Some((origin_ms, origin_sample)) = self.audio_origin else {
            return;
        };
        let rate = u64::from(self.cfg.audio_rate.max(1));
        let ms = origin_ms + (sample_index.saturating_sub(origin_sample) * 1000 / rate) as i64;
        let bytes: Vec<u8> = pcm.iter().flat_map(|s| s.to_le_bytes()).collect();
        let end = ms + (pcm.len() as u64 * 1000 / rate) as i64;
        match &mut self.state {
            State::Waiting(held) => {
                held.push((ms, bytes));
                self.summary.audio_end_ms = self.summary.audio_end_ms.max(end);
                if held.first().is_some_and(|(first, _)| {
                    ms - first >= self.cfg.max_wait_for_video.as_millis() as i64
                }) {
                    warn!(path = %self.path.display(), "recording: no keyframe yet; the file is audio-only");
                    self.open(None);
                }
            }
            State::Writing(_) => {
                if self.write(self.audio_track, ms, true, &bytes) {
                    self.summary.audio_frames += 1;
                    self.summary.audio_end_ms = self.summary.audio_end_ms.max(end);
                }
            }
            State::Failed => {}
        }
    }

    /// Writes the file's header; held audio follows.
    fn open(&mut self, video: Option<(&[u8], &[u8])>) {
        let Some(file) = self.file.take() else {
            return;
        };
        let mut tracks = Vec::new();
        if let Some((sps, pps)) = video {
            let (width, height) = match parse_sps(sps) {
                Ok(i) => (i.width, i.height),
                Err(e) => {
                    warn!(error = %e, "recording: unreadable SPS; picture size guessed");
                    (640, 360)
                }
            };
            tracks.push(Track {
                number: VIDEO_TRACK,
                name: "broadcast".into(),
                kind: TrackKind::H264 {
                    width,
                    height,
                    avcc: avc_decoder_config(sps, pps),
                },
            });
            self.audio_track = AUDIO_TRACK_WITH_VIDEO;
            self.has_video = true;
        } else {
            self.audio_track = 1;
        }
        tracks.push(Track {
            number: self.audio_track,
            name: "meeting mix".into(),
            kind: TrackKind::Pcm {
                rate: self.cfg.audio_rate,
                channels: 1,
            },
        });
        let held = match std::mem::replace(&mut self.state, State::Failed) {
            State::Waiting(h) => h,
            _ => Vec::new(),
        };
        match MkvWriter::new(file, &self.cfg.title, &tracks) {
            Ok(w) => self.state = State::Writing(Box::new(w)),
            Err(e) => {
                warn!(error = %e, path = %self.path.display(), "recording: cannot write the header");
                return;
            }
        }
        let rate = u64::from(self.cfg.audio_rate.max(1));
        for (ms, bytes) in held {
            if self.write(self.audio_track, ms, true, &bytes) {
                self.summary.audio_frames += 1;
                let end = ms + (bytes.len() as u64 / 2 * 1000 / rate) as i64;
                self.summary.audio_end_ms = self.summary.audio_end_ms.max(end);
            }
        }
    }

    fn write(&mut self, track: u8, ms: i64, key: bool, data: &[u8]) -> bool {
        let State::Writing(w) = &mut self.state else {
            return false;
        };
        if let Err(e) = w.write_frame(track, ms, key, data) {
            warn!(error = %e, path = %self.path.display(), "recording: write failed; recording stopped");
            self.state = State::Failed;
            return false;
        }
        // A cluster was written: push it to the disk so a power loss keeps it too.
        if w.bytes_written() != self.last_synced {
            self.last_synced = w.bytes_written();
            let _ = w.get_ref().sync_data();
        }
        true
    }

    /// The counters so far.
    pub fn summary(&self) -> RecordingSummary {
        let mut s = self.summary.clone();
        s.depacketizer = self.depack.stats();
        if let State::Writing(w) = &self.state {
            s.bytes = w.bytes_written();
        }
        s
    }

    /// Ends the recording cleanly: the last cluster, the duration and the index are written.
    ///
    /// # Errors
    /// I/O errors while finishing the file.
    pub fn finish(mut self) -> io::Result<RecordingSummary> {
        if matches!(self.state, State::Waiting(_)) {
            self.open(None);
        }
        if let Some(held) = self.held.take() {
            self.write_picture(held);
        }
        let mut summary = self.summary();
        match std::mem::replace(&mut self.state, State::Failed) {
            State::Writing(w) => {
                let duration = summary.video_end_ms.max(summary.audio_end_ms) as f64;
                let (file, size) = w.finish(duration)?;
                file.sync_all()?;
                summary.bytes = size;
                Ok(summary)
            }
            _ => Err(io::Error::other(
                "the recording failed earlier; see the log",
            )),
        }
    }
}
