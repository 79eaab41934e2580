//! The web console end to end: the real `daisd --demo` (six simulated venues sending RTP),
//! Debian's headless Chromium driven by Playwright (`tests/e2e/console.mjs`). The script logs
//! in, checks the wall's hierarchy and live states, broadcasts (by click and by key), views,
//! roll-calls, mutes, polls, toggles voice activation and the lock, checks that an auditor's
//! commands are refused, and ends the meeting behind its confirmation until every leg is down.
//! It saves screenshots into `docs/screenshots/`.
//!
//! Needs `chromium` and `npm ci` in `tests/e2e` (both by `scripts/setup-test-deps.sh`).

mod api_common;

use std::path::PathBuf;
use std::process::Command;

use api_common::{ADMIN_PW, Daisd, PW, login};
use serde_json::json;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[test]
fn the_console_runs_a_meeting_in_headless_chromium() {
    let e2e = repo().join("tests/e2e");
    assert!(
        e2e.join("node_modules/playwright-core").is_dir(),
        "playwright-core is not installed in tests/e2e: run scripts/setup-test-deps.sh"
    );
    let chromium = std::env::var("CHROMIUM").unwrap_or_else(|_| "/usr/bin/chromium".into());
    assert!(
        std::path::Path::new(&chromium).exists(),
        "{chromium} is missing: run scripts/setup-test-deps.sh"
    );

    let d = Daisd::start(true);
    let admin = login(d.addr, "admin", ADMIN_PW);
    d.account(&admin, "auditor1", json!({"kind": "auditor"}));

    let shots = repo().join("docs/screenshots");
    let out = Command::new("node")
        .arg("console.mjs")
        .current_dir(&e2e)
        .env("DAIS_URL", d.url())
        .env("DAIS_ADMIN_PW", ADMIN_PW)
        .env("DAIS_AUDITOR", "auditor1")
        .env("DAIS_AUDITOR_PW", PW)
        .env("SCREENSHOT_DIR", &shots)
        .env("CHROMIUM", &chromium)
        .output()
        .expect("node runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "console e2e failed ({:?})\nstdout:\n{stdout}\nstderr:\n{stderr}",
        out.status
    );
    let summary: serde_json::Value = serde_json::from_str(
        stdout
            .lines()
            .rev()
            .find(|l| l.starts_with('{'))
            .expect("a summary line"),
    )
    .unwrap();
    assert_eq!(summary["ok"], true, "{summary}");
    // The console showed a measured switch latency for each broadcast it sent.
    for k in ["broadcast_jinan_ms", "broadcast_qingdao_key_ms"] {
        assert!(summary[k].as_f64().is_some_and(|v| v > 0.0), "{k}: {summary}");
    }
    for name in [
        "login-zh",
        "meetings",
        "wall",
        "broadcast",
        "muted",
        "polling",
        "wall-zh",
        "refused",
        "confirm-end",
        "ended",
    ] {
        assert!(shots.join(format!("{name}.png")).is_file(), "{name}.png");
    }

    // The server agrees with what the browser saw: the meeting ended, every leg is down.
    let m = d.meeting(&admin, "8000");
    assert_eq!(m["state"], "ended", "{m}");
    assert_eq!(m["venues_connected"], 0, "{m}");
}
