//! The per-meeting media task: one tokio task that owns a meeting's [`Engine`] and its UDP
//! socket pair, and nothing else.
//!
//! Run loop (one iteration per wake-up):
//!
//! 1. wait for the first of: the RTP socket readable, the RTCP socket readable, the engine's
//!    next deadline, a command;
//! 2. on a readable socket, drain it with batched receives; for each datagram ask the engine
//!    ([`Engine::handle_datagram`]), then apply each forward to the receive buffer in place and
//!    send it to every destination group with one `sendmmsg` per group;
//! 3. drain the engine's generated packets (`poll_transmit`) and events (`poll_event`); events
//!    go to the meeting's controller over a channel.
//!
//! The task also owns the meeting's audio [`Mixer`]. Legs whose audio the mixer decodes (G.711,
//! and Opus with the `opus` feature; see [`MixedAudio::for_leg`]) are switched to [`AudioRoute::Mixed`]: the engine validates
//! their audio datagrams and answers [`Routed::Audio`], and the task hands them to
//! [`Mixer::handle_rtp`]. The task's timer includes the mixer's frame clock; on each frame the
//! mixer's packets (one per receiving leg, mix-minus) are written into a scratch buffer and sent
//! from the RTP socket to the leg's RTP address, and the mixer's events (dominant speaker,
//! DTMF, a batch of level reports per interval) go to the controller as [`AudioEvent`]s on a
//! channel of their own ([`MediaHandle::take_audio_events`]). Other legs (a codec this build
//! does not decode) keep the feed model: audio feeds switched with the picture.
//!
//! Nothing here blocks on a slow receiver: a full socket send buffer drops the rest of a fan-out
//! and counts it (real-time media is better late-dropped than late). Commands are the only way
//! in from the control plane, so the engine needs no lock.
//!
//! Cancel safety: dropping the [`MediaHandle`] (every clone) ends the task at its next wake-up;
//! [`MediaHandle::shutdown`] ends it and waits.

use std::io;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use std::collections::HashMap;

use dais_audio::{Mixer, MixerConfig, MixerError, MixerStats};
use dais_media::{
    AudioRoute, Engine, EngineConfig, EngineStats, FeedId, LegConfig, LegId, LegStats, LocalSocket,
    MediaError, MediaEvent, MediaKind, Routed, SourceQuality,
};
use dais_record::RecordSink;
use tokio::net::UdpSocket;
use tokio::sync::{mpsc, oneshot};
use tracing::{debug, warn};

use crate::send_pool::{self, Sender};
use crate::udp::{HEAD, RecvBatch};

mod audio;
pub use audio::{AudioEvent, AudioExtras, AudioLevel, MixedAudio};
use audio::{MixedLeg, MixerFlag, venue};

/// Messages taken per `recvmmsg` (each a datagram, or a run of them the kernel coalesced).
const RECV_BATCH: usize = 32;
/// Datagrams handled before the task yields to others, so one busy meeting cannot starve the
/// other meetings on the same worker thread.
const BUDGET: usize = 1024;
/// How often the engine's figures are copied out for metrics scrapes: a lock once a second,
/// never per packet.
const PUBLISH_EVERY: Duration = Duration::from_secs(1);
/// Audio events queued for the controller before new ones are dropped.
const AUDIO_EVENTS: usize = 256;

/// Counters the shell keeps about its own I/O (the engine keeps its own about decisions).
#[derive(Debug, Default)]
pub struct IoCounters {
    /// Datagrams received on either socket.
    pub received: AtomicU64,
    /// Datagrams sent (forwards and generated packets).
    pub sent: AtomicU64,
    /// Sends dropped because the socket's send buffer was full.
    pub send_dropped: AtomicU64,
    /// Send errors other than a full buffer (e.g. ICMP unreachable reported on the socket).
    pub send_errors: AtomicU64,
    /// Batches (forwards or mixer frames) handed to the sender threads rather than sent by
    /// the task itself (D38).
    pub handed_off: AtomicU64,
}

