//! Equipment records per venue: monthly checks (and which are due), fault reports, and
//! equipment moves that close only after a passed joint test call.

use serde::Serialize;

use crate::audit::append_ok_in;
use crate::{Store, StoreError, VenueId};

/// A venue's equipment is checked every this many seconds (30 days: "monthly").
pub const CHECK_INTERVAL_SECS: i64 = 30 * 24 * 3600;
/// A check shows as due this long before it falls due (a week's reminder).
pub const CHECK_REMINDER_SECS: i64 = 7 * 24 * 3600;

/// One recorded check.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EquipmentCheck {
    /// Database id.
    pub id: i64,
    /// The venue.
    pub venue: VenueId,
    /// Who checked.
    pub checked_by: String,
    /// Everything worked.
    pub passed: bool,
    /// Findings.
    pub notes: String,
    /// When, Unix seconds.
    pub at: i64,
}

/// A venue whose check is due or overdue.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckDue {
    /// The venue.
    pub venue: VenueId,
    /// The last check, if any.
    pub last_check: Option<i64>,
    /// When the next check falls due: the last check (or, never checked, the venue's
    /// creation) plus [`CHECK_INTERVAL_SECS`].
    pub due_at: i64,
    /// Past `due_at`.
    pub overdue: bool,
}

/// Where a fault stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultStatus {
    /// Reported, not yet worked on.
    Open,
    /// Being repaired.
    InRepair,
    /// Repaired (final).
    Fixed,
    /// Cannot be repaired on site: reported to the IT centre (final).
    ReportedToItCentre,
}

impl FaultStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            FaultStatus::Open => "open",
            FaultStatus::InRepair => "in_repair",
            FaultStatus::Fixed => "fixed",
            FaultStatus::ReportedToItCentre => "reported_to_it_centre",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "open" => FaultStatus::Open,
            "in_repair" => FaultStatus::InRepair,
            "fixed" => FaultStatus::Fixed,
            "reported_to_it_centre" => FaultStatus::ReportedToItCentre,
            _ => return None,
        })
    }

    /// Whether a fault may go from `self` to `to`: open → in repair → fixed or reported to the
    /// IT centre (directly from open too); the last two are final.
    pub fn may_become(self, to: FaultStatus) -> bool {
        matches!(
            (self, to),
            (FaultStatus::Open, FaultStatus::InRepair)
                | (
                    FaultStatus::Open | FaultStatus::InRepair,
                    FaultStatus::Fixed | FaultStatus::ReportedToItCentre
                )
        )
    }
}

/// A fault report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Fault {
    /// Database id.
    pub id: i64,
    /// The venue.
    pub venue: VenueId,
    /// Who reported it.
    pub reported_by: String,
    /// What is wrong.
    pub description: String,
    /// Where it stands.
    pub status: FaultStatus,
    /// Reported at, Unix seconds.
    pub opened_at: i64,
    /// Last change, Unix seconds.
    pub updated_at: i64,
}

/// Where a move request stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MoveStatus {
    /// Applied for; the test call after the move is outstanding.
    Requested,
    /// The last test call failed; another is needed.
    TestFailed,
    /// A passed test call closed it.
    Closed,
}

impl MoveStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            MoveStatus::Requested => "requested",
            MoveStatus::TestFailed => "test_failed",
            MoveStatus::Closed => "closed",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "requested" => MoveStatus::Requested,
            "test_failed" => MoveStatus::TestFailed,
            "closed" => MoveStatus::Closed,
            _ => return None,
        })
    }
}

/// An equipment move request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct EquipmentMove {
    /// Database id.
    pub id: i64,
    /// The venue.
    pub venue: VenueId,
    /// Who applied.
    pub requested_by: String,
    /// What moves where.
    pub description: String,
    /// Where it stands.
    pub status: MoveStatus,
    /// Who recorded the last test call.
    pub test_by: Option<String>,
    /// The last test call's notes.
    pub test_notes: Option<String>,
    /// Applied at, Unix seconds.
    pub created_at: i64,
    /// Last change, Unix seconds.
    pub updated_at: i64,
}

fn text(field: &'static str, v: &str, allow_empty: bool) -> Result<(), StoreError> {
    if (!allow_empty && v.trim().is_empty())
        || v.len() > 4096
        || v.chars().any(|c| c.is_control() && c != '\n')
    {
        return Err(StoreError::Invalid {
            field,
            reason: "at most 4096 bytes without control characters".into(),
        });
    }
    Ok(())
}

