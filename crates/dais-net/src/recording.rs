//! Recording a meeting while it is live: the broadcast feed's packets and the mixer's full mix
//! go from the media task to a [`RecorderThread`] (bounded queue, never blocking the router),
//! which writes `<dir>/<meeting>-<start>.mkv`.
//!
//! [`record_when_live`] watches a meeting's events: recording starts when the meeting goes
//! live and is finished (duration, index) when it ends or its media task stops. Each finished
//! recording is handed to a callback (the server archives it).

use std::io;
use std::path::{Path, PathBuf};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use dais_conference::{ConferenceEvent, MeetingState};
use dais_media::FeedId;
use dais_record::{Recorder, RecorderConfig, RecorderThread, RecordingSummary};
use tokio::sync::broadcast::error::RecvError;
use tracing::{info, warn};

use crate::media_task::{MediaHandle, MediaTaskError};
use crate::meeting::{MeetingEvent, MeetingHandle};

/// Where and how meetings are recorded.
#[derive(Debug, Clone)]
pub struct RecordingSettings {
    /// Directory of the recordings (`<data>/recordings`).
    pub dir: PathBuf,
    /// Items queued between the media task and the writer before drops.
    pub queue: usize,
    /// The recorder's settings.
    pub recorder: RecorderConfig,
}

impl RecordingSettings {
    /// Default settings writing into `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        RecordingSettings {
            dir: dir.into(),
            queue: dais_record::DEFAULT_QUEUE,
            recorder: RecorderConfig::default(),
        }
    }
}

/// A recording that has stopped.
#[derive(Debug, Clone)]
pub struct FinishedRecording {
    /// The meeting number.
    pub meeting: String,
    /// The file.
    pub path: PathBuf,
    /// When recording started and ended.
    pub started: SystemTime,
    /// When recording ended.
    pub ended: SystemTime,
    /// What the file holds.
    pub summary: RecordingSummary,
    /// Packets and frames the media task dropped because the writer fell behind.
    pub dropped: u64,
}

/// Why a recording could not start or finish.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RecordingError {
    /// The file or the writer thread.
    #[error("recording file: {0}")]
    Io(#[from] io::Error),
    /// The media task refused (unknown feed) or has ended.
    #[error(transparent)]
    Media(#[from] MediaTaskError),
}

/// `<meeting>-<YYYYMMDDTHHMMSSZ>.mkv`, with anything but letters, digits, `-` and `_` in the
/// meeting number replaced (it becomes a file name).
pub fn file_name(meeting: &str, start: SystemTime) -> String {
    let safe: String = meeting
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '_'
            }
        })
        .collect();
    format!("{safe}-{}.mkv", utc_stamp(start))
}

/// `YYYYMMDDTHHMMSSZ` (UTC) of a time.
pub fn utc_stamp(t: SystemTime) -> String {
    let secs = t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs()) as i64;
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil date from days since 1970-01-01 (H. Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}{m:02}{d:02}T{:02}{:02}{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// The inverse of [`file_name`]: the meeting number and start time of a recording's file
/// name, `None` when the name is not one of ours.
pub fn parse_file_name(name: &str) -> Option<(String, SystemTime)> {
    let stem = name.strip_suffix(".mkv")?;
    let (meeting, stamp) = stem.rsplit_once('-')?;
    let b = stamp.as_bytes();
    if meeting.is_empty() || b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let s = stamp.get(r)?;
        s.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| s.parse().ok())?
    };
    let (y, m, d) = (num(0..4)?, num(4..6)?, num(6..8)?);
    let (hh, mm, ss) = (num(9..11)?, num(11..13)?, num(13..15)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    // Days since 1970-01-01 from a civil date (H. Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    let secs = u64::try_from(days * 86_400 + hh * 3600 + mm * 60 + ss).ok()?;
    Some((
        meeting.to_string(),
        UNIX_EPOCH + std::time::Duration::from_secs(secs),
    ))
}

/// A meeting being recorded.
#[derive(Debug)]
pub struct MeetingRecording {
    meeting: String,
    media: MediaHandle,
    thread: RecorderThread,
    path: PathBuf,
    started: SystemTime,
}

impl MeetingRecording {
    /// Creates the file and starts copying `feed` and the full mix into it.
    ///
    /// # Errors
    /// The file cannot be created (it exists, or the directory is not writable), or the media
    /// task refused the feed.
    pub async fn start(
        media: &MediaHandle,
        feed: FeedId,
        meeting: &str,
        settings: &RecordingSettings,
    ) -> Result<MeetingRecording, RecordingError> {
        let started = SystemTime::now();
        let path = settings.dir.join(file_name(meeting, started));
        let mut cfg = settings.recorder.clone();
        cfg.title = format!("Meeting {meeting}");
        let queue = settings.queue;
        let p = path.clone();
        let thread = tokio::task::spawn_blocking(move || -> io::Result<RecorderThread> {
            let rec = Recorder::create(&p, Instant::now(), cfg)?;
            RecorderThread::spawn(rec, queue)
        })
        .await
        .map_err(|e| io::Error::other(e.to_string()))??;
        if let Err(e) = media.start_recording(feed, thread.sink()).await {
            // Nothing was recorded: leave no empty file behind.
            let _ = tokio::task::spawn_blocking(move || thread.abandon()).await;
            let _ = std::fs::remove_file(&path);
            return Err(e.into());
        }
        info!(meeting, path = %path.display(), "recording started");
        Ok(MeetingRecording {
            meeting: meeting.to_string(),
            media: media.clone(),
            thread,
            path,
            started,
        })
    }

