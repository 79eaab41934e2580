//! Sites and their two administrators (the A and B slots), with the history of every
//! replacement.

use serde::Serialize;

use crate::audit::append_ok_in;
use crate::error::conflict_or;
use crate::{Role, Store, StoreError};

/// One of a site's two administrator slots.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Slot {
    /// The primary administrator.
    A,
    /// The backup administrator.
    B,
}

impl Slot {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            Slot::A => "a",
            Slot::B => "b",
        }
    }

    /// Parses `a`/`b` (either case).
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "a" | "A" => Some(Slot::A),
            "b" | "B" => Some(Slot::B),
            _ => None,
        }
    }
}

/// Why a slot changed hands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum SlotChangeReason {
    /// Filling a vacant slot.
    Appointment,
    /// The holder moved to another post.
    Transfer,
    /// The holder is on leave.
    Leave,
    /// The holder resigned.
    Resignation,
    /// The holder retired.
    Retirement,
}

impl SlotChangeReason {
    /// The stored spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            SlotChangeReason::Appointment => "appointment",
            SlotChangeReason::Transfer => "transfer",
            SlotChangeReason::Leave => "leave",
            SlotChangeReason::Resignation => "resignation",
            SlotChangeReason::Retirement => "retirement",
        }
    }

    /// Parses the stored spelling.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "appointment" => SlotChangeReason::Appointment,
            "transfer" => SlotChangeReason::Transfer,
            "leave" => SlotChangeReason::Leave,
            "resignation" => SlotChangeReason::Resignation,
            "retirement" => SlotChangeReason::Retirement,
            _ => return None,
        })
    }
}

/// A slot's holder.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotHolder {
    /// The operator's user name, `None` when vacant.
    pub operator: Option<String>,
    /// Since when, Unix seconds.
    pub since: i64,
}

/// A site with its A/B pair.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Site {
    /// The site's name (as in the venues' `site` and site administrators' role).
    pub name: String,
    /// Primary administrator.
    pub a: SlotHolder,
    /// Backup administrator.
    pub b: SlotHolder,
}

impl Site {
    /// True when either slot is empty.
    pub fn has_vacancy(&self) -> bool {
        self.a.operator.is_none() || self.b.operator.is_none()
    }
}

/// One change of a slot.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SlotChange {
    /// The site.
    pub site: String,
    /// The slot.
    pub slot: Slot,
    /// Who held it before (`None`: vacant).
    pub previous: Option<String>,
    /// Who holds it after (`None`: vacated).
    pub next: Option<String>,
    /// Why.
    pub reason: SlotChangeReason,
    /// Free text (e.g. the transfer order's reference).
    pub note: String,
    /// The operator who recorded it.
    pub by: String,
    /// When, Unix seconds.
    pub at: i64,
}

/// Input to [`Store::set_site_admin`].
#[derive(Debug, Clone, Copy)]
pub struct SlotAssignment<'a> {
    /// The site.
    pub site: &'a str,
    /// Which slot.
    pub slot: Slot,
    /// The new holder, or `None` to leave the slot vacant.
    pub operator: Option<&'a str>,
    /// Why.
    pub reason: SlotChangeReason,
    /// Free text (at most 1024 bytes).
    pub note: &'a str,
}

fn validate_site(name: &str) -> Result<(), StoreError> {
    let ok = !name.is_empty()
        && name.len() <= 32
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            field: "name",
            reason: "1 to 32 characters from a-z 0-9 - _".into(),
        })
    }
}

