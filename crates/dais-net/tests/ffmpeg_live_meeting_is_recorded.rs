//! Recording a live meeting end to end: three ffmpeg/libx264 venues (red, green, blue) and two
//! G.711 tone venues join a meeting over loopback UDP; the meeting goes live (recording
//! starts), the chair broadcasts green then blue, and ends the meeting (recording finishes).
//! ffprobe must read the file, both streams must decode without an error, the duration must
//! match the live time, the pictures must change colour where the switches happened on the
//! recording's timeline, and both venues' tones must be in the recorded mix.
//!
//! Needs `ffmpeg`/`ffprobe` on the PATH (scripts/setup-test-deps.sh installs them).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use dais_conference::{
    Actor, ChairCommand, ConferenceConfig, FeedRole, MeetingPlan, Role, Venue, VenueId, VenueKind,
};
use dais_media::{
    AudioParams, EngineConfig, KeyframeRequestMode, LegConfig, VideoCodec, VideoParams,
};
use dais_net::media_task;
use dais_net::meeting::{self, MeetingEvent, NoDialer};
use dais_net::recording::{FinishedRecording, RecordingSettings, record_when_live};
use dais_net::sim::SyntheticAudio;
use tokio::net::UdpSocket;
use tokio::sync::mpsc;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn id(s: &str) -> VenueId {
    s.parse().unwrap()
}

fn free_pair() -> u16 {
    let (rtp, _rtcp) = media_task::bind_pair(LOOPBACK, 0).unwrap();
    rtp.local_addr().unwrap().port()
}

fn sender(colour: &str, to_port: u16, local_port: u16) -> Child {
    Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-re",
            "-f",
            "lavfi",
            "-i",
        ])
        .arg(format!("color=c={colour}:s=320x240:r=25"))
        .args([
            "-t",
            "40",
            "-c:v",
            "libx264",
            "-profile:v",
            "baseline",
            "-tune",
            "zerolatency",
        ])
        .args([
            "-g",
            "25",
            "-bsf:v",
            "h264_mp4toannexb",
            "-f",
            "rtp",
            "-payload_type",
            "96",
        ])
        .arg(format!(
            "rtp://127.0.0.1:{to_port}?localrtpport={local_port}&localrtcpport={}",
            local_port + 1
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("ffmpeg must be installed: run scripts/setup-test-deps.sh")
}

/// A G.711 venue sending its tone every 20 ms until the task is aborted.
async fn tone_venue(
    meeting: &meeting::MeetingHandle,
    name: &str,
    n: u32,
    freq: f32,
) -> tokio::task::JoinHandle<()> {
    let socket = UdpSocket::bind(SocketAddr::new(LOOPBACK, 0)).await.unwrap();
    let cfg = LegConfig {
        rtp_addr: socket.local_addr().unwrap(),
        rtcp_addr: None,
        video: None,
        audio: Some(AudioParams {
            payload_type: 0,
            clock_rate: 8000,
        }),
        send: true,
        recv: true,
    };
    meeting.leg_up(&id(name), cfg).await.unwrap();
    let target = meeting.media().rtp_addr();
    let mut tone = SyntheticAudio::new(n, freq, 0.2, 5);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_millis(20));
        let mut pkt = Vec::new();
        let mut buf = [0u8; 2048];
        loop {
            tokio::select! {
                _ = tick.tick() => {
                    tone.next_packet(&mut pkt);
                    let _ = socket.send_to(&pkt, target).await;
                }
                // Drain what the meeting sends back.
                _ = socket.recv_from(&mut buf) => {}
            }
        }
    })
}