/// A command to the media task; every one that can fail answers on its oneshot.
#[derive(Debug)]
enum Command {
    AddLeg(LegId, LegConfig, oneshot::Sender<Result<(), MediaError>>),
    UpdateLeg(LegId, LegConfig, oneshot::Sender<Result<(), MediaError>>),
    RemoveLeg(LegId),
    CreateFeed(MediaKind, oneshot::Sender<FeedId>),
    Subscribe(LegId, FeedId, oneshot::Sender<Result<(), MediaError>>),
    Unsubscribe(LegId, FeedId),
    KeyframeWantedBy(LegId),
    PrefetchKeyframe(LegId),
    Switch(
        FeedId,
        Option<LegId>,
        oneshot::Sender<Result<(), MediaError>>,
    ),
    SetTap(FeedId, bool, oneshot::Sender<Result<(), MediaError>>),
    StartRecording(FeedId, RecordSink, oneshot::Sender<Result<(), MediaError>>),
    StopRecording(oneshot::Sender<()>),
    MixAudio(
        LegId,
        MixedAudio,
        oneshot::Sender<Result<(), MediaTaskError>>,
    ),
    UnmixAudio(LegId, oneshot::Sender<Result<(), MediaTaskError>>),
    MixerFlag(
        LegId,
        MixerFlag,
        bool,
        oneshot::Sender<Result<(), MediaTaskError>>,
    ),
    SetMainAudio(Option<LegId>),
    SetAudioExtras(
        LegId,
        AudioExtras,
        oneshot::Sender<Result<(), MediaTaskError>>,
    ),
    MixerStats(oneshot::Sender<MixerStats>),
    Stats(oneshot::Sender<Snapshot>),
    Shutdown(oneshot::Sender<()>),
}

/// Engine figures at one moment.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// Totals over the meeting.
    pub engine: EngineStats,
    /// Per leg.
    pub legs: Vec<(LegId, LegStats)>,
    /// Per leg: reception quality of its video and audio uplinks (`None` before any packet).
    pub quality: Vec<(LegId, Option<SourceQuality>, Option<SourceQuality>)>,
}

/// Errors of the handle: the task is gone, or the engine refused.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum MediaTaskError {
    /// The media task has ended (meeting over or shutting down).
    #[error("the meeting's media task has ended")]
    Gone,
    /// The engine refused the command (the caller's mistake, e.g. an unknown leg).
    #[error(transparent)]
    Refused(#[from] MediaError),
    /// The audio mixer refused the command (the caller's mistake: a leg that is not mixed, a
    /// packet time that is not a multiple of the mixer's frame…).
    #[error(transparent)]
    Mixer(#[from] MixerError),
}

/// The control plane's handle on one meeting's media task. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MediaHandle {
    tx: mpsc::Sender<Command>,
    rtp_addr: SocketAddr,
    counters: Arc<IoCounters>,
    published: Arc<Mutex<EngineStats>>,
    audio_events: Arc<Mutex<Option<mpsc::Receiver<AudioEvent>>>>,
}

macro_rules! ask {
    ($self:ident, $variant:ident $(, $arg:expr)*) => {{
        let (tx, rx) = oneshot::channel();
        $self
            .tx
            .send(Command::$variant($($arg,)* tx))
            .await
            .map_err(|_| MediaTaskError::Gone)?;
        rx.await.map_err(|_| MediaTaskError::Gone)
    }};
}

impl MediaHandle {
    /// The meeting's RTP address (RTCP is on the next port, or muxed).
    pub fn rtp_addr(&self) -> SocketAddr {
        self.rtp_addr
    }

    /// The shell's I/O counters.
    pub fn counters(&self) -> &IoCounters {
        &self.counters
    }

