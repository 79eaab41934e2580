//! The engine: one meeting's sources, feeds, timers and counters, owned by one task.

use std::collections::{HashMap, VecDeque};
use std::hash::{BuildHasherDefault, Hasher};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use dais_rtp::{
    PacketClass, ReceiveStats, RtpHeader, Ssrc, classify, is_keyframe, rewrite_header, set_marker,
};

use crate::cache::RetransmitCache;
use crate::error::DropReason;
use crate::events::{EngineStats, KeyframeVia, LegStats, MediaEvent};
use crate::routed::{DestGroup, ForwardItem, Forwards, LocalSocket, Routed, Translation, Transmit};
use crate::rtcp;

mod commands;
mod control;
use crate::switching::{
    Decision, FeedState, Gate, OutputClock, PacketInfo, Rewrite, Shown, SwitchCause, ticks,
};
use crate::timers::{Timer, Timers};
use crate::types::{
    AudioRoute, EngineConfig, FeedId, KeyframeRequestMode, LegConfig, LegId, MediaKind,
};

/// Consecutive packets of a new SSRC needed before a source's SSRC change is believed: one
/// stray or spoofed packet must not void every feed's numbering.
const SSRC_PROBATION: u8 = 3;

const KINDS: [MediaKind; 2] = [MediaKind::Audio, MediaKind::Video];

/// Hasher for `LegId` keys: they are chosen by the caller, not by peers, so no HashDoS
/// resistance is needed, and SipHash was a tenth of the per-packet cost (measured with perf).
/// Keys that arrive from the network (source addresses, SSRCs in RTCP) use foldhash with a
/// per-map random seed instead (see `AddrMap` and D27).
#[derive(Default)]
struct IdHasher(u64);

impl Hasher for IdHasher {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = (self.0.rotate_left(8) ^ u64::from(*b)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        }
    }
    fn write_u32(&mut self, n: u32) {
        // Fibonacci hashing: spreads sequential ids over the high bits hashbrown uses.
        self.0 = (self.0 ^ u64::from(n)).wrapping_mul(0x9e37_79b9_7f4a_7c15);
    }
}

