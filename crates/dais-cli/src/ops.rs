//! Operations commands: bookings and their approval, sites and their A/B administrators, the
//! equipment records.

use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

use crate::args::{
    BookingCmd, Command, EquipmentCmd, FaultStatusArg, NewBookingArgs, ReasonArg, SiteCmd, SlotArg,
};
use crate::client::Client;
use crate::{CliError, pretty, table};

/// Parses a time given as RFC 3339 (`2026-12-01T09:00:00+08:00`) or as Unix seconds.
pub(crate) fn parse_time(flag: &str, s: &str) -> Result<i64, CliError> {
    if !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit()) {
        return s
            .parse()
            .map_err(|_| CliError::Usage(format!("--{flag}: `{s}` is too large")));
    }
    OffsetDateTime::parse(s, &Rfc3339)
        .map(OffsetDateTime::unix_timestamp)
        .map_err(|e| {
            CliError::Usage(format!(
                "--{flag}: `{s}` is neither RFC 3339 (2026-12-01T09:00:00+08:00) nor Unix seconds: {e}"
            ))
        })
}

/// Unix seconds as RFC 3339 UTC, for tables.
fn show_time(v: &Value) -> String {
    v.as_i64()
        .and_then(|t| OffsetDateTime::from_unix_timestamp(t).ok())
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| table::cell(v))
}

fn list(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

fn bookings_table(v: &Value) -> String {
    let rows: Vec<Vec<String>> = list(v)
        .iter()
        .map(|b| {
            vec![
                table::cell(&b["id"]),
                table::cell(&b["subject"]),
                table::cell(&b["applying_unit"]),
                table::cell(&b["room"]),
                show_time(&b["starts_at"]),
                show_time(&b["ends_at"]),
                table::cell(&b["status"]),
                table::cell(&b["meeting_number"]),
            ]
        })
        .collect();
    table::render(
        &[
            "ID", "SUBJECT", "UNIT", "ROOM", "FROM", "TO", "STATUS", "MEETING",
        ],
        &rows,
    )
}

fn booking_detail(b: &Value) -> String {
    let mut out = bookings_table(&Value::Array(vec![b.clone()]));
    let venues: Vec<String> = list(&b["venues"]).iter().map(table::cell).collect();
    out.push_str(&format!(
        "venues: {}\nattendees ({}): {}\nwaiting for: {}\n",
        venues.join(", "),
        table::cell(&b["attendee_count"]),
        table::cell(&b["attendees"]),
        table::cell(&b["waiting_for"]),
    ));
    for o in list(&b["opinions"]) {
        out.push_str(&format!(
            "{} {} by {}: {}\n",
            table::cell(&o["stage"]),
            if o["approved"] == json!(true) {
                "approved"
            } else {
                "rejected"
            },
            table::cell(&o["approver"]),
            table::cell(&o["opinion"]),
        ));
    }
    out
}

/// `dais bookings` and `dais booking ...`.
pub(crate) fn bookings(cli: &crate::args::Cli, c: &Client) -> Result<String, CliError> {
    let (v, detail) = match &cli.command {
        Command::Bookings => (c.get("/api/v1/bookings")?, false),
        Command::Booking(BookingCmd::Inbox) => (c.get("/api/v1/bookings/inbox")?, false),
        Command::Booking(BookingCmd::Rooms) => {
            let v = c.get("/api/v1/rooms")?;
            return Ok(if cli.json {
                pretty(&v)
            } else {
                list(&v).iter().map(|r| table::cell(r) + "\n").collect()
            });
        }
        Command::Booking(BookingCmd::Show { id }) => {
            (c.get(&format!("/api/v1/bookings/{id}"))?, true)
        }
        Command::Booking(BookingCmd::Approve { id, opinion }) => (
            c.post(
                &format!("/api/v1/bookings/{id}/decision"),
                Some(&json!({"approve": true, "opinion": opinion})),
            )?,
            true,
        ),
        Command::Booking(BookingCmd::Reject { id, opinion }) => (
            c.post(
                &format!("/api/v1/bookings/{id}/decision"),
                Some(&json!({"approve": false, "opinion": opinion})),
            )?,
            true,
        ),
        Command::Booking(BookingCmd::Create(a)) => {
            let NewBookingArgs {
                unit,
                subject,
                attendees,
                count,
                from,
                to,
                room,
                venues,
                remarks,
                chair,
                number,
            } = a.as_ref();
            let body = json!({
                "applying_unit": unit,
                "subject": subject,
                "attendees": attendees,
                "attendee_count": count,
                "starts_at": parse_time("from", from)?,
                "ends_at": parse_time("to", to)?,
                "room": room,
                "venues": venues,
                "remarks": remarks,
                "chair": chair,
                "meeting_number": number,
            });
            (c.post("/api/v1/bookings", Some(&body))?, true)
        }
        _ => return Err(CliError::Usage("not a booking command".into())),
    };
    Ok(if cli.json {
        pretty(&v)
    } else if detail {
        booking_detail(&v)
    } else {
        bookings_table(&v)
    })
}

fn slot(s: SlotArg) -> &'static str {
    match s {
        SlotArg::A => "a",
        SlotArg::B => "b",
    }
}

