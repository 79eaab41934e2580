//! The meetings this server runs: a registry of `dais-net` meeting controllers behind the
//! [`MeetingControl`] seam, the WebSocket event stream, and the `--demo` meeting.
//!
//! The registry holds only handles (channels to each meeting's tasks); all meeting state lives
//! in those tasks, so no lock is held across a meeting operation.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use axum::{Json, Router};
use dais_conference::{
    ChairCommand, CommandError, ConferenceConfig, ConferenceEvent, MeetingPlan, Role as ConfRole,
    Venue, VenueId, VenueKind,
};
use dais_media::EngineConfig;
use dais_net::demo::SimDialer;
use dais_net::media_task;
use dais_net::meeting::{
    self, ControlError as MeetingError, Dialer, MeetingEvent, MeetingHandle, NoDialer,
};
use dais_net::sim::VideoShape;
use tokio::sync::{broadcast, mpsc};
use tracing::{info, warn};

use crate::ApiError;
use crate::api::access::{audit, meeting_in_scope, refuse, site_scope};
use crate::api::auth::AuthedOperator;
use crate::api::meetings::{StartRequest, check_number};
use crate::app::{AppState, unix_now};
use crate::config::RtpPortRange;
use crate::control::{
    Actor, BoxFuture, ChairCommandJson, CommandOutcome, ControlError, MeetingControl,
    MeetingDetail, MeetingSummary, VenueStatus,
};

/// Display names of a meeting's venues, kept beside the handle for the API.
#[derive(Debug, Clone)]
struct Entry {
    handle: MeetingHandle,
    names: BTreeMap<VenueId, String>,
    /// The plan's venues with their place in the hierarchy (the console lays its wall out by it).
    plan: Vec<Venue>,
    /// The record of an earlier run of this meeting cut short by a crash (a stored meeting
    /// resumed after a restart): this run's entries follow it.
    earlier: Option<Arc<dais_store::StoredRecord>>,
}

/// Every meeting of this server.
pub struct Meetings {
    ip: IpAddr,
    ports: RtpPortRange,
    engine: EngineConfig,
    entries: Mutex<BTreeMap<String, Entry>>,
    /// Places calls for meetings started from the store (the SIP service's dialer once it is
    /// attached; until then [`NoDialer`], so venues can only dial in).
    dialer: Mutex<Arc<dyn Dialer>>,
    /// Set when shutdown begins: no meeting starts after that (the scheduler's next tick or a
    /// late API call would otherwise start one the shutdown has already passed).
    closing: std::sync::atomic::AtomicBool,
    /// Recording of live meetings, once attached (`api::recordings::attach`).
    recording: Mutex<Option<RecordingHook>>,
    /// Each meeting's recording watcher: ends after its meeting, once the file is finished.
    recorders: Mutex<Vec<tokio::task::JoinHandle<()>>>,
}

/// Where live meetings are recorded, whether a meeting is (its policy, by number), and who
/// receives each finished recording.
type RecordingHook = (
    dais_net::recording::RecordingSettings,
    Arc<dyn Fn(String) -> BoxFuture<'static, bool> + Send + Sync>,
    Arc<dyn Fn(dais_net::recording::FinishedRecording) + Send + Sync>,
);

impl std::fmt::Debug for Meetings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Meetings")
            .field("ip", &self.ip)
            .field("ports", &self.ports)
            .field(
                "meetings",
                &self.entries.lock().map(|e| e.len()).unwrap_or(0),
            )
            .finish_non_exhaustive()
    }
}

impl Meetings {
    /// An empty registry; meetings' media bind on `ip` within `ports`.
    pub fn new(ip: IpAddr, ports: RtpPortRange) -> Arc<Meetings> {
        Arc::new(Meetings {
            ip,
            ports,
            engine: EngineConfig::default(),
            entries: Mutex::new(BTreeMap::new()),
            dialer: Mutex::new(Arc::new(NoDialer)),
            closing: std::sync::atomic::AtomicBool::new(false),
            recording: Mutex::new(None),
            recorders: Mutex::new(Vec::new()),
        })
    }

