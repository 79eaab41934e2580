//! The real `daisd` binary on ephemeral loopback ports with a temporary data directory.

mod common;

use std::io::{BufRead, BufReader, Read};
use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{http, login};

const ADMIN_PW: &str = "test admin password";

struct Daisd {
    child: Child,
    addr: SocketAddr,
    stdout: Arc<Mutex<Vec<String>>>,
    stderr: Arc<Mutex<String>>,
}

fn command(data: &Path) -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_daisd"));
    c.env_clear()
        .env("RUST_LOG", "info")
        .args(["--data"])
        .arg(data)
        .args([
            "--http",
            "127.0.0.1:0",
            "--sip",
            "127.0.0.1:0",
            "--log-format",
            "json",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// Starts the binary and waits until it logs the HTTP address it bound.
fn start(mut cmd: Command) -> Daisd {
    let mut child = cmd.spawn().expect("spawn daisd");
    let out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    let stdout = Arc::new(Mutex::new(Vec::new()));
    let stderr = Arc::new(Mutex::new(String::new()));
    let (tx, rx) = mpsc::channel();
    {
        let stdout = stdout.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<serde_json::Value>(&line)
                    && v["message"] == "http listening"
                {
                    let _ = tx.send(v["addr"].as_str().unwrap().parse::<SocketAddr>().unwrap());
                }
                stdout.lock().unwrap().push(line);
            }
        });
    }
    {
        let stderr = stderr.clone();
        std::thread::spawn(move || {
            let mut s = String::new();
            let _ = err.read_to_string(&mut s);
            stderr.lock().unwrap().push_str(&s);
        });
    }
    // A hang guard, not a timing assertion.
    let addr = match rx.recv_timeout(Duration::from_secs(120)) {
        Ok(a) => a,
        Err(_) => {
            let _ = child.kill();
            let status = child.wait();
            std::thread::sleep(Duration::from_millis(200));
            panic!(
                "daisd did not start ({status:?}); stdout: {:?}; stderr: {}",
                stdout.lock().unwrap(),
                stderr.lock().unwrap()
            );
        }
    };
    Daisd {
        child,
        addr,
        stdout,
        stderr,
    }
}

impl Daisd {
    fn sigterm_and_wait(mut self) -> (ExitStatus, Vec<String>, String) {
        let pid = self.child.id().to_string();
        let st = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
        assert!(st.success());
        let status = self.child.wait().unwrap();
        // Let the reader threads drain the pipes (they end at EOF, which exit causes).
        for _ in 0..100 {
            if Arc::strong_count(&self.stderr) == 1 && Arc::strong_count(&self.stdout) == 1 {
                break;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let out = self.stdout.lock().unwrap().clone();
        let err = self.stderr.lock().unwrap().clone();
        (status, out, err)
    }
}

impl Drop for Daisd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn serves_health_metrics_openapi_and_login_then_stops_cleanly_on_sigterm() {
    let dir = tempfile::tempdir().unwrap();
    let mut cmd = command(dir.path());
    cmd.env("DAIS_ADMIN_PASSWORD", ADMIN_PW);
    let d = start(cmd);
    let addr = d.addr;

    let r = http(addr, "GET", "/healthz", None, None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json(), serde_json::json!({"status": "ok"}));

    let r = http(addr, "GET", "/api/v1/openapi.json", None, None);
    assert_eq!(r.status, 200);
    let doc = r.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/healthz",
        "/metrics",
        "/api/v1/openapi.json",
        "/api/v1/auth/login",
        "/api/v1/auth/logout",
        "/api/v1/me",
        "/api/v1/meetings",
        "/api/v1/meetings/{number}",
        "/api/v1/meetings/{number}/commands",
    ] {
        assert!(paths.contains_key(p), "openapi lacks {p}");
    }

    let r = http(
        addr,
        "POST",
        "/api/v1/auth/login",
        None,
        Some(r#"{"username":"admin","password":"wrong"}"#),
    );
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["code"], "bad_credentials");
    assert!(r.header("www-authenticate").is_some());

    let r = http(addr, "POST", "/api/v1/auth/login", None, Some("{not json"));
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["code"], "bad_request");

    let token = login(addr, "admin", ADMIN_PW);
    let r = http(addr, "GET", "/api/v1/me", Some(&token), None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["username"], "admin");
    assert_eq!(r.json()["role"]["kind"], "it_centre");

    // The meeting engine is attached; without --demo and with an empty store there are no
    // meetings yet.
    let r = http(addr, "GET", "/api/v1/meetings", Some(&token), None);
    assert_eq!(r.status, 200);
    assert_eq!(r.json().as_array().map(Vec::len), Some(0));

    let r = http(addr, "GET", "/api/v1/me", None, None);
    assert_eq!(r.status, 401);
    assert_eq!(r.json()["code"], "unauthorized");

    let r = http(addr, "POST", "/api/v1/auth/logout", Some(&token), None);
    assert_eq!(r.status, 204);
    assert_eq!(
        http(addr, "GET", "/api/v1/me", Some(&token), None).status,
        401
    );

