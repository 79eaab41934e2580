//! Operations through the API of the real `daisd`: bookings (conflicts, the approval chain in
//! order, the applicant's and approvers' views, the meeting an approval schedules), the
//! scheduler surviving a crash, and the sites' A/B administrator registry.

mod api_common;

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use api_common::{ADMIN_PW, Daisd, GUARD, login};
use dais_store::AuditResult;
use serde_json::{Value, json};

fn now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    )
    .unwrap()
}

fn booking(room: &str, venues: &[&str], from: i64, to: i64) -> Value {
    json!({
        "applying_unit": "Finance bureau",
        "subject": "Budget review",
        "attendees": "bureau heads",
        "attendee_count": 12,
        "starts_at": from,
        "ends_at": to,
        "room": room,
        "venues": venues,
        "remarks": "bring the draft",
        "chair": "chair1",
    })
}

fn venues(d: &Daisd, admin: &str) {
    d.add_venue(admin, json!({"name": "province", "kind": "main"}));
    for v in ["jinan", "qingdao"] {
        d.add_venue(
            admin,
            json!({"name": v, "kind": "city", "parent": "province"}),
        );
    }
}

fn decide(d: &Daisd, token: &str, id: i64, approve: bool, opinion: &str) -> api_common::Resp {
    d.post(
        &format!("/api/v1/bookings/{id}/decision"),
        Some(token),
        &json!({"approve": approve, "opinion": opinion}),
    )
}

