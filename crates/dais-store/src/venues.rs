//! Venues and their SIP digest credentials.

use md5::Md5;
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::audit::append_ok_in;
use crate::error::conflict_or;
use crate::{DigestHa1, NewVenue, Store, StoreError, Venue, VenueId, VenueKind};

/// HA1 = H(username ":" realm ":" password), RFC 7616 §3.4.2 (RFC 8760 for SHA-256).
fn ha1<D: Digest>(user: &str, realm: &str, password: &str) -> String {
    let mut h = D::new();
    h.update(user.as_bytes());
    h.update(b":");
    h.update(realm.as_bytes());
    h.update(b":");
    h.update(password.as_bytes());
    hex::encode(h.finalize())
}

fn non_empty(field: &'static str, v: &str, max: usize) -> Result<(), StoreError> {
    if v.trim().is_empty() || v.len() > max || v.chars().any(char::is_control) {
        return Err(StoreError::Invalid {
            field,
            reason: format!("must be 1 to {max} bytes without control characters"),
        });
    }
    Ok(())
}

const VENUE_COLUMNS: &str = "id, name, kind, parent_id, site, sip_user, digest_realm, ha1_md5, \
                             ha1_sha256, contact_uri";

fn venue_from_row(row: &AnyRow) -> Result<Venue, StoreError> {
    let kind: &str = row.try_get("kind")?;
    Ok(Venue {
        id: VenueId(row.try_get("id")?),
        name: row.try_get("name")?,
        kind: VenueKind::parse(kind).ok_or_else(|| StoreError::Corrupt {
            table: "venues",
            reason: format!("unknown kind {kind:?}"),
        })?,
        parent: row.try_get::<Option<i64>, _>("parent_id")?.map(VenueId),
        site: row.try_get("site")?,
        sip_user: row.try_get("sip_user")?,
        digest: DigestHa1 {
            realm: row.try_get("digest_realm")?,
            md5: row.try_get("ha1_md5")?,
            sha256: row.try_get("ha1_sha256")?,
        },
        contact_uri: row.try_get("contact_uri")?,
    })
}

impl Store {
    /// Creates a venue. The SIP password is turned into HA1 values here and not kept.
    ///
    /// # Errors
    ///
    /// [`StoreError::Invalid`] for empty or oversized fields, [`StoreError::NotFound`] for an
    /// unknown parent, [`StoreError::Conflict`] for a taken name or SIP user, database errors.
    pub async fn create_venue(
        &self,
        actor: &str,
        v: &NewVenue<'_>,
        now: i64,
    ) -> Result<Venue, StoreError> {
        non_empty("name", v.name, 128)?;
        non_empty("site", v.site, 128)?;
        non_empty("realm", v.realm, 128)?;
        non_empty("sip_password", v.sip_password, 256)?;
        // The SIP user appears in digest input, so ':' would make HA1 ambiguous.
        if v.sip_user.is_empty()
            || v.sip_user.len() > 64
            || !v
                .sip_user
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '+'))
        {
            return Err(StoreError::Invalid {
                field: "sip_user",
                reason: "1 to 64 characters from A-Z a-z 0-9 . _ - +".into(),
            });
        }
        if let Some(uri) = v.contact_uri {
            non_empty("contact_uri", uri, 512)?;
            if !(uri.starts_with("sip:") || uri.starts_with("sips:")) {
                return Err(StoreError::Invalid {
                    field: "contact_uri",
                    reason: "must be a sip: or sips: URI".into(),
                });
            }
        }
        let digest = DigestHa1 {
            realm: v.realm.to_owned(),
            md5: ha1::<Md5>(v.sip_user, v.realm, v.sip_password),
            sha256: ha1::<Sha256>(v.sip_user, v.realm, v.sip_password),
        };
        let mut tx = self.begin_write().await?;
        if let Some(parent) = v.parent {
            let exists: Option<i64> = sqlx::query_scalar("SELECT id FROM venues WHERE id = $1")
                .bind(parent.0)
                .fetch_optional(&mut *tx)
                .await?;
            if exists.is_none() {
                return Err(StoreError::NotFound {
                    what: format!("parent venue {parent}"),
                });
            }
        }
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO venues (name, kind, parent_id, site, sip_user, digest_realm, ha1_md5, \
             ha1_sha256, contact_uri, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10) \
             RETURNING id",
        )
        .bind(v.name)
        .bind(v.kind.as_str())
        .bind(v.parent.map(|p| p.0))
        .bind(v.site)
        .bind(v.sip_user)
        .bind(&digest.realm)
        .bind(&digest.md5)
        .bind(&digest.sha256)
        .bind(v.contact_uri)
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| conflict_or(e, || format!("venue {} / SIP user {}", v.name, v.sip_user)))?;
        append_ok_in(&mut tx, actor, "venue.create", v.name, now).await?;
        tx.commit().await?;
        Ok(Venue {
            id: VenueId(id),
            name: v.name.to_owned(),
            kind: v.kind,
            parent: v.parent,
            site: v.site.to_owned(),
            sip_user: v.sip_user.to_owned(),
            digest,
            contact_uri: v.contact_uri.map(str::to_owned),
        })
    }

    /// Every venue, by id.
    ///
    /// # Errors
    ///
    /// Database errors and corrupt rows.
    pub async fn list_venues(&self) -> Result<Vec<Venue>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {VENUE_COLUMNS} FROM venues ORDER BY id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(venue_from_row).collect()
    }

    /// A venue by id.
    ///
    /// # Errors
    ///
    /// Database errors and corrupt rows.
    pub async fn venue(&self, id: VenueId) -> Result<Option<Venue>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {VENUE_COLUMNS} FROM venues WHERE id = $1"
        )))
        .bind(id.0)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(venue_from_row).transpose()
    }

    /// A venue by its (unique) name.
    ///
    /// # Errors
    ///
    /// Database errors and corrupt rows.
    pub async fn venue_by_name(&self, name: &str) -> Result<Option<Venue>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {VENUE_COLUMNS} FROM venues WHERE name = $1"
        )))
        .bind(name)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(venue_from_row).transpose()
    }

    /// A venue by the SIP user it authenticates as (for the registrar and digest checks).
    ///
    /// # Errors
    ///
    /// Database errors and corrupt rows.
    pub async fn venue_by_sip_user(&self, sip_user: &str) -> Result<Option<Venue>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {VENUE_COLUMNS} FROM venues WHERE sip_user = $1"
        )))
        .bind(sip_user)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(venue_from_row).transpose()
    }
}