    let r = http(addr, "GET", "/no/such/route", None, None);
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["code"], "not_found");

    let r = http(addr, "GET", "/metrics", None, None);
    assert_eq!(r.status, 200);
    let metric_lines: Vec<&str> = r.body.lines().filter(|l| !l.starts_with('#')).collect();
    assert!(!metric_lines.is_empty());
    for l in &metric_lines {
        assert!(l.starts_with("dais_"), "metric not prefixed dais_: {l}");
    }
    assert!(r.body.contains("dais_process_start_time_seconds "));
    assert!(
        r.body
            .contains(r#"dais_http_requests_total{route="/healthz",method="GET",status="200"} 1"#),
        "{}",
        r.body
    );
    assert!(
        r.body
            .contains(r#"route="/api/v1/auth/login",method="POST",status="401""#)
    );

    let (status, logs, stderr) = d.sigterm_and_wait();
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert!(logs.iter().any(|l| l.contains("shutdown: complete")));
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !logs.iter().any(|l| l.contains(ADMIN_PW)),
        "password in logs"
    );

    // Next start on the same data: the account persisted, no new password, file consistent.
    let d = start(command(dir.path()));
    let token = login(d.addr, "admin", ADMIN_PW);
    assert_eq!(
        http(d.addr, "GET", "/api/v1/me", Some(&token), None).status,
        200
    );
    let (status, _, stderr) = d.sigterm_and_wait();
    assert_eq!(status.code(), Some(0), "stderr: {stderr}");
    assert!(!stderr.contains("password"), "{stderr}");

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = dais_store::Store::open(dir.path()).await.unwrap();
        store.integrity_check().await.unwrap();
        store.verify_audit_chain().await.unwrap();
        let log = store.recent_audit(1000).await.unwrap();
        // Two clean stops, each audited.
        assert_eq!(log.iter().filter(|e| e.action == "server.stop").count(), 2);
        assert!(log.iter().any(|e| {
            e.action == "login"
                && e.result != dais_store::AuditResult::Ok
                && e.from
                    .as_deref()
                    .is_some_and(|f| f.starts_with("127.0.0.1:"))
        }));
        assert!(
            log.iter()
                .any(|e| e.action == "auth" && e.target == "/api/v1/me")
        );
        store.close().await;
    });
}

#[test]
fn generated_admin_password_is_shown_once_on_stderr_and_never_logged() {
    let dir = tempfile::tempdir().unwrap();
    let d = start(command(dir.path()));
    // stderr is read at exit; stop first, then look.
    let (status, logs, stderr) = d.sigterm_and_wait();
    assert_eq!(status.code(), Some(0), "{stderr}");
    let pw = stderr
        .split('`')
        .nth(3)
        .unwrap_or_else(|| panic!("no password on stderr: {stderr}"))
        .to_owned();
    assert_eq!(pw.len(), 20, "{stderr}");
    assert!(
        !logs.iter().any(|l| l.contains(&pw)),
        "password in the log stream"
    );

    let d = start(command(dir.path()));
    login(d.addr, "admin", &pw);
    let (status, _, stderr) = d.sigterm_and_wait();
    assert_eq!(status.code(), Some(0));
    assert!(!stderr.contains(&pw), "shown a second time: {stderr}");
}

fn run_with_config(toml: &str, extra: &[&str]) -> (Option<i32>, String) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = dir.path().join("dais.toml");
    std::fs::write(&cfg, toml).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_daisd"))
        .env_clear()
        .arg("--config")
        .arg(&cfg)
        .arg("--data")
        .arg(dir.path().join("data"))
        .args(extra)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    (
        out.status.code(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn bad_configuration_exits_2_naming_the_key() {
    for (toml, flags, key) in [
        ("htpp = \"127.0.0.1:8080\"\n", &[][..], "htpp"),
        ("rtp_ports = \"20001-20999\"\n", &[], "rtp_ports"),
        ("rtp_ports = \"30000-20000\"\n", &[], "rtp_ports"),
        ("http = \"not-an-address\"\n", &[], "http"),
        ("sip = \"0.0.0.0:5060\"\n", &[], "public_ip"),
        ("log_format = \"xml\"\n", &[], "log_format"),
        ("", &["--rtp-ports", "7-9"], "--rtp-ports"),
        ("", &["--http", "127.0.0.1"], "--http"),
        ("this is not toml", &[], "dais.toml"),
    ] {
        let (code, stderr) = run_with_config(toml, flags);
        assert_eq!(code, Some(2), "{toml:?} {flags:?}: {stderr}");
        assert!(
            stderr.contains(key),
            "{toml:?} {flags:?}: stderr lacks {key}: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let (code, stderr) = run_with_config("", &["--no-such-flag"]);
    assert_eq!(code, Some(2), "{stderr}");
}

#[test]
fn a_missing_config_file_is_refused() {
    let out = Command::new(env!("CARGO_BIN_EXE_daisd"))
        .env_clear()
        .args(["--config", "/nonexistent/dais.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("/nonexistent/dais.toml"));
}

#[test]
fn help_and_version_exit_0_and_a_short_admin_password_exits_2() {
    for flag in ["--help", "--version"] {
        let out = Command::new(env!("CARGO_BIN_EXE_daisd"))
            .env_clear()
            .arg(flag)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{flag}");
        assert!(!out.stdout.is_empty(), "{flag}");
    }
    let dir = tempfile::tempdir().unwrap();
    let out = command(dir.path())
        .env("DAIS_ADMIN_PASSWORD", "short")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("DAIS_ADMIN_PASSWORD"));
}
