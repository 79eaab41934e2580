//! Who may use which route, and the audit row every refusal leaves.
//!
//! The rules (the permission matrix in `docs/api.md`): only the provincial IT centre creates
//! venues, operators and meetings; a site administrator sees only the venues of their own site
//! and the meetings those venues take part in; everyone logged in reads the rest. Chair
//! commands are the conference policy's decision, not checked here.

use std::collections::HashSet;

use axum::http::StatusCode;

use super::auth::AuthedOperator;
use super::error::ApiError;
use crate::app::{AppState, unix_now};
use dais_store::{AuditEvent, AuditResult, Role};

/// Audits a refusal of `action` on `target` by `who` and returns the 403 to answer.
pub(crate) async fn refuse(
    state: &AppState,
    who: &AuthedOperator,
    action: &str,
    target: &str,
    reason: &str,
) -> ApiError {
    audit(
        state,
        who,
        action,
        target,
        AuditResult::Refused(reason.to_owned()),
    )
    .await;
    ApiError::new(StatusCode::FORBIDDEN, "forbidden", reason.to_owned())
}

/// Appends an audit row for an action by `who` (with its client address).
pub(crate) async fn audit(
    state: &AppState,
    who: &AuthedOperator,
    action: &str,
    target: &str,
    result: AuditResult,
) {
    let from = who.from.map(|a| a.to_string());
    state
        .audit(&AuditEvent {
            actor: &who.operator.username,
            action,
            target,
            at: unix_now(),
            from: from.as_deref(),
            result,
        })
        .await;
}

/// Refuses (403, audited) unless `who` is the provincial IT centre.
pub(crate) async fn require_it_centre(
    state: &AppState,
    who: &AuthedOperator,
    action: &str,
    target: &str,
) -> Result<(), ApiError> {
    if who.operator.role == Role::ItCentre {
        Ok(())
    } else {
        Err(refuse(
            state,
            who,
            action,
            target,
            "only the provincial IT centre may do this",
        )
        .await)
    }
}

/// For a site administrator, the names of the venues their site runs (a venue whose `site` is
/// the administrator's site; the site's own name counts too, because a site's venue is
/// usually named after it and meetings not kept in the store, such as the demo, only know venue
/// names). `None` for every other role: they are not limited by site.
pub(crate) async fn site_scope(
    state: &AppState,
    who: &AuthedOperator,
) -> Result<Option<HashSet<String>>, ApiError> {
    let Role::SiteAdmin { site } = &who.operator.role else {
        return Ok(None);
    };
    let mut names: HashSet<String> = state
        .store
        .list_venues()
        .await?
        .into_iter()
        .filter(|v| &v.site == site)
        .map(|v| v.name)
        .collect();
    names.insert(site.clone());
    Ok(Some(names))
}

/// True when a meeting with these venue names is visible within `scope`.
pub(crate) fn meeting_in_scope<'a>(
    scope: &Option<HashSet<String>>,
    mut venues: impl Iterator<Item = &'a str>,
) -> bool {
    match scope {
        None => true,
        Some(names) => venues.any(|v| names.contains(v)),
    }
}
