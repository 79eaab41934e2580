//! Bearer authentication: the [`AuthedOperator`] extractor and the login, logout and `me`
//! routes.

use std::net::SocketAddr;

use axum::Json;
use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::StatusCode;
use axum::http::request::Parts;
use axum::response::IntoResponse;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::error::{ApiError, ApiJson, ErrorBody};
use crate::app::{AppState, unix_now};
use crate::control::Actor;
use dais_store::{AuditEvent, AuditResult, Operator, Role};

/// An operator authenticated by an `Authorization: Bearer <token>` header (or, on a WebSocket
/// upgrade, a [`WS_TOKEN_PREFIX`] subprotocol). Using it as a
/// handler argument makes the route require login; a refusal answers 401 and is audited.
#[derive(Debug, Clone)]
pub struct AuthedOperator {
    /// The operator.
    pub operator: Operator,
    /// The bearer token presented (needed to log out).
    pub token: String,
    /// The client's address, when the server knows it.
    pub from: Option<SocketAddr>,
}

impl AuthedOperator {
    /// The operator as a command [`Actor`].
    pub fn actor(&self) -> Actor {
        Actor {
            username: self.operator.username.clone(),
            role: self.operator.role.clone(),
            from: self.from,
        }
    }
}

pub(crate) fn client_addr(parts: &Parts) -> Option<SocketAddr> {
    parts
        .extensions
        .get::<ConnectInfo<SocketAddr>>()
        .map(|ConnectInfo(a)| *a)
}

/// The client's address when the server was started with connect info (always, in `daisd`);
/// `None` otherwise (e.g. a router driven directly in tests). Never rejects.
#[derive(Debug, Clone, Copy)]
pub struct ClientAddr(pub Option<SocketAddr>);

impl<S: Send + Sync> FromRequestParts<S> for ClientAddr {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(ClientAddr(client_addr(parts)))
    }
}

/// The WebSocket subprotocol the event stream selects when a client offers it.
pub const WS_PROTOCOL: &str = "dais.v1";

/// Prefix of the WebSocket subprotocol that carries a bearer token. A browser cannot set an
/// `Authorization` header on a WebSocket, so the console offers
/// `Sec-WebSocket-Protocol: dais.v1, dais.bearer.<token>` and the server selects `dais.v1`.
/// A query parameter was rejected: URLs end up in access logs and browser history.
pub const WS_TOKEN_PREFIX: &str = "dais.bearer.";

/// The token of a `dais.bearer.<token>` subprotocol, only on a WebSocket upgrade request.
fn websocket_protocol_token(headers: &axum::http::HeaderMap) -> Option<&str> {
    let upgrade = headers
        .get(axum::http::header::UPGRADE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.eq_ignore_ascii_case("websocket"));
    if !upgrade {
        return None;
    }
    headers
        .get_all(axum::http::header::SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .find_map(|p| p.trim().strip_prefix(WS_TOKEN_PREFIX))
        .filter(|t| !t.is_empty())
}

impl FromRequestParts<AppState> for AuthedOperator {
    type Rejection = ApiError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let from = client_addr(parts);
        let header = parts
            .headers
            .get(axum::http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok());
        let token = header
            .and_then(|h| {
                let (scheme, rest) = h.split_once(' ')?;
                scheme.eq_ignore_ascii_case("bearer").then(|| rest.trim())
            })
            .or_else(|| websocket_protocol_token(&parts.headers));
        let now = unix_now();
        let (reason, message) = match token {
            None => ("no bearer token", "missing Authorization: Bearer token"),
            Some(token) => match state.store.authenticate(token, now).await? {
                Some(operator) => {
                    return Ok(AuthedOperator {
                        operator,
                        token: token.to_owned(),
                        from,
                    });
                }
                None => ("invalid or expired token", "invalid or expired token"),
            },
        };
        let from_s = from.map(|a| a.to_string());
        state
            .audit(&AuditEvent {
                actor: "anonymous",
                action: "auth",
                target: parts.uri.path(),
                at: now,
                from: from_s.as_deref(),
                result: AuditResult::Refused(reason.to_owned()),
            })
            .await;
        Err(ApiError::unauthorized(message))
    }
}

