//! The `dais` CLI's operations commands against the real `daisd`: a booking filed with
//! RFC 3339 times and approved through its three stages by three operators, each logged in
//! from their own config directory; a clash refused with exit 1 naming the booking; sites
//! and A/B slots.

mod api_common;

use std::path::Path;

use api_common::{ADMIN_PW, Daisd, PW, login};
use dais_cli::{EXIT_OK, EXIT_REFUSED, EXIT_USAGE, Env};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

struct Out {
    code: u8,
    stdout: String,
    stderr: String,
}

fn dais(env: &Env, args: &[&str]) -> Out {
    let mut out = Vec::new();
    let mut err = Vec::new();
    let code = dais_cli::run(
        std::iter::once("dais").chain(args.iter().copied()),
        env,
        &mut out,
        &mut err,
    );
    Out {
        code,
        stdout: String::from_utf8(out).unwrap(),
        stderr: String::from_utf8(err).unwrap(),
    }
}

/// Logs `user` in from a fresh config directory and returns its environment.
fn logged_in(d: &Daisd, dir: &Path, user: &str, pw: &str) -> Env {
    let env = Env::default().with("DAIS_CONFIG_DIR", dir.to_string_lossy());
    let o = dais(
        &env.clone().with("DAIS_PASSWORD", pw),
        &["login", "--server", &d.url(), "--user", user],
    );
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    env
}

fn rfc3339(t: i64) -> String {
    OffsetDateTime::from_unix_timestamp(t)
        .unwrap()
        .format(&Rfc3339)
        .unwrap()
}

