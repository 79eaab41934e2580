//! Recordings of meetings (the archive index) and their release requests.
//!
//! A row is written once both copies of a finished recording exist and hashed alike; retention
//! marks it deleted (the files are removed by the caller) and keeps it. A release request goes
//! `requested → approved | rejected`; an approval is valid until its expiry, for the requester
//! only. Every change is audited in the same transaction.

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::audit::{append_in, append_ok_in};
use crate::{AuditEvent, AuditResult, Store, StoreError};

/// A recording to index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRecording<'a> {
    /// The meeting number.
    pub meeting: &'a str,
    /// Unix seconds when recording started and ended.
    pub started_at: i64,
    /// Unix seconds when recording ended.
    pub ended_at: i64,
    /// File size in bytes.
    pub size: u64,
    /// SHA-256 (hex) of the file, equal for both copies.
    pub sha256: &'a str,
    /// The primary copy.
    pub path: &'a str,
    /// The backup copy.
    pub backup_path: &'a str,
}

/// One indexed recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Recording {
    /// Its id.
    pub id: i64,
    /// The meeting number.
    pub meeting: String,
    /// Unix seconds when recording started.
    pub started_at: i64,
    /// Unix seconds when recording ended.
    pub ended_at: i64,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 (hex) both copies had when archived.
    pub sha256: String,
    /// The primary copy.
    pub path: String,
    /// The backup copy.
    pub backup_path: String,
    /// Unix seconds when it was archived.
    pub archived_at: i64,
    /// Unix seconds when retention deleted it.
    pub deleted_at: Option<i64>,
}

/// Where a release request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ReleaseState {
    /// Waiting for the IT centre.
    Requested,
    /// Approved until `expires_at`.
    Approved,
    /// Rejected.
    Rejected,
}

impl ReleaseState {
    fn as_str(self) -> &'static str {
        match self {
            ReleaseState::Requested => "requested",
            ReleaseState::Approved => "approved",
            ReleaseState::Rejected => "rejected",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "requested" => ReleaseState::Requested,
            "approved" => ReleaseState::Approved,
            "rejected" => ReleaseState::Rejected,
            _ => return None,
        })
    }
}

/// A request to release a recording.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Release {
    /// Its id.
    pub id: i64,
    /// The recording.
    pub recording_id: i64,
    /// Who asked.
    pub requested_by: String,
    /// Why (shown to the approver).
    pub reason: String,
    /// Unix seconds.
    pub requested_at: i64,
    /// Where it stands.
    pub state: ReleaseState,
    /// Who decided.
    pub decided_by: Option<String>,
    /// Unix seconds.
    pub decided_at: Option<i64>,
    /// Unix seconds until which an approval holds.
    pub expires_at: Option<i64>,
}

impl Release {
    /// Whether this release lets `who` download at `now`.
    pub fn allows(&self, who: &str, now: i64) -> bool {
        self.state == ReleaseState::Approved
            && self.requested_by == who
            && self.expires_at.is_some_and(|e| now < e)
    }
}

fn recording_from(row: &AnyRow) -> Result<Recording, StoreError> {
    let size: i64 = row.try_get("size")?;
    Ok(Recording {
        id: row.try_get("id")?,
        meeting: row.try_get("meeting")?,
        started_at: row.try_get("started_at")?,
        ended_at: row.try_get("ended_at")?,
        size: u64::try_from(size).unwrap_or(0),
        sha256: row.try_get("sha256")?,
        path: row.try_get("path")?,
        backup_path: row.try_get("backup_path")?,
        archived_at: row.try_get("archived_at")?,
        deleted_at: row.try_get("deleted_at")?,
    })
}

fn release_from(row: &AnyRow) -> Result<Release, StoreError> {
    let state: String = row.try_get("state")?;
    Ok(Release {
        id: row.try_get("id")?,
        recording_id: row.try_get("recording_id")?,
        requested_by: row.try_get("requested_by")?,
        reason: row.try_get("reason")?,
        requested_at: row.try_get("requested_at")?,
        state: ReleaseState::parse(&state).ok_or_else(|| StoreError::Corrupt {
            table: "recording_releases",
            reason: format!("unknown state {state:?}"),
        })?,
        decided_by: row.try_get("decided_by")?,
        decided_at: row.try_get("decided_at")?,
        expires_at: row.try_get("expires_at")?,
    })
}

// Column lists as macros: sqlx takes only static SQL, so queries are built with `concat!`.
macro_rules! recording_cols {
    () => {
        "id, meeting, started_at, ended_at, size, sha256, path, backup_path, archived_at, deleted_at"
    };
}
macro_rules! release_cols {
    () => {
        "id, recording_id, requested_by, reason, requested_at, state, decided_by, decided_at, expires_at"
    };
}

