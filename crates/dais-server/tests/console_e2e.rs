//! The web console end to end: the real `daisd --demo` (six simulated venues sending RTP),
//! Debian's headless Chromium driven by Playwright (`tests/e2e/console.mjs`). The script logs
//! in, checks the wall's hierarchy and live states, broadcasts (by click and by key), views,
//! roll-calls, mutes, polls, toggles voice activation and the lock, checks that an auditor's
//! commands are refused, and ends the meeting behind its confirmation until every leg is down.
//! It saves screenshots into a scratch folder, or into `docs/screenshots/` (the ones the docs
//! show) when `DAIS_UPDATE_SCREENSHOTS=1`: a test run leaves the working tree as it found it.
//!
//! A second test does the same for a meeting of real SIP venues: `sipp` UAS processes that
//! `daisd` dials out to (`tests/e2e/sip.mjs`).
//!
//! Needs `chromium`, `sipp` and `npm ci` in `tests/e2e` (all by `scripts/setup-test-deps.sh`).

mod api_common;

use std::net::UdpSocket;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

use api_common::{ADMIN_PW, Daisd, PW, login};
use serde_json::json;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The e2e folder and the browser, or a panic saying how to install them.
fn prerequisites() -> (PathBuf, String) {
    let e2e = repo().join("tests/e2e");
    assert!(
        e2e.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed in tests/e2e: run scripts/setup-test-deps.sh"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: run scripts/setup-test-deps.sh"
    );
    (e2e, chromium)
}

/// Runs a node script in `tests/e2e`; returns its summary line (`{"ok":true,...}`).
fn run_script(e2e: &PathBuf, script: &str, envs: &[(&str, String)]) -> serde_json::Value {
    let out = Command::new("node")
        .arg(script)
        .current_dir(e2e)
        .envs(envs.iter().map(|(k, v)| (*k, v.as_str())))
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "{script} failed ({:?})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    let summary: serde_json::Value = serde_json::from_str(
        stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .expect("a summary line"),
    )
    .unwrap();
    assert_eq!(summary["ok"], true, "{summary}");
    // The figures the browser measured (switch latencies), for `--nocapture` readers.
    #[allow(clippy::print_stdout)]
    {
        println!("{script}: {summary}");
    }
    summary
}

#[test]
fn the_console_runs_a_meeting_in_headless_chromium() {
    let (e2e, chromium) = prerequisites();

    let d = Daisd::start(true);
    let admin = login(d.addr, "admin", ADMIN_PW);
    d.account(&admin, "auditor1", json!({"kind": "auditor"}));
    d.account(&admin, "chair2", json!({"kind": "chair_operator"}));
    d.account(
        &admin,
        "jinan-a",
        json!({"kind": "site_admin", "site": "jinan"}),
    );
    d.account(
        &admin,
        "weihai-a",
        json!({"kind": "site_admin", "site": "weihai"}),
    );

    let shots = screenshot_dir();
    let summary = run_script(
        &e2e,
        "console.mjs",
        &[
            ("DAIS_URL", d.url()),
            ("DAIS_ADMIN_PW", ADMIN_PW.into()),
            ("DAIS_AUDITOR", "auditor1".into()),
            ("DAIS_AUDITOR_PW", PW.into()),
            ("DAIS_OUTSIDER", "weihai-a".into()),
            ("DAIS_OTHER_CHAIR", "chair2".into()),
            ("DAIS_SITE_ADMIN", "jinan-a".into()),
            ("SCREENSHOT_DIR", shots.display().to_string()),
            ("CHROMIUM", chromium),
        ],
    );
    // The console showed a measured switch latency for each broadcast it sent.
    for k in ["broadcast_jinan_ms", "broadcast_qingdao_key_ms"] {
        assert!(
            summary[k].as_f64().is_some_and(|v| v > 0.0),
            "{k}: {summary}"
        );
    }
    for name in [
        "login-zh",
        "meetings",
        "wall",
        "broadcast",
        "muted",
        "polling",
        "wall-zh",
        "refused",
        "confirm-end",
        "ended",
        "record",
    ] {
        assert!(shots.join(format!("{name}.png")).is_file(), "{name}.png");
    }

    // The record timeline the browser read had the meeting's events.
    assert!(
        summary["record_entries"].as_u64().is_some_and(|n| n >= 10),
        "{summary}"
    );
    // The server agrees with what the browser saw: the meeting ended, every leg is down.
    let m = d.meeting(&admin, "8000");
    assert_eq!(m["state"], "ended", "{m}");
    assert_eq!(m["venues_connected"], 0, "{m}");
}