/// Address → leg. Looked up with every datagram's source address, which anyone can choose,
/// but only legs' own addresses are ever inserted (one or two per leg, set by signalling), so
/// an attacker cannot grow or cluster the table; a lookup of an unknown address costs about
/// one probe.
/// foldhash (seeded per map) costs a fraction of SipHash here (D27 in docs/decisions.md).
type AddrMap = HashMap<SocketAddr, (LegId, AddrRole), foldhash::fast::RandomState>;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum AddrRole {
    Rtp,
    Rtcp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SsrcState {
    Unknown,
    Known(u32),
    Probation {
        known: u32,
        candidate: u32,
        seen: u8,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Health {
    /// Nothing received yet.
    Waiting,
    Live,
    /// Video packets flow, but no keyframe for `frozen_after`.
    Frozen,
    NoMedia,
}

/// A leg's uplink of one kind.
#[derive(Debug)]
struct Source {
    ssrc: SsrcState,
    health: Health,
    /// Last packet, or when the source was created (so a silent venue is reported too).
    last_packet_at: Instant,
    /// Last keyframe, or when media (re)started.
    keyframe_ref_at: Instant,
    /// The one live health timer; other heap entries for this source are stale.
    health_check_at: Option<Instant>,
    last_request_at: Option<Instant>,
    /// A coalesced keyframe request waits for this time.
    flush_at: Option<Instant>,
    fir_seq: u8,
    /// RFC 3550 reception statistics of the current SSRC, for receiver reports.
    recv: Option<ReceiveStats>,
}

impl Source {
    fn new(now: Instant) -> Self {
        Source {
            ssrc: SsrcState::Unknown,
            health: Health::Waiting,
            last_packet_at: now,
            keyframe_ref_at: now,
            health_check_at: None,
            last_request_at: None,
            flush_at: None,
            fir_seq: 0,
            recv: None,
        }
    }

    fn ssrc(&self) -> Option<u32> {
        match self.ssrc {
            SsrcState::Unknown => None,
            SsrcState::Known(s) | SsrcState::Probation { known: s, .. } => Some(s),
        }
    }
}

#[derive(Debug)]
struct Leg {
    cfg: LegConfig,
    /// Distinguishes this leg from an earlier one with the same id in timer entries.
    epoch: u64,
    /// By `MediaKind::index`; `Some` when the leg sends that kind.
    sources: [Option<Source>; 2],
    /// Feeds that show, or wait for, this leg's source of each kind: the source→feeds index
    /// that makes per-packet work proportional to the feeds concerned.
    watchers: [Vec<FeedId>; 2],
    /// Feeds this leg receives (at most one per kind for now; a cascade link will take more).
    subscriptions: Vec<FeedId>,
    /// Feeds or the shell's mixer.
    audio_route: AudioRoute,
    /// By `MediaKind::index`: where this leg's stream of that kind stood when it last left a
    /// feed it was receiving, so that the next feed continues it (D25).
    resume: [Option<Resume>; 2],
    stats: LegStats,
}

/// The last packet a receiver got of its stream of one kind, as it saw it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Resume {
    ssrc: Ssrc,
    seq: u16,
    ts: u32,
    /// When that timestamp went out (`None`: nothing went out yet).
    at: Option<Instant>,
}

/// Where a receiver stood on a feed it is taken off.
#[derive(Clone, Copy, Debug)]
enum Removed {
    /// It was still waiting for its first packet.
    Joining(Joiner),
    /// It was receiving, with this translation.
    Destination(Option<Translation>),
    /// It was not on the feed.
    Absent,
}

/// What `route_rtp` decided for a packet that was not dropped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RtpVerdict {
    /// Forwards are in `scratch`.
    Forward,
    /// The leg's audio goes to the mixer.
    Mixer,
}

/// One picture (or sound) that receivers watch.
#[derive(Debug)]
pub(crate) struct Feed {
    kind: MediaKind,
    ssrc: Ssrc,
    state: FeedState,
    out: OutputClock,
    /// Bumped on every switching transition; timers of older epochs are stale.
    epoch: u64,
    subscribers: Vec<LegId>,
    pub(crate) groups: Vec<DestGroup>,
    /// Video receivers that subscribed while a picture was running: they start on the next
    /// keyframe (or after `switch_timeout`), never mid-picture.
    joining: Vec<Joiner>,
    pub(crate) tap: bool,
    cache: RetransmitCache,
    clock_rate: u32,
    packets_sent: u32,
    octets_sent: u32,
    report_scheduled: bool,
}

/// A receiver waiting for its first packet of a feed.
#[derive(Debug, Clone, Copy)]
struct Joiner {
    payload_type: u8,
    addr: SocketAddr,
    since: Instant,
    /// Its stream so far, when it comes from another feed.
    resume: Option<Resume>,
    /// Starts on the next packet of any kind (audio, or a feed showing nothing yet); else on
    /// the next keyframe or after the switch timeout.
    any_packet: bool,
}

impl Feed {
    /// Starts `addr` on this feed: at once, or at the next packet when the receiver's stream
    /// continues from another feed (its numbering is fixed on that packet), or (video with a
    /// picture running) at its next keyframe, so that a receiver's first packet always starts
    /// a decodable picture.
    fn join(&mut self, now: Instant, pt: u8, addr: SocketAddr, resume: Option<Resume>) {
        let running = self.kind == MediaKind::Video && self.state.shown().is_some();
        if running || resume.is_some() {
            self.joining.push(Joiner {
                payload_type: pt,
                addr,
                since: now,
                resume,
                any_packet: !running,
            });
        } else {
            self.add_destination(pt, addr, None);
        }
    }

    /// Moves the waiting receivers to the destinations when this packet (numbered `rewrite`
    /// on this feed, sent from `source`) starts a picture (`keyframe`, a cut-over), when they
    /// wait for any packet, or when they have waited `timeout`.
    ///
    /// A receiver is never started on its own packets: the fan-out does not send them back
    /// to it (D24), so its stream would begin with a gap. A venue going back to the broadcast
    /// feed while the feed still shows it starts at the cut-over to the new broadcaster.
    fn admit_joiners(
        &mut self,
        now: Instant,
        starts_picture: bool,
        timeout: Duration,
        rewrite: &Rewrite,
        clock_rate: u32,
        source: SocketAddr,
    ) {
        if self.joining.is_empty() {
            return;
        }
        let mut i = 0;
        while i < self.joining.len() {
            let j = self.joining[i];
            if j.addr != source && (starts_picture || j.any_packet || now >= j.since + timeout) {
                self.joining.swap_remove(i);
                let t = j
                    .resume
                    .and_then(|r| self.continuation(r, rewrite, now, clock_rate));
                self.add_destination(j.payload_type, j.addr, t);
            } else {
                i += 1;
            }
        }
    }

    /// The translation that makes `rewrite` the packet right after `r` in the receiver's
    /// stream: next sequence number, timestamp advanced by the wall-clock gap. `None` when the
    /// feed's own numbering already is that (the receiver comes back with nothing missed).
    fn continuation(
        &self,
        r: Resume,
        rewrite: &Rewrite,
        now: Instant,
        clock_rate: u32,
    ) -> Option<Translation> {
        let gap =
            r.at.map_or(Duration::ZERO, |at| now.saturating_duration_since(at));
        let ts = r.ts.wrapping_add(ticks(gap, clock_rate.max(1)));
        let t = Translation {
            ssrc: r.ssrc,
            seq_delta: r.seq.wrapping_add(1).wrapping_sub(rewrite.sequence),
            ts_delta: ts.wrapping_sub(rewrite.timestamp),
        };
        (t.ssrc != self.ssrc || t.seq_delta != 0 || t.ts_delta != 0).then_some(t)
    }

    /// Where the stream of a receiver with translation `t` stands on this feed now.
    fn resume_point(&self, t: Option<Translation>) -> Resume {
        self.resume_from(self.out.last(), t)
    }

    /// Where the stream of a receiver with translation `t` stood when the feed's last packet
    /// was `(seq, ts, at)`.
    fn resume_from(
        &self,
        (seq, ts, at): (u16, u32, Option<Instant>),
        t: Option<Translation>,
    ) -> Resume {
        match t {
            None => Resume {
                ssrc: self.ssrc,
                seq,
                ts,
                at,
            },
            Some(t) => Resume {
                ssrc: t.ssrc,
                seq: seq.wrapping_add(t.seq_delta),
                ts: ts.wrapping_add(t.ts_delta),
                at,
            },
        }
    }

    fn add_destination(&mut self, pt: u8, addr: SocketAddr, translation: Option<Translation>) {
        match self
            .groups
            .iter_mut()
            .find(|g| g.payload_type == pt && g.translation == translation)
        {
            Some(g) => g.destinations.push(addr),
            None => self.groups.push(DestGroup {
                payload_type: pt,
                translation,
                destinations: vec![addr],
            }),
        }
    }

    fn remove_destination(&mut self, pt: u8, addr: SocketAddr) -> Removed {
        if let Some(i) = self
            .joining
            .iter()
            .position(|j| j.payload_type == pt && j.addr == addr)
        {
            return Removed::Joining(self.joining.swap_remove(i));
        }
        match self.take_destination(pt, addr) {
            Some(t) => Removed::Destination(t),
            None => Removed::Absent,
        }
    }

    /// The feed cut over to a source that is also one of its receivers: the fan-out never
    /// sends it its own packets (D24), so from here its stream would have a gap. It goes back
    /// to waiting, keeping where its stream stood before this packet (`prior`: the feed's
    /// last sequence number, timestamp and time), and starts again when the feed shows someone
    /// else.
    fn set_aside_source(
        &mut self,
        now: Instant,
        pt: u8,
        addr: SocketAddr,
        prior: (u16, u32, Option<Instant>),
    ) {
        if let Some(t) = self.take_destination(pt, addr) {
            self.joining.push(Joiner {
                payload_type: pt,
                addr,
                since: now,
                resume: Some(self.resume_from(prior, t)),
                any_packet: false,
            });
        }
    }

    /// Takes `addr` out of the destination groups: its translation if it was there.
    fn take_destination(&mut self, pt: u8, addr: SocketAddr) -> Option<Option<Translation>> {
        for i in 0..self.groups.len() {
            let g = &mut self.groups[i];
            if g.payload_type != pt {
                continue;
            }
            if let Some(j) = g.destinations.iter().position(|a| *a == addr) {
                g.destinations.swap_remove(j);
                let t = g.translation;
                if g.destinations.is_empty() {
                    self.groups.swap_remove(i);
                }
                return Some(t);
            }
        }
        None
    }

    /// Puts a receiver that changed address or payload type back where it was.
    fn restore(&mut self, pt: u8, addr: SocketAddr, was: Removed) {
        match was {
            Removed::Joining(j) => self.joining.push(Joiner {
                payload_type: pt,
                addr,
                ..j
            }),
            Removed::Destination(t) => self.add_destination(pt, addr, t),
            Removed::Absent => self.add_destination(pt, addr, None),
        }
    }

    /// The SSRC the receiver at (`pt`, `addr`) knows this feed by, and its translation.
    fn seen_by(&self, pt: u8, addr: SocketAddr) -> (Ssrc, Option<Translation>) {
        for g in &self.groups {
            if let Some(t) = g.translation
                && g.payload_type == pt
                && g.destinations.contains(&addr)
            {
                return (t.ssrc, Some(t));
            }
        }
        let joining = self
            .joining
            .iter()
            .find(|j| j.payload_type == pt && j.addr == addr)
            .and_then(|j| j.resume);
        (joining.map_or(self.ssrc, |r| r.ssrc), None)
    }
}

/// Work found while a leg and the feeds are borrowed, done right after.
#[derive(Clone, Copy, Debug)]
enum Deferred {
    Unwatch {
        leg: LegId,
        kind: MediaKind,
        feed: FeedId,
    },
    Keyframe {
        leg: LegId,
        urgent: bool,
    },
    SwitchTimers {
        feed: FeedId,
    },
    FeedReport {
        feed: FeedId,
    },
    Health {
        leg: LegId,
        kind: MediaKind,
        at: Instant,
    },
}

/// How pressing a keyframe request is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Urgency {
    /// A switch waits on it: send unless the source was asked moments ago.
    Switch,
    /// A receiver asked: coalesce to one per `pli_min_interval`.
    Receiver,
}

