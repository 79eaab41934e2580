//! Recording through `daisd` itself: the demo meeting is recorded while live, archived when it
//! ends (backup copy, both hashed, index row), listed only for the IT centre and auditors,
//! released only with the IT centre's approval (time-limited, for the requester), every refusal
//! 403 and audited; the verification names a corrupted backup. And a `daisd` killed with
//! SIGKILL mid-meeting leaves a recording that decodes without an error up to its last second.
//!
//! Needs `ffmpeg` on the PATH for the second test (scripts/setup-test-deps.sh).

mod api_common;

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use api_common::*;
use serde_json::json;

/// GET with the raw body bytes (the download is binary).
fn get_bytes(addr: SocketAddr, path: &str, token: &str) -> (u16, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(GUARD)).unwrap();
    write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_ascii_lowercase();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let mut body = raw[split + 4..].to_vec();
    if head.contains("transfer-encoding: chunked") {
        let mut out = Vec::new();
        let mut b = &body[..];
        loop {
            let eol = b.windows(2).position(|w| w == b"\r\n").unwrap();
            let size =
                usize::from_str_radix(std::str::from_utf8(&b[..eol]).unwrap().trim(), 16).unwrap();
            b = &b[eol + 2..];
            if size == 0 {
                break;
            }
            out.extend_from_slice(&b[..size]);
            b = &b[size + 2..];
        }
        body = out;
    }
    (status, body)
}

