//! The store's error type, split by whose fault it is.

use std::path::PathBuf;

/// What went wrong in a store operation.
///
/// Variants fall in three groups: the *caller's* (or the person at the keyboard's) fault, which
/// an API answers with a 4xx; the *environment's* fault (disk, database file), which is a 5xx and
/// an operator alarm; and a *bug* or corrupt data, which should never happen.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum StoreError {
    // ---- caller's fault ----
    /// Unknown user name or wrong password (deliberately not told apart).
    #[error("wrong user name or password")]
    BadCredentials,
    /// Too many failed logins: the account is refused until `until` (Unix seconds).
    #[error("account locked until {until} (Unix seconds) after repeated failed logins")]
    Locked {
        /// End of the lockout, Unix seconds.
        until: i64,
    },
    /// The account exists but has been disabled by an administrator.
    #[error("account disabled")]
    Disabled,
    /// A row with the same unique key already exists.
    #[error("{what} already exists")]
    Conflict {
        /// What collided, e.g. `meeting 8001`.
        what: String,
    },
    /// A referenced row does not exist.
    #[error("{what} not found")]
    NotFound {
        /// What was looked up, e.g. `venue 7`.
        what: String,
    },
    /// The request clashes with an existing booking (same room, or a venue already booked, at
    /// an overlapping time).
    #[error("clashes with booking {booking}: {reason}")]
    Clash {
        /// The id of the clashing booking.
        booking: i64,
        /// What clashes.
        reason: String,
    },
    /// Not possible in the row's current state (e.g. approving a booking at the wrong stage).
    #[error("{reason}")]
    WrongState {
        /// Why.
        reason: String,
    },
    /// An argument failed validation before anything was written.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The argument or field name.
        field: &'static str,
        /// Why it was refused.
        reason: String,
    },

    // ---- environment's fault ----
    /// The data directory could not be created or used.
    #[error("data directory {path}: {source}")]
    DataDir {
        /// The directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The database refused or failed an operation (I/O, busy, full disk, ...).
    #[error("database: {0}")]
    Database(#[source] sqlx::Error),
    /// Applying the embedded migrations failed (e.g. the file is from a newer Dais).
    #[error("schema migration: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),

    // ---- bug or corrupt data ----
    /// A stored row could not be understood (hand-edited database, or a bug).
    #[error("corrupt row in {table}: {reason}")]
    Corrupt {
        /// The table.
        table: &'static str,
        /// What was wrong.
        reason: String,
    },
    /// An internal failure that is not the caller's fault (hashing failed, a worker panicked).
    #[error("internal: {0}")]
    Internal(String),
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        // Malformed rows are a data problem, not an I/O one; keep them apart so alarms differ.
        match e {
            sqlx::Error::ColumnDecode { index, source } => StoreError::Corrupt {
                table: "?",
                reason: format!("column {index}: {source}"),
            },
            other => StoreError::Database(other),
        }
    }
}

impl StoreError {
    /// True when the error is the caller's fault (bad input, unknown row, refused login), so an
    /// API should answer 4xx rather than 5xx.
    pub fn is_caller_fault(&self) -> bool {
        matches!(
            self,
            StoreError::BadCredentials
                | StoreError::Locked { .. }
                | StoreError::Disabled
                | StoreError::Conflict { .. }
                | StoreError::NotFound { .. }
                | StoreError::Invalid { .. }
                | StoreError::Clash { .. }
                | StoreError::WrongState { .. }
        )
    }
}

/// Maps a unique-constraint violation to [`StoreError::Conflict`], everything else through
/// `From<sqlx::Error>`.
pub(crate) fn conflict_or(e: sqlx::Error, what: impl FnOnce() -> String) -> StoreError {
    if let sqlx::Error::Database(db) = &e
        && db.is_unique_violation()
    {
        return StoreError::Conflict { what: what() };
    }
    StoreError::from(e)
}
