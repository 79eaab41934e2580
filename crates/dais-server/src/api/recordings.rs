//! Recordings: the archive of live meetings, their verification, retention and release.
//!
//! Access (see `docs/recording.md`):
//!
//! | action | who |
//! | --- | --- |
//! | list, show a recording and its release requests | IT centre, auditor |
//! | request a release (download) | IT centre, auditor |
//! | approve or reject a release | IT centre, never the requester |
//! | download | the requester of an approved release, until it expires |
//! | verify both copies of every recording | IT centre |
//!
//! Everything else is refused with 403 and an audit row. Site administrators and chair
//! operators have no access to recordings: a recording holds every venue of the meeting, and
//! the issue puts release under the IT centre's approval.
//!
//! Outside the API: [`attach`] records live meetings (when `record` is on), archives each
//! finished file (backup copy, SHA-256 of both, index row) and runs the retention sweep.

use std::path::{Path as FsPath, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::Response;
use serde::{Deserialize, Serialize};
use tokio::io::AsyncReadExt;
use tracing::{error, info, warn};
use utoipa::ToSchema;

use super::access::{audit, refuse, require_it_centre};
use super::auth::AuthedOperator;
use super::error::{ApiError, ApiJson, ErrorBody};
use crate::app::{App, AppState, unix_now};
use crate::meetings::Meetings;
use dais_net::recording::{FinishedRecording, RecordingSettings};
use dais_record::archive::{self, CopyCheck};
use dais_store::{AuditEvent, AuditResult, NewRecording, Recording, Release, Role, Store};

/// How often the retention sweep runs.
const RETENTION_EVERY: Duration = Duration::from_secs(3600);
/// Longest validity of an approved release, in hours (one week).
pub const MAX_RELEASE_HOURS: u32 = 168;

/// Starts recording live meetings (when enabled) and the retention sweep. Called once by
/// `daisd` after the meeting registry exists.
pub fn attach(app: &mut App, meetings: &Arc<Meetings>) {
    let cfg = app.config().recording.clone();
    let store = app.store().clone();
    // Archive tasks in flight: the shutdown waits for them before the store closes.
    let archiving: Arc<std::sync::Mutex<Vec<tokio::task::JoinHandle<()>>>> = Arc::default();
    if cfg.enabled {
        let tasks = archiving.clone();
        let backup = cfg.backup_dir.clone();
        let s = store.clone();
        let policy = store.clone();
        meetings.set_recording(
            RecordingSettings::new(&cfg.dir),
            Arc::new(move |number: String| {
                let store = policy.clone();
                Box::pin(async move {
                    // Fail towards recording: an unreadable policy must not lose a meeting.
                    store.meeting_recording(&number).await.unwrap_or_else(|e| {
                        warn!(error = %e, meeting = %number, "recording policy unreadable; recording");
                        true
                    })
                })
            }),
            Arc::new(move |f: FinishedRecording| {
                let (store, backup) = (s.clone(), backup.clone());
                let t = tokio::spawn(async move { archive_and_index(&store, &backup, f).await });
                let mut tasks = tasks.lock().unwrap_or_else(|e| e.into_inner());
                tasks.retain(|t| !t.is_finished());
                tasks.push(t);
            }),
        );
        let m = meetings.clone();
        app.add_shutdown_step("recordings", async move {
            // The meetings have ended: their recordings finish, then get archived.
            m.recordings_finished().await;
            let pending = std::mem::take(&mut *archiving.lock().unwrap_or_else(|e| e.into_inner()));
            for t in pending {
                let _ = t.await;
            }
        });
        info!(dir = %cfg.dir.display(), backup = %cfg.backup_dir.display(), "meetings are recorded when live");
    }
    // Files a previous run left unindexed (killed mid-meeting, or stopped before the archive
    // finished) are archived now; files of this run are left to their meetings.
    let (s, dir, backup, since) = (
        store.clone(),
        cfg.dir.clone(),
        cfg.backup_dir.clone(),
        std::time::SystemTime::now(),
    );
    tokio::spawn(async move {
        match recover_unindexed(&s, &dir, &backup, since).await {
            Ok(0) => {}
            Ok(n) => info!(
                recovered = n,
                "unindexed recordings of an earlier run archived"
            ),
            Err(e) => warn!(error = %e, "recordings of an earlier run could not be recovered"),
        }
    });
    let days = cfg.retention_days;
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(RETENTION_EVERY);
        loop {
            tick.tick().await;
            if let Err(e) = retention_sweep(&store, days, unix_now()).await {
                warn!(error = %e, "retention sweep failed");
            }
        }
    });
}

