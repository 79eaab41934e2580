//! A recording of the switched broadcast feed plus the mix, fed with real libx264 pictures in
//! three colours exactly as the media engine forwards them (one SSRC, continuous sequence
//! numbers and timestamps, each switch on a keyframe) and a tone as the mix. ffprobe must read
//! it, its duration must match, both streams must decode without an error, and the decoded
//! pictures must go red → green → blue.
//!
//! Needs `ffmpeg`/`ffprobe` on the PATH (scripts/setup-test-deps.sh installs them).

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use dais_record::h264::Packetizer;
use dais_record::{DEFAULT_QUEUE, Recorder, RecorderConfig, RecorderThread};

/// Feeds `secs` seconds (two per colour) into `sink`; returns the instant the feeding ended.
fn feed(
    sink: &dais_record::RecordSink,
    start: Instant,
    clips: &[Vec<Vec<Vec<u8>>>],
    frames: usize,
) {
    let mut pk = Packetizer {
        payload_type: 96,
        ssrc: 0x0dd5,
        sequence: 40_000,
        mtu: 1200,
    };
    for f in 0..frames {
        // Two seconds per venue: each switch lands on the venue's keyframe (frame 0 of its clip).
        let clip = &clips[(f / 50) % clips.len()];
        let au = &clip[f % 50];
        let at = start + Duration::from_millis(f as u64 * 40 + 3);
        // Timestamps start near the wrap to exercise the unwrapping. At a switch the engine
        // advances them by the wall-clock gap it saw, here 5 ms instead of a frame's 40.
        let switches = (f / 50) as u32;
        let ts = 0xffff_0000u32
            .wrapping_add(f as u32 * 3600)
            .wrapping_sub(switches * (3600 - 450));
        let nals: Vec<&[u8]> = au.iter().map(Vec::as_slice).collect();
        for pkt in pk.packetize(ts, &nals) {
            sink.video(at, &pkt);
        }
        for k in 0..2u64 {
            let frame = f as u64 * 2 + k;
            sink.audio(
                start + Duration::from_millis(frame * 20),
                frame * 160,
                &tone(frame * 160, 440.0),
            );
        }
    }
}

#[test]
fn recording_of_switches_plays_in_ffmpeg() {
    let dir = tempfile::tempdir().unwrap();
    let clips: Vec<_> = ["red", "green", "blue"]
        .iter()
        .map(|c| clip(dir.path(), c, "160x120", 2))
        .collect();
    assert!(clips.iter().all(|c| c.len() == 50), "2 s at 25 fps each");
    let path = dir.path().join("rec/meeting-1.mkv");
    let start = Instant::now();
    let rec = Recorder::create(&path, start, RecorderConfig::default()).unwrap();
    let t = RecorderThread::spawn(rec, DEFAULT_QUEUE).unwrap();
    let sink = t.sink();
    // 6 s: red, green, blue.
    feed(&sink, start, &clips, 150);
    assert_eq!(sink.dropped(), 0);
    drop(sink);
    let summary = t.finish().unwrap();
    // The last red and the last green picture were on screen for 5 ms: left out.
    assert_eq!(summary.video_shadowed, 2);
    assert_eq!(summary.video_frames, 148);
    assert_eq!(summary.audio_frames, 300);
    assert_eq!(summary.depacketizer.gaps, 0);
    assert_eq!(std::fs::metadata(&path).unwrap().len(), summary.bytes);

    let streams = probe(&path, "stream=codec_name");
    assert_eq!(
        streams.split_whitespace().collect::<Vec<_>>(),
        ["h264", "pcm_s16le"]
    );
    let size = probe(&path, "stream=width,height");
    assert!(size.starts_with("160,120"), "{size}");
    let duration: f64 = probe(&path, "format=duration").trim().parse().unwrap();
    assert!((duration - 5.93).abs() < 0.1, "duration {duration}");
    let errors = decode_errors(&path);
    assert!(errors.trim().is_empty(), "decode errors: {errors}");
    let c = colours(&path);
    assert!(c.len() >= 145, "{} pictures decoded", c.len());
    // With a constant-frame-rate output ffmpeg would refuse two pictures 5 ms apart: none left.
    let cfr = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
        .arg(&path)
        .args(["-map", "0:v", "-fps_mode", "cfr", "-f", "null", "-"])
        .output()
        .unwrap();
    assert!(
        cfr.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&cfr.stderr)
    );
    assert_eq!(runs(&c), "RGB", "{c:?}");
    // The switch times: 2 s and 4 s on the file's timeline, within a frame (one picture fewer
    // before each switch: the shadowed ones).
    let first_green = c.iter().position(|x| *x == 'G').unwrap();
    let first_blue = c.iter().position(|x| *x == 'B').unwrap();
    assert!(
        (48..=51).contains(&first_green),
        "green from picture {first_green}"
    );
    assert!(
        (97..=101).contains(&first_blue),
        "blue from picture {first_blue}"
    );
}

