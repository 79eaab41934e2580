//! The meeting record through the API: read live from a running meeting, or as stored when it
//! ended (the server writes it then), as JSON or CSV.
//!
//! Who may read it: the IT centre, auditors, chair operators, and a site administrator whose
//! site takes part in the meeting; approvers may not (they approve bookings, not meetings).

use std::sync::Arc;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use super::access::{meeting_in_scope, refuse, site_scope};
use super::auth::AuthedOperator;
use super::error::{ApiError, ErrorBody};
use super::meetings::check_number;
use crate::app::AppState;
use crate::control::MeetingControl;
use crate::meetings::Meetings;
use dais_store::Role;

/// The record routes, served with the registry (a running meeting's record is read from it).
pub fn router(meetings: Arc<Meetings>) -> Router<AppState> {
    let json = meetings.clone();
    Router::new()
        .route(
            "/api/v1/meetings/{number}/record",
            get(
                move |State(state): State<AppState>,
                      who: AuthedOperator,
                      Path(number): Path<String>| {
                    let m = json.clone();
                    async move { record(&state, &who, &m, number, false).await }
                },
            ),
        )
        .route(
            "/api/v1/meetings/{number}/record.csv",
            get(
                move |State(state): State<AppState>,
                      who: AuthedOperator,
                      Path(number): Path<String>| {
                    let m = meetings.clone();
                    async move { record(&state, &who, &m, number, true).await }
                },
            ),
        )
}

/// The record (live from the registry, else the stored copy) and the meeting's venue names.
async fn load(
    state: &AppState,
    meetings: &Meetings,
    number: &str,
    csv: bool,
) -> Result<(String, Vec<String>), ApiError> {
    if let Some(text) = meetings.record_export(number, csv).await {
        let text = text.map_err(ApiError::internal)?;
        let names = meetings
            .meeting_state(number.to_owned())
            .await?
            .venues
            .into_iter()
            .map(|v| v.name)
            .collect();
        return Ok((text, names));
    }
    let stored = state.store.meeting_record(number).await?.ok_or_else(|| {
        ApiError::not_found(format!(
            "no record of meeting {number}: it is not running and has not ended here"
        ))
    })?;
    let venues = state.store.list_venues().await?;
    let names = match state.store.meeting(number).await? {
        Some(m) => m
            .venues
            .iter()
            .filter_map(|id| venues.iter().find(|v| v.id == *id).map(|v| v.name.clone()))
            .collect(),
        None => Vec::new(),
    };
    Ok((if csv { stored.csv } else { stored.json }, names))
}

async fn record(
    state: &AppState,
    who: &AuthedOperator,
    meetings: &Meetings,
    number: String,
    csv: bool,
) -> Response {
    let answer = async {
        check_number(&number)?;
        let target = format!("meeting {number}");
        if matches!(who.operator.role, Role::Approver { .. }) {
            return Err(refuse(
                state,
                who,
                "meeting.record.read",
                &target,
                "approvers do not read meeting records",
            )
            .await);
        }
        let (text, names) = load(state, meetings, &number, csv).await?;
        let scope = site_scope(state, who).await?;
        if !meeting_in_scope(&scope, names.iter().map(String::as_str)) {
            return Err(refuse(
                state,
                who,
                "meeting.record.read",
                &target,
                "none of this site's venues takes part in the meeting",
            )
            .await);
        }
        Ok(text)
    }
    .await;
    match answer {
        Err(e) => e.into_response(),
        Ok(text) if csv => (
            StatusCode::OK,
            [
                (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
                (
                    header::CONTENT_DISPOSITION,
                    format!("attachment; filename=\"meeting-{number}.csv\""),
                ),
            ],
            text,
        )
            .into_response(),
        Ok(text) => (
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json".to_owned())],
            text,
        )
            .into_response(),
    }
}

/// The meeting record as JSON: one object per entry (`at_ms` since the meeting's start, the
/// actor with operator and role, `kind` with its fields): who joined, dropped, was redialled,
/// every switch, roll call, mute, and who commanded it. Live while the meeting runs; the copy
/// stored when it ended afterwards.
///
/// The route is served by [`router`]; this function only carries its OpenAPI description.
#[utoipa::path(
    get, path = "/api/v1/meetings/{number}/record", tag = "meetings",
    security(("bearer" = [])),
    params(("number" = String, Path, description = "Meeting dial number, e.g. 8001")),
    responses(
        (status = 200, description = "The record (a JSON array)", content_type = "application/json"),
        (status = 400, description = "Malformed number", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "An approver, or a site administrator whose site is not in it", body = ErrorBody),
        (status = 404, description = "Neither running nor ended here", body = ErrorBody),
    )
)]
pub fn record_doc() {}

/// The meeting record as CSV (RFC 4180, header `at_ms,operator,role,kind,venue,detail`,
/// `detail` = the entry's JSON). Same rules as the JSON form.
///
/// The route is served by [`router`]; this function only carries its OpenAPI description.
#[utoipa::path(
    get, path = "/api/v1/meetings/{number}/record.csv", tag = "meetings",
    security(("bearer" = [])),
    params(("number" = String, Path, description = "Meeting dial number, e.g. 8001")),
    responses(
        (status = 200, description = "The record", content_type = "text/csv"),
        (status = 400, description = "Malformed number", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "An approver, or a site administrator whose site is not in it", body = ErrorBody),
        (status = 404, description = "Neither running nor ended here", body = ErrorBody),
    )
)]
pub fn record_csv_doc() {}
