//! End-to-end forwarding measurements on loopback, shared by the benchmark binaries.
//!
//! A run has three kinds of threads: senders (synthetic venues on their own sockets, paced in
//! real time), one forwarder (the thing measured, on one socket), and one receiver thread that
//! drains K receiver sockets. The forwarder's CPU time is read from the thread's own CPU clock
//! (`CLOCK_THREAD_CPUTIME_ID`), so the cost of senders and receivers does not pollute it, and
//! compared with [`ReferenceForwarder`] — a plain `recvmmsg` → `sendmmsg` 1→K loop with no
//! switching — under the same load in the same process. The ratio of the two is the figure that
//! travels between machines.

pub mod forward_scenario;

use std::collections::HashMap;
use std::io;
use std::net::{SocketAddr, UdpSocket};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use dais_net::sim::{Probe, SyntheticVideo, VideoShape};
use dais_net::trains::Trains;
use dais_net::udp::{FanOut, HEAD, RecvBatch};
use hdrhistogram::Histogram;

/// What the forwarder under test does with one received datagram.
pub trait Forwarder: Send {
    /// Handles one datagram received from `from` (the buffer may be rewritten in place).
    /// Returns how many datagrams it sent.
    fn on_datagram(
        &mut self,
        now: Instant,
        from: SocketAddr,
        buf: &mut [u8],
        io: &mut SendIo<'_>,
    ) -> usize;

    /// Called when the socket was idle or after each batch: timers, generated packets.
    fn on_tick(&mut self, _now: Instant, _io: &mut SendIo<'_>) {}

    /// A chair command from the harness: show venue number `venue` (1-based).
    fn switch_to(&mut self, _now: Instant, _venue: u32) {}
}

/// The forwarder's sending side: its socket and reusable fan-out scratch.
#[derive(Debug)]
pub struct SendIo<'a> {
    socket: &'a UdpSocket,
    fanout: &'a mut FanOut,
    /// With [`Load::trains`]: the batch's trains, and which datagram of it is being handled.
    trains: Option<&'a mut Trains>,
    current: u32,
}

impl SendIo<'_> {
    /// Sends `datagram` to every destination, waiting for socket space when the send buffer is
    /// full (a benchmark must not silently drop). Returns the number sent.
    /// With [`Load::trains`] the datagram is queued for the batch's trains (D37), which the
    /// rig sends after the batch, and the count is of datagrams queued.
    pub fn send_all(&mut self, datagram: &[u8], dests: &[SocketAddr]) -> usize {
        if let Some(trains) = self.trains.as_deref_mut() {
            if datagram.len() < HEAD {
                return 0;
            }
            let mut head = [0u8; HEAD];
            head.copy_from_slice(&datagram[..HEAD]);
            let head = trains.head(head);
            for d in dests {
                trains.add(*d, head, self.current, datagram.len());
            }
            return dests.len();
        }
        let mut done = 0;
        let mut spins = 0;
        while done < dests.len() {
            match self.fanout.send(self.socket, datagram, &dests[done..]) {
                Ok(n) if n > 0 => done += n,
                Ok(_) => wait_writable(self.socket),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => wait_writable(self.socket),
                Err(_) => {
                    // ECONNREFUSED from an earlier ICMP etc.: skip that destination.
                    done += 1;
                }
            }
            spins += 1;
            if spins > 10_000 {
                break;
            }
        }
        done
    }
}

impl SendIo<'_> {
    /// Sends one generated datagram (RTCP and the like) to one destination; best effort.
    pub fn send_to(&mut self, datagram: &[u8], dest: SocketAddr) -> bool {
        self.socket.send_to(datagram, dest).is_ok()
    }
}

fn wait_writable(socket: &UdpSocket) {
    let mut pfd = libc::pollfd {
        fd: socket.as_raw_fd(),
        events: libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    unsafe { libc::poll(&mut pfd, 1, 10) };
}

fn wait_readable(socket: &UdpSocket, timeout_ms: i32) -> bool {
    let mut pfd = libc::pollfd {
        fd: socket.as_raw_fd(),
        events: libc::POLLIN,
        revents: 0,
    };
    // SAFETY: one valid pollfd for the duration of the call.
    unsafe { libc::poll(&mut pfd, 1, timeout_ms) > 0 }
}

/// The minimal reference: every datagram to every destination, nothing else.
#[derive(Debug)]
pub struct ReferenceForwarder {
    /// Where each datagram goes.
    pub dests: Vec<SocketAddr>,
}

impl Forwarder for ReferenceForwarder {
    fn on_datagram(
        &mut self,
        _now: Instant,
        _from: SocketAddr,
        buf: &mut [u8],
        io: &mut SendIo<'_>,
    ) -> usize {
        io.send_all(buf, &self.dests)
    }
}

/// CPU time consumed by the calling thread so far.
pub fn thread_cpu_time() -> Duration {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: valid out-pointer; CLOCK_THREAD_CPUTIME_ID is supported on Linux.
    unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut ts) };
    Duration::new(ts.tv_sec as u64, ts.tv_nsec as u32)
}