fn reason(r: ReasonArg) -> &'static str {
    match r {
        ReasonArg::Appointment => "appointment",
        ReasonArg::Transfer => "transfer",
        ReasonArg::Leave => "leave",
        ReasonArg::Resignation => "resignation",
        ReasonArg::Retirement => "retirement",
    }
}

fn check_site(site: &str) -> Result<(), CliError> {
    if site.is_empty()
        || !site
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'_')
    {
        return Err(CliError::Usage(format!("`{site}` is not a site name")));
    }
    Ok(())
}

fn sites_table(v: &Value) -> String {
    let rows: Vec<Vec<String>> = list(v)
        .iter()
        .map(|s| {
            vec![
                table::cell(&s["name"]),
                table::cell(&s["a"]["operator"]),
                table::cell(&s["b"]["operator"]),
                if s["vacant"] == json!(true) {
                    "VACANT".into()
                } else {
                    "-".into()
                },
            ]
        })
        .collect();
    table::render(&["SITE", "A", "B", "VACANCY"], &rows)
}

fn history_table(v: &Value) -> String {
    let rows: Vec<Vec<String>> = list(v)
        .iter()
        .map(|c| {
            vec![
                show_time(&c["at"]),
                table::cell(&c["slot"]),
                table::cell(&c["previous"]),
                table::cell(&c["next"]),
                table::cell(&c["reason"]),
                table::cell(&c["by"]),
                table::cell(&c["note"]),
            ]
        })
        .collect();
    table::render(
        &["WHEN", "SLOT", "FROM", "TO", "REASON", "BY", "NOTE"],
        &rows,
    )
}

/// `dais sites` and `dais site ...`.
pub(crate) fn sites(cli: &crate::args::Cli, c: &Client) -> Result<String, CliError> {
    let (v, history) = match &cli.command {
        Command::Sites => (c.get("/api/v1/sites")?, false),
        Command::Site(SiteCmd::Add { name }) => {
            check_site(name)?;
            let v = c.post("/api/v1/sites", Some(&json!({"name": name})))?;
            (Value::Array(vec![v]), false)
        }
        Command::Site(SiteCmd::Assign {
            site,
            slot: s,
            operator,
            reason: r,
            note,
        }) => {
            check_site(site)?;
            let v = c.put(
                &format!("/api/v1/sites/{site}/slots/{}", slot(*s)),
                &json!({"operator": operator, "reason": reason(*r), "note": note}),
            )?;
            (Value::Array(vec![v]), true)
        }
        Command::Site(SiteCmd::Vacate {
            site,
            slot: s,
            reason: r,
            note,
        }) => {
            check_site(site)?;
            let v = c.put(
                &format!("/api/v1/sites/{site}/slots/{}", slot(*s)),
                &json!({"operator": null, "reason": reason(*r), "note": note}),
            )?;
            (Value::Array(vec![v]), true)
        }
        Command::Site(SiteCmd::History { site }) => {
            check_site(site)?;
            (c.get(&format!("/api/v1/sites/{site}/history"))?, true)
        }
        _ => return Err(CliError::Usage("not a site command".into())),
    };
    Ok(if cli.json {
        pretty(&v)
    } else if history {
        history_table(&v)
    } else {
        sites_table(&v)
    })
}

fn state_cell(v: &Value, yes: &str, no: &str) -> String {
    if *v == json!(true) {
        yes.into()
    } else {
        no.into()
    }
}

