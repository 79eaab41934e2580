//! Operator accounts, password login with lockout, and bearer sessions.

use std::sync::OnceLock;

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};
use rand::{Rng, RngCore};
use sha2::{Digest, Sha256};
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::audit::{append_in, append_ok_in};
use crate::{AuditEvent, AuditResult, Operator, OperatorId, Role, Session, Store, StoreError};

/// The user name of the first account, created by [`Store::ensure_admin`].
pub const ADMIN_USERNAME: &str = "admin";
/// Consecutive failed logins that lock an account.
pub const LOCKOUT_AFTER_FAILURES: u32 = 5;
/// How long a lockout lasts, in seconds.
pub const LOCKOUT_SECS: i64 = 5 * 60;
/// Length of a generated admin password.
const GENERATED_PASSWORD_LEN: usize = 20;
/// Shortest password accepted for an operator.
const MIN_PASSWORD_LEN: usize = 8;

/// Cost of new argon2id password hashes. Verification always uses the cost recorded in the
/// stored hash, so a store can change cost without invalidating old passwords.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum PasswordCost {
    /// argon2id with 19 MiB, 2 passes, 1 lane (the OWASP recommendation; ~30-60 ms optimised).
    #[default]
    Interactive,
    /// argon2id with 64 KiB and 1 pass. **Tests only**: it protects nothing.
    InsecureFastForTests,
}

impl PasswordCost {
    fn argon2(self) -> Argon2<'static> {
        let params = match self {
            PasswordCost::Interactive => Params::DEFAULT,
            // Params::new only fails for out-of-range values; these are in range.
            PasswordCost::InsecureFastForTests => {
                Params::new(64, 1, 1, None).unwrap_or(Params::DEFAULT)
            }
        };
        Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
    }
}

fn hash_password(cost: PasswordCost, password: &str) -> Result<String, StoreError> {
    let mut salt = [0u8; 16];
    rand::rng().fill_bytes(&mut salt);
    let salt = SaltString::encode_b64(&salt).map_err(|e| StoreError::Internal(e.to_string()))?;
    cost.argon2()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| StoreError::Internal(format!("password hashing: {e}")))
}

/// Verifies against a PHC string; a malformed stored hash is corrupt data, not a wrong password.
fn verify_password(stored: &str, password: &str) -> Result<bool, StoreError> {
    let parsed = PasswordHash::new(stored).map_err(|e| StoreError::Corrupt {
        table: "operators",
        reason: format!("password hash: {e}"),
    })?;
    // The parameters come from the PHC string, not from this instance.
    Ok(Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok())
}

/// A hash to verify against when the user does not exist, so that an unknown name costs as
/// much time as a wrong password and names cannot be probed by timing.
fn dummy_hash(cost: PasswordCost) -> &'static str {
    static DUMMY: OnceLock<String> = OnceLock::new();
    DUMMY.get_or_init(|| hash_password(cost, "dais-dummy-password").unwrap_or_default())
}

async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    // argon2 takes tens of milliseconds of CPU: keep it off the async workers.
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::Internal(format!("hashing task: {e}")))?
}

/// 20 characters from [A-Za-z0-9]: about 119 bits.
fn generate_password() -> String {
    rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(GENERATED_PASSWORD_LEN)
        .map(char::from)
        .collect()
}

fn token_digest(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

fn validate_username(username: &str) -> Result<(), StoreError> {
    let ok = !username.is_empty()
        && username.len() <= 64
        && username
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::Invalid {
            field: "username",
            reason: "1 to 64 characters from A-Z a-z 0-9 . _ -".into(),
        })
    }
}

fn validate_password(password: &str) -> Result<(), StoreError> {
    if password.chars().count() < MIN_PASSWORD_LEN {
        return Err(StoreError::Invalid {
            field: "password",
            reason: format!("shorter than {MIN_PASSWORD_LEN} characters"),
        });
    }
    if password.len() > 1024 {
        return Err(StoreError::Invalid {
            field: "password",
            reason: "longer than 1024 bytes".into(),
        });
    }
    Ok(())
}

const OPERATOR_COLUMNS: &str = "id, username, role, role_site, role_stage, created_at, CAST(disabled AS INTEGER) AS disabled, \
                                failed_logins, locked_until";

