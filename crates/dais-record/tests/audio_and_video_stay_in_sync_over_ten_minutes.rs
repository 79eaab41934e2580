//! A 10-minute synthetic meeting: 25 fps H.264 (real libx264 pictures, looped) with a switch
//! every 30 s (the engine advances the timestamp by the gap it saw, here between 0 and 400 ms),
//! and the mix in 20 ms frames, both arriving with seeded jitter of up to ±30 ms and the first
//! picture 137 ms after the first audio. The file's streams must end together (drift under
//! 100 ms, issue #7) and every picture must sit where its send time says.
//!
//! Measured from the file (ffprobe packet times), never from the wall clock.

#![allow(clippy::print_stderr)] // the measured drift is the test's report

mod common;

use std::time::{Duration, Instant};

use common::*;
use dais_record::h264::Packetizer;
use dais_record::{Recorder, RecorderConfig};

struct Lcg(u64);
impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
    /// -30..=30 ms.
    fn jitter(&mut self) -> i64 {
        (self.next() % 61) as i64 - 30
    }
}

#[test]
fn audio_and_video_stay_in_sync_over_ten_minutes() {
    let dir = tempfile::tempdir().unwrap();
    let gop = clip(dir.path(), "white", "64x48", 1);
    assert_eq!(gop.len(), 25);
    let path = dir.path().join("long.mkv");
    let start = Instant::now() + Duration::from_secs(1);
    let at = |ms: i64| start + Duration::from_millis(ms.max(0) as u64);
    let mut rec = Recorder::create(&path, start, RecorderConfig::default()).unwrap();
    let mut pk = Packetizer {
        payload_type: 96,
        ssrc: 1,
        sequence: 0,
        mtu: 1200,
    };
    let mut rng = Lcg(7);
    const SECS: i64 = 600;
    let video_delay = 137;
    // Sender-side time of each picture (ms since start) and its RTP timestamp.
    let mut send_ms = video_delay;
    let mut ts: u32 = 12_345;
    let mut frame = 0usize;
    let mut audio_frame: u64 = 0;
    let mut switch_gaps = 0i64;
    // Reported, never asserted: what writing a meeting costs the writer thread.
    let began = Instant::now();
    while send_ms < SECS * 1000 || (audio_frame as i64) * 20 < SECS * 1000 {
        // Interleave in arrival order: whichever is due first.
        let next_audio_ms = audio_frame as i64 * 20;
        if send_ms <= next_audio_ms && send_ms < SECS * 1000 {
            let au = &gop[frame % 25];
            let nals: Vec<&[u8]> = au.iter().map(Vec::as_slice).collect();
            let arrive = at(send_ms + rng.jitter().abs());
            for p in pk.packetize(ts, &nals) {
                rec.video(arrive, &p);
            }
            frame += 1;
            send_ms += 40;
            ts = ts.wrapping_add(3600);
            if frame.is_multiple_of(25 * 30) {
                // A switch: the engine waits for the new venue's keyframe and advances the
                // timestamp by the wall-clock gap it saw.
                let gap = (rng.next() % 400) as i64;
                send_ms += gap;
                ts = ts.wrapping_add((gap * 90) as u32);
                switch_gaps += gap;
            }
        } else {
            let arrive = at(next_audio_ms + rng.jitter().abs());
            rec.audio(arrive, audio_frame * 160, &tone(audio_frame * 160, 300.0));
            audio_frame += 1;
        }
    }
    let summary = rec.finish().unwrap();
    let cost = began.elapsed();
    assert!(switch_gaps > 0);
    let last = last_pts(&path);
    // Each stream's last packet starts one frame before its end.
    let video_end = last[0] + 0.040;
    let audio_end = last[1] + 0.020;
    let drift_ms = (video_end - audio_end) * 1000.0;
    eprintln!(
        "10 min: video ends at {video_end:.3} s, audio at {audio_end:.3} s, drift {drift_ms:.1} ms; {} pictures, {} audio frames, {} bytes, written in {} ms",
        summary.video_frames,
        summary.audio_frames,
        summary.bytes,
        cost.as_millis()
    );
    assert!(drift_ms.abs() < 100.0, "drift {drift_ms} ms");
    // And the last picture is where the sender's clock put it (its jitter never accumulates).
    let expected_last_video = (send_ms - 40) as f64 / 1000.0;
    assert!(
        (last[0] - expected_last_video).abs() < 0.05,
        "last picture at {} s, sent at {expected_last_video} s",
        last[0]
    );
    let duration: f64 = probe(&path, "format=duration").trim().parse().unwrap();
    assert!((duration - SECS as f64).abs() < 0.2, "duration {duration}");
}
