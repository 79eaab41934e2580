//! Operator accounts: created by the provincial IT centre, listed for it and for auditors.

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde::Deserialize;
use utoipa::ToSchema;

use super::access::{audit, refuse, require_it_centre};
use super::auth::{AuthedOperator, OperatorDto, RoleDto};
use super::error::{ApiError, ApiJson, ErrorBody};
use crate::app::{AppState, unix_now};
use dais_store::{ApprovalStage, AuditResult, Role};

/// An account to create.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOperatorRequest {
    /// Login name.
    pub username: String,
    /// Initial password (at least 8 characters).
    pub password: String,
    /// What the operator may do, e.g. `{"kind":"site_admin","site":"jinan"}`.
    pub role: RoleDto,
}

fn role(dto: &RoleDto) -> Result<Role, ApiError> {
    Ok(match dto {
        RoleDto::ItCentre => Role::ItCentre,
        RoleDto::SiteAdmin { site } => Role::SiteAdmin { site: site.clone() },
        RoleDto::ChairOperator => Role::ChairOperator,
        RoleDto::Approver { stage } => Role::Approver {
            stage: ApprovalStage::parse(stage).ok_or_else(|| {
                ApiError::bad_request(
                    "approver stage must be unit_head, it_centre or department_leader",
                )
            })?,
        },
        RoleDto::Auditor => Role::Auditor,
    })
}

/// Create an operator account (provincial IT centre only).
#[utoipa::path(
    post, path = "/api/v1/operators", tag = "operators",
    security(("bearer" = [])),
    request_body = NewOperatorRequest,
    responses(
        (status = 201, description = "Created", body = OperatorDto),
        (status = 400, description = "Invalid name, password or role", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not the IT centre", body = ErrorBody),
        (status = 409, description = "Name taken", body = ErrorBody),
    )
)]
pub async fn create(
    State(state): State<AppState>,
    who: AuthedOperator,
    ApiJson(req): ApiJson<NewOperatorRequest>,
) -> Result<(StatusCode, Json<OperatorDto>), ApiError> {
    let target = format!("operator {}", req.username);
    require_it_centre(&state, &who, "operator.create", &target).await?;
    let role = role(&req.role)?;
    match state
        .store
        .create_operator(
            &who.operator.username,
            &req.username,
            &req.password,
            role,
            unix_now(),
        )
        .await
    {
        Ok(op) => Ok((StatusCode::CREATED, Json(OperatorDto::from(&op)))),
        Err(e) => {
            let result = if e.is_caller_fault() {
                AuditResult::Refused(e.to_string())
            } else {
                AuditResult::Failed(e.to_string())
            };
            audit(&state, &who, "operator.create", &target, result).await;
            Err(e.into())
        }
    }
}

/// Every operator account (IT centre and auditors).
#[utoipa::path(
    get, path = "/api/v1/operators", tag = "operators",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The accounts", body = [OperatorDto]),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not the IT centre or an auditor", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    who: AuthedOperator,
) -> Result<Json<Vec<OperatorDto>>, ApiError> {
    if !matches!(who.operator.role, Role::ItCentre | Role::Auditor) {
        return Err(refuse(
            &state,
            &who,
            "operator.list",
            "operators",
            "only the IT centre and auditors may list accounts",
        )
        .await);
    }
    let ops = state.store.list_operators().await?;
    Ok(Json(ops.iter().map(OperatorDto::from).collect()))
}
