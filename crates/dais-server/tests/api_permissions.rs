//! The permission matrix: every endpoint (bookings and sites included) × every role (IT centre, site admin, chair operator,
//! approver, auditor, anonymous) → the status each must get, table-driven, against the real
//! `daisd --demo`; then every refusal is found in the audit log with its actor.

mod api_common;

use api_common::{ADMIN_PW, Daisd, events, login};
use dais_store::AuditResult;
use serde_json::{Value, json};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Who {
    It,
    Site,
    Chair,
    Approver,
    Auditor,
    Anon,
}

const ROLES: [Who; 6] = [
    Who::Anon,
    Who::Approver,
    Who::Auditor,
    Who::Site,
    Who::Chair,
    Who::It,
];

fn username(w: Who) -> &'static str {
    match w {
        Who::It => "admin",
        Who::Site => "jinan-a",
        Who::Chair => "chair1",
        Who::Approver => "head1",
        Who::Auditor => "audit1",
        Who::Anon => "anonymous",
    }
}

/// One row: a request, the audit action a refusal leaves, and the expected status per role
/// (in `ROLES` order: anon, approver, auditor, site admin, chair, IT centre).
struct Row {
    method: &'static str,
    path: &'static str,
    /// `{who}` in the body is replaced by the role's user name (unique names per role).
    body: Option<&'static str>,
    refusal_action: &'static str,
    expect: [u16; 6],
}

const fn row(
    method: &'static str,
    path: &'static str,
    body: Option<&'static str>,
    refusal_action: &'static str,
    expect: [u16; 6],
) -> Row {
    Row {
        method,
        path,
        body,
        refusal_action,
        expect,
    }
}

