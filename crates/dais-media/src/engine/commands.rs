//! Commands: legs, feeds, subscriptions and switches (the control plane of the engine).

use std::time::{Duration, Instant};

use super::{
    AddrRole, Engine, Feed, FeedInfo, KINDS, Leg, Removed, Source, Urgency, pending_target,
};
use crate::cache::RetransmitCache;
use crate::error::MediaError;
use crate::events::{LegStats, MediaEvent};
use crate::switching::{FeedState, Gate, OutputClock, SwitchCause};
use crate::timers::Timer;
use crate::types::{AudioRoute, FeedId, LegConfig, LegId, MediaKind};

impl Engine {
    // ----- legs -------------------------------------------------------------------------

    pub(super) fn check_addresses(&self, leg: LegId, cfg: &LegConfig) -> Result<(), MediaError> {
        if cfg.rtcp_addr == Some(cfg.rtp_addr) {
            return Err(MediaError::RtcpAddrIsRtpAddr);
        }
        for addr in std::iter::once(cfg.rtp_addr).chain(cfg.rtcp_addr) {
            if let Some((owner, _)) = self.addrs.get(&addr)
                && *owner != leg
            {
                return Err(MediaError::AddressInUse {
                    addr,
                    owner: *owner,
                });
            }
        }
        Ok(())
    }

    /// Adds a leg. Its source address identifies its packets from now on.
    ///
    /// # Errors
    /// [`MediaError::DuplicateLeg`], [`MediaError::AddressInUse`],
    /// [`MediaError::RtcpAddrIsRtpAddr`].
    pub fn add_leg(&mut self, now: Instant, leg: LegId, cfg: LegConfig) -> Result<(), MediaError> {
        self.touch(now);
        if self.legs.contains_key(&leg) {
            return Err(MediaError::DuplicateLeg(leg));
        }
        self.check_addresses(leg, &cfg)?;
        let epoch = self.epoch();
        self.addrs.insert(cfg.rtp_addr, (leg, AddrRole::Rtp));
        if let Some(a) = cfg.rtcp_addr {
            self.addrs.insert(a, (leg, AddrRole::Rtcp));
        }
        self.legs.insert(
            leg,
            Leg {
                cfg,
                epoch,
                sources: [None, None],
                watchers: [Vec::new(), Vec::new()],
                subscriptions: Vec::new(),
                audio_route: AudioRoute::Feeds,
                resume: [None, None],
                stats: LegStats::default(),
            },
        );
        for kind in KINDS {
            self.attach_source(now, leg, kind);
        }
        if cfg.send {
            self.timers.schedule(
                now + self.cfg.rtcp_interval,
                Timer::SourceReport { leg, epoch },
            );
        }
        Ok(())
    }