/// The writer stops without finishing (what `kill -9` of daisd leaves: every closed cluster is
/// on disk, nothing else): ffmpeg still decodes it without an error up to within a second and
/// a half of the end of the input.
#[test]
fn recording_cut_off_mid_meeting_still_plays() {
    let dir = tempfile::tempdir().unwrap();
    let clips: Vec<_> = ["red", "green"]
        .iter()
        .map(|c| clip(dir.path(), c, "160x120", 2))
        .collect();
    let path = dir.path().join("cut.mkv");
    let start = Instant::now();
    let rec = Recorder::create(&path, start, RecorderConfig::default()).unwrap();
    let t = RecorderThread::spawn(rec, DEFAULT_QUEUE).unwrap();
    let sink = t.sink();
    // 3.6 s of input, then the plug is pulled.
    feed(&sink, start, &clips, 90);
    drop(sink);
    t.abandon().unwrap();
    let errors = decode_errors(&path);
    assert!(errors.trim().is_empty(), "decode errors: {errors}");
    let last = last_pts(&path);
    assert!(last[0] >= 3.6 - 1.5, "video up to {}", last[0]);
    assert!(last[1] >= 3.6 - 1.5, "audio up to {}", last[1]);
    let c = colours(&path);
    assert_eq!(runs(&c), "RG", "{c:?}");
}

/// A switch the engine forced after its timeout: the new venue's pictures start mid-GOP. Told
/// so (`discontinuity` after the first such packet), the recording holds the old picture until
/// the new venue's keyframe and decodes without an error.
#[test]
fn forced_switch_holds_the_picture_until_the_next_keyframe() {
    let dir = tempfile::tempdir().unwrap();
    let red = clip(dir.path(), "red", "160x120", 2);
    let green = clip(dir.path(), "green", "160x120", 2);
    let path = dir.path().join("forced.mkv");
    let start = Instant::now();
    let rec = Recorder::create(&path, start, RecorderConfig::default()).unwrap();
    let t = RecorderThread::spawn(rec, DEFAULT_QUEUE).unwrap();
    let sink = t.sink();
    let mut pk = Packetizer {
        payload_type: 96,
        ssrc: 9,
        sequence: 1,
        mtu: 1200,
    };
    // 30 red pictures, then green from its picture 10 (its next keyframe is picture 25).
    let pictures = red[..30].iter().chain(&green[10..50]);
    for (f, au) in pictures.enumerate() {
        let at = start + Duration::from_millis(f as u64 * 40);
        let nals: Vec<&[u8]> = au.iter().map(Vec::as_slice).collect();
        for (k, p) in pk.packetize(f as u32 * 3600, &nals).iter().enumerate() {
            sink.video(at, p);
            if f == 30 && k == 0 {
                sink.discontinuity();
            }
        }
    }
    drop(sink);
    let summary = t.finish().unwrap();
    assert_eq!(summary.video_frames, 30 + 25, "{summary:?}");
    let errors = decode_errors(&path);
    assert!(errors.trim().is_empty(), "decode errors: {errors}");
    let c = colours(&path);
    assert_eq!(runs(&c), "RG", "{c:?}");
}

/// Venues send different picture sizes: after a switch the new venue's SPS (in-band, before
/// its keyframe) takes over and the file still decodes without an error.
#[test]
fn switch_between_picture_sizes_decodes() {
    let dir = tempfile::tempdir().unwrap();
    let small = clip(dir.path(), "red", "160x120", 2);
    let large = clip(dir.path(), "blue", "320x240", 2);
    let path = dir.path().join("sizes.mkv");
    let start = Instant::now();
    let rec = Recorder::create(&path, start, RecorderConfig::default()).unwrap();
    let t = RecorderThread::spawn(rec, DEFAULT_QUEUE).unwrap();
    feed(&t.sink(), start, &[small, large], 100);
    t.finish().unwrap();
    let errors = decode_errors(&path);
    assert!(errors.trim().is_empty(), "decode errors: {errors}");
    assert_eq!(runs(&colours(&path)), "RB");
}

/// A switch inside one receive batch: the engine stamps the new venue's keyframe one RTP tick
/// after the old venue's last picture, here right after the recording's first picture, before
/// the frame rate is known. The old picture was on screen for no time: it is left out, and the
/// file's timestamps still only increase (ffmpeg refused the file with "non monotonically
/// increasing dts" before).
#[test]
fn a_switch_stamped_within_the_millisecond_early_on_still_plays() {
    let dir = tempfile::tempdir().unwrap();
    let clips: Vec<_> = ["red", "green"]
        .iter()
        .map(|c| clip(dir.path(), c, "160x120", 2))
        .collect();
    let path = dir.path().join("early.mkv");
    let start = Instant::now();
    let rec = Recorder::create(&path, start, RecorderConfig::default()).unwrap();
    let t = RecorderThread::spawn(rec, DEFAULT_QUEUE).unwrap();
    let sink = t.sink();
    let mut pk = Packetizer {
        payload_type: 96,
        ssrc: 0x0dd5,
        sequence: 7,
        mtu: 1200,
    };
    // Red's keyframe, then green from its keyframe on, one tick after it.
    let mut ts = 90_000u32;
    let pictures = std::iter::once((0usize, 0usize)).chain((0..40).map(|k| (1, k)));
    for (n, (venue, k)) in pictures.enumerate() {
        ts = ts.wrapping_add(match n {
            0 => 0,
            1 => 1,
            _ => 3600,
        });
        let nals: Vec<&[u8]> = clips[venue][k].iter().map(Vec::as_slice).collect();
        let at = start + Duration::from_millis(n as u64 * 40);
        for pkt in pk.packetize(ts, &nals) {
            sink.video(at, &pkt);
        }
    }
    drop(sink);
    let summary = t.finish().unwrap();
    assert_eq!(
        summary.video_shadowed, 1,
        "red's picture, shown for no time"
    );
    assert_eq!(summary.video_frames, 40);
    let errors = decode_errors(&path);
    assert!(errors.trim().is_empty(), "decode errors: {errors}");
    let c = colours(&path);
    assert_eq!(runs(&c), "G", "{c:?}");
}
