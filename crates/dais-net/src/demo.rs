//! Simulated venues on real sockets, for `daisd --demo`, the examples and the tests.
//!
//! A [`SimDialer`] is a [`Dialer`] whose "calls" start a [`sim`](crate::sim) venue: a task with
//! its own UDP socket that sends H.264-shaped video (30 fps) and a G.711 tone (50 packets/s) to
//! the meeting, answers keyframe requests, and records which venue's picture it receives. It
//! joins the meeting through [`MeetingHandle::leg_up`] exactly as a SIP call's media would.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use dais_conference::{LegEvent, VenueId};
use dais_media::{AudioParams, KeyframeRequestMode, LegConfig, VideoCodec, VideoParams};
use tokio::net::UdpSocket;
use tokio::sync::watch;
use tracing::{debug, warn};

use crate::meeting::{Dialer, MeetingHandle};
use crate::sim::{Probe, SyntheticAudio, SyntheticVideo, VideoShape};

/// What a simulated venue has seen so far.
#[derive(Debug, Default)]
pub struct SimStats {
    /// Packets sent.
    pub sent: AtomicU64,
    /// Packets received from the meeting.
    pub received: AtomicU64,
    /// The venue number of the last video packet received (0 before any).
    pub watching: AtomicU32,
    /// Keyframe requests (RTCP PLI/FIR) received.
    pub keyframe_requests: AtomicU64,
    /// Video packets of its own picture received back (a venue must never see itself).
    pub self_views: AtomicU64,
    /// Times the SSRC of the video it receives changed (one call is one stream: D25).
    pub video_ssrc_changes: AtomicU64,
    /// Video packets whose sequence number did not follow the previous one's (a gap or a
    /// jump within one stream; on loopback there is no loss to explain one).
    pub video_seq_breaks: AtomicU64,
}

struct Running {
    stop: watch::Sender<bool>,
    stats: Arc<SimStats>,
}

/// A dialer that brings simulated venues into meetings.
pub struct SimDialer {
    ip: IpAddr,
    numbers: HashMap<VenueId, u32>,
    meetings: Mutex<HashMap<String, MeetingHandle>>,
    running: Mutex<HashMap<(String, VenueId), Running>>,
    stats: Mutex<HashMap<VenueId, Arc<SimStats>>>,
    shape: VideoShape,
}

impl std::fmt::Debug for SimDialer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimDialer")
            .field("venues", &self.numbers.len())
            .finish()
    }
}

impl SimDialer {
    /// A dialer for these venues; each gets a venue number (1-based, in order) that its probes
    /// carry. Sockets bind on `ip`.
    pub fn new(ip: IpAddr, venues: &[VenueId], shape: VideoShape) -> Arc<SimDialer> {
        Arc::new(SimDialer {
            ip,
            numbers: venues
                .iter()
                .enumerate()
                .map(|(i, v)| (v.clone(), i as u32 + 1))
                .collect(),
            meetings: Mutex::new(HashMap::new()),
            running: Mutex::new(HashMap::new()),
            stats: Mutex::new(HashMap::new()),
            shape,
        })
    }

    /// Makes the dialer able to call into this meeting.
    pub fn attach(&self, meeting: MeetingHandle) {
        self.meetings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(meeting.number().to_string(), meeting);
    }

    /// The venue number a venue's probes carry.
    pub fn number_of(&self, venue: &VenueId) -> Option<u32> {
        self.numbers.get(venue).copied()
    }

    /// The statistics of a venue (of its latest call).
    pub fn stats(&self, venue: &VenueId) -> Option<Arc<SimStats>> {
        self.stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(venue)
            .cloned()
    }

    /// How many simulated calls are up.
    pub fn active(&self) -> usize {
        self.running.lock().unwrap_or_else(|e| e.into_inner()).len()
    }
}

impl Dialer for SimDialer {
    fn dial(&self, number: &str, venue: &VenueId) {
        let Some(meeting) = self
            .meetings
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(number)
            .cloned()
        else {
            warn!(meeting = number, "simulated dial into an unknown meeting");
            return;
        };
        let Some(venue_no) = self.number_of(venue) else {
            warn!(venue = %venue, "no simulated venue of that name");
            return;
        };
        let stats = Arc::new(SimStats::default());
        self.stats
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(venue.clone(), stats.clone());
        let (stop_tx, stop_rx) = watch::channel(false);
        let key = (number.to_string(), venue.clone());
        if let Some(old) = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                key,
                Running {
                    stop: stop_tx,
                    stats: stats.clone(),
                },
            )
        {
            let _ = old.stop.send(true);
        }
        let venue = venue.clone();
        let ip = self.ip;
        let shape = self.shape;
        tokio::spawn(async move {
            meeting.leg_progress(&venue, LegEvent::Ringing).await;
            let socket = match UdpSocket::bind(SocketAddr::new(ip, 0)).await {
                Ok(s) => s,
                Err(e) => {
                    warn!(error = %e, "simulated venue cannot bind");
                    meeting.leg_progress(&venue, LegEvent::Failed).await;
                    return;
                }
            };
            let Ok(local) = socket.local_addr() else {
                return;
            };
            let cfg = LegConfig {
                rtp_addr: local,
                rtcp_addr: None,
                video: Some(VideoParams {
                    payload_type: 96,
                    codec: VideoCodec::H264,
                    clock_rate: 90_000,
                    keyframe_request: KeyframeRequestMode::Rtcp,
                }),
                audio: Some(AudioParams {
                    payload_type: 0,
                    clock_rate: 8_000,
                }),
                send: true,
                recv: true,
            };
            if let Err(e) = meeting.leg_up(&venue, cfg).await {
                debug!(venue = %venue, error = %e, "simulated call refused");
                meeting.leg_progress(&venue, LegEvent::Failed).await;
                return;
            }
            let target = meeting.media().rtp_addr();
            run_venue(socket, target, venue_no, shape, stats, stop_rx).await;
        });
    }

    fn hang_up(&self, number: &str, venue: &VenueId) {
        if let Some(r) = self
            .running
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&(number.to_string(), venue.clone()))
        {
            let _ = r.stop.send(true);
            debug!(venue = %venue, sent = r.stats.sent.load(Ordering::Relaxed), "simulated venue hung up");
        }
    }
}