/// A snapshot of one feed, for operators and tests.
#[derive(Clone, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub struct FeedInfo {
    /// Audio or video.
    pub kind: MediaKind,
    /// The output SSRC.
    pub ssrc: Ssrc,
    /// The source receivers currently see.
    pub showing: Option<LegId>,
    /// The source a pending switch waits for.
    pub pending: Option<LegId>,
    /// Subscribed legs.
    pub subscribers: Vec<LegId>,
    /// Whether the recording tap is on.
    pub tap: bool,
}

/// The media engine of one meeting. See the crate documentation for the run loop.
#[derive(Debug)]
pub struct Engine {
    cfg: EngineConfig,
    rng: u64,
    legs: HashMap<LegId, Leg, BuildHasherDefault<IdHasher>>,
    addrs: AddrMap,
    feeds: Vec<Option<Feed>>,
    /// Our feeds' SSRCs (we chose them), looked up with media SSRCs from receivers' RTCP.
    feed_by_ssrc: HashMap<u32, FeedId, foldhash::fast::RandomState>,
    scratch: Vec<ForwardItem>,
    deferred: Vec<Deferred>,
    timers: Timers,
    events: VecDeque<MediaEvent>,
    transmits: VecDeque<Transmit>,
    stats: EngineStats,
    next_epoch: u64,
    /// Sender SSRC of the engine's own RTCP (receiver reports, keyframe requests).
    rtcp_ssrc: Ssrc,
    /// Origin of the engine's NTP clock (see `ntp`).
    origin: Option<Instant>,
}

