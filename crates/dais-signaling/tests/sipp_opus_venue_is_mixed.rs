//! A SIP venue that speaks only Opus is mixed, not forwarded (issue #8): sipp dials in offering
//! `opus/48000/2` alone, ffmpeg encodes its 1000 Hz tone to Opus RTP (libopus, a real
//! independent encoder) which leaves from the address its SDP announced, and a G.711 venue
//! sends a 600 Hz tone. The G.711 venue hears the Opus venue's tone; the Opus venue's Opus
//! stream, decoded by libopus, carries the G.711 venue's tone and not its own. A key press
//! on the telephone-event payload type its SDP named becomes one `MeetingEvent::Dtmf`.
#![cfg(feature = "opus")]
#![allow(clippy::print_stderr)] // the measured tone amplitudes are the test's report

#[path = "../../dais-net/tests/audio_common/mod.rs"]
mod audio_common;
mod common;

use std::net::SocketAddr;
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use audio_common::{AMPLITUDE, SENT_PEAK, ToneVenue, eventually, tone_amplitude};
use common::{LOOPBACK, init_tracing, sipp, sipp_dir, start_service, stat, uac_args};
use dais_audio::opus::{Channels, Decoder};
use dais_conference::ConferenceConfig;
use dais_net::meeting::MeetingEvent;
use tokio::net::UdpSocket;

const OPUS_PT: u8 = 111;
const TELEPHONE_EVENT: u8 = 101;
const OPUS_TONE: f32 = 1000.0;
const G711_TONE: f32 = 600.0;
/// lavfi's `sine` source plays at 1/8 of full scale.
const OPUS_SENT_PEAK: f32 = 32_768.0 / 8.0;
/// One second of 8 kHz samples: a whole number of cycles of both tones (Goertzel is exact).
const WINDOW: usize = 8000;

