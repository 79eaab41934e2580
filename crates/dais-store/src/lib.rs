//! Persistence for Dais: operators and their sessions, venues, meetings, and the audit log.
//!
//! # Contract
//!
//! - [`Store::open`] creates (or opens) `data_dir/dais.sqlite`, switches it to WAL mode with
//!   foreign keys on, and applies the embedded, versioned migrations (`migrations/`). A file
//!   written by a newer Dais (an unknown migration) is refused rather than guessed at.
//! - Every write runs in one transaction started with `BEGIN IMMEDIATE`, so concurrent writers
//!   queue on SQLite's lock instead of failing half-way, and an audit row is committed together
//!   with the change it records.
//! - **No function reads the clock.** Times are Unix seconds passed in as `now`, so tests can
//!   move time (lockout expiry, token expiry) without sleeping.
//! - Secrets are never stored in clear: operator passwords as argon2id PHC strings, bearer
//!   tokens as their SHA-256, SIP passwords as digest HA1 values (MD5 and SHA-256).
//! - Queries are checked at run time (`sqlx::query`), not by the `query!` macros, so building
//!   needs no database. The SQL stays within what PostgreSQL also accepts, apart from the
//!   `BEGIN IMMEDIATE` and the triggers noted in the migration.
//!
//! # Cancel safety
//!
//! The async methods are cancel safe in the sense that matters here: dropping a future before
//! it completes rolls back its transaction (sqlx rolls back a dropped `Transaction`), so a write
//! is either fully committed or not at all. A password hash running on the blocking pool keeps
//! running to completion but its result is discarded.

#![warn(missing_docs)]

mod accounts;
mod audit;
mod bookings;
mod equipment;
mod error;
mod meetings;
mod recordings;
mod records;
mod sites;
mod types;
mod venues;

use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use sqlx::sqlite::SqliteSynchronous;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePool, SqlitePoolOptions};

pub use accounts::{ADMIN_USERNAME, LOCKOUT_AFTER_FAILURES, LOCKOUT_SECS, PasswordCost};
pub use audit::AuditChainError;
pub use bookings::{
    Booking, BookingStatus, FIRST_ALLOCATED_NUMBER, NewBooking, Opinion, ScheduledStart,
};
pub use equipment::{
    CHECK_INTERVAL_SECS, CHECK_REMINDER_SECS, CheckDue, EquipmentCheck, EquipmentMove, Fault,
    FaultStatus, MoveStatus,
};
pub use error::StoreError;
pub use recordings::{NewRecording, Recording, Release, ReleaseState};
pub use records::StoredRecord;
pub use sites::{Site, Slot, SlotAssignment, SlotChange, SlotChangeReason, SlotHolder};
pub use types::{
    ApprovalStage, AuditEntry, AuditEvent, AuditResult, DigestHa1, Meeting, MeetingId,
    MeetingState, NewMeeting, NewVenue, Operator, OperatorId, Role, Session, Venue, VenueId,
    VenueKind,
};

/// The database file's name inside the data directory.
pub const DB_FILE_NAME: &str = "dais.sqlite";

/// Default lifetime of a login session: 12 hours.
pub const DEFAULT_SESSION_TTL_SECS: i64 = 12 * 3600;

/// Tunables of a [`Store`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How long a bearer token stays valid after login, in seconds.
    pub session_ttl_secs: i64,
    /// Cost of new password hashes.
    pub password_cost: PasswordCost,
    /// How long a writer waits for SQLite's lock before giving up.
    pub busy_timeout: Duration,
    /// Connections in the pool (SQLite serialises writers anyway; readers run in parallel).
    pub max_connections: u32,
}

impl Default for StoreOptions {
    fn default() -> Self {
        StoreOptions {
            session_ttl_secs: DEFAULT_SESSION_TTL_SECS,
            password_cost: PasswordCost::Interactive,
            busy_timeout: Duration::from_secs(5),
            max_connections: 4,
        }
    }
}

/// A handle on the Dais database. Cheap to clone: clones share one connection pool.
#[derive(Debug, Clone)]
pub struct Store {
    pool: SqlitePool,
    opts: StoreOptions,
    path: PathBuf,
}

impl Store {
    /// Opens (creating if needed) `data_dir/dais.sqlite` with default options and applies the
    /// migrations.
    ///
    /// # Errors
    ///
    /// [`StoreError::DataDir`] when the directory cannot be created, [`StoreError::Database`]
    /// when the file cannot be opened, [`StoreError::Migrate`] when the schema cannot be brought
    /// up to date (including a file from a newer version).
    pub async fn open(data_dir: impl AsRef<Path>) -> Result<Store, StoreError> {
        Store::open_with(data_dir, StoreOptions::default()).await
    }

    /// Like [`Store::open`] with explicit options.
    ///
    /// # Errors
    ///
    /// As [`Store::open`], plus [`StoreError::Invalid`] for a non-positive session lifetime.
    pub async fn open_with(
        data_dir: impl AsRef<Path>,
        opts: StoreOptions,
    ) -> Result<Store, StoreError> {
        if opts.session_ttl_secs <= 0 {
            return Err(StoreError::Invalid {
                field: "session_ttl_secs",
                reason: "must be positive".into(),
            });
        }
        let dir = data_dir.as_ref();
        std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
            path: dir.to_owned(),
            source,
        })?;
        let path = dir.join(DB_FILE_NAME);
        let connect = SqliteConnectOptions::from_str("sqlite:")
            .map_err(StoreError::from)?
            .filename(&path)
            .create_if_missing(true)
            .journal_mode(SqliteJournalMode::Wal)
            // NORMAL is durable across application crashes in WAL mode; only an OS crash or
            // power loss can lose the last transactions, never corrupt the file.
            .synchronous(SqliteSynchronous::Normal)
            .foreign_keys(true)
            .busy_timeout(opts.busy_timeout);
        let pool = SqlitePoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .connect_with(connect)
            .await?;
        sqlx::migrate!("./migrations").run(&pool).await?;
        tracing::info!(path = %path.display(), "store opened");
        Ok(Store { pool, opts, path })
    }

    /// The database file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The options the store was opened with.
    pub fn options(&self) -> &StoreOptions {
        &self.opts
    }

    /// Checks the database answers a trivial query (for readiness probes).
    ///
    /// # Errors
    ///
    /// [`StoreError::Database`] when it does not.
    pub async fn ping(&self) -> Result<(), StoreError> {
        sqlx::query("SELECT 1").execute(&self.pool).await?;
        Ok(())
    }

    /// Checkpoints the WAL into the main file and closes every connection. Later calls on any
    /// clone of this store fail with [`StoreError::Database`].
    pub async fn close(&self) {
        // A checkpoint failure is not worth failing shutdown for: the WAL is replayed at the
        // next open anyway.
        if let Err(e) = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
            .execute(&self.pool)
            .await
        {
            tracing::warn!(error = %e, "WAL checkpoint at close failed");
        }
        self.pool.close().await;
        tracing::info!(path = %self.path.display(), "store closed");
    }

    /// Runs `PRAGMA integrity_check` and reports whether the file is sound.
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] with SQLite's first complaint when it is not.
    pub async fn integrity_check(&self) -> Result<(), StoreError> {
        let verdict: String = sqlx::query_scalar("PRAGMA integrity_check")
            .fetch_one(&self.pool)
            .await?;
        if verdict == "ok" {
            Ok(())
        } else {
            Err(StoreError::Corrupt {
                table: "*",
                reason: verdict,
            })
        }
    }

    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, StoreError> {
        Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?)
    }
}
