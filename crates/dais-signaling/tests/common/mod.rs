//! Test kit: an in-memory directory, meetings started with dais-net directly, and a sipp runner.
#![allow(dead_code)]

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dais_conference::{
    Actor, ChairCommand, ConferenceConfig, MeetingPlan, RedialPolicy, Role, Venue, VenueId,
    VenueKind,
};
use dais_media::EngineConfig;
use dais_net::media_task;
use dais_net::meeting::{self, Dialer, MeetingHandle};
use dais_signaling::{BoxFuture, Directory, ServiceConfig, SipService, VenueCredentials};
use dais_sip::digest::{DigestAlgorithm, ha1};
use tokio::sync::mpsc;

pub const REALM: &str = "dais";
pub const LOOPBACK: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Venues, passwords, contacts and meetings, in memory.
#[derive(Default)]
pub struct TestDir {
    pub creds: Mutex<HashMap<String, VenueCredentials>>,
    pub meetings: Mutex<HashMap<String, MeetingHandle>>,
    pub contacts: Mutex<HashMap<VenueId, String>>,
}

impl TestDir {
    pub fn add_venue(&self, user: &str, password: &str) {
        let c = VenueCredentials {
            venue: user.parse().unwrap(),
            realm: REALM.into(),
            ha1_md5: ha1(DigestAlgorithm::Md5, user, REALM, password),
            ha1_sha256: ha1(DigestAlgorithm::Sha256, user, REALM, password),
        };
        self.creds.lock().unwrap().insert(user.into(), c);
    }
}

impl Directory for TestDir {
    fn credentials(&self, sip_user: &str) -> BoxFuture<'_, Option<VenueCredentials>> {
        let c = self.creds.lock().unwrap().get(sip_user).cloned();
        Box::pin(async move { c })
    }
    fn meeting(&self, number: &str) -> Option<MeetingHandle> {
        self.meetings.lock().unwrap().get(number).cloned()
    }
    fn contact_uri(&self, venue: &VenueId) -> BoxFuture<'_, Option<String>> {
        let c = self.contacts.lock().unwrap().get(venue).cloned();
        Box::pin(async move { c })
    }
    fn venue_credentials(
        &self,
        venue: &VenueId,
    ) -> BoxFuture<'_, Option<(String, VenueCredentials)>> {
        // Test venues' SIP users are their ids.
        let c = self
            .creds
            .lock()
            .unwrap()
            .iter()
            .find(|(_, c)| c.venue == *venue)
            .map(|(u, c)| (u.clone(), c.clone()));
        Box::pin(async move { c })
    }
}

pub fn service_config() -> ServiceConfig {
    ServiceConfig {
        bind: SocketAddr::new(LOOPBACK, 0),
        realm: REALM.into(),
        // sipp 3.6 answers only MD5 and takes the first challenge; SHA-256 stays offered.
        digest_algorithms: vec![DigestAlgorithm::Md5, DigestAlgorithm::Sha256],
        seed: Some(7),
        nonce_secret: Some(b"test secret".to_vec()),
        // sipp runs every call from one address.
        rate_per_source: 100_000.0,
        burst_per_source: 100_000.0,
        max_inflight_per_source: 10_000,
        shutdown_grace: Duration::from_secs(2),
        ..ServiceConfig::default()
    }
}

pub async fn start_service(dir: &Arc<TestDir>) -> SipService {
    start_service_with(dir, service_config()).await
}

pub async fn start_service_with(dir: &Arc<TestDir>, cfg: ServiceConfig) -> SipService {
    let d: Arc<dyn Directory> = dir.clone();
    SipService::start(cfg, d).await.expect("SIP service starts")
}

/// Starts meeting `number` (main venue `main`, then `others`) live, registered in `dir`.
pub async fn start_meeting(
    dir: &TestDir,
    number: &str,
    main: &str,
    others: &[String],
    dialer: Arc<dyn Dialer>,
    redial: RedialPolicy,
) -> MeetingHandle {
    let main_id: VenueId = main.parse().unwrap();
    let mut venues = vec![Venue {
        id: main_id.clone(),
        name: main.into(),
        kind: VenueKind::Main,
        parent: None,
    }];
    for o in others {
        venues.push(Venue {
            id: o.parse().unwrap(),
            name: o.clone(),
            kind: VenueKind::Branch,
            parent: Some(main_id.clone()),
        });
    }
    let plan = MeetingPlan {
        number: number.into(),
        subject: "test".into(),
        main_venue: main_id,
        roll_call_order: venues.iter().skip(1).map(|v| v.id.clone()).collect(),
        venues,
        chair: "chair".into(),
        duration: None,
    };
    let (rtp, rtcp) = (20_000u16..40_000)
        .step_by(2)
        .find_map(|p| {
            media_task::bind_pair(LOOPBACK, p + (std::process::id() as u16 % 1000) * 2).ok()
        })
        .expect("a free RTP port pair");
    let (ev_tx, ev_rx) = mpsc::channel(1024);
    let media = media_task::spawn(rtp, rtcp, EngineConfig::default(), ev_tx).unwrap();
    let config = ConferenceConfig {
        redial,
        ..ConferenceConfig::default()
    };
    let h = meeting::start(plan, config, media, ev_rx, dialer)
        .await
        .unwrap();
    dir.meetings
        .lock()
        .unwrap()
        .insert(number.into(), h.clone());
    h.command(Actor::new("admin", Role::ItCentre), ChairCommand::GoLive)
        .await
        .unwrap();
    h
}

pub fn free_port() -> u16 {
    let s = std::net::UdpSocket::bind((LOOPBACK, 0)).unwrap();
    let t = std::net::TcpListener::bind((LOOPBACK, s.local_addr().unwrap().port()));
    let p = s.local_addr().unwrap().port();
    drop(t);
    p
}

