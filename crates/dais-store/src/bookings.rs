//! Bookings (the meeting application form), their three-stage approval, and the schedule the
//! approved ones make.
//!
//! A booking waits at one stage at a time, in the regulation's order: the applying unit's head,
//! then the IT centre, then the department leader. A rejection at any stage ends it; the last
//! approval creates the scheduled meeting in the same transaction, so an approved booking
//! always has its meeting.

use std::collections::HashSet;

use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::audit::append_ok_in;
use crate::meetings::{insert_meeting_in, validate_number};
use crate::{ApprovalStage, MeetingState, NewMeeting, Store, StoreError, VenueId};

/// The first number given to a meeting created from a booking without a wanted number.
pub const FIRST_ALLOCATED_NUMBER: u64 = 8001;

/// Where a booking stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BookingStatus {
    /// Waiting for the applying unit's head.
    PendingUnitHead,
    /// Waiting for the IT centre.
    PendingItCentre,
    /// Waiting for the department leader.
    PendingDepartmentLeader,
    /// Approved by all three; the meeting is scheduled.
    Approved,
    /// Rejected at one stage.
    Rejected,
}

impl BookingStatus {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            BookingStatus::PendingUnitHead => "pending_unit_head",
            BookingStatus::PendingItCentre => "pending_it_centre",
            BookingStatus::PendingDepartmentLeader => "pending_department_leader",
            BookingStatus::Approved => "approved",
            BookingStatus::Rejected => "rejected",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "pending_unit_head" => BookingStatus::PendingUnitHead,
            "pending_it_centre" => BookingStatus::PendingItCentre,
            "pending_department_leader" => BookingStatus::PendingDepartmentLeader,
            "approved" => BookingStatus::Approved,
            "rejected" => BookingStatus::Rejected,
            _ => return None,
        })
    }

    /// The stage the booking waits at, if it is still pending.
    pub fn stage(self) -> Option<ApprovalStage> {
        match self {
            BookingStatus::PendingUnitHead => Some(ApprovalStage::UnitHead),
            BookingStatus::PendingItCentre => Some(ApprovalStage::ItCentre),
            BookingStatus::PendingDepartmentLeader => Some(ApprovalStage::DepartmentLeader),
            BookingStatus::Approved | BookingStatus::Rejected => None,
        }
    }

    fn waiting_at(stage: ApprovalStage) -> Self {
        match stage {
            ApprovalStage::UnitHead => BookingStatus::PendingUnitHead,
            ApprovalStage::ItCentre => BookingStatus::PendingItCentre,
            ApprovalStage::DepartmentLeader => BookingStatus::PendingDepartmentLeader,
        }
    }
}

/// The stage after `stage`, or `None` after the last one.
fn next_stage(stage: ApprovalStage) -> Option<ApprovalStage> {
    match stage {
        ApprovalStage::UnitHead => Some(ApprovalStage::ItCentre),
        ApprovalStage::ItCentre => Some(ApprovalStage::DepartmentLeader),
        ApprovalStage::DepartmentLeader => None,
    }
}

/// One stage's decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Opinion {
    /// The stage.
    pub stage: ApprovalStage,
    /// Who decided (operator user name).
    pub approver: String,
    /// Approved (true) or rejected.
    pub approved: bool,
    /// The written opinion.
    pub opinion: String,
    /// When, Unix seconds.
    pub at: i64,
}

/// A stored booking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Booking {
    /// Database id (the booking's reference).
    pub id: i64,
    /// The operator who filed it.
    pub applicant: String,
    /// The applying unit.
    pub applying_unit: String,
    /// Subject (meeting content).
    pub subject: String,
    /// Who attends.
    pub attendees: String,
    /// How many attend.
    pub attendee_count: u32,
    /// Start, Unix seconds.
    pub starts_at: i64,
    /// End, Unix seconds.
    pub ends_at: i64,
    /// The meeting room (from the configured catalogue).
    pub room: String,
    /// Venues to connect, main venue first.
    pub venues: Vec<VenueId>,
    /// Remarks.
    pub remarks: String,
    /// The chair operator for the meeting, if named.
    pub chair: Option<String>,
    /// The dial number asked for, if any.
    pub wanted_number: Option<String>,
    /// Where it stands.
    pub status: BookingStatus,
    /// The scheduled meeting's number once approved.
    pub meeting_number: Option<String>,
    /// The decisions so far, in stage order.
    pub opinions: Vec<Opinion>,
    /// Filing time, Unix seconds.
    pub created_at: i64,
}

