//! The HTTP API in process: the meeting routes over a [`MeetingControl`], the hooks
//! (extra routers, metrics, shutdown steps) and the audit trail of commands.

mod common;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::routing::get;
use common::{http, login};
use dais_server::{
    Actor, App, AuthedOperator, BoxFuture, ChairCommandJson, CommandOutcome, Config, ControlError,
    MeetingControl, MeetingDetail, MeetingSummary, Secret, VenueStatus,
};
use dais_store::{AuditResult, Role, Store};
use prometheus_client::metrics::counter::Counter;

const ADMIN_PW: &str = "test admin password";

/// A meeting engine with one meeting, 8001, that records what it was asked.
#[derive(Default)]
struct OneMeeting {
    log: Mutex<Vec<String>>,
}

fn summary() -> MeetingSummary {
    MeetingSummary {
        number: "8001".into(),
        subject: "Monthly review".into(),
        state: "live".into(),
        venues_total: 2,
        venues_connected: 1,
    }
}

impl MeetingControl for OneMeeting {
    fn list_meetings(&self) -> BoxFuture<'_, Result<Vec<MeetingSummary>, ControlError>> {
        Box::pin(async { Ok(vec![summary()]) })
    }

    fn meeting_state(&self, number: String) -> BoxFuture<'_, Result<MeetingDetail, ControlError>> {
        Box::pin(async move {
            if number != "8001" {
                return Err(ControlError::NotFound {
                    what: format!("meeting {number}"),
                });
            }
            Ok(MeetingDetail {
                summary: summary(),
                broadcast: Some("jinan".into()),
                main_venue: Some("province".into()),
                venues: vec![VenueStatus {
                    name: "jinan".into(),
                    leg: "connected".into(),
                    muted: false,
                }],
                extra: serde_json::json!({"mode": "manual"}),
            })
        })
    }

    fn command(
        &self,
        number: String,
        actor: Actor,
        command: ChairCommandJson,
    ) -> BoxFuture<'_, Result<CommandOutcome, ControlError>> {
        Box::pin(async move {
            self.log.lock().unwrap().push(format!(
                "{number} {} {}",
                actor.username,
                command.name()
            ));
            if number != "8001" {
                return Err(ControlError::NotFound {
                    what: format!("meeting {number}"),
                });
            }
            if actor.role == Role::Auditor {
                return Err(ControlError::Forbidden {
                    reason: "auditors cannot command meetings".into(),
                });
            }
            match command {
                ChairCommandJson::Broadcast { venue } if venue == "jinan" => Ok(CommandOutcome {
                    accepted: true,
                    message: "broadcasting jinan".into(),
                }),
                ChairCommandJson::Broadcast { venue } => Err(ControlError::NotFound {
                    what: format!("venue {venue}"),
                }),
                ChairCommandJson::GoLive => Err(ControlError::Refused {
                    reason: "meeting is already live".into(),
                }),
                _ => Err(ControlError::Invalid {
                    reason: "not supported here".into(),
                }),
            }
        })
    }

    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {
            self.log.lock().unwrap().push("shutdown".into());
        })
    }
}

struct Running {
    addr: SocketAddr,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<Result<(), dais_server::ServerError>>>,
    data: PathBuf,
    dir: tempfile::TempDir,
}

impl Running {
    /// Stops the server; the data directory lives on in the returned guard.
    fn stop(mut self) -> tempfile::TempDir {
        let _ = self.stop.take().unwrap().send(());
        self.thread
            .take()
            .unwrap()
            .join()
            .unwrap()
            .expect("clean shutdown");
        self.dir
    }
}

/// Runs an App on its own runtime thread; `setup` plays the part of the binary's wiring.
fn spawn_app(setup: impl FnOnce(&mut App) + Send + 'static) -> Running {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_owned();
    let mut config = Config::defaults();
    config.data_dir = data.clone();
    config.http = "127.0.0.1:0".parse().unwrap();
    config.admin_password = Some(Secret::new(ADMIN_PW));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
    let thread = std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let mut app = App::start(config).await?;
            setup(&mut app);
            addr_tx.send(app.http_addr()).unwrap();
            app.serve(async {
                let _ = stop_rx.await;
            })
            .await
        })
    });
    let addr = addr_rx.recv().expect("app failed to start");
    Running {
        addr,
        stop: Some(stop_tx),
        thread: Some(thread),
        data,
        dir,
    }
}