/// What the operations test needs that the API cannot make now, written into the store before
/// `daisd` opens it: a venue created 40 days ago, so its monthly equipment check is overdue (a
/// venue made through the API now is not due for a month, and the server has no clock to
/// wind); and one indexed recording of meeting 7001 backed by a real file (a recording is
/// otherwise made only by a live meeting with real video, which `api_recordings.rs` tests),
/// so the browser can request, approve and download a release. Returns the file's size.
fn prepared_store(data: &std::path::Path) -> u64 {
    let file = data.join("meeting-7001.mkv");
    let body: Vec<u8> = (0..65_536u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&file, &body).unwrap();
    let backup = data.join("meeting-7001.backup.mkv");
    std::fs::write(&backup, &body).unwrap();
    let out = Command::new("sha256sum")
        .arg(&file)
        .output()
        .expect("sha256sum runs");
    let sha = String::from_utf8(out.stdout).unwrap()[..64].to_owned();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = dais_store::Store::open(data).await.expect("store opens");
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64;
        store
            .create_venue(
                "test",
                &dais_store::NewVenue {
                    name: "weihai",
                    kind: dais_store::VenueKind::Branch,
                    parent: None,
                    site: "weihai",
                    sip_user: "weihai",
                    realm: "dais",
                    sip_password: "venue secret",
                    contact_uri: None,
                },
                now - 40 * 86_400,
            )
            .await
            .expect("venue created");
        store
            .add_recording(
                &dais_store::NewRecording {
                    meeting: "7001",
                    started_at: now - 7200,
                    ended_at: now - 3600,
                    size: body.len() as u64,
                    sha256: &sha,
                    path: file.to_str().unwrap(),
                    backup_path: backup.to_str().unwrap(),
                },
                now - 3600,
            )
            .await
            .expect("recording indexed");
        store.close().await;
    });
    body.len() as u64
}