/// Input to [`Store::create_booking`].
#[derive(Debug, Clone)]
pub struct NewBooking<'a> {
    /// The applying unit.
    pub applying_unit: &'a str,
    /// Subject.
    pub subject: &'a str,
    /// Who attends.
    pub attendees: &'a str,
    /// How many attend.
    pub attendee_count: u32,
    /// Start, Unix seconds.
    pub starts_at: i64,
    /// End, Unix seconds (after the start).
    pub ends_at: i64,
    /// Meeting room (the caller checks it against its catalogue).
    pub room: &'a str,
    /// Venues to connect, main venue first (at least one, no duplicates, must exist).
    pub venues: &'a [VenueId],
    /// Remarks (may be empty).
    pub remarks: &'a str,
    /// The chair operator, if named.
    pub chair: Option<&'a str>,
    /// A dial number wanted for the meeting; one is allocated at approval otherwise.
    pub meeting_number: Option<&'a str>,
}

/// An approved booking's meeting that has not ended: what the scheduler acts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledStart {
    /// Meeting number.
    pub number: String,
    /// Start, Unix seconds.
    pub starts_at: i64,
    /// End, Unix seconds.
    pub ends_at: i64,
    /// The meeting's stored state (`Scheduled`, `Testing` or `Live`).
    pub state: MeetingState,
}

fn text(field: &'static str, v: &str, max: usize, allow_empty: bool) -> Result<(), StoreError> {
    let empty_bad = !allow_empty && v.trim().is_empty();
    if empty_bad || v.len() > max || v.chars().any(|c| c.is_control() && c != '\n') {
        return Err(StoreError::Invalid {
            field,
            reason: format!(
                "must be {} to {max} bytes without control characters",
                u8::from(!allow_empty)
            ),
        });
    }
    Ok(())
}

/// Longest booking accepted: a day. A longer one is a typo in the end date.
const MAX_BOOKING_SECS: i64 = 24 * 3600;

const BOOKING_COLUMNS: &str = "id, applicant, applying_unit, subject, attendees, attendee_count, \
     starts_at, ends_at, room, remarks, chair, wanted_number, status, meeting_number, created_at";

