//! Call handling in the core's task: dial-in (challenge, verify, admit, answer), dial-out,
//! hang-up, registrar, INFO. Slow work (directory lookups, the meeting's admission and leg
//! set-up) runs in spawned tasks that report back as [`Cmd`]s: the core is never locked and
//! never waits.

use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::Ordering;
use std::time::Instant;

use bytes::Bytes;
use dais_conference::{ConferenceEvent, DropReason, LegEvent, MeetingState, VenueId};
use dais_net::meeting::{MeetingEvent, MeetingHandle};
use dais_sip::digest::{DigestAlgorithm, DigestChallenge, DigestCredentials};
use dais_sip::offer_answer::{Capabilities, build_offer, negotiate};
use dais_sip::{CallId, Contacts, DialTarget, EndReason, NameAddr, SipEvent, Uri};
use tokio::sync::broadcast::error::RecvError;
use tracing::{debug, info, warn};

use crate::admission::{admission, digest_uri_matches, echo_decision, resolve};
use crate::echo::EchoGuard;
use crate::media::{self, announce_audio_extras, leg_config};
use crate::service::{Cmd, Decision, Worker};

/// Which way a call was placed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Dir {
    In,
    Out,
}

/// Where a call is, as the service sees it (the core tracks the SIP side).
#[derive(Debug)]
pub(crate) enum Phase {
    /// Dial-in with credentials: waiting for the directory.
    Authenticating {
        creds: Box<DigestCredentials>,
        request_uri: String,
        offer: Option<Bytes>,
    },
    /// Dial-in authenticated: waiting for the meeting's admission and leg.
    Deciding,
    /// Dial-in answered 200, waiting for ACK; or dial-out answered, leg being set up.
    Answered,
    /// Dial-in without SDP: our offer went in the 200; the ACK's answer sets up the leg.
    AwaitingAnswer,
    /// Up.
    Established,
    /// Dial-out INVITE sent.
    Dialing,
}

#[derive(Debug)]
pub(crate) struct CallCtx {
    dir: Dir,
    number: String,
    venue: Option<VenueId>,
    peer_ip: Option<IpAddr>,
    phase: Phase,
    /// We asked for the end (hang-up, replacement, shutdown): nothing to report to the meeting.
    ending: bool,
    /// The meeting's media address we announced (re-INVITEs are answered with it).
    media: Option<SocketAddr>,
    /// Dial-out: the Request-URI (the digest `uri` of an answer to a challenge).
    target_uri: Option<String>,
    _echo: Option<EchoGuard>,
}

/// A REGISTER waiting for the directory.
#[derive(Debug)]
pub(crate) struct PendingRegister {
    pub(crate) aor: Uri,
    pub(crate) contacts: Contacts,
    pub(crate) expires: Option<u32>,
    pub(crate) creds: DigestCredentials,
    pub(crate) call_id: String,
    pub(crate) cseq: u32,
    pub(crate) peer: SocketAddr,
}

impl Worker {
    fn caps(&self, media: SocketAddr) -> Capabilities {
        let address = if media.ip().is_unspecified() {
            self.advertised
        } else {
            media.ip()
        };
        Capabilities {
            address,
            audio_port: media.port(),
            video_port: media.port(),
            audio: self.cfg.audio_codecs.clone(),
            video: self.cfg.video_codecs.clone(),
            ..Capabilities::default()
        }
    }

    fn reject(&mut self, now: Instant, call: CallId, status: u16) {
        let retry = (status == 503).then_some(self.cfg.retry_after_secs);
        if let Err(e) = self.core.reject(now, call, status, retry) {
            debug!(?call, error = %e, "cannot reject");
        }
        self.stats.calls_rejected.fetch_add(1, Ordering::Relaxed);
        self.forget(call);
    }

    fn challenge(&mut self, now: Instant, call: CallId, stale: bool) {
        let www = self.www_authenticate(now, stale);
        if let Err(e) = self.core.challenge(now, call, &www) {
            debug!(?call, error = %e, "cannot challenge");
        }
        self.forget(call);
    }