#[test]
fn dais_files_and_approves_a_booking_and_manages_site_slots() {
    let d = Daisd::start(false);
    let admin_t = login(d.addr, "admin", ADMIN_PW);
    d.add_venue(&admin_t, json!({"name": "province", "kind": "main"}));
    d.add_venue(
        &admin_t,
        json!({"name": "jinan", "kind": "city", "parent": "province"}),
    );
    d.account(&admin_t, "chair1", json!({"kind": "chair_operator"}));
    d.account(
        &admin_t,
        "head1",
        json!({"kind": "approver", "stage": "unit_head"}),
    );
    d.account(
        &admin_t,
        "leader1",
        json!({"kind": "approver", "stage": "department_leader"}),
    );
    d.account(
        &admin_t,
        "jinan-a",
        json!({"kind": "site_admin", "site": "jinan"}),
    );
    let dirs: Vec<tempfile::TempDir> = (0..5).map(|_| tempfile::tempdir().unwrap()).collect();
    let chair = logged_in(&d, dirs[0].path(), "chair1", PW);
    let head = logged_in(&d, dirs[1].path(), "head1", PW);
    let leader = logged_in(&d, dirs[2].path(), "leader1", PW);
    let admin = logged_in(&d, dirs[3].path(), "admin", ADMIN_PW);

    let o = dais(&chair, &["booking", "rooms"]);
    assert_eq!(o.stdout, "8th floor\n11th floor\n13th floor\n");

    let start = OffsetDateTime::now_utc().unix_timestamp() + 86_400;
    let (from, to) = (rfc3339(start), rfc3339(start + 3600));
    let create = |env: &Env, room: &str| {
        dais(
            env,
            &[
                "booking",
                "create",
                "--unit",
                "Finance bureau",
                "--subject",
                "Budget review",
                "--attendees",
                "bureau heads",
                "--count",
                "12",
                "--from",
                &from,
                "--to",
                &to,
                "--room",
                room,
                "--venue",
                "province,jinan",
                "--json",
            ],
        )
    };
    let o = create(&chair, "8th floor");
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    let b: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(b["starts_at"], start);
    let id = b["id"].to_string();
    // The same room at the same time: refused, naming the booking.
    let o = create(&chair, "8th floor");
    assert_eq!(o.code, EXIT_REFUSED, "{}", o.stdout);
    assert!(o.stderr.contains(&format!("booking {id}")), "{}", o.stderr);
    // A malformed time is a usage error before anything is sent.
    let o = dais(
        &chair,
        &[
            "booking",
            "create",
            "--unit",
            "u",
            "--subject",
            "s",
            "--attendees",
            "a",
            "--count",
            "1",
            "--from",
            "tomorrow",
            "--to",
            &to,
            "--room",
            "8th floor",
            "--venue",
            "jinan",
        ],
    );
    assert_eq!(o.code, EXIT_USAGE, "{}", o.stderr);
    assert!(o.stderr.contains("--from"), "{}", o.stderr);

    // The chain, in order; the applicant follows it with `booking show`.
    let o = dais(&head, &["booking", "inbox"]);
    assert!(o.stdout.contains("Budget review"), "{}", o.stdout);
    let o = dais(
        &leader,
        &["booking", "approve", &id, "--opinion", "too early"],
    );
    assert_eq!(o.code, EXIT_REFUSED, "{}", o.stdout);
    let o = dais(&head, &["booking", "approve", &id, "--opinion", "agreed"]);
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    let o = dais(&chair, &["booking", "show", &id]);
    assert!(o.stdout.contains("waiting for: it_centre"), "{}", o.stdout);
    assert!(
        o.stdout.contains("unit_head approved by head1: agreed"),
        "{}",
        o.stdout
    );
    assert_eq!(
        dais(&admin, &["booking", "approve", &id, "--opinion", "ok"]).code,
        EXIT_OK
    );
    let o = dais(&leader, &["booking", "approve", &id, "--opinion", "go"]);
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    assert!(
        o.stdout.contains("approved") && o.stdout.contains("8001"),
        "{}",
        o.stdout
    );
    let o = dais(&chair, &["bookings"]);
    assert!(o.stdout.starts_with("ID"), "{}", o.stdout);
    assert!(
        o.stdout.contains(&from),
        "times shown as RFC 3339: {}",
        o.stdout
    );
    let o = dais(&admin, &["meeting", "show", "8001", "--json"]);
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);

    // Sites.
    assert_eq!(dais(&admin, &["site", "add", "jinan"]).code, EXIT_OK);
    assert_eq!(dais(&chair, &["site", "add", "qingdao"]).code, EXIT_REFUSED);
    let o = dais(&admin, &["sites"]);
    assert!(o.stdout.contains("VACANT"), "{}", o.stdout);
    let o = dais(
        &admin,
        &[
            "site",
            "assign",
            "jinan",
            "a",
            "jinan-a",
            "--reason",
            "appointment",
        ],
    );
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    let o = dais(
        &admin,
        &["site", "vacate", "jinan", "a", "--reason", "holiday"],
    );
    assert_eq!(o.code, EXIT_USAGE, "not a reason: {}", o.stderr);
    let o = dais(
        &admin,
        &[
            "site",
            "vacate",
            "jinan",
            "a",
            "--reason",
            "transfer",
            "--note",
            "to qingdao",
        ],
    );
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    let o = dais(&admin, &["site", "history", "jinan"]);
    assert!(
        o.stdout.contains("appointment") && o.stdout.contains("to qingdao"),
        "{}",
        o.stdout
    );
    let o = dais(&admin, &["equipment", "due", "--json"]);
    assert_eq!((o.code, o.stdout.trim()), (EXIT_OK, "[]"), "{}", o.stderr);

    // Equipment: the site records its check and a fault, applies for a move; the IT centre
    // records the test call that closes it.
    let site = logged_in(&d, dirs[4].path(), "jinan-a", PW);
    let o = dais(
        &site,
        &[
            "equipment",
            "check",
            "jinan",
            "--failed",
            "--notes",
            "mic 2 dead",
        ],
    );
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    assert!(
        o.stdout.contains("FAILED") && o.stdout.contains("mic 2 dead"),
        "{}",
        o.stdout
    );
    assert_eq!(
        dais(&site, &["equipment", "check", "province"]).code,
        EXIT_REFUSED
    );
    let o = dais(
        &site,
        &[
            "equipment",
            "fault",
            "jinan",
            "--description",
            "mic 2 dead",
            "--json",
        ],
    );
    let fault: Value = serde_json::from_str(&o.stdout).unwrap();
    let fid = fault["id"].to_string();
    let o = dais(
        &site,
        &["equipment", "fault-status", &fid, "reported-to-it-centre"],
    );
    assert!(
        o.stdout.contains("reported_to_it_centre"),
        "{} {}",
        o.stdout,
        o.stderr
    );
    let o = dais(&site, &["equipment", "fault-status", &fid, "fixed"]);
    assert_eq!(o.code, EXIT_REFUSED, "final: {}", o.stdout);
    let o = dais(
        &site,
        &[
            "equipment",
            "move",
            "jinan",
            "--description",
            "to hall 2",
            "--json",
        ],
    );
    let mid = serde_json::from_str::<Value>(&o.stdout).unwrap()["id"].to_string();
    assert_eq!(
        dais(&site, &["equipment", "test-call", &mid]).code,
        EXIT_REFUSED
    );
    let o = dais(&admin, &["equipment", "test-call", &mid, "--failed"]);
    assert!(o.stdout.contains("test_failed"), "{}", o.stdout);
    let o = dais(
        &admin,
        &["equipment", "test-call", &mid, "--notes", "ok both ways"],
    );
    assert!(o.stdout.contains("closed"), "{}", o.stdout);
    let o = dais(&site, &["equipment", "moves"]);
    assert!(
        o.stdout.starts_with("ID") && o.stdout.contains("closed"),
        "{}",
        o.stdout
    );
}
