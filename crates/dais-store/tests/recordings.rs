//! The recording archive index and release requests against a real SQLite file (or PostgreSQL,
//! see `common`).

mod common;

use dais_store::{NewRecording, ReleaseState, Store, StoreError};

const T0: i64 = 1_800_000_000;
const HASH: &str = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

fn rec<'a>(meeting: &'a str, path: &'a str, started_at: i64) -> NewRecording<'a> {
    NewRecording {
        meeting,
        started_at,
        ended_at: started_at + 3600,
        size: 123_456,
        sha256: HASH,
        path,
        backup_path: "/backup/x.mkv",
    }
}

#[tokio::test]
async fn recordings_are_indexed_expired_and_deleted_with_audit() {
    let dir = common::TestDb::new().await;
    let store = Store::open(dir.path()).await.unwrap();
    let a = store
        .add_recording(&rec("8001", "/rec/a.mkv", T0), T0 + 3700)
        .await
        .unwrap();
    let b = store
        .add_recording(&rec("8002", "/rec/b.mkv", T0 + 86_400), T0 + 90_000)
        .await
        .unwrap();
    assert_eq!(
        (a.size, a.sha256.as_str(), a.deleted_at),
        (123_456, HASH, None)
    );
    assert!(matches!(
        store
            .add_recording(&rec("8001", "/rec/a.mkv", T0), T0)
            .await,
        Err(StoreError::Conflict { .. })
    ));
    let mut bad = rec("8003", "/rec/c.mkv", T0);
    bad.sha256 = "not-a-hash";
    assert!(matches!(
        store.add_recording(&bad, T0).await,
        Err(StoreError::Invalid {
            field: "sha256",
            ..
        })
    ));
    let listed: Vec<i64> = store
        .list_recordings()
        .await
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(listed, vec![b.id, a.id], "newest first");

    // Retention of one day, checked at T0 + 2 days: the first (ended T0 + 1 h) has expired,
    // the second (ended T0 + 25 h) has not.
    let expired = store.recordings_ended_before(T0 + 86_400).await.unwrap();
    assert_eq!(expired.iter().map(|r| r.id).collect::<Vec<_>>(), vec![a.id]);
    store
        .mark_recording_deleted("system", a.id, "retention 1 day", T0 + 2 * 86_400)
        .await
        .unwrap();
    assert!(matches!(
        store
            .mark_recording_deleted("system", a.id, "again", T0)
            .await,
        Err(StoreError::NotFound { .. })
    ));
    assert_eq!(store.list_recordings().await.unwrap().len(), 1);
    assert_eq!(
        store.recording(a.id).await.unwrap().unwrap().deleted_at,
        Some(T0 + 2 * 86_400)
    );
    let audit = store.recent_audit(10).await.unwrap();
    let actions: Vec<&str> = audit.iter().map(|e| e.action.as_str()).collect();
    assert!(actions.contains(&"recording.archive"));
    assert!(actions.contains(&"recording.delete"));
    store.verify_audit_chain().await.unwrap();
}

#[tokio::test]
async fn a_release_is_requested_then_approved_by_someone_else_and_expires() {
    let dir = common::TestDb::new().await;
    let store = Store::open(dir.path()).await.unwrap();
    let r = store
        .add_recording(&rec("8001", "/rec/a.mkv", T0), T0)
        .await
        .unwrap();
    let req = store
        .request_release(
            "auditor1",
            Some("10.0.0.9"),
            r.id,
            "court order 17",
            T0 + 10,
        )
        .await
        .unwrap();
    assert_eq!(req.state, ReleaseState::Requested);
    assert!(!req.allows("auditor1", T0 + 11));
    assert!(matches!(
        store
            .request_release("auditor1", None, r.id, "  ", T0)
            .await,
        Err(StoreError::Invalid {
            field: "reason",
            ..
        })
    ));
    assert!(matches!(
        store.request_release("auditor1", None, 999, "x", T0).await,
        Err(StoreError::NotFound { .. })
    ));
    // Nobody approves their own request.
    assert!(matches!(
        store
            .decide_release("auditor1", None, req.id, true, 3600, T0 + 20)
            .await,
        Err(StoreError::Conflict { .. })
    ));
    let ok = store
        .decide_release("itc", None, req.id, true, 3600, T0 + 20)
        .await
        .unwrap();
    assert_eq!(ok.state, ReleaseState::Approved);
    assert_eq!(ok.expires_at, Some(T0 + 3620));
    assert!(ok.allows("auditor1", T0 + 3619));
    assert!(!ok.allows("auditor1", T0 + 3620), "time-limited");
    assert!(
        !ok.allows("someone-else", T0 + 30),
        "only for the requester"
    );
    assert!(matches!(
        store
            .decide_release("itc", None, req.id, false, 0, T0 + 30)
            .await,
        Err(StoreError::Conflict { .. })
    ));
    let second = store
        .request_release("auditor1", None, r.id, "again", T0 + 40)
        .await
        .unwrap();
    let no = store
        .decide_release("itc", None, second.id, false, 0, T0 + 50)
        .await
        .unwrap();
    assert_eq!(no.state, ReleaseState::Rejected);
    assert!(!no.allows("auditor1", T0 + 51));
    assert_eq!(store.releases_of(r.id).await.unwrap().len(), 2);
    let actions: Vec<String> = store
        .recent_audit(20)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for a in [
        "recording.release.request",
        "recording.release.approve",
        "recording.release.reject",
    ] {
        assert!(actions.iter().any(|x| x == a), "{a} audited: {actions:?}");
    }
    store.verify_audit_chain().await.unwrap();
}

#[tokio::test]
async fn recording_can_be_turned_off_per_meeting() {
    let dir = common::TestDb::new().await;
    let store = Store::open(dir.path()).await.unwrap();
    assert!(
        store.meeting_recording("8001").await.unwrap(),
        "on by default"
    );
    store
        .set_meeting_recording("itc", Some("10.0.0.1"), "8001", false, T0)
        .await
        .unwrap();
    assert!(!store.meeting_recording("8001").await.unwrap());
    assert!(store.meeting_recording("8002").await.unwrap());
    store
        .set_meeting_recording("itc", None, "8001", true, T0 + 1)
        .await
        .unwrap();
    assert!(store.meeting_recording("8001").await.unwrap());
    assert!(matches!(
        store
            .set_meeting_recording("itc", None, "80x1", false, T0)
            .await,
        Err(StoreError::Invalid {
            field: "number",
            ..
        })
    ));
    let actions: Vec<String> = store
        .recent_audit(10)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    assert!(actions.iter().any(|a| a == "meeting.recording.off"));
    assert!(actions.iter().any(|a| a == "meeting.recording.on"));
}
