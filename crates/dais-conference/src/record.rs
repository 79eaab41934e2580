//! Exporting the meeting record: JSON (serde) and CSV.

use std::fmt::Write as _;

use crate::command::Role;
use crate::output::RecordEntry;

/// Column names of [`to_csv`].
pub const CSV_HEADER: &str = "at_ms,operator,role,kind,venue,detail";

/// The record as a JSON array (one object per entry, times in milliseconds).
pub fn to_json(entries: &[RecordEntry]) -> Result<String, serde_json::Error> {
    serde_json::to_string_pretty(entries)
}

/// The record as CSV (RFC 4180: CRLF line ends, fields quoted when needed), one row per entry,
/// with [`CSV_HEADER`] first. `detail` holds the entry's full JSON, so nothing is lost for a
/// spreadsheet reader who only wants the first five columns.
pub fn to_csv(entries: &[RecordEntry]) -> Result<String, serde_json::Error> {
    let mut out = String::with_capacity(64 * (entries.len() + 1));
    out.push_str(CSV_HEADER);
    out.push_str("\r\n");
    for e in entries {
        let (operator, role) = match &e.actor {
            Some(a) => (a.operator.as_str(), role_name(&a.role)),
            None => ("", String::from("system")),
        };
        let venue = e.kind.venue().map(|v| v.as_str()).unwrap_or("");
        let detail = serde_json::to_string(&e.kind)?;
        // Writing to a String cannot fail.
        let _ = write!(out, "{}", e.at.as_millis());
        for field in [
            operator,
            role.as_str(),
            e.kind.name(),
            venue,
            detail.as_str(),
        ] {
            out.push(',');
            push_csv_field(&mut out, field);
        }
        out.push_str("\r\n");
    }
    Ok(out)
}

fn role_name(role: &Role) -> String {
    match role {
        Role::ItCentre => "it_centre".into(),
        Role::SiteAdmin { site } => format!("site_admin:{site}"),
        Role::ChairOperator => "chair_operator".into(),
        Role::Approver => "approver".into(),
        Role::Auditor => "auditor".into(),
    }
}

fn push_csv_field(out: &mut String, field: &str) {
    // Operator names are free text: quote anything a CSV reader could misparse, and defuse a
    // leading formula character so a spreadsheet does not execute it.
    let formula = field.starts_with(['=', '+', '-', '@']);
    if field.contains([',', '"', '\r', '\n']) || formula {
        out.push('"');
        if formula {
            out.push('\'');
        }
        out.push_str(&field.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(field);
    }
}
