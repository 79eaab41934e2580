//! RTCP termination, timers and the `poll_*` outputs.

use std::time::Instant;

use bytes::Bytes;
use dais_rtp::{Ssrc, rewrite_header, set_payload_type};

use super::{Engine, Health, MediaKind, Urgency};
use crate::error::DropReason;
use crate::events::{EngineStats, LegStats, MediaEvent, SourceQuality};
use crate::routed::{LocalSocket, Translation, Transmit};
use crate::rtcp;
use crate::switching::{FeedState, Gate};
use crate::timers::Timer;
use crate::types::{FeedId, LegId};
use dais_rtp::rtcp::{ReportBlock, rtt_from_report};
use dais_rtp::{RtcpPacket, parse_compound};

/// NTP seconds at the engine's origin. Receivers use SR NTP times only relative to each other
/// (lip sync between a meeting's feeds, RTT from LSR/DLSR), so a monotonic clock from an
/// arbitrary epoch serves, and the core never reads the wall clock.
const NTP_BASE_SECS: u64 = 0x8000_0000;

impl Engine {
    pub(super) fn handle_rtcp(
        &mut self,
        now: Instant,
        leg: LegId,
        buf: &[u8],
    ) -> Result<(), DropReason> {
        let packets = parse_compound(buf).map_err(|e| {
            tracing::debug!(?leg, error = %e, "malformed RTCP");
            DropReason::MalformedRtcp
        })?;
        self.stats.rtcp_received += 1;
        if let Some(l) = self.legs.get_mut(&leg) {
            l.stats.rtcp_received += 1;
        }
        for p in &packets {
            match p {
                RtcpPacket::Pli { media, .. } => self.receiver_wants_keyframe(now, leg, media.0),
                RtcpPacket::Fir { entries, .. } => {
                    for (media, _) in entries {
                        self.receiver_wants_keyframe(now, leg, media.0);
                    }
                }
                RtcpPacket::Nack { media, lost, .. } => self.answer_nack(leg, media.0, lost),
                RtcpPacket::SenderReport(sr) => {
                    self.source_sender_report(now, leg, sr.ssrc, sr.ntp_time);
                    self.receiver_report(now, leg, &sr.reports);
                }
                RtcpPacket::ReceiverReport(rr) => self.receiver_report(now, leg, &rr.reports),
                _ => {}
            }
        }
        Ok(())
    }

    /// A source's SR: remembered for LSR/DLSR in our receiver reports (its RTT).
    fn source_sender_report(&mut self, now: Instant, leg: LegId, ssrc: Ssrc, ntp: u64) {
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        for src in l.sources.iter_mut().flatten() {
            if let Some(recv) = src.recv.as_mut().filter(|r| r.ssrc() == ssrc) {
                recv.on_sender_report(now, ntp);
            }
        }
    }

    /// The feed `leg` receives whose SSRC, as that leg knows it, is `media` (a receiver that
    /// moved between feeds keeps its first SSRC, D25), with the leg's translation. Only feeds
    /// the leg receives: otherwise anyone could aim us at a third party's stream.
    fn feed_seen_by(&self, leg: LegId, media: u32) -> Option<(FeedId, Option<Translation>)> {
        let l = self.legs.get(&leg)?;
        l.subscriptions.iter().find_map(|&fid| {
            let f = self.feed(fid).ok()?;
            let pt = l.cfg.payload_type(f.kind)?;
            let (ssrc, t) = f.seen_by(pt, l.cfg.rtp_addr);
            (ssrc.0 == media).then_some((fid, t))
        })
    }

    /// A receiver's report on a feed it watches (named by the SSRC it knows it by): its
    /// round-trip time and how much of our stream it lost. Blocks about anything else are
    /// ignored.
    fn receiver_report(&mut self, now: Instant, leg: LegId, blocks: &[ReportBlock]) {
        let arrival = self.ntp(now);
        for b in blocks {
            let Some((fid, _)) = self.feed_seen_by(leg, b.ssrc.0) else {
                continue;
            };
            if self.feed(fid).map_or(true, |f| f.kind != MediaKind::Video) {
                continue;
            }
            let rtt = rtt_from_report(b, arrival);
            if let Some(l) = self.legs.get_mut(&leg) {
                if let Some(rtt) = rtt {
                    l.stats.rtt_us = Some(u64::try_from(rtt.as_micros()).unwrap_or(u64::MAX));
                }
                l.stats.downlink_fraction_lost = b.fraction_lost;
            }
        }
    }

