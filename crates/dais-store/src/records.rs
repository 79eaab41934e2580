//! Meeting records as exported when a meeting ends (JSON and CSV, kept verbatim).

use crate::{Store, StoreError};

/// A stored meeting record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    /// The meeting's number.
    pub number: String,
    /// The record as JSON.
    pub json: String,
    /// The record as CSV.
    pub csv: String,
    /// When it was written, Unix seconds.
    pub written_at: i64,
}

impl Store {
    /// Stores (or replaces with a longer copy) a meeting's record. Not audited: the server
    /// copies the record while the meeting runs; the meeting's end is audited by its state.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for a meeting the store does not know, database errors.
    pub async fn save_meeting_record(
        &self,
        number: &str,
        json: &str,
        csv: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let known: Option<i64> = sqlx::query_scalar("SELECT id FROM meetings WHERE number = $1")
            .bind(number)
            .fetch_optional(&mut *tx)
            .await?;
        if known.is_none() {
            return Err(StoreError::NotFound {
                what: format!("meeting {number}"),
            });
        }
        sqlx::query(
            "INSERT INTO meeting_records (number, json, csv, written_at) VALUES ($1, $2, $3, $4) \
             ON CONFLICT (number) DO UPDATE SET json = excluded.json, csv = excluded.csv, \
             written_at = excluded.written_at",
        )
        .bind(number)
        .bind(json)
        .bind(csv)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// A meeting's stored record, if it has ended and one was written.
    ///
    /// # Errors
    ///
    /// Database errors.
    pub async fn meeting_record(&self, number: &str) -> Result<Option<StoredRecord>, StoreError> {
        let row: Option<(String, String, String, i64)> = sqlx::query_as(
            "SELECT number, json, csv, written_at FROM meeting_records WHERE number = $1",
        )
        .bind(number)
        .fetch_optional(&self.pool)
        .await?;
        Ok(row.map(|(number, json, csv, written_at)| StoredRecord {
            number,
            json,
            csv,
            written_at,
        }))
    }
}
