//! The I/O shell around the SIP core: sockets, the one task that owns the [`SipCore`], and the
//! handle to it.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use bytes::Bytes;
use dais_conference::VenueId;
use dais_media::LegId;
use dais_net::meeting::Dialer;
use dais_sip::digest::DigestServer;
use dais_sip::{CallId, CoreConfig, DialTarget, RequestId, SipCore, Transport};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream, UdpSocket};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;
use tracing::{debug, info, warn};

use crate::calls::{CallCtx, PendingRegister};
use crate::config::ServiceConfig;
use crate::directory::{Directory, VenueCredentials};
use crate::echo::EchoGuard;
use crate::error::{DialError, ServiceError};
use crate::limits::RateLimiter;
use crate::registrar::Registrar;

/// A TCP connection that sends nothing for this long is closed (slow-loris bound).
const TCP_IDLE: Duration = Duration::from_secs(600);

/// Counters of the service (for metrics and tests).
#[derive(Debug, Default)]
pub struct ServiceStats {
    /// Messages dropped because their source was over its rate.
    pub rate_limited: AtomicU64,
    /// Dial-ins answered 200.
    pub calls_answered: AtomicU64,
    /// Dial-ins refused with a final status (401 challenges not counted).
    pub calls_rejected: AtomicU64,
    /// Digest checks that failed (wrong password, unknown user, forged nonce).
    pub auth_failures: AtomicU64,
    /// Dial-outs placed.
    pub calls_dialed: AtomicU64,
    /// Calls up right now (in either direction, test calls included).
    pub calls_active: AtomicU64,
    /// Datagrams not sent because the socket buffer was full.
    pub send_dropped: AtomicU64,
    /// Live registrations.
    pub registrations: AtomicU64,
}

impl ServiceStats {
    /// A counter's current value.
    pub fn get(c: &AtomicU64) -> u64 {
        c.load(Ordering::Relaxed)
    }
}

/// What an admission task decided for a dial-in.
#[derive(Debug)]
pub(crate) enum Decision {
    Accept {
        answer: Bytes,
        leg: Option<LegId>,
        echo: Option<EchoGuard>,
        media: SocketAddr,
    },
    /// The INVITE had no SDP: our offer goes in the 200, the leg waits for the ACK's answer.
    Offer { offer: Bytes, media: SocketAddr },
    Reject {
        status: u16,
        retry_after: Option<u32>,
    },
}

/// Messages to the task that owns the core.
#[derive(Debug)]
pub(crate) enum Cmd {
    Dial {
        number: String,
        venue: VenueId,
    },
    HangUp {
        number: String,
        venue: VenueId,
    },
    Credentials {
        call: CallId,
        found: Option<VenueCredentials>,
    },
    Decided {
        call: CallId,
        decision: Decision,
    },
    RegisterCredentials {
        request: RequestId,
        found: Option<VenueCredentials>,
    },
    DialTarget {
        number: String,
        venue: VenueId,
        target: Result<DialTarget, DialError>,
    },
    /// A leg set up after the SDP exchange completed (dial-out answer, delayed-offer ACK).
    LegSetUp {
        call: CallId,
        result: Result<LegId, String>,
    },
    /// A challenged dial-out's venue credentials were looked up.
    DialAuth {
        call: CallId,
        status: u16,
        challenges: Vec<String>,
        found: Option<(String, VenueCredentials)>,
    },
    /// A re-INVITE's media was applied to the leg (or refused).
    ReinviteApplied {
        call: CallId,
        answer: Bytes,
        result: Result<(), String>,
    },
    Keyframe {
        number: String,
        venue: VenueId,
    },
    MeetingEnded {
        number: String,
    },
    TcpOpened {
        peer: SocketAddr,
        writer: mpsc::UnboundedSender<Bytes>,
    },
    TcpData {
        peer: SocketAddr,
        bytes: Bytes,
    },
    TcpClosed {
        peer: SocketAddr,
    },
    TcpConnectFailed {
        peer: SocketAddr,
    },
    Shutdown {
        done: oneshot::Sender<()>,
    },
}

/// The SIP service: UDP and TCP on one address, one task owning the sans-IO core.
///
/// Drop does not stop it; call [`SipService::shutdown`].
#[derive(Debug)]
pub struct SipService {
    cmd: mpsc::UnboundedSender<Cmd>,
    local: SocketAddr,
    stats: Arc<ServiceStats>,
    task: JoinHandle<()>,
    acceptor: JoinHandle<()>,
}