fn operator_from_row(row: &AnyRow) -> Result<Operator, StoreError> {
    let failed: i64 = row.try_get("failed_logins")?;
    Ok(Operator {
        id: OperatorId(row.try_get("id")?),
        username: row.try_get("username")?,
        role: Role::from_columns(
            row.try_get::<&str, _>("role")?,
            row.try_get("role_site")?,
            row.try_get("role_stage")?,
        )?,
        created_at: row.try_get("created_at")?,
        disabled: row.try_get::<i64, _>("disabled")? != 0,
        failed_logins: u32::try_from(failed).unwrap_or(u32::MAX),
        locked_until: row.try_get("locked_until")?,
    })
}

impl Store {
    /// Makes sure the store has at least one account. On an empty store it creates
    /// [`ADMIN_USERNAME`] with the IT-centre role, using `password` when given (for example
    /// from `DAIS_ADMIN_PASSWORD`) or a generated 20-character password, which is returned so
    /// the binary can show it once. Returns `None` when accounts already exist or when the
    /// given password was used.
    ///
    /// # Errors
    ///
    /// [`StoreError::Invalid`] for a given password shorter than 8 characters; database errors.
    pub async fn ensure_admin(
        &self,
        password: Option<&str>,
        now: i64,
    ) -> Result<Option<String>, StoreError> {
        if self.operator_count().await? > 0 {
            return Ok(None);
        }
        let (clear, generated) = match password {
            Some(p) => {
                validate_password(p)?;
                (p.to_owned(), false)
            }
            None => (generate_password(), true),
        };
        let cost = self.opts.password_cost;
        let to_hash = clear.clone();
        let hash = blocking(move || hash_password(cost, &to_hash)).await?;

        let mut tx = self.begin_write().await?;
        // Re-check under the write lock: another process may have created the admin meanwhile.
        let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM operators")
            .fetch_one(&mut *tx)
            .await?;
        if count > 0 {
            return Ok(None);
        }
        sqlx::query(
            "INSERT INTO operators (username, password_hash, role, created_at) \
             VALUES ($1, $2, 'it_centre', $3)",
        )
        .bind(ADMIN_USERNAME)
        .bind(&hash)
        .bind(now)
        .execute(&mut *tx)
        .await?;
        append_ok_in(&mut tx, "system", "operator.create", ADMIN_USERNAME, now).await?;
        tx.commit().await?;
        tracing::info!(
            username = ADMIN_USERNAME,
            generated,
            "initial admin account created"
        );
        Ok(generated.then_some(clear))
    }

    /// Number of operator accounts.
    ///
    /// # Errors
    ///
    /// Database errors.
    pub async fn operator_count(&self) -> Result<i64, StoreError> {
        Ok(sqlx::query_scalar("SELECT COUNT(*) FROM operators")
            .fetch_one(&self.pool)
            .await?)
    }

    /// Creates an operator account. `actor` is recorded in the audit log.
    ///
    /// # Errors
    ///
    /// [`StoreError::Invalid`] for a bad user name or short password, [`StoreError::Conflict`]
    /// when the name is taken, database errors.
    pub async fn create_operator(
        &self,
        actor: &str,
        username: &str,
        password: &str,
        role: Role,
        now: i64,
    ) -> Result<Operator, StoreError> {
        validate_username(username)?;
        validate_password(password)?;
        if let Role::SiteAdmin { site } = &role
            && site.trim().is_empty()
        {
            return Err(StoreError::Invalid {
                field: "role.site",
                reason: "empty".into(),
            });
        }
        let cost = self.opts.password_cost;
        let to_hash = password.to_owned();
        let hash = blocking(move || hash_password(cost, &to_hash)).await?;
        let mut tx = self.begin_write().await?;
        let id: i64 = sqlx::query_scalar(
            "INSERT INTO operators (username, password_hash, role, role_site, role_stage, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) RETURNING id",
        )
        .bind(username)
        .bind(&hash)
        .bind(role.kind_str())
        .bind(role.site())
        .bind(role.stage())
        .bind(now)
        .fetch_one(&mut *tx)
        .await
        .map_err(|e| crate::error::conflict_or(e, || format!("operator {username}")))?;
        append_ok_in(&mut tx, actor, "operator.create", username, now).await?;
        tx.commit().await?;
        Ok(Operator {
            id: OperatorId(id),
            username: username.to_owned(),
            role,
            created_at: now,
            disabled: false,
            failed_logins: 0,
            locked_until: None,
        })
    }