fn unix(t: std::time::SystemTime) -> i64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Copies a finished recording to the backup directory, hashes both copies and indexes it.
/// A failure is logged and audited (the recording itself stays where it is).
pub async fn archive_and_index(store: &Store, backup_dir: &FsPath, f: FinishedRecording) {
    let (path, backup) = (f.path.clone(), backup_dir.to_path_buf());
    let copied = tokio::task::spawn_blocking(move || archive::archive(&path, &backup)).await;
    let target = format!("recording {} of meeting {}", f.path.display(), f.meeting);
    let archived = match copied {
        Ok(Ok(a)) => a,
        Ok(Err(e)) => {
            error!(error = %e, path = %f.path.display(), "recording could not be archived");
            audit_system(
                store,
                "recording.archive",
                &target,
                AuditResult::Failed(e.to_string()),
            )
            .await;
            return;
        }
        Err(e) => {
            error!(error = %e, "archive task failed");
            return;
        }
    };
    let (path, backup_path) = (
        archived.path.to_string_lossy().into_owned(),
        archived.backup_path.to_string_lossy().into_owned(),
    );
    let row = NewRecording {
        meeting: &f.meeting,
        started_at: unix(f.started),
        ended_at: unix(f.ended).max(unix(f.started)),
        size: archived.size,
        sha256: &archived.sha256,
        path: &path,
        backup_path: &backup_path,
    };
    match store.add_recording(&row, unix_now()).await {
        Ok(r) => info!(id = r.id, meeting = %r.meeting, sha256 = %r.sha256, "recording archived"),
        Err(e) => {
            error!(error = %e, "recording could not be indexed");
            audit_system(
                store,
                "recording.archive",
                &target,
                AuditResult::Failed(e.to_string()),
            )
            .await;
        }
    }
}