    /// Removes a call's context, releasing its in-flight slot.
    fn forget(&mut self, call: CallId) -> Option<CallCtx> {
        let ctx = self.calls.remove(&call)?;
        if matches!(ctx.phase, Phase::Authenticating { .. } | Phase::Deciding)
            && let Some(ip) = ctx.peer_ip
        {
            self.release_inflight(ip);
        }
        if matches!(ctx.phase, Phase::Established | Phase::Answered) {
            self.stats.calls_active.fetch_sub(1, Ordering::Relaxed);
        }
        Some(ctx)
    }

    pub(crate) fn release_inflight(&mut self, ip: IpAddr) {
        if let Some(n) = self.inflight.get_mut(&ip) {
            *n = n.saturating_sub(1);
            if *n == 0 {
                self.inflight.remove(&ip);
            }
        }
    }

    fn take_inflight(&mut self, ip: IpAddr) -> bool {
        let n = self.inflight.entry(ip).or_insert(0);
        if *n >= self.cfg.max_inflight_per_source {
            return false;
        }
        *n += 1;
        true
    }

    /// Tells the meeting about a leg, off the core's task.
    fn report(&self, number: &str, venue: &VenueId, ev: LegEvent, down: bool) {
        let Some(h) = self.dir.meeting(number) else {
            return;
        };
        let venue = venue.clone();
        tokio::spawn(async move {
            if down {
                h.leg_down(&venue, ev).await;
            } else {
                h.leg_progress(&venue, ev).await;
            }
        });
    }

    /// Follows a meeting's events: keyframe-by-INFO requests, and its end (BYE everyone).
    fn watch(&mut self, number: &str, h: &MeetingHandle) {
        if !self.watched.insert(number.to_owned()) {
            return;
        }
        let mut rx = h.subscribe();
        let cmd = self.cmd.clone();
        let number = number.to_owned();
        tokio::spawn(async move {
            loop {
                let msg = match rx.recv().await {
                    Ok(MeetingEvent::KeyframeViaSipInfo { venue }) => Cmd::Keyframe {
                        number: number.clone(),
                        venue,
                    },
                    Ok(MeetingEvent::Conference {
                        event:
                            ConferenceEvent::StateChanged {
                                to: MeetingState::Ended,
                                ..
                            },
                    })
                    | Err(RecvError::Closed) => {
                        let _ = cmd.send(Cmd::MeetingEnded { number });
                        break;
                    }
                    Ok(_) | Err(RecvError::Lagged(_)) => continue,
                };
                if cmd.send(msg).is_err() {
                    break;
                }
            }
        });
    }

    /// Ends a call we want gone: BYE/CANCEL when it is up or ringing, `status` when undecided.
    pub(crate) fn end_call_locally(&mut self, now: Instant, call: CallId, status: u16) {
        let Some(ctx) = self.calls.get_mut(&call) else {
            return;
        };
        ctx.ending = true;
        if let Some(v) = ctx.venue.clone() {
            let key = (ctx.number.clone(), v);
            if self.legs.get(&key) == Some(&call) {
                self.legs.remove(&key);
            }
        }
        match ctx.phase {
            Phase::Authenticating { .. } | Phase::Deciding => self.reject(now, call, status),
            _ => {
                if let Err(e) = self.core.bye(now, call) {
                    debug!(?call, error = %e, "no BYE possible; forgetting the call");
                    self.forget(call);
                }
            }
        }
    }