/// The load: which synthetic venues send, how fast, for how long.
#[derive(Debug, Clone)]
pub struct Load {
    /// Number of sending venues (each with its own socket).
    pub venues: u32,
    /// Shape of each venue's video.
    pub shape: VideoShape,
    /// How long the senders run.
    pub duration: Duration,
    /// Number of receivers the forwarder fans out to.
    pub receivers: usize,
    /// The forwarder sends each batch through `dais-net`'s trains (UDP GSO, as `daisd` since
    /// D37) instead of one `sendmmsg` per datagram.
    pub trains: bool,
}

/// Figures from one run.
#[derive(Debug, Clone, Default)]
pub struct RunReport {
    /// Datagrams the senders sent to the forwarder.
    pub sent: u64,
    /// Datagrams the forwarder received and handed on (input side).
    pub forwarded_in: u64,
    /// Datagrams the forwarder sent (output side).
    pub forwarded_out: u64,
    /// Datagrams the receivers got.
    pub received: u64,
    /// The forwarder thread's CPU time.
    pub forwarder_cpu: Duration,
    /// Datagrams the trains dropped for a full send buffer (0 without [`Load::trains`]).
    pub send_dropped: u64,
    /// Latency sender → receiver, microseconds.
    pub latency_p50_us: u64,
    /// 99th percentile latency, microseconds.
    pub latency_p99_us: u64,
    /// Received datagrams per venue number, to see what the receivers watched.
    pub received_by_venue: HashMap<u32, u64>,
    /// Switch commands: when (since the run's origin) and to which venue.
    pub switches: Vec<(Duration, u32)>,
    /// Per receiver, each change of the venue it received: when and to which venue.
    pub transitions: Vec<Vec<(Duration, u32)>>,
    /// Sequence-number discontinuities seen by the receivers (gaps or repeats in the one
    /// stream each receiver gets).
    pub seq_discontinuities: u64,
    /// Packets of a new venue that arrived before that venue's keyframe (a switch that did not
    /// land on a keyframe).
    pub before_keyframe: u64,
}

impl RunReport {
    /// Switch latencies: for each command and each receiver, the time from the command to the
    /// first packet of the new venue at that receiver. Commands never seen land are skipped.
    pub fn switch_latencies(&self) -> Vec<Duration> {
        let mut out = Vec::new();
        for (i, (at, venue)) in self.switches.iter().enumerate() {
            let until = self.switches.get(i + 1).map(|(t, _)| *t);
            for rx in &self.transitions {
                if let Some((t, _)) = rx
                    .iter()
                    .find(|(t, v)| t >= at && v == venue && until.is_none_or(|u| *t < u))
                {
                    out.push(*t - *at);
                }
            }
        }
        out
    }

    /// Forwarder CPU nanoseconds per datagram sent.
    pub fn cpu_ns_per_sent(&self) -> f64 {
        if self.forwarded_out == 0 {
            return f64::NAN;
        }
        self.forwarder_cpu.as_nanos() as f64 / self.forwarded_out as f64
    }
}

/// The sockets of a run, bound before the forwarder is built so it can know every address.
#[derive(Debug)]
pub struct Rig {
    /// The forwarder's socket.
    pub forwarder: UdpSocket,
    /// One socket per sending venue.
    pub senders: Vec<UdpSocket>,
    /// One socket per receiver.
    pub receivers: Vec<UdpSocket>,
}

impl Rig {
    /// Binds every socket on 127.0.0.1 with large buffers.
    pub fn bind(load: &Load) -> io::Result<Rig> {
        let bind = || -> io::Result<UdpSocket> {
            let s = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::DGRAM, None)?;
            s.set_recv_buffer_size(8 << 20)?;
            s.set_send_buffer_size(8 << 20)?;
            s.bind(&SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
            let s: UdpSocket = s.into();
            s.set_nonblocking(true)?;
            Ok(s)
        };
        Ok(Rig {
            forwarder: bind()?,
            senders: (0..load.venues)
                .map(|_| bind())
                .collect::<io::Result<_>>()?,
            receivers: (0..load.receivers)
                .map(|_| bind())
                .collect::<io::Result<_>>()?,
        })
    }

    /// Sender addresses, in venue order (venue numbers start at 1).
    pub fn sender_addrs(&self) -> Vec<SocketAddr> {
        self.senders
            .iter()
            .map(|s| s.local_addr().unwrap())
            .collect()
    }