impl Store {
    /// Files a booking, waiting for the unit head's opinion.
    ///
    /// # Errors
    ///
    /// [`StoreError::Invalid`] for a bad field or a booking that ends in the past,
    /// [`StoreError::NotFound`] for an unknown venue, [`StoreError::Clash`] naming the first
    /// booking (not rejected) that has the same room or one of the venues at an overlapping
    /// time, database errors.
    pub async fn create_booking(
        &self,
        actor: &str,
        b: &NewBooking<'_>,
        now: i64,
    ) -> Result<Booking, StoreError> {
        text("applying_unit", b.applying_unit, 256, false)?;
        text("subject", b.subject, 512, false)?;
        text("attendees", b.attendees, 4096, false)?;
        text("room", b.room, 128, false)?;
        text("remarks", b.remarks, 4096, true)?;
        if let Some(c) = b.chair {
            text("chair", c, 64, false)?;
        }
        if let Some(n) = b.meeting_number {
            validate_number(n)?;
        }
        if b.ends_at <= b.starts_at || b.ends_at - b.starts_at > MAX_BOOKING_SECS {
            return Err(StoreError::Invalid {
                field: "ends_at",
                reason: "must be after the start and at most a day later".into(),
            });
        }
        if b.ends_at <= now {
            return Err(StoreError::Invalid {
                field: "ends_at",
                reason: "the booking is already over".into(),
            });
        }
        if b.venues.is_empty() {
            return Err(StoreError::Invalid {
                field: "venues",
                reason: "at least one venue (the main venue first)".into(),
            });
        }
        let mut seen = HashSet::new();
        for v in b.venues {
            if !seen.insert(*v) {
                return Err(StoreError::Invalid {
                    field: "venues",
                    reason: format!("venue {v} listed twice"),
                });
            }
        }

        // No booking is longer than MAX_BOOKING_SECS, so one that overlaps starts after this:
        // the bound keeps the overlap queries an index range of about a day, not every
        // earlier booking.
        let earliest = b.starts_at - MAX_BOOKING_SECS;
        let mut tx = self.begin_write().await?;
        let room_clash: Option<(i64, String)> = sqlx::query_as(
            "SELECT id, subject FROM bookings WHERE room = $1 AND status <> 'rejected' \
             AND starts_at < $2 AND starts_at > $3 AND ends_at > $4 ORDER BY starts_at LIMIT 1",
        )
        .bind(b.room)
        .bind(b.ends_at)
        .bind(earliest)
        .bind(b.starts_at)
        .fetch_optional(&mut *tx)
        .await?;
        if let Some((id, subject)) = room_clash {
            return Err(StoreError::Clash {
                booking: id,
                reason: format!(
                    "room {:?} is booked for {subject:?} at an overlapping time",
                    b.room
                ),
            });
        }
        for v in b.venues {
            let name: Option<String> = sqlx::query_scalar("SELECT name FROM venues WHERE id = $1")
                .bind(v.0)
                .fetch_optional(&mut *tx)
                .await?;
            let Some(name) = name else {
                return Err(StoreError::NotFound {
                    what: format!("venue {v}"),
                });
            };
            let clash: Option<(i64, String)> = sqlx::query_as(
                "SELECT b.id, b.subject FROM bookings b \
                 JOIN booking_venues bv ON bv.booking_id = b.id \
                 WHERE bv.venue_id = $1 AND b.status <> 'rejected' \
                 AND b.starts_at < $2 AND b.starts_at > $3 AND b.ends_at > $4 \
                 ORDER BY b.starts_at LIMIT 1",
            )
            .bind(v.0)
            .bind(b.ends_at)
            .bind(earliest)
            .bind(b.starts_at)
            .fetch_optional(&mut *tx)
            .await?;
            if let Some((id, subject)) = clash {
                return Err(StoreError::Clash {
                    booking: id,
                    reason: format!(
                        "venue {name} is booked for {subject:?} at an overlapping time"
                    ),
                });
            }
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO bookings (applicant, applying_unit, subject, attendees, attendee_count, \
             starts_at, ends_at, room, remarks, chair, wanted_number, status, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 'pending_unit_head', $12) RETURNING id",
        )
        .bind(actor)
        .bind(b.applying_unit)
        .bind(b.subject)
        .bind(b.attendees)
        .bind(i64::from(b.attendee_count))
        .bind(b.starts_at)
        .bind(b.ends_at)
        .bind(b.room)
        .bind(b.remarks)
        .bind(b.chair)
        .bind(b.meeting_number)
        .bind(now)
        .fetch_one(&mut *tx)
        .await?;
        for (pos, v) in b.venues.iter().enumerate() {
            sqlx::query(
                "INSERT INTO booking_venues (booking_id, venue_id, position) VALUES ($1, $2, $3)",
            )
            .bind(id)
            .bind(v.0)
            .bind(i64::try_from(pos).unwrap_or(i64::MAX))
            .execute(&mut *tx)
            .await?;
        }
        append_ok_in(
            &mut tx,
            actor,
            "booking.create",
            &format!("booking {id}"),
            now,
        )
        .await?;
        tx.commit().await?;
        self.booking(id)
            .await?
            .ok_or_else(|| StoreError::Internal(format!("booking {id} vanished")))
    }