type FaultRow = (i64, i64, String, String, String, i64, i64);
type MoveRow = (
    i64,
    i64,
    String,
    String,
    String,
    Option<String>,
    Option<String>,
    i64,
    i64,
);

fn fault_from(r: FaultRow) -> Result<Fault, StoreError> {
    Ok(Fault {
        id: r.0,
        venue: VenueId(r.1),
        reported_by: r.2,
        description: r.3,
        status: FaultStatus::parse(&r.4).ok_or_else(|| StoreError::Corrupt {
            table: "equipment_faults",
            reason: format!("unknown status {:?}", r.4),
        })?,
        opened_at: r.5,
        updated_at: r.6,
    })
}

fn move_from(r: MoveRow) -> Result<EquipmentMove, StoreError> {
    Ok(EquipmentMove {
        id: r.0,
        venue: VenueId(r.1),
        requested_by: r.2,
        description: r.3,
        status: MoveStatus::parse(&r.4).ok_or_else(|| StoreError::Corrupt {
            table: "equipment_moves",
            reason: format!("unknown status {:?}", r.4),
        })?,
        test_by: r.5,
        test_notes: r.6,
        created_at: r.7,
        updated_at: r.8,
    })
}

const FAULT_COLUMNS: &str = "SELECT id, venue_id, reported_by, description, status, opened_at, updated_at FROM equipment_faults";
const MOVE_COLUMNS: &str = "SELECT id, venue_id, requested_by, description, status, test_by, \
                            test_notes, created_at, updated_at FROM equipment_moves";

/// The two kinds of per-venue ticket: they share their insert and audit path.
#[derive(Debug, Clone, Copy)]
enum Ticket {
    Fault,
    Move,
}

impl Ticket {
    fn insert_sql(self) -> &'static str {
        match self {
            Ticket::Fault => {
                "INSERT INTO equipment_faults (venue_id, reported_by, description, status, \
                 opened_at, updated_at) VALUES ($1, $2, $3, 'open', $4, $5) RETURNING id"
            }
            Ticket::Move => {
                "INSERT INTO equipment_moves (venue_id, requested_by, description, status, \
                 created_at, updated_at) VALUES ($1, $2, $3, 'requested', $4, $5) RETURNING id"
            }
        }
    }

    fn audit_action(self) -> &'static str {
        match self {
            Ticket::Fault => "equipment.fault.open",
            Ticket::Move => "equipment.move.request",
        }
    }

    fn noun(self) -> &'static str {
        match self {
            Ticket::Fault => "fault",
            Ticket::Move => "move",
        }
    }
}

impl Store {
    async fn venue_exists(
        conn: &mut sqlx::AnyConnection,
        venue: VenueId,
    ) -> Result<(), StoreError> {
        let found: Option<i64> = sqlx::query_scalar("SELECT id FROM venues WHERE id = $1")
            .bind(venue.0)
            .fetch_optional(&mut *conn)
            .await?;
        found.map(|_| ()).ok_or_else(|| StoreError::NotFound {
            what: format!("venue {venue}"),
        })
    }

