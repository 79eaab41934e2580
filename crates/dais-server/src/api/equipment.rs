//! Equipment: monthly checks and the due list, fault reports, move requests and the test call
//! that closes them.
//!
//! Who may do what: the IT centre everything; a site administrator records checks, reports
//! and updates faults and applies for moves for their own site's venues and reads those; an
//! auditor reads everything; the joint test call after a move is recorded by the IT centre
//! (it is a call with the province). Chair operators and approvers have no part here.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::access::{audit, refuse, require_it_centre};
use super::auth::AuthedOperator;
use super::bookings::parse_id;
use super::error::{ApiError, ApiJson, ErrorBody};
use crate::app::{AppState, unix_now};
use dais_store::{
    AuditResult, CheckDue, EquipmentCheck, EquipmentMove, Fault, FaultStatus, Role, StoreError,
    Venue, VenueId,
};

/// A check to record.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewCheckRequest {
    /// The venue's name.
    pub venue: String,
    /// Everything worked.
    pub passed: bool,
    /// Findings.
    #[serde(default)]
    pub notes: String,
}

/// A recorded check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CheckDto {
    /// Id.
    pub id: i64,
    /// The venue's name.
    pub venue: String,
    /// Who checked.
    pub checked_by: String,
    /// Everything worked.
    pub passed: bool,
    /// Findings.
    pub notes: String,
    /// When, Unix seconds.
    pub at: i64,
}

/// A venue whose monthly check is due.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CheckDueDto {
    /// The venue's name.
    pub venue: String,
    /// The last check, Unix seconds, if any.
    pub last_check: Option<i64>,
    /// When the check falls (or fell) due, Unix seconds.
    pub due_at: i64,
    /// Past due.
    pub overdue: bool,
}

/// A fault to report, or an equipment move to apply for.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVenueNoteRequest {
    /// The venue's name.
    pub venue: String,
    /// What is wrong / what moves where.
    pub description: String,
}

/// A fault report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct FaultDto {
    /// Id.
    pub id: i64,
    /// The venue's name.
    pub venue: String,
    /// Who reported it.
    pub reported_by: String,
    /// What is wrong.
    pub description: String,
    /// `open`, `in_repair`, `fixed` or `reported_to_it_centre`.
    pub status: String,
    /// Reported at, Unix seconds.
    pub opened_at: i64,
    /// Last change, Unix seconds.
    pub updated_at: i64,
}

/// A fault's next status.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FaultStatusRequest {
    /// `in_repair`, `fixed` or `reported_to_it_centre`.
    pub status: String,
}

/// An equipment move request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct MoveDto {
    /// Id.
    pub id: i64,
    /// The venue's name.
    pub venue: String,
    /// Who applied.
    pub requested_by: String,
    /// What moves where.
    pub description: String,
    /// `requested`, `test_failed` or `closed`.
    pub status: String,
    /// Who recorded the last test call.
    pub test_by: Option<String>,
    /// The last test call's notes.
    pub test_notes: Option<String>,
    /// Applied at, Unix seconds.
    pub created_at: i64,
    /// Last change, Unix seconds.
    pub updated_at: i64,
}

/// The result of the joint test call after a move.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TestCallRequest {
    /// Picture and sound both ways were fine.
    pub passed: bool,
    /// Notes.
    #[serde(default)]
    pub notes: String,
}

/// Venues by id, and what the caller may see/operate: `None` = all, `Some(site)` = one site.
struct Scope {
    venues: HashMap<VenueId, Venue>,
    site: Option<String>,
}

impl Scope {
    fn name(&self, id: VenueId) -> String {
        self.venues
            .get(&id)
            .map_or_else(|| id.to_string(), |v| v.name.clone())
    }

    /// The items of venues this scope covers, as DTOs.
    fn visible<T, D>(
        &self,
        items: &[T],
        venue: impl Fn(&T) -> VenueId,
        dto: fn(&Scope, &T) -> D,
    ) -> Vec<D> {
        items
            .iter()
            .filter(|t| self.covers(venue(t)))
            .map(|t| dto(self, t))
            .collect()
    }

    fn covers(&self, id: VenueId) -> bool {
        match &self.site {
            None => true,
            Some(site) => self.venues.get(&id).is_some_and(|v| &v.site == site),
        }
    }
}