    /// The engine's totals as of the last publication (at most a second old): what metrics
    /// scrapes read without disturbing the media task.
    pub fn published_stats(&self) -> EngineStats {
        *self.published.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds a leg (its addresses and negotiated codecs).
    pub async fn add_leg(&self, leg: LegId, cfg: LegConfig) -> Result<(), MediaTaskError> {
        Ok(ask!(self, AddLeg, leg, cfg)??)
    }

    /// Changes a leg's addresses or codecs (a re-INVITE).
    pub async fn update_leg(&self, leg: LegId, cfg: LegConfig) -> Result<(), MediaTaskError> {
        Ok(ask!(self, UpdateLeg, leg, cfg)??)
    }

    /// Removes a leg; feeds showing it go idle (reported as events).
    pub async fn remove_leg(&self, leg: LegId) -> Result<(), MediaTaskError> {
        self.tx
            .send(Command::RemoveLeg(leg))
            .await
            .map_err(|_| MediaTaskError::Gone)
    }

    /// Creates a feed (a picture or sound that legs can watch).
    pub async fn create_feed(&self, kind: MediaKind) -> Result<FeedId, MediaTaskError> {
        ask!(self, CreateFeed, kind)
    }

    /// Subscribes a leg to a feed.
    pub async fn subscribe(&self, leg: LegId, feed: FeedId) -> Result<(), MediaTaskError> {
        Ok(ask!(self, Subscribe, leg, feed)??)
    }

    /// Unsubscribes a leg from a feed.
    pub async fn unsubscribe(&self, leg: LegId, feed: FeedId) -> Result<(), MediaTaskError> {
        self.tx
            .send(Command::Unsubscribe(leg, feed))
            .await
            .map_err(|_| MediaTaskError::Gone)
    }

    /// A receiver asked for a keyframe outside RTCP (SIP INFO): the sources of the video
    /// feeds it watches are asked (see `Engine::keyframe_wanted_by`).
    pub async fn keyframe_wanted_by(&self, leg: LegId) -> Result<(), MediaTaskError> {
        self.tx
            .send(Command::KeyframeWantedBy(leg))
            .await
            .map_err(|_| MediaTaskError::Gone)
    }

    /// Asks a source for a keyframe ahead of a switch to it (see `Engine::prefetch_keyframe`).
    pub async fn prefetch_keyframe(&self, leg: LegId) -> Result<(), MediaTaskError> {
        self.tx
            .send(Command::PrefetchKeyframe(leg))
            .await
            .map_err(|_| MediaTaskError::Gone)
    }

    /// Switches a feed to a source (keyframe-gated for video); `None` shows nothing.
    pub async fn switch(&self, feed: FeedId, source: Option<LegId>) -> Result<(), MediaTaskError> {
        Ok(ask!(self, Switch, feed, source)??)
    }

    /// Turns a feed's recording tap on or off.
    pub async fn set_tap(&self, feed: FeedId, on: bool) -> Result<(), MediaTaskError> {
        Ok(ask!(self, SetTap, feed, on)??)
    }

    /// Starts recording: `feed`'s tap is turned on and every packet it forwards, plus every
    /// frame of the mixer's full mix, is copied to `sink` (which never blocks: a full queue
    /// drops and counts). Replaces a recording already running.
    ///
    /// # Errors
    /// [`MediaTaskError::Refused`] for an unknown feed.
    pub async fn start_recording(
        &self,
        feed: FeedId,
        sink: RecordSink,
    ) -> Result<(), MediaTaskError> {
        Ok(ask!(self, StartRecording, feed, sink)??)
    }

    /// Stops copying to the recording (taps off); the recorder itself is finished by its owner.
    ///
    /// # Errors
    /// [`MediaTaskError::Gone`] when the task has ended (nothing is copied any more anyway).
    pub async fn stop_recording(&self) -> Result<(), MediaTaskError> {
        ask!(self, StopRecording)
    }

    /// Current engine statistics.
    pub async fn stats(&self) -> Result<Snapshot, MediaTaskError> {
        ask!(self, Stats)
    }

    /// Hands `leg`'s audio to the mixer: its uplink becomes a mixer source (if it sends), its
    /// downlink a mix-minus receiver (if it receives), and the engine stops offering its audio
    /// to feeds ([`AudioRoute::Mixed`]). Calling it again replaces the settings.
    ///
    /// # Errors
    /// [`MediaTaskError::Refused`] for an unknown leg or one without audio,
    /// [`MediaTaskError::Mixer`] for settings the mixer refuses (the leg's audio is then on
    /// the feed model).
    pub async fn mix_audio(&self, leg: LegId, audio: MixedAudio) -> Result<(), MediaTaskError> {
        ask!(self, MixAudio, leg, audio)?
    }

    /// Takes `leg`'s audio out of the mixer and back to the feed model.
    ///
    /// # Errors
    /// [`MediaTaskError::Refused`] for an unknown leg.
    pub async fn unmix_audio(&self, leg: LegId) -> Result<(), MediaTaskError> {
        ask!(self, UnmixAudio, leg)?
    }

    /// Closes (or opens) a mixed leg's microphone: a muted leg is never mixed.
    ///
    /// # Errors
    /// [`MediaTaskError::Mixer`] when the leg's audio is not mixed.
    pub async fn set_audio_muted(&self, leg: LegId, muted: bool) -> Result<(), MediaTaskError> {
        ask!(self, MixerFlag, leg, MixerFlag::Muted, muted)?
    }

    /// Blocks (or unblocks) the mix to a leg: a blocked leg hears silence.
    ///
    /// # Errors
    /// [`MediaTaskError::Mixer`] when the leg's audio is not mixed.
    pub async fn set_audio_blocked(&self, leg: LegId, blocked: bool) -> Result<(), MediaTaskError> {
        ask!(self, MixerFlag, leg, MixerFlag::Blocked, blocked)?
    }

    /// The main venue's leg: always mixed (when unmuted), on top of the loudest others.
    pub async fn set_main_audio(&self, leg: Option<LegId>) -> Result<(), MediaTaskError> {
        self.tx
            .send(Command::SetMainAudio(leg))
            .await
            .map_err(|_| MediaTaskError::Gone)
    }

    /// What a mixed leg's SDP agreed on besides the codec: its RFC 4733 telephone-event
    /// payload type (key presses become [`AudioEvent::Dtmf`]) and its RFC 6464 audio-level
    /// extension (the mixer reads the venue's own level).
    ///
    /// # Errors
    /// [`MediaTaskError::Mixer`] when the leg's audio is not mixed.
    pub async fn set_audio_extras(
        &self,
        leg: LegId,
        extras: AudioExtras,
    ) -> Result<(), MediaTaskError> {
        ask!(self, SetAudioExtras, leg, extras)?
    }

    /// The mixer's counters.
    pub async fn mixer_stats(&self) -> Result<MixerStats, MediaTaskError> {
        ask!(self, MixerStats)
    }

    /// The mixer's events, for the one consumer that takes them (the meeting controller);
    /// `None` once taken. Events that find the channel full are dropped.
    pub fn take_audio_events(&self) -> Option<mpsc::Receiver<AudioEvent>> {
        self.audio_events
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Resolves when the task has ended (meeting over or shut down).
    pub async fn closed(&self) {
        self.tx.closed().await;
    }

    /// Stops the task and waits until it has released its sockets.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Command::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

/// Binds the socket pair: RTP on `port` (even), RTCP on `port + 1`. Port 0 picks a free pair
/// (for tests): it retries until the kernel's choice is even and the next port is free.
pub fn bind_pair(ip: IpAddr, port: u16) -> io::Result<(std::net::UdpSocket, std::net::UdpSocket)> {
    let bind = |p: u16| -> io::Result<std::net::UdpSocket> {
        let s = socket2::Socket::new(
            socket2::Domain::for_address(SocketAddr::new(ip, p)),
            socket2::Type::DGRAM,
            Some(socket2::Protocol::UDP),
        )?;
        // Large buffers absorb the bursts of a keyframe fanned out to hundreds of receivers.
        let _ = s.set_recv_buffer_size(4 << 20);
        let _ = s.set_send_buffer_size(4 << 20);
        s.set_nonblocking(true)?;
        s.bind(&SocketAddr::new(ip, p).into())?;
        Ok(s.into())
    };
    if port != 0 {
        return Ok((bind(port)?, bind(port.wrapping_add(1))?));
    }
    for _ in 0..64 {
        let rtp = bind(0)?;
        let p = rtp.local_addr()?.port();
        if p % 2 != 0 || p == u16::MAX {
            continue;
        }
        if let Ok(rtcp) = bind(p + 1) {
            return Ok((rtp, rtcp));
        }
    }
    Err(io::Error::new(
        io::ErrorKind::AddrInUse,
        "no free even/odd UDP port pair found",
    ))
}

/// Starts a meeting's media task on the current tokio runtime, with the default mixer
/// settings. Events go to `events` (bounded: when the controller lags, events are dropped with
/// a warning rather than stalling media).
///
/// # Errors
/// When the sockets cannot be registered with the runtime.
pub fn spawn(
    rtp: std::net::UdpSocket,
    rtcp: std::net::UdpSocket,
    cfg: EngineConfig,
    events: mpsc::Sender<MediaEvent>,
) -> io::Result<MediaHandle> {
    spawn_with_mixer(rtp, rtcp, cfg, MixerConfig::default(), events)
}

/// [`spawn`] with mixer settings.
///
/// # Errors
/// When the sockets cannot be registered with the runtime, or the mixer settings are out of
/// range (`InvalidInput`).
pub fn spawn_with_mixer(
    rtp: std::net::UdpSocket,
    rtcp: std::net::UdpSocket,
    cfg: EngineConfig,
    mixer: MixerConfig,
    events: mpsc::Sender<MediaEvent>,
) -> io::Result<MediaHandle> {
    let mixer = Mixer::new(mixer).map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))?;
    let rtp = Arc::new(UdpSocket::from_std(rtp)?);
    let rtcp = UdpSocket::from_std(rtcp)?;
    let rtp_addr = rtp.local_addr()?;
    // A venue's burst of video packets is read as one coalesced message where the kernel
    // can (D37); the batch splits it again, so nothing after the read changes.
    let gro = if crate::udp::offload() {
        crate::udp::enable_gro(&*rtp)
    } else {
        Err(io::Error::other("UDP offload is off"))
    };
    let batch = match gro {
        Ok(()) => RecvBatch::coalesced(RECV_BATCH),
        Err(e) => {
            debug!(error = %e, "no UDP GRO on the media socket; reading datagram by datagram");
            RecvBatch::new(RECV_BATCH)
        }
    };
    let (tx, rx) = mpsc::channel(256);
    let shared: send_pool::SharedSocket = rtp.clone();
    let counters = Arc::new(IoCounters::default());
    let published = Arc::new(Mutex::new(EngineStats::default()));
    let (audio_tx, audio_rx) = mpsc::channel(AUDIO_EVENTS);
    let task = MediaTask {
        mixer,
        mixed: HashMap::new(),
        mix_buf: vec![0; 1500],
        mix_stage: audio::MixStage::default(),
        next_mix_report: Instant::now(),
        audio_events: audio_tx,
        levels: Vec::new(),
        published: published.clone(),
        next_publish: Instant::now() + PUBLISH_EVERY,
        engine: Engine::new(cfg),
        rtp,
        rtcp,
        batch,
        sender: Sender::new(send_pool::global(), shared, counters.clone()),
        events,
        counters: counters.clone(),
        legs: Vec::new(),
        recording: None,
    };
    tokio::spawn(task.run(rx));
    Ok(MediaHandle {
        tx,
        rtp_addr,
        counters,
        published,
        audio_events: Arc::new(Mutex::new(Some(audio_rx))),
    })
}

struct MediaTask {
    engine: Engine,
    mixer: Mixer,
    /// Legs whose audio is mixed; mixer venue ids are the leg ids.
    mixed: HashMap<LegId, MixedLeg>,
    /// One mixer packet at a time is written here and sent.
    mix_buf: Vec<u8>,
    /// One frame's mixer packets, grouped by shared payload.
    mix_stage: audio::MixStage,
    /// When the mix streams' sender reports are due.
    next_mix_report: Instant,
    audio_events: mpsc::Sender<AudioEvent>,
    /// Level reports of the current interval, sent as one message.
    levels: Vec<AudioLevel>,
    rtp: Arc<UdpSocket>,
    rtcp: UdpSocket,
    batch: RecvBatch,
    /// The batch's forwarded packets, by receiver (D37), and the mixer's frames, sent in
    /// place or by the sender threads (D38).
    sender: Sender,
    events: mpsc::Sender<MediaEvent>,
    counters: Arc<IoCounters>,
    /// The engine's legs, for statistics snapshots (commands are rare; a Vec is enough).
    legs: Vec<LegId>,
    published: Arc<Mutex<EngineStats>>,
    next_publish: Instant,
    /// The running recording: the tapped feed and where its packets and the full mix go.
    recording: Option<(FeedId, RecordSink)>,
}

impl MediaTask {
    async fn run(mut self, mut rx: mpsc::Receiver<Command>) {
        loop {
            let deadline = [self.engine.poll_timeout(), self.mixer.poll_timeout()]
                .into_iter()
                .flatten()
                .fold(self.next_publish, Instant::min);
            let deadline = Some(deadline);
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                biased;
                cmd = rx.recv() => match cmd {
                    Some(Command::Shutdown(done)) => {
                        let _ = done.send(());
                        break;
                    }
                    Some(cmd) => self.command(cmd),
                    None => break,
                },
                r = self.rtp.readable() => {
                    if r.is_ok() {
                        self.drain(LocalSocket::Rtp);
                    }
                }
                r = self.rtcp.readable() => {
                    if r.is_ok() {
                        self.drain(LocalSocket::Rtcp);
                    }
                }
                () = sleep => {}
            }
            // Deadlines are checked after every wake-up, not only when the sleep wins: a busy
            // socket must not starve the mixer's frame clock.
            let now = Instant::now();
            if self.engine.poll_timeout().is_some_and(|d| d <= now) {
                self.engine.handle_timeout(now);
            }
            self.mix(now);
            self.flush_outputs();
            let now = Instant::now();
            if now >= self.next_publish {
                self.publish();
                self.next_publish = now + PUBLISH_EVERY;
            }
        }
        self.publish();
        debug!(rtp = %self.rtp.local_addr().map(|a| a.to_string()).unwrap_or_default(), "media task ended");
    }