    /// Waits until every meeting's recording is finished and handed over (call after the
    /// meetings have ended: a recording ends with its meeting).
    pub async fn recordings_finished(&self) {
        let watchers =
            std::mem::take(&mut *self.recorders.lock().unwrap_or_else(|e| e.into_inner()));
        for w in watchers {
            let _ = w.await;
        }
    }

    /// Records every meeting started from now on whose policy (`record`, asked with the
    /// meeting number at start) allows it, whenever it is live; each finished recording goes
    /// to `finished`.
    pub fn set_recording(
        &self,
        settings: dais_net::recording::RecordingSettings,
        record: Arc<dyn Fn(String) -> BoxFuture<'static, bool> + Send + Sync>,
        finished: Arc<dyn Fn(dais_net::recording::FinishedRecording) + Send + Sync>,
    ) {
        *self.recording.lock().unwrap_or_else(|e| e.into_inner()) =
            Some((settings, record, finished));
    }

    /// Sets the dialer used by meetings started from now on (`POST
    /// /api/v1/meetings/{number}/start`). Call it at start-up, before serving; meetings already
    /// running keep the dialer they were started with.
    pub fn set_dialer(&self, dialer: Arc<dyn Dialer>) {
        *self.dialer.lock().unwrap_or_else(|e| e.into_inner()) = dialer;
    }

    /// The dialer new meetings get.
    pub fn dialer(&self) -> Arc<dyn Dialer> {
        self.dialer
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    fn get(&self, number: &str) -> Option<Entry> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(number)
            .cloned()
    }

    /// A running meeting's record (after an earlier run's, if it was resumed after a crash),
    /// as JSON or CSV; `None` when it is not running here.
    ///
    /// # Errors
    ///
    /// The export failed (a bug: the entries are plain data).
    pub async fn record_export(
        &self,
        number: &str,
        csv: bool,
    ) -> Option<Result<String, serde_json::Error>> {
        let entry = self.get(number)?;
        let entries = entry.handle.record().await?;
        Some(
            export_record(entry.earlier.as_deref(), &entries).map(|(j, c)| if csv { c } else { j }),
        )
    }

    /// True once shutdown has begun: no new meeting starts.
    pub fn is_closing(&self) -> bool {
        self.closing.load(std::sync::atomic::Ordering::Acquire)
    }

    /// The handle of a running meeting.
    pub fn handle(&self, number: &str) -> Option<MeetingHandle> {
        self.get(number).map(|e| e.handle)
    }

    /// Starts a meeting: binds its media port pair, spawns its media task and controller.
    ///
    /// # Errors
    /// A duplicate number, no free port pair in the range, or an invalid plan.
    pub async fn start_meeting(
        &self,
        plan: MeetingPlan,
        dialer: Arc<dyn Dialer>,
    ) -> Result<MeetingHandle, String> {
        if self.is_closing() {
            return Err("the server is shutting down".into());
        }
        if self.get(&plan.number).is_some() {
            return Err(format!("meeting {} already exists", plan.number));
        }
        let (rtp, rtcp) = self.bind_pair()?;
        let (ev_tx, ev_rx) = mpsc::channel(1024);
        let media = media_task::spawn(rtp, rtcp, self.engine, ev_tx).map_err(|e| e.to_string())?;
        let names = plan
            .venues
            .iter()
            .map(|v| (v.id.clone(), v.name.clone()))
            .collect();
        let number = plan.number.clone();
        let plan_venues = plan.venues.clone();
        let handle =
            meeting::start(plan, ConferenceConfig::default(), media, ev_rx, dialer).await?;
        info!(meeting = %number, rtp = %handle.media().rtp_addr(), "meeting started");
        let hook = self
            .recording
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone();
        if let Some((settings, record, finished)) = hook {
            if record(number.clone()).await {
                // Subscribed before the meeting can go live, so the go-live is never missed.
                let w =
                    dais_net::recording::record_when_live(&handle, settings, move |f| finished(f));
                let mut recorders = self.recorders.lock().unwrap_or_else(|e| e.into_inner());
                recorders.retain(|h| !h.is_finished());
                recorders.push(w);
            } else {
                info!(meeting = %number, "recording is off for this meeting");
            }
        }
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .insert(
                number,
                Entry {
                    handle: handle.clone(),
                    names,
                    plan: plan_venues,
                    earlier: None,
                },
            );
        Ok(handle)
    }