fn run(cmd: &mut Command) -> String {
    let out = cmd.stdin(Stdio::null()).output().expect("spawn");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn colour(px: &[u8]) -> char {
    let (mut r, mut g, mut b) = (0u32, 0u32, 0u32);
    for p in px.chunks_exact(3) {
        r += u32::from(p[0]);
        g += u32::from(p[1]);
        b += u32::from(p[2]);
    }
    match (r.max(g).max(b), r, g, b) {
        (m, ..) if m < 4 * 60 => '?',
        (m, r, g, b) if m == r && r > 2 * g && r > 2 * b => 'R',
        (m, r, g, b) if m == g && g > 2 * r && g > 2 * b => 'G',
        (m, r, g, b) if m == b && b > 2 * r && b > 2 * g => 'B',
        _ => '?',
    }
}

/// Each decoded picture's time and colour.
fn pictures(file: &Path) -> Vec<(f64, char)> {
    let times: Vec<f64> = run(Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-select_streams",
            "v",
            "-show_entries",
            "frame=pts_time",
        ])
        .args(["-of", "csv=p=0"])
        .arg(file))
    .lines()
    .filter_map(|l| l.trim().trim_end_matches(',').parse().ok())
    .collect();
    let raw = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
        .arg(file)
        .args([
            "-map",
            "0:v",
            "-fps_mode",
            "passthrough",
            "-vf",
            "scale=2:2",
        ])
        .args(["-pix_fmt", "rgb24", "-f", "rawvideo", "-"])
        .output()
        .unwrap()
        .stdout;
    let colours: Vec<char> = raw.chunks_exact(12).map(colour).collect();
    assert_eq!(times.len(), colours.len(), "one time per decoded picture");
    times.into_iter().zip(colours).collect()
}