/// Sends a venue's media to `target` until `stop` turns true; receives and inspects what comes
/// back.
pub async fn run_venue(
    socket: UdpSocket,
    target: SocketAddr,
    venue_no: u32,
    shape: VideoShape,
    stats: Arc<SimStats>,
    mut stop: watch::Receiver<bool>,
) {
    let origin = Instant::now();
    let mut video = SyntheticVideo::new(venue_no, 96, shape, 7);
    let mut audio = SyntheticAudio::new(venue_no, 300.0 + 100.0 * venue_no as f32, 0.3, 7);
    let mut frame = Vec::new();
    let mut pkt = Vec::new();
    let mut video_tick = tokio::time::interval(Duration::from_micros(video.frame_interval_us()));
    let mut audio_tick = tokio::time::interval(Duration::from_millis(20));
    video_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    audio_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut buf = vec![0u8; 2048];
    let mut last_video: Option<(u32, u16)> = None;
    loop {
        tokio::select! {
            _ = stop.changed() => {
                if *stop.borrow() {
                    break;
                }
            }
            _ = video_tick.tick() => {
                video.next_frame(origin.elapsed().as_nanos() as u64, &mut frame);
                for p in &frame {
                    if socket.send_to(p, target).await.is_ok() {
                        stats.sent.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            _ = audio_tick.tick() => {
                audio.next_packet(&mut pkt);
                if socket.send_to(&pkt, target).await.is_ok() {
                    stats.sent.fetch_add(1, Ordering::Relaxed);
                }
            }
            r = socket.recv_from(&mut buf) => {
                let Ok((n, _)) = r else { continue };
                let data = &buf[..n];
                match dais_rtp::classify(data) {
                    dais_rtp::PacketClass::Rtcp => {
                        let pkts = dais_rtp::parse_compound(data).unwrap_or_default();
                        let wants_key = pkts.iter().any(|p| {
                            matches!(
                                p,
                                dais_rtp::RtcpPacket::Pli { .. } | dais_rtp::RtcpPacket::Fir { .. }
                            )
                        });
                        if wants_key {
                            stats.keyframe_requests.fetch_add(1, Ordering::Relaxed);
                            video.request_keyframe();
                        }
                        // Like an endpoint, answer a sender report with a receiver report about
                        // that stream (LSR, DLSR 0): the meeting learns the round-trip time.
                        for p in &pkts {
                            if let dais_rtp::RtcpPacket::SenderReport(sr) = p
                                && let Some(rr) = receiver_report_for(venue_no, sr)
                            {
                                let _ = socket.send_to(&rr, target).await;
                            }
                        }
                    }
                    dais_rtp::PacketClass::Rtp => {
                        stats.received.fetch_add(1, Ordering::Relaxed);
                        if let Ok(h) = dais_rtp::RtpHeader::parse(data)
                            && let Some(p) = Probe::parse(h.payload(data))
                        {
                            stats.watching.store(p.venue, Ordering::Relaxed);
                            if p.venue == venue_no {
                                stats.self_views.fetch_add(1, Ordering::Relaxed);
                            }
                            match last_video {
                                Some((ssrc, _)) if ssrc != h.ssrc.0 => {
                                    stats.video_ssrc_changes.fetch_add(1, Ordering::Relaxed);
                                }
                                Some((_, seq)) if h.sequence != seq.wrapping_add(1) => {
                                    stats.video_seq_breaks.fetch_add(1, Ordering::Relaxed);
                                }
                                _ => {}
                            }
                            last_video = Some((h.ssrc.0, h.sequence));
                        }
                    }
                    _ => {}
                }
            }
        }
    }
}

/// A receiver report on `sr`'s stream, sent at once (DLSR 0), from simulated venue `venue_no`.
fn receiver_report_for(venue_no: u32, sr: &dais_rtp::rtcp::SenderReport) -> Option<bytes::Bytes> {
    dais_rtp::rtcp::build_receiver_report(&dais_rtp::rtcp::ReceiverReport {
        ssrc: dais_rtp::Ssrc(0x5e00_0000 | venue_no),
        reports: vec![dais_rtp::rtcp::ReportBlock {
            ssrc: sr.ssrc,
            fraction_lost: 0,
            cumulative_lost: 0,
            extended_highest_seq: 0,
            jitter: 0,
            last_sr: dais_rtp::rtcp::ntp_compact(sr.ntp_time),
            delay_since_last_sr: 0,
        }],
    })
    .ok()
}
