//! Coalesced fan-out: the packets one receiver gets from one receive batch leave as ONE UDP
//! GSO message per run of equal-sized packets (D37).
//!
//! A venue's video frame arrives as a burst of packets of one size (the packetiser fills each
//! to its limit; only the frame's last is shorter), and every receiver of the feed gets every
//! packet of the burst. Sent one datagram per receiver per packet, the kernel's UDP path runs
//! once per datagram, and that path was 47 % of a 500-venue meeting's CPU (#9). With
//! `UDP_SEGMENT` the kernel runs it once per receiver per burst and cuts the message into the
//! same datagrams on the way out, so a receiver sees exactly what it saw before.
//!
//! Usage per receive batch: [`Trains::head`] for each distinct header, [`Trains::add`] for each
//! (receiver, packet), in the order the receiver must get them; then [`Trains::flush`] once.
//! Nothing waits for more packets: a train holds only what one batch brought, so coalescing
//! adds no latency. Where the kernel refuses GSO the same messages go out one datagram each.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;

use tracing::warn;

use crate::udp::HEAD;

/// The most segments the kernel takes in one GSO send (`UDP_MAX_SEGMENTS`, 64 before Linux
/// 6.9 and 128 since; the lower one works everywhere).
pub const GSO_MAX_SEGMENTS: usize = 64;

/// Segments larger than this are sent alone: a GSO segment must fit the path MTU (the kernel
/// refuses the whole message otherwise), and 1452 bytes fit a 1500-byte Ethernet MTU under
/// IPv6 and UDP headers. RTP packetisers stay at or under ~1200 bytes.
const MAX_SEGMENT: usize = 1452;

/// Segments up to this size fit any path a venue is reached over (RTP packetisers aim at
/// ~1200 bytes for this reason); a larger one refused with EINVAL is a small path MTU.
#[cfg(target_os = "linux")]
const PATH_SAFE_SEGMENT: usize = 1200;

/// A GSO message stays under the 64 KiB IP datagram limit with room for the headers.
const MAX_TRAIN_BYTES: usize = 60_000;

/// Messages per `sendmmsg` call.
const MESSAGES_PER_CALL: usize = 64;

/// Which header of this round a segment carries (an index into the round's heads).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct HeadId(u32);

#[derive(Clone, Copy, Debug)]
struct Segment {
    head: u32,
    /// The caller's packet number, resolved to its body at flush time.
    body: u32,
    /// Where the next segment of the same train is (`u32::MAX`: none).
    next: u32,
}

#[derive(Clone, Copy, Debug)]
struct Train {
    dest: SocketAddr,
    /// Every segment's length but maybe the last one's (shorter, and then the train is closed).
    seg_len: usize,
    count: usize,
    first: u32,
    last: u32,
    closed: bool,
}

/// What a [`Trains::flush`] did, in datagrams.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flushed {
    /// Datagrams handed to the kernel.
    pub sent: usize,
    /// Datagrams not sent because the socket's send buffer was full.
    pub dropped: usize,
    /// Messages the kernel refused for another reason (one receiver's route, say).
    pub errors: usize,
    /// `sendmmsg`/`sendto` calls made.
    pub calls: usize,
}

/// One receive batch's outgoing datagrams, grouped into trains by receiver.
#[derive(Debug)]
pub struct Trains {
    heads: Vec<[u8; HEAD]>,
    segments: Vec<Segment>,
    trains: Vec<Train>,
    /// Each receiver's train that can still grow.
    open: HashMap<SocketAddr, u32>,
    gso: bool,
    #[cfg(target_os = "linux")]
    sys: sys::Scratch,
}

impl Default for Trains {
    fn default() -> Self {
        Trains::new()
    }
}

impl Trains {
    /// Empty; buffers grow to the largest round once and stay. Coalesces with GSO unless
    /// [`crate::udp::set_offload`] turned offload off.
    pub fn new() -> Trains {
        Trains {
            heads: Vec::new(),
            segments: Vec::new(),
            trains: Vec::new(),
            open: HashMap::new(),
            gso: cfg!(target_os = "linux") && crate::udp::offload(),
            #[cfg(target_os = "linux")]
            sys: sys::Scratch::default(),
        }
    }

