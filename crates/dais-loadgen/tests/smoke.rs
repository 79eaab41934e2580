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