/// Archives every recording file in `dir` that started before `before` and is not indexed:
/// what a crash (or a stop before the archive finished) leaves. A partial backup copy of such a
/// file is replaced. Returns how many were archived.
///
/// # Errors
/// The directory or the store could not be read.
pub async fn recover_unindexed(
    store: &Store,
    dir: &FsPath,
    backup_dir: &FsPath,
    before: std::time::SystemTime,
) -> Result<usize, std::io::Error> {
    let mut entries = match tokio::fs::read_dir(dir).await {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    let indexed: std::collections::HashSet<String> = store
        .list_recordings()
        .await
        .map_err(std::io::Error::other)?
        .into_iter()
        .map(|r| r.path)
        .collect();
    let mut n = 0;
    while let Some(e) = entries.next_entry().await? {
        let path = e.path();
        let Some((meeting, started)) = e
            .file_name()
            .to_str()
            .and_then(dais_net::recording::parse_file_name)
        else {
            continue;
        };
        if started >= before || indexed.contains(path.to_string_lossy().as_ref()) {
            continue;
        }
        let ended = e.metadata().await?.modified().unwrap_or(started);
        if let Some(name) = path.file_name() {
            // Never indexed, so any copy there is an interrupted one.
            let _ = tokio::fs::remove_file(backup_dir.join(name)).await;
        }
        warn!(path = %path.display(), meeting = %meeting, "archiving a recording left unindexed by an earlier run");
        let f = FinishedRecording {
            meeting,
            path: path.clone(),
            started,
            ended,
            summary: dais_record::RecordingSummary::default(),
            dropped: 0,
        };
        archive_and_index(store, backup_dir, f).await;
        n += 1;
    }
    Ok(n)
}

async fn audit_system(store: &Store, action: &str, target: &str, result: AuditResult) {
    let ev = AuditEvent {
        actor: "system",
        action,
        target,
        at: unix_now(),
        from: None,
        result,
    };
    if let Err(e) = store.audit(&ev).await {
        error!(error = %e, action, "audit write failed");
    }
}

/// Deletes (both copies) every recording whose meeting ended more than `days` ago, marking
/// each row deleted with an audit entry. Returns how many were deleted.
///
/// # Errors
/// The store could not be read or written.
pub async fn retention_sweep(
    store: &Store,
    days: u32,
    now: i64,
) -> Result<usize, dais_store::StoreError> {
    let expired = store
        .recordings_ended_before(now - i64::from(days) * 86_400)
        .await?;
    let mut n = 0;
    for r in expired {
        for p in [&r.path, &r.backup_path] {
            match tokio::fs::remove_file(p).await {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    // Keep the row: the next sweep tries again rather than losing track of it.
                    warn!(error = %e, path = %p, "expired recording could not be deleted");
                    continue;
                }
            }
        }
        if tokio::fs::try_exists(&r.path).await.unwrap_or(true)
            || tokio::fs::try_exists(&r.backup_path).await.unwrap_or(true)
        {
            continue;
        }
        store
            .mark_recording_deleted("system", r.id, &format!("retention {days} days"), now)
            .await?;
        n += 1;
    }
    Ok(n)
}

/// A recording as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordingDto {
    /// Its id.
    pub id: i64,
    /// The meeting number.
    pub meeting: String,
    /// Unix seconds.
    pub started_at: i64,
    /// Unix seconds.
    pub ended_at: i64,
    /// Bytes.
    pub size: u64,
    /// SHA-256 (hex) of both copies when archived.
    pub sha256: String,
    /// The primary copy.
    pub path: String,
    /// The backup copy.
    pub backup_path: String,
}

impl From<&Recording> for RecordingDto {
    fn from(r: &Recording) -> Self {
        RecordingDto {
            id: r.id,
            meeting: r.meeting.clone(),
            started_at: r.started_at,
            ended_at: r.ended_at,
            size: r.size,
            sha256: r.sha256.clone(),
            path: r.path.clone(),
            backup_path: r.backup_path.clone(),
        }
    }
}

/// A release request as the API shows it.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct ReleaseDto {
    /// Its id.
    pub id: i64,
    /// The recording.
    pub recording_id: i64,
    /// Who asked.
    pub requested_by: String,
    /// Why.
    pub reason: String,
    /// Unix seconds.
    pub requested_at: i64,
    /// `requested`, `approved` or `rejected`.
    pub state: String,
    /// Who decided.
    pub decided_by: Option<String>,
    /// Unix seconds until which an approval holds.
    pub expires_at: Option<i64>,
}

impl From<&Release> for ReleaseDto {
    fn from(r: &Release) -> Self {
        ReleaseDto {
            id: r.id,
            recording_id: r.recording_id,
            requested_by: r.requested_by.clone(),
            reason: r.reason.clone(),
            requested_at: r.requested_at,
            state: serde_json::to_value(r.state)
                .ok()
                .and_then(|v| v.as_str().map(str::to_owned))
                .unwrap_or_default(),
            decided_by: r.decided_by.clone(),
            expires_at: r.expires_at,
        }
    }
}

/// A recording with its release requests.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RecordingDetail {
    /// The recording.
    pub recording: RecordingDto,
    /// Its release requests, oldest first.
    pub releases: Vec<ReleaseDto>,
}

