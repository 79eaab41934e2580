//! The meeting controller: one tokio task per meeting that runs the conference policy
//! ([`Conference`]) and carries out its [`Action`]s on the meeting's media task and on the legs.
//!
//! ```text
//!  operators ──Command──►┐                          ┌──► MediaHandle (switch, subscribe)
//!  SIP / demo ─LegUp/Down►│ MeetingController task   │
//!                         │  Conference (policy)     ├──► Dialer (dial, hang up)
//!  media task ─MediaEvent►┘                          └──► events (broadcast, for WebSockets)
//! ```
//!
//! The controller owns the mapping between the policy's world (venues, feed roles) and the
//! engine's (legs, feed ids).
//!
//! Audio is mixed: a leg whose negotiated audio the mixer decodes (G.711; Opus with the `opus`
//! feature, see [`MixedAudio::for_leg`](crate::media_task::MixedAudio::for_leg)) joins the media task's mixer when it comes up, and hears the mix of
//! the others. `SetMicrophone` mutes it in the mix, `BlockAudio` sends it silence, and the main
//! venue is always mixed. The mixer's dominant speaker drives voice-activated switching
//! ([`Conference::handle_dominant_speaker`]) and its level reports become
//! [`MeetingEvent::AudioLevels`] (at most one every 500 ms). Legs whose audio the mixer cannot
//! decode (Opus in a build without the `opus` feature, which the SIP layer then does not
//! negotiate) keep the feed model: each feed role also has an audio feed, switched with the
//! picture, and a muted venue's audio is never switched in. Such a leg hears only other
//! feed-model venues, and is not heard in the mix.

use std::collections::{HashMap, HashSet};
use std::time::Instant;

use dais_conference::{
    Action, Actor, AdmitError, ChairCommand, CommandError, Conference, ConferenceConfig,
    ConferenceEvent, FeedRole, LegEvent, MeetingPlan, RecordEntry, Snapshot, VenueId,
};
use dais_media::{FeedId, LegConfig, LegId, MediaEvent, MediaKind};
use serde::Serialize;
use tokio::sync::{broadcast, mpsc, oneshot};
use tracing::{debug, info, warn};

pub use crate::media_task::AudioExtras;
use crate::media_task::{MediaHandle, MediaTaskError};

mod audio;
use audio::Levels;
pub use audio::VenueLevel;

/// How often a meeting publishes each venue's media figures (`MeetingEvent::MediaStats`).
pub const MEDIA_STATS_EVERY: std::time::Duration = std::time::Duration::from_secs(2);

/// Places and ends calls for the controller. Implemented by the SIP service (real venues) and
/// by the demo (simulated venues). Calls must not block: start the work and report back through
/// [`MeetingHandle::leg_progress`], [`MeetingHandle::leg_up`] and [`MeetingHandle::leg_down`].
pub trait Dialer: Send + Sync + 'static {
    /// Calls `venue` into meeting `number`.
    fn dial(&self, number: &str, venue: &VenueId);
    /// Ends `venue`'s leg of meeting `number`.
    fn hang_up(&self, number: &str, venue: &VenueId);
}

/// A dialer for meetings whose venues only ever dial in.
#[derive(Debug, Default, Clone, Copy)]
pub struct NoDialer;

impl Dialer for NoDialer {
    fn dial(&self, number: &str, venue: &VenueId) {
        warn!(meeting = number, venue = %venue, "dial-out requested but no dialer is configured");
    }
    fn hang_up(&self, number: &str, venue: &VenueId) {
        debug!(meeting = number, venue = %venue, "hang-up without a dialer");
    }
}