    /// A receiver's PLI/FIR names the SSRC it sees: translate it to the feed's source.
    fn receiver_wants_keyframe(&mut self, now: Instant, leg: LegId, media: u32) {
        if let Some((fid, _)) = self.feed_seen_by(leg, media) {
            self.feed_wants_keyframe(now, fid);
        }
    }

    fn feed_wants_keyframe(&mut self, now: Instant, fid: FeedId) {
        let Ok(feed) = self.feed(fid) else { return };
        if feed.kind != MediaKind::Video {
            return;
        }
        match feed.state {
            FeedState::Showing(s) => self.request_keyframe(now, s.source, Urgency::Receiver),
            // A pending switch is already asking its target for a keyframe.
            FeedState::Switching { .. } => self.stats.keyframe_requests_coalesced += 1,
            FeedState::Idle => {}
        }
    }

    /// A receiver asked for a keyframe outside RTCP (a SIP INFO picture_fast_update): every
    /// video feed `leg` watches asks its source, coalesced like a PLI from that receiver.
    /// Unknown legs and legs that watch no video are ignored.
    pub fn keyframe_wanted_by(&mut self, now: Instant, leg: LegId) {
        self.touch(now);
        let Some(l) = self.legs.get(&leg) else { return };
        for fid in l.subscriptions.clone() {
            self.feed_wants_keyframe(now, fid);
        }
    }

    /// Asks a source for a keyframe ahead of a switch the shell knows is coming (a polling
    /// tick), so that the switch lands without waiting a round trip. Coalesced with the
    /// requests of switches and receivers; a leg that sends no video is ignored.
    pub fn prefetch_keyframe(&mut self, now: Instant, leg: LegId) {
        self.touch(now);
        self.request_keyframe(now, leg, Urgency::Receiver);
    }

    /// Retransmit NACKed packets from the feed's cache, with the receiver's payload type and,
    /// for a receiver that moved between feeds, its own numbering.
    fn answer_nack(&mut self, leg: LegId, media: u32, lost: &[u16]) {
        let Some((fid, t)) = self.feed_seen_by(leg, media) else {
            return;
        };
        let Some(l) = self.legs.get(&leg) else { return };
        let Some(Some(feed)) = self.feeds.get(fid.0 as usize) else {
            return;
        };
        let Some(pt) = l.cfg.payload_type(feed.kind) else {
            return;
        };
        let dest = l.cfg.rtp_addr;
        for &seq in lost {
            let feed_seq = t.map_or(seq, |t| seq.wrapping_sub(t.seq_delta));
            match feed.cache.get(feed_seq) {
                Some(pkt) => {
                    let mut v = pkt.to_vec();
                    set_payload_type(&mut v, pt);
                    if let (Some(t), Some(ts)) = (t, v.get(4..8)) {
                        let ts = u32::from_be_bytes([ts[0], ts[1], ts[2], ts[3]]);
                        rewrite_header(&mut v, t.ssrc, seq, ts.wrapping_add(t.ts_delta));
                    }
                    self.transmits.push_back(Transmit {
                        socket: LocalSocket::Rtp,
                        destination: dest,
                        contents: Bytes::from(v),
                    });
                    self.stats.retransmitted += 1;
                }
                None => self.stats.retransmit_misses += 1,
            }
        }
    }

    /// The NTP time the engine's sender reports carry for `now`. Other senders of the same
    /// meeting (the shell's audio mixer) put it in theirs, so that receivers can line their
    /// streams up (lip sync). The engine's origin is its first input; before that, `now` is
    /// the origin.
    pub fn ntp_time(&self, now: Instant) -> u64 {
        self.ntp(now)
    }

