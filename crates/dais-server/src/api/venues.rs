//! Venues: the network's endpoints and their SIP credentials.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::access::{audit, require_it_centre, site_scope};
use super::auth::AuthedOperator;
use super::error::{ApiError, ApiJson, ErrorBody};
use crate::app::{AppState, unix_now};
use dais_store::{AuditResult, NewVenue, Venue, VenueId, VenueKind};

/// The digest realm used when a venue is created without one.
pub const DEFAULT_REALM: &str = "dais";

/// A venue's place in the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VenueKindDto {
    /// A provincial main venue (can host a meeting).
    Main,
    /// A terminal endpoint of a unit or county.
    Branch,
    /// A city venue: branch of the province, main venue of its counties.
    City,
}

impl From<VenueKindDto> for VenueKind {
    fn from(k: VenueKindDto) -> Self {
        match k {
            VenueKindDto::Main => VenueKind::Main,
            VenueKindDto::Branch => VenueKind::Branch,
            VenueKindDto::City => VenueKind::City,
        }
    }
}

impl From<VenueKind> for VenueKindDto {
    fn from(k: VenueKind) -> Self {
        match k {
            VenueKind::Main => VenueKindDto::Main,
            VenueKind::City => VenueKindDto::City,
            // The store's enum may grow; anything new is shown as a plain endpoint.
            _ => VenueKindDto::Branch,
        }
    }
}

/// A venue to create. The SIP password is turned into digest HA1 values by the store and is
/// never kept or shown again.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewVenueRequest {
    /// The venue's name and id in commands: 1 to 32 of `a-z 0-9 _ -`, e.g. `jinan`.
    pub name: String,
    /// Its place in the network.
    pub kind: VenueKindDto,
    /// The name of the venue above it (a county's city), if any.
    #[serde(default)]
    pub parent: Option<String>,
    /// The site that runs it; defaults to the venue's name.
    #[serde(default)]
    pub site: Option<String>,
    /// The SIP user it registers and authenticates as; defaults to the venue's name.
    #[serde(default)]
    pub sip_user: Option<String>,
    /// The SIP digest password.
    pub sip_password: String,
    /// The digest realm; defaults to `dais`.
    #[serde(default)]
    pub realm: Option<String>,
    /// Where to dial it when it is not registered, e.g. `sip:jinan@10.0.0.7`.
    #[serde(default)]
    pub contact_uri: Option<String>,
}

/// A venue as the API shows it (never its credentials).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct VenueDto {
    /// Database id.
    pub id: i64,
    /// Name (the id used in chair commands).
    pub name: String,
    /// Place in the network.
    pub kind: VenueKindDto,
    /// The parent venue's name, if any.
    pub parent: Option<String>,
    /// The site that runs it.
    pub site: String,
    /// SIP user.
    pub sip_user: String,
    /// Digest realm.
    pub realm: String,
    /// Dial-out URI, if any.
    pub contact_uri: Option<String>,
}

fn dto(v: &Venue, names: &HashMap<VenueId, String>) -> VenueDto {
    VenueDto {
        id: v.id.0,
        name: v.name.clone(),
        kind: v.kind.into(),
        parent: v.parent.and_then(|p| names.get(&p).cloned()),
        site: v.site.clone(),
        sip_user: v.sip_user.clone(),
        realm: v.digest.realm.clone(),
        contact_uri: v.contact_uri.clone(),
    }
}

async fn names(state: &AppState) -> Result<(Vec<Venue>, HashMap<VenueId, String>), ApiError> {
    let all = state.store.list_venues().await?;
    let names = all.iter().map(|v| (v.id, v.name.clone())).collect();
    Ok((all, names))
}