    fn bind_pair(&self) -> Result<(std::net::UdpSocket, std::net::UdpSocket), String> {
        let mut port = self.ports.lo();
        while port < self.ports.hi() {
            if let Ok(pair) = media_task::bind_pair(self.ip, port) {
                return Ok(pair);
            }
            port = port.saturating_add(2);
        }
        Err(format!(
            "no free RTP port pair in {}-{}",
            self.ports.lo(),
            self.ports.hi()
        ))
    }

    /// Every running meeting's number and media task (for metrics).
    pub fn media_handles(&self) -> Vec<(String, dais_net::media_task::MediaHandle)> {
        self.entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(n, e)| (n.clone(), e.handle.media().clone()))
            .collect()
    }

    /// Routes served by the registry itself: the meeting event stream
    /// (`GET /api/v1/meetings/{number}/events`, WebSocket) and starting a stored meeting
    /// (`POST /api/v1/meetings/{number}/start`). Their OpenAPI descriptions are in
    /// [`crate::api::meetings`].
    pub fn router(self: &Arc<Self>) -> Router<AppState> {
        let events = self.clone();
        let start = self.clone();
        Router::new()
            .route(
                "/api/v1/meetings/{number}/events",
                get(
                    move |State(state): State<AppState>,
                          who: AuthedOperator,
                          Path(number): Path<String>,
                          ws: WebSocketUpgrade| {
                        let me = events.clone();
                        async move { me.events(state, who, number, ws).await }
                    },
                ),
            )
            .route(
                "/api/v1/meetings/{number}/start",
                post(
                    move |State(state): State<AppState>,
                          who: AuthedOperator,
                          Path(number): Path<String>,
                          body: Bytes| {
                        let me = start.clone();
                        async move { me.start_stored(state, who, number, body).await }
                    },
                ),
            )
    }

    async fn events(
        &self,
        state: AppState,
        who: AuthedOperator,
        number: String,
        ws: WebSocketUpgrade,
    ) -> Response {
        use axum::response::IntoResponse;
        let Some(entry) = self.get(&number) else {
            return ApiError::not_found(format!("no running meeting {number}")).into_response();
        };
        match site_scope(&state, &who).await {
            Err(e) => return e.into_response(),
            Ok(scope) => {
                if !meeting_in_scope(&scope, entry.names.keys().map(VenueId::as_str)) {
                    return refuse(
                        &state,
                        &who,
                        "meeting.events",
                        &format!("meeting {number}"),
                        "none of this site's venues takes part in the meeting",
                    )
                    .await
                    .into_response();
                }
            }
        }
        let mut rx = entry.handle.subscribe();
        info!(meeting = %number, operator = %who.operator.username, "event stream opened");
        ws.protocols([crate::api::auth::WS_PROTOCOL])
            .on_upgrade(move |mut socket: WebSocket| async move {
            loop {
                tokio::select! {
                    ev = rx.recv() => match ev {
                        Ok(ev) => {
                            let Ok(text) = serde_json::to_string(&ev) else { continue };
                            if socket.send(Message::Text(text.into())).await.is_err() {
                                break;
                            }
                        }
                        Err(broadcast::error::RecvError::Lagged(n)) => {
                            let note = serde_json::json!({"type": "lagged", "missed": n});
                            if socket.send(Message::Text(note.to_string().into())).await.is_err() {
                                break;
                            }
                        }
                        Err(_) => break,
                    },
                    msg = socket.recv() => match msg {
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => break,
                        _ => {}
                    },
                }
            }
        })
    }

    /// Starts a stored meeting (not running, not ended) the way `POST
    /// /api/v1/meetings/{number}/start` does: builds the plan from the store, starts it with
    /// the registry's dialer, writes its state changes and its record back, puts it in testing
    /// (`testing`, unless the store has it live) or live, and dials every venue. `starter`
    /// chairs it when the store names no chair; `actor` is who the commands are issued as.
    /// The scheduler uses it too.
    ///
    /// # Errors
    ///
    /// 409 when running or ended or a venue cannot take part, 503 without a free port pair.
    pub async fn launch_stored(
        &self,
        store: &dais_store::Store,
        stored: &dais_store::Meeting,
        starter: &str,
        actor: dais_conference::Actor,
        testing: bool,
    ) -> Result<MeetingDetail, ApiError> {
        let number = stored.number.clone();
        let conflict = |why: String| ApiError::new(StatusCode::CONFLICT, "refused", why);
        if self.get(&number).is_some() {
            return Err(conflict(format!("meeting {number} is already running")));
        }
        if stored.state == dais_store::MeetingState::Ended {
            return Err(conflict(format!("meeting {number} has ended")));
        }
        let plan = plan_from_store(store, stored, starter).await?;
        // A record already stored is an earlier run's, cut short by a crash.
        let earlier = match store.meeting_record(&number).await {
            Ok(r) => r.map(Arc::new),
            Err(e) => {
                warn!(meeting = %number, error = %e, "earlier meeting record not readable");
                None
            }
        };
        let handle = self
            .start_meeting(plan, self.dialer())
            .await
            .map_err(|e| ApiError::new(StatusCode::SERVICE_UNAVAILABLE, "unavailable", e))?;
        if let Some(e) = self
            .entries
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get_mut(&number)
        {
            e.earlier.clone_from(&earlier);
        }
        // Subscribe before the first command so that no state change is missed.
        spawn_state_writer(
            store.clone(),
            number.clone(),
            handle.subscribe(),
            RecordWriter {
                store: store.clone(),
                number: number.clone(),
                handle: handle.clone(),
                earlier,
                written: None,
            },
        );
        // A meeting the store already has live (a restart) resumes live.
        let first = if testing && stored.state != dais_store::MeetingState::Live {
            ChairCommand::StartTesting
        } else {
            ChairCommand::GoLive
        };
        handle
            .command(actor.clone(), first)
            .await
            .map_err(|e| ApiError::from(from_policy(e)))?;
        let venues: Vec<VenueId> = self
            .get(&number)
            .map(|e| e.names.keys().cloned().collect())
            .unwrap_or_default();
        for venue in venues {
            if let Err(e) = handle
                .command(
                    actor.clone(),
                    ChairCommand::Dial {
                        venue: venue.clone(),
                    },
                )
                .await
            {
                warn!(meeting = %number, venue = %venue, error = %e, "venue not dialled");
            }
        }
        self.meeting_state(number.clone())
            .await
            .map_err(ApiError::from)
    }

    /// `POST /api/v1/meetings/{number}/start`: see [`crate::api::meetings::start_doc`].
    async fn start_stored(
        &self,
        state: AppState,
        who: AuthedOperator,
        number: String,
        body: Bytes,
    ) -> Result<Json<MeetingDetail>, ApiError> {
        check_number(&number)?;
        let req: StartRequest = if body.iter().all(u8::is_ascii_whitespace) {
            StartRequest::default()
        } else {
            serde_json::from_slice(&body)
                .map_err(|e| ApiError::bad_request(format!("start request: {e}")))?
        };
        let target = format!("meeting {number}");
        let stored = state
            .store
            .meeting(&number)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("meeting {number} not found")))?;
        let username = &who.operator.username;
        let may = match &who.operator.role {
            dais_store::Role::ItCentre => true,
            dais_store::Role::ChairOperator => stored.chair.as_ref().is_none_or(|c| c == username),
            _ => false,
        };
        if !may {
            return Err(refuse(
                &state,
                &who,
                "meeting.start",
                &target,
                "only the IT centre or the meeting's chair operator may start it",
            )
            .await);
        }
        let outcome = self
            .launch_stored(
                &state.store,
                &stored,
                username,
                conference_actor(&who.actor()),
                req.testing,
            )
            .await;
        let result = match &outcome {
            Ok(_) => dais_store::AuditResult::Ok,
            Err(e) if e.status.is_client_error() => {
                dais_store::AuditResult::Refused(e.message.clone())
            }
            Err(e) => dais_store::AuditResult::Failed(e.message.clone()),
        };
        audit(&state, &who, "meeting.start", &target, result).await;
        outcome.map(Json)
    }
}