impl Engine {
    /// A meeting's engine with no legs and no feeds.
    pub fn new(cfg: EngineConfig) -> Engine {
        let mut e = Engine {
            cfg,
            rng: cfg.ssrc_seed,
            legs: HashMap::default(),
            addrs: AddrMap::default(),
            feeds: Vec::new(),
            feed_by_ssrc: HashMap::default(),
            scratch: Vec::new(),
            deferred: Vec::new(),
            timers: Timers::default(),
            events: VecDeque::new(),
            transmits: VecDeque::new(),
            stats: EngineStats::default(),
            next_epoch: 0,
            rtcp_ssrc: Ssrc(0),
            origin: None,
        };
        e.rtcp_ssrc = e.fresh_ssrc();
        e
    }

    /// The configuration this engine runs with.
    pub fn config(&self) -> &EngineConfig {
        &self.cfg
    }

    /// The SSRC of the engine's own RTCP (receiver reports and keyframe requests to sources).
    pub fn rtcp_ssrc(&self) -> Ssrc {
        self.rtcp_ssrc
    }

    fn next_random(&mut self) -> u64 {
        // splitmix64: tiny, seeded, good enough to pick SSRCs and initial numbers.
        self.rng = self.rng.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.rng;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    fn fresh_ssrc(&mut self) -> Ssrc {
        loop {
            let s = self.next_random() as u32;
            if s != 0 && s != self.rtcp_ssrc.0 && !self.feed_by_ssrc.contains_key(&s) {
                return Ssrc(s);
            }
        }
    }

    fn epoch(&mut self) -> u64 {
        self.next_epoch += 1;
        self.next_epoch
    }

    fn touch(&mut self, now: Instant) {
        if self.origin.is_none() {
            self.origin = Some(now);
        }
    }

    // ----- keyframe requests ------------------------------------------------------------

    fn request_keyframe(&mut self, now: Instant, leg: LegId, urgency: Urgency) {
        let (pli_min, retry) = (self.cfg.pli_min_interval, self.cfg.keyframe_retry);
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        let epoch = l.epoch;
        let Some(src) = l.sources[MediaKind::Video.index()].as_mut() else {
            return;
        };
        match urgency {
            Urgency::Switch => {
                // Two feeds switching to the same venue at once need one request, not two; but
                // a request already answered (a keyframe came after it) cannot serve this
                // switch, which would otherwise wait a whole retry interval.
                if src
                    .last_request_at
                    .is_some_and(|t| now < t + retry / 2 && src.keyframe_ref_at < t)
                {
                    return;
                }
            }
            Urgency::Receiver => {
                if let Some(last) = src.last_request_at
                    && now < last + pli_min
                {
                    self.stats.keyframe_requests_coalesced += 1;
                    if src.flush_at.is_none() {
                        let at = last + pli_min;
                        src.flush_at = Some(at);
                        self.timers.schedule(
                            at,
                            Timer::KeyframeFlush {
                                leg,
                                epoch,
                                kind: MediaKind::Video.index(),
                            },
                        );
                    }
                    return;
                }
            }
        }
        self.send_keyframe_request(now, leg);
    }

    fn send_keyframe_request(&mut self, now: Instant, leg: LegId) {
        let sender = self.rtcp_ssrc;
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        let Some(video) = l.cfg.video else { return };
        let dest = l.cfg.rtcp_destination();
        let socket = if l.cfg.rtcp_addr.is_some() {
            LocalSocket::Rtcp
        } else {
            LocalSocket::Rtp
        };
        let Some(src) = l.sources[MediaKind::Video.index()].as_mut() else {
            return;
        };
        src.last_request_at = Some(now);
        src.flush_at = None;
        l.stats.keyframe_requests += 1;
        self.stats.keyframe_requests += 1;
        let media = Ssrc(src.ssrc().unwrap_or(0));
        if matches!(
            video.keyframe_request,
            KeyframeRequestMode::Rtcp | KeyframeRequestMode::Both
        ) {
            src.fir_seq = src.fir_seq.wrapping_add(1);
            let contents = rtcp::keyframe_request(sender, media, src.fir_seq);
            self.transmits.push_back(Transmit {
                socket,
                destination: dest,
                contents,
            });
            self.events.push_back(MediaEvent::KeyframeRequested {
                leg,
                via: KeyframeVia::Rtcp,
            });
        }
        if matches!(
            video.keyframe_request,
            KeyframeRequestMode::SipInfo | KeyframeRequestMode::Both
        ) {
            self.events.push_back(MediaEvent::KeyframeRequested {
                leg,
                via: KeyframeVia::SipInfo,
            });
        }
        tracing::debug!(?leg, ?media, "keyframe requested");
    }

    // ----- the packet path --------------------------------------------------------------

    /// Decides what to do with one datagram received on either of the meeting's sockets.
    ///
    /// RTP from a shown source comes back as [`Routed::Forward`]: for each forward, write the
    /// header once ([`crate::apply`]), then per group write its payload type and send to its
    /// destinations. RTCP is terminated ([`Routed::Consumed`]); answers come from
    /// [`Engine::poll_transmit`]. Everything else is [`Routed::Dropped`] with a reason that is
    /// also counted. No heap allocation in steady state.
    pub fn handle_datagram(&mut self, now: Instant, from: SocketAddr, buf: &[u8]) -> Routed<'_> {
        self.stats.datagrams += 1;
        self.scratch.clear();
        let Some(&(leg, role)) = self.addrs.get(&from) else {
            self.stats.dropped.add(DropReason::UnknownAddress);
            return Routed::Dropped(DropReason::UnknownAddress);
        };
        let result = match classify(buf) {
            PacketClass::Rtp if role == AddrRole::Rtcp => Err(DropReason::RtpOnRtcpAddress),
            PacketClass::Rtp => self.route_rtp(now, leg, buf).map(Some),
            PacketClass::Rtcp => self.handle_rtcp(now, leg, buf).map(|()| None),
            _ => Err(DropReason::NotRtp),
        };
        // Almost every packet defers nothing; skip the call (it is not inlined).
        if !self.deferred.is_empty() {
            self.run_deferred(now);
        }
        match result {
            Ok(Some(RtpVerdict::Forward)) => Routed::Forward(Forwards {
                items: &self.scratch,
                feeds: &self.feeds,
            }),
            Ok(Some(RtpVerdict::Mixer)) => {
                self.stats.to_mixer += 1;
                Routed::Audio { leg }
            }
            Ok(None) => Routed::Consumed,
            Err(reason) => {
                self.stats.dropped.add(reason);
                if let Some(l) = self.legs.get_mut(&leg) {
                    l.stats.dropped.add(reason);
                }
                Routed::Dropped(reason)
            }
        }
    }