#[test]
fn bookings_clash_by_room_and_venue_and_go_through_three_stages_in_order() {
    let d = Daisd::start(false);
    let admin = login(d.addr, "admin", ADMIN_PW);
    venues(&d, &admin);
    let chair = d.account(&admin, "chair1", json!({"kind": "chair_operator"}));
    let other = d.account(&admin, "chair2", json!({"kind": "chair_operator"}));
    let head = d.account(
        &admin,
        "head1",
        json!({"kind": "approver", "stage": "unit_head"}),
    );
    let leader = d.account(
        &admin,
        "leader1",
        json!({"kind": "approver", "stage": "department_leader"}),
    );
    let auditor = d.account(&admin, "audit1", json!({"kind": "auditor"}));

    // Every route of this work is in the OpenAPI document.
    let doc = d.get("/api/v1/openapi.json", None).json();
    for p in [
        "/api/v1/rooms",
        "/api/v1/bookings",
        "/api/v1/bookings/inbox",
        "/api/v1/bookings/{id}",
        "/api/v1/bookings/{id}/decision",
        "/api/v1/sites",
        "/api/v1/sites/{name}/slots/{slot}",
        "/api/v1/sites/{name}/history",
        "/api/v1/equipment/checks",
        "/api/v1/equipment/due",
        "/api/v1/equipment/faults",
        "/api/v1/equipment/faults/{id}/status",
        "/api/v1/equipment/moves",
        "/api/v1/equipment/moves/{id}/test-call",
        "/api/v1/meetings/{number}/record",
        "/api/v1/meetings/{number}/record.csv",
    ] {
        assert!(doc["paths"].get(p).is_some(), "openapi lacks {p}");
    }

    let rooms = d.get("/api/v1/rooms", Some(&chair)).json();
    assert_eq!(rooms, json!(["8th floor", "11th floor", "13th floor"]));

    let t = now() + 7200;
    let r = d.post(
        "/api/v1/bookings",
        Some(&chair),
        &booking("8th floor", &["province", "jinan"], t, t + 3600),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let b = r.json();
    let id = b["id"].as_i64().unwrap();
    assert_eq!(b["status"], "pending_unit_head");
    assert_eq!(b["waiting_for"], "unit_head");
    assert_eq!(b["venues"], json!(["province", "jinan"]));
    assert_eq!(b["applicant"], "chair1");

    // Clashes: 409 naming booking `id`.
    for (body, what) in [
        (
            booking("8th floor", &["qingdao"], t + 1800, t + 5400),
            "room",
        ),
        (
            booking("11th floor", &["qingdao", "jinan"], t - 600, t + 600),
            "venue jinan",
        ),
    ] {
        let r = d.post("/api/v1/bookings", Some(&other), &body);
        assert_eq!(r.status, 409, "{}", r.body);
        let e = r.json();
        assert_eq!(e["code"], "clash");
        let msg = e["message"].as_str().unwrap();
        assert!(
            msg.contains(&format!("booking {id}")) && msg.contains(what),
            "{msg}"
        );
    }
    // Not in the catalogue, unknown venue, reversed times, unknown field.
    let r = d.post(
        "/api/v1/bookings",
        Some(&other),
        &booking("roof", &["qingdao"], t, t + 60),
    );
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (400, json!("bad_request"))
    );
    assert!(r.body.contains("8th floor"), "{}", r.body);
    let r = d.post(
        "/api/v1/bookings",
        Some(&other),
        &booking("13th floor", &["atlantis"], t, t + 60),
    );
    assert_eq!(r.status, 404, "{}", r.body);
    let r = d.post(
        "/api/v1/bookings",
        Some(&other),
        &booking("13th floor", &["qingdao"], t + 60, t),
    );
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(r.body.contains("ends_at"), "{}", r.body);
    let mut extra = booking("13th floor", &["qingdao"], t, t + 60);
    extra["colour"] = json!("red");
    assert_eq!(d.post("/api/v1/bookings", Some(&other), &extra).status, 400);
    // Approvers and auditors do not file.
    assert_eq!(
        d.post(
            "/api/v1/bookings",
            Some(&head),
            &booking("13th floor", &["qingdao"], t, t + 60)
        )
        .status,
        403
    );

    // Out of order: the leader and the IT centre cannot decide before the unit head.
    assert_eq!(decide(&d, &leader, id, true, "fine").status, 403);
    assert_eq!(decide(&d, &admin, id, true, "fine").status, 403);
    // The applicant cannot approve their own booking.
    assert_eq!(decide(&d, &chair, id, true, "mine").status, 403);
    // The unit head's inbox has it; the leader's is empty.
    let inbox = d.get("/api/v1/bookings/inbox", Some(&head)).json();
    assert_eq!(inbox.as_array().unwrap().len(), 1);
    assert_eq!(inbox[0]["id"], id);
    assert_eq!(
        d.get("/api/v1/bookings/inbox", Some(&leader)).json(),
        json!([])
    );
    assert_eq!(d.get("/api/v1/bookings/inbox", Some(&chair)).status, 403);
    // A malformed id is the API's JSON 400.
    let r = d.get("/api/v1/bookings/abc", Some(&head));
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (400, json!("bad_request"))
    );
    assert_eq!(d.get("/api/v1/bookings/999", Some(&head)).status, 404);
    // An empty opinion is refused.
    assert_eq!(decide(&d, &head, id, true, " ").status, 400);

    let r = decide(&d, &head, id, true, "agreed");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["waiting_for"], "it_centre");
    // The applicant sees where it stands; another chair operator does not see it at all.
    let mine = d
        .get(&format!("/api/v1/bookings/{id}"), Some(&chair))
        .json();
    assert_eq!(mine["status"], "pending_it_centre");
    assert_eq!(mine["opinions"][0]["opinion"], "agreed");
    assert_eq!(
        d.get(&format!("/api/v1/bookings/{id}"), Some(&other))
            .status,
        403
    );
    assert_eq!(d.get("/api/v1/bookings", Some(&other)).json(), json!([]));
    assert_eq!(
        d.get("/api/v1/bookings", Some(&auditor))
            .json()
            .as_array()
            .unwrap()
            .len(),
        1
    );
    // The IT-centre stage is in the IT centre's inbox and decided by it.
    assert_eq!(
        d.get("/api/v1/bookings/inbox", Some(&admin)).json()[0]["id"],
        id
    );
    assert_eq!(decide(&d, &head, id, true, "again").status, 403);
    let r = decide(&d, &admin, id, true, "lines booked");
    assert_eq!(r.json()["waiting_for"], "department_leader");
    assert_eq!(d.get("/api/v1/meetings/8001", Some(&admin)).status, 404);
    let r = decide(&d, &leader, id, true, "approved");
    assert_eq!(r.status, 200, "{}", r.body);
    let b = r.json();
    assert_eq!(b["status"], "approved");
    assert_eq!(b["waiting_for"], Value::Null);
    assert_eq!(b["meeting_number"], "8001");
    let stages: Vec<&str> = b["opinions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["stage"].as_str().unwrap())
        .collect();
    assert_eq!(stages, ["unit_head", "it_centre", "department_leader"]);
    // Decided: a further decision is 409.
    assert_eq!(
        decide(&d, &leader, id, false, "changed my mind").status,
        409
    );

    // The scheduled meeting (two hours away: not yet in its testing window).
    let m = d.meeting(&admin, "8001");
    assert_eq!(m["state"], "scheduled");
    assert_eq!(m["extra"]["chair"], "chair1");
    let names: Vec<&str> = m["venues"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["province", "jinan"]);

    // A rejection ends the chain; the slot is then free again.
    let r = d.post(
        "/api/v1/bookings",
        Some(&other),
        &booking("8th floor", &["qingdao"], t + 3600, t + 7200),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let id2 = r.json()["id"].as_i64().unwrap();
    let r = decide(&d, &head, id2, false, "use the phone");
    assert_eq!(r.json()["status"], "rejected");
    assert_eq!(
        d.post(
            "/api/v1/bookings",
            Some(&other),
            &booking("8th floor", &["qingdao"], t + 3600, t + 7200)
        )
        .status,
        201
    );

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
        let refused = |actor: &str, action: &str| {
            audit.iter().any(|e| {
                e.actor == actor
                    && e.action == action
                    && matches!(e.result, AuditResult::Refused(_))
            })
        };
        assert!(refused("leader1", "booking.decide"));
        assert!(refused("chair1", "booking.decide"));
        assert!(refused("head1", "booking.create"));
        assert!(refused("chair2", "booking.read"));
        assert!(refused("chair2", "booking.create"), "the clash is audited");
        for a in [
            "booking.approve.unit_head",
            "booking.approve.it_centre",
            "booking.approve.department_leader",
            "booking.reject.unit_head",
        ] {
            assert!(audit.iter().any(|e| e.action == a), "{a}");
        }
        store.verify_audit_chain().await.unwrap();
        store.close().await;
    });
}