    /// As [`Trains::new`], but every datagram is its own message, as where the kernel refuses
    /// GSO: the comparison point of the `fanout` bench, and the fallback's test.
    pub fn without_gso() -> Trains {
        Trains {
            gso: false,
            ..Trains::new()
        }
    }

    /// Whether messages are still coalesced (false after the kernel refused GSO).
    pub fn coalescing(&self) -> bool {
        self.gso
    }

    /// Datagrams queued since the last flush.
    pub fn queued(&self) -> usize {
        self.segments.len()
    }

    /// Messages queued since the last flush (one per train).
    pub fn messages(&self) -> usize {
        self.trains.len()
    }

    /// Forgets everything queued since the last flush, sending nothing.
    pub fn clear(&mut self) {
        self.heads.clear();
        self.segments.clear();
        self.trains.clear();
        self.open.clear();
    }

    /// Registers a header for this round's segments.
    pub fn head(&mut self, head: [u8; HEAD]) -> HeadId {
        self.heads.push(head);
        HeadId(self.heads.len() as u32 - 1)
    }

    /// Queues `head` followed by packet `body`'s bytes (`len` in all, head included) for
    /// `dest`, after everything queued for `dest` before.
    pub fn add(&mut self, dest: SocketAddr, head: HeadId, body: u32, len: usize) {
        let seg = self.segments.len() as u32;
        self.segments.push(Segment {
            head: head.0,
            body,
            next: u32::MAX,
        });
        if self.gso
            && len <= MAX_SEGMENT
            && let Some(&t) = self.open.get(&dest)
        {
            let train = &mut self.trains[t as usize];
            if !train.closed
                && len <= train.seg_len
                && train.count < GSO_MAX_SEGMENTS
                && (train.count + 1) * train.seg_len <= MAX_TRAIN_BYTES
            {
                self.segments[train.last as usize].next = seg;
                train.last = seg;
                train.count += 1;
                // Only the last segment of a GSO message may be shorter than the others.
                train.closed = len < train.seg_len;
                return;
            }
        }
        let t = self.trains.len() as u32;
        self.trains.push(Train {
            dest,
            seg_len: len,
            count: 1,
            first: seg,
            last: seg,
            closed: len > MAX_SEGMENT,
        });
        if self.gso {
            self.open.insert(dest, t);
        }
    }