/// Builds the conference plan of a stored meeting. Venue names become the conference's venue
/// ids (the API only creates venues whose names are valid ids).
async fn plan_from_store(
    store: &dais_store::Store,
    m: &dais_store::Meeting,
    starter: &str,
) -> Result<MeetingPlan, ApiError> {
    let all: BTreeMap<dais_store::VenueId, dais_store::Venue> = store
        .list_venues()
        .await?
        .into_iter()
        .map(|v| (v.id, v))
        .collect();
    let id_of = |v: &dais_store::Venue| -> Result<VenueId, ApiError> {
        v.name.parse().map_err(|e| {
            ApiError::new(
                StatusCode::CONFLICT,
                "refused",
                format!("venue `{}` cannot take part: {e}", v.name),
            )
        })
    };
    let mut venues = Vec::with_capacity(m.venues.len());
    for id in &m.venues {
        let v = all.get(id).ok_or_else(|| {
            ApiError::internal(format!("meeting {} lists unknown venue {id}", m.number))
        })?;
        let parent = match v.parent.and_then(|p| all.get(&p)) {
            Some(p) => Some(id_of(p)?),
            None => None,
        };
        venues.push(Venue {
            id: id_of(v)?,
            name: v.name.clone(),
            kind: match v.kind {
                dais_store::VenueKind::Main => VenueKind::Main,
                dais_store::VenueKind::City => VenueKind::City,
                _ => VenueKind::Branch,
            },
            parent,
        });
    }
    let main = all
        .get(&m.main_venue)
        .ok_or_else(|| ApiError::internal(format!("meeting {} has no main venue", m.number)))?;
    let main_venue = id_of(main)?;
    let roll_call_order = venues
        .iter()
        .map(|v| v.id.clone())
        .filter(|v| *v != main_venue)
        .collect();
    Ok(MeetingPlan {
        number: m.number.clone(),
        subject: m.subject.clone(),
        main_venue,
        venues,
        chair: m.chair.clone().unwrap_or_else(|| starter.to_owned()),
        // A booked meeting ends when its booking says: the chair sees the planned end and is
        // told when it passes (the meeting goes on until ended or extended).
        duration: store
            .booked_end(&m.number)
            .await?
            .map(|end| Duration::from_secs(u64::try_from(end - unix_now()).unwrap_or(0))),
        roll_call_order,
    })
}