/// Polls `GET /api/v1/meetings/{n}` until `pred` (a hang guard bounds it).
fn wait_meeting(d: &Daisd, token: &str, n: &str, pred: impl Fn(&Value) -> bool) -> Value {
    let start = Instant::now();
    loop {
        let r = d.get(&format!("/api/v1/meetings/{n}"), Some(token));
        if r.status == 200 && pred(&r.json()) {
            return r.json();
        }
        assert!(start.elapsed() < GUARD * 2, "never held; last: {}", r.body);
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn running(m: &Value) -> bool {
    m["extra"]["running"] != json!(false)
}

#[test]
fn the_scheduler_opens_testing_goes_live_and_resumes_after_a_crash() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let conf = dir.path().join("daisd.toml");
    // A one-hour testing window: the meeting is in it as soon as it is approved.
    std::fs::write(&conf, "testing_lead_secs = 3600\n").unwrap();
    let conf_s = conf.to_str().unwrap().to_owned();
    let d = Daisd::start_with(dir, data, &["--config", &conf_s]);
    let admin = login(d.addr, "admin", ADMIN_PW);
    venues(&d, &admin);
    let head = d.account(
        &admin,
        "head1",
        json!({"kind": "approver", "stage": "unit_head"}),
    );
    let leader = d.account(
        &admin,
        "leader1",
        json!({"kind": "approver", "stage": "department_leader"}),
    );
    // Far enough ahead that the crash and restart below happen before it (a debug daisd
    // starts in a second or two); the test stays correct if not, it then checks live only.
    let start = now() + 30;
    let mut b = booking("13th floor", &["province", "qingdao"], start, start + 3600);
    b["meeting_number"] = json!("8500");
    b["chair"] = Value::Null;
    let r = d.post("/api/v1/bookings", Some(&admin), &b);
    assert_eq!(r.status, 201, "{}", r.body);
    let id = r.json()["id"].as_i64().unwrap();
    assert_eq!(decide(&d, &head, id, true, "ok").status, 200);
    assert_eq!(decide(&d, &admin, id, true, "ok").status, 200);
    let approved_at = now();
    assert_eq!(decide(&d, &leader, id, true, "ok").status, 200);

    // The scheduler opens the testing window (the approval happened inside it).
    let m = wait_meeting(&d, &admin, "8500", running);
    if now() < start {
        assert_eq!(m["state"], "testing", "{m}");
    }
    assert_eq!(m["venues_total"], 2);
    // The planned end is the booked end (milliseconds from the meeting's own start, which
    // lies between the final approval and now).
    let ends_at = m["extra"]["live"]["conference"]["ends_at"]
        .as_i64()
        .unwrap_or_else(|| panic!("no planned end: {m}"))
        / 1000;
    let booked_end = start + 3600;
    assert!(
        (booked_end - now() - 1..=booked_end - approved_at + 1).contains(&ends_at),
        "planned end {ends_at} s after the start, booked end {booked_end}"
    );

    // The record is copied to the store while the meeting runs: wait for the copy holding the
    // scheduler's start, then crash (SIGKILL, no shutdown sequence).
    let started_by_scheduler = |record: &Value| {
        record
            .as_array()
            .unwrap()
            .iter()
            .filter(|e| e["actor"]["operator"] == "scheduler" && e["kind"]["kind"] == "command")
            .count()
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let t = Instant::now();
    rt.block_on(async {
        let store = dais_store::Store::open(&api_common::store_of(&d.data))
            .await
            .unwrap();
        loop {
            if let Some(r) = store.meeting_record("8500").await.unwrap()
                && started_by_scheduler(&serde_json::from_str(&r.json).unwrap()) > 0
            {
                break;
            }
            assert!(t.elapsed() < GUARD, "the running record was never copied");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        store.close().await;
    });
    let (data, keep) = d.kill();
    let d = Daisd::start_with(keep, data, &["--config", &conf_s]);
    let admin = login(d.addr, "admin", ADMIN_PW);
    // Nothing lost: the venues, the accounts, the booking with its three opinions.
    assert_eq!(
        d.get("/api/v1/venues", Some(&admin))
            .json()
            .as_array()
            .unwrap()
            .len(),
        3
    );
    let b = d
        .get(&format!("/api/v1/bookings/{id}"), Some(&admin))
        .json();
    assert_eq!(b["status"], "approved");
    assert_eq!(b["opinions"].as_array().unwrap().len(), 3);
    let head = login(d.addr, "head1", api_common::PW);
    assert_eq!(
        d.get("/api/v1/bookings/inbox", Some(&head)).json(),
        json!([])
    );
    // The schedule resumes: running again, in testing while before the start...
    let m = wait_meeting(&d, &admin, "8500", running);
    if now() < start {
        assert_eq!(m["state"], "testing", "{m}");
    }
    // ...and live at the start.
    let m = wait_meeting(&d, &admin, "8500", |m| running(m) && m["state"] == "live");
    assert!(now() >= start, "live before its start: {m}");
    // The record holds the run before the crash and the run after it.
    let record = d.get("/api/v1/meetings/8500/record", Some(&admin)).json();
    assert!(started_by_scheduler(&record) >= 2, "{record}");

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
        let starts = audit
            .iter()
            .filter(|e| e.actor == "scheduler" && e.action == "meeting.start")
            .count();
        assert_eq!(starts, 2, "one start before the crash, one after");
        store.verify_audit_chain().await.unwrap();
        store.close().await;
    });
}

#[test]
fn sites_keep_their_a_b_pair_the_replacement_history_and_show_vacancies() {
    let d = Daisd::start(false);
    let admin = login(d.addr, "admin", ADMIN_PW);
    let ja = d.account(
        &admin,
        "jinan-a",
        json!({"kind": "site_admin", "site": "jinan"}),
    );
    d.account(
        &admin,
        "jinan-b",
        json!({"kind": "site_admin", "site": "jinan"}),
    );
    d.account(
        &admin,
        "jinan-c",
        json!({"kind": "site_admin", "site": "jinan"}),
    );
    let qa = d.account(
        &admin,
        "qingdao-a",
        json!({"kind": "site_admin", "site": "qingdao"}),
    );
    let chair = d.account(&admin, "chair1", json!({"kind": "chair_operator"}));
    for s in ["jinan", "qingdao"] {
        let r = d.post("/api/v1/sites", Some(&admin), &json!({"name": s}));
        assert_eq!(r.status, 201, "{}", r.body);
    }
    assert_eq!(
        d.post("/api/v1/sites", Some(&admin), &json!({"name": "jinan"}))
            .status,
        409
    );
    assert_eq!(
        d.post("/api/v1/sites", Some(&ja), &json!({"name": "x"}))
            .status,
        403
    );
    let slot = |site: &str, slot: &str, who: Value, reason: &str, token: &str| {
        d.put(
            &format!("/api/v1/sites/{site}/slots/{slot}"),
            Some(token),
            &json!({"operator": who, "reason": reason, "note": "order 12"}),
        )
    };
    assert_eq!(
        slot("jinan", "a", json!("jinan-a"), "appointment", &admin).status,
        200
    );
    assert_eq!(
        slot("jinan", "b", json!("jinan-b"), "appointment", &admin).status,
        200
    );
    assert_eq!(
        slot("qingdao", "a", json!("qingdao-a"), "appointment", &admin).status,
        200
    );
    // Refusals: not the IT centre; the other site's admin; an appointment over a holder; a
    // reason or slot not in the list; an unknown site.
    assert_eq!(
        slot("jinan", "a", json!("jinan-c"), "transfer", &ja).status,
        403
    );
    assert_eq!(
        slot("jinan", "a", json!("qingdao-a"), "transfer", &admin).status,
        400
    );
    assert_eq!(
        slot("jinan", "a", json!("jinan-c"), "appointment", &admin).status,
        400
    );
    assert_eq!(
        slot("jinan", "a", json!("jinan-c"), "holiday", &admin).status,
        400
    );
    assert_eq!(
        slot("jinan", "c", json!("jinan-c"), "transfer", &admin).status,
        400
    );
    assert_eq!(
        slot("nowhere", "a", json!("jinan-c"), "appointment", &admin).status,
        404
    );
    // Replacement for retirement, and B leaves (vacant).
    let r = slot("jinan", "a", json!("jinan-c"), "retirement", &admin);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["previous"], "jinan-a");
    assert_eq!(slot("jinan", "b", Value::Null, "leave", &admin).status, 200);

    let sites = d.get("/api/v1/sites", Some(&admin)).json();
    assert_eq!(sites.as_array().unwrap().len(), 2);
    assert_eq!(sites[0]["name"], "jinan");
    assert_eq!(sites[0]["a"]["operator"], "jinan-c");
    assert_eq!(sites[0]["b"]["operator"], Value::Null);
    assert_eq!(sites[0]["vacant"], true);
    assert_eq!(sites[1]["vacant"], true, "qingdao has no B");
    // A site admin sees only their own site; a chair operator nothing.
    let own = d.get("/api/v1/sites", Some(&qa)).json();
    assert_eq!(own.as_array().unwrap().len(), 1);
    assert_eq!(own[0]["name"], "qingdao");
    assert_eq!(d.get("/api/v1/sites", Some(&chair)).status, 403);
    assert_eq!(d.get("/api/v1/sites/jinan/history", Some(&qa)).status, 403);
    let h = d.get("/api/v1/sites/jinan/history", Some(&admin)).json();
    let rows: Vec<(String, Value, Value, String)> = h
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            (
                c["slot"].as_str().unwrap().to_owned(),
                c["previous"].clone(),
                c["next"].clone(),
                c["reason"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        vec![
            (
                "a".into(),
                Value::Null,
                json!("jinan-a"),
                "appointment".into()
            ),
            (
                "b".into(),
                Value::Null,
                json!("jinan-b"),
                "appointment".into()
            ),
            (
                "a".into(),
                json!("jinan-a"),
                json!("jinan-c"),
                "retirement".into()
            ),
            ("b".into(), json!("jinan-b"), Value::Null, "leave".into()),
        ]
    );
    assert_eq!(h[2]["by"], "admin");
    assert_eq!(h[2]["note"], "order 12");
}

#[test]
fn equipment_checks_faults_and_moves_are_scoped_to_the_site_and_moves_close_on_a_passed_test() {
    let d = Daisd::start(false);
    let admin = login(d.addr, "admin", ADMIN_PW);
    venues(&d, &admin);
    let ja = d.account(
        &admin,
        "jinan-a",
        json!({"kind": "site_admin", "site": "jinan"}),
    );
    let qa = d.account(
        &admin,
        "qingdao-a",
        json!({"kind": "site_admin", "site": "qingdao"}),
    );
    let chair = d.account(&admin, "chair1", json!({"kind": "chair_operator"}));
    let auditor = d.account(&admin, "audit1", json!({"kind": "auditor"}));

    let r = d.post(
        "/api/v1/equipment/checks",
        Some(&ja),
        &json!({"venue": "jinan", "passed": true, "notes": "camera, codec, mics ok"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["checked_by"], "jinan-a");
    for (token, venue, want) in [
        (&ja, "qingdao", 403),
        (&chair, "jinan", 403),
        (&auditor, "jinan", 403),
        (&ja, "atlantis", 404),
    ] {
        let r = d.post(
            "/api/v1/equipment/checks",
            Some(token),
            &json!({"venue": venue, "passed": true}),
        );
        assert_eq!(r.status, want, "{venue}: {}", r.body);
    }
    // Venues created just now are not due for a month (the due rule is tested in the store).
    assert_eq!(
        d.get("/api/v1/equipment/due", Some(&admin)).json(),
        json!([])
    );
    assert_eq!(d.get("/api/v1/equipment/due", Some(&chair)).status, 403);

    let r = d.post(
        "/api/v1/equipment/faults",
        Some(&ja),
        &json!({"venue": "jinan", "description": "echo on the far end"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let fid = r.json()["id"].as_i64().unwrap();
    assert_eq!(r.json()["status"], "open");
    let status = |token: &str, s: &str| {
        d.post(
            &format!("/api/v1/equipment/faults/{fid}/status"),
            Some(token),
            &json!({"status": s}),
        )
    };
    assert_eq!(status(&qa, "in_repair").status, 403, "another site's admin");
    assert_eq!(status(&ja, "broken").status, 400);
    assert_eq!(status(&ja, "in_repair").json()["status"], "in_repair");
    assert_eq!(status(&ja, "fixed").json()["status"], "fixed");
    let r = status(&ja, "in_repair");
    assert_eq!(
        (r.status, r.json()["code"].clone()),
        (409, json!("wrong_state"))
    );

    let r = d.post(
        "/api/v1/equipment/moves",
        Some(&ja),
        &json!({"venue": "jinan", "description": "terminal to the 3rd floor hall"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    let mid = r.json()["id"].as_i64().unwrap();
    let test = |token: &str, passed: bool| {
        d.post(
            &format!("/api/v1/equipment/moves/{mid}/test-call"),
            Some(token),
            &json!({"passed": passed, "notes": "joint call with the province"}),
        )
    };
    assert_eq!(
        test(&ja, true).status,
        403,
        "the IT centre records the joint test"
    );
    assert_eq!(test(&admin, false).json()["status"], "test_failed");
    let r = test(&admin, true);
    assert_eq!(r.json()["status"], "closed");
    assert_eq!(r.json()["test_by"], "admin");
    assert_eq!(test(&admin, true).status, 409);

    // Reading: the site's own records for its admin, everything for the auditor.
    for path in [
        "/api/v1/equipment/checks",
        "/api/v1/equipment/faults",
        "/api/v1/equipment/moves",
    ] {
        assert_eq!(d.get(path, Some(&qa)).json(), json!([]), "{path}");
        assert_eq!(
            d.get(path, Some(&ja)).json().as_array().unwrap().len(),
            1,
            "{path}"
        );
        assert_eq!(
            d.get(path, Some(&auditor)).json()[0]["venue"],
            "jinan",
            "{path}"
        );
        assert_eq!(d.get(path, Some(&chair)).status, 403, "{path}");
    }
}

#[test]
fn the_meeting_record_is_readable_live_stored_at_the_end_and_kept_across_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let d = Daisd::start_with(dir, data, &[]);
    let admin = login(d.addr, "admin", ADMIN_PW);
    venues(&d, &admin);
    let head = d.account(
        &admin,
        "head1",
        json!({"kind": "approver", "stage": "unit_head"}),
    );
    let qa = d.account(
        &admin,
        "qingdao-a",
        json!({"kind": "site_admin", "site": "qingdao"}),
    );
    let ja = d.account(
        &admin,
        "jinan-a",
        json!({"kind": "site_admin", "site": "jinan"}),
    );
    let r = d.post(
        "/api/v1/meetings",
        Some(&admin),
        &json!({"number": "8100", "subject": "s", "main_venue": "province", "venues": ["jinan"]}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    // Not running, never ended: no record yet.
    assert_eq!(
        d.get("/api/v1/meetings/8100/record", Some(&admin)).status,
        404
    );
    let r = d.post(
        "/api/v1/meetings/8100/start",
        Some(&admin),
        &json!({"testing": true}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        d.command(&admin, "8100", json!({"command": "go_live"}))
            .status,
        200
    );
    assert_eq!(
        d.command(&admin, "8100", json!({"command": "mute", "venue": "jinan"}))
            .status,
        200
    );

    let live = d.get("/api/v1/meetings/8100/record", Some(&ja));
    assert_eq!(live.status, 200, "{}", live.body);
    assert_eq!(live.header("content-type"), Some("application/json"));
    let entries = live.json();
    let by_admin = entries
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["actor"]["operator"] == "admin")
        .count();
    assert!(by_admin >= 2, "go live and mute by admin: {entries}");
    assert_eq!(
        d.get("/api/v1/meetings/8100/record", Some(&head)).status,
        403
    );
    assert_eq!(d.get("/api/v1/meetings/8100/record", Some(&qa)).status, 403);
    assert_eq!(
        d.get("/api/v1/meetings/8100/record.csv", Some(&qa)).status,
        403
    );
    assert_eq!(d.get("/api/v1/meetings/8100/record", None).status, 401);
    assert_eq!(
        d.get("/api/v1/meetings/81x/record", Some(&admin)).status,
        400
    );

    assert_eq!(
        d.command(&admin, "8100", json!({"command": "end_meeting"}))
            .status,
        200
    );
    // The server writes the record when the meeting ends: watch the store (a second SQLite
    // connection beside the server's, as a backup tool would have) until its copy is as long
    // as the ended meeting's record.
    let ended = d.get("/api/v1/meetings/8100/record", Some(&admin)).json();
    let want = ended.as_array().unwrap().len();
    assert!(
        want > entries.as_array().unwrap().len(),
        "the end is recorded"
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let start = Instant::now();
    rt.block_on(async {
        let store = dais_store::Store::open(&api_common::store_of(&d.data))
            .await
            .unwrap();
        loop {
            let stored = store.meeting_record("8100").await.unwrap();
            let n = stored.map_or(0, |r| {
                serde_json::from_str::<Value>(&r.json)
                    .unwrap()
                    .as_array()
                    .unwrap()
                    .len()
            });
            if n == want {
                break;
            }
            assert!(
                start.elapsed() < GUARD,
                "the whole record was never stored ({n} of {want})"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        store.close().await;
    });
    let (data, keep) = d.stop();
    let d = Daisd::start_with(keep, data, &[]);
    let admin = login(d.addr, "admin", ADMIN_PW);
    let stored = d.get("/api/v1/meetings/8100/record", Some(&admin));
    assert_eq!(stored.status, 200, "{}", stored.body);
    let all = stored.json();
    assert!(all.as_array().unwrap().len() > entries.as_array().unwrap().len());
    assert_eq!(
        all[0], entries[0],
        "the stored record starts as the live one did"
    );
    let csv = d.get("/api/v1/meetings/8100/record.csv", Some(&admin));
    assert_eq!(csv.status, 200);
    assert_eq!(csv.header("content-type"), Some("text/csv; charset=utf-8"));
    assert!(
        csv.body
            .starts_with("at_ms,operator,role,kind,venue,detail\r\n"),
        "{}",
        csv.body
    );
    assert_eq!(csv.body.lines().count(), all.as_array().unwrap().len() + 1);
    assert!(csv.body.contains(",admin,it_centre,"), "{}", csv.body);
}