    /// Looks an operator up by user name.
    ///
    /// # Errors
    ///
    /// Database errors and corrupt rows.
    pub async fn operator_by_name(&self, username: &str) -> Result<Option<Operator>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {OPERATOR_COLUMNS} FROM operators WHERE username = $1"
        )))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(operator_from_row).transpose()
    }

    /// Every operator account, by id (without secrets).
    ///
    /// # Errors
    ///
    /// Database errors and corrupt rows.
    pub async fn list_operators(&self) -> Result<Vec<Operator>, StoreError> {
        let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {OPERATOR_COLUMNS} FROM operators ORDER BY id"
        )))
        .fetch_all(&self.pool)
        .await?;
        rows.iter().map(operator_from_row).collect()
    }

    /// Enables or disables an account. Disabling also ends its sessions.
    ///
    /// # Errors
    ///
    /// [`StoreError::NotFound`] for an unknown name, database errors.
    pub async fn set_operator_disabled(
        &self,
        actor: &str,
        username: &str,
        disabled: bool,
        now: i64,
    ) -> Result<(), StoreError> {
        let mut tx = self.begin_write().await?;
        let id: Option<i64> = sqlx::query_scalar(
            "UPDATE operators SET disabled = $1 WHERE username = $2 RETURNING id",
        )
        .bind(disabled)
        .bind(username)
        .fetch_optional(&mut *tx)
        .await?;
        let Some(id) = id else {
            return Err(StoreError::NotFound {
                what: format!("operator {username}"),
            });
        };
        if disabled {
            sqlx::query("DELETE FROM sessions WHERE operator_id = $1")
                .bind(id)
                .execute(&mut *tx)
                .await?;
        }
        append_ok_in(
            &mut tx,
            actor,
            if disabled {
                "operator.disable"
            } else {
                "operator.enable"
            },
            username,
            now,
        )
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Checks a user name and password and, when they match, issues a bearer token valid for
    /// [`crate::StoreOptions::session_ttl_secs`]. Every attempt is audited with `from` (the
    /// client's address). After [`LOCKOUT_AFTER_FAILURES`] consecutive failures the account is
    /// locked for [`LOCKOUT_SECS`]; a locked account is refused even with the right password.
    ///
    /// # Errors
    ///
    /// [`StoreError::BadCredentials`] (unknown name or wrong password, not told apart),
    /// [`StoreError::Locked`], [`StoreError::Disabled`] (only once the password was right),
    /// database errors.
    pub async fn login(
        &self,
        username: &str,
        password: &str,
        from: Option<&str>,
        now: i64,
    ) -> Result<Session, StoreError> {
        let refuse = async |reason: &str, err: StoreError| -> Result<Session, StoreError> {
            self.audit(&AuditEvent {
                actor: username,
                action: "login",
                target: username,
                at: now,
                from,
                result: AuditResult::Refused(reason.to_owned()),
            })
            .await?;
            Err(err)
        };
        // Refuse absurd inputs before spending a hash on them.
        if username.len() > 64 || password.len() > 1024 {
            return refuse("bad credentials", StoreError::BadCredentials).await;
        }
        let Some((op, stored_hash)) = self.operator_with_hash(username).await? else {
            let cost = self.opts.password_cost;
            let pw = password.to_owned();
            blocking(move || verify_password(dummy_hash(cost), &pw).or(Ok(false))).await?;
            return refuse("unknown user", StoreError::BadCredentials).await;
        };
        if let Some(until) = op.locked_until
            && until > now
        {
            return refuse("locked", StoreError::Locked { until }).await;
        }
        let pw = password.to_owned();
        let good = blocking(move || verify_password(&stored_hash, &pw)).await?;

        let mut tx = self.begin_write().await?;
        if !good {
            let failed: i64 = sqlx::query_scalar(
                "UPDATE operators SET failed_logins = failed_logins + 1 WHERE id = $1 \
                 RETURNING failed_logins",
            )
            .bind(op.id.0)
            .fetch_one(&mut *tx)
            .await?;
            let (reason, err) = if failed >= i64::from(LOCKOUT_AFTER_FAILURES) {
                let until = now.saturating_add(LOCKOUT_SECS);
                sqlx::query(
                    "UPDATE operators SET failed_logins = 0, locked_until = $1 WHERE id = $2",
                )
                .bind(until)
                .bind(op.id.0)
                .execute(&mut *tx)
                .await?;
                tracing::warn!(username, until, "account locked after failed logins");
                (
                    "wrong password; account locked",
                    StoreError::Locked { until },
                )
            } else {
                ("wrong password", StoreError::BadCredentials)
            };
            append_in(
                &mut tx,
                &AuditEvent {
                    actor: username,
                    action: "login",
                    target: username,
                    at: now,
                    from,
                    result: AuditResult::Refused(reason.to_owned()),
                },
            )
            .await?;
            tx.commit().await?;
            return Err(err);
        }
        if op.disabled {
            drop(tx);
            return refuse("disabled", StoreError::Disabled).await;
        }
        sqlx::query("UPDATE operators SET failed_logins = 0, locked_until = NULL WHERE id = $1")
            .bind(op.id.0)
            .execute(&mut *tx)
            .await?;
        let mut raw = [0u8; 32];
        rand::rng().fill_bytes(&mut raw);
        let token = hex::encode(raw);
        let expires_at = now.saturating_add(self.opts.session_ttl_secs);
        sqlx::query(
            "INSERT INTO sessions (token_sha256, operator_id, created_at, expires_at) \
             VALUES ($1, $2, $3, $4)",
        )
        .bind(token_digest(&token))
        .bind(op.id.0)
        .bind(now)
        .bind(expires_at)
        .execute(&mut *tx)
        .await?;
        append_in(
            &mut tx,
            &AuditEvent {
                actor: username,
                action: "login",
                target: username,
                at: now,
                from,
                result: AuditResult::Ok,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(Session {
            token,
            operator: Operator {
                failed_logins: 0,
                locked_until: None,
                ..op
            },
            expires_at,
        })
    }

    async fn operator_with_hash(
        &self,
        username: &str,
    ) -> Result<Option<(Operator, String)>, StoreError> {
        let row = sqlx::query(sqlx::AssertSqlSafe(format!(
            "SELECT {OPERATOR_COLUMNS}, password_hash FROM operators WHERE username = $1"
        )))
        .bind(username)
        .fetch_optional(&self.pool)
        .await?;
        match row {
            None => Ok(None),
            Some(row) => Ok(Some((
                operator_from_row(&row)?,
                row.try_get("password_hash")?,
            ))),
        }
    }

    /// Resolves a bearer token to its operator. Returns `None` for an unknown or expired token
    /// and for a disabled account.
    ///
    /// # Errors
    ///
    /// Database errors and corrupt rows only.
    pub async fn authenticate(
        &self,
        token: &str,
        now: i64,
    ) -> Result<Option<Operator>, StoreError> {
        // Tokens we issue are 64 hex digits; anything else cannot match, so skip the query.
        if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Ok(None);
        }
        let row = sqlx::query(
            "SELECT o.id, o.username, o.role, o.role_site, o.role_stage, o.created_at, \
             CAST(o.disabled AS INTEGER) AS disabled, o.failed_logins, o.locked_until \
             FROM sessions s JOIN operators o ON o.id = s.operator_id \
             WHERE s.token_sha256 = $1 AND s.expires_at > $2 AND o.disabled = FALSE",
        )
        .bind(token_digest(token))
        .bind(now)
        .fetch_optional(&self.pool)
        .await?;
        row.as_ref().map(operator_from_row).transpose()
    }

    /// Ends the session of `token`. Returns whether a session was ended.
    ///
    /// # Errors
    ///
    /// Database errors.
    pub async fn logout(
        &self,
        token: &str,
        from: Option<&str>,
        now: i64,
    ) -> Result<bool, StoreError> {
        let mut tx = self.begin_write().await?;
        let who: Option<String> = sqlx::query_scalar(
            "DELETE FROM sessions WHERE token_sha256 = $1 \
             RETURNING (SELECT username FROM operators WHERE id = operator_id)",
        )
        .bind(token_digest(token))
        .fetch_optional(&mut *tx)
        .await?;
        let Some(who) = who else {
            return Ok(false);
        };
        append_in(
            &mut tx,
            &AuditEvent {
                actor: &who,
                action: "logout",
                target: &who,
                at: now,
                from,
                result: AuditResult::Ok,
            },
        )
        .await?;
        tx.commit().await?;
        Ok(true)
    }

    /// Deletes sessions that expired at or before `now`; returns how many.
    ///
    /// # Errors
    ///
    /// Database errors.
    pub async fn purge_expired_sessions(&self, now: i64) -> Result<u64, StoreError> {
        let done = sqlx::query("DELETE FROM sessions WHERE expires_at <= $1")
            .bind(now)
            .execute(&self.pool)
            .await?;
        Ok(done.rows_affected())
    }
}
