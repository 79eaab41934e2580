//! A short load run against a `daisd` the harness spawns itself: a few venues dial in over
//! SIP with digest auth, the chair broadcasts a random venue every second, and the run must be
//! correct: no SIP failure, no loss on loopback, no continuity violation, every switch
//! completed. No timing figure is asserted (the machine is shared and noisy).

use std::path::PathBuf;
use std::process::Command;

/// The daisd binary: `DAISD_BIN`, else the one beside our binary, built if missing.
fn daisd() -> PathBuf {
    if let Some(p) = std::env::var_os("DAISD_BIN") {
        return PathBuf::from(p);
    }
    let me = PathBuf::from(env!("CARGO_BIN_EXE_dais-loadgen"));
    let path = me.with_file_name("daisd");
    if !path.exists() {
        let release = me.parent().is_some_and(|d| d.ends_with("release"));
        let mut cargo = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
        cargo.args(["build", "-p", "dais-server", "--bin", "daisd"]);
        if release {
            cargo.arg("--release");
        }
        let status = cargo.status().expect("run cargo to build daisd");
        assert!(status.success(), "building daisd failed");
    }
    path
}

#[test]
fn a_small_meeting_over_real_sip_is_correct() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let out = Command::new(env!("CARGO_BIN_EXE_dais-loadgen"))
        .args([
            "--spawn",
            "--venues",
            "4",
            "--duration",
            "6",
            "--switch-every",
            "1.5",
            "--mute",
            "--quiet",
            "--json",
        ])
        .arg(&json)
        .arg("--daisd")
        .arg(daisd())
        .output()
        .expect("run dais-loadgen");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let text = std::fs::read_to_string(&json)
        .unwrap_or_else(|e| panic!("no JSON ({e})\nstdout:\n{stdout}\nstderr:\n{stderr}"));
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    let n = |k: &str| {
        r[k].as_u64()
            .unwrap_or_else(|| panic!("{k} missing in {text}"))
    };
    let ctx = format!("\n{stdout}\n{stderr}");
    assert_eq!(n("venues"), 4);
    assert_eq!(n("sip_failures"), 0, "every venue dials in{ctx}");
    assert!(n("sent_packets") > 0 && n("received_packets") > 0, "{ctx}");
    assert_eq!(n("lost_packets"), 0, "no loss on loopback{ctx}");
    assert_eq!(n("continuity_violations"), 0, "{ctx}");
    assert!(n("switches") >= 1, "the chair switched{ctx}");
    assert_eq!(n("switches_incomplete"), 0, "every switch completes{ctx}");
    assert_eq!(n("switches_completed"), n("switches"), "{ctx}");
    assert_eq!(n("command_errors"), 0, "{ctx}");
    assert!(out.status.success(), "exit status {:?}{ctx}", out.status);
}