/// How often a running meeting's record is copied to the store (when it grew), so that a
/// crash loses at most this much of it.
pub const RECORD_FLUSH: Duration = Duration::from_secs(5);

/// Writes a running meeting's state changes to the store until it ends, and its record: every
/// [`RECORD_FLUSH`] while it grows, and once more at the end.
fn spawn_state_writer(
    store: dais_store::Store,
    number: String,
    mut rx: broadcast::Receiver<MeetingEvent>,
    mut record: RecordWriter,
) {
    tokio::spawn(async move {
        let mut flush = tokio::time::interval(RECORD_FLUSH);
        flush.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            let ev = tokio::select! {
                ev = rx.recv() => ev,
                _ = flush.tick() => {
                    record.write().await;
                    continue;
                }
            };
            let to = match ev {
                Ok(MeetingEvent::Conference {
                    event: ConferenceEvent::StateChanged { to, .. },
                }) => to,
                Ok(_) => continue,
                // Events were missed; the next state change still carries the whole truth.
                Err(broadcast::error::RecvError::Lagged(n)) => {
                    warn!(meeting = %number, missed = n, "state writer lagged");
                    continue;
                }
                Err(broadcast::error::RecvError::Closed) => break,
            };
            let Some(state) = dais_store::MeetingState::parse(&serde_name(&to, "state")) else {
                warn!(meeting = %number, state = ?to, "state without a stored spelling");
                continue;
            };
            if let Err(e) = store
                .set_meeting_state("system", &number, state, unix_now())
                .await
            {
                warn!(meeting = %number, error = %e, "meeting state not written to the store");
            }
            if state == dais_store::MeetingState::Ended {
                record.write().await;
                info!(meeting = %number, "meeting record stored at the end");
                break;
            }
        }
    });
}

