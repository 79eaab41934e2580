//! Sites and their A/B administrators.
//!
//! The IT centre registers sites and fills or replaces their slots; the IT centre and auditors
//! see every site (and which have a vacant slot); a site administrator sees their own site.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::access::{audit, refuse, require_it_centre};
use super::auth::AuthedOperator;
use super::error::{ApiError, ApiJson, ErrorBody};
use crate::app::{AppState, unix_now};
use dais_store::{AuditResult, Role, Site, Slot, SlotAssignment, SlotChange, SlotChangeReason};

/// A slot's holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SlotDto {
    /// The operator's user name; null when vacant.
    pub operator: Option<String>,
    /// Since when, Unix seconds.
    pub since: i64,
}

/// A site with its A/B pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SiteDto {
    /// The site's name.
    pub name: String,
    /// Primary administrator.
    pub a: SlotDto,
    /// Backup administrator.
    pub b: SlotDto,
    /// True when either slot is vacant.
    pub vacant: bool,
}

/// A site to register.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewSiteRequest {
    /// Name: 1 to 32 of `a-z 0-9 - _` (as used in venues' `site` and site administrators' role).
    pub name: String,
}

/// Fill, replace or vacate a slot.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SlotRequest {
    /// The new holder (a site administrator of this site), or null to leave it vacant.
    pub operator: Option<String>,
    /// `appointment` (filling a vacant slot), or why the holder goes: `transfer`, `leave`,
    /// `resignation`, `retirement`.
    pub reason: String,
    /// Free text, e.g. the order's reference.
    #[serde(default)]
    pub note: String,
}

/// One change of a slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct SlotChangeDto {
    /// `a` or `b`.
    pub slot: String,
    /// The holder before (null: vacant).
    pub previous: Option<String>,
    /// The holder after (null: vacated).
    pub next: Option<String>,
    /// Why.
    pub reason: String,
    /// Free text.
    pub note: String,
    /// Who recorded it.
    pub by: String,
    /// When, Unix seconds.
    pub at: i64,
}

fn site_dto(s: &Site) -> SiteDto {
    SiteDto {
        name: s.name.clone(),
        a: SlotDto {
            operator: s.a.operator.clone(),
            since: s.a.since,
        },
        b: SlotDto {
            operator: s.b.operator.clone(),
            since: s.b.since,
        },
        vacant: s.has_vacancy(),
    }
}

fn change_dto(c: &SlotChange) -> SlotChangeDto {
    SlotChangeDto {
        slot: c.slot.as_str().to_owned(),
        previous: c.previous.clone(),
        next: c.next.clone(),
        reason: c.reason.as_str().to_owned(),
        note: c.note.clone(),
        by: c.by.clone(),
        at: c.at,
    }
}

/// The sites `who` may see: `None` for all, `Some(site)` for one, refused otherwise.
async fn visible(
    state: &AppState,
    who: &AuthedOperator,
    action: &str,
    target: &str,
) -> Result<Option<String>, ApiError> {
    match &who.operator.role {
        Role::ItCentre | Role::Auditor => Ok(None),
        Role::SiteAdmin { site } => Ok(Some(site.clone())),
        _ => Err(refuse(
            state,
            who,
            action,
            target,
            "only the IT centre, auditors and site administrators see the site registry",
        )
        .await),
    }
}

/// Every site with its A/B administrators and whether a slot is vacant (a site administrator
/// sees only their own site).
#[utoipa::path(
    get, path = "/api/v1/sites", tag = "sites",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The sites", body = [SiteDto]),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Chair operators and approvers", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    who: AuthedOperator,
) -> Result<Json<Vec<SiteDto>>, ApiError> {
    let only = visible(&state, &who, "site.list", "sites").await?;
    Ok(Json(
        state
            .store
            .list_sites()
            .await?
            .iter()
            .filter(|s| only.as_ref().is_none_or(|o| *o == s.name))
            .map(site_dto)
            .collect(),
    ))
}