    /// Creates the source of `kind` if the leg's config says it sends that kind.
    pub(super) fn attach_source(&mut self, now: Instant, leg: LegId, kind: MediaKind) {
        let no_media_after = self.cfg.no_media_after;
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        let sends = l.cfg.send && l.cfg.payload_type(kind).is_some();
        let slot = &mut l.sources[kind.index()];
        if sends && slot.is_none() {
            let mut src = Source::new(now);
            let at = now + no_media_after;
            src.health_check_at = Some(at);
            *slot = Some(src);
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

    /// Removes the source of `kind`: feeds showing it go idle, switches to it are abandoned.
    pub(super) fn detach_source(&mut self, leg: LegId, kind: MediaKind) {
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        l.sources[kind.index()] = None;
        let watchers = std::mem::take(&mut l.watchers[kind.index()]);
        for fid in watchers {
            let Some(Some(feed)) = self.feeds.get_mut(fid.0 as usize) else {
                continue;
            };
            match feed.state {
                FeedState::Showing(s) if s.source == leg => {
                    feed.state = FeedState::Idle;
                    feed.epoch += 1;
                    self.events.push_back(MediaEvent::FeedIdle {
                        feed: fid,
                        lost: leg,
                    });
                }
                FeedState::Switching { from, to, .. } if to == leg => {
                    feed.epoch += 1;
                    self.events
                        .push_back(MediaEvent::SwitchAbandoned { feed: fid, to });
                    feed.state = match from {
                        Some(s) if s.source != leg => FeedState::Showing(s),
                        Some(_) => {
                            self.events.push_back(MediaEvent::FeedIdle {
                                feed: fid,
                                lost: leg,
                            });
                            FeedState::Idle
                        }
                        None => FeedState::Idle,
                    };
                }
                FeedState::Switching { ref mut from, .. }
                    if from.is_some_and(|s| s.source == leg) =>
                {
                    *from = None;
                }
                _ => {}
            }
        }
    }

    /// Changes a leg's configuration (a re-INVITE): addresses, payload types, directions.
    /// Feeds keep showing the leg if it still sends that kind; subscriptions follow the new
    /// address and payload type, or end if the leg no longer receives that kind.
    ///
    /// # Errors
    /// [`MediaError::UnknownLeg`], [`MediaError::AddressInUse`],
    /// [`MediaError::RtcpAddrIsRtpAddr`].
    pub fn update_leg(
        &mut self,
        now: Instant,
        leg: LegId,
        cfg: LegConfig,
    ) -> Result<(), MediaError> {
        self.touch(now);
        let old = self.legs.get(&leg).ok_or(MediaError::UnknownLeg(leg))?.cfg;
        self.check_addresses(leg, &cfg)?;
        // Subscriptions move to the new address / payload type.
        let subs = self
            .legs
            .get(&leg)
            .map(|l| l.subscriptions.clone())
            .unwrap_or_default();
        for fid in subs {
            let Some(Some(feed)) = self.feeds.get_mut(fid.0 as usize) else {
                continue;
            };
            let kind = feed.kind;
            let was = match old.payload_type(kind) {
                Some(pt) => feed.remove_destination(pt, old.rtp_addr),
                None => Removed::Absent,
            };
            match cfg.payload_type(kind) {
                // The receiver keeps its place and its own numbering (D25).
                Some(pt) if cfg.recv => feed.restore(pt, cfg.rtp_addr, was),
                _ => {
                    feed.subscribers.retain(|l| *l != leg);
                    let resume = match was {
                        Removed::Destination(t) => Some(feed.resume_point(t)),
                        Removed::Joining(j) => j.resume,
                        Removed::Absent => None,
                    };
                    if let Some(l) = self.legs.get_mut(&leg) {
                        l.subscriptions.retain(|f| *f != fid);
                        if resume.is_some() {
                            l.resume[kind.index()] = resume;
                        }
                    }
                }
            }
        }
        self.addrs.remove(&old.rtp_addr);
        if let Some(a) = old.rtcp_addr {
            self.addrs.remove(&a);
        }
        self.addrs.insert(cfg.rtp_addr, (leg, AddrRole::Rtp));
        if let Some(a) = cfg.rtcp_addr {
            self.addrs.insert(a, (leg, AddrRole::Rtcp));
        }
        if let Some(l) = self.legs.get_mut(&leg) {
            l.cfg = cfg;
        }
        for kind in KINDS {
            let sends = cfg.send && cfg.payload_type(kind).is_some();
            if sends {
                self.attach_source(now, leg, kind);
            } else {
                self.detach_source(leg, kind);
            }
        }
        if cfg.send
            && !old.send
            && let Some(epoch) = self.legs.get(&leg).map(|l| l.epoch)
        {
            self.timers.schedule(
                now + self.cfg.rtcp_interval,
                Timer::SourceReport { leg, epoch },
            );
        }
        Ok(())
    }

    /// Sends a leg's uplink audio to the feeds (the default) or to the shell's mixer. While it
    /// is [`AudioRoute::Mixed`], `handle_datagram` answers the leg's audio and telephone-event
    /// packets with [`Routed::Audio`](crate::Routed::Audio) once they pass the address, header
    /// and SSRC checks, and feeds that show the leg's audio get nothing from it (switch them
    /// elsewhere). The route survives [`update_leg`](Self::update_leg).
    ///
    /// # Errors
    /// [`MediaError::UnknownLeg`]; [`MediaError::KindNotNegotiated`] for `Mixed` on a leg
    /// without audio.
    pub fn set_audio_route(&mut self, leg: LegId, route: AudioRoute) -> Result<(), MediaError> {
        let l = self.legs.get_mut(&leg).ok_or(MediaError::UnknownLeg(leg))?;
        if matches!(route, AudioRoute::Mixed { .. }) && l.cfg.audio.is_none() {
            return Err(MediaError::KindNotNegotiated {
                leg,
                kind: MediaKind::Audio,
            });
        }
        l.audio_route = route;
        Ok(())
    }

    /// A leg's audio route, `None` for an unknown leg.
    pub fn audio_route(&self, leg: LegId) -> Option<AudioRoute> {
        self.legs.get(&leg).map(|l| l.audio_route)
    }

    /// A leg's current configuration, `None` for an unknown leg.
    pub fn leg_config(&self, leg: LegId) -> Option<&LegConfig> {
        self.legs.get(&leg).map(|l| &l.cfg)
    }

    /// Removes a leg: it stops being a source and a receiver. Unknown legs are ignored.
    pub fn remove_leg(&mut self, now: Instant, leg: LegId) {
        self.touch(now);
        for kind in KINDS {
            self.detach_source(leg, kind);
        }
        let Some(l) = self.legs.remove(&leg) else {
            return;
        };
        self.addrs.remove(&l.cfg.rtp_addr);
        if let Some(a) = l.cfg.rtcp_addr {
            self.addrs.remove(&a);
        }
        for fid in l.subscriptions {
            if let Some(Some(feed)) = self.feeds.get_mut(fid.0 as usize) {
                feed.subscribers.retain(|x| *x != leg);
                if let Some(pt) = l.cfg.payload_type(feed.kind) {
                    feed.remove_destination(pt, l.cfg.rtp_addr);
                }
            }
        }
    }

    // ----- feeds ------------------------------------------------------------------------

    /// Creates a feed with its own output SSRC and random initial sequence number and
    /// timestamp, showing nothing.
    pub fn create_feed(&mut self, kind: MediaKind) -> FeedId {
        let id = FeedId(self.feeds.len() as u32);
        let ssrc = self.fresh_ssrc();
        let r = self.next_random();
        let cache = match kind {
            MediaKind::Video => self.cfg.nack_cache,
            MediaKind::Audio => 0,
        };
        self.feed_by_ssrc.insert(ssrc.0, id);
        self.feeds.push(Some(Feed {
            kind,
            ssrc,
            state: FeedState::Idle,
            out: OutputClock::new(r as u16, (r >> 16) as u32),
            epoch: 0,
            subscribers: Vec::new(),
            groups: Vec::new(),
            joining: Vec::new(),
            tap: false,
            cache: RetransmitCache::new(cache),
            clock_rate: 0,
            packets_sent: 0,
            octets_sent: 0,
            report_scheduled: false,
        }));
        id
    }

    /// Removes a feed: its receivers are unsubscribed, its sources no longer feed it.
    pub fn remove_feed(&mut self, feed: FeedId) {
        let Some(f) = self.feeds.get_mut(feed.0 as usize).and_then(Option::take) else {
            return;
        };
        self.feed_by_ssrc.remove(&f.ssrc.0);
        let mut f = f;
        for leg in std::mem::take(&mut f.subscribers) {
            if let Some(l) = self.legs.get_mut(&leg) {
                l.subscriptions.retain(|x| *x != feed);
                // Its next feed continues the stream it was receiving here.
                let resume = match l.cfg.payload_type(f.kind) {
                    Some(pt) => match f.remove_destination(pt, l.cfg.rtp_addr) {
                        Removed::Destination(t) => Some(f.resume_point(t)),
                        Removed::Joining(j) => j.resume,
                        Removed::Absent => None,
                    },
                    None => None,
                };
                if resume.is_some() {
                    l.resume[f.kind.index()] = resume;
                }
            }
        }
        let k = f.kind.index();
        for leg in [f.state.shown(), pending_target(&f.state)]
            .into_iter()
            .flatten()
        {
            if let Some(l) = self.legs.get_mut(&leg) {
                l.watchers[k].retain(|x| *x != feed);
            }
        }
    }

    pub(super) fn feed(&self, feed: FeedId) -> Result<&Feed, MediaError> {
        self.feeds
            .get(feed.0 as usize)
            .and_then(Option::as_ref)
            .ok_or(MediaError::UnknownFeed(feed))
    }

    pub(super) fn feed_mut(&mut self, feed: FeedId) -> Result<&mut Feed, MediaError> {
        self.feeds
            .get_mut(feed.0 as usize)
            .and_then(Option::as_mut)
            .ok_or(MediaError::UnknownFeed(feed))
    }

    /// A snapshot of a feed.
    pub fn feed_info(&self, feed: FeedId) -> Option<FeedInfo> {
        let f = self.feed(feed).ok()?;
        Some(FeedInfo {
            kind: f.kind,
            ssrc: f.ssrc,
            showing: f.state.shown(),
            pending: pending_target(&f.state),
            subscribers: f.subscribers.clone(),
            tap: f.tap,
        })
    }

    /// Makes `leg` a receiver of `feed`. A video receiver joining a running feed needs a
    /// keyframe, so one is requested (coalesced) from the feed's source.
    ///
    /// # Errors
    /// [`MediaError::UnknownLeg`], [`MediaError::UnknownFeed`],
    /// [`MediaError::KindNotNegotiated`], [`MediaError::LegNotReceiving`],
    /// [`MediaError::AlreadySubscribed`].
    pub fn subscribe(&mut self, now: Instant, leg: LegId, feed: FeedId) -> Result<(), MediaError> {
        self.touch(now);
        let kind = self.feed(feed)?.kind;
        let l = self.legs.get(&leg).ok_or(MediaError::UnknownLeg(leg))?;
        let pt = l
            .cfg
            .payload_type(kind)
            .ok_or(MediaError::KindNotNegotiated { leg, kind })?;
        if !l.cfg.recv {
            return Err(MediaError::LegNotReceiving(leg));
        }
        if let Some(existing) = l
            .subscriptions
            .iter()
            .copied()
            .find(|f| self.feed(*f).is_ok_and(|f| f.kind == kind))
        {
            if existing == feed {
                return Ok(());
            }
            return Err(MediaError::AlreadySubscribed {
                leg,
                kind,
                existing,
            });
        }
        let addr = l.cfg.rtp_addr;
        let resume = l.resume[kind.index()];
        let f = self.feed_mut(feed)?;
        f.subscribers.push(leg);
        f.join(now, pt, addr, resume);
        let shown = f.state.shown();
        if let Some(l) = self.legs.get_mut(&leg) {
            l.subscriptions.push(feed);
        }
        if kind == MediaKind::Video
            && let Some(src) = shown
        {
            self.request_keyframe(now, src, Urgency::Receiver);
        }
        Ok(())
    }

    /// Stops `leg` receiving `feed`. Unknown pairs are ignored.
    pub fn unsubscribe(&mut self, leg: LegId, feed: FeedId) {
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        let before = l.subscriptions.len();
        l.subscriptions.retain(|f| *f != feed);
        if l.subscriptions.len() == before {
            return;
        }
        let cfg = l.cfg;
        let mut resume = None;
        if let Ok(f) = self.feed_mut(feed) {
            f.subscribers.retain(|x| *x != leg);
            // Its next feed continues the stream it was receiving here (D25); a receiver
            // still waiting keeps the point it waits to continue from.
            let point = match cfg.payload_type(f.kind) {
                Some(pt) => match f.remove_destination(pt, cfg.rtp_addr) {
                    Removed::Destination(t) => Some(f.resume_point(t)),
                    Removed::Joining(j) => j.resume,
                    Removed::Absent => None,
                },
                None => None,
            };
            resume = point.map(|r| (f.kind.index(), r));
        }
        if let Some((k, r)) = resume
            && let Some(l) = self.legs.get_mut(&leg)
        {
            l.resume[k] = Some(r);
        }
    }

    /// Turns a feed's recording tap on or off.
    ///
    /// # Errors
    /// [`MediaError::UnknownFeed`].
    pub fn set_tap(&mut self, feed: FeedId, on: bool) -> Result<(), MediaError> {
        self.feed_mut(feed)?.tap = on;
        Ok(())
    }

    /// Switches `feed` to show `source` (`None`: show nothing, at once).
    ///
    /// Video: the new source is asked for a keyframe (repeated every `keyframe_retry`), the old
    /// one stays on screen meanwhile, and the feed cuts over on the new source's first keyframe
    /// packet, or on its first packet of any kind after `switch_timeout` (`forced: true`).
    /// Audio cuts over on the new source's next packet. Switching again while pending replaces
    /// the target. Completion is reported by [`MediaEvent::SwitchCompleted`].
    ///
    /// # Errors
    /// [`MediaError::UnknownFeed`], [`MediaError::UnknownLeg`],
    /// [`MediaError::KindNotNegotiated`], [`MediaError::LegNotSending`].
    pub fn switch(
        &mut self,
        now: Instant,
        feed: FeedId,
        source: Option<LegId>,
    ) -> Result<(), MediaError> {
        self.touch(now);
        let kind = self.feed(feed)?.kind;
        if let Some(leg) = source {
            let l = self.legs.get(&leg).ok_or(MediaError::UnknownLeg(leg))?;
            if l.cfg.payload_type(kind).is_none() {
                return Err(MediaError::KindNotNegotiated { leg, kind });
            }
            if l.sources[kind.index()].is_none() {
                return Err(MediaError::LegNotSending(leg));
            }
        }
        self.events
            .push_back(MediaEvent::SwitchRequested { feed, to: source });
        let k = kind.index();
        let state = self.feed(feed)?.state;
        let old_target = pending_target(&state);
        let shown = match state {
            FeedState::Idle => None,
            FeedState::Showing(s) => Some(s),
            FeedState::Switching { from, .. } => from,
        };
        let Some(to) = source else {
            for leg in [shown.map(|s| s.source), old_target].into_iter().flatten() {
                self.unwatch(leg, kind, feed);
            }
            let f = self.feed_mut(feed)?;
            f.state = FeedState::Idle;
            f.epoch += 1;
            return Ok(());
        };
        if shown.is_some_and(|s| s.source == to) {
            // Back to (or still on) the source on screen: nothing to wait for.
            if let Some(t) = old_target.filter(|t| *t != to) {
                self.unwatch(t, kind, feed);
            }
            let f = self.feed_mut(feed)?;
            if let Some(s) = shown {
                f.state = FeedState::Showing(s);
            }
            f.epoch += 1;
            self.events.push_back(MediaEvent::SwitchCompleted {
                feed,
                to,
                latency: Duration::ZERO,
                forced: false,
            });
            return Ok(());
        }
        if old_target == Some(to) {
            return Ok(());
        }
        if let Some(t) = old_target {
            self.unwatch(t, kind, feed);
        }
        if let Some(l) = self.legs.get_mut(&to) {
            l.watchers[k].push(feed);
        }
        let gate = match kind {
            MediaKind::Video => Gate::Keyframe,
            MediaKind::Audio => Gate::AnyPacket { forced: false },
        };
        let f = self.feed_mut(feed)?;
        f.state = FeedState::Switching {
            from: shown,
            to,
            gate,
            cause: SwitchCause::Command,
            requested_at: now,
        };
        f.epoch += 1;
        if kind == MediaKind::Video {
            self.request_keyframe(now, to, Urgency::Switch);
            self.schedule_switch_timers(now, feed);
        }
        Ok(())
    }

    pub(super) fn schedule_switch_timers(&mut self, now: Instant, feed: FeedId) {
        let Ok(f) = self.feed(feed) else { return };
        let epoch = f.epoch;
        self.timers.schedule(
            now + self.cfg.keyframe_retry,
            Timer::SwitchRetry { feed, epoch },
        );
        self.timers.schedule(
            now + self.cfg.switch_timeout,
            Timer::SwitchTimeout { feed, epoch },
        );
    }

    pub(super) fn unwatch(&mut self, leg: LegId, kind: MediaKind, feed: FeedId) {
        if let Some(l) = self.legs.get_mut(&leg) {
            l.watchers[kind.index()].retain(|f| *f != feed);
        }
    }
}
