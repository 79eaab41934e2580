//! Persistence for Dais: operators and their sessions, venues, meetings, and the audit log.
//!
//! # Contract
//!
//! - [`Store::open`] takes a data directory (SQLite file `data_dir/dais.sqlite`, the default),
//!   a `sqlite://` URL, or a `postgres://` URL (several servers sharing one store). SQLite is
//!   switched to WAL mode with foreign keys on. The embedded, versioned migrations of the
//!   backend (`migrations/sqlite`, `migrations/postgres`: one schema, the same version numbers)
//!   are applied at open. A database written by a newer Dais (an unknown migration) is refused
//!   rather than guessed at.
//! - Every write runs in one transaction that first takes the store's single writer lock:
//!   `BEGIN IMMEDIATE` on SQLite, a transaction-scoped advisory lock
//!   (`pg_advisory_xact_lock`) on PostgreSQL. Concurrent writers, also from other servers on
//!   the same PostgreSQL database, queue instead of failing half-way, every check made inside
//!   the write transaction (booking conflicts, the audit chain's tail) sees all committed
//!   writes, and an audit row is committed together with the change it records.
//! - **No function reads the clock.** Times are Unix seconds passed in as `now`, so tests can
//!   move time (lockout expiry, token expiry) without sleeping.
//! - Secrets are never stored in clear: operator passwords as argon2id PHC strings, bearer
//!   tokens as their SHA-256, SIP passwords as digest HA1 values (MD5 and SHA-256).
//! - Queries are checked at run time (`sqlx::query`), not by the `query!` macros, so building
//!   needs no database. They go through sqlx's `Any` driver with `$n` placeholders, which both
//!   backends accept; the SQL is the subset both understand (booleans are read back through
//!   `CAST(.. AS INTEGER)` because the `Any` driver cannot decode SQLite's `BOOLEAN` columns).
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
use std::time::Duration;

use sqlx::any::AnyPoolOptions;
use sqlx::{AnyPool, Connection};

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

/// Key of the PostgreSQL advisory lock every write transaction takes (ASCII "DAIS").
const PG_WRITE_LOCK_KEY: i64 = 0x4441_4953;

/// Which database a [`Store`] runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// An SQLite file (the default).
    Sqlite,
    /// A PostgreSQL database, possibly shared by several servers.
    Postgres,
}

/// Tunables of a [`Store`].
#[derive(Debug, Clone)]
pub struct StoreOptions {
    /// How long a bearer token stays valid after login, in seconds.
    pub session_ttl_secs: i64,
    /// Cost of new password hashes.
    pub password_cost: PasswordCost,
    /// How long a writer waits for SQLite's lock before giving up (SQLite only; PostgreSQL
    /// writers wait for the advisory lock as long as it takes).
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
    pool: AnyPool,
    opts: StoreOptions,
    path: PathBuf,
    backend: Backend,
}

/// Percent-encodes a file path for an `sqlite://` URL (sqlx decodes it again).
fn sqlite_url(path: &Path) -> Result<String, StoreError> {
    let s = path.to_str().ok_or_else(|| StoreError::Invalid {
        field: "data_dir",
        reason: "not valid UTF-8".into(),
    })?;
    let mut url = String::from("sqlite://");
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"/._-~".contains(&b) {
            url.push(char::from(b));
        } else {
            url.push_str(&format!("%{b:02X}"));
        }
    }
    url.push_str("?mode=rwc");
    Ok(url)
}

/// The URL with its password (if any) replaced, for logs and [`Store::path`].
fn redact_url(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find('/').unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => {
            let user = userinfo.split_once(':').map_or(userinfo, |(u, _)| u);
            let tail = tail.split_once('?').map_or(tail, |(t, _)| t);
            format!("{scheme}://{user}@{host}{tail}")
        }
        None => {
            let tail = tail.split_once('?').map_or(tail, |(t, _)| t);
            format!("{scheme}://{authority}{tail}")
        }
    }
}

impl Store {
    /// Opens the store with default options and applies the migrations. `location` is a data
    /// directory (the SQLite file `data_dir/dais.sqlite` is created if needed), an
    /// `sqlite://path` URL naming the file, or a `postgres://` / `postgresql://` URL of an
    /// existing database.
    ///
    /// # Errors
    ///
    /// [`StoreError::DataDir`] when the directory cannot be created, [`StoreError::Database`]
    /// when the database cannot be opened or reached, [`StoreError::Migrate`] when the schema cannot be brought
    /// up to date (including a file from a newer version).
    pub async fn open(location: impl AsRef<Path>) -> Result<Store, StoreError> {
        Store::open_with(location, StoreOptions::default()).await
    }

