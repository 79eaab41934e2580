//! Prometheus metrics: an isolated registry per [`crate::App`] (no global state, so tests get
//! their own), with every name prefixed `dais_`.

use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::metrics::info::Info;
use prometheus_client::registry::{Registry, Unit};

/// The registry's prefix: every metric is exported as `dais_<name>`.
pub const PREFIX: &str = "dais";

/// Labels of the HTTP request counter.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct HttpLabels {
    /// The route template (`/api/v1/meetings/{number}`), never the raw path, so the number of
    /// series stays bounded whatever clients send.
    pub route: String,
    /// HTTP method.
    pub method: String,
    /// Response status code.
    pub status: u16,
}

/// Labels of the HTTP latency histogram.
#[derive(Debug, Clone, PartialEq, Eq, Hash, EncodeLabelSet)]
pub struct RouteLabels {
    /// The route template.
    pub route: String,
}

fn latency_histogram() -> Histogram {
    // 1 ms to ~8 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 14))
}

/// The server's own metrics.
#[derive(Debug, Clone)]
pub struct HttpMetrics {
    /// `dais_http_requests_total{route,method,status}`.
    pub requests: Family<HttpLabels, Counter>,
    /// `dais_http_request_duration_seconds{route}`.
    pub duration: Family<RouteLabels, Histogram, fn() -> Histogram>,
    /// `dais_audit_write_failures_total`: audit rows that could not be written.
    pub audit_failures: Counter,
}

/// Builds the registry with the server's own metrics registered.
///
/// `start_unix` is the process start time (Unix seconds).
pub fn new_registry(start_unix: i64) -> (Registry, HttpMetrics) {
    let mut registry = Registry::with_prefix(PREFIX);
    let requests = Family::<HttpLabels, Counter>::default();
    registry.register(
        "http_requests",
        "HTTP requests by route template, method and status",
        requests.clone(),
    );
    let duration = Family::<RouteLabels, Histogram>::new_with_constructor(
        latency_histogram as fn() -> Histogram,
    );
    registry.register_with_unit(
        "http_request_duration",
        "HTTP request handling time by route template",
        Unit::Seconds,
        duration.clone(),
    );
    let start = Gauge::<i64, std::sync::atomic::AtomicI64>::default();
    start.set(start_unix);
    registry.register_with_unit(
        "process_start_time",
        "Start time of the process since the Unix epoch",
        Unit::Seconds,
        start,
    );
    registry.register(
        "build",
        "Build information",
        Info::new(vec![("version", env!("CARGO_PKG_VERSION"))]),
    );
    let audit_failures = Counter::<u64, AtomicU64>::default();
    registry.register(
        "audit_write_failures",
        "Audit rows that could not be written",
        audit_failures.clone(),
    );
    (
        registry,
        HttpMetrics {
            requests,
            duration,
            audit_failures,
        },
    )
}

/// Renders the registry in the OpenMetrics text format.
///
/// # Errors
///
/// Only `fmt::Error`, which writing to a `String` does not produce.
pub fn encode(registry: &Registry) -> Result<String, std::fmt::Error> {
    let mut out = String::new();
    prometheus_client::encoding::text::encode(&mut out, registry)?;
    Ok(out)
}

/// Shared handle on the metrics, kept in [`crate::AppState`].
pub type SharedRegistry = Arc<Registry>;
