//! The HTTP API: routes, the OpenAPI document, request metrics.

pub(crate) mod access;
pub mod auth;
pub mod bookings;
pub mod equipment;
pub mod error;
pub mod meetings;
pub mod operators;
pub mod recordings;
pub mod records;
pub mod sites;
pub mod system;
pub mod venues;

use std::time::Instant;

use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::app::AppState;
use crate::metrics::{HttpLabels, RouteLabels};
use error::ApiError;

/// The generated OpenAPI description of the built-in routes.
#[derive(Debug, OpenApi)]
#[openapi(
    info(title = "Dais", description = "Dais MCU operator API"),
    paths(
        system::healthz,
        system::metrics,
        system::openapi,
        auth::login,
        auth::logout,
        auth::me,
        meetings::list,
        meetings::create,
        meetings::get,
        meetings::start_doc,
        meetings::command,
        meetings::events_doc,
        records::record_doc,
        records::record_csv_doc,
        venues::create,
        venues::list,
        venues::get,
        operators::create,
        operators::list,
        bookings::rooms,
        bookings::create,
        bookings::list,
        bookings::inbox,
        bookings::get,
        bookings::decide,
        sites::list,
        sites::create,
        sites::set_slot,
        sites::history,
        equipment::record_check,
        equipment::list_checks,
        equipment::due,
        equipment::report_fault,
        equipment::list_faults,
        equipment::set_fault_status,
        equipment::request_move,
        equipment::list_moves,
        equipment::test_call,
        recordings::list,
        recordings::get,
        recordings::request_release,
        recordings::decide,
        recordings::download,
        recordings::verify,
        recordings::set_policy,
    ),
    components(schemas(
        error::ErrorBody,
        system::Health,
        auth::LoginRequest,
        auth::LoginResponse,
        auth::OperatorDto,
        auth::RoleDto,
        crate::control::ChairCommandJson,
        crate::control::MeetingSummary,
        crate::control::MeetingDetail,
        crate::control::VenueStatus,
        crate::control::CommandOutcome,
        meetings::NewMeetingRequest,
        meetings::StoredMeetingDto,
        meetings::StartRequest,
        venues::NewVenueRequest,
        venues::VenueDto,
        venues::VenueKindDto,
        operators::NewOperatorRequest,
        bookings::NewBookingRequest,
        bookings::BookingDto,
        bookings::OpinionDto,
        bookings::DecisionRequest,
        sites::SiteDto,
        sites::SlotDto,
        sites::NewSiteRequest,
        sites::SlotRequest,
        sites::SlotChangeDto,
        equipment::NewCheckRequest,
        equipment::CheckDto,
        equipment::CheckDueDto,
        equipment::NewVenueNoteRequest,
        equipment::FaultDto,
        equipment::FaultStatusRequest,
        equipment::MoveDto,
        equipment::TestCallRequest,
        recordings::RecordingDto,
        recordings::ReleaseDto,
        recordings::RecordingDetail,
        recordings::ReleaseRequest,
        recordings::ReleaseDecision,
        recordings::VerifyEntry,
        recordings::VerifyReport,
        recordings::RecordingPolicy,
    )),
    modifiers(&BearerScheme),
    tags(
        (name = "system", description = "Health, metrics, this document"),
        (name = "auth", description = "Operator login"),
        (name = "meetings", description = "Meetings: scheduling, starting, live state, chair commands, events"),
        (name = "venues", description = "Venues and their SIP accounts"),
        (name = "operators", description = "Operator accounts and roles"),
        (name = "bookings", description = "Meeting bookings and their three-stage approval"),
        (name = "sites", description = "Sites and their A/B administrators"),
        (name = "equipment", description = "Equipment checks, faults and moves per venue"),
        (name = "recordings", description = "Recordings of live meetings: archive, verification, release"),
    )
)]
pub struct ApiDoc;

struct BearerScheme;

impl Modify for BearerScheme {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
    }
}

