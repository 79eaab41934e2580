//! A leg that negotiated Opus (dynamic payload type, 48 kHz) is mixed, not forwarded, and a
//! re-INVITE to G.711 moves it in the mixer (issue #8). Over real loopback sockets, through
//! the meeting controller: the switching venue sends a 1000 Hz tone, in Opus (libopus encoder,
//! 48 kHz) then in μ-law; a G.711 venue sends 600 Hz. Each must hear the other in the codec
//! it negotiated at that moment, and not itself.
#![cfg(feature = "opus")]
#![allow(clippy::print_stderr)] // the measured tone amplitudes are the test's report

mod audio_common;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use audio_common::*;
use dais_audio::Codec;
use dais_audio::opus::{Application, Channels, Decoder, Encoder};
use dais_conference::ConferenceConfig;
use dais_media::{AudioParams, LegConfig};
use tokio::net::UdpSocket;

const OPUS_PT: u8 = 111;
const OWN_TONE: f32 = 1000.0;
const OTHER_TONE: f32 = 600.0;
/// One second at 8 kHz: whole cycles of both tones.
const WINDOW: usize = 8000;
const SETTLE: usize = 4000;

/// What the switching venue heard, per payload type, decoded to 8 kHz.
#[derive(Default)]
struct Heard {
    opus: Vec<i16>,
    pcmu: Vec<i16>,
    other: u64,
}

fn leg(addr: SocketAddr, payload_type: u8, clock_rate: u32) -> LegConfig {
    LegConfig {
        rtp_addr: addr,
        rtcp_addr: None,
        video: None,
        audio: Some(AudioParams {
            payload_type,
            clock_rate,
        }),
        send: true,
        recv: true,
    }
}