/// A release request to file.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseRequest {
    /// Why the recording must leave the archive (shown to the approver, audited).
    pub reason: String,
}

/// A decision on a release request.
#[derive(Debug, Clone, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReleaseDecision {
    /// Approve (true) or reject (false).
    pub approve: bool,
    /// How long an approval holds, in hours (1 to 168). [default: 24]
    pub valid_hours: Option<u32>,
}

/// What a check of one recording found.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VerifyEntry {
    /// The recording.
    pub id: i64,
    /// The meeting.
    pub meeting: String,
    /// `intact`, `missing`, `mismatch` or `unreadable`, for the primary copy.
    pub primary: String,
    /// The same for the backup copy.
    pub backup: String,
}

/// The result of re-verifying every kept recording.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct VerifyReport {
    /// Recordings checked.
    pub checked: usize,
    /// Whether every copy of every recording is intact.
    pub ok: bool,
    /// One entry per recording with a copy that is not intact.
    pub problems: Vec<VerifyEntry>,
}

async fn may_view(
    state: &AppState,
    who: &AuthedOperator,
    action: &str,
    target: &str,
) -> Result<(), ApiError> {
    if matches!(who.operator.role, Role::ItCentre | Role::Auditor) {
        Ok(())
    } else {
        Err(refuse(
            state,
            who,
            action,
            target,
            "only the IT centre and auditors may see recordings",
        )
        .await)
    }
}

async fn kept(state: &AppState, id: i64) -> Result<Recording, ApiError> {
    state
        .store
        .recording(id)
        .await?
        .filter(|r| r.deleted_at.is_none())
        .ok_or_else(|| ApiError::not_found(format!("recording {id} not found")))
}

/// Every kept recording, newest first (IT centre and auditors).
#[utoipa::path(
    get, path = "/api/v1/recordings", tag = "recordings",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The recordings", body = [RecordingDto]),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Neither IT centre nor auditor", body = ErrorBody),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    who: AuthedOperator,
) -> Result<Json<Vec<RecordingDto>>, ApiError> {
    may_view(&state, &who, "recording.list", "recordings").await?;
    let rows = state.store.list_recordings().await?;
    Ok(Json(rows.iter().map(RecordingDto::from).collect()))
}

/// One recording and its release requests (IT centre and auditors).
#[utoipa::path(
    get, path = "/api/v1/recordings/{id}", tag = "recordings",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Recording id")),
    responses(
        (status = 200, description = "The recording", body = RecordingDetail),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Neither IT centre nor auditor", body = ErrorBody),
        (status = 404, description = "No such recording", body = ErrorBody),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    who: AuthedOperator,
    Path(id): Path<i64>,
) -> Result<Json<RecordingDetail>, ApiError> {
    may_view(&state, &who, "recording.get", &format!("recording {id}")).await?;
    let r = kept(&state, id).await?;
    let releases = state.store.releases_of(id).await?;
    Ok(Json(RecordingDetail {
        recording: RecordingDto::from(&r),
        releases: releases.iter().map(ReleaseDto::from).collect(),
    }))
}

/// Ask for a recording to be released (IT centre and auditors); the IT centre decides.
#[utoipa::path(
    post, path = "/api/v1/recordings/{id}/releases", tag = "recordings",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Recording id")),
    request_body = ReleaseRequest,
    responses(
        (status = 201, description = "Requested", body = ReleaseDto),
        (status = 400, description = "Empty reason", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Neither IT centre nor auditor", body = ErrorBody),
        (status = 404, description = "No such recording", body = ErrorBody),
    )
)]
pub async fn request_release(
    State(state): State<AppState>,
    who: AuthedOperator,
    Path(id): Path<i64>,
    ApiJson(req): ApiJson<ReleaseRequest>,
) -> Result<(StatusCode, Json<ReleaseDto>), ApiError> {
    may_view(
        &state,
        &who,
        "recording.release.request",
        &format!("recording {id}"),
    )
    .await?;
    let from = who.from.map(|a| a.to_string());
    let r = state
        .store
        .request_release(
            &who.operator.username,
            from.as_deref(),
            id,
            &req.reason,
            unix_now(),
        )
        .await?;
    Ok((StatusCode::CREATED, Json(ReleaseDto::from(&r))))
}