    fn publish(&self) {
        *self.published.lock().unwrap_or_else(|e| e.into_inner()) = *self.engine.stats();
    }

    fn command(&mut self, cmd: Command) {
        let now = Instant::now();
        match cmd {
            Command::AddLeg(leg, cfg, reply) => {
                let r = self.engine.add_leg(now, leg, cfg);
                if r.is_ok() {
                    self.legs.push(leg);
                }
                let _ = reply.send(r);
            }
            Command::UpdateLeg(leg, cfg, reply) => {
                let r = self.engine.update_leg(now, leg, cfg);
                if r.is_ok() {
                    self.mixed_leg_updated(leg, &cfg);
                }
                let _ = reply.send(r);
            }
            Command::RemoveLeg(leg) => {
                self.engine.remove_leg(now, leg);
                self.unmix(leg);
                self.legs.retain(|l| *l != leg);
            }
            Command::CreateFeed(kind, reply) => {
                let _ = reply.send(self.engine.create_feed(kind));
            }
            Command::Subscribe(leg, feed, reply) => {
                let _ = reply.send(self.engine.subscribe(now, leg, feed));
            }
            Command::Unsubscribe(leg, feed) => self.engine.unsubscribe(leg, feed),
            Command::KeyframeWantedBy(leg) => self.engine.keyframe_wanted_by(now, leg),
            Command::PrefetchKeyframe(leg) => self.engine.prefetch_keyframe(now, leg),
            Command::Switch(feed, source, reply) => {
                let _ = reply.send(self.engine.switch(now, feed, source));
            }
            Command::SetTap(feed, on, reply) => {
                let _ = reply.send(self.engine.set_tap(feed, on));
            }
            Command::StartRecording(feed, sink, reply) => {
                let r = self.engine.set_tap(feed, true);
                if r.is_ok() {
                    if let Some((old, _)) = self.recording.take()
                        && old != feed
                    {
                        let _ = self.engine.set_tap(old, false);
                    }
                    self.recording = Some((feed, sink));
                }
                let _ = reply.send(r);
            }
            Command::StopRecording(reply) => {
                if let Some((feed, _)) = self.recording.take() {
                    let _ = self.engine.set_tap(feed, false);
                }
                let _ = reply.send(());
            }
            Command::MixAudio(leg, audio, reply) => {
                let _ = reply.send(self.mix_audio(leg, audio));
            }
            Command::UnmixAudio(leg, reply) => {
                let r = self
                    .engine
                    .set_audio_route(leg, AudioRoute::Feeds)
                    .map_err(MediaTaskError::from);
                self.unmix(leg);
                let _ = reply.send(r);
            }
            Command::MixerFlag(leg, flag, on, reply) => {
                let _ = reply.send(self.set_flag(leg, flag, on));
            }
            Command::SetMainAudio(leg) => self.mixer.set_main(leg.map(venue)),
            Command::SetAudioExtras(leg, extras, reply) => {
                let _ = reply.send(self.set_audio_extras(leg, extras));
            }
            Command::MixerStats(reply) => {
                let _ = reply.send(self.mixer.stats());
            }
            Command::Stats(reply) => {
                let legs = self
                    .legs
                    .iter()
                    .copied()
                    .filter_map(|leg| self.engine.leg_stats(leg).map(|s| (leg, *s)))
                    .collect();
                let now = Instant::now();
                let quality = self
                    .legs
                    .iter()
                    .map(|&leg| {
                        (
                            leg,
                            self.engine.source_quality(now, leg, MediaKind::Video),
                            self.engine.source_quality(now, leg, MediaKind::Audio),
                        )
                    })
                    .collect();
                let _ = reply.send(Snapshot {
                    engine: *self.engine.stats(),
                    legs,
                    quality,
                });
            }
            Command::Shutdown(_) => {}
        }
    }

