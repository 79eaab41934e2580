//! Meeting routes, answered through the attached [`crate::MeetingControl`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::access::{audit, meeting_in_scope, refuse, require_it_centre, site_scope};
use super::auth::AuthedOperator;
use super::error::{ApiError, ApiJson, ErrorBody};
use crate::app::{AppState, unix_now};
use crate::control::{
    ChairCommandJson, CommandOutcome, ControlError, MeetingControl, MeetingDetail, MeetingSummary,
    VenueStatus,
};
use dais_store::{AuditEvent, AuditResult, Meeting, NewMeeting, VenueId};

fn control(state: &AppState) -> Result<Arc<dyn MeetingControl>, ApiError> {
    state.control.clone().ok_or_else(|| {
        ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "no_meeting_engine",
            "no meeting engine is attached to this server",
        )
    })
}

/// Meeting numbers are digits; refuse anything else before it reaches the engine.
pub(crate) fn check_number(number: &str) -> Result<(), ApiError> {
    if number.is_empty() || number.len() > 32 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request(
            "meeting number must be 1 to 32 digits",
        ));
    }
    Ok(())
}

/// Every meeting: the running ones with their live counts, then the stored ones that are not
/// running (scheduled, or ended). A site administrator sees only meetings with one of their
/// site's venues.
#[utoipa::path(
    get, path = "/api/v1/meetings", tag = "meetings",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The meetings", body = [MeetingSummary]),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 503, description = "No meeting engine attached", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    who: AuthedOperator,
) -> Result<Json<Vec<MeetingSummary>>, ApiError> {
    let engine = control(&state)?;
    let scope = site_scope(&state, &who).await?;
    let venue_names = venue_names(&state).await?;
    let mut out = Vec::new();
    let mut running = HashSet::new();
    for m in engine.list_meetings().await? {
        running.insert(m.number.clone());
        if scope.is_some() {
            // Only site administrators pay for the per-meeting read.
            let Ok(detail) = engine.meeting_state(m.number.clone()).await else {
                continue;
            };
            if !meeting_in_scope(&scope, detail.venues.iter().map(|v| v.name.as_str())) {
                continue;
            }
        }
        out.push(m);
    }
    for m in state.store.list_meetings().await? {
        if running.contains(&m.number) {
            continue;
        }
        let names: Vec<&str> = m
            .venues
            .iter()
            .filter_map(|v| venue_names.get(v).map(String::as_str))
            .collect();
        if !meeting_in_scope(&scope, names.iter().copied()) {
            continue;
        }
        out.push(MeetingSummary {
            number: m.number.clone(),
            subject: m.subject.clone(),
            state: m.state.as_str().to_owned(),
            venues_total: u32::try_from(m.venues.len()).unwrap_or(u32::MAX),
            venues_connected: 0,
        });
    }
    Ok(Json(out))
}

async fn venue_names(state: &AppState) -> Result<HashMap<VenueId, String>, ApiError> {
    Ok(state
        .store
        .list_venues()
        .await?
        .into_iter()
        .map(|v| (v.id, v.name))
        .collect())
}

/// A stored meeting that is not running, in the live-state shape (no legs connected).
fn stored_detail(m: &Meeting, names: &HashMap<VenueId, String>) -> MeetingDetail {
    let name = |v: &VenueId| names.get(v).cloned().unwrap_or_else(|| v.to_string());
    MeetingDetail {
        summary: MeetingSummary {
            number: m.number.clone(),
            subject: m.subject.clone(),
            state: m.state.as_str().to_owned(),
            venues_total: u32::try_from(m.venues.len()).unwrap_or(u32::MAX),
            venues_connected: 0,
        },
        broadcast: None,
        main_venue: Some(name(&m.main_venue)),
        venues: m
            .venues
            .iter()
            .map(|v| VenueStatus {
                name: name(v),
                leg: "idle".into(),
                muted: false,
            })
            .collect(),
        extra: serde_json::json!({ "running": false, "chair": m.chair }),
    }
}