    /// Sends everything queued from `socket` and empties the round. `body(n)` is packet `n`'s
    /// bytes after its first [`HEAD`] (as [`Trains::add`] numbered it).
    ///
    /// Receivers' messages go out in the order their first datagram was queued; one receiver's
    /// datagrams keep their order. A full send buffer drops what is left of the round (counted
    /// in [`Flushed::dropped`]), as a router drops what it cannot queue; a message the kernel
    /// refuses for another reason is counted in [`Flushed::errors`] and the rest go on.
    pub fn flush<'b>(
        &mut self,
        socket: &(impl AsFd + ?Sized),
        body: impl Fn(u32) -> &'b [u8],
    ) -> Flushed {
        let mut out = Flushed::default();
        #[cfg(target_os = "linux")]
        self.flush_linux(socket, &body, &mut out);
        #[cfg(not(target_os = "linux"))]
        self.flush_portable(socket, &body, &mut out);
        self.clear();
        out
    }

    #[cfg(target_os = "linux")]
    fn flush_linux<'b>(
        &mut self,
        socket: &(impl AsFd + ?Sized),
        body: &impl Fn(u32) -> &'b [u8],
        out: &mut Flushed,
    ) {
        let mut at = 0;
        // Bounded: every turn sends at least one train, skips one, or stops.
        while at < self.trains.len() {
            let end = self.trains.len().min(at + MESSAGES_PER_CALL);
            let batch = &self.trains[at..end];
            let rc = self
                .sys
                .send(socket, batch, &self.segments, &self.heads, body);
            out.calls += 1;
            match rc {
                Ok(n) => {
                    out.sent += batch[..n].iter().map(|t| t.count).sum::<usize>();
                    at += n.max(1);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    out.dropped += self.trains[at..].iter().map(|t| t.count).sum::<usize>();
                    return;
                }
                Err(e) if self.trains[at].count > 1 => {
                    // Either the kernel refused GSO itself (EIO: the device cannot checksum
                    // the message; EINVAL: an old kernel or a small path MTU) or this
                    // receiver is unreachable. Sending the train one datagram per message
                    // tells which; only the first stops coalescing.
                    let singles = self.split(at);
                    let part = self
                        .sys
                        .send(socket, &singles, &self.segments, &self.heads, body);
                    out.calls += 1;
                    // EINVAL for segments larger than any path should need is the route's
                    // MTU refusing this receiver's size, not the kernel refusing GSO.
                    let path_mtu = e.raw_os_error() == Some(libc::EINVAL)
                        && self.trains[at].seg_len > PATH_SAFE_SEGMENT;
                    match part {
                        Ok(n) => {
                            if self.gso && n > 0 && !path_mtu {
                                warn!(error = %e, dest = %self.trains[at].dest, "UDP GSO refused; sending one datagram per message from now on");
                                self.gso = false;
                            }
                            out.sent += n;
                            out.dropped += singles.len() - n;
                        }
                        Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                            out.dropped += singles.len();
                        }
                        Err(_) => out.errors += 1,
                    }
                    at += 1;
                }
                Err(_) => {
                    out.errors += 1;
                    at += 1;
                }
            }
        }
    }

    /// Train `t` as one-segment trains, in order.
    #[cfg(target_os = "linux")]
    fn split(&self, t: usize) -> Vec<Train> {
        let train = self.trains[t];
        let mut singles = Vec::with_capacity(train.count);
        let mut seg = train.first;
        while seg != u32::MAX {
            singles.push(Train {
                count: 1,
                first: seg,
                last: seg,
                closed: true,
                ..train
            });
            seg = self.segments[seg as usize].next;
        }
        singles
    }

    #[cfg(not(target_os = "linux"))]
    fn flush_portable<'b>(
        &mut self,
        socket: &(impl AsFd + ?Sized),
        body: &impl Fn(u32) -> &'b [u8],
        out: &mut Flushed,
    ) {
        // One syscall per datagram, with a copy: portability, not speed.
        let Ok(fd) = socket.as_fd().try_clone_to_owned() else {
            out.errors += self.segments.len();
            return;
        };
        let sock = std::net::UdpSocket::from(fd);
        let mut datagram = Vec::new();
        for train in &self.trains {
            let mut seg = train.first;
            while seg != u32::MAX {
                let s = self.segments[seg as usize];
                datagram.clear();
                datagram.extend_from_slice(&self.heads[s.head as usize]);
                datagram.extend_from_slice(body(s.body));
                out.calls += 1;
                match sock.send_to(&datagram, train.dest) {
                    Ok(_) => out.sent += 1,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => out.dropped += 1,
                    Err(_) => out.errors += 1,
                }
                seg = s.next;
            }
        }
    }
}

#[cfg(target_os = "linux")]
mod sys {
    //! Building the `mmsghdr`s of one `sendmmsg`: one message per train, two iovecs per
    //! segment (its head, then the shared body), a `UDP_SEGMENT` control message when the
    //! train has more than one segment.
    use std::io;
    use std::mem::zeroed;
    use std::os::fd::{AsFd, AsRawFd};

    use socket2::SockAddr;

    use super::{HEAD, MESSAGES_PER_CALL, Segment, Train};

    /// Room for one `cmsghdr` carrying a u16, u64-aligned as the kernel expects.
    type Control = [u64; 4];

    #[derive(Default)]
    pub(super) struct Scratch {
        hdrs: Vec<libc::mmsghdr>,
        iovs: Vec<libc::iovec>,
        names: Vec<SockAddr>,
        controls: Vec<Control>,
    }

