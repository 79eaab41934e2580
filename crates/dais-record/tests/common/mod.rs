//! Shared by the recording tests: real H.264 from ffmpeg (libx264), packetised as a venue
//! would send it, and ffprobe/ffmpeg to read the recordings back.
#![allow(dead_code)]

use std::path::Path;
use std::process::{Command, Stdio};

use dais_record::h264::split_annex_b;

/// Access units (NAL units without start codes) of a `secs`-long clip of one colour, one
/// keyframe a second, one slice per picture.
pub fn clip(dir: &Path, colour: &str, size: &str, secs: u32) -> Vec<Vec<Vec<u8>>> {
    let path = dir.join(format!("{colour}.h264"));
    let st = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-y",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg(format!("color=c={colour}:s={size}:r=25"))
        .args([
            "-t",
            &secs.to_string(),
            "-c:v",
            "libx264",
            "-profile:v",
            "baseline",
        ])
        .args(["-g", "25", "-threads", "1", "-bf", "0", "-f", "h264"])
        .arg(&path)
        .stdin(Stdio::null())
        .status()
        .expect("ffmpeg must be installed: run scripts/setup-test-deps.sh");
    assert!(st.success());
    let data = std::fs::read(&path).unwrap();
    let mut aus: Vec<Vec<Vec<u8>>> = Vec::new();
    let mut pending: Vec<Vec<u8>> = Vec::new();
    for n in split_annex_b(&data) {
        let t = n[0] & 0x1f;
        pending.push(n.to_vec());
        if t == 1 || t == 5 {
            aus.push(std::mem::take(&mut pending));
        }
    }
    aus
}

/// Output of a command that must succeed: (stdout, stderr).
pub fn run(cmd: &mut Command) -> (String, String) {
    let out = cmd.stdin(Stdio::null()).output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `ffprobe` of one entry, e.g. `format=duration`.
pub fn probe(file: &Path, entries: &str) -> String {
    run(Command::new("ffprobe")
        .args(["-v", "error", "-show_entries", entries, "-of", "csv=p=0"])
        .arg(file))
    .0
}

/// Per stream index: the largest packet presentation time in seconds.
pub fn last_pts(file: &Path) -> Vec<f64> {
    let out = run(Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "packet=stream_index,pts_time",
            "-of",
            "csv=p=0",
        ])
        .arg(file))
    .0;
    let mut last = vec![f64::NAN; 2];
    for line in out.lines() {
        let mut it = line.split(',');
        let (Some(i), Some(t)) = (it.next(), it.next()) else {
            continue;
        };
        let (Ok(i), Ok(t)) = (i.trim().parse::<usize>(), t.trim().parse::<f64>()) else {
            continue;
        };
        if i < 2 && (last[i].is_nan() || t > last[i]) {
            last[i] = t;
        }
    }
    last
}

/// Full decode of every stream; returns ffmpeg's error output (empty when clean).
pub fn decode_errors(file: &Path) -> String {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg");
    let mut s = String::from_utf8_lossy(&out.stderr).into_owned();
    if !out.status.success() {
        s.push_str("\n(non-zero exit)");
    }
    s
}

/// The colour of each decoded picture, as 'R', 'G', 'B' (or '?').
pub fn colours(file: &Path) -> Vec<char> {
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args([
            "-map",
            "0:v",
            "-vf",
            "scale=2:2",
            "-pix_fmt",
            "rgb24",
            "-f",
            "rawvideo",
            "-",
        ])
        .output()
        .expect("ffmpeg");
    out.stdout
        .chunks_exact(12)
        .map(|px| {
            let (mut r, mut g, mut b) = (0u32, 0u32, 0u32);
            for p in px.chunks_exact(3) {
                r += u32::from(p[0]);
                g += u32::from(p[1]);
                b += u32::from(p[2]);
            }
            let max = r.max(g).max(b);
            if max < 4 * 60 {
                '?'
            } else if max == r && r > g + 100 && r > b + 100 {
                'R'
            } else if max == g && g > r + 100 && g > b + 100 {
                'G'
            } else if max == b && b > r + 100 && b > g + 100 {
                'B'
            } else {
                '?'
            }
        })
        .collect()
}

/// Runs of equal colours: "RRRGGB" → "RGB".
pub fn runs(c: &[char]) -> String {
    let mut s = String::new();
    for &x in c {
        if !s.ends_with(x) {
            s.push(x);
        }
    }
    s
}

/// 20 ms of a sine at 8 kHz, continuing from sample `start`.
pub fn tone(start: u64, hz: f64) -> Vec<i16> {
    (0..160u64)
        .map(|i| {
            let t = (start + i) as f64 / 8000.0;
            (8000.0 * (2.0 * std::f64::consts::PI * hz * t).sin()) as i16
        })
        .collect()
}