    fn ntp(&self, now: Instant) -> u64 {
        let d = now.saturating_duration_since(self.origin.unwrap_or(now));
        let secs = NTP_BASE_SECS + d.as_secs();
        let frac = (u64::from(d.subsec_nanos()) << 32) / 1_000_000_000;
        (secs << 32) | frac
    }

    /// Runs every timer due at `now`: keyframe retries, switch timeouts, health checks,
    /// coalesced keyframe requests and RTCP reports.
    pub fn handle_timeout(&mut self, now: Instant) {
        self.touch(now);
        while let Some((at, timer)) = self.timers.pop_due(now) {
            match timer {
                Timer::SwitchRetry { feed, epoch } => self.switch_retry(now, feed, epoch),
                Timer::SwitchTimeout { feed, epoch } => {
                    if let Ok(f) = self.feed_mut(feed)
                        && f.epoch == epoch
                        && let FeedState::Switching { gate, .. } = &mut f.state
                        && *gate == Gate::Keyframe
                    {
                        // Cut over on the target's next packet, keyframe or not.
                        *gate = Gate::AnyPacket { forced: true };
                        tracing::info!(?feed, "switch timed out waiting for a keyframe");
                    }
                }
                Timer::Health { leg, epoch, kind } => self.check_health(now, at, leg, epoch, kind),
                Timer::KeyframeFlush { leg, epoch, kind } => {
                    let due = self.legs.get(&leg).is_some_and(|l| {
                        l.epoch == epoch
                            && l.sources
                                .get(kind)
                                .and_then(Option::as_ref)
                                .is_some_and(|s| s.flush_at == Some(at))
                    });
                    if due {
                        self.send_keyframe_request(now, leg);
                    }
                }
                Timer::SourceReport { leg, epoch } => self.source_report(now, leg, epoch),
                Timer::FeedReport { feed } => self.feed_report(now, feed),
            }
        }
        self.run_deferred(now);
    }

    fn switch_retry(&mut self, now: Instant, feed: FeedId, epoch: u64) {
        let Ok(f) = self.feed(feed) else { return };
        if f.epoch != epoch {
            return;
        }
        if let FeedState::Switching {
            to,
            gate: Gate::Keyframe,
            ..
        } = f.state
        {
            self.request_keyframe(now, to, Urgency::Switch);
            self.timers.schedule(
                now + self.cfg.keyframe_retry,
                Timer::SwitchRetry { feed, epoch },
            );
        }
    }

    fn check_health(&mut self, now: Instant, at: Instant, leg: LegId, epoch: u64, kind: usize) {
        let (no_media_after, frozen_after) = (self.cfg.no_media_after, self.cfg.frozen_after);
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        if l.epoch != epoch {
            return;
        }
        let Some(src) = l.sources.get_mut(kind).and_then(Option::as_mut) else {
            return;
        };
        if src.health_check_at != Some(at) {
            return;
        }
        let media_kind = if kind == MediaKind::Video.index() {
            MediaKind::Video
        } else {
            MediaKind::Audio
        };
        let silent_at = src.last_packet_at + no_media_after;
        let frozen_at = src.keyframe_ref_at + frozen_after;
        if now >= silent_at {
            if src.health != Health::NoMedia {
                src.health = Health::NoMedia;
                self.events.push_back(MediaEvent::SourceNoMedia {
                    leg,
                    kind: media_kind,
                });
            }
            // Re-armed by the next packet.
            src.health_check_at = None;
            return;
        }
        if media_kind == MediaKind::Video && src.health == Health::Live && now >= frozen_at {
            src.health = Health::Frozen;
            self.events.push_back(MediaEvent::SourceFrozen { leg });
        }
        let mut next = silent_at;
        if media_kind == MediaKind::Video && src.health == Health::Live {
            next = next.min(frozen_at);
        }
        src.health_check_at = Some(next);
        self.timers
            .schedule(next, Timer::Health { leg, epoch, kind });
    }

