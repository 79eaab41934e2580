//! The application: state shared by handlers, the start-up sequence and the shutdown sequence.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use axum::Router;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use utoipa::OpenApi;

use crate::api;
use crate::config::Config;
use crate::control::MeetingControl;
use crate::metrics::{HttpMetrics, new_registry};
use dais_store::{AuditEvent, AuditResult, Store, StoreError, StoreOptions};

/// Wall-clock time as Unix seconds. The shell reads the clock here and passes it down; the
/// store and the core never read it themselves.
pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// What every handler can reach. Cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The database.
    pub store: Store,
    /// The metrics registry (frozen once serving starts; metric handles stay live).
    pub registry: Arc<Registry>,
    /// The server's own HTTP metrics.
    pub http_metrics: HttpMetrics,
    /// The meeting engine, when one is attached.
    pub control: Option<Arc<dyn MeetingControl>>,
    /// The meeting-room catalogue bookings choose from.
    pub rooms: Arc<[String]>,
    pub(crate) ready: Arc<AtomicBool>,
    pub(crate) openapi_json: Arc<str>,
}

impl fmt::Debug for AppState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AppState")
            .field("store", &self.store)
            .field("control", &self.control.is_some())
            .field("ready", &self.is_ready())
            .finish_non_exhaustive()
    }
}

impl AppState {
    /// False once shutdown has begun (health checks then answer 503).
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Appends an audit row. A failure to audit is logged and counted, not propagated: the
    /// action it records has already happened or been refused.
    pub async fn audit(&self, ev: &AuditEvent<'_>) {
        if let Err(e) = self.store.audit(ev).await {
            self.http_metrics.audit_failures.inc();
            tracing::error!(error = %e, action = ev.action, "audit write failed");
        }
    }
}

/// Why the server could not start or stopped abnormally.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ServerError {
    /// The store could not be opened or the first account created.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// A listener could not be bound (address in use, permission denied).
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The OS error.
        source: std::io::Error,
    },
    /// The HTTP server failed while running.
    #[error("http server: {0}")]
    Http(std::io::Error),
    /// A start-up or shutdown hook failed.
    #[error("{0}")]
    Hook(String),
}

type ShutdownStep = (String, Pin<Box<dyn Future<Output = ()> + Send>>);

/// The server being assembled: the store is open, the HTTP listener bound, nothing served yet.
///
/// The binary calls [`App::start`], attaches whatever else it runs (the meeting engine with
/// [`App::set_meeting_control`], extra routes with [`App::add_router`], metrics through
/// [`App::registry_mut`], shutdown work with [`App::add_shutdown_step`]), then
/// [`App::serve`] until its shutdown signal resolves.
pub struct App {
    config: Config,
    store: Store,
    registry: Registry,
    http_metrics: HttpMetrics,
    control: Option<Arc<dyn MeetingControl>>,
    routers: Vec<Router<AppState>>,
    openapi_extra: Vec<utoipa::openapi::OpenApi>,
    shutdown_steps: Vec<ShutdownStep>,
    listener: TcpListener,
    http_addr: SocketAddr,
    generated_admin_password: Option<String>,
}

impl fmt::Debug for App {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("App")
            .field("http_addr", &self.http_addr)
            .field("control", &self.control.is_some())
            .field("routers", &self.routers.len())
            .field(
                "shutdown_steps",
                &self
                    .shutdown_steps
                    .iter()
                    .map(|(n, _)| n)
                    .collect::<Vec<_>>(),
            )
            .finish_non_exhaustive()
    }
}

impl App {
    /// Opens the store, makes sure an admin account exists, and binds the HTTP listener.
    ///
    /// # Errors
    ///
    /// [`ServerError::Store`] when the database cannot be opened or migrated;
    /// [`ServerError::Bind`] when the HTTP address cannot be bound.
    pub async fn start(config: Config) -> Result<App, ServerError> {
        // A PostgreSQL (or explicit SQLite) URL when configured, else the data directory.
        let location: std::path::PathBuf = match &config.store {
            Some(url) => url.expose().into(),
            None => config.data_dir.clone(),
        };
        let store = Store::open_with(
            &location,
            StoreOptions {
                session_ttl_secs: config.session_ttl_secs,
                ..StoreOptions::default()
            },
        )
        .await?;
        let now = unix_now();
        let generated_admin_password = store
            .ensure_admin(config.admin_password.as_ref().map(|s| s.expose()), now)
            .await?;
        let purged = store.purge_expired_sessions(now).await?;
        if purged > 0 {
            tracing::debug!(purged, "expired sessions removed");
        }
        let (registry, http_metrics) = new_registry(now);
        let listener =
            TcpListener::bind(config.http)
                .await
                .map_err(|source| ServerError::Bind {
                    addr: config.http,
                    source,
                })?;
        let http_addr = listener.local_addr().map_err(|source| ServerError::Bind {
            addr: config.http,
            source,
        })?;
        Ok(App {
            config,
            store,
            registry,
            http_metrics,
            control: None,
            routers: Vec::new(),
            openapi_extra: Vec::new(),
            shutdown_steps: Vec::new(),
            listener,
            http_addr,
            generated_admin_password,
        })
    }

    /// The configuration the app was started with.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The store (clone it to keep a handle).
    pub fn store(&self) -> &Store {
        &self.store
    }

    /// The address the HTTP listener is bound to (the real port when `:0` was asked for).
    pub fn http_addr(&self) -> SocketAddr {
        self.http_addr
    }