/// Approve or reject a release request (IT centre; not the operator who asked).
#[utoipa::path(
    post, path = "/api/v1/recordings/releases/{release}/decision", tag = "recordings",
    security(("bearer" = [])),
    params(("release" = i64, Path, description = "Release request id")),
    request_body = ReleaseDecision,
    responses(
        (status = 200, description = "Decided", body = ReleaseDto),
        (status = 400, description = "Validity out of range", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not the IT centre", body = ErrorBody),
        (status = 404, description = "No such request", body = ErrorBody),
        (status = 409, description = "Already decided, or the requester's own", body = ErrorBody),
    )
)]
pub async fn decide(
    State(state): State<AppState>,
    who: AuthedOperator,
    Path(release): Path<i64>,
    ApiJson(req): ApiJson<ReleaseDecision>,
) -> Result<Json<ReleaseDto>, ApiError> {
    let target = format!("release {release}");
    require_it_centre(&state, &who, "recording.release.decide", &target).await?;
    let hours = req.valid_hours.unwrap_or(24);
    if !(1..=MAX_RELEASE_HOURS).contains(&hours) {
        return Err(ApiError::bad_request(format!(
            "valid_hours must be 1 to {MAX_RELEASE_HOURS}"
        )));
    }
    let from = who.from.map(|a| a.to_string());
    match state
        .store
        .decide_release(
            &who.operator.username,
            from.as_deref(),
            release,
            req.approve,
            i64::from(hours) * 3600,
            unix_now(),
        )
        .await
    {
        Ok(r) => Ok(Json(ReleaseDto::from(&r))),
        Err(e) => {
            if matches!(e, dais_store::StoreError::Conflict { .. }) {
                audit(
                    &state,
                    &who,
                    "recording.release.decide",
                    &target,
                    AuditResult::Refused(e.to_string()),
                )
                .await;
            }
            Err(e.into())
        }
    }
}