async fn wait_heard(heard: &Mutex<Heard>, what: &str, f: impl Fn(&Heard) -> bool) {
    eventually(what, || {
        let ok = f(&heard.lock().unwrap());
        async move { ok }
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opus_leg_is_mixed_and_a_reinvite_to_g711_moves_it() {
    let meeting = start_meeting("8400", &["jinan", "qingdao"], ConferenceConfig::default()).await;
    let jinan = ToneVenue::join(&meeting, "jinan", 1, OTHER_TONE, AMPLITUDE).await;

    let sock = Arc::new(UdpSocket::bind(SocketAddr::new(LOOPBACK, 0)).await.unwrap());
    let addr = sock.local_addr().unwrap();
    meeting
        .leg_up(&id("qingdao"), leg(addr, OPUS_PT, 48_000))
        .await
        .unwrap();
    let target = meeting.media().rtp_addr();

    // The sender: 20 ms of the tone per tick, in whichever codec `codec` says now.
    let codec = Arc::new(Mutex::new(Codec::Opus));
    {
        let (sock, codec) = (sock.clone(), codec.clone());
        tokio::spawn(async move {
            let mut enc = Encoder::new(48_000, Channels::Mono, Application::Voip).unwrap();
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            let (mut seq, mut n48, mut n8) = (0u16, 0u64, 0u64);
            let mut payload = vec![0u8; 1500];
            loop {
                tick.tick().await;
                let c = *codec.lock().unwrap();
                let (pt, ts, len) = if c == Codec::Opus {
                    let pcm: Vec<i16> = (0..960).map(|i| tone(n48 + i, 48_000.0)).collect();
                    let len = enc.encode(&pcm, &mut payload).unwrap();
                    n48 += 960;
                    (OPUS_PT, n48 as u32, len)
                } else {
                    let pcm: Vec<i16> = (0..160).map(|i| tone(n8 + i, 8_000.0)).collect();
                    dais_audio::encode(Codec::Pcmu, &pcm, &mut payload[..160]);
                    n8 += 160;
                    (0, n8 as u32, 160)
                };
                let mut pkt = vec![0x80, pt];
                pkt.extend_from_slice(&seq.to_be_bytes());
                pkt.extend_from_slice(&ts.to_be_bytes());
                pkt.extend_from_slice(&0x0a0b_0c0du32.to_be_bytes());
                pkt.extend_from_slice(&payload[..len]);
                seq = seq.wrapping_add(1);
                let _ = sock.send_to(&pkt, target).await;
            }
        });
    }
    let heard = Arc::new(Mutex::new(Heard::default()));
    {
        let (sock, heard) = (sock.clone(), heard.clone());
        tokio::spawn(async move {
            let mut dec = Decoder::new(8000, Channels::Mono).unwrap();
            let mut buf = vec![0u8; 2048];
            let mut pcm = vec![0i16; 960];
            while let Ok((n, _)) = sock.recv_from(&mut buf).await {
                let data = &buf[..n];
                // RTCP (the engine's receiver reports) shares the port: not audio.
                if dais_rtp::classify(data) != dais_rtp::PacketClass::Rtp {
                    continue;
                }
                let Ok(hdr) = dais_rtp::RtpHeader::parse(data) else {
                    continue;
                };
                let payload = hdr.payload(data);
                let mut h = heard.lock().unwrap();
                match hdr.payload_type {
                    OPUS_PT => {
                        let k = dec.decode(payload, &mut pcm, false).unwrap();
                        h.opus.extend_from_slice(&pcm[..k]);
                    }
                    0 => {
                        let out = &mut pcm[..payload.len()];
                        dais_audio::decode(Codec::Pcmu, payload, out);
                        h.pcmu.extend_from_slice(out);
                    }
                    _ => h.other += 1,
                }
            }
        });
    }

    // Opus: the G.711 venue hears the Opus tone (decoded by the mixer), the Opus venue gets
    // Opus carrying the G.711 venue's tone, neither hears itself.
    let (jm, om) = (jinan.mark(), heard.lock().unwrap().opus.len());
    jinan_and_qingdao_hear(&jinan, jm, &heard, |h| &h.opus, om).await;
    let opus_before = heard.lock().unwrap().opus.len();
    assert!(
        heard.lock().unwrap().pcmu.is_empty(),
        "G.711 before the re-INVITE"
    );

    // Re-INVITE to PCMU: the leg's mixer entries move to μ-law.
    meeting
        .leg_update(&id("qingdao"), leg(addr, 0, 8_000))
        .await
        .unwrap();
    *codec.lock().unwrap() = Codec::Pcmu;
    let (jm, pm) = (jinan.mark(), heard.lock().unwrap().pcmu.len());
    jinan_and_qingdao_hear(&jinan, jm, &heard, |h| &h.pcmu, pm).await;
    // No Opus after the switch beyond what was in flight (a frame or two).
    let opus_after = heard.lock().unwrap().opus.len() - opus_before;
    assert!(
        opus_after <= 3 * 160,
        "Opus kept coming: {opus_after} samples"
    );
    assert_eq!(heard.lock().unwrap().other, 0);
    jinan.stop();
    let stats = meeting.media().mixer_stats().await.unwrap();
    assert_eq!(stats.packets_discarded, 0);
}

/// Waits for a settled second heard by both venues after the marks, then checks each hears
/// the other's tone and not its own.
async fn jinan_and_qingdao_hear(
    jinan: &ToneVenue,
    jinan_mark: usize,
    heard: &Mutex<Heard>,
    pick: fn(&Heard) -> &Vec<i16>,
    mark: usize,
) {
    eventually("the G.711 venue hears a second", || {
        let ok = jinan.mark() >= jinan_mark + SETTLE + WINDOW;
        async move { ok }
    })
    .await;
    wait_heard(heard, "the switching venue hears a second", |h| {
        pick(h).len() >= mark + SETTLE + WINDOW
    })
    .await;
    let at_jinan = jinan.heard_since(jinan_mark);
    let at_jinan = &at_jinan[SETTLE..SETTLE + WINDOW];
    let own = pick(&heard.lock().unwrap())[mark + SETTLE..mark + SETTLE + WINDOW].to_vec();
    let j = (
        tone_amplitude(at_jinan, OWN_TONE),
        tone_amplitude(at_jinan, OTHER_TONE),
    );
    let q = (
        tone_amplitude(&own, OTHER_TONE),
        tone_amplitude(&own, OWN_TONE),
    );
    eprintln!("jinan hears (qingdao, own) {j:?}; qingdao hears (jinan, own) {q:?}");
    assert!(
        j.0 > 0.3 * SENT_PEAK && j.1 < 0.02 * SENT_PEAK,
        "jinan: {j:?}"
    );
    assert!(
        q.0 > 0.3 * SENT_PEAK && q.1 < 0.02 * SENT_PEAK,
        "qingdao: {q:?}"
    );
}

/// The switching venue's tone at the same peak as the simulated venues'.
fn tone(n: u64, rate: f64) -> i16 {
    let t = n as f64 / rate;
    (f64::from(SENT_PEAK) * (std::f64::consts::TAU * f64::from(OWN_TONE) * t).sin()) as i16
}
