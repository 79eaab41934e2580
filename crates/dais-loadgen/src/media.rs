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
use dais_net::trains::Trains;
use dais_net::udp::{HEAD, RecvBatch};
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
    /// RTP/RTCP datagrams the sender handed to the kernel so far (all venues), for the
    /// harness's own CPU per packet over the measured window.
    pub sent_total: AtomicU64,
    /// Datagrams the receiver read so far (all venues).
    pub received_total: AtomicU64,
    /// `CLOCK_REALTIME` at the origin, ns: converts the kernel's arrival stamps.
    pub origin_realtime_ns: u64,
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
            sent_total: AtomicU64::new(0),
            received_total: AtomicU64::new(0),
            origin_realtime_ns: std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64),
        })
    }

    /// Nanoseconds since the origin.
    pub fn now_ns(&self) -> u64 {
        self.origin.elapsed().as_nanos() as u64
    }

    /// A kernel arrival stamp (`CLOCK_REALTIME` ns) on the run's clock; `None` for a stamp
    /// before the origin (a clock step) or a missing one.
    pub fn from_realtime(&self, realtime_ns: u64) -> Option<u64> {
        (realtime_ns != 0)
            .then(|| realtime_ns.checked_sub(self.origin_realtime_ns))
            .flatten()
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

/// `SO_TIMESTAMPNS` (= `SCM_TIMESTAMPNS`) on x86-64 and arm64 Linux (asm-generic/socket.h;
/// not exported by the `libc` crate for glibc targets): the arrival time of every datagram,
/// as a `timespec` in `CLOCK_REALTIME`.
const SO_TIMESTAMPNS: libc::c_int = 35;

/// Binds `n` media sockets on 127.0.0.1 with large buffers, non-blocking; with `stamps`, the
/// kernel stamps every datagram's arrival (`SO_TIMESTAMPNS`).
///
/// # Errors
/// Socket errors (out of descriptors, for instance).
pub fn bind_sockets(n: usize, stamps: bool) -> std::io::Result<Vec<UdpSocket>> {
    (0..n)
        .map(|_| {
            let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
            if stamps {
                let on: libc::c_int = 1;
                // SAFETY: a valid socket and a c_int option value of its size.
                let rc = unsafe {
                    libc::setsockopt(
                        s.as_raw_fd(),
                        libc::SOL_SOCKET,
                        SO_TIMESTAMPNS,
                        (&raw const on).cast(),
                        std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                    )
                };
                if rc != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
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

/// How the media threads talk to the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum IoMode {
    /// A venue frame in ONE `sendmsg` with UDP GSO (`UDP_SEGMENT`: the kernel cuts the
    /// buffer into the frame's equal-sized datagrams, so routing and the IP path run once per
    /// frame), `sendmmsg` where GSO is refused; receiving as [`IoMode::Batched`].
    #[default]
    Gso,
    /// One `sendmmsg` per venue frame, `epoll` over the sockets and `recvmmsg` on the ready
    /// ones: the syscall count grows with the frames, not with the packets.
    Batched,
    /// The first harness's I/O, kept to measure the gain in one session: one `send_to` per
    /// packet and a `poll()` over every socket per receive round.
    Simple,
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
    /// Send system calls made (`send_to` or `sendmmsg`).
    pub send_calls: u64,
}

/// Sends a venue's frame (several datagrams to ONE destination) through `dais-net`'s trains
/// (D37), the code daisd sends with: ONE UDP GSO message for the frame's equal-sized packets
/// (one datagram per message where the kernel refuses GSO), or one `sendmmsg` of the frame's
/// datagrams. The trains keep their buffers, so a frame costs no allocation once the largest
/// frame has been seen.
#[derive(Debug)]
pub struct SendScratch {
    gso: Trains,
    plain: Trains,
}

impl Default for SendScratch {
    fn default() -> Self {
        SendScratch {
            gso: Trains::new(),
            plain: Trains::without_gso(),
        }
    }
}

impl SendScratch {
    /// Sends `packets` to `dest` as one GSO message. Returns `(sent, failed, calls)`.
    pub fn send_gso(
        &mut self,
        socket: &UdpSocket,
        dest: SocketAddr,
        packets: &[Vec<u8>],
    ) -> (u64, u64, u64) {
        through(&mut self.gso, socket, dest, packets)
    }

    /// Sends `packets` to `dest` with one `sendmmsg`, a message each. Returns `(sent, failed,
    /// calls)`.
    pub fn send(
        &mut self,
        socket: &UdpSocket,
        dest: SocketAddr,
        packets: &[Vec<u8>],
    ) -> (u64, u64, u64) {
        through(&mut self.plain, socket, dest, packets)
    }

    /// Whether GSO sends still coalesce (false once this kernel refused GSO).
    pub fn coalescing(&self) -> bool {
        self.gso.coalescing()
    }
}

fn through(
    trains: &mut Trains,
    socket: &UdpSocket,
    dest: SocketAddr,
    packets: &[Vec<u8>],
) -> (u64, u64, u64) {
    let mut short = 0u64;
    for (k, p) in packets.iter().enumerate() {
        let Some(head) = p.get(..HEAD).and_then(|h| <[u8; HEAD]>::try_from(h).ok()) else {
            short += 1;
            continue;
        };
        let head = trains.head(head);
        trains.add(dest, head, k as u32, p.len());
    }
    let out = trains.flush(socket, |k| {
        packets
            .get(k as usize)
            .and_then(|p| p.get(HEAD..))
            .unwrap_or_default()
    });
    (
        out.sent as u64,
        (out.dropped + out.errors) as u64 + short,
        out.calls as u64,
    )
}

/// One second of a venue's G.711 packets, generated once and replayed with running sequence
/// numbers and timestamps: the tone's frequency is a whole number of hertz, so one second
/// loops seamlessly, and the sender no longer computes 8,000 sines a second per venue (a
/// twentieth of the harness's CPU at 128 venues, by `perf`).
#[derive(Debug, Clone)]
pub struct AudioLoop {
    packets: Vec<Vec<u8>>,
    seq0: u16,
    ts0: u32,
    k: u64,
}

/// Packets in an [`AudioLoop`]: one second at 20 ms.
const AUDIO_LOOP: usize = 50;

impl AudioLoop {
    /// Records one second of `audio`.
    pub fn new(mut audio: SyntheticAudio) -> AudioLoop {
        let packets: Vec<Vec<u8>> = (0..AUDIO_LOOP)
            .map(|_| {
                let mut p = Vec::new();
                audio.next_packet(&mut p);
                p
            })
            .collect();
        let first = packets.first().map(Vec::as_slice).unwrap_or_default();
        let seq0 = first
            .get(2..4)
            .map_or(0, |b| u16::from_be_bytes([b[0], b[1]]));
        let ts0 = first
            .get(4..8)
            .map_or(0, |b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]));
        AudioLoop {
            packets,
            seq0,
            ts0,
            k: 0,
        }
    }

    /// The next packet (RTP sequence and timestamp continue across the loop).
    pub fn next_packet(&mut self) -> &[u8] {
        let k = self.k;
        self.k += 1;
        let seq = self.seq0.wrapping_add(k as u16);
        let ts = self.ts0.wrapping_add((k as u32).wrapping_mul(160));
        let p = &mut self.packets[(k % AUDIO_LOOP as u64) as usize];
        if p.len() >= 8 {
            p[2..4].copy_from_slice(&seq.to_be_bytes());
            p[4..8].copy_from_slice(&ts.to_be_bytes());
        }
        p
    }
}

/// The batched sender's shortest sleep.
const SEND_TICK_NS: u64 = 1_000_000;

/// Starts the sender thread. `encoder_delay` is how long a keyframe request takes to produce
/// a keyframe (a real encoder needs a frame or more).
pub fn spawn_sender(
    shared: Arc<Shared>,
    sockets: Arc<Vec<UdpSocket>>,
    shape: VideoShape,
    encoder_delay: Duration,
    mode: IoMode,
) -> thread::JoinHandle<SendReport> {
    thread::spawn(move || {
        let n = sockets.len();
        let mut video: Vec<SyntheticVideo> = (0..n)
            .map(|i| SyntheticVideo::new(i as u32 + 1, VIDEO_PT, shape, 0x10AD))
            .collect();
        let mut audio: Vec<AudioLoop> = (0..n)
            .map(|i| {
                AudioLoop::new(SyntheticAudio::new(
                    i as u32 + 1,
                    300.0 + (i % 20) as f32 * 37.0,
                    0.3,
                    9,
                ))
            })
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
        let mut scratch = SendScratch::default();
        let delay_ns = encoder_delay.as_nanos() as u64;
        while !shared.stop.load(Ordering::Relaxed) {
            let now = shared.now_ns();
            let mut sent_now = 0u64;
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
                    match mode {
                        IoMode::Gso => {
                            let (ok, failed, calls) = scratch.send_gso(&sockets[i], dest, &frame);
                            report.sent[i] += ok;
                            sent_now += ok;
                            report.send_errors += failed;
                            report.send_calls += calls;
                        }
                        IoMode::Batched => {
                            let (ok, failed, calls) = scratch.send(&sockets[i], dest, &frame);
                            report.sent[i] += ok;
                            sent_now += ok;
                            report.send_errors += failed;
                            report.send_calls += calls;
                        }
                        IoMode::Simple => {
                            for p in &frame {
                                report.send_calls += 1;
                                match sockets[i].send_to(p, dest) {
                                    Ok(_) => {
                                        report.sent[i] += 1;
                                        sent_now += 1;
                                    }
                                    Err(_) => report.send_errors += 1,
                                }
                            }
                        }
                    }
                } else if let Some(i) = apace.due(now) {
                    let Some(dest) = decode_addr(shared.remote[i].load(Ordering::Relaxed)) else {
                        continue;
                    };
                    let pkt = audio[i].next_packet();
                    report.send_calls += 1;
                    match sockets[i].send_to(pkt, dest) {
                        Ok(_) => {
                            report.sent[i] += 1;
                            sent_now += 1;
                        }
                        Err(_) => report.send_errors += 1,
                    }
                } else {
                    break;
                }
            }
            shared.sent_total.fetch_add(sent_now, Ordering::Relaxed);
            let next = vpace.next_at().min(apace.next_at());
            let now = shared.now_ns();
            if next > now {
                let mut wait = (next - now).min(2_000_000);
                if mode != IoMode::Simple {
                    // At hundreds of venues the next event is tens of µs away: waking for each
                    // costs more than the sends. Sleep at least a tick and send what is due
                    // then; the probes are stamped at the send, so latency figures are not
                    // affected, only the pacing's grain (1 ms of a 33 ms frame interval).
                    wait = wait.max(SEND_TICK_NS);
                }
                thread::sleep(Duration::from_nanos(wait));
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
    /// Receive system calls that returned datagrams (`recvmmsg`).
    pub recv_calls: u64,
    /// Readiness waits (`epoll_wait` or `poll`) that reported something.
    pub wakeups: u64,
}

/// A `recvmmsg` batch that keeps each datagram's kernel arrival stamp (`SO_TIMESTAMPNS`), so
/// the receiver can read late — in 1 ms rounds, several datagrams per call — without the
/// wait showing in the latency and switch figures.
///
/// The descriptors point into the buffers and are built once: the vectors are never resized
/// after [`TsBatch::new`], so their heap storage (what the pointers name) never moves.
struct TsBatch {
    bufs: Vec<[u8; dais_net::udp::MAX_DATAGRAM]>,
    ctrl: Vec<[u64; 8]>,
    iovs: Vec<libc::iovec>,
    msgs: Vec<libc::mmsghdr>,
    stamps: Vec<u64>,
    count: usize,
}

impl TsBatch {
    fn new(capacity: usize) -> TsBatch {
        let capacity = capacity.max(1);
        let mut bufs = vec![[0u8; dais_net::udp::MAX_DATAGRAM]; capacity];
        let mut ctrl = vec![[0u64; 8]; capacity];
        let mut iovs: Vec<libc::iovec> = bufs
            .iter_mut()
            .map(|b| libc::iovec {
                iov_base: b.as_mut_ptr().cast(),
                iov_len: b.len(),
            })
            .collect();
        let msgs = (0..capacity)
            .map(|k| {
                // SAFETY: mmsghdr is plain old data; all-zero is a valid value.
                let mut m: libc::mmsghdr = unsafe { std::mem::zeroed() };
                m.msg_hdr.msg_iov = &raw mut iovs[k];
                m.msg_hdr.msg_iovlen = 1;
                m.msg_hdr.msg_control = ctrl[k].as_mut_ptr().cast();
                m
            })
            .collect();
        TsBatch {
            bufs,
            ctrl,
            iovs,
            msgs,
            stamps: vec![0; capacity],
            count: 0,
        }
    }

    fn capacity(&self) -> usize {
        self.msgs.len()
    }

    /// Reads what is ready, up to the capacity, without blocking.
    fn recv(&mut self, socket: &UdpSocket) -> std::io::Result<usize> {
        self.count = 0;
        debug_assert_eq!(self.iovs.len(), self.msgs.len());
        for (m, c) in self.msgs.iter_mut().zip(&self.ctrl) {
            m.msg_hdr.msg_controllen = std::mem::size_of_val(c) as _;
            m.msg_hdr.msg_flags = 0;
            m.msg_len = 0;
        }
        // SAFETY: every mmsghdr points at its own iovec (into `bufs`) and control buffer, all
        // alive and unmoved for the call; the count is the array's length.
        let n = unsafe {
            libc::recvmmsg(
                socket.as_raw_fd(),
                self.msgs.as_mut_ptr(),
                self.msgs.len() as libc::c_uint,
                libc::MSG_DONTWAIT,
                std::ptr::null_mut(),
            )
        };
        if n < 0 {
            return Err(std::io::Error::last_os_error());
        }
        let n = n as usize;
        for k in 0..n {
            let hdr = &self.msgs[k].msg_hdr;
            let mut stamp = 0;
            // SAFETY: the kernel filled msg_control up to msg_controllen; CMSG_FIRSTHDR and
            // CMSG_NXTHDR stay within it, and the timespec is read unaligned.
            unsafe {
                let mut cm = libc::CMSG_FIRSTHDR(hdr);
                while !cm.is_null() {
                    if (*cm).cmsg_level == libc::SOL_SOCKET && (*cm).cmsg_type == SO_TIMESTAMPNS {
                        let ts: libc::timespec =
                            std::ptr::read_unaligned(libc::CMSG_DATA(cm).cast());
                        stamp = (ts.tv_sec as u64)
                            .saturating_mul(1_000_000_000)
                            .saturating_add(ts.tv_nsec as u64);
                    }
                    cm = libc::CMSG_NXTHDR(hdr, cm);
                }
            }
            self.stamps[k] = stamp;
        }
        self.count = n;
        Ok(n)
    }

    /// Datagram `k` of the last read and its arrival stamp (`CLOCK_REALTIME` ns, 0: none).
    fn get(&self, k: usize) -> Option<(&[u8], u64)> {
        if k >= self.count {
            return None;
        }
        let len = (self.msgs[k].msg_len as usize).min(dais_net::udp::MAX_DATAGRAM);
        Some((&self.bufs[k][..len], self.stamps[k]))
    }
}

/// The receiver's read batches: the first harness's (arrival = when read) or stamped.
enum Batch {
    Plain(RecvBatch),
    Stamped(Box<TsBatch>),
}

/// The receiver's state: one tracker per venue and the figures, fed one socket at a time.
struct Receiving {
    shared: Arc<Shared>,
    sockets: Arc<Vec<UdpSocket>>,
    trackers: Vec<ReceiverTracker>,
    epochs: Vec<u32>,
    latency_us: Histogram<u64>,
    batch: Batch,
    keyframe_requests: u64,
    audio_received: u64,
    recv_calls: u64,
    wakeups: u64,
}

impl Receiving {
    fn new(shared: Arc<Shared>, sockets: Arc<Vec<UdpSocket>>, mode: IoMode) -> Receiving {
        let n = sockets.len();
        Receiving {
            shared,
            sockets,
            trackers: vec![ReceiverTracker::new(); n],
            epochs: vec![0u32; n],
            latency_us: Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap_or_else(|_| {
                // Bounds are constants that hdrhistogram accepts; this is unreachable.
                Histogram::new(3).unwrap_or_else(|_| unreachable!())
            }),
            batch: match mode {
                IoMode::Simple => Batch::Plain(RecvBatch::new(32)),
                IoMode::Batched | IoMode::Gso => Batch::Stamped(Box::new(TsBatch::new(64))),
            },
            keyframe_requests: 0,
            audio_received: 0,
            recv_calls: 0,
            wakeups: 0,
        }
    }

    /// Reads what socket `i` holds: at most 64 batches, then the other sockets get their turn.
    fn drain(&mut self, i: usize) {
        let Receiving {
            shared,
            sockets,
            trackers,
            epochs,
            latency_us,
            batch,
            keyframe_requests,
            audio_received,
            recv_calls,
            ..
        } = self;
        let e = shared.call_epoch[i].load(Ordering::Relaxed);
        if e != epochs[i] {
            epochs[i] = e;
            trackers[i].new_call();
        }
        let measure_from = shared.measure_from_ns.load(Ordering::Relaxed);
        for _ in 0..64 {
            let (n, full) = match batch {
                Batch::Plain(b) => match b.recv(&sockets[i]) {
                    Ok(n) => (n, true),
                    Err(_) => break,
                },
                Batch::Stamped(b) => match b.recv(&sockets[i]) {
                    Ok(n) => (n, n == b.capacity()),
                    Err(_) => break,
                },
            };
            *recv_calls += 1;
            let now_ns = shared.now_ns();
            shared.received_total.fetch_add(n as u64, Ordering::Relaxed);
            for j in 0..n {
                let (buf, at_ns): (&[u8], u64) = match batch {
                    Batch::Plain(b) => match b.get_mut(j) {
                        Some((buf, _)) => (buf, now_ns),
                        None => continue,
                    },
                    Batch::Stamped(b) => match b.get(j) {
                        Some((buf, stamp)) => (buf, shared.from_realtime(stamp).unwrap_or(now_ns)),
                        None => continue,
                    },
                };
                let is_audio = buf.get(1).is_some_and(|b| b & 0x7F == AUDIO_PT);
                match trackers[i].on_datagram(at_ns, buf) {
                    Seen::Video { latency_ns } if at_ns >= measure_from => {
                        let _ = latency_us.record((latency_ns / 1000).max(1));
                    }
                    Seen::Rtcp {
                        keyframe_request: true,
                    } => {
                        *keyframe_requests += 1;
                        shared.request_keyframe(i);
                    }
                    Seen::Other if is_audio => *audio_received += 1,
                    _ => {}
                }
            }
            if !full {
                // A short batch emptied the socket: skip the call that would say so
                // (level-triggered epoll reports the socket again if more came meanwhile).
                break;
            }
        }
    }

    fn finish(self) -> RecvReport {
        RecvReport {
            trackers: self.trackers,
            latency_us: self.latency_us,
            keyframe_requests: self.keyframe_requests,
            audio_received: self.audio_received,
            recv_calls: self.recv_calls,
            wakeups: self.wakeups,
        }
    }
}

/// The stamped receiver's pause between rounds.
const RECV_TICK: Duration = Duration::from_millis(1);

/// After the stop, keep draining until the sockets have been quiet this long, so nothing in
/// flight is lost.
const DRAIN_QUIET: Duration = Duration::from_millis(200);

/// Starts the receiver thread (stops when `shared.stop` is set and the sockets are quiet).
pub fn spawn_receiver(
    shared: Arc<Shared>,
    sockets: Arc<Vec<UdpSocket>>,
    mode: IoMode,
) -> thread::JoinHandle<std::io::Result<RecvReport>> {
    thread::spawn(move || {
        let mut r = Receiving::new(shared.clone(), sockets.clone(), mode);
        match mode {
            IoMode::Batched | IoMode::Gso => receive_epoll(&mut r, &shared, &sockets)?,
            IoMode::Simple => receive_poll(&mut r, &shared, &sockets),
        }
        Ok(r.finish())
    })
}

/// Whether the receive loop should end: stopped and quiet for [`DRAIN_QUIET`].
fn quiet_done(shared: &Shared, quiet_since: &mut Option<Instant>) -> bool {
    if !shared.stop.load(Ordering::Relaxed) {
        return false;
    }
    let q = *quiet_since.get_or_insert_with(Instant::now);
    q.elapsed() > DRAIN_QUIET
}

/// `epoll` (level-triggered) over every socket: a wake-up costs the ready sockets, not all N.
fn receive_epoll(r: &mut Receiving, shared: &Shared, sockets: &[UdpSocket]) -> std::io::Result<()> {
    use std::os::fd::{FromRawFd, OwnedFd};
    // SAFETY: epoll_create1 has no preconditions; the descriptor is owned right below.
    let raw = unsafe { libc::epoll_create1(libc::EPOLL_CLOEXEC) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor nobody else owns.
    let ep = unsafe { OwnedFd::from_raw_fd(raw) };
    for (i, s) in sockets.iter().enumerate() {
        let mut ev = libc::epoll_event {
            events: libc::EPOLLIN as u32,
            u64: i as u64,
        };
        // SAFETY: both descriptors are open; `ev` is a valid epoll_event.
        if unsafe { libc::epoll_ctl(ep.as_raw_fd(), libc::EPOLL_CTL_ADD, s.as_raw_fd(), &mut ev) }
            < 0
        {
            return Err(std::io::Error::last_os_error());
        }
    }
    let mut events = vec![libc::epoll_event { events: 0, u64: 0 }; 256];
    let mut quiet_since: Option<Instant> = None;
    loop {
        // SAFETY: `events` is a valid, exclusively borrowed array of its length.
        let ready = unsafe {
            libc::epoll_wait(
                ep.as_raw_fd(),
                events.as_mut_ptr(),
                events.len() as libc::c_int,
                20,
            )
        };
        if ready <= 0 {
            if quiet_done(shared, &mut quiet_since) {
                return Ok(());
            }
            continue;
        }
        quiet_since = None;
        r.wakeups += 1;
        for ev in &events[..ready as usize] {
            let i = ev.u64 as usize;
            if i < sockets.len() {
                r.drain(i);
            }
        }
        // Let the sockets fill for a tick before the next round: more datagrams per call and
        // per wake-up, and daisd need not wake a waiting thread for every packet. Arrival
        // times are the kernel's stamps, so the figures do not include this wait.
        thread::sleep(RECV_TICK);
    }
}

/// The first harness's loop: `poll()` over all N sockets every round.
fn receive_poll(r: &mut Receiving, shared: &Shared, sockets: &[UdpSocket]) {
    let mut pfds: Vec<libc::pollfd> = sockets
        .iter()
        .map(|s| libc::pollfd {
            fd: s.as_raw_fd(),
            events: libc::POLLIN,
            revents: 0,
        })
        .collect();
    let mut quiet_since: Option<Instant> = None;
    loop {
        // SAFETY: pfds is a valid, exclusively borrowed array of pollfd.
        let ready = unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, 20) };
        if ready <= 0 {
            if quiet_done(shared, &mut quiet_since) {
                return;
            }
            continue;
        }
        quiet_since = None;
        r.wakeups += 1;
        for (i, pfd) in pfds.iter_mut().enumerate() {
            if pfd.revents == 0 {
                continue;
            }
            pfd.revents = 0;
            r.drain(i);
        }
    }
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
    fn the_audio_loop_continues_sequence_and_timestamp_and_repeats_the_tone() {
        let mut live = SyntheticAudio::new(3, 337.0, 0.3, 9);
        let mut looped = AudioLoop::new(SyntheticAudio::new(3, 337.0, 0.3, 9));
        let mut want = Vec::new();
        for k in 0..120u32 {
            live.next_packet(&mut want);
            let got = looped.next_packet().to_vec();
            // Header: identical (sequence and timestamp run on across the loop).
            assert_eq!(got[..12], want[..12], "packet {k}");
            if k < 50 {
                assert_eq!(got, want, "the first second is the generator's own");
            }
        }
        // The second second repeats the first one's samples (337 Hz: whole periods).
        let a = looped.packets[7][12..].to_vec();
        let mut again = AudioLoop::new(SyntheticAudio::new(3, 337.0, 0.3, 9));
        assert_eq!(again.packets[7][12..], a[..]);
        assert_eq!(again.next_packet().len(), 172);
    }

    /// A frame sent through GSO (and through sendmmsg) arrives as the frame's datagrams, in
    /// order and intact, each with a kernel arrival stamp on the run's clock.
    #[test]
    fn batched_sends_arrive_as_separate_stamped_datagrams() {
        let shared = Shared::new(1);
        let rx = bind_sockets(1, true).unwrap().remove(0);
        let tx = bind_sockets(1, false).unwrap().remove(0);
        let dest = rx.local_addr().unwrap();
        let mut video = SyntheticVideo::new(1, VIDEO_PT, VideoShape::default(), 1);
        let mut frame = Vec::new();
        video.next_frame(shared.now_ns(), &mut frame);
        let mut scratch = SendScratch::default();
        let (sent, failed, calls) = scratch.send_gso(&tx, dest, &frame);
        assert_eq!((sent, failed), (frame.len() as u64, 0));
        // One system call for the frame, unless this kernel refused GSO (then sendmmsg ran).
        assert!(calls == 1 || !scratch.coalescing(), "{calls} calls");
        let mut got: Vec<(Vec<u8>, u64)> = Vec::new();
        let mut batch = TsBatch::new(64);
        let deadline = Instant::now() + Duration::from_secs(5);
        while got.len() < 2 * frame.len() && Instant::now() < deadline {
            if got.len() == frame.len() {
                // The same frame through sendmmsg.
                let (sent, failed, _) = scratch.send(&tx, dest, &frame);
                assert_eq!((sent, failed), (frame.len() as u64, 0));
            }
            match batch.recv(&rx) {
                Ok(n) => {
                    for k in 0..n {
                        let (b, stamp) = batch.get(k).unwrap();
                        got.push((b.to_vec(), stamp));
                    }
                }
                Err(_) => thread::sleep(Duration::from_millis(1)),
            }
        }
        assert_eq!(got.len(), 2 * frame.len());
        for (k, (bytes, stamp)) in got.iter().enumerate() {
            assert_eq!(bytes, &frame[k % frame.len()], "datagram {k}");
            let at = shared
                .from_realtime(*stamp)
                .expect("stamped after the origin");
            assert!(at <= shared.now_ns() + 1_000_000_000, "on the run's clock");
        }
        assert_eq!(shared.from_realtime(0), None);
    }

    #[test]
    fn addresses_round_trip() {
        let a: SocketAddr = "127.0.0.1:20000".parse().unwrap();
        assert_eq!(decode_addr(encode_addr(a)), Some(a));
        assert_eq!(decode_addr(0), None);
        assert_eq!(encode_addr("[::1]:5".parse().unwrap()), 0);
    }
}