    fn route_rtp(
        &mut self,
        now: Instant,
        leg_id: LegId,
        buf: &[u8],
    ) -> Result<RtpVerdict, DropReason> {
        let hdr = RtpHeader::parse(buf).map_err(|_| DropReason::MalformedRtp)?;
        let Engine {
            legs,
            feeds,
            scratch,
            deferred,
            events,
            stats,
            cfg,
            ..
        } = self;
        let leg = legs.get_mut(&leg_id).ok_or(DropReason::UnknownAddress)?;
        leg.stats.rtp_received += 1;
        leg.stats.rtp_bytes += buf.len() as u64;
        if !leg.cfg.send {
            return Err(DropReason::LegNotSending);
        }
        let mixed = match leg.audio_route {
            AudioRoute::Mixed { telephone_event } if leg.cfg.audio.is_some() => {
                Some(telephone_event)
            }
            _ => None,
        };
        let kind = match leg.cfg.kind_of_payload_type(hdr.payload_type) {
            Some(kind) => kind,
            // Telephone-events share the audio stream's SSRC and sequence space (RFC 4733
            // §2.1), so they go through the audio source's checks and counters.
            None if mixed.flatten() == Some(hdr.payload_type) => MediaKind::Audio,
            None => return Err(DropReason::UnknownPayloadType),
        };
        let clock_rate = leg.cfg.clock_rate(kind).unwrap_or(90_000);
        let keyframe = match (kind, leg.cfg.video) {
            (MediaKind::Video, Some(v)) => is_keyframe(v.codec, hdr.payload(buf)),
            _ => false,
        };
        let k = kind.index();
        let src = leg.sources[k].as_mut().ok_or(DropReason::LegNotSending)?;

        // SSRC learning, with probation against strays.
        let ssrc = hdr.ssrc.0;
        let mut changed_from = None;
        match src.ssrc {
            SsrcState::Unknown => src.ssrc = SsrcState::Known(ssrc),
            SsrcState::Known(k) if k == ssrc => {}
            SsrcState::Probation { known, .. } if known == ssrc => {
                src.ssrc = SsrcState::Known(known)
            }
            SsrcState::Known(known) => {
                src.ssrc = SsrcState::Probation {
                    known,
                    candidate: ssrc,
                    seen: 1,
                };
                return Err(DropReason::SsrcProbation);
            }
            SsrcState::Probation {
                known,
                candidate,
                seen,
            } => {
                let seen = if candidate == ssrc { seen + 1 } else { 1 };
                if seen < SSRC_PROBATION {
                    src.ssrc = SsrcState::Probation {
                        known,
                        candidate: ssrc,
                        seen,
                    };
                    return Err(DropReason::SsrcProbation);
                }
                src.ssrc = SsrcState::Known(ssrc);
                src.recv = None;
                changed_from = Some(known);
            }
        }

        // Health.
        src.last_packet_at = now;
        src.recv
            .get_or_insert_with(|| {
                ReceiveStats::new(hdr.ssrc, clock_rate, Duration::from_secs(1), now)
            })
            .on_packet(now, &hdr);
        match src.health {
            Health::Waiting => {
                src.health = Health::Live;
                src.keyframe_ref_at = now;
            }
            Health::NoMedia => {
                src.health = Health::Live;
                src.keyframe_ref_at = now;
                events.push_back(MediaEvent::SourceResumed { leg: leg_id, kind });
                let at = now + cfg.no_media_after;
                src.health_check_at = Some(at);
                deferred.push(Deferred::Health {
                    leg: leg_id,
                    kind,
                    at,
                });
            }
            Health::Frozen if keyframe => {
                src.health = Health::Live;
                events.push_back(MediaEvent::SourceThawed { leg: leg_id });
            }
            Health::Live | Health::Frozen => {}
        }
        if keyframe {
            src.keyframe_ref_at = now;
        }

        if mixed.is_some() && kind == MediaKind::Audio {
            if let Some(old) = changed_from {
                events.push_back(MediaEvent::SsrcChanged {
                    leg: leg_id,
                    kind,
                    old: Ssrc(old),
                    new: Ssrc(ssrc),
                });
            }
            return Ok(RtpVerdict::Mixer);
        }

        let source_addr = leg.cfg.rtp_addr;
        let source_pt = leg.cfg.payload_type(kind);
        let watchers = &leg.watchers[k];
        if let Some(old) = changed_from {
            events.push_back(MediaEvent::SsrcChanged {
                leg: leg_id,
                kind,
                old: Ssrc(old),
                new: Ssrc(ssrc),
            });
            resync_on_ssrc_change(feeds, watchers, leg_id, kind, now, deferred);
        }

        let info = PacketInfo {
            from: leg_id,
            sequence: hdr.sequence,
            timestamp: hdr.timestamp,
            marker: hdr.marker,
            keyframe,
            clock_rate,
        };
        let mut best_drop = DropReason::NotShown;
        let mut restarted = false;
        for &fid in watchers {
            let Some(Some(feed)) = feeds.get_mut(fid.0 as usize) else {
                continue;
            };
            let before = feed.state.shown();
            let prior = feed.out.last();
            let decision = feed.state.decide(&info, &mut feed.out, feed.ssrc, now);
            let rewrite = match decision {
                Decision::Drop(reason) => {
                    if reason != DropReason::NotShown {
                        best_drop = reason;
                    }
                    continue;
                }
                Decision::Forward(r) => r,
                Decision::Resync(r) => {
                    if !restarted {
                        restarted = true;
                        events.push_back(MediaEvent::SequenceRestarted { leg: leg_id, kind });
                        if kind == MediaKind::Video {
                            deferred.push(Deferred::Keyframe {
                                leg: leg_id,
                                urgent: true,
                            });
                        }
                    }
                    r
                }
                Decision::CutOver {
                    rewrite,
                    requested_at,
                    forced,
                    cause,
                } => {
                    if let Some(pt) = source_pt {
                        feed.set_aside_source(now, pt, source_addr, prior);
                    }
                    // Everyone starts together on the new picture.
                    feed.admit_joiners(
                        now,
                        true,
                        cfg.switch_timeout,
                        &rewrite,
                        clock_rate,
                        source_addr,
                    );
                    feed.epoch += 1;
                    feed.clock_rate = clock_rate;
                    if let Some(prev) = before.filter(|p| *p != leg_id) {
                        deferred.push(Deferred::Unwatch {
                            leg: prev,
                            kind,
                            feed: fid,
                        });
                    }
                    if cause == SwitchCause::Command {
                        stats.switches += 1;
                        events.push_back(MediaEvent::SwitchCompleted {
                            feed: fid,
                            to: leg_id,
                            latency: now.saturating_duration_since(requested_at),
                            forced,
                        });
                    }
                    if forced {
                        stats.forced_switches += 1;
                        deferred.push(Deferred::Keyframe {
                            leg: leg_id,
                            urgent: true,
                        });
                    }
                    rewrite
                }
            };
            feed.admit_joiners(
                now,
                info.keyframe,
                cfg.switch_timeout,
                &rewrite,
                clock_rate,
                source_addr,
            );
            feed.clock_rate = clock_rate;
            feed.cache.store(rewrite.sequence, buf, |b| {
                rewrite_header(b, rewrite.ssrc, rewrite.sequence, rewrite.timestamp);
                set_marker(b, rewrite.marker);
            });
            feed.packets_sent = feed.packets_sent.wrapping_add(1);
            feed.octets_sent = feed.octets_sent.wrapping_add(hdr.payload_len as u32);
            if !feed.report_scheduled {
                feed.report_scheduled = true;
                deferred.push(Deferred::FeedReport { feed: fid });
            }
            stats.forwarded += 1;
            stats.sends += feed
                .groups
                .iter()
                .map(|g| g.destinations.len() as u64)
                .sum::<u64>();
            // Pushed even without receivers: the shell may count or tap it, and an empty
            // group list costs it nothing.
            scratch.push(ForwardItem { feed: fid, rewrite });
        }
        if scratch.is_empty() {
            return Err(best_drop);
        }
        Ok(RtpVerdict::Forward)
    }