    /// The admin password generated on first start, if any: shown **once** by the binary on
    /// stderr, never logged. Later calls return `None`.
    pub fn take_generated_admin_password(&mut self) -> Option<String> {
        self.generated_admin_password.take()
    }

    /// The metrics registry, for other modules to register their metrics before serving. Use
    /// `sub_registry_with_prefix` for a namespace; every name already starts with `dais_`.
    pub fn registry_mut(&mut self) -> &mut Registry {
        &mut self.registry
    }

    /// Attaches the meeting engine that answers `/api/v1/meetings*`. Its
    /// [`MeetingControl::shutdown`] becomes the first shutdown step.
    pub fn set_meeting_control(&mut self, control: Arc<dyn MeetingControl>) {
        self.control = Some(control);
    }

    /// Adds routes, merged with the built-in ones (paths must not collide). They get the
    /// request metrics and can use [`AppState`] and [`crate::AuthedOperator`].
    pub fn add_router(&mut self, router: Router<AppState>) {
        self.routers.push(router);
    }

    /// Merges another OpenAPI document (for routes added with [`App::add_router`]) into
    /// `/api/v1/openapi.json`.
    pub fn add_openapi(&mut self, doc: utoipa::openapi::OpenApi) {
        self.openapi_extra.push(doc);
    }

    /// Adds a step to the shutdown sequence. Steps run in the order added, after the meeting
    /// engine's own shutdown and before the HTTP server stops, each bounded by the configured
    /// grace period. The future is not polled before shutdown begins.
    pub fn add_shutdown_step(
        &mut self,
        name: impl Into<String>,
        step: impl Future<Output = ()> + Send + 'static,
    ) {
        self.shutdown_steps.push((name.into(), Box::pin(step)));
    }

    /// Serves HTTP until `shutdown` resolves, then runs the shutdown sequence: health checks
    /// turn 503, the meeting engine shuts down, the registered steps run, the HTTP server stops
    /// accepting and drains, and the store is closed.
    ///
    /// # Errors
    ///
    /// [`ServerError::Http`] when the HTTP server fails before the signal.
    pub async fn serve(self, shutdown: impl Future<Output = ()> + Send) -> Result<(), ServerError> {
        let App {
            config,
            store,
            registry,
            http_metrics,
            control,
            routers,
            openapi_extra,
            mut shutdown_steps,
            listener,
            http_addr,
            generated_admin_password: _,
        } = self;
        let mut doc = api::ApiDoc::openapi();
        for extra in openapi_extra {
            doc.merge(extra);
        }
        let openapi_json: Arc<str> = doc
            .to_json()
            .map_err(|e| ServerError::Hook(format!("OpenAPI document: {e}")))?
            .into();
        let ready = Arc::new(AtomicBool::new(true));
        let state = AppState {
            store: store.clone(),
            registry: Arc::new(registry),
            http_metrics,
            control: control.clone(),
            rooms: config.rooms.clone().into(),
            ready: ready.clone(),
            openapi_json,
        };
        let mut router = api::routes().merge(crate::console::router(config.console_language));
        for r in routers {
            router = router.merge(r);
        }
        let app = api::finish(router, state);

        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let server = axum::serve(
            listener,
            app.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(async {
            // A dropped sender also means stop.
            let _ = stop_rx.await;
        });
        let mut server = tokio::spawn(server.into_future());
        tracing::info!(addr = %http_addr, "http listening");

        tokio::select! {
            () = shutdown => {}
            res = &mut server => {
                // axum::serve only returns early on a fatal error.
                ready.store(false, Ordering::Release);
                store.close().await;
                return match res {
                    Ok(Ok(())) => Err(ServerError::Http(std::io::Error::other("server stopped unexpectedly"))),
                    Ok(Err(e)) => Err(ServerError::Http(e)),
                    Err(e) => Err(ServerError::Http(std::io::Error::other(e))),
                };
            }
        }

        tracing::info!("shutdown: started");
        ready.store(false, Ordering::Release);
        let grace = config.shutdown_grace;
        if let Some(control) = control {
            shutdown_steps.insert(
                0,
                (
                    "meeting engine".to_owned(),
                    Box::pin(async move { control.shutdown().await }),
                ),
            );
        }
        for (name, step) in shutdown_steps {
            tracing::info!(step = %name, "shutdown: running step");
            if tokio::time::timeout(grace, step).await.is_err() {
                tracing::warn!(step = %name, grace_secs = grace.as_secs(), "shutdown: step timed out");
            }
        }
        let _ = stop_tx.send(());
        match tokio::time::timeout(grace, &mut server).await {
            Ok(Ok(Ok(()))) => tracing::info!("shutdown: http stopped"),
            Ok(Ok(Err(e))) => tracing::warn!(error = %e, "shutdown: http server error"),
            Ok(Err(e)) => tracing::warn!(error = %e, "shutdown: http task failed"),
            Err(_) => {
                tracing::warn!(
                    "shutdown: http connections still open after the grace period; closing them"
                );
                server.abort();
            }
        }
        store
            .audit(&AuditEvent {
                actor: "system",
                action: "server.stop",
                target: "daisd",
                at: unix_now(),
                from: None,
                result: AuditResult::Ok,
            })
            .await
            .map_err(ServerError::Store)?;
        store.close().await;
        tracing::info!("shutdown: complete");
        Ok(())
    }
}
