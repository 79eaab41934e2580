//! Helpers for the operator-surface tests: the real `daisd` binary on ephemeral loopback ports,
//! accounts of every role, and a WebSocket client for the meeting event stream.
//!
//! With `DAIS_TEST_POSTGRES_URL` set (`scripts/test.sh` sets it for these tests' second run,
//! from `scripts/postgres-test-server.sh`), every daisd here stores in a fresh PostgreSQL
//! database of its own instead of the SQLite file in its data directory, so the same tests run
//! against both stores.

#![allow(dead_code)]

use std::io::{BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

#[path = "../common/mod.rs"]
pub mod http;

pub use http::{Resp, http, login};

pub const ADMIN_PW: &str = "test admin password";
/// Passwords of the accounts the tests create.
pub const PW: &str = "operator password";

/// A hang guard for waits on the server, never a timing assertion.
pub const GUARD: Duration = Duration::from_secs(60);

static NEXT_DB: AtomicU32 = AtomicU32::new(0);

/// Where the store of a daisd on `data` is, for a test that opens it itself: the data
/// directory (its SQLite file), or that test's PostgreSQL database.
pub fn store_of(data: &Path) -> PathBuf {
    data.parent()
        .and_then(|dir| std::fs::read_to_string(dir.join("postgres-url")).ok())
        .map_or_else(|| data.to_owned(), PathBuf::from)
}

/// With `DAIS_TEST_POSTGRES_URL`: the URL of this test directory's own PostgreSQL database,
/// created on first use and found again (through a marker file in `dir`) when the test
/// restarts daisd on the same data.
fn postgres_store(dir: &Path) -> Option<String> {
    let admin = std::env::var("DAIS_TEST_POSTGRES_URL").ok()?;
    let marker = dir.join("postgres-url");
    if let Ok(url) = std::fs::read_to_string(&marker) {
        return Some(url);
    }
    // Unique across the test binaries running at once (pid) and the tests in one (counter).
    let name = format!(
        "dais_api_{}_{}",
        std::process::id(),
        NEXT_DB.fetch_add(1, Ordering::Relaxed)
    );
    let status = Command::new("psql")
        .args([admin.as_str(), "-v", "ON_ERROR_STOP=1", "-qc"])
        .arg(format!("CREATE DATABASE {name}"))
        .stdout(Stdio::null())
        .status()
        .expect("psql (Debian's postgresql-client) to create a test database");
    assert!(status.success(), "CREATE DATABASE {name} failed");
    let (base, _) = admin.rsplit_once('/').expect("URL with a database name");
    let url = format!("{base}/{name}");
    std::fs::write(&marker, &url).unwrap();
    Some(url)
}

pub struct Daisd {
    child: Child,
    pub addr: SocketAddr,
    pub data: PathBuf,
    _dir: tempfile::TempDir,
}

impl Daisd {
    /// Starts `daisd` (with the demo meeting 8000 when `demo`) and waits for its HTTP address.
    pub fn start(demo: bool) -> Daisd {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        let extra: &[&str] = if demo { &["--demo"] } else { &[] };
        Daisd::start_with(dir, data, extra)
    }

    /// Starts `daisd` on `data` (which may hold an earlier run's store) with extra arguments;
    /// `dir` is kept alive as long as the server.
    pub fn start_with(dir: tempfile::TempDir, data: PathBuf, extra: &[&str]) -> Daisd {
        let demo = extra.contains(&"--demo");
        let store = postgres_store(dir.path());
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_daisd"));
        cmd.env_clear()
            .env("RUST_LOG", "info")
            .env("DAIS_ADMIN_PASSWORD", ADMIN_PW)
            .arg("--data")
            .arg(&data)
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
            .stderr(Stdio::null());
        cmd.args(extra);
        if let Some(url) = &store {
            cmd.arg("--store").arg(url);
        }
        let mut child = cmd.spawn().expect("spawn daisd");
        let out = child.stdout.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && v["message"] == "http listening"
                    && let Some(a) = v["addr"].as_str()
                {
                    let _ = tx.send(a.parse::<SocketAddr>().unwrap());
                }
            }
        });
        let addr = rx
            .recv_timeout(Duration::from_secs(120))
            .unwrap_or_else(|_| {
                let _ = child.kill();
                panic!("daisd did not start")
            });
        let d = Daisd {
            child,
            addr,
            data,
            _dir: dir,
        };
        if demo {
            // The demo is live before serving starts; wait until every simulated venue has
            // answered (they connect asynchronously).
            let token = login(addr, "admin", ADMIN_PW);
            d.wait_until(&token, "8000", |m| m["venues_connected"] == 6);
        }
        d
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    pub fn get(&self, path: &str, token: Option<&str>) -> Resp {
        http(self.addr, "GET", path, token, None)
    }

    pub fn post(&self, path: &str, token: Option<&str>, body: &Value) -> Resp {
        http(self.addr, "POST", path, token, Some(&body.to_string()))
    }

    pub fn command(&self, token: &str, number: &str, body: Value) -> Resp {
        self.post(
            &format!("/api/v1/meetings/{number}/commands"),
            Some(token),
            &body,
        )
    }

    pub fn meeting(&self, token: &str, number: &str) -> Value {
        let r = self.get(&format!("/api/v1/meetings/{number}"), Some(token));
        assert_eq!(r.status, 200, "{}", r.body);
        r.json()
    }

    /// Polls the meeting until `pred` holds (a hang guard bounds it).
    pub fn wait_until(&self, token: &str, number: &str, pred: impl Fn(&Value) -> bool) -> Value {
        let start = Instant::now();
        loop {
            let m = self.meeting(token, number);
            if pred(&m) {
                return m;
            }
            assert!(
                start.elapsed() < GUARD,
                "condition never held; last state: {m}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Creates an account with `role` (as admin) and logs it in.
    pub fn account(&self, admin: &str, username: &str, role: Value) -> String {
        let r = self.post(
            "/api/v1/operators",
            Some(admin),
            &json!({"username": username, "password": PW, "role": role}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
        login(self.addr, username, PW)
    }

    pub fn add_venue(&self, admin: &str, body: Value) {
        let mut body = body;
        body["sip_password"] = json!("venue secret");
        let r = self.post("/api/v1/venues", Some(admin), &body);
        assert_eq!(r.status, 201, "{}", r.body);
    }

    /// SIGTERM, wait for exit 0; returns the data directory (kept alive by the returned guard).
    pub fn stop(mut self) -> (PathBuf, tempfile::TempDir) {
        let pid = self.child.id().to_string();
        assert!(
            Command::new("kill")
                .args(["-TERM", &pid])
                .status()
                .unwrap()
                .success()
        );
        let status = self.child.wait().unwrap();
        assert!(status.success(), "daisd exit {status:?}");
        let dir = tempfile::tempdir().unwrap();
        let keep = std::mem::replace(&mut self._dir, dir);
        (self.data.clone(), keep)
    }
}

impl Daisd {
    /// SIGKILL (a crash: no shutdown sequence); returns the data directory and its guard.
    pub fn kill(mut self) -> (PathBuf, tempfile::TempDir) {
        self.child.kill().unwrap();
        let _ = self.child.wait();
        let dir = tempfile::tempdir().unwrap();
        let keep = std::mem::replace(&mut self._dir, dir);
        (self.data.clone(), keep)
    }

    pub fn put(&self, path: &str, token: Option<&str>, body: &Value) -> Resp {
        http(self.addr, "PUT", path, token, Some(&body.to_string()))
    }
}

impl Drop for Daisd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub type Ws = tungstenite::WebSocket<TcpStream>;

/// Opens `GET /api/v1/meetings/{number}/events` as a WebSocket. Err carries the HTTP status
/// of a refused upgrade.
pub fn events(addr: SocketAddr, token: Option<&str>, number: &str) -> Result<Ws, u16> {
    use tungstenite::client::IntoClientRequest;
    let mut req = format!("ws://{addr}/api/v1/meetings/{number}/events")
        .into_client_request()
        .unwrap();
    if let Some(t) = token {
        req.headers_mut()
            .insert("Authorization", format!("Bearer {t}").parse().unwrap());
    }
    let stream = TcpStream::connect(addr).unwrap();
    stream.set_read_timeout(Some(GUARD)).unwrap();
    match tungstenite::client(req, stream) {
        Ok((ws, _)) => Ok(ws),
        Err(tungstenite::HandshakeError::Failure(tungstenite::Error::Http(resp))) => {
            Err(resp.status().as_u16())
        }
        Err(e) => panic!("websocket handshake: {e}"),
    }
}

/// Reads events until one satisfies `pred`; returns it and every event read before it.
pub fn next_event(ws: &mut Ws, pred: impl Fn(&Value) -> bool) -> (Value, Vec<Value>) {
    let start = Instant::now();
    let mut seen = Vec::new();
    loop {
        assert!(start.elapsed() < GUARD, "event never came; saw {seen:?}");
        let msg = ws.read().expect("event stream ended");
        let tungstenite::Message::Text(text) = msg else {
            continue;
        };
        let v: Value = serde_json::from_str(text.as_str()).unwrap();
        if pred(&v) {
            return (v, seen);
        }
        seen.push(v);
    }
}

/// `switch_completed` of `feed` to `venue`.
pub fn switched(feed: &'static str, venue: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["type"] == "switch_completed" && v["feed"] == feed && v["venue"] == venue
}

/// The legs of a meeting detail's live snapshot, by venue.
pub fn leg<'a>(m: &'a Value, venue: &str) -> &'a Value {
    m["extra"]["live"]["conference"]["legs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["venue"] == venue)
        .unwrap_or_else(|| panic!("no leg {venue} in {m}"))
}

pub fn conference(m: &Value) -> &Value {
    &m["extra"]["live"]["conference"]
}

/// Drains what is readable now without blocking long (for a fresh start between steps).
pub fn drain(ws: &mut Ws) {
    let s = ws.get_mut();
    s.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    while ws.read().is_ok() {}
    ws.get_mut().set_read_timeout(Some(GUARD)).unwrap();
}

/// Reads a whole body (used by helpers that need raw output).
pub fn read_all(mut r: impl Read) -> String {
    let mut s = String::new();
    let _ = r.read_to_string(&mut s);
    s
}