    /// Files a fault or a move request (the same shape: a venue, who filed it, a description)
    /// and audits it, in one write transaction. Returns the new id.
    async fn open_ticket(
        &self,
        kind: Ticket,
        actor: &str,
        venue: VenueId,
        description: &str,
        now: i64,
    ) -> Result<i64, StoreError> {
        text("description", description, false)?;
        let mut tx = self.begin_write().await?;
        Self::venue_exists(&mut tx, venue).await?;
        let id: i64 = sqlx::query_scalar(kind.insert_sql())
            .bind(venue.0)
            .bind(actor)
            .bind(description)
            .bind(now)
            .bind(now)
            .fetch_one(&mut *tx)
            .await?;
        append_ok_in(
            &mut tx,
            actor,
            kind.audit_action(),
            &format!("{} {id}", kind.noun()),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(id)
    }

    /// Records a monthly check of `venue`'s equipment.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown venue, [`StoreError::Invalid`] for bad notes,
    /// database errors.
    pub async fn record_check(
        &self,
        actor: &str,
        venue: VenueId,
        passed: bool,
        notes: &str,
        now: i64,
    ) -> Result<EquipmentCheck, StoreError> {
        text("notes", notes, true)?;
        let mut tx = self.begin_write().await?;
        Self::venue_exists(&mut tx, venue).await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO equipment_checks (venue_id, checked_by, passed, notes, at) \
             VALUES ($1, $2, $3, $4, $5) RETURNING id",
        )
        .bind(venue.0)
        .bind(actor)
        .bind(passed)
        .bind(notes)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        append_ok_in(
            &mut tx,
            actor,
            "equipment.check",
            &format!("venue {venue}"),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(EquipmentCheck {
            id,
            venue,
            checked_by: actor.to_owned(),
            passed,
            notes: notes.to_owned(),
            at: now,
        })
    }

    /// Every recorded check, newest first.
    ///
    /// # Errors
    ///
    /// Database errors.
    pub async fn list_checks(&self) -> Result<Vec<EquipmentCheck>, StoreError> {
        let rows: Vec<(i64, i64, String, i64, String, i64)> = sqlx::query_as(
            "SELECT id, venue_id, checked_by, CAST(passed AS INTEGER), notes, at FROM equipment_checks \
             ORDER BY at DESC, id DESC",
        )
        .fetch_all(&self.pool)
        .await?;
        Ok(rows
            .into_iter()
            .map(
                |(id, venue, checked_by, passed, notes, at)| EquipmentCheck {
                    id,
                    venue: VenueId(venue),
                    checked_by,
                    passed: passed != 0,
                    notes,
                    at,
                },
            )
            .collect())
    }

    /// The venues whose check falls due within [`CHECK_REMINDER_SECS`] of `now` or is
    /// overdue, most overdue first.
    ///
    /// # Errors
    ///
    /// Database errors.
    pub async fn checks_due(&self, now: i64) -> Result<Vec<CheckDue>, StoreError> {
        let rows: Vec<(i64, i64, Option<i64>)> = sqlx::query_as(
            "SELECT v.id, v.created_at, (SELECT MAX(c.at) FROM equipment_checks c \
             WHERE c.venue_id = v.id) FROM venues v ORDER BY v.id",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut due: Vec<CheckDue> = rows
            .into_iter()
            .filter_map(|(id, created, last)| {
                let due_at = last.unwrap_or(created).saturating_add(CHECK_INTERVAL_SECS);
                (now >= due_at.saturating_sub(CHECK_REMINDER_SECS)).then_some(CheckDue {
                    venue: VenueId(id),
                    last_check: last,
                    due_at,
                    overdue: now > due_at,
                })
            })
            .collect();
        due.sort_by_key(|d| (d.due_at, d.venue));
        Ok(due)
    }

    /// Opens a fault report on `venue`.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown venue, [`StoreError::Invalid`] for an empty
    /// description, database errors.
    pub async fn report_fault(
        &self,
        actor: &str,
        venue: VenueId,
        description: &str,
        now: i64,
    ) -> Result<Fault, StoreError> {
        let id = self
            .open_ticket(Ticket::Fault, actor, venue, description, now)
            .await?;
        Ok(Fault {
            id,
            venue,
            reported_by: actor.to_owned(),
            description: description.to_owned(),
            status: FaultStatus::Open,
            opened_at: now,
            updated_at: now,
        })
    }

    /// A fault by id.
    ///
    /// # Errors
    ///
    /// Database errors and corrupt rows.
    pub async fn fault(&self, id: i64) -> Result<Option<Fault>, StoreError> {
        let row: Option<FaultRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{FAULT_COLUMNS} WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        row.map(fault_from).transpose()
    }

    /// Every fault, newest first.
    ///
    /// # Errors
    ///
    /// Database errors and corrupt rows.
    pub async fn list_faults(&self) -> Result<Vec<Fault>, StoreError> {
        let rows: Vec<FaultRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{FAULT_COLUMNS} ORDER BY opened_at DESC, id DESC"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(fault_from).collect()
    }

    /// Moves fault `id` to `to` (see [`FaultStatus::may_become`]).
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown fault, [`StoreError::WrongState`] for a step
    /// the life cycle does not allow, database errors.
    pub async fn set_fault_status(
        &self,
        actor: &str,
        id: i64,
        to: FaultStatus,
        now: i64,
    ) -> Result<Fault, StoreError> {
        let mut tx = self.begin_write().await?;
        let row: Option<FaultRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{FAULT_COLUMNS} WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let mut f = row
            .map(fault_from)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("fault {id}"),
            })?;
        if !f.status.may_become(to) {
            return Err(StoreError::WrongState {
                reason: format!(
                    "fault {id} is {}; it cannot become {}",
                    f.status.as_str(),
                    to.as_str()
                ),
            });
        }
        sqlx::query("UPDATE equipment_faults SET status = $1, updated_at = $2 WHERE id = $3")
            .bind(to.as_str())
            .bind(now)
            .bind(id)
            .execute(&mut *tx)
            .await?;
        append_ok_in(
            &mut tx,
            actor,
            &format!("equipment.fault.{}", to.as_str()),
            &format!("fault {id}"),
            now,
        )
        .await?;
        tx.commit().await?;
        f.status = to;
        f.updated_at = now;
        Ok(f)
    }