/// Create a venue (provincial IT centre only).
#[utoipa::path(
    post, path = "/api/v1/venues", tag = "venues",
    security(("bearer" = [])),
    request_body = NewVenueRequest,
    responses(
        (status = 201, description = "Created", body = VenueDto),
        (status = 400, description = "Invalid field", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not the IT centre", body = ErrorBody),
        (status = 404, description = "Unknown parent venue", body = ErrorBody),
        (status = 409, description = "Name or SIP user taken", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    who: AuthedOperator,
    ApiJson(req): ApiJson<NewVenueRequest>,
) -> Result<(StatusCode, Json<VenueDto>), ApiError> {
    let target = format!("venue {}", req.name);
    require_it_centre(&state, &who, "venue.create", &target).await?;
    // The name doubles as the conference's venue id, so it must be a valid one.
    if let Err(e) = req.name.parse::<dais_conference::VenueId>() {
        return Err(ApiError::bad_request(format!("invalid name: {e}")));
    }
    let parent = match &req.parent {
        None => None,
        Some(p) => Some(
            state
                .store
                .venue_by_name(p)
                .await?
                .ok_or_else(|| ApiError::not_found(format!("parent venue {p} not found")))?
                .id,
        ),
    };
    let site = req.site.as_deref().unwrap_or(&req.name);
    let sip_user = req.sip_user.as_deref().unwrap_or(&req.name);
    let realm = req.realm.as_deref().unwrap_or(DEFAULT_REALM);
    let created = state
        .store
        .create_venue(
            &who.operator.username,
            &NewVenue {
                name: &req.name,
                kind: req.kind.into(),
                parent,
                site,
                sip_user,
                realm,
                sip_password: &req.sip_password,
                contact_uri: req.contact_uri.as_deref(),
            },
            unix_now(),
        )
        .await;
    let venue = match created {
        Ok(v) => v,
        Err(e) => {
            let result = if e.is_caller_fault() {
                AuditResult::Refused(e.to_string())
            } else {
                AuditResult::Failed(e.to_string())
            };
            audit(&state, &who, "venue.create", &target, result).await;
            return Err(e.into());
        }
    };
    let (_, names) = names(&state).await?;
    Ok((StatusCode::CREATED, Json(dto(&venue, &names))))
}

/// Every venue the operator may see (a site administrator: their site's venues only).
#[utoipa::path(
    get, path = "/api/v1/venues", tag = "venues",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The venues", body = [VenueDto]),
        (status = 401, description = "Not logged in", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    who: AuthedOperator,
) -> Result<Json<Vec<VenueDto>>, ApiError> {
    let scope = site_scope(&state, &who).await?;
    let (all, names) = names(&state).await?;
    Ok(Json(
        all.iter()
            .filter(|v| scope.as_ref().is_none_or(|s| s.contains(&v.name)))
            .map(|v| dto(v, &names))
            .collect(),
    ))
}

/// One venue, by database id or by name.
#[utoipa::path(
    get, path = "/api/v1/venues/{id}", tag = "venues",
    security(("bearer" = [])),
    params(("id" = String, Path, description = "Database id (digits) or venue name")),
    responses(
        (status = 200, description = "The venue", body = VenueDto),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Another site's venue", body = ErrorBody),
        (status = 404, description = "No such venue", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    who: AuthedOperator,
    Path(id): Path<String>,
) -> Result<Json<VenueDto>, ApiError> {
    let venue = match id.parse::<i64>() {
        Ok(n) => state.store.venue(VenueId(n)).await?,
        Err(_) => state.store.venue_by_name(&id).await?,
    }
    .ok_or_else(|| ApiError::not_found(format!("venue {id} not found")))?;
    if let Some(scope) = site_scope(&state, &who).await?
        && !scope.contains(&venue.name)
    {
        return Err(super::access::refuse(
            &state,
            &who,
            "venue.read",
            &format!("venue {}", venue.name),
            "a site administrator sees only their own site's venues",
        )
        .await);
    }
    let (_, names) = names(&state).await?;
    Ok(Json(dto(&venue, &names)))
}