    fn run_deferred(&mut self, now: Instant) {
        while let Some(d) = self.deferred.pop() {
            match d {
                Deferred::Unwatch { leg, kind, feed } => self.unwatch(leg, kind, feed),
                Deferred::Keyframe { leg, urgent } => {
                    let u = if urgent {
                        Urgency::Switch
                    } else {
                        Urgency::Receiver
                    };
                    self.request_keyframe(now, leg, u);
                }
                Deferred::SwitchTimers { feed } => self.schedule_switch_timers(now, feed),
                Deferred::FeedReport { feed } => self
                    .timers
                    .schedule(now + self.cfg.rtcp_interval, Timer::FeedReport { feed }),
                Deferred::Health { leg, kind, at } => {
                    if let Some(l) = self.legs.get(&leg) {
                        let epoch = l.epoch;
                        self.timers.schedule(
                            at,
                            Timer::Health {
                                leg,
                                epoch,
                                kind: kind.index(),
                            },
                        );
                    }
                }
            }
        }
    }
}

fn pending_target(state: &FeedState) -> Option<LegId> {
    match state {
        FeedState::Switching { to, .. } => Some(*to),
        _ => None,
    }
}

/// The shown source changed SSRC: its numbering is void; feeds showing it wait for its next
/// keyframe (video) or packet (audio).
fn resync_on_ssrc_change(
    feeds: &mut [Option<Feed>],
    watchers: &[FeedId],
    leg: LegId,
    kind: MediaKind,
    now: Instant,
    deferred: &mut Vec<Deferred>,
) {
    let gate = match kind {
        MediaKind::Video => Gate::Keyframe,
        MediaKind::Audio => Gate::AnyPacket { forced: false },
    };
    let mut any = false;
    for &fid in watchers {
        let Some(Some(feed)) = feeds.get_mut(fid.0 as usize) else {
            continue;
        };
        match &mut feed.state {
            FeedState::Showing(s) if s.source == leg => {
                feed.state = FeedState::Switching {
                    from: None,
                    to: leg,
                    gate,
                    cause: SwitchCause::SsrcChange,
                    requested_at: now,
                };
                feed.epoch += 1;
                any = true;
                if kind == MediaKind::Video {
                    deferred.push(Deferred::SwitchTimers { feed: fid });
                }
            }
            FeedState::Switching { from, .. } if from.is_some_and(|s: Shown| s.source == leg) => {
                *from = None;
            }
            _ => {}
        }
    }
    if any && kind == MediaKind::Video {
        deferred.push(Deferred::Keyframe { leg, urgent: true });
    }
}