/// What the Opus venue hears: its socket's Opus packets decoded by libopus (at 8 kHz, so the
/// repository's 8 kHz Goertzel applies), and how many packets of another payload type came.
#[derive(Default)]
struct Heard {
    pcm: Vec<i16>,
    opus_packets: u64,
    other_packets: u64,
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sip_venue_offering_only_opus_is_mixed_with_a_g711_venue() {
    init_tracing();
    let dir = Arc::new(common::TestDir::default());
    dir.add_venue("qingdao", "pw-qingdao");
    let svc = start_service(&dir).await;
    let meeting =
        audio_common::start_meeting("8300", &["jinan", "qingdao"], ConferenceConfig::default())
            .await;
    dir.meetings
        .lock()
        .unwrap()
        .insert("8300".into(), meeting.clone());
    let target = meeting.media().rtp_addr();
    let mut events = meeting.subscribe();

    let jinan = ToneVenue::join(&meeting, "jinan", 1, G711_TONE, AMPLITUDE).await;

    // The Opus venue's media address (announced by sipp's SDP): the test owns it, relays
    // ffmpeg's packets out of it and decodes what arrives on it.
    let opus_sock = Arc::new(UdpSocket::bind(SocketAddr::new(LOOPBACK, 0)).await.unwrap());
    let opus_port = opus_sock.local_addr().unwrap().port();
    let heard = Arc::new(Mutex::new(Heard::default()));
    {
        let (sock, heard) = (opus_sock.clone(), heard.clone());
        tokio::spawn(async move {
            let mut dec = Decoder::new(8000, Channels::Mono).unwrap();
            let mut buf = vec![0u8; 2048];
            let mut pcm = vec![0i16; 960];
            while let Ok((n, _)) = sock.recv_from(&mut buf).await {
                let data = &buf[..n];
                if dais_rtp::classify(data) != dais_rtp::PacketClass::Rtp {
                    continue;
                }
                let Ok(hdr) = dais_rtp::RtpHeader::parse(data) else {
                    continue;
                };
                let mut h = heard.lock().unwrap();
                if hdr.payload_type != OPUS_PT {
                    h.other_packets += 1;
                    continue;
                }
                let samples = dec.decode(hdr.payload(data), &mut pcm, false).unwrap();
                h.opus_packets += 1;
                h.pcm.extend_from_slice(&pcm[..samples]);
            }
        });
    }

    // sipp dials in with the Opus-only offer and holds the call for 9 s.
    let d = sipp_dir(&[("qingdao".into(), "pw-qingdao".into())]);
    let extra = [
        "-key".into(),
        "opus_port".into(),
        opus_port.to_string(),
        "-d".into(),
        "9000".into(),
    ];
    let args = uac_args("uac_auth_opus_only.xml", "8300", svc.local_addr(), &extra);
    let path = d.path().to_path_buf();
    let run = tokio::spawn(async move { sipp(&path, args).await });

    // The mixer sends every receiving leg a packet per frame: the first one says the call is
    // up and its leg is in the mixer, in Opus.
    eventually("the Opus venue receives the mix", || {
        let n = heard.lock().unwrap().opus_packets;
        async move { n > 0 }
    })
    .await;

    // ffmpeg's Opus RTP goes to a relay socket of the test, which sends it on from the venue's
    // announced address (ffmpeg cannot share the port the test receives the mix on).
    let relay = UdpSocket::bind(SocketAddr::new(LOOPBACK, 0)).await.unwrap();
    let relay_port = relay.local_addr().unwrap().port();
    let mut ffmpeg = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-nostdin", "-re"])
        .args(["-f", "lavfi", "-i"])
        .arg(format!("sine=frequency={OPUS_TONE}:sample_rate=48000"))
        .args(["-t", "12", "-ac", "1", "-c:a", "libopus", "-b:a", "32k"])
        .args(["-application", "voip", "-frame_duration", "20"])
        .args(["-payload_type", &OPUS_PT.to_string(), "-f", "rtp"])
        .arg(format!("rtp://127.0.0.1:{relay_port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("ffmpeg runs (scripts/setup-test-deps.sh installs it)");
    let relayed = Arc::new(AtomicU64::new(0));
    // ffmpeg's SSRC: the key press must come from the same stream (the engine's SSRC check).
    let ffmpeg_ssrc = Arc::new(Mutex::new(None::<[u8; 4]>));
    {
        let (sock, relayed, ssrc) = (opus_sock.clone(), relayed.clone(), ffmpeg_ssrc.clone());
        tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            while let Ok((n, _)) = relay.recv_from(&mut buf).await {
                if let Some(s) = buf.get(8..12) {
                    *ssrc.lock().unwrap() = s.try_into().ok();
                }
                if sock.send_to(&buf[..n], target).await.is_ok() {
                    relayed.fetch_add(1, Ordering::Relaxed);
                }
            }
        });
    }

    // Half a second of ffmpeg's stream to settle the jitter buffer, then one second heard by
    // each venue, counted in received samples (not wall time).
    eventually("ffmpeg's Opus stream flows", || {
        let n = relayed.load(Ordering::Relaxed);
        async move { n >= 25 }
    })
    .await;
    let jinan_mark = jinan.mark() + WINDOW / 2;
    let opus_mark = heard.lock().unwrap().pcm.len() + WINDOW / 2;
    eventually("both venues hear a second of the mix", || {
        let done = jinan.mark() >= jinan_mark + WINDOW
            && heard.lock().unwrap().pcm.len() >= opus_mark + WINDOW;
        async move { done }
    })
    .await;

    // `#` pressed at the Opus venue: RFC 4733 start, update and three end packets (durations
    // on the 48 kHz clock: 2880 = 60 ms), on the payload type its SDP named.
    let ssrc = ffmpeg_ssrc.lock().unwrap().expect("ffmpeg's SSRC");
    for (i, (end, duration)) in [
        (false, 960u16),
        (false, 1920),
        (true, 2880),
        (true, 2880),
        (true, 2880),
    ]
    .into_iter()
    .enumerate()
    {
        let mut p = vec![0x80, TELEPHONE_EVENT | if i == 0 { 0x80 } else { 0 }];
        p.extend_from_slice(&(9000 + i as u16).to_be_bytes());
        p.extend_from_slice(&123_456u32.to_be_bytes());
        p.extend_from_slice(&ssrc);
        p.extend_from_slice(&[11, if end { 0x8a } else { 0x0a }]);
        p.extend_from_slice(&duration.to_be_bytes());
        opus_sock.send_to(&p, target).await.unwrap();
    }
    let mut digits = Vec::new();
    eventually("the key press is reported", || {
        while let Ok(ev) = events.try_recv() {
            if let MeetingEvent::Dtmf {
                venue,
                digit,
                duration_ms,
            } = ev
            {
                digits.push((venue.to_string(), digit, duration_ms));
            }
        }
        let n = digits.len();
        async move { n >= 1 }
    })
    .await;
    assert_eq!(digits, vec![("qingdao".to_string(), '#', 60)]);

    let _ = ffmpeg.kill();
    let ff = ffmpeg.wait_with_output().unwrap();
    jinan.stop();

    let at_jinan = jinan.heard_since(jinan_mark);
    let at_jinan = &at_jinan[..WINDOW];
    let (opus_pcm, opus_packets, other_packets) = {
        let h = heard.lock().unwrap();
        (
            h.pcm[opus_mark..opus_mark + WINDOW].to_vec(),
            h.opus_packets,
            h.other_packets,
        )
    };
    let jinan_hears = (
        tone_amplitude(at_jinan, OPUS_TONE),
        tone_amplitude(at_jinan, G711_TONE),
    );
    let qingdao_hears = (
        tone_amplitude(&opus_pcm, G711_TONE),
        tone_amplitude(&opus_pcm, OPUS_TONE),
    );
    let stats = meeting.media().mixer_stats().await.unwrap();
    eprintln!(
        "jinan (G.711) hears opus tone {:.0}, own {:.0}; qingdao (Opus) hears G.711 tone {:.0}, \
         own {:.0}; {opus_packets} Opus packets in, {} relayed; mixer {stats:?}",
        jinan_hears.0,
        jinan_hears.1,
        qingdao_hears.0,
        qingdao_hears.1,
        relayed.load(Ordering::Relaxed)
    );

    // The G.711 venue hears the Opus venue (decoded by the mixer, re-encoded in μ-law) and
    // not itself.
    assert!(
        jinan_hears.0 > 0.3 * OPUS_SENT_PEAK,
        "G.711 venue does not hear the Opus venue: {jinan_hears:?}"
    );
    assert!(
        jinan_hears.1 < 0.02 * SENT_PEAK,
        "G.711 venue hears itself: {jinan_hears:?}"
    );
    // The Opus venue gets Opus (its negotiated payload type only) carrying the G.711 venue's
    // tone, and not its own.
    assert!(
        qingdao_hears.0 > 0.3 * SENT_PEAK,
        "Opus venue does not hear the G.711 venue: {qingdao_hears:?}"
    );
    assert!(
        qingdao_hears.1 < 0.02 * OPUS_SENT_PEAK,
        "Opus venue hears itself: {qingdao_hears:?}"
    );
    assert_eq!(other_packets, 0, "the Opus venue got non-Opus packets");
    assert!(opus_packets >= 100);
    assert_eq!(stats.packets_discarded, 0);

    // The call ends normally (sipp's BYE after -d).
    let run = run.await.unwrap();
    assert!(
        run.status.success(),
        "sipp failed:\n{}\n{}\nffmpeg: {}",
        run.stdout,
        run.stderr,
        String::from_utf8_lossy(&ff.stderr)
    );
    assert_eq!(stat(&run, "SuccessfulCall(C)"), Some(1));
    svc.shutdown().await;
}
