//! Health, metrics and the OpenAPI document.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::ApiError;
use crate::app::AppState;

/// Health status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct Health {
    /// `ok`, `shutting_down` or `store_unavailable`.
    pub status: String,
}

/// Liveness and readiness: 200 `{"status":"ok"}` while serving, 503 while shutting down or
/// when the database does not answer.
#[utoipa::path(
    get, path = "/healthz", tag = "system",
    responses(
        (status = 200, description = "Ready", body = Health),
        (status = 503, description = "Not ready", body = Health),
    )
)]
pub async fn healthz(State(state): State<AppState>) -> (StatusCode, Json<Health>) {
    let status = if !state.is_ready() {
        "shutting_down"
    } else if let Err(e) = state.store.ping().await {
        tracing::warn!(error = %e, "health check: store does not answer");
        "store_unavailable"
    } else {
        "ok"
    };
    let code = if status == "ok" {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    (
        code,
        Json(Health {
            status: status.into(),
        }),
    )
}

/// Prometheus metrics, OpenMetrics text format; every name starts with `dais_`.
#[utoipa::path(
    get, path = "/metrics", tag = "system",
    responses((status = 200, description = "Metrics", content_type = "application/openmetrics-text", body = String))
)]
pub async fn metrics(State(state): State<AppState>) -> Response {
    match crate::metrics::encode(&state.registry) {
        Ok(body) => (
            [(
                header::CONTENT_TYPE,
                "application/openmetrics-text; version=1.0.0; charset=utf-8",
            )],
            body,
        )
            .into_response(),
        Err(e) => ApiError::internal(e).into_response(),
    }
}

/// This API's OpenAPI 3.1 document.
#[utoipa::path(
    get, path = "/api/v1/openapi.json", tag = "system",
    responses((status = 200, description = "The OpenAPI document", content_type = "application/json", body = Object))
)]
pub async fn openapi(State(state): State<AppState>) -> Response {
    (
        [(header::CONTENT_TYPE, "application/json")],
        state.openapi_json.to_string(),
    )
        .into_response()
}