impl Store {
    /// Registers a site with both slots vacant.
    ///
    /// # Errors
    ///
    /// [`StoreError::Invalid`] for a bad name, [`StoreError::Conflict`] when it exists,
    /// database errors.
    pub async fn create_site(&self, actor: &str, name: &str, now: i64) -> Result<Site, StoreError> {
        validate_site(name)?;
        let mut tx = self.begin_write().await?;
        sqlx::query("INSERT INTO sites (name, created_at) VALUES ($1, $2)")
            .bind(name)
            .bind(now)
            .execute(&mut *tx)
            .await
            .map_err(|e| conflict_or(e, || format!("site {name}")))?;
        for slot in [Slot::A, Slot::B] {
            sqlx::query(
                "INSERT INTO site_admin_slots (site, slot, operator, since) VALUES ($1, $2, NULL, $3)",
            )
            .bind(name)
            .bind(slot.as_str())
            .bind(now)
            .execute(&mut *tx)
            .await?;
        }
        append_ok_in(&mut tx, actor, "site.create", name, now).await?;
        tx.commit().await?;
        let vacant = SlotHolder {
            operator: None,
            since: now,
        };
        Ok(Site {
            name: name.to_owned(),
            a: vacant.clone(),
            b: vacant,
        })
    }

    /// Every site with its pair, by name.
    ///
    /// # Errors
    ///
    /// Database errors and corrupt rows.
    pub async fn list_sites(&self) -> Result<Vec<Site>, StoreError> {
        let rows: Vec<(String, String, Option<String>, i64)> = sqlx::query_as(
            "SELECT site, slot, operator, since FROM site_admin_slots ORDER BY site, slot",
        )
        .fetch_all(&self.pool)
        .await?;
        let mut out: Vec<Site> = Vec::new();
        for (site, slot, operator, since) in rows {
            let holder = SlotHolder { operator, since };
            if out.last().is_none_or(|s| s.name != site) {
                let vacant = SlotHolder {
                    operator: None,
                    since,
                };
                out.push(Site {
                    name: site.clone(),
                    a: vacant.clone(),
                    b: vacant,
                });
            }
            let Some(s) = out.last_mut() else { continue };
            match Slot::parse(&slot) {
                Some(Slot::A) => s.a = holder,
                Some(Slot::B) => s.b = holder,
                None => {
                    return Err(StoreError::Corrupt {
                        table: "site_admin_slots",
                        reason: format!("unknown slot {slot:?}"),
                    });
                }
            }
        }
        Ok(out)
    }

