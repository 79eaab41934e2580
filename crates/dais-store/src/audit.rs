//! The append-only, hash-chained audit log.
//!
//! Row *n* stores `hash_n = SHA-256(hash_{n-1} || "\n" || canonical(row_n))` with
//! `hash_0 = 64 zeros`, where `canonical` is the compact JSON array
//! `[id, actor, action, target, at, from, result]`. Editing, deleting or reordering a row
//! breaks the chain from that row on, which [`Store::verify_audit_chain`] reports. The chain
//! does not stop someone who rewrites the whole tail with recomputed hashes; anchoring the
//! latest hash elsewhere (a signed daily export) is what would, and is left for later.

use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::{AuditEntry, AuditEvent, AuditResult, Store, StoreError};

/// The `prev_hash` of the first row.
const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// Why [`Store::verify_audit_chain`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum AuditChainError {
    /// The row with this id does not match its stored hash or does not follow the row before
    /// it: it, or the one before it, was edited, deleted or inserted behind the store's back.
    #[error("audit chain broken at row {id}")]
    BrokenAt {
        /// The first row that fails.
        id: i64,
    },
    /// The log could not be read.
    #[error(transparent)]
    Store(#[from] StoreError),
}

fn canonical(
    id: i64,
    actor: &str,
    action: &str,
    target: &str,
    at: i64,
    from: Option<&str>,
    result: &str,
) -> String {
    // serde_json writes a tuple as a compact array with escaped strings: unambiguous and
    // stable, and easy to reproduce in another language for an external audit.
    serde_json::to_string(&(id, actor, action, target, at, from, result))
        .unwrap_or_else(|_| String::new())
}

fn chain_hash(prev: &str, canonical: &str) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
    h.update(b"\n");
    h.update(canonical.as_bytes());
    hex::encode(h.finalize())
}

/// Appends `ev` inside the caller's write transaction (which must have been started with
/// `BEGIN IMMEDIATE`, so no other writer can append between our read of the tail and our
/// insert).
pub(crate) async fn append_in(
    conn: &mut sqlx::AnyConnection,
    ev: &AuditEvent<'_>,
) -> Result<i64, StoreError> {
    let tail: Option<(i64, String)> =
        sqlx::query_as("SELECT id, hash FROM audit_log ORDER BY id DESC LIMIT 1")
            .fetch_optional(&mut *conn)
            .await?;
    let (id, prev) = match tail {
        Some((id, hash)) => (id + 1, hash),
        None => (1, GENESIS.to_owned()),
    };
    let result = ev.result.to_stored();
    let canon = canonical(id, ev.actor, ev.action, ev.target, ev.at, ev.from, &result);
    let hash = chain_hash(&prev, &canon);
    sqlx::query(
        "INSERT INTO audit_log (id, actor, action, target, at, from_addr, result, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
    )
    .bind(id)
    .bind(ev.actor)
    .bind(ev.action)
    .bind(ev.target)
    .bind(ev.at)
    .bind(ev.from)
    .bind(&result)
    .bind(&prev)
    .bind(&hash)
    .execute(&mut *conn)
    .await?;
    Ok(id)
}

/// [`append_in`] for the common case: a successful action by `actor`, not from the network.
pub(crate) async fn append_ok_in(
    conn: &mut sqlx::AnyConnection,
    actor: &str,
    action: &str,
    target: &str,
    at: i64,
) -> Result<i64, StoreError> {
    append_in(
        conn,
        &AuditEvent {
            actor,
            action,
            target,
            at,
            from: None,
            result: AuditResult::Ok,
        },
    )
    .await
}

fn entry_from_row(row: &AnyRow) -> Result<AuditEntry, StoreError> {
    Ok(AuditEntry {
        id: row.try_get("id")?,
        actor: row.try_get("actor")?,
        action: row.try_get("action")?,
        target: row.try_get("target")?,
        at: row.try_get("at")?,
        from: row.try_get("from_addr")?,
        result: AuditResult::from_stored(row.try_get::<&str, _>("result")?),
        prev_hash: row.try_get("prev_hash")?,
        hash: row.try_get("hash")?,
    })
}

impl Store {
    /// Appends one audit row in its own transaction and returns its id.
    ///
    /// # Errors
    ///
    /// Database errors.
    pub async fn audit(&self, ev: &AuditEvent<'_>) -> Result<i64, StoreError> {
        let mut tx = self.begin_write().await?;
        let id = append_in(&mut tx, ev).await?;
        tx.commit().await?;
        Ok(id)
    }

    /// The most recent `limit` audit rows, newest first.
    ///
    /// # Errors
    ///
    /// Database errors.
    pub async fn recent_audit(&self, limit: u32) -> Result<Vec<AuditEntry>, StoreError> {
        let rows = sqlx::query("SELECT * FROM audit_log ORDER BY id DESC LIMIT $1")
            .bind(i64::from(limit))
            .fetch_all(&self.pool)
            .await?;
        rows.iter().map(entry_from_row).collect()
    }

    /// Re-computes the whole chain and reports the first row that does not match.
    ///
    /// Reads in pages so a long log does not sit in memory at once.
    ///
    /// # Errors
    ///
    /// [`AuditChainError::BrokenAt`] naming the first bad row; [`AuditChainError::Store`] when
    /// the log cannot be read.
    pub async fn verify_audit_chain(&self) -> Result<(), AuditChainError> {
        const PAGE: i64 = 1000;
        let mut prev = GENESIS.to_owned();
        let mut expected_id = 1i64;
        loop {
            let rows = sqlx::query("SELECT * FROM audit_log WHERE id >= $1 ORDER BY id LIMIT $2")
                .bind(expected_id)
                .bind(PAGE)
                .fetch_all(&self.pool)
                .await
                .map_err(StoreError::from)?;
            if rows.is_empty() {
                break;
            }
            for row in &rows {
                let e = entry_from_row(row)?;
                // Hash the stored text itself, not a re-rendering of its parsed form.
                let raw_result: &str = row.try_get("result").map_err(StoreError::from)?;
                // A gap means a deleted row; the row after the gap is where the chain breaks.
                let canon = canonical(
                    e.id,
                    &e.actor,
                    &e.action,
                    &e.target,
                    e.at,
                    e.from.as_deref(),
                    raw_result,
                );
                if e.id != expected_id || e.prev_hash != prev || chain_hash(&prev, &canon) != e.hash
                {
                    return Err(AuditChainError::BrokenAt { id: e.id });
                }
                prev = e.hash;
                expected_id += 1;
            }
        }
        Ok(())
    }
}