    fn source_report(&mut self, now: Instant, leg: LegId, epoch: u64) {
        let sender = self.rtcp_ssrc;
        let Some(l) = self.legs.get_mut(&leg) else {
            return;
        };
        if l.epoch != epoch || !l.cfg.send {
            return;
        }
        let blocks: Vec<_> = l
            .sources
            .iter_mut()
            .flatten()
            .filter_map(|s| s.recv.as_mut()?.report_block(now))
            .collect();
        if !blocks.is_empty()
            && let Some(contents) = rtcp::receiver_report(sender, blocks)
        {
            let socket = if l.cfg.rtcp_addr.is_some() {
                LocalSocket::Rtcp
            } else {
                LocalSocket::Rtp
            };
            self.transmits.push_back(Transmit {
                socket,
                destination: l.cfg.rtcp_destination(),
                contents,
            });
        }
        self.timers.schedule(
            now + self.cfg.rtcp_interval,
            Timer::SourceReport { leg, epoch },
        );
    }

    fn feed_report(&mut self, now: Instant, feed: FeedId) {
        let ntp = self.ntp(now);
        let Some(Some(f)) = self.feeds.get(feed.0 as usize) else {
            return;
        };
        let rtp_time = f.out.timestamp_at(now, f.clock_rate.max(1));
        let sr = rtcp::sender_report(f.ssrc, ntp, rtp_time, f.packets_sent, f.octets_sent);
        let sr = sr.filter(|_| f.packets_sent > 0);
        for leg in f.subscribers.iter().filter(|_| sr.is_some()) {
            if let Some(l) = self.legs.get(leg) {
                let socket = if l.cfg.rtcp_addr.is_some() {
                    LocalSocket::Rtcp
                } else {
                    LocalSocket::Rtp
                };
                // A receiver that moved here knows the stream by its own SSRC and timeline.
                let translated = l
                    .cfg
                    .payload_type(f.kind)
                    .and_then(|pt| f.seen_by(pt, l.cfg.rtp_addr).1);
                let contents = match translated {
                    Some(t) => rtcp::sender_report(
                        t.ssrc,
                        ntp,
                        rtp_time.wrapping_add(t.ts_delta),
                        f.packets_sent,
                        f.octets_sent,
                    ),
                    None => sr.clone(),
                };
                self.transmits.push_back(Transmit {
                    socket,
                    destination: l.cfg.rtcp_destination(),
                    contents: contents.unwrap_or_default(),
                });
            }
        }
        self.timers
            .schedule(now + self.cfg.rtcp_interval, Timer::FeedReport { feed });
    }

    /// The next generated packet to send (RTCP, retransmission).
    pub fn poll_transmit(&mut self) -> Option<Transmit> {
        self.transmits.pop_front()
    }

    /// The next event.
    pub fn poll_event(&mut self) -> Option<MediaEvent> {
        self.events.pop_front()
    }

    /// When `handle_timeout` wants to run next. May be early (stale timers are skipped
    /// lazily), never late.
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.timers.next()
    }

    /// Engine-wide counters.
    pub fn stats(&self) -> &EngineStats {
        &self.stats
    }

    /// One leg's counters.
    pub fn leg_stats(&self, leg: LegId) -> Option<&LegStats> {
        self.legs.get(&leg).map(|l| &l.stats)
    }

    /// Reception quality of a leg's `kind` uplink, once it has sent (`None` before).
    pub fn source_quality(
        &self,
        now: Instant,
        leg: LegId,
        kind: MediaKind,
    ) -> Option<SourceQuality> {
        let recv = self
            .legs
            .get(&leg)?
            .sources
            .get(kind.index())?
            .as_ref()?
            .recv
            .as_ref()?;
        Some(SourceQuality {
            lost: i64::from(recv.cumulative_lost()),
            expected: u64::from(recv.expected()),
            jitter_ms: recv.jitter_duration().as_secs_f64() * 1e3,
            bitrate: recv.bitrate(now),
            packet_rate: recv.packet_rate(now),
        })
    }

    /// The SSRC a leg's source of `kind` uses, once learned.
    pub fn source_ssrc(&self, leg: LegId, kind: MediaKind) -> Option<Ssrc> {
        self.legs
            .get(&leg)?
            .sources
            .get(kind.index())?
            .as_ref()?
            .ssrc()
            .map(Ssrc)
    }
}