//                                                                   anon appr audi site chair it
const MATRIX: &[Row] = &[
    row("GET", "/healthz", None, "", [200, 200, 200, 200, 200, 200]),
    row(
        "GET",
        "/api/v1/openapi.json",
        None,
        "",
        [200, 200, 200, 200, 200, 200],
    ),
    row(
        "GET",
        "/api/v1/me",
        None,
        "",
        [401, 200, 200, 200, 200, 200],
    ),
    row(
        "GET",
        "/api/v1/venues",
        None,
        "",
        [401, 200, 200, 200, 200, 200],
    ),
    row(
        "GET",
        "/api/v1/venues/jinan",
        None,
        "venue.read",
        [401, 200, 200, 200, 200, 200],
    ),
    row(
        "GET",
        "/api/v1/venues/qingdao",
        None,
        "venue.read",
        [401, 200, 200, 403, 200, 200],
    ),
    row(
        "POST",
        "/api/v1/venues",
        Some(r#"{"name":"v-{who}","kind":"branch","parent":"province","sip_password":"pw"}"#),
        "venue.create",
        [401, 403, 403, 403, 403, 201],
    ),
    row(
        "GET",
        "/api/v1/operators",
        None,
        "operator.list",
        [401, 403, 200, 403, 403, 200],
    ),
    row(
        "POST",
        "/api/v1/operators",
        Some(r#"{"username":"op-{who}","password":"long enough","role":{"kind":"auditor"}}"#),
        "operator.create",
        [401, 403, 403, 403, 403, 201],
    ),
    row(
        "POST",
        "/api/v1/meetings",
        Some(r#"{"number":"9{n}","subject":"s","main_venue":"province","venues":["jinan"]}"#),
        "meeting.create",
        [401, 403, 403, 403, 403, 201],
    ),
    row(
        "GET",
        "/api/v1/meetings",
        None,
        "",
        [401, 200, 200, 200, 200, 200],
    ),
    row(
        "GET",
        "/api/v1/meetings/8000",
        None,
        "meeting.read",
        [401, 200, 200, 200, 200, 200],
    ),
    row(
        "GET",
        "/api/v1/meetings/8001",
        None,
        "meeting.read",
        [401, 200, 200, 403, 200, 200],
    ),
    row(
        "GET",
        "/api/v1/meetings/8002",
        None,
        "meeting.read",
        [401, 200, 200, 200, 200, 200],
    ),
    // 8001's chair is chair1: it starts it; afterwards the IT centre finds it running (409).
    row(
        "POST",
        "/api/v1/meetings/8001/start",
        Some("{}"),
        "meeting.start",
        [401, 403, 403, 403, 200, 409],
    ),
    // The meeting record: approvers do not read it; a site admin only with their site in it.
    row(
        "GET",
        "/api/v1/meetings/8000/record",
        None,
        "meeting.record.read",
        [401, 403, 200, 200, 200, 200],
    ),
    row(
        "GET",
        "/api/v1/meetings/8001/record.csv",
        None,
        "meeting.record.read",
        [401, 403, 200, 403, 200, 200],
    ),
    row(
        "WS",
        "/api/v1/meetings/8001/events",
        None,
        "meeting.events",
        [401, 101, 101, 403, 101, 101],
    ),
    row(
        "WS",
        "/api/v1/meetings/8000/events",
        None,
        "meeting.events",
        [401, 101, 101, 101, 101, 101],
    ),
    // Chair commands: the demo's chair is admin (IT centre); a site admin may mute only the
    // venues of their own site.
    row(
        "POST",
        "/api/v1/meetings/8000/commands",
        Some(r#"{"command":"broadcast","venue":"jinan"}"#),
        "meeting.command.broadcast",
        [401, 403, 403, 403, 403, 200],
    ),
    row(
        "POST",
        "/api/v1/meetings/8000/commands",
        Some(r#"{"command":"mute","venue":"jinan"}"#),
        "meeting.command.mute",
        [401, 403, 403, 200, 403, 200],
    ),
    row(
        "POST",
        "/api/v1/meetings/8000/commands",
        Some(r#"{"command":"mute","venue":"qingdao"}"#),
        "meeting.command.mute",
        [401, 403, 403, 403, 403, 200],
    ),
    row(
        "POST",
        "/api/v1/meetings/8001/commands",
        Some(r#"{"command":"end_meeting"}"#),
        "meeting.command.end_meeting",
        [401, 403, 403, 403, 200, 409],
    ),
    // Bookings. Booking 1 is filed by admin in the set-up; the unit head approves it, then the
    // IT centre (last in role order) finds it at its own stage and approves that.
    row(
        "GET",
        "/api/v1/rooms",
        None,
        "",
        [401, 200, 200, 200, 200, 200],
    ),
    row(
        "POST",
        "/api/v1/bookings",
        Some(
            r#"{"applying_unit":"u","subject":"s","attendees":"a","attendee_count":1,"starts_at":40{n}00000,"ends_at":40{n}03600,"room":"8th floor","venues":["qingdao"]}"#,
        ),
        "booking.create",
        [401, 403, 403, 201, 201, 201],
    ),
    row(
        "GET",
        "/api/v1/bookings",
        None,
        "",
        [401, 200, 200, 200, 200, 200],
    ),
    row(
        "GET",
        "/api/v1/bookings/inbox",
        None,
        "booking.inbox",
        [401, 200, 403, 403, 403, 200],
    ),
    row(
        "GET",
        "/api/v1/bookings/1",
        None,
        "booking.read",
        [401, 200, 200, 403, 403, 200],
    ),
    row(
        "POST",
        "/api/v1/bookings/1/decision",
        Some(r#"{"approve":true,"opinion":"ok"}"#),
        "booking.decide",
        [401, 200, 403, 403, 403, 200],
    ),
    // Sites: the set-up registers jinan and qingdao.
    row(
        "GET",
        "/api/v1/sites",
        None,
        "site.list",
        [401, 403, 200, 200, 403, 200],
    ),
    row(
        "POST",
        "/api/v1/sites",
        Some(r#"{"name":"s{n}"}"#),
        "site.create",
        [401, 403, 403, 403, 403, 201],
    ),
    row(
        "PUT",
        "/api/v1/sites/jinan/slots/a",
        Some(r#"{"operator":"jinan-a","reason":"appointment"}"#),
        "site.slot",
        [401, 403, 403, 403, 403, 200],
    ),
    row(
        "GET",
        "/api/v1/sites/jinan/history",
        None,
        "site.history",
        [401, 403, 200, 200, 403, 200],
    ),
    row(
        "GET",
        "/api/v1/sites/qingdao/history",
        None,
        "site.history",
        [401, 403, 200, 403, 403, 200],
    ),
    // Equipment: jinan-a may operate jinan's equipment, not qingdao's.
    row(
        "POST",
        "/api/v1/equipment/checks",
        Some(r#"{"venue":"jinan","passed":true}"#),
        "equipment.check",
        [401, 403, 403, 201, 403, 201],
    ),
    row(
        "POST",
        "/api/v1/equipment/checks",
        Some(r#"{"venue":"qingdao","passed":true}"#),
        "equipment.check",
        [401, 403, 403, 403, 403, 201],
    ),
    row(
        "GET",
        "/api/v1/equipment/checks",
        None,
        "equipment.read",
        [401, 403, 200, 200, 403, 200],
    ),
    row(
        "GET",
        "/api/v1/equipment/due",
        None,
        "equipment.read",
        [401, 403, 200, 200, 403, 200],
    ),
    row(
        "POST",
        "/api/v1/equipment/faults",
        Some(r#"{"venue":"jinan","description":"no picture"}"#),
        "equipment.fault.open",
        [401, 403, 403, 201, 403, 201],
    ),
    row(
        "GET",
        "/api/v1/equipment/faults",
        None,
        "equipment.read",
        [401, 403, 200, 200, 403, 200],
    ),
    // Fault 1 (jinan) is reported in the set-up: the site admin puts it in repair, then the
    // IT centre finds it in repair already (409).
    row(
        "POST",
        "/api/v1/equipment/faults/1/status",
        Some(r#"{"status":"in_repair"}"#),
        "equipment.fault.update",
        [401, 403, 403, 200, 403, 409],
    ),
    row(
        "POST",
        "/api/v1/equipment/moves",
        Some(r#"{"venue":"jinan","description":"to hall 2"}"#),
        "equipment.move.request",
        [401, 403, 403, 201, 403, 201],
    ),
    row(
        "GET",
        "/api/v1/equipment/moves",
        None,
        "equipment.read",
        [401, 403, 200, 200, 403, 200],
    ),
    row(
        "POST",
        "/api/v1/equipment/moves/1/test-call",
        Some(r#"{"passed":true}"#),
        "equipment.move.test_call",
        [401, 403, 403, 403, 403, 200],
    ),
    row(
        "POST",
        "/api/v1/auth/logout",
        None,
        "",
        [401, 204, 204, 204, 204, 204],
    ),
];

#[test]
fn every_endpoint_by_every_role_is_allowed_or_refused_and_refusals_are_audited() {
    let d = Daisd::start(true);
    let admin = login(d.addr, "admin", ADMIN_PW);
    d.add_venue(&admin, json!({"name": "province", "kind": "main"}));
    d.add_venue(
        &admin,
        json!({"name": "jinan", "kind": "city", "parent": "province"}),
    );
    d.add_venue(
        &admin,
        json!({"name": "qingdao", "kind": "city", "parent": "province"}),
    );
    for (number, venue) in [("8001", "qingdao"), ("8002", "jinan")] {
        let r = d.post(
            "/api/v1/meetings",
            Some(&admin),
            &json!({"number": number, "subject": "s", "main_venue": "province",
                    "venues": [venue], "chair": "chair1"}),
        );
        assert_eq!(r.status, 201, "{}", r.body);
    }
    let t = 4_100_000_000i64;
    let r = d.post(
        "/api/v1/bookings",
        Some(&admin),
        &json!({"applying_unit": "u", "subject": "s", "attendees": "a", "attendee_count": 1,
                "starts_at": t, "ends_at": t + 3600, "room": "11th floor", "venues": ["jinan"]}),
    );
    assert_eq!(
        (r.status, r.json()["id"].clone()),
        (201, json!(1)),
        "{}",
        r.body
    );
    for site in ["jinan", "qingdao"] {
        let r = d.post("/api/v1/sites", Some(&admin), &json!({"name": site}));
        assert_eq!(r.status, 201, "{}", r.body);
    }
    for path in ["/api/v1/equipment/faults", "/api/v1/equipment/moves"] {
        let r = d.post(
            path,
            Some(&admin),
            &json!({"venue": "jinan", "description": "set-up"}),
        );
        assert_eq!(
            (r.status, r.json()["id"].clone()),
            (201, json!(1)),
            "{}",
            r.body
        );
    }
    let mut tokens: Vec<(Who, Option<String>)> = Vec::new();
    for w in ROLES {
        let role = match w {
            Who::Anon => {
                tokens.push((w, None));
                continue;
            }
            Who::It => {
                tokens.push((w, Some(admin.clone())));
                continue;
            }
            Who::Site => json!({"kind": "site_admin", "site": "jinan"}),
            Who::Chair => json!({"kind": "chair_operator"}),
            Who::Approver => json!({"kind": "approver", "stage": "unit_head"}),
            Who::Auditor => json!({"kind": "auditor"}),
        };
        tokens.push((w, Some(d.account(&admin, username(w), role))));
    }

    let mut failures = Vec::new();
    let mut expected_refusals: Vec<(&str, &str)> = Vec::new();
    let mut anonymous_refusals = 0;
    for (n, row) in MATRIX.iter().enumerate() {
        for (i, (who, token)) in tokens.iter().enumerate() {
            // The logout row runs last for each role; an earlier logout would break later rows.
            let body = row.body.map(|b| {
                b.replace("{who}", &username(*who).replace('-', ""))
                    .replace("{n}", &format!("{n}{i}"))
            });
            let status = if row.method == "WS" {
                let number = row.path.split('/').nth(4).unwrap();
                match events(d.addr, token.as_deref(), number) {
                    Ok(mut ws) => {
                        let _ = ws.close(None);
                        101
                    }
                    Err(s) => s,
                }
            } else {
                api_common::http(
                    d.addr,
                    row.method,
                    row.path,
                    token.as_deref(),
                    body.as_deref(),
                )
                .status
            };
            let want = row.expect[i];
            if status != want {
                failures.push(format!(
                    "{} {} as {who:?}: got {status}, want {want}",
                    row.method, row.path
                ));
            }
            if want == 401 {
                anonymous_refusals += 1;
            }
            if want == 403 {
                expected_refusals.push((username(*who), row.refusal_action));
            }
        }
    }
    assert!(
        failures.is_empty(),
        "permission matrix:\n{}",
        failures.join("\n")
    );

    // Site admins see only their site's venues in the list.
    // (Their token was logged out by the last row; log in again.)
    let site = login(d.addr, "jinan-a", api_common::PW);
    let names: Vec<Value> = d
        .get("/api/v1/venues", Some(&site))
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].clone())
        .collect();
    assert_eq!(names, vec![json!("jinan")]);
    let numbers: Vec<Value> = d
        .get("/api/v1/meetings", Some(&site))
        .json()
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["number"].clone())
        .collect();
    assert!(numbers.contains(&json!("8000")) && numbers.contains(&json!("8002")));
    assert!(!numbers.contains(&json!("8001")), "{numbers:?}");

    let (data, _keep) = d.stop();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = dais_store::Store::open(&api_common::store_of(&data))
            .await
            .unwrap();
        let audit = store.recent_audit(10_000).await.unwrap();
        for (actor, action) in &expected_refusals {
            let wanted = expected_refusals
                .iter()
                .filter(|(a, b)| a == actor && b == action)
                .count();
            let found = audit
                .iter()
                .filter(|e| {
                    e.actor == *actor
                        && e.action == *action
                        && matches!(e.result, AuditResult::Refused(_))
                })
                .count();
            assert!(
                found >= wanted,
                "refusal of {action} by {actor} audited {found} times, expected {wanted}"
            );
        }
        let auth_refusals = audit
            .iter()
            .filter(|e| e.actor == "anonymous" && e.action == "auth")
            .count();
        assert!(
            auth_refusals >= anonymous_refusals,
            "{auth_refusals} anonymous refusals audited, {anonymous_refusals} expected"
        );
        store.verify_audit_chain().await.unwrap();
        store.close().await;
    });
}