    /// Files an equipment move request for `venue`.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown venue, [`StoreError::Invalid`] for an empty
    /// description, database errors.
    pub async fn request_move(
        &self,
        actor: &str,
        venue: VenueId,
        description: &str,
        now: i64,
    ) -> Result<EquipmentMove, StoreError> {
        let id = self
            .open_ticket(Ticket::Move, actor, venue, description, now)
            .await?;
        Ok(EquipmentMove {
            id,
            venue,
            requested_by: actor.to_owned(),
            description: description.to_owned(),
            status: MoveStatus::Requested,
            test_by: None,
            test_notes: None,
            created_at: now,
            updated_at: now,
        })
    }

    /// A move request by id.
    ///
    /// # Errors
    ///
    /// Database errors and corrupt rows.
    pub async fn equipment_move(&self, id: i64) -> Result<Option<EquipmentMove>, StoreError> {
        let row: Option<MoveRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{MOVE_COLUMNS} WHERE id = $1")))
                .bind(id)
                .fetch_optional(&self.pool)
                .await?;
        row.map(move_from).transpose()
    }

    /// Every move request, newest first.
    ///
    /// # Errors
    ///
    /// Database errors and corrupt rows.
    pub async fn list_moves(&self) -> Result<Vec<EquipmentMove>, StoreError> {
        let rows: Vec<MoveRow> = sqlx::query_as(sqlx::AssertSqlSafe(format!(
            "{MOVE_COLUMNS} ORDER BY created_at DESC, id DESC"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter().map(move_from).collect()
    }

    /// Records the joint test call after move `id`: a passed one closes the move, a failed one
    /// leaves it open (`test_failed`) for another call.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown move, [`StoreError::WrongState`] for a closed
    /// one, [`StoreError::Invalid`] for bad notes, database errors.
    pub async fn record_test_call(
        &self,
        actor: &str,
        id: i64,
        passed: bool,
        notes: &str,
        now: i64,
    ) -> Result<EquipmentMove, StoreError> {
        text("notes", notes, true)?;
        let mut tx = self.begin_write().await?;
        let row: Option<MoveRow> =
            sqlx::query_as(sqlx::AssertSqlSafe(format!("{MOVE_COLUMNS} WHERE id = $1")))
                .bind(id)
                .fetch_optional(&mut *tx)
                .await?;
        let mut m = row
            .map(move_from)
            .transpose()?
            .ok_or_else(|| StoreError::NotFound {
                what: format!("move {id}"),
            })?;
        if m.status == MoveStatus::Closed {
            return Err(StoreError::WrongState {
                reason: format!("move {id} is already closed by a passed test call"),
            });
        }
        let to = if passed {
            MoveStatus::Closed
        } else {
            MoveStatus::TestFailed
        };
        sqlx::query(
            "UPDATE equipment_moves SET status = $1, test_by = $2, test_notes = $3, updated_at = $4 \
             WHERE id = $5",
        )
        .bind(to.as_str())
        .bind(actor)
        .bind(notes)
        .bind(now)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        append_ok_in(
            &mut tx,
            actor,
            if passed {
                "equipment.move.test_passed"
            } else {
                "equipment.move.test_failed"
            },
            &format!("move {id}"),
            now,
        )
        .await?;
        tx.commit().await?;
        m.status = to;
        m.test_by = Some(actor.to_owned());
        m.test_notes = Some(notes.to_owned());
        m.updated_at = now;
        Ok(m)
    }
}