/// The caller's scope for `action`; `write` excludes auditors.
async fn scope(
    state: &AppState,
    who: &AuthedOperator,
    action: &str,
    target: &str,
    write: bool,
) -> Result<Scope, ApiError> {
    let site = match &who.operator.role {
        Role::ItCentre => None,
        Role::Auditor if !write => None,
        Role::SiteAdmin { site } => Some(site.clone()),
        _ => {
            return Err(refuse(
                state,
                who,
                action,
                target,
                if write {
                    "only the IT centre and the venue's site administrators may do this"
                } else {
                    "only the IT centre, auditors and site administrators read equipment records"
                },
            )
            .await);
        }
    };
    let venues = state
        .store
        .list_venues()
        .await?
        .into_iter()
        .map(|v| (v.id, v))
        .collect();
    Ok(Scope { venues, site })
}

/// Resolves a venue name within the caller's write scope (403, audited, outside it).
async fn venue_in_scope(
    state: &AppState,
    who: &AuthedOperator,
    action: &str,
    name: &str,
) -> Result<(Scope, VenueId), ApiError> {
    let target = format!("venue {name}");
    let s = scope(state, who, action, &target, true).await?;
    let id = s
        .venues
        .values()
        .find(|v| v.name == name)
        .map(|v| v.id)
        .ok_or_else(|| ApiError::not_found(format!("venue {name} not found")))?;
    if !s.covers(id) {
        return Err(refuse(state, who, action, &target, "the venue is not of this site").await);
    }
    Ok((s, id))
}

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

fn check_dto(s: &Scope, c: &EquipmentCheck) -> CheckDto {
    CheckDto {
        id: c.id,
        venue: s.name(c.venue),
        checked_by: c.checked_by.clone(),
        passed: c.passed,
        notes: c.notes.clone(),
        at: c.at,
    }
}

fn due_dto(s: &Scope, d: &CheckDue) -> CheckDueDto {
    CheckDueDto {
        venue: s.name(d.venue),
        last_check: d.last_check,
        due_at: d.due_at,
        overdue: d.overdue,
    }
}

/// Files a fault or a move request at a venue in the caller's scope: refusals and store
/// errors are audited the same way for both.
async fn file_at_venue<T, D, Fut>(
    state: &AppState,
    who: &AuthedOperator,
    action: &str,
    req: &NewVenueNoteRequest,
    dto: fn(&Scope, &T) -> D,
    file: impl FnOnce(VenueId) -> Fut,
) -> Result<(StatusCode, Json<D>), ApiError>
where
    Fut: std::future::Future<Output = Result<T, StoreError>>,
{
    let (s, id) = venue_in_scope(state, who, action, &req.venue).await?;
    match file(id).await {
        Ok(t) => Ok((StatusCode::CREATED, Json(dto(&s, &t)))),
        Err(e) => Err(audited(state, who, action, &format!("venue {}", req.venue), e).await),
    }
}

fn fault_dto(s: &Scope, f: &Fault) -> FaultDto {
    FaultDto {
        id: f.id,
        venue: s.name(f.venue),
        reported_by: f.reported_by.clone(),
        description: f.description.clone(),
        status: f.status.as_str().to_owned(),
        opened_at: f.opened_at,
        updated_at: f.updated_at,
    }
}

fn move_dto(s: &Scope, m: &EquipmentMove) -> MoveDto {
    MoveDto {
        id: m.id,
        venue: s.name(m.venue),
        requested_by: m.requested_by.clone(),
        description: m.description.clone(),
        status: m.status.as_str().to_owned(),
        test_by: m.test_by.clone(),
        test_notes: m.test_notes.clone(),
        created_at: m.created_at,
        updated_at: m.updated_at,
    }
}