/// The live state of one meeting (or, for a meeting that is not running, its stored plan).
#[utoipa::path(
    get, path = "/api/v1/meetings/{number}", tag = "meetings",
    security(("bearer" = [])),
    params(("number" = String, Path, description = "Meeting dial number, e.g. 8001")),
    responses(
        (status = 200, description = "The meeting", body = MeetingDetail),
        (status = 400, description = "Malformed number", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "A site administrator whose site is not in it", body = ErrorBody),
        (status = 404, description = "No such meeting", body = ErrorBody),
        (status = 503, description = "No meeting engine attached", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    who: AuthedOperator,
    Path(number): Path<String>,
) -> Result<Json<MeetingDetail>, ApiError> {
    check_number(&number)?;
    let engine = control(&state)?;
    let detail = match engine.meeting_state(number.clone()).await {
        Ok(d) => d,
        Err(ControlError::NotFound { .. }) => {
            let m = state
                .store
                .meeting(&number)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("meeting {number} not found")))?;
            stored_detail(&m, &venue_names(&state).await?)
        }
        Err(e) => return Err(e.into()),
    };
    let scope = site_scope(&state, &who).await?;
    if !meeting_in_scope(&scope, detail.venues.iter().map(|v| v.name.as_str())) {
        return Err(refuse(
            &state,
            &who,
            "meeting.read",
            &format!("meeting {number}"),
            "none of this site's venues takes part in the meeting",
        )
        .await);
    }
    Ok(Json(detail))
}

/// A meeting to schedule.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewMeetingRequest {
    /// Dial number: 1 to 32 digits.
    pub number: String,
    /// Subject.
    pub subject: String,
    /// The hosting venue's name.
    pub main_venue: String,
    /// The other venues' names, in roll-call order (the main venue may be listed or not).
    #[serde(default)]
    pub venues: Vec<String>,
    /// The chair operator's account name; when absent, whoever starts the meeting chairs it.
    #[serde(default)]
    pub chair: Option<String>,
}

/// A meeting as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct StoredMeetingDto {
    /// Dial number.
    pub number: String,
    /// Subject.
    pub subject: String,
    /// The hosting venue's name.
    pub main_venue: String,
    /// Every venue's name, main venue first.
    pub venues: Vec<String>,
    /// The chair operator, if named.
    pub chair: Option<String>,
    /// `scheduled`, `testing`, `live` or `ended`.
    pub state: String,
    /// Creation time, Unix seconds.
    pub created_at: i64,
}

/// Schedule a meeting (provincial IT centre only). It is stored as `scheduled`; start it with
/// `POST /api/v1/meetings/{number}/start`.
#[utoipa::path(
    post, path = "/api/v1/meetings", tag = "meetings",
    security(("bearer" = [])),
    request_body = NewMeetingRequest,
    responses(
        (status = 201, description = "Scheduled", body = StoredMeetingDto),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not the IT centre", body = ErrorBody),
        (status = 404, description = "Unknown venue", body = ErrorBody),
        (status = 409, description = "Number in use", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    who: AuthedOperator,
    ApiJson(req): ApiJson<NewMeetingRequest>,
) -> Result<(StatusCode, Json<StoredMeetingDto>), ApiError> {
    let target = format!("meeting {}", req.number);
    require_it_centre(&state, &who, "meeting.create", &target).await?;
    check_number(&req.number)?;
    let mut ids = Vec::with_capacity(req.venues.len());
    let mut lookup = HashMap::new();
    for name in std::iter::once(&req.main_venue).chain(&req.venues) {
        let v = state
            .store
            .venue_by_name(name)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("venue {name} not found")))?;
        lookup.insert(v.id, v.name);
        ids.push(v.id);
    }
    let main = ids.remove(0);
    let created = state
        .store
        .create_meeting(
            &who.operator.username,
            &NewMeeting {
                number: &req.number,
                subject: &req.subject,
                main_venue: main,
                venues: &ids,
                chair: req.chair.as_deref(),
            },
            unix_now(),
        )
        .await;
    let m = match created {
        Ok(m) => m,
        Err(e) => {
            let result = if e.is_caller_fault() {
                AuditResult::Refused(e.to_string())
            } else {
                AuditResult::Failed(e.to_string())
            };
            audit(&state, &who, "meeting.create", &target, result).await;
            return Err(e.into());
        }
    };
    Ok((StatusCode::CREATED, Json(stored_dto(&m, &lookup))))
}

pub(crate) fn stored_dto(m: &Meeting, names: &HashMap<VenueId, String>) -> StoredMeetingDto {
    let name = |v: &VenueId| names.get(v).cloned().unwrap_or_else(|| v.to_string());
    StoredMeetingDto {
        number: m.number.clone(),
        subject: m.subject.clone(),
        main_venue: name(&m.main_venue),
        venues: m.venues.iter().map(name).collect(),
        chair: m.chair.clone(),
        state: m.state.as_str().to_owned(),
        created_at: m.created_at,
    }
}