    pub(crate) fn on_event(&mut self, now: Instant, ev: SipEvent) {
        match ev {
            SipEvent::IncomingCall {
                call,
                from,
                to_user,
                request_uri,
                offer,
                auth,
                peer,
            } => self.incoming(now, call, &from, to_user, request_uri, offer, auth, peer),
            SipEvent::CallConfirmed { call, answer } => {
                let Some(ctx) = self.calls.get_mut(&call) else {
                    return;
                };
                if matches!(ctx.phase, Phase::AwaitingAnswer) {
                    ctx.phase = Phase::Answered;
                    info!(meeting = %ctx.number, venue = ?ctx.venue, "ACK answered our offer");
                    self.leg_from_answer(now, call, answer);
                } else {
                    ctx.phase = Phase::Established;
                    info!(meeting = %ctx.number, venue = ?ctx.venue, "call established");
                }
            }
            SipEvent::Ringing { call } => {
                if let Some(ctx) = self.calls.get(&call)
                    && let Some(v) = &ctx.venue
                    && !ctx.ending
                {
                    self.report(&ctx.number, v, LegEvent::Ringing, false);
                }
            }
            SipEvent::Answered { call, answer } => self.answered(now, call, answer),
            SipEvent::Failed {
                call,
                status,
                retry_after,
            } => {
                let Some(ctx) = self.forget(call) else { return };
                let Some(v) = ctx.venue else { return };
                let key = (ctx.number.clone(), v.clone());
                if self.legs.get(&key) == Some(&call) {
                    self.legs.remove(&key);
                }
                info!(meeting = %ctx.number, venue = %v, status, ?retry_after, cancelled = ctx.ending, "dial-out failed");
                if !ctx.ending {
                    let ev = if status == 486 || status == 600 {
                        LegEvent::Busy
                    } else {
                        LegEvent::Failed
                    };
                    self.report(&ctx.number, &v, ev, false);
                }
            }
            SipEvent::CallEnded { call, reason } => self.ended(call, reason),
            SipEvent::AuthChallenge {
                call,
                status,
                challenges,
            } => {
                let venue = self
                    .calls
                    .get(&call)
                    .filter(|c| !c.ending)
                    .and_then(|c| c.venue.clone());
                let Some(venue) = venue else {
                    self.core.abandon_call(call, status);
                    return;
                };
                let dir = self.dir.clone();
                let cmd = self.cmd.clone();
                tokio::spawn(async move {
                    let found = dir.venue_credentials(&venue).await;
                    let _ = cmd.send(Cmd::DialAuth {
                        call,
                        status,
                        challenges,
                        found,
                    });
                });
            }
            SipEvent::InfoReceived {
                call,
                content_type,
                body,
            } => {
                let venue = self.calls.get(&call).and_then(|c| c.venue.clone());
                if media::is_picture_fast_update(content_type.as_deref(), &body) {
                    // The core answered 200; the source the venue watches is asked.
                    match self.current_leg_of(call) {
                        Some((number, venue)) => {
                            debug!(%venue, "venue asked for a keyframe by SIP INFO");
                            if let Some(h) = self.dir.meeting(&number) {
                                tokio::spawn(async move { h.keyframe_wanted(&venue).await });
                            }
                        }
                        None => debug!(?call, "keyframe INFO on a call without a leg"),
                    }
                } else {
                    debug!(?venue, ?content_type, "INFO ignored");
                }
            }
            SipEvent::ReInvite { call, offer } => self.reinvite(now, call, offer),
            SipEvent::Register {
                request,
                aor,
                contacts,
                expires,
                auth,
                call_id,
                cseq,
                peer,
            } => {
                let Some(creds) = auth else {
                    let www = self.www_authenticate(now, false);
                    let h: Vec<(&str, String)> =
                        www.into_iter().map(|v| ("WWW-Authenticate", v)).collect();
                    let _ = self.core.respond(now, request, 401, &h);
                    return;
                };
                if !self.take_inflight(peer.ip()) {
                    let _ = self.core.respond(
                        now,
                        request,
                        503,
                        &[("Retry-After", self.cfg.retry_after_secs.to_string())],
                    );
                    return;
                }
                let user = creds.username.clone();
                self.registers.insert(
                    request,
                    PendingRegister {
                        aor,
                        contacts,
                        expires,
                        creds,
                        call_id,
                        cseq,
                        peer,
                    },
                );
                let dir = self.dir.clone();
                let cmd = self.cmd.clone();
                tokio::spawn(async move {
                    let found = dir.credentials(&user).await;
                    let _ = cmd.send(Cmd::RegisterCredentials { request, found });
                });
            }
            SipEvent::CloseConnection { peer, reason } => {
                debug!(%peer, %reason, "closing a SIP TCP connection that lost framing");
                self.tcp.remove(&peer);
            }
            other => debug!(event = ?other, "SIP event ignored"),
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn incoming(
        &mut self,
        now: Instant,
        call: CallId,
        from: &NameAddr,
        to_user: Option<String>,
        request_uri: String,
        offer: Option<Bytes>,
        auth: Option<DigestCredentials>,
        peer: SocketAddr,
    ) {
        let number = to_user.unwrap_or_default();
        debug!(?call, %peer, from = %from.uri.as_str(), %number, "incoming call");
        let active = self.stats.calls_active.load(Ordering::Relaxed) as usize;
        if self.stopping.is_some() || active >= self.cfg.max_calls {
            self.core
                .reject(now, call, 503, Some(self.cfg.retry_after_secs))
                .ok();
            self.stats.calls_rejected.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let Some(creds) = auth else {
            self.challenge(now, call, false);
            return;
        };
        if !self.take_inflight(peer.ip()) {
            self.core
                .reject(now, call, 503, Some(self.cfg.retry_after_secs))
                .ok();
            self.stats.calls_rejected.fetch_add(1, Ordering::Relaxed);
            return;
        }
        let user = creds.username.clone();
        self.calls.insert(
            call,
            CallCtx {
                dir: Dir::In,
                number,
                venue: None,
                peer_ip: Some(peer.ip()),
                phase: Phase::Authenticating {
                    creds: Box::new(creds),
                    request_uri,
                    offer,
                },
                ending: false,
                media: None,
                target_uri: None,
                _echo: None,
            },
        );
        let dir = self.dir.clone();
        let cmd = self.cmd.clone();
        tokio::spawn(async move {
            let found = dir.credentials(&user).await;
            let _ = cmd.send(Cmd::Credentials { call, found });
        });
    }

    pub(crate) fn on_call_cmd(&mut self, now: Instant, c: Cmd) {
        match c {
            Cmd::Credentials { call, found } => self.credentials(now, call, found),
            Cmd::Decided { call, decision } => self.decided(now, call, decision),
            Cmd::RegisterCredentials { request, found } => {
                self.register_checked(now, request, found);
            }
            Cmd::Dial { number, venue } => self.dial(now, number, venue),
            Cmd::DialTarget {
                number,
                venue,
                target,
            } => match target {
                Ok(t) => self.place_call(now, number, venue, t),
                Err(e) => {
                    warn!(meeting = %number, %venue, error = %e, "cannot dial");
                    self.report(&number, &venue, LegEvent::Failed, false);
                }
            },
            Cmd::HangUp { number, venue } => {
                if let Some(call) = self.legs.get(&(number.clone(), venue.clone())).copied() {
                    info!(meeting = %number, %venue, "hanging up");
                    self.end_call_locally(now, call, 480);
                }
            }
            Cmd::LegSetUp { call, result } => {
                if let Err(e) = result {
                    warn!(?call, error = %e, "answered call refused by the meeting; BYE");
                    self.end_call_locally(now, call, 480);
                } else if let Some(ctx) = self.calls.get_mut(&call) {
                    ctx.phase = Phase::Established;
                }
            }
            Cmd::DialAuth {
                call,
                status,
                challenges,
                found,
            } => self.answer_dial_challenge(now, call, status, &challenges, found),
            Cmd::ReinviteApplied {
                call,
                answer,
                result,
            } => match result {
                Ok(()) => {
                    let _ = self.core.accept_reinvite(now, call, answer);
                }
                Err(e) => {
                    info!(?call, error = %e, "re-INVITE media refused");
                    let _ = self.core.reject_reinvite(now, call, 488);
                }
            },
            Cmd::Keyframe { number, venue } => {
                if let Some(call) = self.legs.get(&(number, venue.clone())).copied() {
                    let body = Bytes::from_static(media::PICTURE_FAST_UPDATE.as_bytes());
                    match self
                        .core
                        .send_info(now, call, media::MEDIA_CONTROL_TYPE, body)
                    {
                        Ok(()) => debug!(%venue, "keyframe asked by SIP INFO"),
                        Err(e) => debug!(%venue, error = %e, "no INFO sent"),
                    }
                }
            }
            Cmd::MeetingEnded { number } => {
                self.watched.remove(&number);
                let calls: Vec<CallId> = self
                    .calls
                    .iter()
                    .filter(|(_, c)| c.number == number)
                    .map(|(id, _)| *id)
                    .collect();
                if !calls.is_empty() {
                    info!(meeting = %number, legs = calls.len(), "meeting ended: BYE to every leg");
                }
                for call in calls {
                    self.end_call_locally(now, call, 480);
                }
            }
            other => debug!(cmd = ?other, "command ignored"),
        }
    }

    fn credentials(
        &mut self,
        now: Instant,
        call: CallId,
        found: Option<crate::directory::VenueCredentials>,
    ) {
        let Some(ctx) = self.calls.get_mut(&call) else {
            return;
        };
        let Phase::Authenticating {
            creds,
            request_uri,
            offer,
        } = std::mem::replace(&mut ctx.phase, Phase::Deciding)
        else {
            return;
        };
        let number = ctx.number.clone();
        if let Err(retry) = self.verify(now, "INVITE", &creds, found.as_ref()) {
            match retry {
                Some(stale) => self.challenge(now, call, stale),
                None => self.reject(now, call, 403),
            }
            return;
        }
        if !digest_uri_matches(&creds.uri, &request_uri) {
            info!(?call, digest_uri = %creds.uri, %request_uri, "digest uri differs from the Request-URI");
            self.reject(now, call, 403);
            return;
        }
        let Some(found) = found else { return };
        let venue = found.venue;
        let session = self.session_id();
        if number == self.cfg.test_call_number {
            let ip = self.advertised;
            let caps_of = {
                let audio = self.cfg.audio_codecs.clone();
                let video = self.cfg.video_codecs.clone();
                move |addr: SocketAddr| Capabilities {
                    address: addr.ip(),
                    audio_port: addr.port(),
                    video_port: addr.port(),
                    audio,
                    video,
                    ..Capabilities::default()
                }
            };
            if let Some(ctx) = self.calls.get_mut(&call) {
                ctx.venue = None;
            }
            info!(%venue, "test call: echoing media");
            let cmd = self.cmd.clone();
            tokio::spawn(async move {
                let decision = echo_decision(ip, offer, caps_of, session).await;
                let _ = cmd.send(Cmd::Decided { call, decision });
            });
            return;
        }
        let Some(h) = self.dir.meeting(&number) else {
            info!(%venue, %number, "dial-in to an unknown meeting");
            self.reject(now, call, 404);
            return;
        };
        let in_meeting = self
            .calls
            .values()
            .filter(|c| c.number == number && c.venue.is_some())
            .count();
        if in_meeting >= self.cfg.max_calls_per_meeting {
            info!(%venue, %number, "meeting full");
            self.reject(now, call, 503);
            return;
        }
        if let Some(ctx) = self.calls.get_mut(&call) {
            ctx.venue = Some(venue.clone());
        }
        self.watch(&number, &h);
        let caps = self.caps(h.media().rtp_addr());
        let cmd = self.cmd.clone();
        tokio::spawn(async move {
            let decision = admission(&h, &venue, offer, &caps, session).await;
            let _ = cmd.send(Cmd::Decided { call, decision });
        });
    }

    fn decided(&mut self, now: Instant, call: CallId, decision: Decision) {
        let live = self
            .calls
            .get(&call)
            .is_some_and(|c| matches!(c.phase, Phase::Deciding) && !c.ending);
        match decision {
            Decision::Reject {
                status,
                retry_after,
            } => {
                if live {
                    let _ = self.core.reject(now, call, status, retry_after);
                    self.stats.calls_rejected.fetch_add(1, Ordering::Relaxed);
                }
                self.forget(call);
            }
            Decision::Offer { offer, media } => {
                let accepted = live && self.core.accept(now, call, offer).is_ok();
                let Some(ctx) = self.calls.get(&call) else {
                    return;
                };
                let target = ctx.venue.clone().map(|v| (ctx.number.clone(), v));
                if !accepted {
                    self.forget(call);
                    return;
                }
                if let Some(ip) = ctx.peer_ip {
                    self.release_inflight(ip);
                }
                if let Some(ctx) = self.calls.get_mut(&call) {
                    ctx.phase = Phase::AwaitingAnswer;
                    ctx.media = Some(media);
                }
                self.stats.calls_active.fetch_add(1, Ordering::Relaxed);
                self.stats.calls_answered.fetch_add(1, Ordering::Relaxed);
                if let Some(key) = target
                    && let Some(old) = self.legs.insert(key, call)
                    && old != call
                {
                    self.end_call_locally(now, old, 480);
                }
            }
            Decision::Accept {
                answer,
                leg,
                echo,
                media,
            } => {
                let accepted = live && self.core.accept(now, call, answer).is_ok();
                let Some(ctx) = self.calls.get(&call) else {
                    return self.undo_leg(leg.is_some(), None);
                };
                let target = ctx.venue.clone().map(|v| (ctx.number.clone(), v));
                if !accepted {
                    self.forget(call);
                    return self.undo_leg(leg.is_some(), target);
                }
                if let Some(ip) = ctx.peer_ip {
                    self.release_inflight(ip);
                }
                if let Some(ctx) = self.calls.get_mut(&call) {
                    ctx.phase = Phase::Answered;
                    ctx.media = Some(media);
                    ctx._echo = echo;
                }
                self.stats.calls_active.fetch_add(1, Ordering::Relaxed);
                self.stats.calls_answered.fetch_add(1, Ordering::Relaxed);
                if let Some(key) = target
                    && let Some(old) = self.legs.insert(key, call)
                    && old != call
                {
                    // The venue called again while its old call lingered: the new one wins.
                    self.end_call_locally(now, old, 480);
                }
            }
        }
    }

    /// A leg was set up for a call that went away meanwhile (CANCEL): take it down again.
    fn undo_leg(&self, had_leg: bool, target: Option<(String, VenueId)>) {
        if let (true, Some((number, venue))) = (had_leg, target) {
            self.report(&number, &venue, LegEvent::HungUpByVenue, true);
        }
    }

    fn ended(&mut self, call: CallId, reason: EndReason) {
        let Some(ctx) = self.forget(call) else { return };
        let Some(v) = ctx.venue else {
            debug!(?call, ?reason, "call without a leg ended");
            return;
        };
        let key = (ctx.number.clone(), v.clone());
        let current = self.legs.get(&key) == Some(&call);
        if current {
            self.legs.remove(&key);
        }
        info!(meeting = %ctx.number, venue = %v, ?reason, dir = ?ctx.dir, "leg ended");
        if ctx.ending || !current {
            return;
        }
        let ev = match reason {
            // A venue the MCU called that sends BYE has lost the meeting (the issue counts it
            // as a drop, and the policy redials drops); a venue that called in and hangs up
            // has left on purpose.
            EndReason::RemoteBye if ctx.dir == Dir::Out => LegEvent::Dropped {
                reason: DropReason::Other,
            },
            EndReason::RemoteBye | EndReason::Cancelled => LegEvent::HungUpByVenue,
            EndReason::SessionExpired => LegEvent::Dropped {
                reason: DropReason::SessionTimeout,
            },
            EndReason::AckTimeout | EndReason::Timeout => LegEvent::Dropped {
                reason: DropReason::Transport,
            },
            _ => return,
        };
        self.report(&ctx.number, &v, ev, true);
    }

    fn reinvite(&mut self, now: Instant, call: CallId, offer: Option<Bytes>) {
        let Some(media) = self.calls.get(&call).and_then(|c| c.media) else {
            let _ = self.core.reject_reinvite(now, call, 488);
            return;
        };
        let caps = self.caps(media);
        let sid = self.session_id();
        let Some(offer) = offer else {
            // A re-INVITE without SDP (a refresh, or asking for our offer): the leg stays as
            // it is.
            let _ = self
                .core
                .accept_reinvite(now, call, Bytes::from(build_offer(&caps, sid)));
            return;
        };
        let n = match negotiate(&offer, &caps, sid) {
            Ok(n) => n,
            Err(_) => {
                let _ = self.core.reject_reinvite(now, call, 488);
                return;
            }
        };
        let answer = Bytes::from(n.answer);
        let leg = self
            .current_leg_of(call)
            .and_then(|(number, venue)| Some((self.dir.meeting(&number)?, venue)));
        let Some((h, venue)) = leg else {
            // The test call, or a leg that is already gone: answer, nothing to move.
            let _ = self.core.accept_reinvite(now, call, answer);
            return;
        };
        let Ok(cfg) = leg_config(&n.media) else {
            let _ = self.core.reject_reinvite(now, call, 488);
            return;
        };
        // Hold (sendonly/inactive), resume, a new address or codec: the leg follows, keeping
        // its place in the meeting. Answered once the meeting applied it.
        let cmd = self.cmd.clone();
        let media = n.media;
        tokio::spawn(async move {
            let result = h.leg_update(&venue, cfg).await.map_err(|e| e.to_string());
            if result.is_ok() {
                announce_audio_extras(&h, &venue, &media).await;
            }
            let _ = cmd.send(Cmd::ReinviteApplied {
                call,
                answer,
                result,
            });
        });
    }

    /// Answers a dial-out's digest challenge with the venue's credentials when the challenge
    /// is in the venue's realm (its HA1 is realm-bound), SHA-256 preferred; otherwise the call
    /// fails with the challenge's status.
    fn answer_dial_challenge(
        &mut self,
        now: Instant,
        call: CallId,
        status: u16,
        challenges: &[String],
        found: Option<(String, crate::directory::VenueCredentials)>,
    ) {
        let Some(uri) = self.calls.get(&call).and_then(|c| c.target_uri.clone()) else {
            return self.core.abandon_call(call, status);
        };
        let Some((user, creds)) = found else {
            info!(
                ?call,
                status, "dial-out challenged; no credentials for the venue"
            );
            return self.core.abandon_call(call, status);
        };
        let mut parsed: Vec<DigestChallenge> = challenges
            .iter()
            .filter_map(|c| DigestChallenge::parse(c))
            .filter(|c| c.realm == creds.realm)
            .collect();
        parsed.sort_by_key(|c| c.algorithm() != Some(DigestAlgorithm::Sha256));
        let cnonce = format!("{:016x}", self.session_id());
        let answer = parsed.iter().find_map(|c| {
            let ha1 = match c.algorithm()? {
                DigestAlgorithm::Sha256 => &creds.ha1_sha256,
                DigestAlgorithm::Md5 => &creds.ha1_md5,
            };
            c.answer(&user, ha1, "INVITE", &uri, &cnonce, 1)
        });
        match answer {
            Some(value) => {
                info!(?call, status, venue = %creds.venue, "dial-out challenged; answering");
                if self
                    .core
                    .answer_challenge(now, call, status, &value)
                    .is_err()
                {
                    self.core.abandon_call(call, status);
                }
            }
            None => {
                info!(?call, status, realm = %creds.realm, "dial-out challenged in a realm or algorithm we cannot answer");
                self.core.abandon_call(call, status);
            }
        }
    }

    /// The meeting and venue of a call that is its venue's current leg.
    fn current_leg_of(&self, call: CallId) -> Option<(String, VenueId)> {
        let ctx = self.calls.get(&call)?;
        let key = (ctx.number.clone(), ctx.venue.clone()?);
        (self.legs.get(&key) == Some(&call)).then_some(key)
    }

    fn dial(&mut self, now: Instant, number: String, venue: VenueId) {
        if self.stopping.is_some() {
            return;
        }
        if let Some(old) = self.legs.get(&(number.clone(), venue.clone())).copied() {
            // A redial replaces whatever is left of the previous call.
            self.end_call_locally(now, old, 480);
        }
        if let Some(b) = self.registrar.lookup(now, &venue) {
            let target = DialTarget {
                uri: b.contact.clone(),
                dest: b.source,
                transport: b.transport,
            };
            return self.place_call(now, number, venue, target);
        }
        let dir = self.dir.clone();
        let cmd = self.cmd.clone();
        tokio::spawn(async move {
            let target = resolve(dir.contact_uri(&venue).await).await;
            let _ = cmd.send(Cmd::DialTarget {
                number,
                venue,
                target,
            });
        });
    }

    fn place_call(&mut self, now: Instant, number: String, venue: VenueId, target: DialTarget) {
        let Some(h) = self.dir.meeting(&number) else {
            warn!(meeting = %number, %venue, "dial-out for a meeting that is not running");
            return;
        };
        let media = h.media().rtp_addr();
        let caps = self.caps(media);
        let sid = self.session_id();
        let offer = Bytes::from(build_offer(&caps, sid));
        match self.core.invite(now, &target, &number, Some(offer)) {
            Ok(call) => {
                info!(meeting = %number, %venue, uri = %target.uri, dest = %target.dest, "dialing");
                self.stats.calls_dialed.fetch_add(1, Ordering::Relaxed);
                self.watch(&number, &h);
                self.legs.insert((number.clone(), venue.clone()), call);
                self.calls.insert(
                    call,
                    CallCtx {
                        dir: Dir::Out,
                        number,
                        venue: Some(venue),
                        peer_ip: None,
                        phase: Phase::Dialing,
                        ending: false,
                        media: Some(media),
                        target_uri: Some(target.uri.clone()),
                        _echo: None,
                    },
                );
            }
            Err(e) => {
                warn!(meeting = %number, %venue, error = %e, "INVITE refused by the core");
                self.report(&number, &venue, LegEvent::Failed, false);
            }
        }
    }

    fn answered(&mut self, now: Instant, call: CallId, answer: Option<Bytes>) {
        let Some(ctx) = self.calls.get_mut(&call) else {
            // Answered after we forgot it (e.g. 200 crossing our CANCEL): end it.
            let _ = self.core.bye(now, call);
            return;
        };
        ctx.phase = Phase::Answered;
        self.stats.calls_active.fetch_add(1, Ordering::Relaxed);
        if ctx.ending {
            let _ = self.core.bye(now, call);
            return;
        }
        self.leg_from_answer(now, call, answer);
    }

    /// The SDP answer to our offer (a dial-out's 200, a delayed-offer dial-in's ACK) makes the
    /// venue's leg; a missing or unusable answer ends the call.
    fn leg_from_answer(&mut self, now: Instant, call: CallId, answer: Option<Bytes>) {
        let Some(ctx) = self.calls.get(&call) else {
            return;
        };
        let dir = ctx.dir;
        let (Some(venue), Some(media)) = (ctx.venue.clone(), ctx.media) else {
            return;
        };
        let number = ctx.number.clone();
        let caps = self.caps(media);
        let cfg = answer
            .ok_or(())
            .and_then(|a| negotiate(&a, &caps, 0).map_err(|_| ()))
            .and_then(|n| Ok((leg_config(&n.media).map_err(|_| ())?, n.media)));
        let Ok((cfg, media)) = cfg else {
            warn!(meeting = %number, %venue, ?dir, "the SDP answer has no usable media; BYE");
            self.end_call_locally(now, call, 488);
            if dir == Dir::Out {
                self.report(&number, &venue, LegEvent::Failed, false);
            }
            return;
        };
        let Some(h) = self.dir.meeting(&number) else {
            self.end_call_locally(now, call, 480);
            return;
        };
        let cmd = self.cmd.clone();
        tokio::spawn(async move {
            let result = h.leg_up(&venue, cfg).await.map_err(|e| e.to_string());
            if result.is_ok() {
                announce_audio_extras(&h, &venue, &media).await;
            }
            let _ = cmd.send(Cmd::LegSetUp { call, result });
        });
    }
}