    /// The file being written.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Stops copying and finishes the file (duration and index written).
    ///
    /// # Errors
    /// The file could not be finished (it still plays up to its last cluster).
    pub async fn stop(self) -> Result<FinishedRecording, RecordingError> {
        // A media task that has already ended copies nothing more: finishing is all that is left.
        let _ = self.media.stop_recording().await;
        let dropped = self.thread.sink().dropped();
        let thread = self.thread;
        let summary = tokio::task::spawn_blocking(move || thread.finish())
            .await
            .map_err(|e| io::Error::other(e.to_string()))??;
        let ended = SystemTime::now();
        info!(
            meeting = %self.meeting,
            path = %self.path.display(),
            bytes = summary.bytes,
            video_frames = summary.video_frames,
            audio_frames = summary.audio_frames,
            dropped,
            "recording finished"
        );
        Ok(FinishedRecording {
            meeting: self.meeting,
            path: self.path,
            started: self.started,
            ended,
            summary,
            dropped,
        })
    }

    /// Stops without finishing the file, as a crash would leave it (tests of crash safety).
    ///
    /// # Errors
    /// The writer thread panicked.
    pub async fn abandon(self) -> Result<RecordingSummary, RecordingError> {
        let _ = self.media.stop_recording().await;
        let thread = self.thread;
        Ok(tokio::task::spawn_blocking(move || thread.abandon())
            .await
            .map_err(|e| io::Error::other(e.to_string()))??)
    }
}

/// Records `meeting` whenever it is live: starts on go-live (or at once if it already is),
/// finishes when it ends or its media task stops, and hands each finished recording to
/// `finished`. Runs until the meeting's media task ends.
pub fn record_when_live<F>(
    meeting: &MeetingHandle,
    settings: RecordingSettings,
    mut finished: F,
) -> tokio::task::JoinHandle<()>
where
    F: FnMut(FinishedRecording) + Send + 'static,
{
    let mut events = meeting.subscribe();
    let handle = meeting.clone();
    tokio::spawn(async move {
        let number = handle.number().to_string();
        let media = handle.media().clone();
        let feed = handle.broadcast_feed();
        let mut live = matches!(
            handle.view().await.map(|v| v.conference.state),
            Some(MeetingState::Live)
        );
        // Only the event receiver, the media handle and the feed are kept: a clone of the
        // meeting handle would keep its event channel open after the meeting ends.
        drop(handle);
        let mut current: Option<MeetingRecording> = None;
        loop {
            if live && current.is_none() {
                match MeetingRecording::start(&media, feed, &number, &settings).await {
                    Ok(r) => current = Some(r),
                    Err(e) => {
                        warn!(meeting = %number, error = %e, "recording could not start");
                        // Not retried until the meeting goes live again.
                        live = false;
                    }
                }
            }
            if !live && let Some(r) = current.take() {
                match r.stop().await {
                    Ok(f) => finished(f),
                    Err(e) => warn!(meeting = %number, error = %e, "recording could not finish"),
                }
            }
            tokio::select! {
                ev = events.recv() => match ev {
                    Ok(MeetingEvent::Conference {
                        event: ConferenceEvent::StateChanged { to, .. },
                    }) => {
                        live = to == MeetingState::Live;
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => {}
                    Err(RecvError::Closed) => break,
                },
                () = media.closed() => break,
            }
        }
        if let Some(r) = current.take() {
            match r.stop().await {
                Ok(f) => finished(f),
                Err(e) => warn!(meeting = %number, error = %e, "recording could not finish"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn file_names_are_safe_and_stamped_in_utc() {
        let t = UNIX_EPOCH + Duration::from_secs(1_795_000_000);
        assert_eq!(utc_stamp(t), "20261118T110640Z");
        assert_eq!(utc_stamp(UNIX_EPOCH), "19700101T000000Z");
        assert_eq!(file_name("8000/../x", t), "8000____x-20261118T110640Z.mkv");
        assert_eq!(
            parse_file_name("8001-20261118T110640Z.mkv"),
            Some(("8001".to_string(), t))
        );
        assert_eq!(parse_file_name("8001-20261318T110640Z.mkv"), None);
        assert_eq!(parse_file_name("8001-20261118T110640Z.mp4"), None);
        assert_eq!(parse_file_name("20261118T110640Z.mkv"), None);
        assert_eq!(parse_file_name("x-2026111８T110640Z.mkv"), None);
    }
}