    /// Receiver addresses.
    pub fn receiver_addrs(&self) -> Vec<SocketAddr> {
        self.receivers
            .iter()
            .map(|s| s.local_addr().unwrap())
            .collect()
    }

    /// Runs the load through `fwd` and returns the figures. `during` is called on the main
    /// thread every 10 ms with the elapsed time (to switch, for instance).
    pub fn run<F: Forwarder + 'static>(
        self,
        load: &Load,
        mut fwd: F,
        mut during: impl FnMut(Duration) -> Option<u32>,
    ) -> RunReport {
        let origin = Instant::now();
        let stop_fwd = Arc::new(AtomicBool::new(false));
        let stop_rx = Arc::new(AtomicBool::new(false));
        let fwd_socket = self.forwarder;
        let fwd_addr = fwd_socket.local_addr().unwrap();

        let (cmd_tx, cmd_rx) = std::sync::mpsc::channel::<u32>();
        let stop = stop_fwd.clone();
        let use_trains = load.trains;
        let forwarder = thread::spawn(move || {
            // With trains, read coalesced as daisd does (D37): the senders' frames come as one
            // GSO message each.
            let mut batch = if use_trains && dais_net::udp::enable_gro(&fwd_socket).is_ok() {
                RecvBatch::coalesced(32)
            } else {
                RecvBatch::new(32)
            };
            let mut fanout = FanOut::new();
            let mut trains = use_trains.then(Trains::new);
            let (mut fin, mut fout, mut dropped) = (0u64, 0u64, 0u64);
            let cpu0 = thread_cpu_time();
            while !stop.load(Ordering::Relaxed) {
                while let Ok(v) = cmd_rx.try_recv() {
                    fwd.switch_to(Instant::now(), v);
                }
                if !wait_readable(&fwd_socket, 5) {
                    let mut io = SendIo {
                        socket: &fwd_socket,
                        fanout: &mut fanout,
                        trains: None,
                        current: 0,
                    };
                    fwd.on_tick(Instant::now(), &mut io);
                    continue;
                }
                while batch.recv(&fwd_socket).is_ok() {
                    let now = Instant::now();
                    for i in 0..batch.len() {
                        let Some((buf, from)) = batch.get_mut(i) else {
                            continue;
                        };
                        let mut io = SendIo {
                            socket: &fwd_socket,
                            fanout: &mut fanout,
                            trains: trains.as_mut(),
                            current: i as u32,
                        };
                        let n = fwd.on_datagram(now, from, buf, &mut io);
                        fin += 1;
                        fout += n as u64;
                    }
                    if let Some(t) = trains.as_mut() {
                        let out = t.flush(&fwd_socket, |i| {
                            batch.bytes(i as usize).get(HEAD..).unwrap_or_default()
                        });
                        dropped += out.dropped as u64;
                        fout -= (out.dropped + out.errors) as u64;
                    }
                    let mut io = SendIo {
                        socket: &fwd_socket,
                        fanout: &mut fanout,
                        trains: None,
                        current: 0,
                    };
                    fwd.on_tick(now, &mut io);
                }
            }
            (fin, fout, thread_cpu_time() - cpu0, dropped)
        });

        let stop = stop_rx.clone();
        let receivers = self.receivers;
        let receiver = thread::spawn(move || {
            let mut hist = Histogram::<u64>::new_with_bounds(1, 60_000_000, 3).unwrap();
            let mut by_venue: HashMap<u32, u64> = HashMap::new();
            let mut batch = RecvBatch::new(32);
            let mut pfds: Vec<libc::pollfd> = receivers
                .iter()
                .map(|s| libc::pollfd {
                    fd: s.as_raw_fd(),
                    events: libc::POLLIN,
                    revents: 0,
                })
                .collect();
            let mut received = 0u64;
            let mut transitions: Vec<Vec<(Duration, u32)>> = vec![Vec::new(); pfds.len()];
            let mut last_seq: Vec<Option<u16>> = vec![None; pfds.len()];
            let mut discontinuities = 0u64;
            let mut before_keyframe = 0u64;
            loop {
                // SAFETY: pfds is a valid array of pollfd for the call.
                let ready =
                    unsafe { libc::poll(pfds.as_mut_ptr(), pfds.len() as libc::nfds_t, 20) };
                if ready <= 0 {
                    if stop.load(Ordering::Relaxed) {
                        break;
                    }
                    continue;
                }
                for (i, pfd) in pfds.iter_mut().enumerate() {
                    if pfd.revents & libc::POLLIN == 0 {
                        continue;
                    }
                    pfd.revents = 0;
                    while batch.recv(&receivers[i]).is_ok() {
                        let now_ns = origin.elapsed().as_nanos() as u64;
                        for j in 0..batch.len() {
                            let Some((buf, _)) = batch.get_mut(j) else {
                                continue;
                            };
                            if dais_rtp::classify(buf) != dais_rtp::PacketClass::Rtp {
                                continue;
                            }
                            received += 1;
                            if buf.len() >= 4 {
                                let seq = u16::from_be_bytes([buf[2], buf[3]]);
                                if let Some(prev) = last_seq[i]
                                    && seq != prev.wrapping_add(1)
                                {
                                    discontinuities += 1;
                                }
                                last_seq[i] = Some(seq);
                            }
                            let Some(payload) = buf.get(12..) else {
                                continue;
                            };
                            if let Some(p) = Probe::parse(payload) {
                                let t = &mut transitions[i];
                                if t.last().map(|(_, v)| *v) != Some(p.venue) {
                                    if !(p.keyframe && p.index == 0) {
                                        before_keyframe += 1;
                                    }
                                    t.push((Duration::from_nanos(now_ns), p.venue));
                                }
                                *by_venue.entry(p.venue).or_default() += 1;
                                let us = now_ns.saturating_sub(p.sent_ns) / 1000;
                                let _ = hist.record(us.max(1));
                            }
                        }
                    }
                }
            }
            (
                received,
                hist,
                by_venue,
                transitions,
                discontinuities,
                before_keyframe,
            )
        });

        let senders = self.senders;
        let shape = load.shape;
        let duration = load.duration;
        let sender = thread::spawn(move || {
            let mut sender_trains = use_trains.then(Trains::new);
            let mut venues: Vec<SyntheticVideo> = (0..senders.len())
                .map(|i| SyntheticVideo::new(i as u32 + 1, 96, shape, 42))
                .collect();
            let interval = Duration::from_micros(venues[0].frame_interval_us());
            let mut frame = Vec::new();
            let mut sent = 0u64;
            let mut next = Instant::now();
            let end = next + duration;
            let mut buf = [0u8; 1500];
            while Instant::now() < end {
                let now_ns = origin.elapsed().as_nanos() as u64;
                for (v, sock) in venues.iter_mut().zip(&senders) {
                    // Keyframe requests (PLI/FIR) come back on the sender's socket.
                    while let Ok((n, _)) = sock.recv_from(&mut buf) {
                        let wants_key = dais_rtp::parse_compound(&buf[..n]).is_ok_and(|pkts| {
                            pkts.iter().any(|p| {
                                matches!(
                                    p,
                                    dais_rtp::RtcpPacket::Pli { .. }
                                        | dais_rtp::RtcpPacket::Fir { .. }
                                )
                            })
                        });
                        if wants_key {
                            v.request_keyframe();
                        }
                    }
                    v.next_frame(now_ns, &mut frame);
                    if let Some(t) = sender_trains.as_mut() {
                        // The frame in one GSO message, as dais-loadgen's venues send it.
                        for (k, pkt) in frame.iter().enumerate() {
                            let mut head = [0u8; HEAD];
                            head.copy_from_slice(&pkt[..HEAD]);
                            let head = t.head(head);
                            t.add(fwd_addr, head, k as u32, pkt.len());
                        }
                        let out = t.flush(sock, |k| &frame[k as usize][HEAD..]);
                        sent += out.sent as u64;
                        continue;
                    }
                    for pkt in &frame {
                        loop {
                            match sock.send_to(pkt, fwd_addr) {
                                Ok(_) => break,
                                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                                    wait_writable(sock)
                                }
                                Err(_) => break,
                            }
                        }
                        sent += 1;
                    }
                }
                next += interval;
                let now = Instant::now();
                if next > now {
                    thread::sleep(next - now);
                }
            }
            sent
        });

        let mut switches = Vec::new();
        while !sender.is_finished() {
            let at = origin.elapsed();
            if let Some(v) = during(at) {
                switches.push((at, v));
                let _ = cmd_tx.send(v);
            }
            thread::sleep(Duration::from_millis(10));
        }
        let sent = sender.join().unwrap();
        // Let the pipeline drain before stopping.
        thread::sleep(Duration::from_millis(200));
        stop_fwd.store(true, Ordering::Relaxed);
        let (fin, fout, cpu, send_dropped) = forwarder.join().unwrap();
        thread::sleep(Duration::from_millis(100));
        stop_rx.store(true, Ordering::Relaxed);
        let (received, hist, by_venue, transitions, seq_discontinuities, before_keyframe) =
            receiver.join().unwrap();
        RunReport {
            sent,
            forwarded_in: fin,
            forwarded_out: fout,
            received,
            forwarder_cpu: cpu,
            send_dropped,
            latency_p50_us: hist.value_at_quantile(0.5),
            latency_p99_us: hist.value_at_quantile(0.99),
            received_by_venue: by_venue,
            switches,
            transitions,
            seq_discontinuities,
            before_keyframe,
        }
    }
}