/// Login request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LoginRequest {
    /// Account name.
    pub username: String,
    /// Password.
    pub password: String,
}

/// An operator's role, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum RoleDto {
    /// Provincial IT centre.
    ItCentre,
    /// A site's administrator.
    SiteAdmin {
        /// The site.
        site: String,
    },
    /// Chair operator.
    ChairOperator,
    /// Booking approver.
    Approver {
        /// `unit_head`, `it_centre` or `department_leader`.
        stage: String,
    },
    /// Read-only auditor.
    Auditor,
}

impl From<&Role> for RoleDto {
    fn from(r: &Role) -> Self {
        match r {
            Role::ItCentre => RoleDto::ItCentre,
            Role::SiteAdmin { site } => RoleDto::SiteAdmin { site: site.clone() },
            Role::ChairOperator => RoleDto::ChairOperator,
            Role::Approver { stage } => RoleDto::Approver {
                stage: stage.as_str().to_owned(),
            },
            Role::Auditor => RoleDto::Auditor,
        }
    }
}

/// An operator, as the API shows it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct OperatorDto {
    /// Database id.
    pub id: i64,
    /// Account name.
    pub username: String,
    /// Role.
    pub role: RoleDto,
    /// Creation time, Unix seconds.
    pub created_at: i64,
}

impl From<&Operator> for OperatorDto {
    fn from(o: &Operator) -> Self {
        OperatorDto {
            id: o.id.0,
            username: o.username.clone(),
            role: RoleDto::from(&o.role),
            created_at: o.created_at,
        }
    }
}

/// Login response.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LoginResponse {
    /// Bearer token for the `Authorization` header.
    pub token: String,
    /// Always `Bearer`.
    pub token_type: String,
    /// Expiry, Unix seconds.
    pub expires_at: i64,
    /// Who logged in.
    pub operator: OperatorDto,
}

/// Exchange a user name and password for a bearer token.
#[utoipa::path(
    post, path = "/api/v1/auth/login", tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "Logged in", body = LoginResponse),
        (status = 400, description = "Malformed request", body = ErrorBody),
        (status = 401, description = "Wrong credentials or account locked", body = ErrorBody),
        (status = 403, description = "Account disabled", body = ErrorBody),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    ClientAddr(addr): ClientAddr,
    ApiJson(req): ApiJson<LoginRequest>,
) -> Result<Json<LoginResponse>, ApiError> {
    let from = addr.map(|a| a.to_string());
    let session = state
        .store
        .login(&req.username, &req.password, from.as_deref(), unix_now())
        .await?;
    Ok(Json(LoginResponse {
        operator: OperatorDto::from(&session.operator),
        token: session.token,
        token_type: "Bearer".into(),
        expires_at: session.expires_at,
    }))
}

/// End the current session.
#[utoipa::path(
    post, path = "/api/v1/auth/logout", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 204, description = "Logged out"),
        (status = 401, description = "Not logged in", body = ErrorBody),
    )
)]
pub async fn logout(
    State(state): State<AppState>,
    who: AuthedOperator,
) -> Result<impl IntoResponse, ApiError> {
    let from = who.from.map(|a| a.to_string());
    state
        .store
        .logout(&who.token, from.as_deref(), unix_now())
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The logged-in operator.
#[utoipa::path(
    get, path = "/api/v1/me", tag = "auth",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The operator", body = OperatorDto),
        (status = 401, description = "Not logged in", body = ErrorBody),
    )
)]
pub async fn me(who: AuthedOperator) -> Json<OperatorDto> {
    Json(OperatorDto::from(&who.operator))
}
