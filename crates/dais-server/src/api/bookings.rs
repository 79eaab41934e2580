//! Bookings (the application form) and their three-stage approval.
//!
//! Who may do what (the permission matrix in `docs/api.md`):
//! - file a booking: the IT centre, site administrators and chair operators (approvers decide
//!   and auditors only read, so neither files);
//! - read bookings: the IT centre, approvers and auditors read all; everyone else only the
//!   ones they filed;
//! - decide: the approver of the stage the booking waits at; the IT-centre stage may also be
//!   decided by an IT centre operator (the IT centre is both the network's administrator and
//!   the second approver, and making it hold two accounts adds nothing);
//! - the inbox: approvers (their stage) and the IT centre (the IT-centre stage).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::access::{audit, refuse};
use super::auth::AuthedOperator;
use super::error::{ApiError, ApiJson, ErrorBody};
use crate::app::{AppState, unix_now};
use dais_store::{ApprovalStage, AuditResult, Booking, NewBooking, Role, StoreError, VenueId};

/// A booking to file.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewBookingRequest {
    /// The applying unit.
    pub applying_unit: String,
    /// Subject (meeting content).
    pub subject: String,
    /// Who attends.
    pub attendees: String,
    /// How many attend.
    pub attendee_count: u32,
    /// Start, Unix seconds.
    pub starts_at: i64,
    /// End, Unix seconds.
    pub ends_at: i64,
    /// A room of the catalogue (`GET /api/v1/rooms`).
    pub room: String,
    /// Venue names to connect, the main venue first.
    pub venues: Vec<String>,
    /// Remarks.
    #[serde(default)]
    pub remarks: String,
    /// The chair operator of the meeting, if known.
    #[serde(default)]
    pub chair: Option<String>,
    /// A dial number for the meeting; one is allocated at approval otherwise.
    #[serde(default)]
    pub meeting_number: Option<String>,
}

/// One stage's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OpinionDto {
    /// `unit_head`, `it_centre` or `department_leader`.
    pub stage: String,
    /// Who decided.
    pub approver: String,
    /// Approved or rejected.
    pub approved: bool,
    /// The written opinion.
    pub opinion: String,
    /// When, Unix seconds.
    pub at: i64,
}

/// A booking as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct BookingDto {
    /// The booking's reference.
    pub id: i64,
    /// Who filed it.
    pub applicant: String,
    /// The applying unit.
    pub applying_unit: String,
    /// Subject.
    pub subject: String,
    /// Who attends.
    pub attendees: String,
    /// How many attend.
    pub attendee_count: u32,
    /// Start, Unix seconds.
    pub starts_at: i64,
    /// End, Unix seconds.
    pub ends_at: i64,
    /// The room.
    pub room: String,
    /// Venue names, main venue first.
    pub venues: Vec<String>,
    /// Remarks.
    pub remarks: String,
    /// The chair operator, if named.
    pub chair: Option<String>,
    /// `pending_unit_head`, `pending_it_centre`, `pending_department_leader`, `approved` or
    /// `rejected`.
    pub status: String,
    /// The stage whose opinion is awaited, while pending.
    pub waiting_for: Option<String>,
    /// The scheduled meeting's number, once approved.
    pub meeting_number: Option<String>,
    /// The decisions so far, in order.
    pub opinions: Vec<OpinionDto>,
    /// Filing time, Unix seconds.
    pub created_at: i64,
}

/// A stage's decision on a booking.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DecisionRequest {
    /// Approve (true) or reject (false).
    pub approve: bool,
    /// The written opinion (required).
    pub opinion: String,
}