    /// Receives and routes until the socket is empty or the budget is spent.
    fn drain(&mut self, which: LocalSocket) {
        let mut handled = 0;
        while handled < BUDGET {
            let sock = match which {
                LocalSocket::Rtp => &self.rtp,
                LocalSocket::Rtcp => &self.rtcp,
            };
            let batch = &mut self.batch;
            match sock.try_io(tokio::io::Interest::READABLE, || batch.recv(sock)) {
                Ok(n) => {
                    handled += n;
                    self.counters
                        .received
                        .fetch_add(n as u64, Ordering::Relaxed);
                    self.route_batch();
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) => {
                    // ICMP errors surface on UDP sockets as ECONNREFUSED and the like; they
                    // belong to one peer and must not stop the meeting.
                    debug!(error = %e, "receive error on media socket");
                    return;
                }
            }
        }
    }

    /// Routes one receive batch and sends what it forwards as trains: each receiver's packets
    /// of the batch leave in as few GSO messages as their sizes allow (D37).
    fn route_batch(&mut self) {
        let now = Instant::now();
        for i in 0..self.batch.len() {
            let Some((buf, from)) = self.batch.get_mut(i) else {
                continue;
            };
            let mut tapped = false;
            let forwards = match self.engine.handle_datagram(now, from, buf) {
                Routed::Forward(forwards) => forwards,
                Routed::Audio { leg } => {
                    // Drop reasons are counted per source by the mixer.
                    let _ = self.mixer.handle_rtp(now, venue(leg), buf);
                    continue;
                }
                _ => continue,
            };
            for fw in forwards.iter() {
                dais_media::apply(&fw, buf);
                if fw.tap
                    && let Some((_, sink)) = &self.recording
                {
                    // A copy into the recorder's queue; the file is written on its own thread.
                    sink.video(now, buf);
                    tapped = true;
                }
                if buf.len() < HEAD {
                    continue;
                }
                // One head per group (its payload type, or a moved receiver's own numbering:
                // D25); the body stays in the batch buffer until the flush.
                for group in fw.groups {
                    let mut head = [0u8; HEAD];
                    head.copy_from_slice(&buf[..HEAD]);
                    group.apply(&fw.rewrite, &mut head);
                    let head = self.sender.head(head);
                    // A forwarded packet never goes back to the address it came from, so a
                    // venue never receives its own picture, even while a feed it has just
                    // been moved to is still cutting over away from it.
                    for &dest in group.destinations().iter().filter(|d| **d != from) {
                        self.sender.add(dest, head, i as u32, buf.len());
                    }
                }
            }
            if tapped {
                self.recorded_packet_events();
            }
        }
        let batch = &self.batch;
        self.sender.flush(batch.len(), |i| {
            batch.bytes(i as usize).get(HEAD..).unwrap_or_default()
        });
    }

