//! Every chair command end to end through HTTP against the real `daisd --demo` (meeting 8000
//! with six simulated venues sending media), observed on the meeting's live state and on its
//! WebSocket event stream; and a meeting scheduled, started and ended through the API with its
//! state written back to the store.

mod api_common;

use std::time::Instant;

use api_common::{ADMIN_PW, Daisd, conference, events, leg, login, next_event, switched};
use serde_json::{Value, json};

const MAIN: &str = "province";
const BRANCHES: [&str; 5] = ["jinan", "qingdao", "licheng", "laoshan", "survey-institute"];

fn shown(feed: &'static str) -> impl Fn(&Value) -> bool {
    move |v| v["type"] == "conference" && v["event"] == "shown" && v["feed"] == feed
}

#[test]
fn chair_commands_change_what_venues_see_and_hear() {
    let d = Daisd::start(true);
    let t = login(d.addr, "admin", ADMIN_PW);
    let mut ws = events(d.addr, Some(&t), "8000").expect("event stream");

    // Broadcast: everyone but jinan watches the broadcast feed, which cuts over to jinan;
    // jinan itself watches the broadcaster view (the main venue).
    let r = d.command(
        &t,
        "8000",
        json!({"command": "broadcast", "venue": "jinan"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let (ev, _) = next_event(&mut ws, switched("broadcast", "jinan"));
    assert!(ev["latency_ms"].as_f64().unwrap() >= 0.0);
    let m = d.meeting(&t, "8000");
    assert_eq!(m["broadcast"], "jinan");
    assert_eq!(conference(&m)["feeds"]["broadcaster_view"], MAIN);
    assert_eq!(leg(&m, "jinan")["picture"], "broadcaster_view");
    for v in ["qingdao", "licheng", "laoshan", "survey-institute", MAIN] {
        assert_eq!(leg(&m, v)["picture"], "broadcast", "{v}");
    }

    // View: only the chair's private picture changes.
    let r = d.command(&t, "8000", json!({"command": "view", "venue": "qingdao"}));
    assert_eq!(r.status, 200, "{}", r.body);
    next_event(&mut ws, switched("chair_view", "qingdao"));
    let m = d.meeting(&t, "8000");
    assert_eq!(conference(&m)["feeds"]["chair_view"], "qingdao");
    assert_eq!(
        m["broadcast"], "jinan",
        "view must not change the broadcast"
    );
    assert_eq!(leg(&m, MAIN)["picture"], "chair_view");
    assert_eq!(leg(&m, "qingdao")["picture"], "broadcast");
    let r = d.command(&t, "8000", json!({"command": "stop_view"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let m = d.meeting(&t, "8000");
    assert_eq!(conference(&m)["feeds"]["chair_view"], Value::Null);
    assert_eq!(leg(&m, MAIN)["picture"], "broadcast");

    // Roll call: licheng is broadcast and only its microphone (and the main venue's) is open.
    let r = d.command(
        &t,
        "8000",
        json!({"command": "roll_call", "venue": "licheng"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    next_event(&mut ws, switched("broadcast", "licheng"));
    let m = d.meeting(&t, "8000");
    assert_eq!(conference(&m)["roll_call"], "licheng");
    assert_eq!(m["broadcast"], "licheng");
    assert_eq!(leg(&m, "licheng")["microphone_open"], true);
    assert_eq!(leg(&m, MAIN)["microphone_open"], true);
    for v in ["jinan", "qingdao", "laoshan", "survey-institute"] {
        assert_eq!(leg(&m, v)["microphone_open"], false, "{v} must be closed");
    }
    // Polling during a roll call is a conflict (409), and changes nothing.
    let r = d.command(
        &t,
        "8000",
        json!({"command": "start_polling", "venues": ["jinan"], "interval_secs": 2}),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    let r = d.command(&t, "8000", json!({"command": "end_roll_call"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let m = d.meeting(&t, "8000");
    assert_eq!(conference(&m)["roll_call"], Value::Null);
    for v in BRANCHES {
        assert_eq!(leg(&m, v)["microphone_open"], true, "{v} reopened");
    }

    // Polling visits the list in order; the tick grid is start + k x interval.
    let r = d.command(
        &t,
        "8000",
        json!({"command": "start_polling", "venues": ["qingdao", "laoshan", "jinan"], "interval_secs": 1}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let m = d.meeting(&t, "8000");
    assert_eq!(conference(&m)["polling"]["status"], "running");
    assert_eq!(conference(&m)["polling"]["interval"], 1000);
    let first_tick = conference(&m)["polling"]["next_switch"].as_u64().unwrap();
    let mut order = Vec::new();
    let mut at = Vec::new();
    let started = Instant::now();
    while order.len() < 5 {
        let (ev, _) = next_event(&mut ws, shown("broadcast"));
        order.push(ev["venue"].as_str().unwrap().to_owned());
        at.push(started.elapsed());
    }
    // The first switch (qingdao) may have been published before our read began.
    let expected_cycle = ["qingdao", "laoshan", "jinan"];
    let offset = expected_cycle
        .iter()
        .position(|v| *v == order[0])
        .expect("a polled venue");
    for (i, v) in order.iter().enumerate() {
        assert_eq!(v, expected_cycle[(offset + i) % 3], "order {order:?}");
    }
    let m = d.meeting(&t, "8000");
    let later_tick = conference(&m)["polling"]["next_switch"].as_u64().unwrap();
    assert_eq!(
        (later_tick - first_tick) % 1000,
        0,
        "ticks stay on the grid ({first_tick} → {later_tick})"
    );
    // Seen by `--nocapture` readers; not asserted (the machine is noisy).
    #[allow(clippy::print_stderr)]
    {
        eprintln!("polling switches observed at {at:?} (interval 1 s)");
    }
    let r = d.command(&t, "8000", json!({"command": "pause_polling"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        conference(&d.meeting(&t, "8000"))["polling"]["status"],
        "paused"
    );
    let r = d.command(&t, "8000", json!({"command": "resume_polling"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = d.command(&t, "8000", json!({"command": "stop_polling"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        conference(&d.meeting(&t, "8000"))["polling"]["status"],
        "off"
    );

    // Return to main.
    let r = d.command(&t, "8000", json!({"command": "return_to_main"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(d.meeting(&t, "8000")["broadcast"], MAIN);

    // Mute, unmute, mute all, block audio, voice activation, lock, extend.
    let r = d.command(&t, "8000", json!({"command": "mute", "venue": "jinan"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let m = d.meeting(&t, "8000");
    assert_eq!(leg(&m, "jinan")["muted"], true);
    assert_eq!(leg(&m, "jinan")["microphone_open"], false);
    let r = d.command(&t, "8000", json!({"command": "unmute", "venue": "jinan"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(leg(&d.meeting(&t, "8000"), "jinan")["muted"], false);
    let r = d.command(&t, "8000", json!({"command": "mute_all_but_main"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let m = d.meeting(&t, "8000");
    for v in BRANCHES {
        assert_eq!(leg(&m, v)["muted"], true, "{v}");
    }
    assert_eq!(leg(&m, MAIN)["muted"], false);
    for v in BRANCHES {
        let r = d.command(&t, "8000", json!({"command": "unmute", "venue": v}));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    let r = d.command(
        &t,
        "8000",
        json!({"command": "block_audio", "venue": "laoshan"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        leg(&d.meeting(&t, "8000"), "laoshan")["audio_blocked"],
        true
    );
    let r = d.command(
        &t,
        "8000",
        json!({"command": "unblock_audio", "venue": "laoshan"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        leg(&d.meeting(&t, "8000"), "laoshan")["audio_blocked"],
        false
    );
    let r = d.command(
        &t,
        "8000",
        json!({"command": "set_voice_activation", "on": true}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(conference(&d.meeting(&t, "8000"))["voice"]["on"], true);
    let r = d.command(
        &t,
        "8000",
        json!({"command": "set_voice_activation", "on": false}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = d.command(&t, "8000", json!({"command": "lock"}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(conference(&d.meeting(&t, "8000"))["locked"], true);
    let r = d.command(&t, "8000", json!({"command": "unlock"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = d.command(&t, "8000", json!({"command": "extend", "by_secs": 600}));
    assert_eq!(r.status, 200, "{}", r.body);

    // Hang up, dial again (the simulated venue answers), redial of a venue never dropped is a
    // conflict.
    let r = d.command(
        &t,
        "8000",
        json!({"command": "hang_up", "venue": "survey-institute"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let m = d.meeting(&t, "8000");
    assert_ne!(leg(&m, "survey-institute")["status"]["status"], "connected");
    let r = d.command(
        &t,
        "8000",
        json!({"command": "dial", "venue": "survey-institute"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    d.wait_until(&t, "8000", |m| {
        leg(m, "survey-institute")["status"]["status"] == "connected"
    });
    let r = d.command(&t, "8000", json!({"command": "redial", "venue": "jinan"}));
    assert_eq!(r.status, 409, "{}", r.body);

    // Hand the chair to another operator: admin is IT centre and keeps command rights.
    let r = d.command(
        &t,
        "8000",
        json!({"command": "hand_chair", "to": "someone"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(conference(&d.meeting(&t, "8000"))["chair"], "someone");

    // End: every leg is hung up, the state is ended, and the stream says so.
    let r = d.command(&t, "8000", json!({"command": "end_meeting"}));
    assert_eq!(r.status, 200, "{}", r.body);
    next_event(&mut ws, |v| {
        v["type"] == "conference" && v["event"] == "state_changed" && v["to"] == "ended"
    });
    let m = d.meeting(&t, "8000");
    assert_eq!(m["state"], "ended");
    assert_eq!(m["venues_connected"], 0);
    for l in conference(&m)["legs"].as_array().unwrap() {
        assert_ne!(l["status"]["status"], "connected", "{l}");
    }
    // Nothing more is possible in an ended meeting.
    let r = d.command(
        &t,
        "8000",
        json!({"command": "broadcast", "venue": "jinan"}),
    );
    assert_eq!(r.status, 409, "{}", r.body);
    d.stop();
}

#[test]
fn a_scheduled_meeting_is_started_from_the_store_and_its_state_written_back() {
    let d = Daisd::start(false);
    let admin = login(d.addr, "admin", ADMIN_PW);
    d.add_venue(&admin, json!({"name": "hq", "kind": "main"}));
    d.add_venue(
        &admin,
        json!({"name": "jinan", "kind": "city", "parent": "hq", "contact_uri": "sip:jinan@127.0.0.1"}),
    );
    d.add_venue(
        &admin,
        json!({"name": "qingdao", "kind": "city", "parent": "hq"}),
    );
    let chair = d.account(&admin, "chair1", json!({"kind": "chair_operator"}));
    let other = d.account(&admin, "chair2", json!({"kind": "chair_operator"}));
    let r = d.post(
        "/api/v1/meetings",
        Some(&admin),
        &json!({"number": "8001", "subject": "Monthly review", "main_venue": "hq",
                "venues": ["jinan", "qingdao"], "chair": "chair1"}),
    );
    assert_eq!(r.status, 201, "{}", r.body);
    assert_eq!(r.json()["venues"], json!(["hq", "jinan", "qingdao"]));
    assert_eq!(r.json()["state"], "scheduled");
    // Listed and readable before it runs.
    let m = d.meeting(&admin, "8001");
    assert_eq!(m["state"], "scheduled");
    assert_eq!(m["venues_total"], 3);
    let r = d.get("/api/v1/meetings", Some(&admin));
    assert!(
        r.json()
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["number"] == "8001")
    );

    // Another chair operator may not start it; its chair may, in testing.
    let r = d.post("/api/v1/meetings/8001/start", Some(&other), &json!({}));
    assert_eq!(r.status, 403, "{}", r.body);
    let r = d.post(
        "/api/v1/meetings/8001/start",
        Some(&chair),
        &json!({"testing": true}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let m = r.json();
    assert_eq!(m["state"], "testing");
    assert_eq!(conference(&m)["chair"], "chair1");
    // The SIP dialer calls every venue; nothing answers here, so none is connected, and the
    // venues without a contact URI or registration fail at once and wait for their redial.
    for v in ["hq", "jinan", "qingdao"] {
        let s = &leg(&m, v)["status"]["status"];
        assert!(s == "dialing" || s == "redial_pending", "{v}: {s}");
    }
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let m = d.meeting(&chair, "8001");
        let pending = ["hq", "qingdao"]
            .iter()
            .all(|v| leg(&m, v)["status"]["status"] == "redial_pending");
        if pending {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no redial scheduled: {m}"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let r = d.post("/api/v1/meetings/8001/start", Some(&chair), &json!({}));
    assert_eq!(r.status, 409, "already running: {}", r.body);
    let r = d.command(&chair, "8001", json!({"command": "go_live"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = d.command(&other, "8001", json!({"command": "end_meeting"}));
    assert_eq!(r.status, 403, "not the chair: {}", r.body);
    let r = d.command(&chair, "8001", json!({"command": "end_meeting"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let r = d.post("/api/v1/meetings/8001/start", Some(&chair), &json!({}));
    assert_eq!(r.status, 409, "running (ended) meeting: {}", r.body);
    let r = d.post("/api/v1/meetings/9999/start", Some(&chair), &json!({}));
    assert_eq!(r.status, 404, "{}", r.body);
    let r = d.post(
        "/api/v1/meetings/8001/start",
        Some(&chair),
        &json!({"bogus": 1}),
    );
    assert_eq!(r.status, 400, "{}", r.body);

    // The store saw scheduled → testing → live → ended (the writer runs beside the meeting).
    let (data, _keep) = d.stop();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let store = dais_store::Store::open(&api_common::store_of(&data))
            .await
            .unwrap();
        let m = store.meeting("8001").await.unwrap().unwrap();
        assert_eq!(m.state, dais_store::MeetingState::Ended);
        assert_eq!(m.chair.as_deref(), Some("chair1"));
        let audit = store.recent_audit(200).await.unwrap();
        let states: Vec<&str> = audit
            .iter()
            .rev()
            .filter(|e| e.target == "8001" && e.action.starts_with("meeting.state."))
            .map(|e| e.action.as_str())
            .collect();
        assert_eq!(
            states,
            [
                "meeting.state.testing",
                "meeting.state.live",
                "meeting.state.ended"
            ]
        );
        assert!(audit.iter().any(|e| e.action == "meeting.start"
            && e.actor == "chair2"
            && matches!(e.result, dais_store::AuditResult::Refused(_))));
        store.verify_audit_chain().await.unwrap();
        store.close().await;
    });
}

/// Latency of a chair command: from sending `broadcast` over HTTP to the `switch_completed`
/// event on the WebSocket (keyframe wait included). Not a test of a threshold; run with
/// `cargo test --release -p dais-server --test api_chair_commands -- --ignored --nocapture`.
#[test]
#[ignore = "benchmark: prints figures"]
fn chair_command_latency_api_to_switch_completed() {
    let d = Daisd::start(true);
    let t = login(d.addr, "admin", ADMIN_PW);
    let mut ws = events(d.addr, Some(&t), "8000").expect("event stream");
    let targets = ["jinan", "qingdao", "licheng", "laoshan"];
    let mut total = Vec::new();
    let mut engine = Vec::new();
    for i in 0..200 {
        let venue = targets[i % targets.len()];
        let start = Instant::now();
        let r = d.command(&t, "8000", json!({"command": "broadcast", "venue": venue}));
        assert_eq!(r.status, 200, "{}", r.body);
        let (ev, _) = next_event(&mut ws, move |v| {
            v["type"] == "switch_completed" && v["feed"] == "broadcast" && v["venue"] == venue
        });
        total.push(start.elapsed().as_secs_f64() * 1e3);
        engine.push(ev["latency_ms"].as_f64().unwrap());
    }
    let pct = |v: &mut Vec<f64>, p: f64| {
        v.sort_by(f64::total_cmp);
        let i = ((v.len() as f64 - 1.0) * p).round() as usize;
        v[i]
    };
    #[allow(clippy::print_stdout)]
    {
        println!(
            "api→switch_completed ms: p50 {:.1} p90 {:.1} p99 {:.1} max {:.1}",
            pct(&mut total, 0.5),
            pct(&mut total, 0.9),
            pct(&mut total, 0.99),
            pct(&mut total, 1.0)
        );
        println!(
            "engine switch latency (request→cut-over) ms: p50 {:.1} p90 {:.1} p99 {:.1}",
            pct(&mut engine, 0.5),
            pct(&mut engine, 0.9),
            pct(&mut engine, 0.99)
        );
    }
    d.stop();
}

/// The demo meeting's media counters reach `/metrics`, the sender threads' hand-offs included
/// (D38; six venues' batches are mostly sent by the task itself, so its value is not fixed).
#[test]
fn the_demo_meetings_media_counters_are_in_the_metrics() {
    let d = Daisd::start(true);
    let value = |body: &str, name: &str| -> Option<f64> {
        body.lines()
            .find(|l| l.starts_with(name) && l.contains("meeting=\"8000\""))
            .and_then(|l| l.rsplit(' ').next())
            .and_then(|v| v.parse().ok())
    };
    let started = Instant::now();
    let body = loop {
        let r = d.get("/metrics", None);
        assert_eq!(r.status, 200);
        if value(&r.body, "dais_media_sends_total").is_some_and(|v| v > 0.0)
            || started.elapsed().as_secs() > 20
        {
            break r.body;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert!(
        value(&body, "dais_media_datagrams_total").is_some_and(|v| v > 0.0),
        "the demo venues' media reached the meeting:\n{body}"
    );
    assert!(
        value(&body, "dais_media_sends_total").is_some_and(|v| v > 0.0),
        "{body}"
    );
    assert!(
        value(&body, "dais_media_send_hand_offs_total").is_some_and(|v| v >= 0.0),
        "{body}"
    );
}