/// The [`Dialer`] of meetings whose venues are SIP endpoints. Cheap to clone; never blocks.
#[derive(Debug, Clone)]
pub struct SipDialer {
    cmd: mpsc::UnboundedSender<Cmd>,
}

impl Dialer for SipDialer {
    fn dial(&self, number: &str, venue: &VenueId) {
        let _ = self.cmd.send(Cmd::Dial {
            number: number.to_owned(),
            venue: venue.clone(),
        });
    }
    fn hang_up(&self, number: &str, venue: &VenueId) {
        let _ = self.cmd.send(Cmd::HangUp {
            number: number.to_owned(),
            venue: venue.clone(),
        });
    }
}

impl SipService {
    /// Binds UDP and TCP on `cfg.bind` (TCP on the port UDP got) and starts the service.
    ///
    /// # Errors
    /// [`ServiceError::Bind`] when a socket cannot be bound; [`ServiceError::Config`] for a
    /// wildcard bind without `public_ip`.
    pub async fn start(
        cfg: ServiceConfig,
        directory: Arc<dyn Directory>,
    ) -> Result<SipService, ServiceError> {
        if cfg.bind.ip().is_unspecified() && cfg.public_ip.is_none() {
            return Err(ServiceError::Config(
                "a wildcard SIP bind needs public_ip (the address peers reach)".into(),
            ));
        }
        let bind_err = |transport, addr, source| ServiceError::Bind {
            transport,
            addr,
            source,
        };
        let (udp, listener, local) = bind_pair(cfg.bind)
            .await
            .map_err(|(t, a, e)| bind_err(t, a, e))?;
        // A burst of requests (a registration storm after a power cut, a scanner) must queue,
        // not overflow the kernel's default ~200 KB (about 90 small datagrams); best effort:
        // the kernel caps it at net.core.rmem_max.
        let _ = socket2::SockRef::from(&udp).set_recv_buffer_size(4 << 20);
        let advertised = cfg.advertised_ip(local);
        let host = match advertised {
            IpAddr::V4(ip) => ip.to_string(),
            IpAddr::V6(ip) => format!("[{ip}]"),
        };
        let seed = cfg.seed.unwrap_or_else(rand::random);
        let core = SipCore::new(CoreConfig {
            local_host: host,
            local_port: local.port(),
            user_agent: cfg.user_agent.clone(),
            seed,
            ..CoreConfig::default()
        });
        let secret = cfg
            .nonce_secret
            .clone()
            .unwrap_or_else(|| rand::random::<[u8; 32]>().to_vec());
        let digest = DigestServer::new(&cfg.realm, &secret, Instant::now(), cfg.nonce_lifetime);
        let (cmd, rx) = mpsc::unbounded_channel();
        let stats = Arc::new(ServiceStats::default());
        let acceptor = tokio::spawn(accept_loop(listener, cmd.clone()));
        let worker = Worker {
            limiter: RateLimiter::new(cfg.rate_per_source, cfg.burst_per_source),
            cfg,
            advertised,
            core,
            digest,
            dir: directory,
            tcp: HashMap::new(),
            cmd: cmd.clone(),
            calls: HashMap::new(),
            legs: HashMap::new(),
            registrar: Registrar::default(),
            registers: HashMap::new(),
            inflight: HashMap::new(),
            watched: HashSet::new(),
            stats: stats.clone(),
            rng: seed | 1,
            stopping: None,
        };
        let task = tokio::spawn(worker.run(udp, rx));
        info!(%local, "SIP service listening (UDP and TCP)");
        Ok(SipService {
            cmd,
            local,
            stats,
            task,
            acceptor,
        })
    }

    /// The bound address (UDP and TCP).
    pub fn local_addr(&self) -> SocketAddr {
        self.local
    }

    /// The dialer to give meetings whose venues are reached over SIP.
    pub fn dialer(&self) -> Arc<SipDialer> {
        Arc::new(SipDialer {
            cmd: self.cmd.clone(),
        })
    }

    /// The service's counters.
    pub fn stats(&self) -> Arc<ServiceStats> {
        self.stats.clone()
    }

    /// Stops the service: refuses new calls, BYEs (or CANCELs) every call still up, waits up to
    /// `shutdown_grace` for the answers, then closes the sockets. End the meetings first so
    /// their legs are reported; this is the backstop.
    ///
    /// Cancel safety: if the future is dropped the service still stops on its own.
    pub async fn shutdown(self) {
        let (done, wait) = oneshot::channel();
        if self.cmd.send(Cmd::Shutdown { done }).is_ok() {
            let _ = wait.await;
        }
        self.acceptor.abort();
        let _ = self.task.await;
        info!(local = %self.local, "SIP service stopped");
    }
}