/// What operators and the web console see happen in a meeting.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum MeetingEvent {
    /// A policy event (state, legs, what is shown, polling, refusals…).
    Conference {
        /// The event.
        #[serde(flatten)]
        event: ConferenceEvent,
    },
    /// A switch was asked of the media engine.
    SwitchRequested {
        /// Which picture.
        feed: FeedRole,
        /// To which venue.
        venue: Option<VenueId>,
    },
    /// The media engine cut a picture over (on a keyframe, or forced after the timeout).
    SwitchCompleted {
        /// Which picture.
        feed: FeedRole,
        /// The venue now shown.
        venue: VenueId,
        /// From the switch request to the cut-over, in milliseconds.
        latency_ms: f64,
        /// True when the timeout forced the cut-over without a keyframe.
        forced: bool,
    },
    /// The media engine wants a keyframe from a venue that asked for SIP INFO
    /// (`application/media_control+xml` picture_fast_update) instead of RTCP PLI/FIR: the SIP
    /// layer sends it.
    KeyframeViaSipInfo {
        /// The venue.
        venue: VenueId,
    },
    /// Every few seconds: each venue's uplink quality (the console's quality column).
    MediaStats {
        /// Per venue.
        venues: Vec<VenueMedia>,
    },
    /// A venue's media stopped or resumed, or its picture froze.
    MediaHealth {
        /// The venue.
        venue: VenueId,
        /// `no_media`, `resumed`, `frozen` or `thawed`.
        state: &'static str,
    },
    /// The mixer's dominant speaker changed (after its hold time and hysteresis). With voice
    /// activation on, the policy broadcasts it if it stays dominant.
    DominantSpeaker {
        /// The venue.
        venue: VenueId,
    },
    /// Every mixed venue's audio level, for the console's meters (at most every 500 ms).
    AudioLevels {
        /// One entry per venue.
        levels: Vec<VenueLevel>,
    },
    /// A venue pressed a key (RFC 4733 telephone-event).
    Dtmf {
        /// The venue.
        venue: VenueId,
        /// `0`-`9`, `*`, `#`, `A`-`D` (`?` for other event codes).
        digit: char,
        /// How long the key was held, in milliseconds.
        duration_ms: u64,
    },
}

/// Why a leg could not be brought up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LegError {
    /// The policy refused the venue (unknown, locked meeting, ended meeting…).
    #[error("venue not admitted: {0}")]
    NotAdmitted(#[from] AdmitError),
    /// The venue has no leg in this meeting (a re-INVITE for a call that is gone).
    #[error("the venue has no leg")]
    NoLeg,
    /// The media engine refused the leg.
    #[error(transparent)]
    Media(#[from] MediaTaskError),
    /// The meeting's controller has ended.
    #[error("the meeting has ended")]
    Gone,
}

enum Msg {
    Command(
        Actor,
        ChairCommand,
        oneshot::Sender<Result<(), CommandError>>,
    ),
    Snapshot(oneshot::Sender<MeetingView>),
    Record(oneshot::Sender<Vec<RecordEntry>>),
    Admit(VenueId, oneshot::Sender<Result<(), AdmitError>>),
    LegUp(VenueId, LegConfig, oneshot::Sender<Result<LegId, LegError>>),
    LegUpdate(VenueId, LegConfig, oneshot::Sender<Result<(), LegError>>),
    KeyframeWanted(VenueId),
    LegProgress(VenueId, LegEvent),
    LegDown(VenueId, LegEvent),
    AudioExtras(VenueId, AudioExtras, oneshot::Sender<Result<(), LegError>>),
    Shutdown(oneshot::Sender<()>),
}

/// The whole live state of a meeting in one value (what `GET /api/v1/meetings/{number}` shows).
#[derive(Debug, Clone, Serialize)]
pub struct MeetingView {
    /// The policy's view: state, legs, feeds, mutes, polling, roll call.
    pub conference: Snapshot,
    /// Media figures per venue.
    pub media: Vec<VenueMedia>,
    /// The meeting's RTP address.
    pub rtp_addr: String,
    /// Datagrams dropped by the shell because a socket buffer was full.
    pub send_dropped: u64,
}

/// One venue's media figures.
#[derive(Debug, Clone, Serialize)]
pub struct VenueMedia {
    /// The venue.
    pub venue: VenueId,
    /// RTP packets received from it.
    pub packets_in: u64,
    /// Keyframe requests sent to it.
    pub keyframe_requests: u64,
    /// Packets of it dropped (all reasons; a venue not on screen counts `not_shown` here).
    pub dropped: u64,
    /// Video uplink: receive bitrate in kbit/s.
    pub video_kbps: u64,
    /// Audio uplink: receive bitrate in kbit/s.
    pub audio_kbps: u64,
    /// Packets lost on its uplinks so far (RFC 3550 cumulative loss, video + audio).
    pub lost: i64,
    /// Loss over what was expected, in per cent.
    pub loss_percent: f64,
    /// Interarrival jitter of its video (or, without video, audio) uplink, milliseconds.
    pub jitter_ms: f64,
    /// Video flows but no keyframe for the configured time: its picture is frozen.
    pub frozen: bool,
    /// Round-trip time to the venue in milliseconds, from its last receiver report on the
    /// picture it watches (`None` until it sent one).
    pub rtt_ms: Option<f64>,
    /// What it reported losing of the picture we send it, in per cent (its downlink).
    pub downlink_loss_percent: f64,
}

/// The control plane's handle on a meeting. Cheap to clone.
#[derive(Debug, Clone)]
pub struct MeetingHandle {
    number: String,
    tx: mpsc::Sender<Msg>,
    events: broadcast::Sender<MeetingEvent>,
    media: MediaHandle,
    broadcast_video: FeedId,
}

impl std::fmt::Debug for Msg {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Msg::Command(..) => "Command",
            Msg::Snapshot(..) => "Snapshot",
            Msg::Record(..) => "Record",
            Msg::Admit(..) => "Admit",
            Msg::LegUp(..) => "LegUp",
            Msg::LegUpdate(..) => "LegUpdate",
            Msg::KeyframeWanted(..) => "KeyframeWanted",
            Msg::LegProgress(..) => "LegProgress",
            Msg::LegDown(..) => "LegDown",
            Msg::AudioExtras(..) => "AudioExtras",
            Msg::Shutdown(..) => "Shutdown",
        })
    }
}

