//! `daisd`: the Dais server.
//!
//! Exit codes: 0 after a clean shutdown (SIGINT or SIGTERM), 1 when the server cannot start or
//! fails, 2 for a configuration error.

use std::process::ExitCode;

use dais_server::meetings::Meetings;
use dais_server::{App, Config, ConfigError};

#[tokio::main]
async fn main() -> ExitCode {
    let config = match Config::from_env_and_args() {
        Ok(c) => c,
        Err(ConfigError::Info(text)) => {
            #[allow(clippy::print_stdout)]
            {
                print!("{text}");
            }
            return ExitCode::SUCCESS;
        }
        Err(ConfigError::Usage(text)) => {
            #[allow(clippy::print_stderr)]
            {
                eprint!("{text}");
            }
            return ExitCode::from(2);
        }
        Err(e) => {
            #[allow(clippy::print_stderr)]
            {
                eprintln!("daisd: configuration error: {e}");
            }
            return ExitCode::from(2);
        }
    };
    dais_server::logging::init(config.log_format);
    // Before any meeting exists: the pool is started once, on first use.
    dais_net::send_pool::configure(config.send_threads);
    dais_net::udp::set_offload(config.udp_offload);
    let shutdown = shutdown_signal();

    let mut app = match App::start(config).await {
        Ok(app) => app,
        Err(e) => {
            tracing::error!(error = %e, "cannot start");
            return ExitCode::from(1);
        }
    };
    if let Some(pw) = app.take_generated_admin_password() {
        // Shown once, on stderr, never in the log stream.
        #[allow(clippy::print_stderr)]
        {
            eprintln!(
                "daisd: created the first account: user `admin`, password `{pw}`\n\
                 daisd: this password is shown only now; set DAIS_ADMIN_PASSWORD to choose it"
            );
        }
    }
    let meetings = Meetings::new(app.config().sip.ip(), app.config().rtp_ports);
    app.add_router(meetings.router());
    app.add_router(dais_server::api::records::router(meetings.clone()));
    app.set_meeting_control(meetings.clone());
    dais_server::api::recordings::attach(&mut app, &meetings);
    // SIP after the registry (its directory looks meetings up there); its shutdown step runs
    // after the meetings have ended and BYEd their legs.
    match dais_server::sip::start(&mut app, meetings.clone()).await {
        // Meetings started through the API dial their venues out over SIP.
        Ok(dialer) => meetings.set_dialer(dialer),
        Err(e) => {
            tracing::error!(error = %e, "cannot start the SIP service");
            return ExitCode::from(1);
        }
    }
    app.registry_mut().register_collector(Box::new(
        dais_server::media_metrics::MediaCollector::new(meetings.clone()),
    ));
    if app.config().demo {
        match dais_server::meetings::start_demo(&meetings).await {
            Ok(_dialer) => tracing::info!(
                meeting = dais_server::meetings::DEMO_MEETING,
                http = %app.http_addr(),
                "demo meeting is live: GET /api/v1/meetings/8000"
            ),
            Err(e) => {
                tracing::error!(error = %e, "cannot start the demo meeting");
                return ExitCode::from(1);
            }
        }
    }

    dais_server::scheduler::Scheduler::spawn(&mut app, meetings.clone());
    match app.serve(shutdown).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "server failed");
            ExitCode::from(1)
        }
    }
}

/// Installs the SIGINT and SIGTERM handlers now (so a signal that arrives while starting up is
/// not fatal) and returns a future that resolves on the first of them.
fn shutdown_signal() -> impl std::future::Future<Output = ()> + Send {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let int = signal(SignalKind::interrupt());
        let term = signal(SignalKind::terminate());
        async move {
            match (int, term) {
                (Ok(mut int), Ok(mut term)) => tokio::select! {
                    _ = int.recv() => tracing::info!("SIGINT received"),
                    _ = term.recv() => tracing::info!("SIGTERM received"),
                },
                (Err(e), _) | (_, Err(e)) => {
                    tracing::error!(error = %e, "cannot install signal handlers; stop with SIGKILL");
                    std::future::pending::<()>().await;
                }
            }
        }
    }
    #[cfg(not(unix))]
    {
        async {
            if tokio::signal::ctrl_c().await.is_err() {
                std::future::pending::<()>().await;
            }
            tracing::info!("Ctrl-C received");
        }
    }
}