    impl std::fmt::Debug for Scratch {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.debug_struct("Scratch")
                .field("iovecs", &self.iovs.capacity())
                .finish()
        }
    }

    // SAFETY: the raw pointers inside are only meaningful during one syscall made by the owner;
    // between calls they are stale and rebuilt before use, so moving the scratch across threads
    // is sound.
    unsafe impl Send for Scratch {}

    impl Scratch {
        /// One `sendmmsg` of up to [`MESSAGES_PER_CALL`] of `trains`; how many the kernel took.
        pub(super) fn send<'b>(
            &mut self,
            socket: &(impl AsFd + ?Sized),
            trains: &[Train],
            segments: &[Segment],
            heads: &[[u8; HEAD]],
            body: &impl Fn(u32) -> &'b [u8],
        ) -> io::Result<usize> {
            let trains = &trains[..trains.len().min(MESSAGES_PER_CALL)];
            // Every iovec first, so the vector never moves once messages point into it.
            self.iovs.clear();
            self.names.clear();
            self.controls.clear();
            self.controls.resize(trains.len(), [0; 4]);
            for train in trains {
                self.names.push(SockAddr::from(train.dest));
                let mut seg = train.first;
                while seg != u32::MAX {
                    let s = segments[seg as usize];
                    // The kernel only reads through iov_base for a send; the cast to *mut is
                    // what the C struct demands.
                    self.iovs.push(libc::iovec {
                        iov_base: heads[s.head as usize].as_ptr() as *mut libc::c_void,
                        iov_len: HEAD,
                    });
                    let b = body(s.body);
                    self.iovs.push(libc::iovec {
                        iov_base: b.as_ptr() as *mut libc::c_void,
                        iov_len: b.len(),
                    });
                    seg = s.next;
                }
            }
            self.hdrs.clear();
            let mut iov_at = 0;
            for (i, train) in trains.iter().enumerate() {
                // SAFETY: zeroed msghdr is valid; we then fill the fields we use.
                let mut hdr: libc::msghdr = unsafe { zeroed() };
                hdr.msg_name = self.names[i].as_ptr() as *mut libc::c_void;
                hdr.msg_namelen = self.names[i].len();
                hdr.msg_iov = self.iovs[iov_at..].as_mut_ptr();
                hdr.msg_iovlen = 2 * train.count;
                iov_at += 2 * train.count;
                if train.count > 1 {
                    hdr.msg_control = self.controls[i].as_mut_ptr().cast();
                    // SAFETY: CMSG_SPACE is arithmetic on a constant length.
                    hdr.msg_controllen = unsafe { libc::CMSG_SPACE(2) } as _;
                    // SAFETY: msg_control points at a `Control`, which is CMSG_SPACE(2) bytes
                    // or more, so CMSG_FIRSTHDR is its start and CMSG_DATA lies within it.
                    unsafe {
                        let cm = libc::CMSG_FIRSTHDR(&hdr);
                        (*cm).cmsg_level = libc::SOL_UDP;
                        (*cm).cmsg_type = libc::UDP_SEGMENT;
                        (*cm).cmsg_len = libc::CMSG_LEN(2) as _;
                        std::ptr::write_unaligned(
                            libc::CMSG_DATA(cm).cast::<u16>(),
                            train.seg_len as u16,
                        );
                    }
                }
                self.hdrs.push(libc::mmsghdr {
                    msg_hdr: hdr,
                    msg_len: 0,
                });
            }
            // SAFETY: every header points at `self.names`, `self.controls` and `self.iovs`,
            // whose iovecs point at `heads` and at the caller's bodies; none of them moves or
            // is freed until the call returns, and every length is the slice's own.
            let rc = unsafe {
                libc::sendmmsg(
                    socket.as_fd().as_raw_fd(),
                    self.hdrs.as_mut_ptr(),
                    self.hdrs.len() as libc::c_uint,
                    libc::MSG_DONTWAIT,
                )
            };
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
            Ok(rc as usize)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::UdpSocket;
    use std::time::Duration;

    fn bound() -> UdpSocket {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        s
    }

    fn drain(r: &UdpSocket) -> Vec<Vec<u8>> {
        r.set_nonblocking(true).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = r.recv(&mut buf) {
            got.push(buf[..n].to_vec());
        }
        got
    }

    /// Bodies of three sizes: a run of equal ones, a short last one, then a long one again.
    fn bodies() -> Vec<Vec<u8>> {
        let sizes = [988, 988, 988, 988, 400, 988, 988, 1500, 988];
        sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| (0..n).map(|k| (k as u8).wrapping_add(i as u8)).collect())
            .collect()
    }

    /// Every receiver gets every packet, in order, with its own head, whatever the trains.
    fn round_trip(mut trains: Trains) -> (Flushed, usize) {
        let tx = bound();
        let rx: Vec<UdpSocket> = (0..70).map(|_| bound()).collect();
        let bodies = bodies();
        let h1 = trains.head([1; HEAD]);
        let h2 = trains.head([2; HEAD]);
        for (p, b) in bodies.iter().enumerate() {
            for (i, r) in rx.iter().enumerate() {
                let head = if i % 7 == 3 { h2 } else { h1 };
                trains.add(r.local_addr().unwrap(), head, p as u32, HEAD + b.len());
            }
        }
        let messages = trains.trains.len();
        assert_eq!(trains.queued(), 70 * bodies.len());
        let flushed = trains.flush(&tx, |p| &bodies[p as usize]);
        assert_eq!(trains.queued(), 0, "a flush empties the round");
        for (i, r) in rx.iter().enumerate() {
            let got = drain(r);
            assert_eq!(got.len(), bodies.len(), "receiver {i}");
            let head = if i % 7 == 3 { [2; HEAD] } else { [1; HEAD] };
            for (p, d) in got.iter().enumerate() {
                assert_eq!(d[..HEAD], head, "receiver {i} packet {p}");
                assert_eq!(d[HEAD..], bodies[p][..], "receiver {i} packet {p}");
            }
        }
        (flushed, messages)
    }

    #[test]
    fn coalesced_trains_arrive_as_the_same_datagrams_in_order() {
        let (flushed, messages) = round_trip(Trains::new());
        assert_eq!(flushed.sent, 70 * 9);
        assert_eq!((flushed.dropped, flushed.errors), (0, 0));
        // Per receiver: [988 ×4, 400] closes on the short one; [988, 988] ends at the
        // 1500-byte one, which is too long to coalesce and goes alone; the last 988 starts a
        // fourth. Four messages per receiver, not nine, in ⌈280/64⌉ = 5 calls.
        assert_eq!(messages, 70 * 4);
        assert_eq!(flushed.calls, 5);
    }

    #[test]
    fn without_gso_every_datagram_is_its_own_message_and_arrives_the_same() {
        let (flushed, messages) = round_trip(Trains::without_gso());
        assert_eq!(messages, 70 * 9);
        assert_eq!(flushed.sent, 70 * 9);
        assert_eq!(flushed.calls, (70 * 9usize).div_ceil(MESSAGES_PER_CALL));
    }

    #[test]
    fn a_train_stops_at_the_kernels_segment_limit() {
        let tx = bound();
        let rx = bound();
        let body = vec![7u8; 88];
        let mut trains = Trains::new();
        let h = trains.head([9; HEAD]);
        for p in 0..(GSO_MAX_SEGMENTS + 6) {
            trains.add(rx.local_addr().unwrap(), h, p as u32, HEAD + body.len());
        }
        assert_eq!(trains.trains.len(), 2);
        let flushed = trains.flush(&tx, |_| &body);
        assert_eq!(flushed.sent, GSO_MAX_SEGMENTS + 6);
        let got = drain(&rx);
        assert_eq!(got.len(), GSO_MAX_SEGMENTS + 6);
        assert!(got.iter().all(|d| d.len() == 100 && d[..HEAD] == [9; HEAD]));
    }

    #[test]
    fn a_refused_message_costs_only_its_own_receiver() {
        // An IPv6 destination from an IPv4 socket: the kernel refuses that message alone.
        let tx = bound();
        let good = bound();
        let body = vec![5u8; 50];
        let mut trains = Trains::new();
        let h = trains.head([3; HEAD]);
        let bad: SocketAddr = "[::1]:9".parse().unwrap();
        for p in 0..3 {
            trains.add(bad, h, p, HEAD + body.len());
            trains.add(good.local_addr().unwrap(), h, p, HEAD + body.len());
        }
        let flushed = trains.flush(&tx, |_| &body);
        assert_eq!(flushed.sent, 3, "{flushed:?}");
        assert_eq!(drain(&good).len(), 3);
        assert!(flushed.errors >= 1, "{flushed:?}");
        assert!(
            trains.coalescing(),
            "one unreachable receiver is not the kernel refusing GSO"
        );
    }
}