async fn accept_loop(listener: TcpListener, cmd: mpsc::UnboundedSender<Cmd>) {
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                tokio::spawn(connection(stream, peer, cmd.clone()));
            }
            Err(e) => {
                // EMFILE and friends: back off instead of spinning.
                warn!(error = %e, "SIP TCP accept failed");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// One TCP connection: bytes in go to the core task, writes come from it. Reading and writing
/// run apart, so a peer that does not read its answers cannot stop us reading its requests
/// (nor the reverse).
pub(crate) async fn connection(
    stream: TcpStream,
    peer: SocketAddr,
    cmd: mpsc::UnboundedSender<Cmd>,
) {
    let (writer, mut writes) = mpsc::unbounded_channel::<Bytes>();
    if cmd.send(Cmd::TcpOpened { peer, writer }).is_err() {
        return;
    }
    let (mut rd, mut wr) = stream.into_split();
    let (closed_tx, mut closed) = oneshot::channel::<()>();
    let write_task = tokio::spawn(async move {
        while let Some(b) = writes.recv().await {
            if wr.write_all(&b).await.is_err() {
                break;
            }
        }
        // The core dropped the writer (framing lost) or the peer went away.
        let _ = wr.shutdown().await;
        let _ = closed_tx.send(());
    });
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        tokio::select! {
            r = tokio::time::timeout(TCP_IDLE, rd.read(&mut buf)) => match r {
                Ok(Ok(n)) if n > 0 => {
                    let bytes = Bytes::copy_from_slice(buf.get(..n).unwrap_or_default());
                    if cmd.send(Cmd::TcpData { peer, bytes }).is_err() {
                        break;
                    }
                }
                _ => break,
            },
            _ = &mut closed => break,
        }
    }
    let _ = cmd.send(Cmd::TcpClosed { peer });
    // Once TcpClosed is handled the writer is dropped and the write task ends by itself.
    drop(write_task);
}

/// The task that owns the core and every call's state.
pub(crate) struct Worker {
    pub(crate) cfg: ServiceConfig,
    pub(crate) advertised: IpAddr,
    pub(crate) core: SipCore,
    pub(crate) digest: DigestServer,
    pub(crate) dir: Arc<dyn Directory>,
    pub(crate) tcp: HashMap<SocketAddr, mpsc::UnboundedSender<Bytes>>,
    pub(crate) cmd: mpsc::UnboundedSender<Cmd>,
    pub(crate) calls: HashMap<CallId, CallCtx>,
    /// The call carrying each (meeting, venue) leg: what hang-up, INFO and drop reports use.
    pub(crate) legs: HashMap<(String, VenueId), CallId>,
    pub(crate) registrar: Registrar,
    pub(crate) registers: HashMap<RequestId, PendingRegister>,
    /// Requests per source IP waiting for an asynchronous decision.
    pub(crate) inflight: HashMap<IpAddr, u32>,
    pub(crate) watched: HashSet<String>,
    pub(crate) stats: Arc<ServiceStats>,
    pub(crate) rng: u64,
    pub(crate) stopping: Option<(Instant, oneshot::Sender<()>)>,
    pub(crate) limiter: RateLimiter,
}

/// UDP and TCP on one address. With port 0 the kernel picks the UDP port, and that port may be
/// busy for TCP (another program's connection): then another port is tried, a few times.
async fn bind_pair(
    bind: SocketAddr,
) -> Result<(UdpSocket, TcpListener, SocketAddr), (&'static str, SocketAddr, std::io::Error)> {
    let attempts = if bind.port() == 0 { 16 } else { 1 };
    let mut last = None;
    for _ in 0..attempts {
        let udp = UdpSocket::bind(bind).await.map_err(|e| ("udp", bind, e))?;
        let local = udp.local_addr().map_err(|e| ("udp", bind, e))?;
        match TcpListener::bind(local).await {
            Ok(tcp) => return Ok((udp, tcp, local)),
            Err(e) => last = Some(("tcp", local, e)),
        }
    }
    Err(last.expect("at least one attempt"))
}

