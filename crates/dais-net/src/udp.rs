//! Batched UDP I/O for the media path.
//!
//! On Linux, [`RecvBatch::recv`] reads up to a batch of datagrams with one `recvmmsg` call and
//! [`FanOut::send`] sends one datagram to many destinations with one `sendmmsg` call (a batch
//! whose receivers need their own headers goes through [`crate::trains`]). Elsewhere
//! both fall back to one syscall per datagram with the same API, so callers never branch.
//!
//! Both structures own their buffers and rebuild the kernel descriptors (which point into those
//! buffers) on every call, so nothing is self-referential and nothing is allocated per packet.
//!
//! The functions are non-blocking: they return [`std::io::ErrorKind::WouldBlock`] when the
//! socket is not ready, which is what tokio's `UdpSocket::try_io` expects.

use std::io;
use std::net::SocketAddr;
use std::os::fd::AsFd;

use socket2::SockAddr;

/// The largest datagram we accept. RTP over UDP stays under the path MTU; anything larger than
/// this is truncated by the kernel and then rejected by the parsers.
pub const MAX_DATAGRAM: usize = 2048;

/// Datagrams sent per `sendmmsg` call: the kernel caps a call at `UIO_MAXIOV` (1024) messages;
/// 64 keeps the descriptor array small and cache-resident.
const SEND_CHUNK: usize = 64;

/// A receive slot when the socket coalesces (UDP GRO): the largest IP datagram.
const COALESCED_SLOT: usize = 65_536;

/// One datagram of the last receive: where its bytes are, and who sent it.
#[derive(Clone, Copy, Debug)]
struct Datagram {
    start: usize,
    len: usize,
    from: SocketAddr,
}

/// A reusable set of receive buffers filled by one batched receive.
///
/// With [`RecvBatch::coalesced`] on a socket where [`enable_gro`] succeeded, one receive slot
/// may hold a run of datagrams the kernel coalesced (a venue's burst of equal-sized packets);
/// the batch splits them again, so callers always see single datagrams (D37).
#[derive(Debug)]
pub struct RecvBatch {
    data: Vec<u8>,
    slot: usize,
    datagrams: Vec<Datagram>,
    /// Receive slots the last receive filled (fewer than datagrams when coalesced).
    filled: usize,
    #[cfg(target_os = "linux")]
    sys: sys::RecvScratch,
}

impl RecvBatch {
    /// A batch of `capacity` datagrams (at least 1) of up to [`MAX_DATAGRAM`] bytes each.
    pub fn new(capacity: usize) -> RecvBatch {
        RecvBatch::with_slots(capacity, MAX_DATAGRAM)
    }

    /// A batch of `capacity` receive slots (at least 1) large enough for a coalesced run of
    /// datagrams: for a socket with [`enable_gro`] on (64 KiB per slot).
    pub fn coalesced(capacity: usize) -> RecvBatch {
        RecvBatch::with_slots(capacity, COALESCED_SLOT)
    }

    fn with_slots(capacity: usize, slot: usize) -> RecvBatch {
        let slots = capacity.max(1);
        RecvBatch {
            data: vec![0; slots * slot],
            slot,
            datagrams: Vec::with_capacity(slots),
            filled: 0,
            #[cfg(target_os = "linux")]
            sys: sys::RecvScratch::new(slots),
        }
    }

    /// How many datagrams the last receive filled.
    pub fn len(&self) -> usize {
        self.datagrams.len()
    }

    /// How many kernel messages the last receive took: fewer than [`Self::len`] when the
    /// kernel coalesced runs of datagrams.
    pub fn messages(&self) -> usize {
        self.filled
    }

    /// True when the last receive filled nothing.
    pub fn is_empty(&self) -> bool {
        self.datagrams.is_empty()
    }

    /// The `i`-th datagram of the last receive: its bytes (mutable, so the caller can rewrite
    /// headers in place before forwarding) and its source address. `None` past [`Self::len`].
    pub fn get_mut(&mut self, i: usize) -> Option<(&mut [u8], SocketAddr)> {
        let d = *self.datagrams.get(i)?;
        Some((&mut self.data[d.start..d.start + d.len], d.from))
    }