    /// A booking by id, with its venues and opinions.
    ///
    /// # Errors
    ///
    /// Database errors and corrupt rows.
    pub async fn booking(&self, id: i64) -> Result<Option<Booking>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings WHERE id = $1"
        )))
        .bind(id)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            None => Ok(None),
            Some(r) => Ok(Some(self.booking_from_row(&r).await?)),
        }
    }

    /// Every booking, by start time.
    ///
    /// # Errors
    ///
    /// Database errors and corrupt rows.
    pub async fn list_bookings(&self) -> Result<Vec<Booking>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings ORDER BY starts_at, id"
        )))
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.booking_from_row(r).await?);
        }
        Ok(out)
    }

    /// The bookings waiting for `stage`'s opinion, by start time (an approver's inbox).
    ///
    /// # Errors
    ///
    /// Database errors and corrupt rows.
    pub async fn bookings_waiting_for(
        &self,
        stage: ApprovalStage,
    ) -> Result<Vec<Booking>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {BOOKING_COLUMNS} FROM bookings WHERE status = $1 ORDER BY starts_at, id"
        )))
        .bind(BookingStatus::waiting_at(stage).as_str())
        .fetch_all(&self.pool)
        .await?;
        let mut out = Vec::with_capacity(rows.len());
        for r in &rows {
            out.push(self.booking_from_row(r).await?);
        }
        Ok(out)
    }

    /// Records `stage`'s decision on booking `id`. Approval moves it to the next stage; the
    /// last approval creates the scheduled meeting (the wanted number, or the lowest free
    /// number from [`FIRST_ALLOCATED_NUMBER`] up) in the same transaction. Who may decide at
    /// which stage is the caller's check.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown booking, [`StoreError::WrongState`] when the
    /// booking is not waiting at `stage` (decided, or at another stage),
    /// [`StoreError::Invalid`] for an empty opinion, [`StoreError::Conflict`] when the wanted
    /// number is taken by then, database errors.
    pub async fn decide_booking(
        &self,
        actor: &str,
        id: i64,
        stage: ApprovalStage,
        approved: bool,
        opinion: &str,
        now: i64,
    ) -> Result<Booking, StoreError> {
        text("opinion", opinion, 4096, false)?;
        let mut tx = self.begin_write().await?;
        let row: Option<(String, String, Option<String>, Option<String>)> = sqlx::query_as(
            "SELECT status, subject, chair, wanted_number FROM bookings WHERE id = $1",
        )
        .bind(id)
        .fetch_optional(&mut *tx)
        .await?;
        let Some((status, subject, chair, wanted)) = row else {
            return Err(StoreError::NotFound {
                what: format!("booking {id}"),
            });
        };
        let status = parse_status(&status)?;
        if status.stage() != Some(stage) {
            let at = status.stage().map_or_else(
                || status.as_str().to_owned(),
                |s| format!("waiting for {}", s.as_str()),
            );
            return Err(StoreError::WrongState {
                reason: format!("booking {id} is {at}, not waiting for {}", stage.as_str()),
            });
        }
        sqlx::query(
            "INSERT INTO booking_opinions (booking_id, stage, approver, approved, opinion, at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(id)
        .bind(stage.as_str())
        .bind(actor)
        .bind(approved)
        .bind(opinion)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        let next = if !approved {
            BookingStatus::Rejected
        } else {
            next_stage(stage).map_or(BookingStatus::Approved, BookingStatus::waiting_at)
        };
        let mut number = None;
        if next == BookingStatus::Approved {
            let n = match wanted {
                Some(n) => n,
                None => {
                    let used: Vec<String> = sqlx::query_scalar("SELECT number FROM meetings")
                        .fetch_all(&mut *tx)
                        .await?;
                    let used: HashSet<u64> = used.iter().filter_map(|n| n.parse().ok()).collect();
                    (FIRST_ALLOCATED_NUMBER..)
                        .find(|n| !used.contains(n))
                        .unwrap_or(FIRST_ALLOCATED_NUMBER)
                        .to_string()
                }
            };
            let venues: Vec<i64> = sqlx::query_scalar(
                "SELECT venue_id FROM booking_venues WHERE booking_id = $1 ORDER BY position",
            )
            .bind(id)
            .fetch_all(&mut *tx)
            .await?;
            let venues: Vec<VenueId> = venues.into_iter().map(VenueId).collect();
            let main = *venues.first().ok_or_else(|| StoreError::Corrupt {
                table: "booking_venues",
                reason: format!("booking {id} has no venue"),
            })?;
            insert_meeting_in(
                &mut tx,
                actor,
                &NewMeeting {
                    number: &n,
                    subject: &subject,
                    main_venue: main,
                    venues: &venues,
                    chair: chair.as_deref(),
                },
                &venues,
                now,
            )
            .await?;
            number = Some(n);
        }
        sqlx::query("UPDATE bookings SET status = $1, meeting_number = $2 WHERE id = $3")
            .bind(next.as_str())
            .bind(number.as_deref())
            .bind(id)
            .execute(&mut *tx)
            .await?;
        let action = format!(
            "booking.{}.{}",
            if approved { "approve" } else { "reject" },
            stage.as_str()
        );
        append_ok_in(&mut tx, actor, &action, &format!("booking {id}"), now).await?;
        tx.commit().await?;
        self.booking(id)
            .await?
            .ok_or_else(|| StoreError::Internal(format!("booking {id} vanished")))
    }

    /// The booked end of meeting `number` (Unix seconds), when an approved booking created it.
    ///
    /// # Errors
    ///
    /// Database errors.
    pub async fn booked_end(&self, number: &str) -> Result<Option<i64>, StoreError> {
        Ok(sqlx::query_scalar(
            "SELECT ends_at FROM bookings WHERE meeting_number = $1 AND status = 'approved'",
        )
        .bind(number)
        .fetch_optional(&self.pool)
        .await?)
    }

    /// The meetings of approved bookings that have not ended (`scheduled`, `testing` or
    /// `live`), by start: what a (re)started scheduler has to act on.
    ///
    /// # Errors
    ///
    /// Database errors and corrupt rows.
    pub async fn scheduled_starts(&self) -> Result<Vec<ScheduledStart>, StoreError> {
        let rows: Vec<(String, i64, i64, String)> = sqlx::query_as(
            "SELECT b.meeting_number, b.starts_at, b.ends_at, m.state FROM bookings b \
             JOIN meetings m ON m.number = b.meeting_number \
             WHERE b.status = 'approved' AND m.state IN ('scheduled', 'testing', 'live') \
             ORDER BY b.starts_at, b.id",
        )
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(number, starts_at, ends_at, state)| {
                Ok(ScheduledStart {
                    number,
                    starts_at,
                    ends_at,
                    state: MeetingState::parse(&state).ok_or_else(|| StoreError::Corrupt {
                        table: "meetings",
                        reason: format!("unknown state {state:?}"),
                    })?,
                })
            })
            .collect()
    }

    async fn booking_from_row(&self, row: &AnyRow) -> Result<Booking, StoreError> {
        let id: i64 = row.try_get("id")?;
        let venues: Vec<i64> = sqlx::query_scalar(
            "SELECT venue_id FROM booking_venues WHERE booking_id = $1 ORDER BY position",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let ops: Vec<(String, String, i64, String, i64)> = sqlx::query_as(
            "SELECT stage, approver, CAST(approved AS INTEGER), opinion, at FROM booking_opinions \
             WHERE booking_id = $1 ORDER BY at, CASE stage WHEN 'unit_head' THEN 0 WHEN 'it_centre' THEN 1 ELSE 2 END",
        )
        .bind(id)
        .fetch_all(&self.pool)
        .await?;
        let mut opinions = Vec::with_capacity(ops.len());
        for (stage, approver, approved, opinion, at) in ops {
            opinions.push(Opinion {
                stage: ApprovalStage::parse(&stage).ok_or_else(|| StoreError::Corrupt {
                    table: "booking_opinions",
                    reason: format!("unknown stage {stage:?}"),
                })?,
                approver,
                approved: approved != 0,
                opinion,
                at,
            });
        }
        let count: i64 = row.try_get("attendee_count")?;
        Ok(Booking {
            id,
            applicant: row.try_get("applicant")?,
            applying_unit: row.try_get("applying_unit")?,
            subject: row.try_get("subject")?,
            attendees: row.try_get("attendees")?,
            attendee_count: u32::try_from(count).unwrap_or(u32::MAX),
            starts_at: row.try_get("starts_at")?,
            ends_at: row.try_get("ends_at")?,
            room: row.try_get("room")?,
            venues: venues.into_iter().map(VenueId).collect(),
            remarks: row.try_get("remarks")?,
            chair: row.try_get("chair")?,
            wanted_number: row.try_get("wanted_number")?,
            status: parse_status(row.try_get::<&str, _>("status")?)?,
            meeting_number: row.try_get("meeting_number")?,
            opinions,
            created_at: row.try_get("created_at")?,
        })
    }
}

fn parse_status(s: &str) -> Result<BookingStatus, StoreError> {
    BookingStatus::parse(s).ok_or_else(|| StoreError::Corrupt {
        table: "bookings",
        reason: format!("unknown status {s:?}"),
    })
}