/// Copies one meeting's record to the store.
struct RecordWriter {
    store: dais_store::Store,
    number: String,
    handle: MeetingHandle,
    earlier: Option<Arc<dais_store::StoredRecord>>,
    /// Entries in the last copy written (nothing is rewritten while it has not grown).
    written: Option<usize>,
}

impl RecordWriter {
    /// Writes the record if it grew; a failure is logged (the meeting goes on either way).
    async fn write(&mut self) {
        let Some(entries) = self.handle.record().await else {
            return;
        };
        if self.written == Some(entries.len()) {
            return;
        }
        match export_record(self.earlier.as_deref(), &entries) {
            Ok((json, csv)) => match self
                .store
                .save_meeting_record(&self.number, &json, &csv, unix_now())
                .await
            {
                Ok(()) => self.written = Some(entries.len()),
                Err(e) => warn!(meeting = %self.number, error = %e, "meeting record not stored"),
            },
            Err(e) => warn!(meeting = %self.number, error = %e, "meeting record not exported"),
        }
    }
}

/// JSON and CSV of an earlier run's entries (if any) followed by this run's.
fn export_record(
    earlier: Option<&dais_store::StoredRecord>,
    entries: &[dais_conference::RecordEntry],
) -> Result<(String, String), serde_json::Error> {
    let csv_now = dais_conference::record::to_csv(entries)?;
    let Some(earlier) = earlier else {
        return Ok((dais_conference::record::to_json(entries)?, csv_now));
    };
    let mut all: Vec<serde_json::Value> = serde_json::from_str(&earlier.json)?;
    all.extend(
        entries
            .iter()
            .map(serde_json::to_value)
            .collect::<Result<Vec<_>, _>>()?,
    );
    // This run's rows without their header line.
    let rows = csv_now.split_once("\r\n").map_or("", |(_, rest)| rest);
    Ok((
        serde_json::to_string_pretty(&all)?,
        format!("{}{rows}", earlier.csv),
    ))
}

/// The store's role as the conference policy sees it.
fn conference_actor(actor: &Actor) -> dais_conference::Actor {
    let role = match &actor.role {
        dais_store::Role::ItCentre => ConfRole::ItCentre,
        dais_store::Role::SiteAdmin { site } => match site.parse() {
            Ok(site) => ConfRole::SiteAdmin { site },
            // A site the policy cannot name can operate nothing.
            Err(_) => ConfRole::Auditor,
        },
        dais_store::Role::ChairOperator => ConfRole::ChairOperator,
        dais_store::Role::Approver { .. } => ConfRole::Approver,
        _ => ConfRole::Auditor,
    };
    dais_conference::Actor::new(actor.username.clone(), role)
}

fn venue(s: &str) -> Result<VenueId, ControlError> {
    s.parse().map_err(|e| ControlError::Invalid {
        reason: format!("venue `{s}`: {e}"),
    })
}

fn venues(list: &[String]) -> Result<Vec<VenueId>, ControlError> {
    list.iter().map(|s| venue(s)).collect()
}

