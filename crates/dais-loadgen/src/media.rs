//! The venues' media: one sender thread paces every venue's video and audio, one receiver
//! thread drains every venue's socket and feeds its [`ReceiverTracker`].
//!
//! Each venue has one UDP socket on 127.0.0.1 (audio, video and RTCP share it, as the SDP
//! offer says), so the engine sees one source address per venue. Nothing is sent anywhere but
//! the loopback address the SDP answer named, and only while the venue's call is up.

use std::net::{IpAddr, Ipv4Addr, SocketAddr, SocketAddrV4, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use dais_net::sim::{SyntheticAudio, SyntheticVideo, VideoShape};
use dais_net::udp::RecvBatch;
use hdrhistogram::Histogram;

use crate::analysis::{AUDIO_PT, ReceiverTracker, Seen, VIDEO_PT};

/// State shared by the SIP, sender and receiver threads, one slot per venue.
#[derive(Debug)]
pub struct Shared {
    /// The run's time origin (probe stamps and arrival times are ns since it).
    pub origin: Instant,
    /// Where each venue's media goes (encoded [`encode_addr`]); 0 while its call is down.
    pub remote: Vec<AtomicU64>,
    /// Bumped at every new call of a venue, so the receiver starts fresh counting.
    pub call_epoch: Vec<AtomicU32>,
    /// A keyframe was asked for (RTCP PLI/FIR or SIP INFO) at this time (ns since origin + 1);
    /// 0 when none is pending.
    pub key_requested_at: Vec<AtomicU64>,
    /// Latency and switch figures count from this time (ns since origin); `u64::MAX` = not yet.
    pub measure_from_ns: AtomicU64,
    /// Stop the media threads.
    pub stop: AtomicBool,
}

impl Shared {
    /// Slots for `n` venues.
    pub fn new(n: usize) -> Arc<Shared> {
        Arc::new(Shared {
            origin: Instant::now(),
            remote: (0..n).map(|_| AtomicU64::new(0)).collect(),
            call_epoch: (0..n).map(|_| AtomicU32::new(0)).collect(),
            key_requested_at: (0..n).map(|_| AtomicU64::new(0)).collect(),
            measure_from_ns: AtomicU64::new(u64::MAX),
            stop: AtomicBool::new(false),
        })
    }

    /// Nanoseconds since the origin.
    pub fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    /// Asks venue `i`'s encoder for a keyframe.
    pub fn request_keyframe(&self, i: usize) {
        if let Some(k) = self.key_requested_at.get(i) {
            let _ = k.compare_exchange(0, self.now_ns() + 1, Ordering::Relaxed, Ordering::Relaxed);
        }
    }
}

/// Packs an IPv4 socket address into a non-zero u64 (the harness only ever talks to loopback
/// IPv4); `0` for anything else.
pub fn encode_addr(a: SocketAddr) -> u64 {
    match a {
        SocketAddr::V4(v4) => {
            (u64::from(u32::from(*v4.ip())) << 16) | u64::from(v4.port()) | (1 << 63)
        }
        SocketAddr::V6(_) => 0,
    }
}

/// The inverse of [`encode_addr`].
pub fn decode_addr(v: u64) -> Option<SocketAddr> {
    if v == 0 {
        return None;
    }
    let ip = Ipv4Addr::from(((v >> 16) & 0xFFFF_FFFF) as u32);
    Some(SocketAddr::V4(SocketAddrV4::new(ip, (v & 0xFFFF) as u16)))
}

/// Binds `n` media sockets on 127.0.0.1 with large buffers, non-blocking.
///
/// # Errors
/// Socket errors (out of descriptors, for instance).
pub fn bind_sockets(n: usize) -> std::io::Result<Vec<UdpSocket>> {
    (0..n)
        .map(|_| {
            let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
            // Best effort: the kernel caps these at net.core.*mem_max.
            let _ = s.set_recv_buffer_size(1 << 20);
            let _ = s.set_send_buffer_size(1 << 20);
            s.bind(&SocketAddr::new(IpAddr::V4(Ipv4Addr::LOCALHOST), 0).into())?;
            let s: UdpSocket = s.into();
            s.set_nonblocking(true)?;
            Ok(s)
        })
        .collect()
}

/// Event `k` of a pacer over `n` venues at `interval_ns`: venue `k % n` at
/// `(k / n) * interval + (k % n) * interval / n`. Times grow with `k`, so the due events are
/// always the next few `k`: no scan over all venues per tick.
#[derive(Debug, Clone, Copy)]
pub struct Pacer {
    n: u64,
    interval_ns: u64,
    next_k: u64,
    start_ns: u64,
}

impl Pacer {
    /// A pacer starting at `start_ns`.
    pub fn new(n: usize, interval_ns: u64, start_ns: u64) -> Pacer {
        Pacer {
            n: n.max(1) as u64,
            interval_ns: interval_ns.max(1),
            next_k: 0,
            start_ns,
        }
    }

    /// The time of the next event.
    pub fn next_at(&self) -> u64 {
        let round = self.next_k / self.n;
        let slot = self.next_k % self.n;
        self.start_ns + round * self.interval_ns + slot * self.interval_ns / self.n
    }

    /// The venue of the next event if it is due at `now_ns`, advancing past it.
    pub fn due(&mut self, now_ns: u64) -> Option<usize> {
        if self.next_at() > now_ns {
            return None;
        }
        let v = (self.next_k % self.n) as usize;
        self.next_k += 1;
        Some(v)
    }
}

/// What the sender did.
#[derive(Debug, Clone, Default)]
pub struct SendReport {
    /// Packets handed to the kernel, per venue.
    pub sent: Vec<u64>,
    /// Sends that failed (full buffer, error), all venues.
    pub send_errors: u64,
    /// Events more than one frame interval late (the harness could not keep up).
    pub late_events: u64,
}

/// Starts the sender thread. `encoder_delay` is how long a keyframe request takes to produce
/// a keyframe (a real encoder needs a frame or more).
pub fn spawn_sender(
    shared: Arc<Shared>,
    sockets: Arc<Vec<UdpSocket>>,
    shape: VideoShape,
    encoder_delay: Duration,
) -> thread::JoinHandle<SendReport> {
    thread::spawn(move || {
        let n = sockets.len();
        let mut video: Vec<SyntheticVideo> = (0..n)
            .map(|i| SyntheticVideo::new(i as u32 + 1, VIDEO_PT, shape, 0x10AD))
            .collect();
        let mut audio: Vec<SyntheticAudio> = (0..n)
            .map(|i| SyntheticAudio::new(i as u32 + 1, 300.0 + (i % 20) as f32 * 37.0, 0.3, 9))
            .collect();
        let vint = video
            .first()
            .map_or(33_333_333, |v| v.frame_interval_us() * 1000);
        let start = shared.now_ns();
        let mut vpace = Pacer::new(n, vint, start);
        let mut apace = Pacer::new(n, 20_000_000, start + 3_000_000);
        let mut report = SendReport {
            sent: vec![0; n],
            ..SendReport::default()
        };
        let mut frame = Vec::new();
        let mut pkt = Vec::new();
        let delay_ns = encoder_delay.as_nanos() as u64;
        while !shared.stop.load(Ordering::Relaxed) {
            let now = shared.now_ns();
            // Bounded per turn: at most 2n events, then look at the stop flag again.
            let mut budget = 2 * n + 2;
            while budget > 0 {
                budget -= 1;
                if let Some(i) = vpace.due(now) {
                    if now.saturating_sub(vpace.next_at()) > vint {
                        report.late_events += 1;
                    }
                    let Some(dest) = decode_addr(shared.remote[i].load(Ordering::Relaxed)) else {
                        continue;
                    };
                    let asked = shared.key_requested_at[i].load(Ordering::Relaxed);
                    if asked != 0 && now >= asked - 1 + delay_ns {
                        shared.key_requested_at[i].store(0, Ordering::Relaxed);
                        video[i].request_keyframe();
                    }
                    video[i].next_frame(shared.now_ns(), &mut frame);
                    for p in &frame {
                        match sockets[i].send_to(p, dest) {
                            Ok(_) => report.sent[i] += 1,
                            Err(_) => report.send_errors += 1,
                        }
                    }
                } else if let Some(i) = apace.due(now) {
                    let Some(dest) = decode_addr(shared.remote[i].load(Ordering::Relaxed)) else {
                        continue;
                    };
                    audio[i].next_packet(&mut pkt);
                    match sockets[i].send_to(&pkt, dest) {
                        Ok(_) => report.sent[i] += 1,
                        Err(_) => report.send_errors += 1,
                    }
                } else {
                    break;
                }
            }
            let next = vpace.next_at().min(apace.next_at());
            let now = shared.now_ns();
            if next > now {
                thread::sleep(Duration::from_nanos((next - now).min(2_000_000)));
            }
        }
        report
    })
}

/// What the receivers saw.
#[derive(Debug)]
pub struct RecvReport {
    /// One tracker per venue.
    pub trackers: Vec<ReceiverTracker>,
    /// Added latency of probed video packets received in the measured window, µs.
    pub latency_us: Histogram<u64>,
    /// RTCP keyframe requests received.
    pub keyframe_requests: u64,
    /// Audio packets received.
    pub audio_received: u64,
}

/// Starts the receiver thread (stops when `shared.stop` is set and the sockets are quiet).
pub fn spawn_receiver(
    shared: Arc<Shared>,
    sockets: Arc<Vec<UdpSocket>>,
) -> thread::JoinHandle<RecvReport> {
    thread::spawn(move || {
        let n = sockets.len();
        let mut trackers = vec![ReceiverTracker::new(); n];
        let mut epochs = vec![0u32; n];
        let mut latency_us =
            Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|_| {
                // Bounds are constants that hdrhistogram accepts; this is unreachable.
                Histogram::new(3).unwrap_or_else(|_| unreachable!())
            });
        let mut batch = RecvBatch::new(32);
        let mut pfds: Vec<libc::pollfd> = sockets
            .iter()
            .map(|s| libc::pollfd {
                fd: s.as_raw_fd(),
                events: libc::POLLIN,
                revents: 0,
            })
            .collect();
        let mut keyframe_requests = 0;
        let mut audio_received = 0;
        let mut quiet_since: Option<Instant> = None;
        loop {
            // SAFETY: pfds is a valid, exclusively borrowed array of pollfd.
            let ready = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, 20) };
            if ready <= 0 {
                if shared.stop.load(Ordering::Relaxed) {
                    // Drain for 200 ms of silence after the stop, so nothing in flight is lost.
                    let q = *quiet_since.get_or_insert_with(Instant::now);
                    if q.elapsed() > Duration::from_millis(200) {
                        break;
                    }
                }
                continue;
            }
            quiet_since = None;
            for (i, pfd) in pfds.iter_mut().enumerate() {
                if pfd.revents == 0 {
                    continue;
                }
                pfd.revents = 0;
                let e = shared.call_epoch[i].load(Ordering::Relaxed);
                if e != epochs[i] {
                    epochs[i] = e;
                    trackers[i].new_call();
                }
                // Bounded: at most 64 batches per socket per poll round, then the others.
                for _ in 0..64 {
                    if batch.recv(&sockets[i]).is_err() {
                        break;
                    }
                    let now_ns = shared.now_ns();
                    let measuring = now_ns >= shared.measure_from_ns.load(Ordering::Relaxed);
                    for j in 0..batch.len() {
                        let Some((buf, _)) = batch.get_mut(j) else {
                            continue;
                        };
                        let is_audio = buf.get(1).is_some_and(|b| b & 0x7F == AUDIO_PT);
                        match trackers[i].on_datagram(now_ns, buf) {
                            Seen::Video { latency_ns } if measuring => {
                                let _ = latency_us.record((latency_ns / 1000).max(1));
                            }
                            Seen::Rtcp {
                                keyframe_request: true,
                            } => {
                                keyframe_requests += 1;
                                shared.request_keyframe(i);
                            }
                            Seen::Other if is_audio => audio_received += 1,
                            _ => {}
                        }
                    }
                }
            }
        }
        RecvReport {
            trackers,
            latency_us,
            keyframe_requests,
            audio_received,
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pacer_spreads_venues_over_the_interval_in_order() {
        let mut p = Pacer::new(4, 100, 1000);
        let mut got = Vec::new();
        for now in (1000..1250).step_by(5) {
            while let Some(v) = p.due(now) {
                got.push((now, v));
            }
        }
        let venues: Vec<usize> = got.iter().map(|g| g.1).collect();
        assert_eq!(venues, [0, 1, 2, 3, 0, 1, 2, 3, 0, 1]);
        assert_eq!(got[1].0, 1025);
        assert_eq!(got[4].0, 1100);
    }

    #[test]
    fn addresses_round_trip() {
        let a: SocketAddr = "127.0.0.1:20000".parse().unwrap();
        assert_eq!(decode_addr(encode_addr(a)), Some(a));
        assert_eq!(decode_addr(0), None);
        assert_eq!(encode_addr("[::1]:5".parse().unwrap()), 0);
    }
}
