//! Meeting routes, answered through the attached [`crate::MeetingControl`].

use std::sync::Arc;

use axum::Json;
use axum::extract::{Path, State};
use axum::http::StatusCode;

use super::auth::AuthedOperator;
use super::error::{ApiError, ApiJson, ErrorBody};
use crate::app::{AppState, unix_now};
use crate::control::{
    ChairCommandJson, CommandOutcome, ControlError, MeetingControl, MeetingDetail, MeetingSummary,
};
use dais_store::{AuditEvent, AuditResult};

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
fn check_number(number: &str) -> Result<(), ApiError> {
    if number.is_empty() || number.len() > 32 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(ApiError::bad_request(
            "meeting number must be 1 to 32 digits",
        ));
    }
    Ok(())
}

/// Every meeting.
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
    _who: AuthedOperator,
) -> Result<Json<Vec<MeetingSummary>>, ApiError> {
    Ok(Json(control(&state)?.list_meetings().await?))
}

/// The live state of one meeting.
#[utoipa::path(
    get, path = "/api/v1/meetings/{number}", tag = "meetings",
    security(("bearer" = [])),
    params(("number" = String, Path, description = "Meeting dial number, e.g. 8001")),
    responses(
        (status = 200, description = "The meeting", body = MeetingDetail),
        (status = 400, description = "Malformed number", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 404, description = "No such meeting", body = ErrorBody),
        (status = 503, description = "No meeting engine attached", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    _who: AuthedOperator,
    Path(number): Path<String>,
) -> Result<Json<MeetingDetail>, ApiError> {
    check_number(&number)?;
    Ok(Json(control(&state)?.meeting_state(number).await?))
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
