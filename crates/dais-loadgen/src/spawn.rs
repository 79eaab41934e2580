//! `--spawn`: a `daisd` of the harness's own on free loopback ports, stopped with SIGTERM.

use std::net::{SocketAddr, TcpListener, UdpSocket};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::api::Api;
use crate::error::LoadgenError;

/// A running `daisd` started by the harness. Dropping it stops the process.
#[derive(Debug)]
pub struct Spawned {
    child: Child,
    /// HTTP API address.
    pub http: SocketAddr,
    /// SIP address (UDP and TCP).
    pub sip: SocketAddr,
    /// The admin password set through `DAIS_ADMIN_PASSWORD`.
    pub password: String,
    _data: tempfile::TempDir,
}

/// A loopback port free for both TCP and UDP right now (the OS may hand it out again before
/// daisd binds it; start-up then fails and says so).
fn free_port() -> Result<u16, LoadgenError> {
    let io = |e| LoadgenError::Io {
        what: "finding a free loopback port".into(),
        source: e,
    };
    // A few tries: the UDP twin of a free TCP port is usually free too.
    for _ in 0..20 {
        let t = TcpListener::bind("127.0.0.1:0").map_err(io)?;
        let port = t.local_addr().map_err(io)?.port();
        if UdpSocket::bind(("127.0.0.1", port)).is_ok() {
            return Ok(port);
        }
    }
    Err(LoadgenError::Options("no free loopback port".into()))
}

impl Spawned {
    /// Starts `daisd` (with `config` as its `--config`, if given) and waits (at most 20 s)
    /// until `/healthz` answers.
    ///
    /// # Errors
    /// The binary cannot start, or it exits or stays silent.
    pub fn start(daisd: &Path, config: Option<&Path>) -> Result<Spawned, LoadgenError> {
        let io = |what: &str| {
            let what = what.to_owned();
            move |e| LoadgenError::Io { what, source: e }
        };
        let data = tempfile::tempdir().map_err(io("creating a data directory"))?;
        let http = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        let sip = SocketAddr::from(([127, 0, 0, 1], free_port()?));
        // RTP range: spread by pid so concurrent runs rarely probe the same pairs first.
        let lo = 30_000 + (std::process::id() % 300) as u16 * 100;
        let password = format!("lg-{:016x}-admin", std::process::id() as u64 * 0x9E37_79B9);
        let mut cmd = Command::new(daisd);
        if let Some(config) = config {
            cmd.arg("--config").arg(config);
        }
        let child = cmd
            .arg("--http")
            .arg(http.to_string())
            .arg("--sip")
            .arg(sip.to_string())
            .arg("--rtp-ports")
            .arg(format!("{lo}-{}", lo + 99))
            .arg("--data")
            .arg(data.path())
            .env("DAIS_ADMIN_PASSWORD", &password)
            .env(
                "RUST_LOG",
                std::env::var("DAISD_LOG").unwrap_or_else(|_| "warn".into()),
            )
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .spawn()
            .map_err(io(&format!("starting {}", daisd.display())))?;
        let mut me = Spawned {
            child,
            http,
            sip,
            password,
            _data: data,
        };
        let api = Api::new(http);
        let deadline = Instant::now() + Duration::from_secs(20);
        while Instant::now() < deadline {
            if let Ok(Some(status)) = me.child.try_wait() {
                return Err(LoadgenError::Server {
                    what: format!("daisd exited at start-up: {status}"),
                });
            }
            if api.healthy() {
                return Ok(me);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        me.stop();
        Err(LoadgenError::Server {
            what: "daisd did not answer /healthz within 20 s".into(),
        })
    }

    /// The process id (for `/proc`).
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, then (after 10 s) SIGKILL; returns the exit status when known.
    pub fn stop(&mut self) -> Option<std::process::ExitStatus> {
        if let Ok(Some(s)) = self.child.try_wait() {
            return Some(s);
        }
        // SAFETY: signalling our own child by its pid.
        unsafe { libc::kill(self.child.id() as libc::pid_t, libc::SIGTERM) };
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if let Ok(Some(s)) = self.child.try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        self.child.wait().ok()
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        self.stop();
    }
}