pub(crate) fn dto(b: &Booking, names: &HashMap<VenueId, String>) -> BookingDto {
    BookingDto {
        id: b.id,
        applicant: b.applicant.clone(),
        applying_unit: b.applying_unit.clone(),
        subject: b.subject.clone(),
        attendees: b.attendees.clone(),
        attendee_count: b.attendee_count,
        starts_at: b.starts_at,
        ends_at: b.ends_at,
        room: b.room.clone(),
        venues: b
            .venues
            .iter()
            .map(|v| names.get(v).cloned().unwrap_or_else(|| v.to_string()))
            .collect(),
        remarks: b.remarks.clone(),
        chair: b.chair.clone(),
        status: b.status.as_str().to_owned(),
        waiting_for: b.status.stage().map(|s| s.as_str().to_owned()),
        meeting_number: b.meeting_number.clone(),
        opinions: b
            .opinions
            .iter()
            .map(|o| OpinionDto {
                stage: o.stage.as_str().to_owned(),
                approver: o.approver.clone(),
                approved: o.approved,
                opinion: o.opinion.clone(),
                at: o.at,
            })
            .collect(),
        created_at: b.created_at,
    }
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

/// A numeric id from the path, refused with the API's JSON 400 (not axum's plain-text one).
pub(crate) fn parse_id(raw: &str) -> Result<i64, ApiError> {
    raw.parse::<i64>()
        .ok()
        .filter(|id| *id > 0)
        .ok_or_else(|| ApiError::bad_request(format!("`{raw}` is not an id (a positive integer)")))
}

/// True when `who` may read every booking (not only their own).
fn reads_all(role: &Role) -> bool {
    matches!(role, Role::ItCentre | Role::Approver { .. } | Role::Auditor)
}

/// The stage `who` decides, if any (an approver's own; the IT centre's for `ItCentre`).
fn decides(role: &Role) -> Option<ApprovalStage> {
    match role {
        Role::Approver { stage } => Some(*stage),
        Role::ItCentre => Some(ApprovalStage::ItCentre),
        _ => None,
    }
}

/// Audits a store error on a write as refused (caller's fault) or failed, and passes it on.
async fn audited(
    state: &AppState,
    who: &AuthedOperator,
    action: &str,
    target: &str,
    e: StoreError,
) -> ApiError {
    let result = if e.is_caller_fault() {
        AuditResult::Refused(e.to_string())
    } else {
        AuditResult::Failed(e.to_string())
    };
    audit(state, who, action, target, result).await;
    e.into()
}

/// The meeting-room catalogue (configured with `rooms` in the config file).
#[utoipa::path(
    get, path = "/api/v1/rooms", tag = "bookings",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The rooms", body = [String]),
        (status = 401, description = "Not logged in", body = ErrorBody),
    )
)]
pub async fn rooms(State(state): State<AppState>, _who: AuthedOperator) -> Json<Vec<String>> {
    Json(state.rooms.to_vec())
}

/// File a booking. It waits for the unit head's opinion. A booking that has the same room, or
/// one of the same venues, at an overlapping time as another booking (not rejected) is refused
/// with 409 `clash`, naming that booking.
#[utoipa::path(
    post, path = "/api/v1/bookings", tag = "bookings",
    security(("bearer" = [])),
    request_body = NewBookingRequest,
    responses(
        (status = 201, description = "Filed", body = BookingDto),
        (status = 400, description = "Invalid field or a room not in the catalogue", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Approvers and auditors do not file bookings", body = ErrorBody),
        (status = 404, description = "Unknown venue", body = ErrorBody),
        (status = 409, description = "Clashes with another booking (named)", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    who: AuthedOperator,
    ApiJson(req): ApiJson<NewBookingRequest>,
) -> Result<(StatusCode, Json<BookingDto>), ApiError> {
    const ACTION: &str = "booking.create";
    if matches!(who.operator.role, Role::Approver { .. } | Role::Auditor) {
        return Err(refuse(
            &state,
            &who,
            ACTION,
            "booking",
            "approvers and auditors do not file bookings",
        )
        .await);
    }
    if !state.rooms.contains(&req.room) {
        return Err(ApiError::bad_request(format!(
            "room {:?} is not in the catalogue: {}",
            req.room,
            state.rooms.join(", ")
        )));
    }
    let mut ids = Vec::with_capacity(req.venues.len());
    let mut names = HashMap::new();
    for name in &req.venues {
        let v = state
            .store
            .venue_by_name(name)
            .await?
            .ok_or_else(|| ApiError::not_found(format!("venue {name} not found")))?;
        names.insert(v.id, v.name);
        ids.push(v.id);
    }
    let created = state
        .store
        .create_booking(
            &who.operator.username,
            &NewBooking {
                applying_unit: &req.applying_unit,
                subject: &req.subject,
                attendees: &req.attendees,
                attendee_count: req.attendee_count,
                starts_at: req.starts_at,
                ends_at: req.ends_at,
                room: &req.room,
                venues: &ids,
                remarks: &req.remarks,
                chair: req.chair.as_deref(),
                meeting_number: req.meeting_number.as_deref(),
            },
            unix_now(),
        )
        .await;
    match created {
        Ok(b) => Ok((StatusCode::CREATED, Json(dto(&b, &names)))),
        Err(e) => Err(audited(&state, &who, ACTION, "booking", e).await),
    }
}

/// Bookings by start time: all of them for the IT centre, approvers and auditors; the ones
/// they filed for everyone else.
#[utoipa::path(
    get, path = "/api/v1/bookings", tag = "bookings",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The bookings", body = [BookingDto]),
        (status = 401, description = "Not logged in", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    who: AuthedOperator,
) -> Result<Json<Vec<BookingDto>>, ApiError> {
    let names = venue_names(&state).await?;
    let all = reads_all(&who.operator.role);
    Ok(Json(
        state
            .store
            .list_bookings()
            .await?
            .iter()
            .filter(|b| all || b.applicant == who.operator.username)
            .map(|b| dto(b, &names))
            .collect(),
    ))
}

/// The bookings waiting for the caller's opinion (approvers: their stage; the IT centre: the
/// IT-centre stage), by start time.
#[utoipa::path(
    get, path = "/api/v1/bookings/inbox", tag = "bookings",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Waiting for the caller", body = [BookingDto]),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not an approver", body = ErrorBody),
    )
)]
pub async fn inbox(
    State(state): State<AppState>,
    who: AuthedOperator,
) -> Result<Json<Vec<BookingDto>>, ApiError> {
    let Some(stage) = decides(&who.operator.role) else {
        return Err(refuse(
            &state,
            &who,
            "booking.inbox",
            "bookings",
            "only approvers and the IT centre have an approval inbox",
        )
        .await);
    };
    let names = venue_names(&state).await?;
    Ok(Json(
        state
            .store
            .bookings_waiting_for(stage)
            .await?
            .iter()
            .map(|b| dto(b, &names))
            .collect(),
    ))
}