#[test]
fn bad_options_and_non_loopback_targets_exit_2() {
    let out = Command::new(env!("CARGO_BIN_EXE_dais-loadgen"))
        .args([
            "--venues",
            "1",
            "--server",
            "http://127.0.0.1:1",
            "--duration",
            "1",
        ])
        .output()
        .unwrap();
    // One venue cannot make a meeting: refused before anything is contacted.
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_dais-loadgen"))
        .args(["--server", "http://10.1.2.3:8080", "--duration", "1"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "only loopback is ever loaded");
    let out = Command::new(env!("CARGO_BIN_EXE_dais-loadgen"))
        .args(["--server", "not-a-url"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

/// The chair also roll-calls, and venues black out (media and SIP go silent): the MCU must
/// notice by itself (media timeout, in its meeting record), and the venue must come back
/// cleanly when it dials in again — its first picture starting on a keyframe.
#[test]
fn roll_calls_and_blackouts_keep_the_meeting_correct() {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let out = Command::new(env!("CARGO_BIN_EXE_dais-loadgen"))
        .args([
            "--spawn",
            "--venues",
            "4",
            "--duration",
            "11",
            "--switch-every",
            "1.5",
            "--roll-call",
            "--drop-every",
            "3",
            "--drop-for",
            "5",
            "--drop-mode",
            "blackout",
            "--quiet",
            "--json",
        ])
        .arg(&json)
        .arg("--daisd")
        .arg(daisd())
        .output()
        .expect("run dais-loadgen");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let text = std::fs::read_to_string(&json)
        .unwrap_or_else(|e| panic!("no JSON ({e})\nstdout:\n{stdout}\nstderr:\n{stderr}"));
    let r: serde_json::Value = serde_json::from_str(&text).unwrap();
    let n = |k: &str| {
        r[k].as_u64()
            .unwrap_or_else(|| panic!("{k} missing in {text}"))
    };
    let ctx = format!("\n{stdout}\n{stderr}");
    assert_eq!(r["drop_mode"], "blackout");
    assert!(n("roll_calls") >= 1, "some switches were roll calls{ctx}");
    assert!(n("drops") >= 1, "{ctx}");
    assert!(
        n("mcu_detected_drops") >= 1,
        "the MCU detected a blackout by itself{ctx}"
    );
    assert_eq!(
        n("sip_failures"),
        0,
        "blacked-out venues dial in again{ctx}"
    );
    assert_eq!(n("continuity_violations"), 0, "{ctx}");
    assert_eq!(n("switches_incomplete"), 0, "{ctx}");
    assert_eq!(n("command_errors"), 0, "{ctx}");
}

/// Runs the harness against its own daisd with `args`; the JSON report and a context string
/// (stdout, stderr) for assertion messages.
fn run_loadgen(args: &[&str]) -> (serde_json::Value, String, std::process::ExitStatus) {
    let dir = tempfile::tempdir().unwrap();
    let json = dir.path().join("run.json");
    let out = Command::new(env!("CARGO_BIN_EXE_dais-loadgen"))
        .args(["--spawn", "--quiet", "--json"])
        .arg(&json)
        .arg("--daisd")
        .arg(daisd())
        .args(args)
        .output()
        .expect("run dais-loadgen");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let ctx = format!("\n{stdout}\n{stderr}");
    let text = std::fs::read_to_string(&json).unwrap_or_else(|e| panic!("no JSON ({e}){ctx}"));
    (serde_json::from_str(&text).unwrap(), ctx, out.status)
}

fn num(r: &serde_json::Value, k: &str) -> u64 {
    r[k].as_u64()
        .unwrap_or_else(|| panic!("{k} missing in {r}"))
}

/// The chair starts polling over the branches; the MCU switches by itself every second and
/// the harness times each switch from the event stream: all complete, cleanly.
#[test]
fn polling_switches_are_timed_and_clean() {
    let (r, ctx, status) = run_loadgen(&["--venues", "5", "--duration", "6", "--polling", "1"]);
    assert_eq!(r["polling_interval_s"], 1, "{ctx}");
    // 6 s at one switch a second: at least 3 even on a slow machine.
    assert!(num(&r, "poll_switches") >= 3, "the MCU polled{ctx}");
    assert_eq!(num(&r, "switches"), num(&r, "poll_switches"), "{ctx}");
    assert_eq!(
        num(&r, "switches_incomplete"),
        0,
        "every poll switch completes{ctx}"
    );
    assert_eq!(num(&r, "switches_completed"), num(&r, "switches"), "{ctx}");
    assert!(
        r["switch_ms"]["count"].as_u64().unwrap_or(0) >= 3,
        "timed{ctx}"
    );
    assert_eq!(num(&r, "continuity_violations"), 0, "{ctx}");
    assert_eq!(num(&r, "lost_packets"), 0, "no loss on loopback{ctx}");
    assert_eq!(num(&r, "sip_failures"), 0, "{ctx}");
    assert_eq!(num(&r, "command_errors"), 0, "start_polling accepted{ctx}");
    assert!(status.success(), "exit status {status:?}{ctx}");
}

/// The MCU dials the venues (their contacts point at the harness), the harness answers, and
/// the meeting then carries media and switches as with dial-in.
#[test]
fn dial_out_venues_are_called_and_carry_the_meeting() {
    let (r, ctx, status) = run_loadgen(&[
        "--venues",
        "4",
        "--duration",
        "5",
        "--switch-every",
        "1.5",
        "--dial-out",
    ]);
    assert_eq!(r["drive"], "dial_out", "{ctx}");
    assert!(
        num(&r, "invites_answered") >= 4,
        "daisd called every venue{ctx}"
    );
    assert_eq!(r["dial_out_up_ms"]["count"], 4, "every call came up{ctx}");
    assert_eq!(
        r["sip_setup_ms"]["count"].as_u64(),
        Some(num(&r, "invites_answered")),
        "{ctx}"
    );
    assert_eq!(num(&r, "sip_failures"), 0, "{ctx}");
    assert!(num(&r, "received_packets") > 0, "media flows{ctx}");
    assert_eq!(num(&r, "lost_packets"), 0, "no loss on loopback{ctx}");
    assert_eq!(num(&r, "continuity_violations"), 0, "{ctx}");
    assert!(num(&r, "switches") >= 1, "{ctx}");
    assert_eq!(
        num(&r, "switches_incomplete"),
        0,
        "every switch completes{ctx}"
    );
    assert!(status.success(), "exit status {status:?}{ctx}");
}