/// Record a monthly equipment check of a venue.
#[utoipa::path(
    post, path = "/api/v1/equipment/checks", tag = "equipment",
    security(("bearer" = [])),
    request_body = NewCheckRequest,
    responses(
        (status = 201, description = "Recorded", body = CheckDto),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not the IT centre or this venue's site administrator", body = ErrorBody),
        (status = 404, description = "Unknown venue", body = ErrorBody),
    )
)]
pub async fn record_check(
    State(state): State<AppState>,
    who: AuthedOperator,
    ApiJson(req): ApiJson<NewCheckRequest>,
) -> Result<(StatusCode, Json<CheckDto>), ApiError> {
    const ACTION: &str = "equipment.check";
    let (s, id) = venue_in_scope(&state, &who, ACTION, &req.venue).await?;
    match state
        .store
        .record_check(
            &who.operator.username,
            id,
            req.passed,
            &req.notes,
            unix_now(),
        )
        .await
    {
        Ok(c) => Ok((StatusCode::CREATED, Json(check_dto(&s, &c)))),
        Err(e) => Err(audited(&state, &who, ACTION, &format!("venue {}", req.venue), e).await),
    }
}

/// Every recorded check, newest first (a site administrator: their site's venues).
#[utoipa::path(
    get, path = "/api/v1/equipment/checks", tag = "equipment",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The checks", body = [CheckDto]),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Chair operators and approvers", body = ErrorBody),
    )
)]
pub async fn list_checks(
    State(state): State<AppState>,
    who: AuthedOperator,
) -> Result<Json<Vec<CheckDto>>, ApiError> {
    let s = scope(&state, &who, "equipment.read", "checks", false).await?;
    let items = state.store.list_checks().await?;
    Ok(Json(s.visible(&items, |c| c.venue, check_dto)))
}

/// The reminder list: venues whose monthly check falls due within a week or is overdue, most
/// overdue first (a site administrator: their site's venues).
#[utoipa::path(
    get, path = "/api/v1/equipment/due", tag = "equipment",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "Due and overdue checks", body = [CheckDueDto]),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Chair operators and approvers", body = ErrorBody),
    )
)]
pub async fn due(
    State(state): State<AppState>,
    who: AuthedOperator,
) -> Result<Json<Vec<CheckDueDto>>, ApiError> {
    let s = scope(&state, &who, "equipment.read", "checks due", false).await?;
    let items = state.store.checks_due(unix_now()).await?;
    Ok(Json(s.visible(&items, |d| d.venue, due_dto)))
}

/// Report a fault on a venue's equipment (it starts `open`).
#[utoipa::path(
    post, path = "/api/v1/equipment/faults", tag = "equipment",
    security(("bearer" = [])),
    request_body = NewVenueNoteRequest,
    responses(
        (status = 201, description = "Reported", body = FaultDto),
        (status = 400, description = "Empty description", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not the IT centre or this venue's site administrator", body = ErrorBody),
        (status = 404, description = "Unknown venue", body = ErrorBody),
    )
)]
pub async fn report_fault(
    State(state): State<AppState>,
    who: AuthedOperator,
    ApiJson(req): ApiJson<NewVenueNoteRequest>,
) -> Result<(StatusCode, Json<FaultDto>), ApiError> {
    file_at_venue(
        &state,
        &who,
        "equipment.fault.open",
        &req,
        fault_dto,
        |venue| {
            state
                .store
                .report_fault(&who.operator.username, venue, &req.description, unix_now())
        },
    )
    .await
}

/// Every fault, newest first (a site administrator: their site's venues).
#[utoipa::path(
    get, path = "/api/v1/equipment/faults", tag = "equipment",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The faults", body = [FaultDto]),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Chair operators and approvers", body = ErrorBody),
    )
)]
pub async fn list_faults(
    State(state): State<AppState>,
    who: AuthedOperator,
) -> Result<Json<Vec<FaultDto>>, ApiError> {
    let s = scope(&state, &who, "equipment.read", "faults", false).await?;
    let faults = state.store.list_faults().await?;
    Ok(Json(s.visible(&faults, |f| f.venue, fault_dto)))
}

