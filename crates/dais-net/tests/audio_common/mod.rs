//! Audio-only simulated venues on real loopback sockets for the mixer tests: each sends a
//! G.711 μ-law tone of its own frequency (`SyntheticAudio`, 20 ms packets) to the meeting and
//! decodes (`dais_audio::decode`) whatever it receives, so a Goertzel filter can tell whose
//! voices it hears.
#![allow(dead_code)]

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dais_audio::Codec;
use dais_conference::{
    Actor, ChairCommand, ConferenceConfig, MeetingPlan, Role, Venue, VenueId, VenueKind,
};
use dais_media::{AudioParams, EngineConfig, LegConfig};
use dais_net::media_task;
use dais_net::meeting::{self, MeetingHandle, NoDialer};
use dais_net::sim::SyntheticAudio;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, watch};

pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Peak of every tone as sent (0.2 of full scale): three of them summed stay under the
/// mixer's limiter ceiling, so the levels heard are the levels sent.
pub const AMPLITUDE: f32 = 0.2;
pub const SENT_PEAK: f32 = AMPLITUDE * 32_000.0;

pub fn id(s: &str) -> VenueId {
    s.parse().unwrap()
}

/// The meeting of the tests: a main venue and three others, live, nobody dialled (the venues
/// dial in through `leg_up`).
pub async fn start_meeting(number: &str, names: &[&str], conf: ConferenceConfig) -> MeetingHandle {
    let venues = names
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
            parent: if i == 0 { None } else { Some(id(names[0])) },
        })
        .collect();
    let plan = MeetingPlan {
        number: number.into(),
        subject: "Audio mixing".into(),
        main_venue: id(names[0]),
        venues,
        chair: "li".into(),
        duration: None,
        roll_call_order: vec![],
    };
    let (rtp, rtcp) = media_task::bind_pair(LOOPBACK, 0).unwrap();
    let (ev_tx, ev_rx) = mpsc::channel(1024);
    let media = media_task::spawn(rtp, rtcp, EngineConfig::default(), ev_tx).unwrap();
    let meeting = meeting::start(plan, conf, media, ev_rx, Arc::new(NoDialer))
        .await
        .unwrap();
    meeting
        .command(chair(), ChairCommand::GoLive)
        .await
        .unwrap();
    meeting
}

pub fn chair() -> Actor {
    Actor::new("li", Role::ChairOperator)
}

/// One simulated venue: it sends its tone and keeps every sample it hears.
pub struct ToneVenue {
    pub venue: VenueId,
    pub freq: f32,
    heard: Arc<Mutex<Vec<i16>>>,
    pub packets_in: Arc<AtomicU64>,
    /// The SSRC and timestamp of the last mixed packet it received.
    pub last_in: Arc<Mutex<Option<(u32, u32)>>>,
    /// The sender reports it received: (SSRC, RTP time, packet count).
    pub sender_reports: Arc<Mutex<Vec<(u32, u32, u32)>>>,
    /// The SSRC of its uplink (extra packets must carry it).
    pub ssrc: u32,
    extra: mpsc::UnboundedSender<Vec<u8>>,
    stop: watch::Sender<bool>,
}