impl Store {
    /// Indexes an archived recording (audited as `recording.archive` by `system`).
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for a hash that is not 64 hex digits or an end before the start,
    /// [`StoreError::Conflict`] for a path already indexed, database errors.
    pub async fn add_recording(
        &self,
        r: &NewRecording<'_>,
        now: i64,
    ) -> Result<Recording, StoreError> {
        if r.sha256.len() != 64 || !r.sha256.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(StoreError::Invalid {
                field: "sha256",
                reason: "must be 64 hex digits".into(),
            });
        }
        if r.ended_at < r.started_at {
            return Err(StoreError::Invalid {
                field: "ended_at",
                reason: "before started_at".into(),
            });
        }
        let size = i64::try_from(r.size).map_err(|_| StoreError::Invalid {
            field: "size",
            reason: "too large".into(),
        })?;
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO recordings (meeting, started_at, ended_at, size, sha256, path, backup_path, archived_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING id",
        )
        .bind(r.meeting)
        .bind(r.started_at)
        .bind(r.ended_at)
        .bind(size)
        .bind(r.sha256)
        .bind(r.path)
        .bind(r.backup_path)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| crate::error::conflict_or(e, || format!("recording {}", r.path)))?;
        let target = format!("recording {id} of meeting {}", r.meeting);
        append_ok_in(&mut tx, "system", "recording.archive", &target, now).await?;
        tx.commit().await?;
        self.recording(id)
            .await?
            .ok_or_else(|| StoreError::Internal("inserted recording vanished".into()))
    }

    /// One recording (deleted ones included).
    ///
    /// # Errors
    /// Database errors.
    pub async fn recording(&self, id: i64) -> Result<Option<Recording>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            recording_cols!(),
            " FROM recordings WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(recording_from).transpose()
    }

    /// Every recording still kept (not deleted by retention), newest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn list_recordings(&self) -> Result<Vec<Recording>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            recording_cols!(),
            " FROM recordings WHERE deleted_at IS NULL ORDER BY started_at DESC, id DESC"
        ))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(recording_from).collect()
    }

    /// Kept recordings that ended before `before` (Unix seconds): what retention deletes.
    ///
    /// # Errors
    /// Database errors.
    pub async fn recordings_ended_before(&self, before: i64) -> Result<Vec<Recording>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            recording_cols!(),
            " FROM recordings WHERE deleted_at IS NULL AND ended_at < $1 ORDER BY id"
        ))
        .bind(before)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(recording_from).collect()
    }

    /// Marks a recording deleted (both copies removed by the caller), audited as
    /// `recording.delete` with `reason`.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown or already deleted recording, database errors.
    pub async fn mark_recording_deleted(
        &self,
        actor: &str,
        id: i64,
        reason: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query(
            "UPDATE recordings SET deleted_at = $1 WHERE id = $2 AND deleted_at IS NULL",
        )
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: format!("recording {id}"),
            });
        }
        let target = format!("recording {id}: {reason}");
        append_ok_in(&mut tx, actor, "recording.delete", &target, now).await?;
        tx.commit().await?;
        Ok(())
    }

    /// Files a release request by `actor` (audited as `recording.release.request`).
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for an empty or overlong reason, [`StoreError::NotFound`] for an
    /// unknown or deleted recording, database errors.
    pub async fn request_release(
        &self,
        actor: &str,
        from: Option<&str>,
        recording_id: i64,
        reason: &str,
        now: i64,
    ) -> Result<Release, StoreError> {
        if reason.trim().is_empty() || reason.len() > 1024 {
            return Err(StoreError::Invalid {
                field: "reason",
                reason: "must be 1 to 1024 bytes".into(),
            });
        }
        let mut tx = self.begin_write().await?;
        let kept: Option<i64> =
            sqlx::query_scalar("SELECT id FROM recordings WHERE id = $1 AND deleted_at IS NULL")
                .bind(recording_id)
                .fetch_optional(&mut *tx)
                .await?;
        if kept.is_none() {
            return Err(StoreError::NotFound {
                what: format!("recording {recording_id}"),
            });
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO recording_releases (recording_id, requested_by, reason, requested_at) \
             VALUES ($1, $2, $3, $4) RETURNING id",
        )
        .bind(recording_id)
        .bind(actor)
        .bind(reason)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        let target = format!("release {id} of recording {recording_id}");
        append_in(
            &mut tx,
            &AuditEvent {
                actor,
                action: "recording.release.request",
                target: &target,
                at: now,
                from,
                result: AuditResult::Ok,
            },
        )
        .await?;
        tx.commit().await?;
        self.release(id)
            .await?
            .ok_or_else(|| StoreError::Internal("inserted release vanished".into()))
    }

    /// Approves (valid for `valid_secs`) or rejects a pending release request (audited as
    /// `recording.release.approve` / `.reject`). The requester cannot decide their own request.
    ///
    /// # Errors
    /// [`StoreError::NotFound`] for an unknown request, [`StoreError::Conflict`] for one
    /// already decided or the requester's own, [`StoreError::Invalid`] for a non-positive
    /// validity, database errors.
    pub async fn decide_release(
        &self,
        actor: &str,
        from: Option<&str>,
        release_id: i64,
        approve: bool,
        valid_secs: i64,
        now: i64,
    ) -> Result<Release, StoreError> {
        if approve && valid_secs <= 0 {
            return Err(StoreError::Invalid {
                field: "valid_secs",
                reason: "must be positive".into(),
            });
        }
        let mut tx = self.begin_write().await?;
        let row = sqlx::query(concat!(
            "SELECT ",
            release_cols!(),
            " FROM recording_releases WHERE id = $1"
        ))
        .bind(release_id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(current) = row.as_ref().map(release_from).transpose()? else {
            return Err(StoreError::NotFound {
                what: format!("release {release_id}"),
            });
        };
        if current.state != ReleaseState::Requested {
            return Err(StoreError::Conflict {
                what: format!("release {release_id} is already {}", current.state.as_str()),
            });
        }
        if current.requested_by == actor {
            return Err(StoreError::Conflict {
                what: format!(
                    "release {release_id} was requested by {actor}: another operator decides"
                ),
            });
        }
        let (state, expires) = if approve {
            (ReleaseState::Approved, Some(now + valid_secs))
        } else {
            (ReleaseState::Rejected, None)
        };
        sqlx::query(
            "UPDATE recording_releases SET state = $1, decided_by = $2, decided_at = $3, expires_at = $4 WHERE id = $5",
        )
        .bind(state.as_str())
        .bind(actor)
        .bind(now)
        .bind(expires)
        .bind(release_id)
        .execute(&mut *tx)
        .await?;
        let action = if approve {
            "recording.release.approve"
        } else {
            "recording.release.reject"
        };
        let target = format!("release {release_id} of recording {}", current.recording_id);
        append_in(
            &mut tx,
            &AuditEvent {
                actor,
                action,
                target: &target,
                at: now,
                from,
                result: AuditResult::Ok,
            },
        )
        .await?;
        tx.commit().await?;
        self.release(release_id)
            .await?
            .ok_or_else(|| StoreError::Internal("decided release vanished".into()))
    }

    /// One release request.
    ///
    /// # Errors
    /// Database errors.
    pub async fn release(&self, id: i64) -> Result<Option<Release>, StoreError> {
        let row = sqlx::query(concat!(
            "SELECT ",
            release_cols!(),
            " FROM recording_releases WHERE id = $1"
        ))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(release_from).transpose()
    }

    /// The release requests of a recording, oldest first.
    ///
    /// # Errors
    /// Database errors.
    pub async fn releases_of(&self, recording_id: i64) -> Result<Vec<Release>, StoreError> {
        let rows = sqlx::query(concat!(
            "SELECT ",
            release_cols!(),
            " FROM recording_releases WHERE recording_id = $1 ORDER BY id"
        ))
        .bind(recording_id)
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(release_from).collect()
    }

    /// Sets whether meeting `number` is recorded when it goes live (audited as
    /// `meeting.recording.on` / `.off`). Takes effect the next time the meeting starts.
    ///
    /// # Errors
    /// [`StoreError::Invalid`] for a number that is not 1 to 32 digits, database errors.
    pub async fn set_meeting_recording(
        &self,
        actor: &str,
        from: Option<&str>,
        number: &str,
        record: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        if number.is_empty() || number.len() > 32 || !number.bytes().all(|b| b.is_ascii_digit()) {
            return Err(StoreError::Invalid {
                field: "number",
                reason: "must be 1 to 32 digits".into(),
            });
        }
        let mut tx = self.begin_write().await?;
        sqlx::query(
            "INSERT INTO meeting_recording_policy (number, record, set_by, set_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (number) DO UPDATE SET record = excluded.record, set_by = excluded.set_by, set_at = excluded.set_at",
        )
        .bind(number)
        .bind(i64::from(record))
        .bind(actor)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        append_in(
            &mut tx,
            &AuditEvent {
                actor,
                action: if record {
                    "meeting.recording.on"
                } else {
                    "meeting.recording.off"
                },
                target: &format!("meeting {number}"),
                at: now,
                from,
                result: AuditResult::Ok,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Whether meeting `number` is recorded when live: true unless turned off.
    ///
    /// # Errors
    /// Database errors.
    pub async fn meeting_recording(&self, number: &str) -> Result<bool, StoreError> {
        let v: Option<i64> =
            sqlx::query_scalar("SELECT record FROM meeting_recording_policy WHERE number = $1")
                .bind(number)
                .fetch_optional(&self.pool)
                .await?;
        Ok(v.is_none_or(|v| v != 0))
    }
}