/// Move a fault on: open → in_repair → fixed or reported_to_it_centre (directly from open
/// too); the last two are final.
#[utoipa::path(
    post, path = "/api/v1/equipment/faults/{id}/status", tag = "equipment",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Fault id")),
    request_body = FaultStatusRequest,
    responses(
        (status = 200, description = "Updated", body = FaultDto),
        (status = 400, description = "Unknown status", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not the IT centre or this venue's site administrator", body = ErrorBody),
        (status = 404, description = "Unknown fault", body = ErrorBody),
        (status = 409, description = "Not a step of the life cycle", body = ErrorBody),
    )
)]
pub async fn set_fault_status(
    State(state): State<AppState>,
    who: AuthedOperator,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<FaultStatusRequest>,
) -> Result<Json<FaultDto>, ApiError> {
    let id = parse_id(&id)?;
    let target = format!("fault {id}");
    let s = scope(&state, &who, "equipment.fault.update", &target, true).await?;
    let to = FaultStatus::parse(&req.status).ok_or_else(|| {
        ApiError::bad_request(format!(
            "status must be open, in_repair, fixed or reported_to_it_centre, not {:?}",
            req.status
        ))
    })?;
    let f = state
        .store
        .fault(id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("fault {id} not found")))?;
    if !s.covers(f.venue) {
        return Err(refuse(
            &state,
            &who,
            "equipment.fault.update",
            &target,
            "the venue is not of this site",
        )
        .await);
    }
    match state
        .store
        .set_fault_status(&who.operator.username, id, to, unix_now())
        .await
    {
        Ok(f) => Ok(Json(fault_dto(&s, &f))),
        Err(e) => Err(audited(&state, &who, "equipment.fault.update", &target, e).await),
    }
}

/// Apply for an equipment move at a venue. It stays open until a passed joint test call is
/// recorded.
#[utoipa::path(
    post, path = "/api/v1/equipment/moves", tag = "equipment",
    security(("bearer" = [])),
    request_body = NewVenueNoteRequest,
    responses(
        (status = 201, description = "Applied for", body = MoveDto),
        (status = 400, description = "Empty description", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not the IT centre or this venue's site administrator", body = ErrorBody),
        (status = 404, description = "Unknown venue", body = ErrorBody),
    )
)]
pub async fn request_move(
    State(state): State<AppState>,
    who: AuthedOperator,
    ApiJson(req): ApiJson<NewVenueNoteRequest>,
) -> Result<(StatusCode, Json<MoveDto>), ApiError> {
    file_at_venue(
        &state,
        &who,
        "equipment.move.request",
        &req,
        move_dto,
        |venue| {
            state
                .store
                .request_move(&who.operator.username, venue, &req.description, unix_now())
        },
    )
    .await
}

/// Every move request, newest first (a site administrator: their site's venues).
#[utoipa::path(
    get, path = "/api/v1/equipment/moves", tag = "equipment",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The move requests", body = [MoveDto]),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Chair operators and approvers", body = ErrorBody),
    )
)]
pub async fn list_moves(
    State(state): State<AppState>,
    who: AuthedOperator,
) -> Result<Json<Vec<MoveDto>>, ApiError> {
    let s = scope(&state, &who, "equipment.read", "moves", false).await?;
    let moves = state.store.list_moves().await?;
    Ok(Json(s.visible(&moves, |m| m.venue, move_dto)))
}

/// Record the joint test call with the province after a move (IT centre only). A passed call
/// closes the move; a failed one leaves it open (`test_failed`) for another call.
#[utoipa::path(
    post, path = "/api/v1/equipment/moves/{id}/test-call", tag = "equipment",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Move id")),
    request_body = TestCallRequest,
    responses(
        (status = 200, description = "Recorded", body = MoveDto),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not the IT centre", body = ErrorBody),
        (status = 404, description = "Unknown move", body = ErrorBody),
        (status = 409, description = "Already closed", body = ErrorBody),
    )
)]
pub async fn test_call(
    State(state): State<AppState>,
    who: AuthedOperator,
    Path(id): Path<String>,
    ApiJson(req): ApiJson<TestCallRequest>,
) -> Result<Json<MoveDto>, ApiError> {
    let id = parse_id(&id)?;
    let target = format!("move {id}");
    require_it_centre(&state, &who, "equipment.move.test_call", &target).await?;
    let s = scope(&state, &who, "equipment.move.test_call", &target, true).await?;
    match state
        .store
        .record_test_call(
            &who.operator.username,
            id,
            req.passed,
            &req.notes,
            unix_now(),
        )
        .await
    {
        Ok(m) => Ok(Json(move_dto(&s, &m))),
        Err(e) => Err(audited(&state, &who, "equipment.move.test_call", &target, e).await),
    }
}