impl ToneVenue {
    /// Binds a socket, joins the meeting with PCMU (payload type 0) and starts sending.
    pub async fn join(
        meeting: &MeetingHandle,
        name: &str,
        number: u32,
        freq: f32,
        amplitude: f32,
    ) -> ToneVenue {
        let socket = UdpSocket::bind(SocketAddr::new(LOOPBACK, 0)).await.unwrap();
        let cfg = pcmu_leg(socket.local_addr().unwrap(), true);
        meeting.leg_up(&id(name), cfg).await.unwrap();
        let target = meeting.media().rtp_addr();
        let heard = Arc::new(Mutex::new(Vec::new()));
        let packets_in = Arc::new(AtomicU64::new(0));
        let (stop, mut stopped) = watch::channel(false);
        let mut tone = SyntheticAudio::new(number, freq, amplitude, 11);
        let ssrc = tone.ssrc();
        let (extra, mut extra_rx) = mpsc::unbounded_channel::<Vec<u8>>();
        let (h, p) = (heard.clone(), packets_in.clone());
        let last_in = Arc::new(Mutex::new(None));
        let sender_reports = Arc::new(Mutex::new(Vec::new()));
        let (li, srs) = (last_in.clone(), sender_reports.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(20));
            tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Burst);
            let mut pkt = Vec::new();
            let mut buf = vec![0u8; 2048];
            let mut pcm = vec![0i16; 2048];
            loop {
                tokio::select! {
                    _ = stopped.changed() => break,
                    _ = tick.tick() => {
                        tone.next_packet(&mut pkt);
                        let _ = socket.send_to(&pkt, target).await;
                    }
                    Some(p) = extra_rx.recv() => {
                        let _ = socket.send_to(&p, target).await;
                    }
                    r = socket.recv_from(&mut buf) => {
                        let Ok((n, _)) = r else { continue };
                        let data = &buf[..n];
                        if dais_rtp::classify(data) == dais_rtp::PacketClass::Rtcp {
                            for p in dais_rtp::parse_compound(data).unwrap_or_default() {
                                if let dais_rtp::RtcpPacket::SenderReport(sr) = p {
                                    srs.lock().unwrap().push((sr.ssrc.0, sr.rtp_time, sr.packet_count));
                                }
                            }
                            continue;
                        }
                        if dais_rtp::classify(data) != dais_rtp::PacketClass::Rtp {
                            continue;
                        }
                        let Ok(hdr) = dais_rtp::RtpHeader::parse(data) else { continue };
                        if hdr.payload_type != 0 {
                            continue;
                        }
                        *li.lock().unwrap() = Some((hdr.ssrc.0, hdr.timestamp));
                        let payload = hdr.payload(data);
                        let out = &mut pcm[..payload.len()];
                        dais_audio::decode(Codec::Pcmu, payload, out);
                        p.fetch_add(1, Ordering::Relaxed);
                        h.lock().unwrap().extend_from_slice(out);
                    }
                }
            }
        });
        ToneVenue {
            venue: id(name),
            freq,
            heard,
            packets_in,
            last_in,
            sender_reports,
            ssrc,
            extra,
            stop,
        }
    }

    /// Sends a datagram from the venue's socket, between its tone packets.
    pub fn send_raw(&self, packet: Vec<u8>) {
        let _ = self.extra.send(packet);
    }

    /// How many samples it has heard so far (a mark for [`ToneVenue::heard_since`]).
    pub fn mark(&self) -> usize {
        self.heard.lock().unwrap().len()
    }

    /// The samples heard after `mark`.
    pub fn heard_since(&self, mark: usize) -> Vec<i16> {
        let h = self.heard.lock().unwrap();
        h.get(mark..).map(<[i16]>::to_vec).unwrap_or_default()
    }

    pub fn stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// An audio-only PCMU leg (payload type 0, 8 kHz) at `addr`: receiving, and sending if `send`.
pub fn pcmu_leg(addr: SocketAddr, send: bool) -> LegConfig {
    LegConfig {
        rtp_addr: addr,
        rtcp_addr: None,
        video: None,
        audio: Some(AudioParams {
            payload_type: 0,
            clock_rate: 8000,
        }),
        send,
        recv: true,
    }
}

/// The peak amplitude of the `freq` component of `x` (Goertzel; 8 kHz samples). Exact for a
/// steady tone with a whole number of cycles in the window.
pub fn tone_amplitude(x: &[i16], freq: f32) -> f32 {
    if x.is_empty() {
        return 0.0;
    }
    let w = std::f64::consts::TAU * f64::from(freq) / 8000.0;
    let coeff = 2.0 * w.cos();
    let (mut s1, mut s2) = (0.0f64, 0.0f64);
    for &v in x {
        let s = f64::from(v) + coeff * s1 - s2;
        s2 = s1;
        s1 = s;
    }
    let power = (s1 * s1 + s2 * s2 - coeff * s1 * s2).max(0.0);
    (2.0 * power.sqrt() / x.len() as f64) as f32
}

/// Waits (polling every 20 ms, up to 15 s: the machine is shared and noisy) for `cond`.
pub async fn eventually<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    for _ in 0..750 {
        if cond().await {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("timed out waiting for: {what}");
}

/// Waits until every venue has heard at least `samples` samples after its mark.
pub async fn hear_for(venues: &[ToneVenue], marks: &[usize], samples: usize) {
    eventually("every venue hears enough audio", || {
        let ok = venues
            .iter()
            .zip(marks)
            .all(|(v, m)| v.mark() >= m + samples);
        async move { ok }
    })
    .await;
}