/// Register a site, both slots vacant (IT centre only).
#[utoipa::path(
    post, path = "/api/v1/sites", tag = "sites",
    security(("bearer" = [])),
    request_body = NewSiteRequest,
    responses(
        (status = 201, description = "Registered", body = SiteDto),
        (status = 400, description = "Invalid name", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not the IT centre", body = ErrorBody),
        (status = 409, description = "Exists", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    who: AuthedOperator,
    ApiJson(req): ApiJson<NewSiteRequest>,
) -> Result<(StatusCode, Json<SiteDto>), ApiError> {
    let target = format!("site {}", req.name);
    require_it_centre(&state, &who, "site.create", &target).await?;
    match state
        .store
        .create_site(&who.operator.username, &req.name, unix_now())
        .await
    {
        Ok(s) => Ok((StatusCode::CREATED, Json(site_dto(&s)))),
        Err(e) => {
            audit(
                &state,
                &who,
                "site.create",
                &target,
                AuditResult::Refused(e.to_string()),
            )
            .await;
            Err(e.into())
        }
    }
}

/// Fill, replace or vacate slot `a` or `b` of a site, recording why (IT centre only). The
/// change joins the site's history.
#[utoipa::path(
    put, path = "/api/v1/sites/{name}/slots/{slot}", tag = "sites",
    security(("bearer" = [])),
    params(
        ("name" = String, Path, description = "Site name"),
        ("slot" = String, Path, description = "`a` or `b`"),
    ),
    request_body = SlotRequest,
    responses(
        (status = 200, description = "Recorded", body = SlotChangeDto),
        (status = 400, description = "Unknown slot or reason, an operator who is not this site's administrator, or a reason that does not fit", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not the IT centre", body = ErrorBody),
        (status = 404, description = "Unknown site or operator", body = ErrorBody),
        (status = 409, description = "Nothing would change", body = ErrorBody),
    )
)]
pub async fn set_slot(
    State(state): State<AppState>,
    who: AuthedOperator,
    Path((name, slot)): Path<(String, String)>,
    ApiJson(req): ApiJson<SlotRequest>,
) -> Result<Json<SlotChangeDto>, ApiError> {
    let target = format!("site {name} slot {slot}");
    require_it_centre(&state, &who, "site.slot", &target).await?;
    let slot = Slot::parse(&slot)
        .ok_or_else(|| ApiError::bad_request(format!("slot must be a or b, not {slot:?}")))?;
    let reason = SlotChangeReason::parse(&req.reason).ok_or_else(|| {
        ApiError::bad_request(format!(
            "reason must be appointment, transfer, leave, resignation or retirement, not {:?}",
            req.reason
        ))
    })?;
    match state
        .store
        .set_site_admin(
            &who.operator.username,
            &SlotAssignment {
                site: &name,
                slot,
                operator: req.operator.as_deref(),
                reason,
                note: &req.note,
            },
            unix_now(),
        )
        .await
    {
        Ok(c) => Ok(Json(change_dto(&c))),
        Err(e) => {
            audit(
                &state,
                &who,
                "site.slot",
                &target,
                AuditResult::Refused(e.to_string()),
            )
            .await;
            Err(e.into())
        }
    }
}

/// Every change of a site's slots, oldest first.
#[utoipa::path(
    get, path = "/api/v1/sites/{name}/history", tag = "sites",
    security(("bearer" = [])),
    params(("name" = String, Path, description = "Site name")),
    responses(
        (status = 200, description = "The history", body = [SlotChangeDto]),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Another site's administrator, chair operators, approvers", body = ErrorBody),
        (status = 404, description = "Unknown site", body = ErrorBody),
    )
)]
pub async fn history(
    State(state): State<AppState>,
    who: AuthedOperator,
    Path(name): Path<String>,
) -> Result<Json<Vec<SlotChangeDto>>, ApiError> {
    let target = format!("site {name}");
    let only = visible(&state, &who, "site.history", &target).await?;
    if only.as_ref().is_some_and(|o| *o != name) {
        return Err(refuse(
            &state,
            &who,
            "site.history",
            &target,
            "a site administrator sees only their own site",
        )
        .await);
    }
    Ok(Json(
        state
            .store
            .site_history(&name)
            .await?
            .iter()
            .map(change_dto)
            .collect(),
    ))
}