async fn load(state: &AppState, id: i64) -> Result<Booking, ApiError> {
    state
        .store
        .booking(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("booking {id} not found")))
}

/// One booking, with where it stands and the opinions so far.
#[utoipa::path(
    get, path = "/api/v1/bookings/{id}", tag = "bookings",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Booking reference")),
    responses(
        (status = 200, description = "The booking", body = BookingDto),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Someone else's booking", body = ErrorBody),
        (status = 404, description = "No such booking", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    who: AuthedOperator,
    Path(id): Path<String>,
) -> Result<Json<BookingDto>, ApiError> {
    let id = parse_id(&id)?;
    let b = load(&state, id).await?;
    if !reads_all(&who.operator.role) && b.applicant != who.operator.username {
        return Err(refuse(
            &state,
            &who,
            "booking.read",
            &format!("booking {id}"),
            "only the applicant, approvers, the IT centre and auditors read a booking",
        )
        .await);
    }
    Ok(Json(dto(&b, &venue_names(&state).await?)))
}

/// Approve or reject a booking at the stage it waits at, with an opinion. The last approval
/// (department leader) schedules the meeting; the answer then carries its number.
#[utoipa::path(
    post, path = "/api/v1/bookings/{id}/decision", tag = "bookings",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Booking reference")),
    request_body = DecisionRequest,
    responses(
        (status = 200, description = "Decided; the booking now", body = BookingDto),
        (status = 400, description = "Empty opinion", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not the approver of the stage it waits at", body = ErrorBody),
        (status = 404, description = "No such booking", body = ErrorBody),
        (status = 409, description = "Already decided, or the wanted meeting number is taken", body = ErrorBody),
    )
)]
pub async fn decide(
    State(state): State<AppState>,
    who: AuthedOperator,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<DecisionRequest>,
) -> Result<Json<BookingDto>, ApiError> {
    let id = parse_id(&id)?;
    let target = format!("booking {id}");
    let b = load(&state, id).await?;
    let Some(stage) = b.status.stage() else {
        return Err(audited(
            &state,
            &who,
            "booking.decide",
            &target,
            StoreError::WrongState {
                reason: format!("booking {id} is already {}", b.status.as_str()),
            },
        )
        .await);
    };
    if decides(&who.operator.role) != Some(stage) {
        return Err(refuse(
            &state,
            &who,
            "booking.decide",
            &target,
            &format!(
                "the booking waits for the {} stage's approver",
                stage.as_str()
            ),
        )
        .await);
    }
    match state
        .store
        .decide_booking(
            &who.operator.username,
            id,
            stage,
            req.approve,
            &req.opinion,
            unix_now(),
        )
        .await
    {
        Ok(b) => Ok(Json(dto(&b, &venue_names(&state).await?))),
        Err(e) => Err(audited(&state, &who, "booking.decide", &target, e).await),
    }
}