/// Amplitude of `freq` in 8 kHz samples (Goertzel).
fn tone_amplitude(x: &[i16], freq: f64) -> f64 {
    let w = 2.0 * std::f64::consts::PI * freq / 8000.0;
    let c = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s = f64::from(v) + c * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let p = s1 * s1 + s2 * s2 - c * s1 * s2;
    2.0 * p.max(0.0).sqrt() / x.len() as f64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_live_meeting_is_recorded_with_switches_and_the_mix() {
    let dir = tempfile::tempdir().unwrap();
    let names = ["bj", "sh", "gz", "xa", "cd"];
    let plan = MeetingPlan {
        number: "8100".into(),
        subject: "Recorded".into(),
        main_venue: id("bj"),
        venues: names
            .iter()
            .enumerate()
            .map(|(i, n)| Venue {
                id: id(n),
                name: n.to_string(),
                kind: if i == 0 {
                    VenueKind::Main
                } else {
                    VenueKind::City
                },
                parent: if i == 0 { None } else { Some(id("bj")) },
            })
            .collect(),
        chair: "li".into(),
        duration: None,
        roll_call_order: vec![],
    };
    let (rtp, rtcp) = media_task::bind_pair(LOOPBACK, 0).unwrap();
    let (ev_tx, ev_rx) = mpsc::channel(1024);
    let cfg = EngineConfig {
        // The ffmpeg senders ignore PLI: switches wait for their 1 s GOP.
        switch_timeout: Duration::from_secs(3),
        ..EngineConfig::default()
    };
    let media = media_task::spawn(rtp, rtcp, cfg, ev_tx).unwrap();
    let server_port = media.rtp_addr().port();
    let meeting = meeting::start(
        plan,
        ConferenceConfig::default(),
        media,
        ev_rx,
        Arc::new(NoDialer),
    )
    .await
    .unwrap();
    let chair = Actor::new("li", Role::ChairOperator);
    meeting
        .command(chair.clone(), ChairCommand::StartTesting)
        .await
        .unwrap();

    let video = Some(VideoParams {
        payload_type: 96,
        codec: VideoCodec::H264,
        clock_rate: 90_000,
        keyframe_request: KeyframeRequestMode::Rtcp,
    });
    let mut senders = Vec::new();
    for (name, colour) in [("bj", "red"), ("sh", "green"), ("gz", "blue")] {
        let local = free_pair();
        let cfg = LegConfig {
            rtp_addr: SocketAddr::new(LOOPBACK, local),
            rtcp_addr: Some(SocketAddr::new(LOOPBACK, local + 1)),
            video,
            audio: None,
            send: true,
            recv: false,
        };
        meeting.leg_up(&id(name), cfg).await.unwrap();
        senders.push(sender(colour, server_port, local));
    }
    let tones = [
        tone_venue(&meeting, "xa", 4, 500.0).await,
        tone_venue(&meeting, "cd", 5, 1100.0).await,
    ];

    let (done_tx, mut done_rx) = mpsc::unbounded_channel::<FinishedRecording>();
    let recordings = dir.path().join("recordings");
    let watcher = record_when_live(&meeting, RecordingSettings::new(&recordings), move |f| {
        let _ = done_tx.send(f);
    });
    let mut events = meeting.subscribe();
    // Let the encoders start before going live.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    meeting
        .command(chair.clone(), ChairCommand::GoLive)
        .await
        .unwrap();
    let live_at = SystemTime::now();
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let sh_at = SystemTime::now();
    meeting
        .command(chair.clone(), ChairCommand::Broadcast { venue: id("sh") })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(3000)).await;
    let gz_at = SystemTime::now();
    meeting
        .command(chair.clone(), ChairCommand::Broadcast { venue: id("gz") })
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(3000)).await;
    meeting
        .command(chair.clone(), ChairCommand::EndMeeting)
        .await
        .unwrap();
    let ended_at = SystemTime::now();
    let finished = tokio::time::timeout(Duration::from_secs(30), done_rx.recv())
        .await
        .expect("the recording finishes when the meeting ends")
        .unwrap();
    for t in tones {
        t.abort();
    }
    for mut s in senders {
        let _ = s.kill();
        let _ = s.wait();
    }
    meeting.shutdown().await;
    let _ = watcher.await;

    // When each broadcast switch completed, on the wall clock.
    let mut switched = Vec::new();
    while let Ok(ev) = events.try_recv() {
        if let MeetingEvent::SwitchCompleted {
            feed: FeedRole::Broadcast,
            venue,
            forced,
            ..
        } = ev
        {
            assert!(!forced, "every switch on a keyframe");
            switched.push(venue);
        }
    }
    assert!(switched.ends_with(&[id("sh"), id("gz")]), "{switched:?}");

    let path = &finished.path;
    assert!(path.starts_with(&recordings));
    assert!(
        path.file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("8100-")
    );
    assert_eq!(finished.dropped, 0, "the writer kept up");
    let codecs = run(Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "stream=codec_name",
            "-of",
            "csv=p=0",
        ])
        .arg(path));
    assert_eq!(
        codecs.split_whitespace().collect::<Vec<_>>(),
        ["h264", "pcm_s16le"]
    );
    let duration: f64 = run(Command::new("ffprobe")
        .args([
            "-v",
            "error",
            "-show_entries",
            "format=duration",
            "-of",
            "csv=p=0",
        ])
        .arg(path))
    .trim()
    .parse()
    .unwrap();
    let live = ended_at.duration_since(live_at).unwrap().as_secs_f64();
    assert!(
        (duration - live).abs() < 1.0,
        "file {duration} s, live {live} s"
    );

    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-f", "null", "-"])
        .output()
        .unwrap();
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && errors.trim().is_empty(),
        "decode errors: {errors}"
    );

    // Pictures: red from the start, then green and blue from the chair's commands on the
    // recording's timeline, plus up to a GOP (1 s) waiting for the venue's keyframe.
    let pics = pictures(path);
    let mut runs: Vec<(char, f64)> = Vec::new();
    for (t, c) in &pics {
        if runs.last().is_none_or(|(last, _)| last != c) {
            runs.push((*c, *t));
        }
    }
    let order: String = runs.iter().map(|(c, _)| *c).collect();
    assert_eq!(order, "RGB", "colour runs {runs:?}");
    let (green, blue) = (runs[1].1, runs[2].1);
    let on_file = |t: SystemTime| t.duration_since(finished.started).unwrap().as_secs_f64();
    let (sh, gz) = (on_file(sh_at), on_file(gz_at));
    assert!(
        green > sh - 0.1 && green < sh + 1.6,
        "green from {green} s, asked at {sh} s"
    );
    assert!(
        blue > gz - 0.1 && blue < gz + 1.6,
        "blue from {blue} s, asked at {gz} s"
    );

    // The mix: both tone venues are heard.
    let pcm_bytes = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
        .arg(path)
        .args(["-map", "0:a", "-f", "s16le", "-ac", "1", "-ar", "8000", "-"])
        .output()
        .unwrap()
        .stdout;
    let pcm: Vec<i16> = pcm_bytes
        .chunks_exact(2)
        .map(|b| i16::from_le_bytes([b[0], b[1]]))
        .collect();
    assert!(
        pcm.len() as f64 >= (live - 1.0) * 8000.0,
        "{} samples",
        pcm.len()
    );
    let mid = &pcm[pcm.len() / 2..pcm.len() / 2 + 8000];
    for f in [500.0, 1100.0] {
        let a = tone_amplitude(mid, f);
        assert!(a > 1000.0, "tone {f} Hz at amplitude {a}");
    }
    assert!(
        tone_amplitude(mid, 800.0) < 300.0,
        "no tone where none was sent"
    );
}