/// Errors of a command sent through the handle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ControlError {
    /// The policy refused it (permission, state, unknown venue, conflict).
    #[error(transparent)]
    Refused(#[from] CommandError),
    /// The meeting's controller has ended.
    #[error("the meeting has ended")]
    Gone,
}

impl MeetingHandle {
    /// The meeting number.
    pub fn number(&self) -> &str {
        &self.number
    }

    /// The meeting's media task.
    pub fn media(&self) -> &MediaHandle {
        &self.media
    }

    /// The broadcast picture's feed (what a recording of the meeting shows).
    pub fn broadcast_feed(&self) -> FeedId {
        self.broadcast_video
    }

    /// A new subscription to the meeting's events.
    pub fn subscribe(&self) -> broadcast::Receiver<MeetingEvent> {
        self.events.subscribe()
    }

    /// Runs a chair command for `actor`.
    pub async fn command(&self, actor: Actor, cmd: ChairCommand) -> Result<(), ControlError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Msg::Command(actor, cmd, tx))
            .await
            .map_err(|_| ControlError::Gone)?;
        Ok(rx.await.map_err(|_| ControlError::Gone)??)
    }

    /// The live state.
    pub async fn view(&self) -> Option<MeetingView> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Msg::Snapshot(tx)).await.ok()?;
        rx.await.ok()
    }

    /// The meeting record so far (closed once the meeting ended), for export.
    pub async fn record(&self) -> Option<Vec<RecordEntry>> {
        let (tx, rx) = oneshot::channel();
        self.tx.send(Msg::Record(tx)).await.ok()?;
        rx.await.ok()
    }

    /// May `venue` join now? (Before answering a dial-in.)
    ///
    /// # Errors
    /// [`LegError::NotAdmitted`] with the policy's reason, [`LegError::Gone`].
    pub async fn admit(&self, venue: &VenueId) -> Result<(), LegError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Msg::Admit(venue.clone(), tx))
            .await
            .map_err(|_| LegError::Gone)?;
        Ok(rx.await.map_err(|_| LegError::Gone)??)
    }

    /// A venue's call changed its media (a re-INVITE: hold, resume, new address or codec).
    /// The leg keeps its place in the meeting: what it shows and what it watches are
    /// re-applied to the new parameters.
    ///
    /// # Errors
    /// [`LegError::NoLeg`], [`LegError::Media`] (e.g. the new address is another leg's),
    /// [`LegError::Gone`].
    pub async fn leg_update(&self, venue: &VenueId, cfg: LegConfig) -> Result<(), LegError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Msg::LegUpdate(venue.clone(), cfg, tx))
            .await
            .map_err(|_| LegError::Gone)?;
        rx.await.map_err(|_| LegError::Gone)?
    }

    /// A venue asked for a keyframe by signalling (SIP INFO picture_fast_update): the source
    /// it is watching is asked for one.
    pub async fn keyframe_wanted(&self, venue: &VenueId) {
        let _ = self.tx.send(Msg::KeyframeWanted(venue.clone())).await;
    }

    /// A venue's call is up with these media parameters: add it to the media engine and tell
    /// the policy. Returns the engine's leg id.
    pub async fn leg_up(&self, venue: &VenueId, cfg: LegConfig) -> Result<LegId, LegError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Msg::LegUp(venue.clone(), cfg, tx))
            .await
            .map_err(|_| LegError::Gone)?;
        rx.await.map_err(|_| LegError::Gone)?
    }

    /// Dial-out progress (dialing, ringing, busy, failed).
    pub async fn leg_progress(&self, venue: &VenueId, ev: LegEvent) {
        let _ = self.tx.send(Msg::LegProgress(venue.clone(), ev)).await;
    }

    /// A venue's call ended (`HungUpByVenue`, `Dropped{..}`).
    pub async fn leg_down(&self, venue: &VenueId, ev: LegEvent) {
        let _ = self.tx.send(Msg::LegDown(venue.clone(), ev)).await;
    }

    /// What `venue`'s SDP agreed on for its audio besides the codec: the RFC 4733
    /// telephone-event payload type (its key presses become [`MeetingEvent::Dtmf`]) and the
    /// RFC 6464 audio-level extension (the mixer reads its own level). Call it after
    /// [`MeetingHandle::leg_up`] or [`MeetingHandle::leg_update`]; it does nothing for a venue
    /// without a leg or whose audio is not mixed.
    pub async fn set_audio_extras(
        &self,
        venue: &VenueId,
        extras: AudioExtras,
    ) -> Result<(), LegError> {
        let (tx, rx) = oneshot::channel();
        self.tx
            .send(Msg::AudioExtras(venue.clone(), extras, tx))
            .await
            .map_err(|_| LegError::Gone)?;
        rx.await.map_err(|_| LegError::Gone)?
    }

    /// Ends the meeting (every leg hung up) and stops its tasks; waits for both.
    pub async fn shutdown(&self) {
        let (tx, rx) = oneshot::channel();
        if self.tx.send(Msg::Shutdown(tx)).await.is_ok() {
            let _ = rx.await;
        }
    }
}