fn equipment_table(kind: &str, v: &Value) -> String {
    let rows: Vec<Vec<String>> = list(v)
        .iter()
        .map(|x| match kind {
            "due" => vec![
                table::cell(&x["venue"]),
                show_time(&x["last_check"]),
                show_time(&x["due_at"]),
                state_cell(&x["overdue"], "OVERDUE", "due"),
            ],
            "checks" => vec![
                table::cell(&x["id"]),
                table::cell(&x["venue"]),
                show_time(&x["at"]),
                state_cell(&x["passed"], "passed", "FAILED"),
                table::cell(&x["checked_by"]),
                table::cell(&x["notes"]),
            ],
            "faults" => vec![
                table::cell(&x["id"]),
                table::cell(&x["venue"]),
                table::cell(&x["status"]),
                show_time(&x["opened_at"]),
                table::cell(&x["reported_by"]),
                table::cell(&x["description"]),
            ],
            _ => vec![
                table::cell(&x["id"]),
                table::cell(&x["venue"]),
                table::cell(&x["status"]),
                table::cell(&x["requested_by"]),
                table::cell(&x["test_by"]),
                table::cell(&x["description"]),
            ],
        })
        .collect();
    let header: &[&str] = match kind {
        "due" => &["VENUE", "LAST CHECK", "DUE", "STATE"],
        "checks" => &["ID", "VENUE", "WHEN", "RESULT", "BY", "NOTES"],
        "faults" => &["ID", "VENUE", "STATUS", "OPENED", "BY", "DESCRIPTION"],
        _ => &["ID", "VENUE", "STATUS", "BY", "TESTED BY", "DESCRIPTION"],
    };
    table::render(header, &rows)
}

/// `dais equipment ...`.
pub(crate) fn equipment(cli: &crate::args::Cli, c: &Client) -> Result<String, CliError> {
    let Command::Equipment(cmd) = &cli.command else {
        return Err(CliError::Usage("not an equipment command".into()));
    };
    let (kind, v) = match cmd {
        EquipmentCmd::Due => ("due", c.get("/api/v1/equipment/due")?),
        EquipmentCmd::Checks => ("checks", c.get("/api/v1/equipment/checks")?),
        EquipmentCmd::Faults => ("faults", c.get("/api/v1/equipment/faults")?),
        EquipmentCmd::Moves => ("moves", c.get("/api/v1/equipment/moves")?),
        EquipmentCmd::Check {
            venue,
            failed,
            notes,
        } => (
            "checks",
            c.post(
                "/api/v1/equipment/checks",
                Some(&json!({"venue": venue, "passed": !failed, "notes": notes})),
            )?,
        ),
        EquipmentCmd::Fault { venue, description } => (
            "faults",
            c.post(
                "/api/v1/equipment/faults",
                Some(&json!({"venue": venue, "description": description})),
            )?,
        ),
        EquipmentCmd::FaultStatus { id, status } => {
            let status = match status {
                FaultStatusArg::InRepair => "in_repair",
                FaultStatusArg::Fixed => "fixed",
                FaultStatusArg::ReportedToItCentre => "reported_to_it_centre",
            };
            (
                "faults",
                c.post(
                    &format!("/api/v1/equipment/faults/{id}/status"),
                    Some(&json!({ "status": status })),
                )?,
            )
        }
        EquipmentCmd::Move { venue, description } => (
            "moves",
            c.post(
                "/api/v1/equipment/moves",
                Some(&json!({"venue": venue, "description": description})),
            )?,
        ),
        EquipmentCmd::TestCall { id, failed, notes } => (
            "moves",
            c.post(
                &format!("/api/v1/equipment/moves/{id}/test-call"),
                Some(&json!({"passed": !failed, "notes": notes})),
            )?,
        ),
    };
    // A created or changed item is the API's object: as is with --json, one table row without.
    Ok(if cli.json {
        pretty(&v)
    } else if v.is_array() {
        equipment_table(kind, &v)
    } else {
        equipment_table(kind, &Value::Array(vec![v]))
    })
}

#[cfg(test)]
mod tests {
    use super::parse_time;

    /// 2027-01-15T08:00:00Z.
    const UTC_8AM: i64 = 1_800_000_000;

    #[test]
    fn times_are_rfc3339_or_unix_seconds_and_anything_else_is_a_usage_error() {
        assert_eq!(parse_time("from", "1800000000").unwrap(), 1_800_000_000);
        assert_eq!(parse_time("from", "2027-01-15T08:00:00Z").unwrap(), UTC_8AM);
        assert_eq!(
            parse_time("to", "2027-01-15T16:00:00+08:00").unwrap(),
            UTC_8AM
        );
        for bad in [
            "",
            "tomorrow",
            "2027-01-15",
            "2027-01-15T08:00",
            "99999999999999999999",
        ] {
            assert!(parse_time("from", bad).is_err(), "{bad}");
        }
    }
}