    /// The `i`-th datagram's bytes as [`Self::get_mut`] left them; empty past [`Self::len`].
    pub fn bytes(&self, i: usize) -> &[u8] {
        match self.datagrams.get(i) {
            Some(d) => &self.data[d.start..d.start + d.len],
            None => &[],
        }
    }

    /// Receives as many datagrams as are ready (up to the capacity) without blocking, and
    /// returns how many.
    ///
    /// # Errors
    /// `WouldBlock` when nothing is ready; other socket errors as the kernel reports them.
    pub fn recv(&mut self, socket: &impl AsFd) -> io::Result<usize> {
        self.datagrams.clear();
        self.filled = 0;
        #[cfg(target_os = "linux")]
        {
            let slot = self.slot;
            let datagrams = &mut self.datagrams;
            let filled = self
                .sys
                .recv(socket, &mut self.data, slot, |k, len, from, segment| {
                    // A coalesced slot holds equal segments and maybe a shorter last one.
                    let base = k * slot;
                    let step = segment.filter(|s| *s > 0).unwrap_or(len).max(1);
                    let mut at = 0;
                    while at < len {
                        let n = step.min(len - at);
                        datagrams.push(Datagram {
                            start: base + at,
                            len: n,
                            from,
                        });
                        at += n;
                    }
                })?;
            self.filled = filled;
            Ok(self.datagrams.len())
        }
        #[cfg(not(target_os = "linux"))]
        {
            let sock = socket2::SockRef::from(socket);
            let slot = &mut self.data[..self.slot];
            // SAFETY: u8 and MaybeUninit<u8> share a layout; recv_from only writes.
            let buf = unsafe { &mut *(slot as *mut [u8] as *mut [std::mem::MaybeUninit<u8>]) };
            let (len, addr) = sock.recv_from(buf)?;
            let from = addr
                .as_socket()
                .ok_or_else(|| io::Error::other("not an IP source"))?;
            self.datagrams.push(Datagram {
                start: 0,
                len,
                from,
            });
            self.filled = 1;
            Ok(1)
        }
    }
}

static OFFLOAD: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(true);

/// Turns UDP segmentation and receive offload (GSO sends by [`crate::trains`], GRO reads of
/// new meetings' sockets) on or off for the process; on by default. Off is for networks
/// where offload fails silently (some virtual bridges do, as s2n-quic and quic-go warn), and
/// for measuring what it saves.
pub fn set_offload(on: bool) {
    OFFLOAD.store(on, std::sync::atomic::Ordering::Relaxed);
}

/// Whether UDP offload is on (see [`set_offload`]).
pub fn offload() -> bool {
    OFFLOAD.load(std::sync::atomic::Ordering::Relaxed)
}