/// The API's command (a stable public contract) as the policy's command.
fn to_policy(cmd: ChairCommandJson) -> Result<ChairCommand, ControlError> {
    use ChairCommandJson as J;
    Ok(match cmd {
        J::StartTesting => ChairCommand::StartTesting,
        J::GoLive => ChairCommand::GoLive,
        J::EndMeeting => ChairCommand::EndMeeting,
        J::Broadcast { venue: v } => ChairCommand::Broadcast { venue: venue(&v)? },
        J::View { venue: v } => ChairCommand::View { venue: venue(&v)? },
        J::StopView => ChairCommand::StopView,
        J::ReturnToMain => ChairCommand::ReturnToMain,
        J::RollCall { venue: v } => ChairCommand::RollCall { venue: venue(&v)? },
        J::RollCallNext => ChairCommand::RollCallNext,
        J::EndRollCall => ChairCommand::EndRollCall,
        J::StartPolling {
            venues: v,
            interval_secs,
        } => ChairCommand::StartPolling {
            venues: venues(&v)?,
            interval: Duration::from_secs(u64::from(interval_secs)),
        },
        J::PausePolling => ChairCommand::PausePolling,
        J::ResumePolling => ChairCommand::ResumePolling,
        J::StopPolling => ChairCommand::StopPolling,
        J::SetVoiceActivation { on } => ChairCommand::SetVoiceActivation { on },
        J::Mute { venue: v } => ChairCommand::Mute { venue: venue(&v)? },
        J::Unmute { venue: v } => ChairCommand::Unmute { venue: venue(&v)? },
        J::MuteAllButMain => ChairCommand::MuteAllButMain,
        J::BlockAudio { venue: v } => ChairCommand::BlockAudio { venue: venue(&v)? },
        J::UnblockAudio { venue: v } => ChairCommand::UnblockAudio { venue: venue(&v)? },
        J::Lock => ChairCommand::Lock,
        J::Unlock => ChairCommand::Unlock,
        J::Extend { by_secs } => ChairCommand::Extend {
            by: Duration::from_secs(u64::from(by_secs)),
        },
        J::HandChair { to } => ChairCommand::HandChair { to },
        J::Dial { venue: v } => ChairCommand::Dial { venue: venue(&v)? },
        J::HangUp { venue: v } => ChairCommand::HangUp { venue: venue(&v)? },
        J::Redial { venue: v } => ChairCommand::Redial { venue: venue(&v)? },
    })
}

fn from_policy(e: MeetingError) -> ControlError {
    match e {
        MeetingError::Refused(e) => match e {
            CommandError::NotPermitted { .. } => ControlError::Forbidden {
                reason: e.to_string(),
            },
            CommandError::UnknownVenue { venue } => ControlError::NotFound {
                what: format!("venue `{venue}` in this meeting"),
            },
            CommandError::InvalidArgument { .. } => ControlError::Invalid {
                reason: e.to_string(),
            },
            CommandError::Internal { .. } => ControlError::Internal(e.to_string()),
            _ => ControlError::Refused {
                reason: e.to_string(),
            },
        },
        _ => ControlError::Unavailable {
            reason: "the meeting has ended".into(),
        },
    }
}

fn serde_name<T: serde::Serialize>(v: &T, field: &str) -> String {
    serde_json::to_value(v)
        .ok()
        .and_then(|j| match j {
            serde_json::Value::String(s) => Some(s),
            serde_json::Value::Object(o) => o.get(field).and_then(|s| s.as_str()).map(String::from),
            _ => None,
        })
        .unwrap_or_default()
}

impl MeetingControl for Meetings {
    fn list_meetings(&self) -> BoxFuture<'_, Result<Vec<MeetingSummary>, ControlError>> {
        Box::pin(async move {
            let entries: Vec<Entry> = self
                .entries
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .values()
                .cloned()
                .collect();
            let mut out = Vec::new();
            for e in entries {
                if let Some(view) = e.handle.view().await {
                    out.push(summary(&view.conference));
                }
            }
            Ok(out)
        })
    }

    fn meeting_state(&self, number: String) -> BoxFuture<'_, Result<MeetingDetail, ControlError>> {
        Box::pin(async move {
            let entry = self.get(&number).ok_or_else(|| ControlError::NotFound {
                what: format!("meeting {number}"),
            })?;
            let view = entry
                .handle
                .view()
                .await
                .ok_or_else(|| ControlError::Unavailable {
                    reason: "the meeting has ended".into(),
                })?;
            let c = &view.conference;
            let venues = c
                .legs
                .iter()
                .map(|l| VenueStatus {
                    name: l.venue.to_string(),
                    leg: serde_name(&l.status, "status"),
                    muted: l.muted,
                })
                .collect();
            Ok(MeetingDetail {
                summary: summary(c),
                broadcast: c.feeds.broadcast.as_ref().map(ToString::to_string),
                main_venue: Some(c.main_venue.to_string()),
                venues,
                extra: serde_json::json!({
                    "display_names": entry.names.iter().map(|(k, v)| (k.to_string(), v.clone())).collect::<BTreeMap<_, _>>(),
                    "live": view,
                    "plan": entry.plan,
                }),
            })
        })
    }

    fn command(
        &self,
        number: String,
        actor: Actor,
        command: ChairCommandJson,
    ) -> BoxFuture<'_, Result<CommandOutcome, ControlError>> {
        Box::pin(async move {
            let entry = self.get(&number).ok_or_else(|| ControlError::NotFound {
                what: format!("meeting {number}"),
            })?;
            let name = command.name();
            let cmd = to_policy(command)?;
            entry
                .handle
                .command(conference_actor(&actor), cmd)
                .await
                .map_err(from_policy)?;
            Ok(CommandOutcome {
                accepted: true,
                message: format!("{name} done"),
            })
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async move {
            self.closing
                .store(true, std::sync::atomic::Ordering::Release);
            let entries: Vec<(String, Entry)> =
                std::mem::take(&mut *self.entries.lock().unwrap_or_else(|e| e.into_inner()))
                    .into_iter()
                    .collect();
            for (number, e) in entries {
                e.handle.shutdown().await;
                info!(meeting = %number, "meeting ended at shutdown");
            }
        })
    }
}