    /// Puts the assignment's operator in the site's slot (or vacates it with `None`),
    /// recording why.
    ///
    /// Filling a vacant slot is an [`SlotChangeReason::Appointment`]; replacing or removing a
    /// holder needs one of the other reasons. The operator must be a site administrator of
    /// this site and must not already hold the other slot.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown site or operator, [`StoreError::Invalid`] for an
    /// operator who is not this site's administrator, a reason that does not fit, or a note
    /// too long, [`StoreError::WrongState`] when nothing would change, database errors.
    pub async fn set_site_admin(
        &self,
        actor: &str,
        change: &SlotAssignment<'_>,
        now: i64,
    ) -> Result<SlotChange, StoreError> {
        let SlotAssignment {
            site,
            slot,
            operator,
            reason,
            note,
        } = *change;
        if note.len() > 1024 || note.chars().any(char::is_control) {
            return Err(StoreError::Invalid {
                field: "note",
                reason: "at most 1024 bytes without control characters".into(),
            });
        }
        let known: Option<String> = sqlx::query_scalar("SELECT name FROM sites WHERE name = $1")
            .bind(site)
            .fetch_optional(&self.pool)
            .await?;
        if known.is_none() {
            return Err(StoreError::NotFound {
                what: format!("site {site}"),
            });
        }
        if let Some(name) = operator {
            let op = self
                .operator_by_name(name)
                .await?
                .ok_or_else(|| StoreError::NotFound {
                    what: format!("operator {name}"),
                })?;
            if op.role != (Role::SiteAdmin { site: site.into() }) {
                return Err(StoreError::Invalid {
                    field: "operator",
                    reason: format!("{name} is not a site administrator of {site}"),
                });
            }
        }
        let mut tx = self.begin_write().await?;
        let slots: Vec<(String, Option<String>)> =
            sqlx::query_as("SELECT slot, operator FROM site_admin_slots WHERE site = $1")
                .bind(site)
                .fetch_all(&mut *tx)
                .await?;
        if slots.is_empty() {
            return Err(StoreError::NotFound {
                what: format!("site {site}"),
            });
        }
        let holder = |s: Slot| {
            slots
                .iter()
                .find(|(x, _)| x == s.as_str())
                .and_then(|(_, o)| o.clone())
        };
        let previous = holder(slot);
        let other = holder(if slot == Slot::A { Slot::B } else { Slot::A });
        if previous.as_deref() == operator {
            return Err(StoreError::WrongState {
                reason: format!("slot {} of {site} already has that holder", slot.as_str()),
            });
        }
        if operator.is_some() && other.as_deref() == operator {
            return Err(StoreError::Invalid {
                field: "operator",
                reason: format!(
                    "{} already holds the other slot of {site}",
                    operator.unwrap_or("")
                ),
            });
        }
        match (&previous, reason) {
            (None, SlotChangeReason::Appointment) => {}
            (None, _) => {
                return Err(StoreError::Invalid {
                    field: "reason",
                    reason: "the slot is vacant: filling it is an appointment".into(),
                });
            }
            (Some(_), SlotChangeReason::Appointment) => {
                return Err(StoreError::Invalid {
                    field: "reason",
                    reason: "replacing a holder needs the reason: transfer, leave, resignation \
                             or retirement"
                        .into(),
                });
            }
            (Some(_), _) => {}
        }
        sqlx::query(
            "UPDATE site_admin_slots SET operator = $1, since = $2 WHERE site = $3 AND slot = $4",
        )
        .bind(operator)
        .bind(now)
        .bind(site)
        .bind(slot.as_str())
        .execute(&mut *tx)
        .await?;
        sqlx::query(
            "INSERT INTO site_admin_history (site, slot, previous, next, reason, note, \
             by_operator, at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(site)
        .bind(slot.as_str())
        .bind(previous.as_deref())
        .bind(operator)
        .bind(reason.as_str())
        .bind(note)
        .bind(actor)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        append_ok_in(
            &mut tx,
            actor,
            &format!("site.slot.{}", reason.as_str()),
            &format!("site {site} slot {}", slot.as_str()),
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(SlotChange {
            site: site.to_owned(),
            slot,
            previous,
            next: operator.map(str::to_owned),
            reason,
            note: note.to_owned(),
            by: actor.to_owned(),
            at: now,
        })
    }

    /// Every change of `site`'s slots, oldest first.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown site, database errors and corrupt rows.
    pub async fn site_history(&self, site: &str) -> Result<Vec<SlotChange>, StoreError> {
        let exists: Option<String> = sqlx::query_scalar("SELECT name FROM sites WHERE name = $1")
            .bind(site)
            .fetch_optional(&self.pool)
            .await?;
        if exists.is_none() {
            return Err(StoreError::NotFound {
                what: format!("site {site}"),
            });
        }
        #[allow(clippy::type_complexity)]
        let rows: Vec<(
            String,
            Option<String>,
            Option<String>,
            String,
            String,
            String,
            i64,
        )> = sqlx::query_as(
            "SELECT slot, previous, next, reason, note, by_operator, at \
                 FROM site_admin_history WHERE site = $1 ORDER BY id",
        )
        .bind(site)
        .fetch_all(&self.pool)
        .await?;
        rows.into_iter()
            .map(|(slot, previous, next, reason, note, by, at)| {
                let corrupt = |r: String| StoreError::Corrupt {
                    table: "site_admin_history",
                    reason: r,
                };
                Ok(SlotChange {
                    site: site.to_owned(),
                    slot: Slot::parse(&slot).ok_or_else(|| corrupt(format!("slot {slot:?}")))?,
                    previous,
                    next,
                    reason: SlotChangeReason::parse(&reason)
                        .ok_or_else(|| corrupt(format!("reason {reason:?}")))?,
                    note,
                    by,
                    at,
                })
            })
            .collect()
    }
}