pub fn scenario(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/scenarios")
        .join(name)
}

/// A working folder for sipp: `pcap/` points at the test data, users in `users.csv`.
pub fn sipp_dir(users: &[(String, String)]) -> tempfile::TempDir {
    let d = tempfile::tempdir().unwrap();
    std::os::unix::fs::symlink(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data"),
        d.path().join("pcap"),
    )
    .unwrap();
    let mut csv = String::from("SEQUENTIAL\n");
    for (u, p) in users {
        csv.push_str(&format!("{u};[authentication username={u} password={p}]\n"));
    }
    std::fs::write(d.path().join("users.csv"), csv).unwrap();
    d
}

pub struct SippRun {
    pub status: std::process::ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub stat: String,
}

/// Runs sipp to completion (bounded by its own `-timeout`) off the runtime's threads.
pub async fn sipp(dir: &Path, args: Vec<String>) -> SippRun {
    let dir = dir.to_path_buf();
    tokio::task::spawn_blocking(move || {
        let mut full = vec![
            "-nostdin".to_string(),
            "-timeout".into(),
            "30s".into(),
            "-timeout_error".into(),
            "-trace_stat".into(),
            "-stf".into(),
            "stat.csv".into(),
            "-i".into(),
            "127.0.0.1".into(),
        ];
        full.extend(args);
        let out = std::process::Command::new("sipp")
            .args(&full)
            .current_dir(&dir)
            .output()
            .expect("sipp runs (scripts/setup-test-deps.sh installs it)");
        SippRun {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
            stat: std::fs::read_to_string(dir.join("stat.csv")).unwrap_or_default(),
        }
    })
    .await
    .unwrap()
}

/// The value of a column of sipp's last statistics row.
pub fn stat(run: &SippRun, column: &str) -> Option<u64> {
    let mut lines = run.stat.lines();
    let header: Vec<&str> = lines.next()?.split(';').collect();
    let last: Vec<&str> = lines.rfind(|l| !l.trim().is_empty())?.split(';').collect();
    let i = header.iter().position(|h| *h == column)?;
    last.get(i)?.trim().parse().ok()
}

/// Bytes waiting and datagrams dropped at a local UDP port (`/proc/net/udp`): a witness that
/// packets reached a socket its owner does not read.
pub fn udp_port_backlog(port: u16) -> Option<(u64, u64)> {
    let text = std::fs::read_to_string("/proc/net/udp").ok()?;
    for line in text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        let local = f.get(1)?;
        let p = u16::from_str_radix(local.rsplit(':').next()?, 16).ok()?;
        if p == port {
            let rx = u64::from_str_radix(f.get(4)?.split(':').nth(1)?, 16).ok()?;
            let drops = f.last()?.parse().ok()?;
            return Some((rx, drops));
        }
    }
    None
}

pub fn init_tracing() {
    let _ = tracing_subscriber::fmt()
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| "warn".into()),
        )
        .with_test_writer()
        .try_init();
}

/// A meeting of `n` dial-in venues named `{prefix}{i:0width$}` (password `pw{i}`) behind a
/// running service, with the sipp folder holding their credentials (`users.csv`).
pub struct DialInMeeting {
    /// The directory the service authenticates against.
    pub dir: Arc<TestDir>,
    /// The SIP service.
    pub svc: SipService,
    /// The meeting.
    pub meeting: MeetingHandle,
    /// sipp's working folder (`users.csv` for `-inf`).
    pub sipp_dir: tempfile::TempDir,
}

pub async fn dial_in_meeting(number: &str, prefix: &str, width: usize, n: usize) -> DialInMeeting {
    let dir = Arc::new(TestDir::default());
    let users: Vec<(String, String)> = (0..n)
        .map(|i| (format!("{prefix}{i:0width$}"), format!("pw{i}")))
        .collect();
    for (u, p) in &users {
        dir.add_venue(u, p);
    }
    let svc = start_service(&dir).await;
    let names: Vec<String> = users.iter().map(|(u, _)| u.clone()).collect();
    let meeting = start_meeting(
        &dir,
        number,
        "hq",
        &names,
        svc.dialer(),
        RedialPolicy::default(),
    )
    .await;
    DialInMeeting {
        sipp_dir: sipp_dir(&users),
        dir,
        svc,
        meeting,
    }
}

/// A meeting `number` with the main venue `province` and one branch `jinan`, whose SIP
/// password is `pw-jinan`, behind a running SIP service: the set-up of the one-venue sipp
/// tests.
pub async fn jinan_meeting(number: &str) -> (Arc<TestDir>, SipService, MeetingHandle) {
    init_tracing();
    let dir = Arc::new(TestDir::default());
    dir.add_venue("jinan", "pw-jinan");
    let svc = start_service(&dir).await;
    let h = start_meeting(
        &dir,
        number,
        "province",
        &["jinan".into()],
        svc.dialer(),
        dais_conference::RedialPolicy::default(),
    )
    .await;
    (dir, svc, h)
}

/// sipp's arguments for one call of `scenario` to `number` at `target` as the users of
/// `users.csv`, from free signalling and media ports; `extra` goes before the target.
pub fn uac_args(
    scenario_name: &str,
    number: &str,
    target: SocketAddr,
    extra: &[String],
) -> Vec<String> {
    let mut args: Vec<String> = vec![
        "-sf".into(),
        scenario(scenario_name).display().to_string(),
        "-inf".into(),
        "users.csv".into(),
        "-s".into(),
        number.into(),
        "-m".into(),
        "1".into(),
        "-mp".into(),
        free_port().to_string(),
        "-p".into(),
        free_port().to_string(),
    ];
    args.extend_from_slice(extra);
    args.push(target.to_string());
    args
}