/// Send a chair command to a meeting. Every attempt is audited.
#[utoipa::path(
    post, path = "/api/v1/meetings/{number}/commands", tag = "meetings",
    security(("bearer" = [])),
    params(("number" = String, Path, description = "Meeting dial number, e.g. 8001")),
    request_body = ChairCommandJson,
    responses(
        (status = 200, description = "Applied", body = CommandOutcome),
        (status = 400, description = "Malformed command", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not allowed for this operator", body = ErrorBody),
        (status = 404, description = "No such meeting or venue", body = ErrorBody),
        (status = 409, description = "Not possible in the meeting's state", body = ErrorBody),
        (status = 503, description = "No meeting engine attached", body = ErrorBody),
    )
)]
pub async fn command(
    State(state): State<AppState>,
    who: AuthedOperator,
    Path(number): Path<String>,
    ApiJson(cmd): ApiJson<ChairCommandJson>,
) -> Result<Json<CommandOutcome>, ApiError> {
    check_number(&number)?;
    let action = format!("meeting.command.{}", cmd.name());
    let target = format!("meeting {number}");
    let engine = control(&state);
    let result = match &engine {
        Ok(c) => c.command(number, who.actor(), cmd).await,
        Err(e) => Err(ControlError::Unavailable {
            reason: e.message.clone(),
        }),
    };
    let audit_result = match &result {
        Ok(_) => AuditResult::Ok,
        Err(
            e @ (ControlError::NotFound { .. }
            | ControlError::Forbidden { .. }
            | ControlError::Refused { .. }
            | ControlError::Invalid { .. }),
        ) => AuditResult::Refused(e.to_string()),
        Err(e) => AuditResult::Failed(e.to_string()),
    };
    let from = who.from.map(|a| a.to_string());
    state
        .audit(&AuditEvent {
            actor: &who.operator.username,
            action: &action,
            target: &target,
            at: unix_now(),
            from: from.as_deref(),
            result: audit_result,
        })
        .await;
    match (result, engine) {
        (Ok(outcome), _) => Ok(Json(outcome)),
        (Err(_), Err(no_engine)) => Err(no_engine),
        (Err(e), Ok(_)) => Err(e.into()),
    }
}

/// How to start a meeting.
#[derive(Debug, Clone, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StartRequest {
    /// Start in the joint-test state (venues join, the chair checks pictures and sound) instead
    /// of live. Default false.
    #[serde(default)]
    pub testing: bool,
}

/// Start a stored meeting: it is built from the store, started in the meeting engine, put in
/// testing or live, and every venue on its list is dialled. Later state changes are written
/// back to the store. Allowed for the IT centre and the meeting's chair operator.
///
/// The route is served by [`crate::meetings::Meetings::router`]; this function only carries
/// its OpenAPI description.
#[utoipa::path(
    post, path = "/api/v1/meetings/{number}/start", tag = "meetings",
    security(("bearer" = [])),
    params(("number" = String, Path, description = "Meeting dial number, e.g. 8001")),
    request_body(content = StartRequest, description = "Optional; an empty body means live"),
    responses(
        (status = 200, description = "Started; the live state", body = MeetingDetail),
        (status = 400, description = "Malformed number or body", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Neither the IT centre nor this meeting's chair", body = ErrorBody),
        (status = 404, description = "No such meeting", body = ErrorBody),
        (status = 409, description = "Already running or ended, or a venue unusable", body = ErrorBody),
        (status = 503, description = "No free media port", body = ErrorBody),
    )
)]
pub fn start_doc() {}

/// The meeting's event stream (WebSocket). Each text message is one JSON event with a `type`:
/// `conference` (with an `event`: `state_changed`, `shown`, `leg_changed`, `polling`,
/// `roll_call`, `command_refused`, ...), `switch_requested`, `switch_completed` (with
/// `latency_ms`), `media_health`, `keyframe_via_sip_info`, or `lagged` when the client fell
/// behind. A site administrator may only watch meetings their site takes part in.
///
/// Authentication: the bearer header, or (browsers cannot set headers on a WebSocket) the
/// subprotocols `dais.v1, dais.bearer.<token>`, honoured on upgrades only; the server then
/// selects `dais.v1`.
///
/// The route is served by [`crate::meetings::Meetings::router`]; this function only carries
/// its OpenAPI description.
#[utoipa::path(
    get, path = "/api/v1/meetings/{number}/events", tag = "meetings",
    security(("bearer" = [])),
    params(("number" = String, Path, description = "Meeting dial number, e.g. 8001")),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "A site administrator whose site is not in it", body = ErrorBody),
        (status = 404, description = "No such running meeting", body = ErrorBody),
    )
)]
pub fn events_doc() {}