fn summary(c: &dais_conference::Snapshot) -> MeetingSummary {
    MeetingSummary {
        number: c.number.clone(),
        subject: c.subject.clone(),
        state: serde_name(&c.state, "state"),
        venues_total: c.legs.len() as u32,
        venues_connected: c.legs.iter().filter(|l| l.status.is_connected()).count() as u32,
    }
}

/// The demo meeting's number.
pub const DEMO_MEETING: &str = "8000";

/// Starts the demo: meeting 8000, a province main venue, two cities and three county or unit
/// branches, all simulated venues sending video and audio, live and connected.
///
/// # Errors
/// When the meeting cannot start (e.g. no free port pair).
pub async fn start_demo(meetings: &Meetings) -> Result<Arc<SimDialer>, String> {
    let v =
        |id: &str, name: &str, kind: VenueKind, parent: Option<&str>| -> Result<Venue, String> {
            Ok(Venue {
                id: id.parse().map_err(|e| format!("{e}"))?,
                name: name.into(),
                kind,
                parent: parent
                    .map(|p| p.parse())
                    .transpose()
                    .map_err(|e| format!("{e}"))?,
            })
        };
    let venues = vec![
        v(
            "province",
            "Provincial department (13F)",
            VenueKind::Main,
            None,
        )?,
        v("jinan", "Jinan city", VenueKind::City, Some("province"))?,
        v("qingdao", "Qingdao city", VenueKind::City, Some("province"))?,
        v(
            "licheng",
            "Licheng county",
            VenueKind::Branch,
            Some("jinan"),
        )?,
        v(
            "laoshan",
            "Laoshan county",
            VenueKind::Branch,
            Some("qingdao"),
        )?,
        v(
            "survey-institute",
            "Survey institute",
            VenueKind::Branch,
            Some("province"),
        )?,
    ];
    let ids: Vec<VenueId> = venues.iter().map(|v| v.id.clone()).collect();
    let plan = MeetingPlan {
        number: DEMO_MEETING.into(),
        subject: "Demo: provincial video conference".into(),
        main_venue: ids[0].clone(),
        venues,
        chair: "admin".into(),
        duration: None,
        roll_call_order: ids[1..].to_vec(),
    };
    let dialer = SimDialer::new(meetings.ip, &ids, VideoShape::default());
    let handle = meetings.start_meeting(plan, dialer.clone()).await?;
    dialer.attach(handle.clone());
    let system = dais_conference::Actor::new("admin", ConfRole::ItCentre);
    handle
        .command(system.clone(), ChairCommand::GoLive)
        .await
        .map_err(|e| e.to_string())?;
    for id in &ids {
        if let Err(e) = handle
            .command(system.clone(), ChairCommand::Dial { venue: id.clone() })
            .await
        {
            warn!(venue = %id, error = %e, "demo venue not dialled");
        }
    }
    info!(
        meeting = DEMO_MEETING,
        venues = ids.len(),
        "demo meeting live"
    );
    Ok(dialer)
}