impl Worker {
    async fn run(mut self, udp: UdpSocket, mut rx: mpsc::UnboundedReceiver<Cmd>) {
        let mut buf = vec![0u8; 65_536];
        loop {
            let deadline = self.core.poll_timeout();
            let stop_at = self.stopping.as_ref().map(|(at, _)| *at);
            let wake = match (deadline, stop_at) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            tokio::select! {
                r = udp.recv_from(&mut buf) => {
                    if let Ok((n, from)) = r {
                        let data = buf.get(..n).unwrap_or_default();
                        self.on_bytes(Transport::Udp, from, data);
                    }
                }
                c = rx.recv() => match c {
                    Some(c) => self.on_cmd(c),
                    None => break,
                },
                () = sleep_until(wake) => {
                    self.core.handle_timeout(Instant::now());
                }
            }
            self.flush(&udp);
            if let Some((at, _)) = &self.stopping
                && (self.calls.is_empty() || Instant::now() >= *at)
            {
                if !self.calls.is_empty() {
                    warn!(
                        left = self.calls.len(),
                        "SIP calls still open at the end of the shutdown grace"
                    );
                }
                if let Some((_, done)) = self.stopping.take() {
                    let _ = done.send(());
                }
                break;
            }
        }
    }

    fn on_bytes(&mut self, transport: Transport, from: SocketAddr, data: &[u8]) {
        tracing::trace!(?transport, %from, len = data.len(), "sip bytes");
        let now = Instant::now();
        if !self.limiter.allow(now, from.ip()) {
            let n = self.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
            if n.is_power_of_two() {
                warn!(source = %from.ip(), dropped = n + 1, "SIP source over its rate; dropping");
            }
            return;
        }
        self.core.handle_datagram(now, transport, from, data);
    }

    fn on_cmd(&mut self, c: Cmd) {
        let now = Instant::now();
        match c {
            Cmd::TcpOpened { peer, writer } => {
                self.tcp.insert(peer, writer);
            }
            Cmd::TcpData { peer, bytes } => self.on_bytes(Transport::Tcp, peer, &bytes),
            Cmd::TcpClosed { peer } => {
                self.tcp.remove(&peer);
                self.core.connection_closed(peer);
            }
            // Requests that went to TCP only for their size go again over UDP.
            Cmd::TcpConnectFailed { peer } => self.core.connection_failed(now, peer),
            Cmd::Shutdown { done } => self.begin_shutdown(now, done),
            other => self.on_call_cmd(now, other),
        }
    }

    fn begin_shutdown(&mut self, now: Instant, done: oneshot::Sender<()>) {
        info!(
            calls = self.calls.len(),
            "SIP service stopping: hanging up what is left"
        );
        self.stopping = Some((now + self.cfg.shutdown_grace, done));
        let calls: Vec<CallId> = self.calls.keys().copied().collect();
        for call in calls {
            self.end_call_locally(now, call, 503);
        }
    }

    /// Sends what the core has to send and handles its events, until both are drained.
    fn flush(&mut self, udp: &UdpSocket) {
        loop {
            let mut progressed = false;
            while let Some(t) = self.core.poll_transmit() {
                progressed = true;
                match t.transport {
                    Transport::Udp => {
                        if udp.try_send_to(&t.bytes, t.dest).is_err() {
                            // The core retransmits over UDP; a full buffer is a lost datagram.
                            self.stats.send_dropped.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Transport::Tcp => match self.tcp.get(&t.dest) {
                        Some(w) => {
                            let _ = w.send(t.bytes);
                        }
                        None => self.connect_and_send(t.dest, t.bytes),
                    },
                }
            }
            while let Some(ev) = self.core.poll_event() {
                progressed = true;
                self.on_event(Instant::now(), ev);
            }
            if !progressed {
                break;
            }
        }
    }

    /// A TCP request to a peer we have no connection with (dial-out over TCP): connect, then
    /// the connection registers itself and later writes go through it.
    fn connect_and_send(&mut self, dest: SocketAddr, bytes: Bytes) {
        let cmd = self.cmd.clone();
        tokio::spawn(async move {
            match TcpStream::connect(dest).await {
                Ok(mut stream) => {
                    if stream.write_all(&bytes).await.is_ok() {
                        connection(stream, dest, cmd).await;
                    }
                }
                Err(e) => {
                    debug!(%dest, error = %e, "SIP TCP connect failed");
                    let _ = cmd.send(Cmd::TcpConnectFailed { peer: dest });
                }
            }
        });
    }

    pub(crate) fn session_id(&mut self) -> u64 {
        // xorshift64: SDP session ids need only be unique-ish, not secret.
        let mut x = self.rng;
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        self.rng = x;
        x >> 1
    }
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at.into()).await,
        None => std::future::pending().await,
    }
}