    /// Like [`Store::open`] with explicit options.
    ///
    /// # Errors
    ///
    /// As [`Store::open`], plus [`StoreError::Invalid`] for a non-positive session lifetime.
    pub async fn open_with(
        location: impl AsRef<Path>,
        opts: StoreOptions,
    ) -> Result<Store, StoreError> {
        if opts.session_ttl_secs <= 0 {
            return Err(StoreError::Invalid {
                field: "session_ttl_secs",
                reason: "must be positive".into(),
            });
        }
        sqlx::any::install_default_drivers();
        let location = location.as_ref();
        let text = location.to_str().unwrap_or("");
        let (backend, url, path) =
            if text.starts_with("postgres://") || text.starts_with("postgresql://") {
                (
                    Backend::Postgres,
                    text.to_owned(),
                    PathBuf::from(redact_url(text)),
                )
            } else {
                let path = match text.strip_prefix("sqlite://") {
                    Some(file) => PathBuf::from(file.split_once('?').map_or(file, |(f, _)| f)),
                    None => location.join(DB_FILE_NAME),
                };
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| StoreError::DataDir {
                        path: dir.to_owned(),
                        source,
                    })?;
                }
                (Backend::Sqlite, sqlite_url(&path)?, path)
            };
        // One probe connection first: an unreachable server or unopenable file fails at once,
        // not after the pool's acquire timeout (30 s of retries).
        sqlx::AnyConnection::connect(&url).await?.close().await?;
        let busy_ms = opts.busy_timeout.as_millis().min(i32::MAX as u128);
        let pool = AnyPoolOptions::new()
            .max_connections(opts.max_connections.max(1))
            .after_connect(move |conn, _meta| {
                Box::pin(async move {
                    if backend == Backend::Sqlite {
                        // NORMAL is durable across application crashes in WAL mode; only an OS
                        // crash or power loss can lose the last transactions, never corrupt the
                        // file.
                        for pragma in [
                            "PRAGMA journal_mode = WAL".to_owned(),
                            "PRAGMA synchronous = NORMAL".to_owned(),
                            "PRAGMA foreign_keys = ON".to_owned(),
                            format!("PRAGMA busy_timeout = {busy_ms}"),
                        ] {
                            sqlx::raw_sql(sqlx::AssertSqlSafe(pragma))
                                .execute(&mut *conn)
                                .await?;
                        }
                    }
                    Ok(())
                })
            })
            .connect(&url)
            .await?;
        match backend {
            Backend::Sqlite => sqlx::migrate!("./migrations/sqlite").run(&pool).await?,
            Backend::Postgres => sqlx::migrate!("./migrations/postgres").run(&pool).await?,
        }
        tracing::info!(path = %path.display(), backend = ?backend, "store opened");
        Ok(Store {
            pool,
            opts,
            path,
            backend,
        })
    }

    /// Which database the store runs on.
    pub fn backend(&self) -> Backend {
        self.backend
    }

    /// The database file's path (for PostgreSQL, the URL without its password or parameters).
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
        if self.backend == Backend::Postgres {
            self.pool.close().await;
            tracing::info!(path = %self.path.display(), "store closed");
            return;
        }
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

    /// Runs `PRAGMA integrity_check` and reports whether the file is sound (on PostgreSQL, only
    /// that the server answers).
    ///
    /// # Errors
    ///
    /// [`StoreError::Corrupt`] with SQLite's first complaint when it is not.
    pub async fn integrity_check(&self) -> Result<(), StoreError> {
        if self.backend == Backend::Postgres {
            // PostgreSQL has no whole-database check an application can run; the server
            // checksums its own pages. Answering at all is what can be checked from here.
            return self.ping().await;
        }
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

    /// Starts a write transaction holding the store's single writer lock (see the crate docs).
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Any>, StoreError> {
        match self.backend {
            Backend::Sqlite => Ok(self.pool.begin_with("BEGIN IMMEDIATE").await?),
            Backend::Postgres => {
                let mut tx = self.pool.begin().await?;
                // Released at commit or rollback. One lock for the whole store mirrors SQLite's
                // single writer: the write paths read-then-write (conflict checks, the audit
                // tail id), which READ COMMITTED alone would let two servers interleave.
                sqlx::query("SELECT pg_advisory_xact_lock($1)")
                    .bind(PG_WRITE_LOCK_KEY)
                    .execute(&mut *tx)
                    .await?;
                Ok(tx)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sqlite_url_escapes_what_a_url_would_misread() {
        assert_eq!(
            sqlite_url(Path::new("/data/dais 1/a%b?c#d.sqlite")).unwrap(),
            "sqlite:///data/dais%201/a%25b%3Fc%23d.sqlite?mode=rwc"
        );
    }

    #[test]
    fn redacted_urls_keep_host_and_database_but_not_the_password() {
        assert_eq!(
            redact_url("postgres://dais:s3cret@db.example:5432/dais?sslmode=require"),
            "postgres://dais@db.example:5432/dais"
        );
        assert_eq!(
            redact_url("postgresql://db.example/dais"),
            "postgresql://db.example/dais"
        );
        assert_eq!(redact_url("postgres://u:p%40ss@h/d"), "postgres://u@h/d");
    }
}