fn block_on<T>(f: impl std::future::Future<Output = T>) -> T {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(f)
}

#[test]
fn meeting_routes_answer_through_the_attached_control_and_commands_are_audited() {
    let engine = Arc::new(OneMeeting::default());
    let e2 = engine.clone();
    let app = spawn_app(move |app| app.set_meeting_control(e2));
    let addr = app.addr;
    let token = login(addr, "admin", ADMIN_PW);

    let r = http(addr, "GET", "/api/v1/meetings", Some(&token), None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()[0]["number"], "8001");
    assert_eq!(r.json()[0]["venues_connected"], 1);

    let r = http(addr, "GET", "/api/v1/meetings/8001", Some(&token), None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["broadcast"], "jinan");
    assert_eq!(
        r.json()["subject"],
        "Monthly review",
        "summary is flattened"
    );
    assert_eq!(r.json()["extra"]["mode"], "manual");

    assert_eq!(
        http(addr, "GET", "/api/v1/meetings/9999", Some(&token), None).status,
        404
    );
    assert_eq!(
        http(addr, "GET", "/api/v1/meetings/80a1", Some(&token), None).status,
        400
    );
    assert_eq!(
        http(addr, "GET", "/api/v1/meetings", None, None).status,
        401
    );

    let cmd = |body: &str| {
        http(
            addr,
            "POST",
            "/api/v1/meetings/8001/commands",
            Some(&token),
            Some(body),
        )
    };
    let r = cmd(r#"{"command":"broadcast","venue":"jinan"}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["message"], "broadcasting jinan");
    let r = cmd(r#"{"command":"broadcast","venue":"atlantis"}"#);
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (404, Some("not_found"))
    );
    let r = cmd(r#"{"command":"go_live"}"#);
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (409, Some("refused"))
    );
    let r = cmd(r#"{"command":"self_destruct"}"#);
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (400, Some("bad_request"))
    );
    let r = cmd(r#"{"command":"lock"}"#);
    assert_eq!(r.status, 400);

    // An auditor is refused by the engine's policy: 403.
    let store_path = app.data.clone();
    block_on(async {
        let store = Store::open(&store_path).await.unwrap();
        store
            .create_operator("admin", "aud", "auditor password", Role::Auditor, 0)
            .await
            .unwrap();
    });
    let aud = login(addr, "aud", "auditor password");
    let r = http(
        addr,
        "POST",
        "/api/v1/meetings/8001/commands",
        Some(&aud),
        Some(r#"{"command":"broadcast","venue":"jinan"}"#),
    );
    assert_eq!(
        (r.status, r.json()["code"].as_str()),
        (403, Some("forbidden"))
    );

    let _dir = app.stop();
    let log = engine.log.lock().unwrap().clone();
    assert_eq!(log.last().map(String::as_str), Some("shutdown"));
    // The unparseable command never reached the engine.
    assert_eq!(log.iter().filter(|l| l.starts_with("8001 ")).count(), 5);

    block_on(async {
        let store = Store::open(&store_path).await.unwrap();
        store.verify_audit_chain().await.unwrap();
        let rows = store.recent_audit(1000).await.unwrap();
        let cmds: Vec<_> = rows
            .iter()
            .filter(|e| e.action.starts_with("meeting.command."))
            .collect();
        assert_eq!(cmds.len(), 5);
        assert!(cmds.iter().any(|e| {
            e.action == "meeting.command.broadcast"
                && e.result == AuditResult::Ok
                && e.target == "meeting 8001"
                && e.from
                    .as_deref()
                    .is_some_and(|f| f.starts_with("127.0.0.1:"))
        }));
        assert!(cmds.iter().any(|e| e.actor == "aud"
            && matches!(&e.result, AuditResult::Refused(r) if r.contains("auditors"))));
        store.close().await;
    });
}

#[test]
fn without_a_control_meeting_routes_answer_503_and_the_attempt_is_audited() {
    let app = spawn_app(|_| {});
    let token = login(app.addr, "admin", ADMIN_PW);
    for (method, path, body) in [
        ("GET", "/api/v1/meetings", None),
        ("GET", "/api/v1/meetings/8001", None),
        (
            "POST",
            "/api/v1/meetings/8001/commands",
            Some(r#"{"command":"end_meeting"}"#),
        ),
    ] {
        let r = http(app.addr, method, path, Some(&token), body);
        assert_eq!(r.status, 503, "{path}");
        assert_eq!(r.json()["code"], "no_meeting_engine");
    }
    let data = app.data.clone();
    let _dir = app.stop();
    block_on(async {
        let store = Store::open(&data).await.unwrap();
        let rows = store.recent_audit(100).await.unwrap();
        assert!(
            rows.iter()
                .any(|e| e.action == "meeting.command.end_meeting"
                    && matches!(e.result, AuditResult::Failed(_)))
        );
    });
}

async fn whoami(who: AuthedOperator) -> String {
    who.operator.username
}

#[test]
fn extra_routers_metrics_and_shutdown_steps_are_wired_in() {
    let order = Arc::new(Mutex::new(Vec::<&'static str>::new()));
    let engine = Arc::new(OneMeeting::default());
    let (o1, o2, e2) = (order.clone(), order.clone(), engine.clone());
    let hits = Counter::<u64>::default();
    let hits2 = hits.clone();
    let app = spawn_app(move |app| {
        app.set_meeting_control(e2);
        app.registry_mut().sub_registry_with_prefix("sip").register(
            "test_hits",
            "A module's own metric",
            hits2,
        );
        app.add_router(Router::new().route("/api/v1/whoami", get(whoami)));
        app.add_shutdown_step("first", async move { o1.lock().unwrap().push("first") });
        app.add_shutdown_step("second", async move { o2.lock().unwrap().push("second") });
    });
    hits.inc_by(3);
    let token = login(app.addr, "admin", ADMIN_PW);
    let r = http(app.addr, "GET", "/api/v1/whoami", Some(&token), None);
    assert_eq!((r.status, r.body.as_str()), (200, "admin"));
    assert_eq!(
        http(app.addr, "GET", "/api/v1/whoami", None, None).status,
        401
    );
    let m = http(app.addr, "GET", "/metrics", None, None).body;
    assert!(m.contains("dais_sip_test_hits_total 3"), "{m}");
    assert!(
        m.contains(
            r#"dais_http_requests_total{route="/api/v1/whoami",method="GET",status="200"} 1"#
        ),
        "{m}"
    );
    assert!(
        order.lock().unwrap().is_empty(),
        "steps must not run before shutdown"
    );
    let _dir = app.stop();
    assert_eq!(*order.lock().unwrap(), vec!["first", "second"]);
    assert_eq!(
        engine.log.lock().unwrap().last().map(String::as_str),
        Some("shutdown")
    );
}

#[test]
fn health_turns_503_during_shutdown() {
    // A shutdown step probes /healthz while the server is still up but shutting down.
    let seen = Arc::new(Mutex::new(None::<u16>));
    let seen2 = seen.clone();
    let addr_cell = Arc::new(Mutex::new(None::<SocketAddr>));
    let addr_cell2 = addr_cell.clone();
    let app = spawn_app(move |app| {
        *addr_cell2.lock().unwrap() = Some(app.http_addr());
        app.add_shutdown_step("probe", async move {
            let addr = addr_cell2.lock().unwrap().unwrap();
            let status = tokio::task::spawn_blocking(move || {
                http(addr, "GET", "/healthz", None, None).status
            })
            .await
            .unwrap();
            *seen2.lock().unwrap() = Some(status);
        });
    });
    assert_eq!(http(app.addr, "GET", "/healthz", None, None).status, 200);
    let _ = addr_cell;
    let _dir = app.stop();
    assert_eq!(*seen.lock().unwrap(), Some(503));
}