/// Asks the kernel to hand `socket`'s runs of equal-sized datagrams from one sender over as
/// one coalesced receive (`UDP_GRO`, Linux 5.0+); read them with [`RecvBatch::coalesced`].
///
/// # Errors
/// The kernel's, where it has no UDP GRO (and always off Linux): receive datagram by datagram.
pub fn enable_gro(socket: &impl AsFd) -> io::Result<()> {
    #[cfg(target_os = "linux")]
    {
        use std::os::fd::AsRawFd;
        let on: libc::c_int = 1;
        // SAFETY: a plain setsockopt with a c_int option value that outlives the call.
        let rc = unsafe {
            libc::setsockopt(
                socket.as_fd().as_raw_fd(),
                libc::SOL_UDP,
                libc::UDP_GRO,
                (&raw const on).cast(),
                size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = socket;
        Err(io::Error::from(io::ErrorKind::Unsupported))
    }
}

/// The bytes at the front of a forwarded datagram that may differ between its receivers: the
/// RTP fixed header (payload type, sequence number, timestamp, SSRC).
pub const HEAD: usize = 12;

/// Reusable scratch space for sending one datagram to many destinations.
#[derive(Debug)]
pub struct FanOut {
    addrs: Vec<SockAddr>,
    #[cfg(target_os = "linux")]
    sys: sys::SendScratch,
}

impl Default for FanOut {
    fn default() -> Self {
        FanOut::new()
    }
}

impl FanOut {
    /// Empty scratch space; it grows to the largest destination list once and stays.
    pub fn new() -> FanOut {
        FanOut {
            addrs: Vec::with_capacity(SEND_CHUNK),
            #[cfg(target_os = "linux")]
            sys: sys::SendScratch::new(),
        }
    }

    /// Sends `datagram` to each of `dests`, starting at `dests[0]`, without blocking.
    ///
    /// Returns how many destinations were sent to. Fewer than `dests.len()` means the socket's
    /// send buffer filled up: the caller decides whether to wait for writability and send the
    /// rest (`&dests[sent..]`) or to drop them.
    ///
    /// # Errors
    /// `WouldBlock` when not even the first datagram could be sent; other socket errors as the
    /// kernel reports them (an error for one destination, e.g. `EHOSTUNREACH`, is reported only
    /// when it is the first of a chunk; later ones end the chunk early).
    pub fn send(
        &mut self,
        socket: &impl AsFd,
        datagram: &[u8],
        dests: &[SocketAddr],
    ) -> io::Result<usize> {
        self.send_except(socket, datagram, dests, None)
    }

    /// As [`FanOut::send`], skipping `except`: a forwarded packet never goes back to the
    /// address it came from, so a venue never receives its own picture, even while a feed it
    /// has just been moved to is still cutting over away from it. Skipped destinations count
    /// as sent.
    ///
    /// # Errors
    /// As [`FanOut::send`].
    pub fn send_except(
        &mut self,
        socket: &impl AsFd,
        datagram: &[u8],
        dests: &[SocketAddr],
        except: Option<SocketAddr>,
    ) -> io::Result<usize> {
        let mut sent = 0;
        while sent < dests.len() {
            let chunk = &dests[sent..dests.len().min(sent + SEND_CHUNK)];
            self.addrs.clear();
            self.addrs.extend(
                chunk
                    .iter()
                    .filter(|a| Some(**a) != except)
                    .map(|a| SockAddr::from(*a)),
            );
            if self.addrs.is_empty() {
                sent += chunk.len();
                continue;
            }
            #[cfg(target_os = "linux")]
            let n = self.sys.send(socket, datagram, &self.addrs);
            #[cfg(not(target_os = "linux"))]
            let n = socket.send_to(datagram, chunk[0]).map(|_| 1usize);
            match n {
                Ok(0) => break,
                Ok(n) if n == self.addrs.len() => sent += chunk.len(),
                // Partial: advance past the first `n` real destinations (and any skipped one
                // among them), so `sent` stays an index into `dests` to resume from.
                Ok(n) => {
                    let mut real = 0;
                    let mut advanced = 0;
                    for a in chunk {
                        if real == n {
                            break;
                        }
                        if Some(*a) != except {
                            real += 1;
                        }
                        advanced += 1;
                    }
                    sent += advanced;
                }
                Err(e) if sent > 0 && e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) => return Err(e),
            }
        }
        Ok(sent)
    }
}

#[cfg(target_os = "linux")]
mod sys {
    //! Building `mmsghdr` arrays for the kernel (the crate's other unsafe code is the same
    //! for the trains' GSO messages, `crate::trains`).
    use std::io;
    use std::mem::zeroed;
    use std::net::SocketAddr;
    use std::os::fd::{AsFd, AsRawFd};

    use socket2::SockAddr;

    use super::SEND_CHUNK;

    /// Room for one `cmsghdr` carrying a c_int (the GRO segment size), u64-aligned.
    type Control = [u64; 4];

    #[derive(Debug)]
    pub(super) struct RecvScratch {
        hdrs: Vec<libc::mmsghdr>,
        iovs: Vec<libc::iovec>,
        names: Vec<libc::sockaddr_storage>,
        controls: Vec<Control>,
    }

    // SAFETY: the raw pointers inside are only meaningful during one syscall made by the owner;
    // between calls they are stale and rebuilt before use, so moving the scratch across threads
    // is sound.
    unsafe impl Send for RecvScratch {}

    impl RecvScratch {
        pub(super) fn new(capacity: usize) -> RecvScratch {
            // SAFETY: all-zero is a valid value for these plain C structs.
            let zero_hdr: libc::mmsghdr = unsafe { zeroed() };
            let zero_iov: libc::iovec = unsafe { zeroed() };
            let zero_name: libc::sockaddr_storage = unsafe { zeroed() };
            RecvScratch {
                hdrs: vec![zero_hdr; capacity],
                iovs: vec![zero_iov; capacity],
                names: vec![zero_name; capacity],
                controls: vec![[0; 4]; capacity],
            }
        }

        /// One `recvmmsg` into `data`'s slots of `slot` bytes; `each(k, len, from, segment)`
        /// for every slot `k` filled, `segment` being the coalesced segment size if the kernel
        /// coalesced the slot. Slots from a source of an address family we do not handle are
        /// skipped; a truncated coalesced slot loses its cut-off last segment.
        pub(super) fn recv(
            &mut self,
            socket: &impl AsFd,
            data: &mut [u8],
            slot: usize,
            mut each: impl FnMut(usize, usize, SocketAddr, Option<usize>),
        ) -> io::Result<usize> {
            let n = (data.len() / slot).min(self.hdrs.len());
            for (i, buf) in data.chunks_exact_mut(slot).take(n).enumerate() {
                self.iovs[i] = libc::iovec {
                    iov_base: buf.as_mut_ptr().cast(),
                    iov_len: slot,
                };
                // SAFETY: zeroed msghdr is valid; we then fill the fields we use.
                let mut hdr: libc::msghdr = unsafe { zeroed() };
                hdr.msg_name = (&mut self.names[i] as *mut libc::sockaddr_storage).cast();
                hdr.msg_namelen = size_of::<libc::sockaddr_storage>() as libc::socklen_t;
                hdr.msg_iov = &mut self.iovs[i];
                hdr.msg_iovlen = 1;
                hdr.msg_control = self.controls[i].as_mut_ptr().cast();
                hdr.msg_controllen = size_of::<Control>() as _;
                self.hdrs[i] = libc::mmsghdr {
                    msg_hdr: hdr,
                    msg_len: 0,
                };
            }
            // SAFETY: every header points into buffers that outlive the call, with the lengths
            // given; the kernel writes at most those lengths.
            let rc = unsafe {
                libc::recvmmsg(
                    socket.as_fd().as_raw_fd(),
                    self.hdrs.as_mut_ptr(),
                    n as libc::c_uint,
                    libc::MSG_DONTWAIT,
                    std::ptr::null_mut(),
                )
            };
            if rc < 0 {
                return Err(io::Error::last_os_error());
            }
            let got = rc as usize;
            for i in 0..got {
                let hdr = &self.hdrs[i].msg_hdr;
                let Some(from) = sockaddr_to_std(&self.names[i], hdr.msg_namelen) else {
                    continue;
                };
                let mut len = (self.hdrs[i].msg_len as usize).min(slot);
                let segment = gro_segment(hdr);
                if let Some(seg) = segment.filter(|s| *s > 0)
                    && hdr.msg_flags & libc::MSG_TRUNC != 0
                {
                    len -= len % seg;
                }
                each(i, len, from, segment);
            }
            Ok(got)
        }
    }

    /// The `UDP_GRO` segment size the kernel attached to a received message, if any.
    fn gro_segment(hdr: &libc::msghdr) -> Option<usize> {
        // SAFETY: the kernel filled msg_control up to msg_controllen, and the CMSG_* macros
        // stay within it.
        unsafe {
            let mut cm = libc::CMSG_FIRSTHDR(hdr);
            while !cm.is_null() {
                if (*cm).cmsg_level == libc::SOL_UDP && (*cm).cmsg_type == libc::UDP_GRO {
                    let v = std::ptr::read_unaligned(libc::CMSG_DATA(cm).cast::<libc::c_int>());
                    return usize::try_from(v).ok();
                }
                cm = libc::CMSG_NXTHDR(hdr, cm);
            }
        }
        None
    }

    fn sockaddr_to_std(
        storage: &libc::sockaddr_storage,
        len: libc::socklen_t,
    ) -> Option<SocketAddr> {
        use std::net::{Ipv4Addr, Ipv6Addr, SocketAddrV4, SocketAddrV6};
        let len = len as usize;
        match storage.ss_family as libc::c_int {
            libc::AF_INET if len >= size_of::<libc::sockaddr_in>() => {
                // SAFETY: the family says the storage holds a sockaddr_in of at least that size.
                let sin: &libc::sockaddr_in =
                    unsafe { &*(storage as *const libc::sockaddr_storage).cast() };
                Some(SocketAddr::V4(SocketAddrV4::new(
                    Ipv4Addr::from(u32::from_be(sin.sin_addr.s_addr)),
                    u16::from_be(sin.sin_port),
                )))
            }
            libc::AF_INET6 if len >= size_of::<libc::sockaddr_in6>() => {
                // SAFETY: the family says the storage holds a sockaddr_in6 of at least that size.
                let sin6: &libc::sockaddr_in6 =
                    unsafe { &*(storage as *const libc::sockaddr_storage).cast() };
                Some(SocketAddr::V6(SocketAddrV6::new(
                    Ipv6Addr::from(sin6.sin6_addr.s6_addr),
                    u16::from_be(sin6.sin6_port),
                    u32::from_be(sin6.sin6_flowinfo),
                    sin6.sin6_scope_id,
                )))
            }
            _ => None,
        }
    }

    #[derive(Debug)]
    pub(super) struct SendScratch {
        hdrs: Vec<libc::mmsghdr>,
        iovs: Vec<libc::iovec>,
    }

    // SAFETY: as for RecvScratch: pointers are rebuilt before every syscall.
    unsafe impl Send for SendScratch {}

    impl SendScratch {
        pub(super) fn new() -> SendScratch {
            // SAFETY: all-zero is a valid value for these plain C structs.
            let zero_hdr: libc::mmsghdr = unsafe { zeroed() };
            let zero_iov = libc::iovec {
                iov_base: std::ptr::null_mut(),
                iov_len: 0,
            };
            SendScratch {
                hdrs: vec![zero_hdr; SEND_CHUNK],
                iovs: vec![zero_iov; SEND_CHUNK],
            }
        }

        pub(super) fn send(
            &mut self,
            socket: &impl AsFd,
            datagram: &[u8],
            dests: &[SockAddr],
        ) -> io::Result<usize> {
            let n = dests.len().min(SEND_CHUNK);
            // The kernel only reads through iov_base for sendmmsg; the cast to *mut is what the
            // C struct demands.
            let iov = libc::iovec {
                iov_base: datagram.as_ptr() as *mut libc::c_void,
                iov_len: datagram.len(),
            };
            self.iovs[..n].fill(iov);
            self.send_prepared(socket, &dests[..n])
        }

        /// One `sendmmsg` of message `i` = `self.iovs[i]` to `dests[i]`.
        fn send_prepared(&mut self, socket: &impl AsFd, dests: &[SockAddr]) -> io::Result<usize> {
            let n = dests.len().min(SEND_CHUNK);
            for (i, dest) in dests.iter().take(n).enumerate() {
                // SAFETY: zeroed msghdr is valid; we then fill the fields we use.
                let mut hdr: libc::msghdr = unsafe { zeroed() };
                hdr.msg_name = dest.as_ptr() as *mut libc::c_void;
                hdr.msg_namelen = dest.len();
                hdr.msg_iov = &mut self.iovs[i];
                hdr.msg_iovlen = 1;
                self.hdrs[i] = libc::mmsghdr {
                    msg_hdr: hdr,
                    msg_len: 0,
                };
            }
            // SAFETY: headers point at `dests` and at `self.iovs`, whose buffers (the caller's
            // datagram) stays alive and untouched until the call returns.
            let rc = unsafe {
                libc::sendmmsg(
                    socket.as_fd().as_raw_fd(),
                    self.hdrs.as_mut_ptr(),
                    n as libc::c_uint,
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

    #[test]
    fn fan_out_reaches_every_destination_and_batch_receives_them_all() {
        let tx = bound();
        let receivers: Vec<UdpSocket> = (0..130).map(|_| bound()).collect();
        let dests: Vec<SocketAddr> = receivers.iter().map(|r| r.local_addr().unwrap()).collect();
        let mut fan = FanOut::new();
        let sent = fan.send(&tx, b"hello fan-out", &dests).unwrap();
        assert_eq!(
            sent,
            dests.len(),
            "130 destinations span three sendmmsg chunks"
        );
        let mut buf = [0u8; 64];
        for r in &receivers {
            let (n, from) = r.recv_from(&mut buf).unwrap();
            assert_eq!(&buf[..n], b"hello fan-out");
            assert_eq!(from, tx.local_addr().unwrap());
        }
    }

    #[test]
    fn send_except_skips_the_source_and_counts_it_as_done() {
        let tx = bound();
        let receivers: Vec<UdpSocket> = (0..70).map(|_| bound()).collect();
        let dests: Vec<SocketAddr> = receivers.iter().map(|r| r.local_addr().unwrap()).collect();
        let skip = dests[65];
        let mut fan = FanOut::new();
        let sent = fan.send_except(&tx, b"x", &dests, Some(skip)).unwrap();
        assert_eq!(sent, dests.len());
        receivers[65].set_nonblocking(true).unwrap();
        let mut buf = [0u8; 8];
        assert!(
            receivers[65].recv_from(&mut buf).is_err(),
            "the source got its own packet"
        );
        for (i, r) in receivers.iter().enumerate().filter(|(i, _)| *i != 65) {
            assert_eq!(r.recv_from(&mut buf).unwrap().0, 1, "receiver {i}");
        }
    }

    #[test]
    fn a_coalesced_receive_splits_a_burst_into_its_datagrams() {
        let rx = bound();
        rx.set_nonblocking(true).unwrap();
        enable_gro(&rx).expect("UDP GRO (Linux 5.0+)");
        let tx = bound();
        // Seven datagrams of 1000 bytes and a last of 300 leave as one GSO message; on
        // loopback the kernel hands them to a GRO socket as one coalesced slot.
        let bodies: Vec<Vec<u8>> = (0..8u8)
            .map(|k| vec![k; if k == 7 { 300 - HEAD } else { 1000 - HEAD }])
            .collect();
        let mut trains = crate::trains::Trains::new();
        let h = trains.head([0xAB; HEAD]);
        for (k, b) in bodies.iter().enumerate() {
            trains.add(rx.local_addr().unwrap(), h, k as u32, HEAD + b.len());
        }
        assert_eq!(trains.flush(&tx, |k| &bodies[k as usize]).sent, 8);
        let mut batch = RecvBatch::coalesced(4);
        let mut got = Vec::new();
        let mut messages = 0;
        for _ in 0..100 {
            match batch.recv(&rx) {
                Ok(_) => {
                    messages += batch.messages();
                    got.extend((0..batch.len()).map(|i| batch.bytes(i).to_vec()));
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock && got.len() < 8 => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                Err(_) => break,
            }
        }
        assert_eq!(got.len(), 8);
        assert_eq!(messages, 1, "the burst came as one coalesced message");
        for (k, d) in got.iter().enumerate() {
            assert_eq!(d[..HEAD], [0xAB; HEAD]);
            assert_eq!(d[HEAD..], bodies[k][..], "datagram {k}");
        }
        assert_eq!(batch.get_mut(8).map(|(_, a)| a), None);
    }

    #[test]
    fn recv_batch_reports_lengths_sources_and_would_block_when_drained() {
        let rx = bound();
        rx.set_nonblocking(true).unwrap();
        let a = bound();
        let b = bound();
        a.send_to(&[1, 2, 3], rx.local_addr().unwrap()).unwrap();
        b.send_to(&[9; 1500], rx.local_addr().unwrap()).unwrap();
        let mut batch = RecvBatch::new(8);
        let mut got = Vec::new();
        // Loopback delivery is synchronous, but loop a little in case of scheduling.
        for _ in 0..100 {
            match batch.recv(&rx) {
                Ok(_) => {
                    for i in 0..batch.len() {
                        let (data, from) = batch.get_mut(i).unwrap();
                        got.push((data.len(), from));
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                    if got.len() == 2 {
                        break;
                    }
                    std::thread::sleep(Duration::from_millis(5));
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(
            got,
            vec![
                (3, a.local_addr().unwrap()),
                (1500, b.local_addr().unwrap())
            ]
        );
        let err = batch.recv(&rx).unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::WouldBlock);
        assert!(batch.get_mut(0).is_none());
    }
}