/// Download a recording: only with an approved, unexpired release requested by the caller.
#[utoipa::path(
    get, path = "/api/v1/recordings/{id}/download", tag = "recordings",
    security(("bearer" = [])),
    params(("id" = i64, Path, description = "Recording id")),
    responses(
        (status = 200, description = "The Matroska file", content_type = "video/x-matroska"),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "No approved release for this operator", body = ErrorBody),
        (status = 404, description = "No such recording", body = ErrorBody),
    )
)]
pub async fn download(
    State(state): State<AppState>,
    who: AuthedOperator,
    Path(id): Path<i64>,
) -> Result<Response, ApiError> {
    let target = format!("recording {id}");
    let now = unix_now();
    let releases = state.store.releases_of(id).await?;
    let Some(release) = releases
        .iter()
        .find(|r| r.allows(&who.operator.username, now))
    else {
        return Err(refuse(
            &state,
            &who,
            "recording.release.download",
            &target,
            "no approved, unexpired release of this recording for you",
        )
        .await);
    };
    let r = kept(&state, id).await?;
    let file = tokio::fs::File::open(&r.path)
        .await
        .map_err(ApiError::internal)?;
    audit(
        &state,
        &who,
        "recording.release.download",
        &format!("{target} under release {}", release.id),
        AuditResult::Ok,
    )
    .await;
    let name = PathBuf::from(&r.path)
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| format!("recording-{id}.mkv"));
    let stream = futures_util::stream::unfold(file, |mut f| async move {
        let mut buf = vec![0u8; 256 << 10];
        match f.read(&mut buf).await {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<_, std::io::Error>(bytes::Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    Response::builder()
        .header(header::CONTENT_TYPE, "video/x-matroska")
        .header(header::CONTENT_LENGTH, r.size)
        .header(
            header::CONTENT_DISPOSITION,
            format!("attachment; filename=\"{name}\""),
        )
        .body(Body::from_stream(stream))
        .map_err(ApiError::internal)
}

fn check_name(c: &CopyCheck) -> &'static str {
    match c {
        CopyCheck::Intact => "intact",
        CopyCheck::Missing => "missing",
        CopyCheck::Mismatch { .. } => "mismatch",
        CopyCheck::Unreadable(_) => "unreadable",
    }
}

/// Re-hash both copies of every kept recording and name each copy that does not match
/// (IT centre). Audited, as failed when a copy is damaged or missing.
#[utoipa::path(
    post, path = "/api/v1/recordings/verify", tag = "recordings",
    security(("bearer" = [])),
    responses(
        (status = 200, description = "The report", body = VerifyReport),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not the IT centre", body = ErrorBody),
    )
)]
pub async fn verify(
    State(state): State<AppState>,
    who: AuthedOperator,
) -> Result<Json<VerifyReport>, ApiError> {
    require_it_centre(&state, &who, "recording.verify", "recordings").await?;
    let rows = state.store.list_recordings().await?;
    let checked = rows.len();
    let problems = tokio::task::spawn_blocking(move || {
        rows.iter()
            .filter_map(|r| {
                let p = archive::check_copy(FsPath::new(&r.path), &r.sha256);
                let b = archive::check_copy(FsPath::new(&r.backup_path), &r.sha256);
                (!p.is_intact() || !b.is_intact()).then(|| VerifyEntry {
                    id: r.id,
                    meeting: r.meeting.clone(),
                    primary: check_name(&p).into(),
                    backup: check_name(&b).into(),
                })
            })
            .collect::<Vec<_>>()
    })
    .await
    .map_err(ApiError::internal)?;
    let ok = problems.is_empty();
    let result = if ok {
        AuditResult::Ok
    } else {
        let names: Vec<String> = problems
            .iter()
            .map(|p| {
                format!(
                    "recording {} (primary {}, backup {})",
                    p.id, p.primary, p.backup
                )
            })
            .collect();
        AuditResult::Failed(names.join("; "))
    };
    audit(
        &state,
        &who,
        "recording.verify",
        &format!("{checked} recordings"),
        result,
    )
    .await;
    Ok(Json(VerifyReport {
        checked,
        ok,
        problems,
    }))
}

/// A meeting's recording policy.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RecordingPolicy {
    /// Record the meeting when it goes live (takes effect when it next starts).
    pub record: bool,
}

/// Turn recording of one meeting on or off (IT centre). On by default.
#[utoipa::path(
    put, path = "/api/v1/meetings/{number}/recording", tag = "recordings",
    security(("bearer" = [])),
    params(("number" = String, Path, description = "Meeting number")),
    request_body = RecordingPolicy,
    responses(
        (status = 200, description = "Set", body = RecordingPolicy),
        (status = 400, description = "Not a meeting number", body = ErrorBody),
        (status = 401, description = "Not logged in", body = ErrorBody),
        (status = 403, description = "Not the IT centre", body = ErrorBody),
    )
)]
pub async fn set_policy(
    State(state): State<AppState>,
    who: AuthedOperator,
    Path(number): Path<String>,
    ApiJson(req): ApiJson<RecordingPolicy>,
) -> Result<Json<RecordingPolicy>, ApiError> {
    require_it_centre(
        &state,
        &who,
        "meeting.recording",
        &format!("meeting {number}"),
    )
    .await?;
    let from = who.from.map(|a| a.to_string());
    state
        .store
        .set_meeting_recording(
            &who.operator.username,
            from.as_deref(),
            &number,
            req.record,
            unix_now(),
        )
        .await?;
    Ok(Json(req))
}