/// The one recording file in `<data>/recordings`, once it has grown past `min` bytes.
fn wait_for_file(data: &Path, min: u64) -> PathBuf {
    let dir = data.join("recordings");
    let start = Instant::now();
    loop {
        if let Some(f) = std::fs::read_dir(&dir)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.metadata().is_ok_and(|m| m.len() >= min))
        {
            return f;
        }
        assert!(
            start.elapsed() < GUARD,
            "no recording grew past {min} bytes"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn recording_is_archived_verified_and_released_only_with_approval() {
    let d = Daisd::start(true);
    let admin = login(d.addr, "admin", ADMIN_PW);
    let auditor = d.account(&admin, "zhao", json!({"kind": "auditor"}));
    let itc2 = d.account(&admin, "qian", json!({"kind": "it_centre"}));
    let chair = d.account(&admin, "li", json!({"kind": "chair_operator"}));

    // Some seconds of the live demo on disk, then the meeting ends and the file is archived.
    let file = wait_for_file(&d.data, 40_000);
    let r = d.command(&admin, "8000", json!({"command": "end_meeting"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let start = Instant::now();
    let rec = loop {
        let r = d.get("/api/v1/recordings", Some(&admin));
        assert_eq!(r.status, 200, "{}", r.body);
        if let Some(first) = r.json().as_array().and_then(|a| a.first().cloned()) {
            break first;
        }
        assert!(start.elapsed() < GUARD, "the recording was never archived");
        std::thread::sleep(Duration::from_millis(100));
    };
    let id = rec["id"].as_i64().unwrap();
    assert_eq!(rec["meeting"], "8000");
    assert_eq!(PathBuf::from(rec["path"].as_str().unwrap()), file);
    let backup = PathBuf::from(rec["backup_path"].as_str().unwrap());
    assert!(
        backup.starts_with(d.data.join("recordings-backup")),
        "{backup:?}"
    );
    let sha = dais_record::archive::sha256_file(&file).unwrap();
    assert_eq!(rec["sha256"], sha.as_str());
    assert_eq!(dais_record::archive::sha256_file(&backup).unwrap(), sha);
    assert_eq!(
        rec["size"].as_u64(),
        Some(std::fs::metadata(&file).unwrap().len())
    );

    // Who may see it.
    assert_eq!(d.get("/api/v1/recordings", Some(&auditor)).status, 200);
    assert_eq!(d.get("/api/v1/recordings", Some(&chair)).status, 403);
    assert_eq!(
        d.get(&format!("/api/v1/recordings/{id}"), Some(&chair))
            .status,
        403
    );
    assert_eq!(d.get("/api/v1/recordings", None).status, 401);

    // No release: no download, for anyone, the IT centre included.
    let dl = format!("/api/v1/recordings/{id}/download");
    assert_eq!(get_bytes(d.addr, &dl, &auditor).0, 403);
    assert_eq!(get_bytes(d.addr, &dl, &admin).0, 403);

    // Requested → the requester cannot decide, a non-IT-centre cannot decide → approved.
    let r = d.post(
        &format!("/api/v1/recordings/{id}/releases"),
        Some(&auditor),
        &json!({"reason": "inquiry 2026-17"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let release = r.json()["id"].as_i64().unwrap();
    assert_eq!(
        get_bytes(d.addr, &dl, &auditor).0,
        403,
        "requested is not approved"
    );
    let decision = format!("/api/v1/recordings/releases/{release}/decision");
    assert_eq!(
        d.post(&decision, Some(&auditor), &json!({"approve": true}))
            .status,
        403
    );
    assert_eq!(
        d.post(
            &decision,
            Some(&admin),
            &json!({"approve": true, "valid_hours": 0})
        )
        .status,
        400
    );
    let r = d.post(
        &decision,
        Some(&itc2),
        &json!({"approve": true, "valid_hours": 2}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["state"], "approved");
    assert_eq!(
        d.post(&decision, Some(&admin), &json!({"approve": false}))
            .status,
        409,
        "decided once"
    );
    let (status, body) = get_bytes(d.addr, &dl, &auditor);
    assert_eq!(status, 200);
    assert_eq!(body, std::fs::read(&file).unwrap(), "the archived bytes");
    assert_eq!(
        get_bytes(d.addr, &dl, &admin).0,
        403,
        "only for the requester"
    );
    let detail = d
        .get(&format!("/api/v1/recordings/{id}"), Some(&auditor))
        .json();
    assert_eq!(detail["releases"][0]["state"], "approved");

    // Verification: all intact, then a damaged backup is named.
    let v = d.post("/api/v1/recordings/verify", Some(&admin), &json!({}));
    assert_eq!(v.status, 200, "{}", v.body);
    assert_eq!(v.json()["ok"], true);
    let mut bytes = std::fs::read(&backup).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x55;
    std::fs::write(&backup, &bytes).unwrap();
    let v = d
        .post("/api/v1/recordings/verify", Some(&admin), &json!({}))
        .json();
    assert_eq!(v["ok"], false);
    assert_eq!(
        v["problems"],
        json!([{"id": id, "meeting": "8000", "primary": "intact", "backup": "mismatch"}])
    );
    assert_eq!(
        d.post("/api/v1/recordings/verify", Some(&auditor), &json!({}))
            .status,
        403
    );

    // The audit log has every refusal and the release's life.
    let (data, _keep) = d.stop();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = dais_store::Store::open(&api_common::store_of(&data)).await.unwrap();
        let log = store.recent_audit(200).await.unwrap();
        let has = |actor: &str, action: &str, refused: bool| {
            log.iter().any(|e| {
                e.actor == actor
                    && e.action == action
                    && matches!(e.result, dais_store::AuditResult::Refused(_)) == refused
            })
        };
        assert!(has("li", "recording.list", true));
        assert!(has("zhao", "recording.release.download", true));
        assert!(has("admin", "recording.release.download", true));
        assert!(has("zhao", "recording.release.request", false));
        assert!(has("zhao", "recording.release.decide", true));
        assert!(has("qian", "recording.release.approve", false));
        assert!(has("zhao", "recording.release.download", false));
        assert!(has("zhao", "recording.verify", true));
        assert!(has("system", "recording.archive", false));
        assert!(
            log.iter().any(|e| e.action == "recording.verify"
                && matches!(&e.result, dais_store::AuditResult::Failed(m) if m.contains("backup mismatch"))),
            "the damaged copy is named in the audit log"
        );
        store.verify_audit_chain().await.unwrap();
    });
}

#[test]
fn killed_daisd_leaves_a_playable_recording() {
    let d = Daisd::start(true);
    let file = wait_for_file(&d.data, 60_000);
    // SIGKILL: no shutdown, no finishing of the file. The helper keeps the data directory
    // alive; the process is found by its command line (its own data directory).
    let pid = daisd_pid(&d.data);
    assert!(
        Command::new("kill")
            .args(["-KILL", &pid.to_string()])
            .status()
            .unwrap()
            .success()
    );
    let start = Instant::now();
    while Path::new(&format!("/proc/{pid}/stat")).exists()
        && !std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|s| s.contains(") Z "))
    {
        assert!(start.elapsed() < GUARD, "daisd survived SIGKILL");
        std::thread::sleep(Duration::from_millis(20));
    }
    let size_at_kill = std::fs::metadata(&file).unwrap().len();
    let out = Command::new("ffmpeg")
        .args(["-hide_banner", "-nostdin", "-v", "error", "-i"])
        .arg(&file)
        .args(["-map", "0:a", "-f", "s16le", "-"])
        .output()
        .expect("ffmpeg must be installed: run scripts/setup-test-deps.sh");
    let errors = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success() && errors.trim().is_empty(),
        "decode errors: {errors}"
    );
    // The demo's video is synthetic (not decodable H.264), so the file holds the mix only:
    // nearly every byte written before the kill is audio that decodes.
    let decoded = out.stdout.len() as u64;
    assert!(
        decoded * 10 >= size_at_kill * 9,
        "{decoded} bytes of audio decoded from a {size_at_kill}-byte file"
    );
    assert!(decoded >= 2 * 8000 * 2, "at least two seconds");
    drop(d);
}

/// The pid of the `daisd` whose command line names `data`.
fn daisd_pid(data: &Path) -> u32 {
    let needle = data.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
        .find(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| {
                let c = String::from_utf8_lossy(&c);
                c.contains("daisd") && c.contains(&needle)
            })
        })
        .expect("the daisd process")
}

/// Retention: a recording whose meeting ended longer ago than the retention period loses both
/// copies and its row is marked deleted with an audit entry; a newer one is kept.
#[test]
fn retention_deletes_both_copies_of_expired_recordings_with_an_audit_entry() {
    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = dais_store::Store::open(dir.path().join("data"))
            .await
            .unwrap();
        let now = 1_900_000_000i64;
        let mut ids = Vec::new();
        for (name, ended) in [("old", now - 3 * 86_400), ("new", now - 3600)] {
            let path = dir.path().join(format!("{name}.mkv"));
            std::fs::write(&path, name).unwrap();
            let a = dais_record::archive::archive(&path, &dir.path().join("backup")).unwrap();
            let (p, b) = (
                a.path.to_string_lossy().into_owned(),
                a.backup_path.to_string_lossy().into_owned(),
            );
            let r = store
                .add_recording(
                    &dais_store::NewRecording {
                        meeting: "8001",
                        started_at: ended - 600,
                        ended_at: ended,
                        size: a.size,
                        sha256: &a.sha256,
                        path: &p,
                        backup_path: &b,
                    },
                    ended,
                )
                .await
                .unwrap();
            ids.push((r.id, a.path, a.backup_path));
        }
        let n = dais_server::api::recordings::retention_sweep(&store, 2, now)
            .await
            .unwrap();
        assert_eq!(n, 1);
        let (old, old_p, old_b) = &ids[0];
        let (new, new_p, new_b) = &ids[1];
        assert!(!old_p.exists() && !old_b.exists(), "both copies deleted");
        assert!(new_p.exists() && new_b.exists(), "the newer one is kept");
        assert!(
            store
                .recording(*old)
                .await
                .unwrap()
                .unwrap()
                .deleted_at
                .is_some()
        );
        assert!(
            store
                .recording(*new)
                .await
                .unwrap()
                .unwrap()
                .deleted_at
                .is_none()
        );
        let log = store.recent_audit(10).await.unwrap();
        assert!(log.iter().any(|e| e.action == "recording.delete"
            && e.actor == "system"
            && e.target.contains(&format!("recording {old}"))
            && e.target.contains("retention 2 days")));
        assert_eq!(
            dais_server::api::recordings::retention_sweep(&store, 2, now)
                .await
                .unwrap(),
            0,
            "nothing twice"
        );
    });
}

/// The per-meeting policy: a meeting whose recording is off is not recorded, another is; only
/// the IT centre sets the policy.
#[test]
fn recording_policy_is_per_meeting() {
    use dais_conference::{Actor, ChairCommand, MeetingPlan, Role, Venue, VenueId, VenueKind};
    use dais_net::meeting::NoDialer;
    use dais_net::recording::{FinishedRecording, RecordingSettings};
    use dais_server::meetings::Meetings;
    use std::sync::Arc;

    let dir = tempfile::tempdir().unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    let finished: Vec<FinishedRecording> = rt.block_on(async {
        let meetings = Meetings::new(
            "127.0.0.1".parse().unwrap(),
            dais_server::RtpPortRange::new(31_000, 31_999).unwrap(),
        );
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        meetings.set_recording(
            RecordingSettings::new(dir.path().join("recordings")),
            Arc::new(|n: String| Box::pin(async move { n != "8200" })),
            Arc::new(move |f| {
                let _ = tx.send(f);
            }),
        );
        let chair = Actor::new("li", Role::ChairOperator);
        for number in ["8200", "8201"] {
            let main: VenueId = "bj".parse().unwrap();
            let plan = MeetingPlan {
                number: number.into(),
                subject: "policy".into(),
                main_venue: main.clone(),
                venues: vec![Venue {
                    id: main,
                    name: "bj".into(),
                    kind: VenueKind::Main,
                    parent: None,
                }],
                chair: "li".into(),
                duration: None,
                roll_call_order: vec![],
            };
            let m = meetings
                .start_meeting(plan, Arc::new(NoDialer))
                .await
                .unwrap();
            m.command(chair.clone(), ChairCommand::GoLive)
                .await
                .unwrap();
            m.command(chair.clone(), ChairCommand::EndMeeting)
                .await
                .unwrap();
        }
        let first = tokio::time::timeout(GUARD, rx.recv())
            .await
            .unwrap()
            .unwrap();
        // Give a (wrongly) recorded 8200 the same chance to show up before concluding.
        let second = tokio::time::timeout(Duration::from_secs(2), rx.recv())
            .await
            .ok()
            .flatten();
        std::iter::once(first).chain(second).collect()
    });
    let recorded: Vec<&str> = finished.iter().map(|f| f.meeting.as_str()).collect();
    assert_eq!(recorded, ["8201"]);
    let files: Vec<String> = std::fs::read_dir(dir.path().join("recordings"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        files.len() == 1 && files[0].starts_with("8201-"),
        "{files:?}"
    );

    // Over HTTP: the IT centre sets it, a chair operator is refused.
    let d = Daisd::start(false);
    let admin = login(d.addr, "admin", ADMIN_PW);
    let chair = d.account(&admin, "li", json!({"kind": "chair_operator"}));
    let put = |token: &str, body: &str| {
        http(
            d.addr,
            "PUT",
            "/api/v1/meetings/8300/recording",
            Some(token),
            Some(body),
        )
    };
    assert_eq!(put(&chair, r#"{"record":false}"#).status, 403);
    let r = put(&admin, r#"{"record":false}"#);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(put(&admin, r#"{"record":"no"}"#).status, 400);
    let (data, _keep) = d.stop();
    rt.block_on(async {
        let store = dais_store::Store::open(&api_common::store_of(&data))
            .await
            .unwrap();
        assert!(!store.meeting_recording("8300").await.unwrap());
        let log = store.recent_audit(50).await.unwrap();
        assert!(log.iter().any(|e| e.actor == "li"
            && e.action == "meeting.recording"
            && matches!(e.result, dais_store::AuditResult::Refused(_))));
        assert!(log.iter().any(|e| e.action == "meeting.recording.off"));
    });
}

/// A graceful stop (SIGTERM) ends the live meeting, finishes its recording (duration and index
/// written, the Segment's size known) and archives it before the store closes.
#[test]
fn graceful_shutdown_finishes_and_archives_the_recording() {
    let d = Daisd::start(true);
    let file = wait_for_file(&d.data, 40_000);
    let (data, _keep) = d.stop();
    let bytes = std::fs::read(&file).unwrap();
    let seg = bytes
        .windows(4)
        .position(|w| w == [0x18, 0x53, 0x80, 0x67])
        .expect("a Segment");
    assert_ne!(
        bytes[seg + 4..seg + 12],
        [0x01, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff],
        "the Segment's size was written: the file was finished"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = dais_store::Store::open(&api_common::store_of(&data))
            .await
            .unwrap();
        let recs = store.list_recordings().await.unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(PathBuf::from(&recs[0].path), file);
        assert_eq!(
            recs[0].sha256,
            dais_record::archive::sha256_file(&file).unwrap()
        );
    });
}

/// After a crash, the next start archives the recordings the killed run left unindexed (and
/// only those: not other files, not recordings of the running server).
#[test]
fn recordings_left_by_a_crash_are_archived_at_the_next_start() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("recordings");
    let backup = dir.path().join("backup");
    std::fs::create_dir_all(&rec).unwrap();
    std::fs::create_dir_all(&backup).unwrap();
    let crashed = rec.join("8001-20260101T080000Z.mkv");
    std::fs::write(&crashed, b"clusters up to the crash").unwrap();
    // An interrupted copy of it in the backup directory.
    std::fs::write(backup.join("8001-20260101T080000Z.mkv"), b"clus").unwrap();
    std::fs::write(rec.join("notes.txt"), b"not a recording").unwrap();
    let current = rec.join("8002-20991231T235959Z.mkv");
    std::fs::write(&current, b"being written").unwrap();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let store = dais_store::Store::open(dir.path().join("data"))
            .await
            .unwrap();
        let since = std::time::SystemTime::now();
        let n = dais_server::api::recordings::recover_unindexed(&store, &rec, &backup, since)
            .await
            .unwrap();
        assert_eq!(n, 1);
        let recs = store.list_recordings().await.unwrap();
        assert_eq!(recs.len(), 1);
        assert_eq!(recs[0].meeting, "8001");
        assert_eq!(recs[0].started_at, 1_767_254_400);
        assert_eq!(PathBuf::from(&recs[0].path), crashed);
        assert_eq!(
            std::fs::read(&recs[0].backup_path).unwrap(),
            b"clusters up to the crash",
            "the interrupted copy was replaced"
        );
        let again = dais_server::api::recordings::recover_unindexed(&store, &rec, &backup, since)
            .await
            .unwrap();
        assert_eq!(again, 0, "indexed once");
    });
}
