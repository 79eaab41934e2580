//! Real media through real sockets: three ffmpeg processes send H.264 (libx264) over RTP as
//! three venues, each a different colour; the media task switches one feed between them; a
//! fourth ffmpeg receives the feed, decodes it and writes tiny raw frames. The test then checks
//! that the decoded picture went red → green → blue → red in that order, with no decode error
//! from ffmpeg, and that every switch completed on a keyframe rather than by timeout.
//!
//! Needs `ffmpeg` on the PATH (scripts/setup-test-deps.sh installs it).

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use dais_media::{
    EngineConfig, KeyframeRequestMode, LegConfig, LegId, MediaEvent, MediaKind, VideoCodec,
    VideoParams,
};
use dais_net::media_task;
use tokio::sync::mpsc;

const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// The decoded frames are scaled to 2x2 RGB: 12 bytes a frame.
const FRAME_BYTES: usize = 2 * 2 * 3;

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
            "30",
            "-c:v",
            "libx264",
            "-profile:v",
            "baseline",
            "-tune",
            "zerolatency",
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

fn classify(px: &[u8]) -> char {
    let (mut r, mut g, mut b) = (0u32, 0u32, 0u32);
    for p in px.chunks_exact(3) {
        r += u32::from(p[0]);
        g += u32::from(p[1]);
        b += u32::from(p[2]);
    }
    let max = r.max(g).max(b);
    if max < 4 * 60 {
        return '?';
    }
    if max == r && r > 2 * g && r > 2 * b {
        'R'
    } else if max == g && g > 2 * r && g > 2 * b {
        'G'
    } else if max == b && b > 2 * r && b > 2 * g {
        'B'
    } else {
        '?'
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ffmpeg_receiver_decodes_red_green_blue_red_without_errors() {
    let dir = tempfile::tempdir().unwrap();
    let (rtp, rtcp) = media_task::bind_pair(LOOPBACK, 0).unwrap();
    let (ev_tx, mut ev_rx) = mpsc::channel(1024);
    let cfg = EngineConfig {
        // Our ffmpeg senders ignore PLI: switches wait for the 1 s GOP, so allow more.
        switch_timeout: Duration::from_secs(3),
        ..EngineConfig::default()
    };
    let media = media_task::spawn(rtp, rtcp, cfg, ev_tx).unwrap();
    let server_port = media.rtp_addr().port();

    let video = Some(VideoParams {
        payload_type: 96,
        codec: VideoCodec::H264,
        clock_rate: 90_000,
        keyframe_request: KeyframeRequestMode::Rtcp,
    });
    let colours = ["red", "green", "blue"];
    let mut senders = Vec::new();
    for (i, colour) in colours.iter().enumerate() {
        let local = free_pair();
        media
            .add_leg(
                LegId(i as u32 + 1),
                LegConfig {
                    rtp_addr: SocketAddr::new(LOOPBACK, local),
                    rtcp_addr: Some(SocketAddr::new(LOOPBACK, local + 1)),
                    video,
                    audio: None,
                    send: true,
                    recv: false,
                },
            )
            .await
            .unwrap();
        senders.push(sender(colour, server_port, local));
    }

    let recv_port = free_pair();
    let receiver_leg = LegId(100);
    media
        .add_leg(
            receiver_leg,
            LegConfig {
                rtp_addr: SocketAddr::new(LOOPBACK, recv_port),
                rtcp_addr: Some(SocketAddr::new(LOOPBACK, recv_port + 1)),
                video,
                audio: None,
                send: false,
                recv: true,
            },
        )
        .await
        .unwrap();
    let feed = media.create_feed(MediaKind::Video).await.unwrap();
    media.subscribe(receiver_leg, feed).await.unwrap();

    let sdp = dir.path().join("recv.sdp");
    std::fs::write(
        &sdp,
        format!(
            "v=0\r\no=- 0 0 IN IP4 127.0.0.1\r\ns=dais\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n\
             m=video {recv_port} RTP/AVP 96\r\na=rtpmap:96 H264/90000\r\n\
             a=fmtp:96 packetization-mode=1\r\n"
        ),
    )
    .unwrap();
    let raw = dir.path().join("frames.rgb");
    let receiver = Command::new("ffmpeg")
        .args([
            "-hide_banner",
            "-nostdin",
            "-v",
            "error",
            "-protocol_whitelist",
            "file,udp,rtp",
        ])
        .arg("-i")
        .arg(&sdp)
        .args([
            "-vf",
            "scale=2:2",
            "-f",
            "rawvideo",
            "-pix_fmt",
            "rgb24",
            "-y",
        ])
        .arg(&raw)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffmpeg must be installed");

    // Let the receiver open its port and the senders' encoders start.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    for venue in [1u32, 2, 3, 1] {
        media.switch(feed, Some(LegId(venue))).await.unwrap();
        tokio::time::sleep(Duration::from_millis(2500)).await;
    }

    // SIGINT makes ffmpeg flush and exit cleanly.
    // SAFETY: plain kill(2) on our own child's pid.
    unsafe { libc::kill(receiver.id() as i32, libc::SIGINT) };
    let out = tokio::task::spawn_blocking(move || receiver.wait_with_output())
        .await
        .unwrap()
        .unwrap();
    for mut s in senders {
        let _ = s.kill();
        let _ = s.wait();
    }
    media.shutdown().await;

    let mut completed = Vec::new();
    while let Ok(ev) = ev_rx.try_recv() {
        if let MediaEvent::SwitchCompleted { to, forced, .. } = ev {
            completed.push((to, forced));
        }
    }
    assert_eq!(
        completed,
        vec![
            (LegId(1), false),
            (LegId(2), false),
            (LegId(3), false),
            (LegId(1), false)
        ],
        "every switch lands on a keyframe, none by timeout"
    );

    let stderr = String::from_utf8_lossy(&out.stderr);
    let decode_errors: Vec<&str> = stderr
        .lines()
        .filter(|l| !l.contains("Exiting normally") && !l.trim().is_empty())
        .collect();
    assert!(
        decode_errors.is_empty(),
        "ffmpeg reported errors while decoding the switched stream:\n{stderr}"
    );

    let frames = std::fs::read(&raw).unwrap();
    assert!(
        frames.len() >= FRAME_BYTES * 100,
        "ffmpeg decoded {} bytes",
        frames.len()
    );
    let mut runs: Vec<(char, usize)> = Vec::new();
    for f in frames.chunks_exact(FRAME_BYTES) {
        let c = classify(f);
        match runs.last_mut() {
            Some((last, n)) if *last == c => *n += 1,
            _ => runs.push((c, 1)),
        }
    }
    let order: String = runs.iter().map(|(c, _)| *c).collect();
    assert_eq!(order, "RGBR", "decoded colour runs: {runs:?}");
    assert!(
        runs.iter().all(|(_, n)| *n >= 20),
        "each venue was shown for a while: {runs:?}"
    );
}