    /// After a packet went to the recording: a switch the engine forced on that very packet
    /// (no keyframe) must reach the recorder before the packets after it.
    fn recorded_packet_events(&mut self) {
        while let Some(ev) = self.engine.poll_event() {
            if let MediaEvent::SwitchCompleted {
                feed, forced: true, ..
            } = ev
                && let Some((rec_feed, sink)) = &self.recording
                && *rec_feed == feed
            {
                sink.discontinuity();
            }
            if let Err(e) = self.events.try_send(ev) {
                warn!(event = ?e, "meeting controller lags; media event dropped");
            }
        }
    }

    fn flush_outputs(&mut self) {
        while let Some(t) = self.engine.poll_transmit() {
            let sock = match t.socket {
                LocalSocket::Rtp => &self.rtp,
                LocalSocket::Rtcp => &self.rtcp,
            };
            match sock.try_send_to(&t.contents, t.destination) {
                Ok(_) => {
                    self.counters.sent.fetch_add(1, Ordering::Relaxed);
                }
                Err(_) => {
                    self.counters.send_dropped.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
        while let Some(ev) = self.engine.poll_event() {
            if let Err(e) = self.events.try_send(ev) {
                warn!(event = ?e, "meeting controller lags; media event dropped");
            }
        }
    }
}