/// The built-in routes (without state, extra routers or the metrics layer).
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(system::healthz))
        .route("/metrics", get(system::metrics))
        .route("/api/v1/openapi.json", get(system::openapi))
        .route("/api/v1/auth/login", post(auth::login))
        .route("/api/v1/auth/logout", post(auth::logout))
        .route("/api/v1/me", get(auth::me))
        .route(
            "/api/v1/meetings",
            get(meetings::list).post(meetings::create),
        )
        .route("/api/v1/venues", get(venues::list).post(venues::create))
        .route("/api/v1/venues/{id}", get(venues::get))
        .route(
            "/api/v1/operators",
            get(operators::list).post(operators::create),
        )
        .route("/api/v1/meetings/{number}", get(meetings::get))
        .route(
            "/api/v1/meetings/{number}/commands",
            post(meetings::command),
        )
        .route("/api/v1/rooms", get(bookings::rooms))
        .route(
            "/api/v1/bookings",
            get(bookings::list).post(bookings::create),
        )
        .route("/api/v1/bookings/inbox", get(bookings::inbox))
        .route("/api/v1/bookings/{id}", get(bookings::get))
        .route("/api/v1/bookings/{id}/decision", post(bookings::decide))
        .route("/api/v1/sites", get(sites::list).post(sites::create))
        .route("/api/v1/sites/{name}/slots/{slot}", put(sites::set_slot))
        .route("/api/v1/sites/{name}/history", get(sites::history))
        .route(
            "/api/v1/equipment/checks",
            get(equipment::list_checks).post(equipment::record_check),
        )
        .route("/api/v1/equipment/due", get(equipment::due))
        .route(
            "/api/v1/equipment/faults",
            get(equipment::list_faults).post(equipment::report_fault),
        )
        .route(
            "/api/v1/equipment/faults/{id}/status",
            post(equipment::set_fault_status),
        )
        .route(
            "/api/v1/equipment/moves",
            get(equipment::list_moves).post(equipment::request_move),
        )
        .route(
            "/api/v1/equipment/moves/{id}/test-call",
            post(equipment::test_call),
        )
        .route(
            "/api/v1/meetings/{number}/recording",
            put(recordings::set_policy),
        )
        .route("/api/v1/recordings", get(recordings::list))
        .route("/api/v1/recordings/verify", post(recordings::verify))
        .route("/api/v1/recordings/{id}", get(recordings::get))
        .route(
            "/api/v1/recordings/{id}/releases",
            post(recordings::request_release),
        )
        .route(
            "/api/v1/recordings/{id}/download",
            get(recordings::download),
        )
        .route(
            "/api/v1/recordings/releases/{release}/decision",
            post(recordings::decide),
        )
}

/// Wraps the merged routes with request metrics, tracing, and JSON 404/405 answers.
pub fn finish(router: Router<AppState>, state: AppState) -> Router {
    router
        // route_layer: runs after routing, so the matched route template is known.
        .route_layer(middleware::from_fn_with_state(state.clone(), track))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(tower_http::trace::TraceLayer::new_for_http())
        .with_state(state)
}

async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().as_str().to_owned();
    let start = Instant::now();
    let resp = next.run(req).await;
    state
        .http_metrics
        .duration
        .get_or_create(&RouteLabels {
            route: route.clone(),
        })
        .observe(start.elapsed().as_secs_f64());
    state
        .http_metrics
        .requests
        .get_or_create(&HttpLabels {
            route,
            method,
            status: resp.status().as_u16(),
        })
        .inc();
    resp
}

async fn not_found(State(state): State<AppState>, req: Request) -> Response {
    state
        .http_metrics
        .requests
        .get_or_create(&HttpLabels {
            route: "unmatched".into(),
            method: req.method().as_str().to_owned(),
            status: 404,
        })
        .inc();
    ApiError::not_found(format!("no route for {}", req.uri().path())).into_response()
}

async fn method_not_allowed(req: Request) -> Response {
    ApiError::new(
        axum::http::StatusCode::METHOD_NOT_ALLOWED,
        "method_not_allowed",
        format!("{} is not allowed here", req.method()),
    )
    .into_response()
}