#[test]
fn the_console_files_a_booking_and_runs_the_operations_screens() {
    let (e2e, chromium) = prerequisites();
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    let recording_size = prepared_store(&data);
    let d = Daisd::start_with(dir, data, &[]);
    let admin = login(d.addr, "admin", ADMIN_PW);
    d.add_venue(&admin, json!({"name": "province", "kind": "main"}));
    d.add_venue(
        &admin,
        json!({"name": "jinan", "kind": "city", "parent": "province"}),
    );
    // The applicant, the three approvers, an auditor, and the two administrators of one site.
    d.account(&admin, "chair1", json!({"kind": "chair_operator"}));
    for (user, stage) in [
        ("head1", "unit_head"),
        ("itc1", "it_centre"),
        ("leader1", "department_leader"),
    ] {
        d.account(&admin, user, json!({"kind": "approver", "stage": stage}));
    }
    d.account(&admin, "auditor1", json!({"kind": "auditor"}));
    for user in ["jinan-a", "jinan-b"] {
        d.account(&admin, user, json!({"kind": "site_admin", "site": "jinan"}));
    }
    // Site jinan with slot A held and slot B vacant: the browser fills B.
    let r = d.post("/api/v1/sites", Some(&admin), &json!({"name": "jinan"}));
    assert_eq!(r.status, 201, "{}", r.body);
    let r = d.put(
        "/api/v1/sites/jinan/slots/a",
        Some(&admin),
        &json!({"operator": "jinan-a", "reason": "appointment"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);

    let shots = screenshot_dir();
    let summary = run_script(
        &e2e,
        "operations.mjs",
        &[
            ("DAIS_URL", d.url()),
            ("DAIS_ADMIN_PW", ADMIN_PW.into()),
            ("DAIS_PW", PW.into()),
            ("DAIS_RECORDING_SIZE", recording_size.to_string()),
            ("SCREENSHOT_DIR", shots.display().to_string()),
            ("CHROMIUM", chromium),
        ],
    );
    for name in [
        "bookings",
        "inbox",
        "booking-approved",
        "sites",
        "equipment",
        "recordings",
    ] {
        assert!(shots.join(format!("{name}.png")).is_file(), "{name}.png");
    }

    // The server agrees with what the browser saw.
    let number = summary["meeting"].as_str().expect("a meeting number");
    let m = d.meeting(&admin, number);
    assert_eq!(m["state"], "scheduled", "{m}");
    let b = d.get(
        &format!("/api/v1/bookings/{}", summary["booking"]),
        Some(&admin),
    );
    assert_eq!(b.json()["status"], "approved", "{}", b.body);
    assert_eq!(
        b.json()["opinions"].as_array().unwrap().len(),
        3,
        "{}",
        b.body
    );
    let sites = d.get("/api/v1/sites", Some(&admin)).json();
    assert_eq!(sites[0]["b"]["operator"], "jinan-b", "{sites}");
    assert_eq!(sites[0]["vacant"], false, "{sites}");
    let due = d.get("/api/v1/equipment/due", Some(&admin)).json();
    assert_eq!(due, json!([]), "the check recorded in the browser: {due}");
    let rec = d.get("/api/v1/recordings/1", Some(&admin)).json();
    assert_eq!(rec["releases"][0]["state"], "approved", "{rec}");
    assert_eq!(rec["releases"][0]["requested_by"], "auditor1", "{rec}");
    let faults = d.get("/api/v1/equipment/faults", Some(&admin)).json();
    assert_eq!(faults[0]["status"], "in_repair", "{faults}");
}

/// A free UDP port on loopback (for a sipp UAS; a race with another process is harmless here:
/// sipp would fail to bind and the test would say so).
fn free_udp_port() -> u16 {
    UdpSocket::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A sipp UAS answering one call on `port` and sending G.711 until the BYE
/// (`tests/e2e/uas_pcap.xml`), in `dir`.
fn sipp_uas(dir: &std::path::Path, port: u16) -> Child {
    // sipp finds the capture relative to its working folder.
    std::os::unix::fs::symlink("/usr/share/sip-tester", dir.join("pcap")).unwrap();
    Command::new("sipp")
        .arg("-sf")
        .arg(repo().join("tests/e2e/uas_pcap.xml"))
        .args(["-nostdin", "-m", "1"])
        .args(["-timeout", "90s", "-timeout_error"])
        .args(["-i", "127.0.0.1", "-p", &port.to_string()])
        .args(["-mp", &free_udp_port().to_string()])
        .args(["-trace_stat", "-stf", "stat.csv"])
        .current_dir(dir)
        .stdin(Stdio::null())
        // To files: sipp redraws its screen every second, which would fill a pipe.
        .stdout(std::fs::File::create(dir.join("stdout.txt")).unwrap())
        .stderr(std::fs::File::create(dir.join("stderr.txt")).unwrap())
        .spawn()
        .expect("sipp runs (scripts/setup-test-deps.sh installs it)")
}

#[test]
fn the_console_runs_a_meeting_of_sip_venues_dialled_out_to_sipp() {
    let (e2e, chromium) = prerequisites();
    let d = Daisd::start(false);
    let admin = login(d.addr, "admin", ADMIN_PW);
    // The hierarchy: a province main venue, a city under it, a county under the city.
    let venues = [
        ("hq", json!({"kind": "main"})),
        ("weifang", json!({"kind": "city", "parent": "hq"})),
        ("shouguang", json!({"kind": "branch", "parent": "weifang"})),
    ];
    let mut uas = Vec::new();
    for (name, mut body) in venues.clone() {
        let dir = tempfile::tempdir().unwrap();
        let port = free_udp_port();
        uas.push((name, sipp_uas(dir.path(), port), dir));
        body["name"] = json!(name);
        body["contact_uri"] = json!(format!("sip:{name}@127.0.0.1:{port}"));
        d.add_venue(&admin, body);
    }
    let r = d.post(
        "/api/v1/meetings",
        Some(&admin),
        &json!({"number": "8100", "subject": "SIP venues", "main_venue": "hq",
                "venues": ["weifang", "shouguang"]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // The console starts it (joint test), daisd dials the venues out.

    run_script(
        &e2e,
        "sip.mjs",
        &[
            ("DAIS_URL", d.url()),
            ("DAIS_ADMIN_PW", ADMIN_PW.into()),
            ("DAIS_MEETING", "8100".into()),
            ("DAIS_VENUES", "hq,weifang,shouguang".into()),
            ("DAIS_BROADCAST", "weifang".into()),
            ("SCREENSHOT_DIR", screenshot_dir().display().to_string()),
            ("CHROMIUM", chromium),
        ],
    );
    // Every sipp answered its call and got its BYE when the console ended the meeting.
    for (name, mut child, dir) in uas {
        let status = child.wait().unwrap();
        let read = |f: &str| std::fs::read_to_string(dir.path().join(f)).unwrap_or_default();
        assert!(
            status.success(),
            "sipp UAS {name}: {status:?}\n{}\n{}\n{}",
            read("stderr.txt"),
            read("stat.csv"),
            read("stdout.txt")
        );
    }
}

/// Where the screenshots go: `docs/screenshots/` when asked to refresh them, else a folder
/// under the system's temp dir.
fn screenshot_dir() -> std::path::PathBuf {
    if std::env::var_os("DAIS_UPDATE_SCREENSHOTS").is_some_and(|v| v == "1") {
        repo().join("docs/screenshots")
    } else {
        let d = std::env::temp_dir().join("dais-console-screenshots");
        std::fs::create_dir_all(&d).expect("a scratch folder for screenshots");
        d
    }
}
