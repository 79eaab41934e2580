//! Meetings and their venue lists.

use std::collections::HashSet;

use sqlx::Row;
use sqlx::any::AnyRow;

use crate::audit::append_ok_in;
use crate::error::conflict_or;
use crate::{Meeting, MeetingId, MeetingState, NewMeeting, Store, StoreError, VenueId};

pub(crate) fn validate_number(number: &str) -> Result<(), StoreError> {
    if number.is_empty() || number.len() > 32 || !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(StoreError::Invalid {
            field: "number",
            reason: "must be 1 to 32 digits".into(),
        });
    }
    Ok(())
}

/// Inserts a validated meeting (venues main-first, checked for duplicates) and its audit row
/// inside the caller's write transaction; returns its id.
pub(crate) async fn insert_meeting_in(
    conn: &mut sqlx::AnyConnection,
    actor: &str,
    m: &NewMeeting<'_>,
    venues: &[VenueId],
    now: i64,
) -> Result<i64, StoreError> {
    for v in venues {
        let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM venues WHERE id = $1")
            .bind(v.0)
            .fetch_optional(&mut *conn)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound {
                what: format!("venue {v}"),
            });
        }
    }
    let id: i64 = sqlx::query_scalar(
        "INSERT INTO meetings (number, subject, main_venue_id, state, chair, created_at) \
             VALUES ($1, $2, $3, 'scheduled', $4, $5) RETURNING id",
    )
    .bind(m.number)
    .bind(m.subject)
    .bind(m.main_venue.0)
    .bind(m.chair)
    .bind(now)
    .fetch_one(&mut *conn)
    .await
    .map_err(|e| conflict_or(e, || format!("meeting {}", m.number)))?;
    for (pos, v) in venues.iter().enumerate() {
        sqlx::query(
            "INSERT INTO meeting_venues (meeting_id, venue_id, position) VALUES ($1, $2, $3)",
        )
        .bind(id)
        .bind(v.0)
        .bind(i64::try_from(pos).unwrap_or(i64::MAX))
        .execute(&mut *conn)
        .await?;
    }
    append_ok_in(&mut *conn, actor, "meeting.create", m.number, now).await?;
    Ok(id)
}

impl Store {
    /// Creates a meeting in state [`MeetingState::Scheduled`].
    ///
    /// # Errors
    ///
    /// [`StoreError::Invalid`] for a bad number, empty subject or duplicate venue,
    /// [`StoreError::NotFound`] for an unknown venue, [`StoreError::Conflict`] for a number in
    /// use, database errors.
    pub async fn create_meeting(
        &self,
        actor: &str,
        m: &NewMeeting<'_>,
        now: i64,
    ) -> Result<Meeting, StoreError> {
        validate_number(m.number)?;
        if m.subject.trim().is_empty() || m.subject.len() > 512 {
            return Err(StoreError::Invalid {
                field: "subject",
                reason: "must be 1 to 512 bytes".into(),
            });
        }
        if let Some(chair) = m.chair
            && (chair.trim().is_empty() || chair.len() > 64 || chair.chars().any(char::is_control))
        {
            return Err(StoreError::Invalid {
                field: "chair",
                reason: "must be 1 to 64 bytes without control characters".into(),
            });
        }
        let mut venues = Vec::with_capacity(m.venues.len() + 1);
        if !m.venues.contains(&m.main_venue) {
            venues.push(m.main_venue);
        }
        let mut seen = HashSet::new();
        for v in m.venues {
            if !seen.insert(*v) {
                return Err(StoreError::Invalid {
                    field: "venues",
                    reason: format!("venue {v} listed twice"),
                });
            }
            venues.push(*v);
        }
        // Keep the main venue first whatever order the caller used.
        if let Some(pos) = venues.iter().position(|v| *v == m.main_venue) {
            venues[..=pos].rotate_right(1);
        }

        let mut tx = self.begin_write().await?;
        let id = insert_meeting_in(&mut tx, actor, m, &venues, now).await?;
        tx.commit().await?;
        Ok(Meeting {
            id: MeetingId(id),
            number: m.number.to_owned(),
            subject: m.subject.to_owned(),
            main_venue: m.main_venue,
            venues,
            state: MeetingState::Scheduled,
            chair: m.chair.map(str::to_owned),
            created_at: now,
        })
    }

    /// A meeting by its dial number.
    ///
    /// # Errors
    ///
    /// Database errors and corrupt rows.
    pub async fn meeting(&self, number: &str) -> Result<Option<Meeting>, StoreError> {
        let row = sqlx::query(
            "SELECT id, number, subject, main_venue_id, state, chair, created_at FROM meetings \
             WHERE number = $1",
        )
        .bind(number)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            None => Ok(None),
            Some(row) => Ok(Some(self.meeting_from_row(&row).await?)),
        }
    }

    /// Every meeting, by id.
    ///
    /// # Errors
    ///
    /// Database errors and corrupt rows.
    pub async fn list_meetings(&self) -> Result<Vec<Meeting>, StoreError> {
        let rows = sqlx::query(
            "SELECT id, number, subject, main_venue_id, state, chair, created_at FROM meetings \
             ORDER BY id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for row in &rows {
            out.push(self.meeting_from_row(row).await?);
        }
        Ok(out)
    }

    /// Records a meeting's new state.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown number, database errors.
    pub async fn set_meeting_state(
        &self,
        actor: &str,
        number: &str,
        state: MeetingState,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let done = sqlx::query("UPDATE meetings SET state = $1 WHERE number = $2")
            .bind(state.as_str())
            .bind(number)
            .execute(&mut *tx)
            .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NotFound {
                what: format!("meeting {number}"),
            });
        }
        let action = format!("meeting.state.{}", state.as_str());
        append_ok_in(&mut tx, actor, &action, number, now).await?;
        tx.commit().await?;
        Ok(())
    }

    async fn meeting_from_row(&self, row: &AnyRow) -> Result<Meeting, StoreError> {
        let id: i64 = row.try_get("id")?;
        let state: &str = row.try_get("state")?;
        let venues: Vec<i64> = sqlx::query_scalar(
            "SELECT venue_id FROM meeting_venues WHERE meeting_id = $1 ORDER BY position",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        Ok(Meeting {
            id: MeetingId(id),
            number: row.try_get("number")?,
            subject: row.try_get("subject")?,
            main_venue: VenueId(row.try_get("main_venue_id")?),
            venues: venues.into_iter().map(VenueId).collect(),
            state: MeetingState::parse(state).ok_or_else(|| StoreError::Corrupt {
                table: "meetings",
                reason: format!("unknown state {state:?}"),
            })?,
            chair: row.try_get("chair")?,
            created_at: row.try_get("created_at")?,
        })
    }
}