#[derive(Debug, Clone, Copy)]
struct FeedPair {
    video: FeedId,
    audio: FeedId,
}

/// Starts a meeting: its feeds on `media`, and its controller task.
///
/// # Errors
/// When the plan is invalid or the media task is gone.
pub async fn start(
    plan: MeetingPlan,
    config: ConferenceConfig,
    media: MediaHandle,
    mut media_events: mpsc::Receiver<MediaEvent>,
    dialer: std::sync::Arc<dyn Dialer>,
) -> Result<MeetingHandle, String> {
    let number = plan.number.clone();
    let conf = Conference::new(Instant::now(), plan, config).map_err(|e| e.to_string())?;
    let mut feeds = HashMap::new();
    for role in [
        FeedRole::Broadcast,
        FeedRole::BroadcasterView,
        FeedRole::ChairView,
    ] {
        let video = media
            .create_feed(MediaKind::Video)
            .await
            .map_err(|e| e.to_string())?;
        let audio = media
            .create_feed(MediaKind::Audio)
            .await
            .map_err(|e| e.to_string())?;
        feeds.insert(role, FeedPair { video, audio });
    }
    let mut audio_events = media.take_audio_events();
    // Media figures for operators every few seconds (the issue asks for "every few seconds");
    // skipped while nobody listens.
    let mut stats_tick = tokio::time::interval(MEDIA_STATS_EVERY);
    stats_tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let main_venue = conf.meeting().main_venue.clone();
    let (tx, mut rx) = mpsc::channel(256);
    let (events, _) = broadcast::channel(1024);
    let handle = MeetingHandle {
        number: number.clone(),
        tx,
        events: events.clone(),
        media: media.clone(),
        broadcast_video: feeds[&FeedRole::Broadcast].video,
    };
    let mut ctl = Controller {
        number,
        conf,
        media,
        feeds,
        dialer,
        events,
        legs: HashMap::new(),
        main_kind: HashMap::new(),
        frozen: Default::default(),
        venue_of: HashMap::new(),
        watching: HashMap::new(),
        shown: HashMap::new(),
        mic_closed: Default::default(),
        audio_blocked: Default::default(),
        next_leg: 1,
        switch_asked: HashMap::new(),
        mixed: HashSet::new(),
        dominant: None,
        main_venue,
        levels: Levels::default(),
    };
    tokio::spawn(async move {
        loop {
            let deadline = match (ctl.conf.poll_timeout(), ctl.levels.due) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            let audio = async {
                match audio_events.as_mut() {
                    Some(rx) => rx.recv().await,
                    None => std::future::pending().await,
                }
            };
            let sleep = async {
                match deadline {
                    Some(d) => tokio::time::sleep_until(d.into()).await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                _ = stats_tick.tick() => ctl.publish_media_stats().await,
                msg = rx.recv() => match msg {
                    Some(Msg::Shutdown(done)) => {
                        ctl.end_all().await;
                        ctl.media.shutdown().await;
                        let _ = done.send(());
                        break;
                    }
                    Some(msg) => ctl.handle(msg).await,
                    None => {
                        ctl.end_all().await;
                        ctl.media.shutdown().await;
                        break;
                    }
                },
                ev = media_events.recv() => {
                    if let Some(ev) = ev {
                        ctl.media_event(ev).await;
                    }
                }
                ev = audio => match ev {
                    Some(ev) => ctl.audio_event(ev).await,
                    // The media task has ended; shutdown comes through `rx`.
                    None => audio_events = None,
                },
                () = sleep => {
                    let now = Instant::now();
                    if ctl.levels.due.is_some_and(|d| d <= now) {
                        ctl.flush_levels(now);
                    }
                    if ctl.conf.poll_timeout().is_some_and(|d| d <= now) {
                        let actions = ctl.conf.handle_timeout(now);
                        ctl.apply(actions).await;
                    }
                }
            }
            ctl.publish();
        }
        info!(meeting = %ctl.number, "meeting controller ended");
    });
    Ok(handle)
}

struct Controller {
    number: String,
    conf: Conference,
    media: MediaHandle,
    feeds: HashMap<FeedRole, FeedPair>,
    dialer: std::sync::Arc<dyn Dialer>,
    events: broadcast::Sender<MeetingEvent>,
    legs: HashMap<VenueId, LegId>,
    /// Legs whose picture is frozen (video without a keyframe for too long).
    frozen: std::collections::HashSet<LegId>,
    /// The main media kind of each leg: its silence means the venue is gone.
    main_kind: HashMap<LegId, MediaKind>,
    venue_of: HashMap<LegId, VenueId>,
    /// The picture each venue should watch (the policy says it only when it changes).
    watching: HashMap<VenueId, FeedRole>,
    /// What each feed role shows.
    shown: HashMap<FeedRole, Option<VenueId>>,
    mic_closed: std::collections::HashSet<VenueId>,
    audio_blocked: std::collections::HashSet<VenueId>,
    next_leg: u32,
    switch_asked: HashMap<FeedId, Instant>,
    /// Legs whose audio is in the mixer (the others use the audio feeds).
    mixed: HashSet<LegId>,
    /// The mixer's dominant speaker (it reports changes only).
    dominant: Option<VenueId>,
    main_venue: VenueId,
    levels: Levels,
}

impl Controller {
    async fn handle(&mut self, msg: Msg) {
        let now = Instant::now();
        match msg {
            Msg::Command(actor, cmd, reply) => {
                let voice_on = matches!(cmd, ChairCommand::SetVoiceActivation { on: true });
                match self.conf.command(now, &actor, cmd) {
                    Ok(actions) => {
                        self.apply(actions).await;
                        if voice_on {
                            self.refeed_dominant_speaker(now).await;
                        }
                        let _ = reply.send(Ok(()));
                    }
                    Err(e) => {
                        let _ = reply.send(Err(e));
                    }
                }
            }
            Msg::Snapshot(reply) => {
                let _ = reply.send(self.view().await);
            }
            Msg::Record(reply) => {
                let _ = reply.send(self.conf.record().to_vec());
            }
            Msg::Admit(venue, reply) => {
                let _ = reply.send(self.conf.admit(now, &venue));
            }
            Msg::LegUpdate(venue, cfg, reply) => {
                let r = self.leg_update(&venue, cfg).await;
                let _ = reply.send(r);
            }
            Msg::KeyframeWanted(venue) => {
                if let Some(leg) = self.legs.get(&venue).copied() {
                    let _ = self.media.keyframe_wanted_by(leg).await;
                }
            }
            Msg::LegUp(venue, cfg, reply) => {
                let r = self.leg_up(now, venue, cfg).await;
                let _ = reply.send(r);
            }
            Msg::LegProgress(venue, ev) => self.leg_event(now, &venue, ev).await,
            Msg::AudioExtras(venue, extras, reply) => {
                let r = match self.mixed_leg(&venue) {
                    Some(leg) => self
                        .media
                        .set_audio_extras(leg, extras)
                        .await
                        .map_err(LegError::from),
                    None => Ok(()),
                };
                let _ = reply.send(r);
            }
            Msg::LegDown(venue, ev) => {
                self.remove_leg(&venue).await;
                self.leg_event(now, &venue, ev).await;
            }
            Msg::Shutdown(_) => {}
        }
    }

    /// Takes a venue's leg out of the media engine (its picture feeds go idle).
    async fn remove_leg(&mut self, venue: &VenueId) {
        if let Some(leg) = self.legs.remove(venue) {
            self.venue_of.remove(&leg);
            self.main_kind.remove(&leg);
            self.frozen.remove(&leg);
            // Removing the leg takes it out of the mixer too.
            self.mixed.remove(&leg);
            if self.dominant.as_ref() == Some(venue) {
                self.dominant = None;
            }
            let _ = self.media.remove_leg(leg).await;
        }
    }

    async fn leg_event(&mut self, now: Instant, venue: &VenueId, ev: LegEvent) {
        match self.conf.handle_leg_event(now, venue, ev) {
            Ok(actions) => self.apply(actions).await,
            Err(e) => {
                debug!(meeting = %self.number, venue = %venue, error = %e, "leg event ignored")
            }
        }
    }

    async fn leg_up(
        &mut self,
        now: Instant,
        venue: VenueId,
        cfg: LegConfig,
    ) -> Result<LegId, LegError> {
        self.conf
            .admit(now, &venue)
            .map_err(LegError::NotAdmitted)?;
        // A venue that calls again while its old leg lingers replaces it.
        self.remove_leg(&venue).await;
        let leg = LegId(self.next_leg);
        self.next_leg += 1;
        self.media.add_leg(leg, cfg).await?;
        let kind = if cfg.video.is_some() {
            MediaKind::Video
        } else {
            MediaKind::Audio
        };
        self.main_kind.insert(leg, kind);
        self.legs.insert(venue.clone(), leg);
        self.venue_of.insert(leg, venue.clone());
        self.join_mixer(&venue, leg, &cfg).await;
        let role = *self.watching.get(&venue).unwrap_or(&FeedRole::Broadcast);
        self.subscribe(&venue, role).await;
        match self.conf.handle_leg_event(now, &venue, LegEvent::Answered) {
            Ok(actions) => self.apply(actions).await,
            Err(e) => {
                debug!(meeting = %self.number, venue = %venue, error = %e, "answer not taken")
            }
        }
        // A feed that was waiting for this venue can show it now.
        let waiting: Vec<FeedRole> = self
            .shown
            .iter()
            .filter(|(_, v)| v.as_ref() == Some(&venue))
            .map(|(r, _)| *r)
            .collect();
        for role in waiting {
            self.show(role, Some(venue.clone())).await;
        }
        Ok(leg)
    }

    async fn leg_update(&mut self, venue: &VenueId, cfg: LegConfig) -> Result<(), LegError> {
        let leg = self.legs.get(venue).copied().ok_or(LegError::NoLeg)?;
        self.media.update_leg(leg, cfg).await?;
        // The engine drops the subscriptions of a leg that stops receiving (hold); watching
        // again after the resume needs them back, and re-subscribing is idempotent.
        let role = *self.watching.get(venue).unwrap_or(&FeedRole::Broadcast);
        self.subscribe(venue, role).await;
        info!(meeting = %self.number, %venue, send = cfg.send, recv = cfg.recv, "leg media updated");
        Ok(())
    }

    async fn apply(&mut self, mut actions: Vec<Action>) {
        // Pictures first, then who watches them: a venue told to watch a feed that is about to
        // stop showing it must see that the feed is switching away (see `subscribe`). The sort
        // is stable, so each group keeps the policy's order.
        actions.sort_by_key(|a| !matches!(a, Action::Show { .. }));
        for action in actions {
            match action {
                Action::Show { feed, venue } => self.show(feed, venue).await,
                Action::Subscribe { venue, feed } => {
                    self.watching.insert(venue.clone(), feed);
                    self.subscribe(&venue, feed).await;
                }
                Action::SetMicrophone { venue, open } => {
                    if open {
                        self.mic_closed.remove(&venue);
                    } else {
                        self.mic_closed.insert(venue.clone());
                    }
                    if let Some(leg) = self.mixed_leg(&venue)
                        && let Err(e) = self.media.set_audio_muted(leg, !open).await
                    {
                        warn!(meeting = %self.number, venue = %venue, error = %e, "mute refused by the mixer");
                    }
                    self.refresh_audio(&venue).await;
                }
                Action::BlockAudio { venue, blocked } => {
                    if blocked {
                        self.audio_blocked.insert(venue.clone());
                    } else {
                        self.audio_blocked.remove(&venue);
                    }
                    if let Some(leg) = self.mixed_leg(&venue) {
                        if let Err(e) = self.media.set_audio_blocked(leg, blocked).await {
                            warn!(meeting = %self.number, venue = %venue, error = %e, "block refused by the mixer");
                        }
                    } else {
                        let role = *self.watching.get(&venue).unwrap_or(&FeedRole::Broadcast);
                        self.subscribe(&venue, role).await;
                    }
                }
                Action::RequestKeyframe { venue } => {
                    // The policy announces the next polling venue ahead of its tick: its
                    // keyframe is then on its way when the switch comes.
                    if let Some(leg) = self.legs.get(&venue).copied() {
                        let _ = self.media.prefetch_keyframe(leg).await;
                    }
                }
                Action::Dial { venue } => self.dialer.dial(&self.number, &venue),
                Action::HangUp { venue } => {
                    self.dialer.hang_up(&self.number, &venue);
                    self.remove_leg(&venue).await;
                }
                Action::HangUpAll => self.hang_up_all().await,
            }
        }
    }

    async fn hang_up_all(&mut self) {
        let venues: Vec<VenueId> = self.legs.keys().cloned().collect();
        for venue in venues {
            self.dialer.hang_up(&self.number, &venue);
            self.remove_leg(&venue).await;
        }
    }

    /// Ends the meeting through the policy (so the record says so), then hangs up whatever is
    /// left.
    async fn end_all(&mut self) {
        let system = Actor::new("system", dais_conference::Role::ItCentre);
        if let Ok(actions) = self
            .conf
            .command(Instant::now(), &system, ChairCommand::EndMeeting)
        {
            self.apply(actions).await;
        }
        self.hang_up_all().await;
        self.publish();
    }

    async fn show(&mut self, role: FeedRole, venue: Option<VenueId>) {
        self.shown.insert(role, venue.clone());
        let Some(pair) = self.feeds.get(&role).copied() else {
            return;
        };
        let leg = venue.as_ref().and_then(|v| self.legs.get(v)).copied();
        let _ = self.events.send(MeetingEvent::SwitchRequested {
            feed: role,
            venue: venue.clone(),
        });
        if leg.is_some() {
            self.switch_asked.insert(pair.video, Instant::now());
        }
        if let Err(e) = self.media.switch(pair.video, leg).await {
            warn!(meeting = %self.number, error = %e, "video switch refused");
        }
        let audio_leg = venue.as_ref().and_then(|v| self.feed_audio_leg(v));
        if let Err(e) = self.media.switch(pair.audio, audio_leg).await {
            warn!(meeting = %self.number, error = %e, "audio switch refused");
        }
    }

    async fn refresh_audio(&mut self, venue: &VenueId) {
        let roles: Vec<FeedRole> = self
            .shown
            .iter()
            .filter(|(_, v)| v.as_ref() == Some(venue))
            .map(|(r, _)| *r)
            .collect();
        for role in roles {
            let Some(pair) = self.feeds.get(&role).copied() else {
                continue;
            };
            let leg = self.feed_audio_leg(venue);
            let _ = self.media.switch(pair.audio, leg).await;
        }
    }

    async fn subscribe(&mut self, venue: &VenueId, role: FeedRole) {
        let Some(leg) = self.legs.get(venue).copied() else {
            return;
        };
        for (r, pair) in &self.feeds {
            if *r != role {
                let _ = self.media.unsubscribe(leg, pair.video).await;
                let _ = self.media.unsubscribe(leg, pair.audio).await;
            }
        }
        let Some(pair) = self.feeds.get(&role).copied() else {
            return;
        };
        if let Err(e) = self.media.subscribe(leg, pair.video).await {
            debug!(meeting = %self.number, venue = %venue, error = %e, "no video subscription");
        }
        // A mixed leg hears the mix, never an audio feed.
        if self.audio_blocked.contains(venue) || self.mixed.contains(&leg) {
            let _ = self.media.unsubscribe(leg, pair.audio).await;
        } else if let Err(e) = self.media.subscribe(leg, pair.audio).await {
            debug!(meeting = %self.number, venue = %venue, error = %e, "no audio subscription");
        }
    }

    async fn media_event(&mut self, ev: MediaEvent) {
        let role_of = |feeds: &HashMap<FeedRole, FeedPair>, feed: FeedId| {
            feeds.iter().find(|(_, p)| p.video == feed).map(|(r, _)| *r)
        };
        match ev {
            MediaEvent::SwitchCompleted {
                feed,
                to,
                latency,
                forced,
            } => {
                self.switch_asked.remove(&feed);
                if let (Some(role), Some(venue)) =
                    (role_of(&self.feeds, feed), self.venue_of.get(&to).cloned())
                {
                    let _ = self.events.send(MeetingEvent::SwitchCompleted {
                        feed: role,
                        venue,
                        latency_ms: latency.as_secs_f64() * 1e3,
                        forced,
                    });
                }
            }
            MediaEvent::SourceNoMedia { leg, kind } => {
                if let Some(venue) = self.venue_of.get(&leg).cloned() {
                    let _ = self.events.send(MeetingEvent::MediaHealth {
                        venue: venue.clone(),
                        state: "no_media",
                    });
                    // Silence on the main media kind of a leg counts as a drop (the SIP layer
                    // adds BYE, session-timer and transaction timeouts).
                    if self.main_kind.get(&leg) == Some(&kind) {
                        self.remove_leg(&venue).await;
                        self.leg_event(
                            Instant::now(),
                            &venue,
                            LegEvent::Dropped {
                                reason: dais_conference::DropReason::MediaTimeout,
                            },
                        )
                        .await;
                    }
                }
            }
            MediaEvent::SourceFrozen { leg } | MediaEvent::SourceThawed { leg }
                if self.venue_of.contains_key(&leg) =>
            {
                let state = if matches!(ev, MediaEvent::SourceFrozen { .. }) {
                    self.frozen.insert(leg);
                    "frozen"
                } else {
                    self.frozen.remove(&leg);
                    "thawed"
                };
                let venue = self.venue_of[&leg].clone();
                let _ = self.events.send(MeetingEvent::MediaHealth { venue, state });
            }
            MediaEvent::KeyframeRequested {
                leg,
                via: dais_media::KeyframeVia::SipInfo,
            } => {
                if let Some(venue) = self.venue_of.get(&leg).cloned() {
                    let _ = self.events.send(MeetingEvent::KeyframeViaSipInfo { venue });
                }
            }
            other => debug!(meeting = %self.number, event = ?other, "media event"),
        }
    }

    /// Each connected venue's media figures.
    async fn venue_media(&self) -> Vec<VenueMedia> {
        let Some(s) = self.media.stats().await.ok() else {
            return Vec::new();
        };
        let quality: HashMap<LegId, _> = s.quality.iter().map(|(l, v, a)| (*l, (*v, *a))).collect();
        s.legs
            .iter()
            .filter_map(|(leg, st)| {
                let (video, audio) = quality.get(leg).copied().unwrap_or_default();
                let lost = video.map_or(0, |q| q.lost) + audio.map_or(0, |q| q.lost);
                let expected = video.map_or(0, |q| q.expected) + audio.map_or(0, |q| q.expected);
                Some(VenueMedia {
                    venue: self.venue_of.get(leg)?.clone(),
                    packets_in: st.rtp_received,
                    keyframe_requests: st.keyframe_requests,
                    dropped: st.dropped.total(),
                    video_kbps: video.map_or(0, |q| q.bitrate / 1000),
                    audio_kbps: audio.map_or(0, |q| q.bitrate / 1000),
                    lost,
                    loss_percent: if expected > 0 {
                        (lost.max(0) as f64) * 100.0 / expected as f64
                    } else {
                        0.0
                    },
                    jitter_ms: video.or(audio).map_or(0.0, |q| q.jitter_ms),
                    frozen: self.frozen.contains(leg),
                    rtt_ms: st.rtt_us.map(|us| us as f64 / 1000.0),
                    downlink_loss_percent: f64::from(st.downlink_fraction_lost) * 100.0 / 256.0,
                })
            })
            .collect()
    }

    /// Publishes every venue's media figures (the periodic `media_stats` event).
    async fn publish_media_stats(&self) {
        if self.events.receiver_count() == 0 || self.legs.is_empty() {
            return;
        }
        let venues = self.venue_media().await;
        let _ = self.events.send(MeetingEvent::MediaStats { venues });
    }

    async fn view(&self) -> MeetingView {
        let media = self.venue_media().await;
        MeetingView {
            conference: self.conf.snapshot(),
            media,
            rtp_addr: self.media.rtp_addr().to_string(),
            send_dropped: self
                .media
                .counters()
                .send_dropped
                .load(std::sync::atomic::Ordering::Relaxed),
        }
    }

    fn publish(&mut self) {
        while let Some(event) = self.conf.poll_event() {
            let _ = self.events.send(MeetingEvent::Conference { event });
        }
    }
}
