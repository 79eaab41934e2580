//! The `dais` CLI (its library entry point, in-process) against the real `daisd --demo`: login
//! saves a private token, chair commands change the meeting, `--json` is machine-readable,
//! and refusals, usage errors and an unreachable server give exit codes 1, 2 and 3.

mod api_common;

use std::path::Path;

use api_common::{ADMIN_PW, Daisd};
use dais_cli::{EXIT_OK, EXIT_REFUSED, EXIT_UNREACHABLE, EXIT_USAGE, Env};
use serde_json::Value;

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

fn env_in(dir: &Path) -> Env {
    Env::default().with("DAIS_CONFIG_DIR", dir.to_string_lossy())
}

#[test]
fn dais_cli_drives_a_running_daisd() {
    let d = Daisd::start(true);
    let cfg = tempfile::tempdir().unwrap();
    let env = env_in(cfg.path());

    // Before login: usage error naming the fix.
    let o = dais(&env, &["meetings"]);
    assert_eq!(o.code, EXIT_USAGE, "{}", o.stderr);
    assert!(o.stderr.contains("dais login"), "{}", o.stderr);

    let o = dais(
        &env.clone().with("DAIS_PASSWORD", ADMIN_PW),
        &["login", "--server", &d.url(), "--user", "admin"],
    );
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    let token_file = cfg.path().join("token");
    let token = std::fs::read_to_string(&token_file).unwrap();
    assert_eq!(token.len(), 64);
    assert!(!o.stdout.contains(&token), "the token is not printed");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }

    // The server URL was saved with the token: no --server from here on.
    let o = dais(&env, &["meetings"]);
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    assert!(o.stdout.starts_with("NUMBER"), "{}", o.stdout);
    assert!(o.stdout.contains("8000"), "{}", o.stdout);

    let o = dais(&env, &["broadcast", "8000", "jinan"]);
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    let o = dais(&env, &["meeting", "show", "8000", "--json"]);
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["broadcast"], "jinan");
    let o = dais(&env, &["meeting", "show", "8000"]);
    assert!(o.stdout.contains("broadcast jinan"), "{}", o.stdout);

    let o = dais(&env, &["view", "8000", "qingdao"]);
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    let o = dais(&env, &["mute", "8000", "laoshan"]);
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    let o = dais(
        &env,
        &["poll", "start", "8000", "--every", "20", "jinan", "qingdao"],
    );
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    let o = dais(&env, &["meeting", "show", "8000", "--json"]);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    let conf = &v["extra"]["live"]["conference"];
    assert_eq!(conf["feeds"]["chair_view"], "qingdao");
    assert_eq!(conf["polling"]["status"], "running");
    assert_eq!(conf["polling"]["interval"], 20_000);
    assert!(
        v["venues"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["name"] == "laoshan" && l["muted"] == true)
    );
    let o = dais(&env, &["poll", "stop", "8000"]);
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);

    // Venues, meetings and accounts.
    let sip = env.clone().with("DAIS_SIP_PASSWORD", "venue secret");
    let o = dais(&sip, &["venue", "add", "hq", "--kind", "main"]);
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    let o = dais(
        &sip,
        &["venue", "add", "zibo", "--kind", "city", "--parent", "hq"],
    );
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    let o = dais(&env, &["venues"]);
    assert!(
        o.stdout.contains("zibo") && o.stdout.contains("hq"),
        "{}",
        o.stdout
    );
    let o = dais(&env, &["venue", "show", "zibo", "--json"]);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["parent"], "hq");
    assert!(v.get("sip_password").is_none() && !o.stdout.contains("venue secret"));
    let o = dais(
        &env,
        &[
            "meeting",
            "create",
            "8001",
            "--subject",
            "Review",
            "--main",
            "hq",
            "--venue",
            "zibo",
        ],
    );
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    let o = dais(&env, &["meeting", "start", "8001"]);
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    assert!(o.stdout.contains("state live"), "{}", o.stdout);
    let o = dais(&env, &["end", "8001"]);
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);

    let o = dais(
        &env.clone().with("DAIS_NEW_PASSWORD", "auditor password"),
        &["operator", "add", "audit1", "--role", "auditor"],
    );
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    let o = dais(&env, &["operators"]);
    assert!(
        o.stdout.contains("audit1") && o.stdout.contains("auditor"),
        "{}",
        o.stdout
    );

    // Another operator, another config dir: an auditor is refused a chair command (exit 1),
    // with the API's code and message on stderr.
    let cfg2 = tempfile::tempdir().unwrap();
    let env2 = env_in(cfg2.path());
    let o = dais(
        &env2.clone().with("DAIS_PASSWORD", "auditor password"),
        &["login", "--server", &d.url(), "--user", "audit1"],
    );
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    let o = dais(&env2, &["broadcast", "8000", "qingdao"]);
    assert_eq!(o.code, EXIT_REFUSED);
    assert!(o.stderr.starts_with("dais: forbidden:"), "{}", o.stderr);
    let o = dais(&env2, &["whoami"]);
    assert_eq!(o.stdout.trim(), "audit1 (auditor)");
    // The refusal changed nothing.
    let o = dais(&env, &["meeting", "show", "8000", "--json"]);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["broadcast"], "jinan");

    // Unknown venue → 404 → exit 1; bad arguments → 2; unreachable → 3.
    let o = dais(&env, &["broadcast", "8000", "nowhere"]);
    assert_eq!(o.code, EXIT_REFUSED);
    assert!(o.stderr.contains("not_found"), "{}", o.stderr);
    let o = dais(&env, &["broadcast", "8000"]);
    assert_eq!(o.code, EXIT_USAGE);
    let o = dais(&env, &["broadcast", "80a0", "jinan"]);
    assert_eq!(o.code, EXIT_USAGE);
    let o = dais(&env, &["--server", "http://127.0.0.1:1", "meetings"]);
    assert_eq!(o.code, EXIT_UNREACHABLE, "{}", o.stderr);
    let o = dais(&env, &["--help"]);
    assert_eq!(o.code, EXIT_OK);
    assert!(o.stdout.contains("roll-call"), "{}", o.stdout);

    // End the demo from the CLI; then logout forgets the token.
    let o = dais(&env, &["end", "8000"]);
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    let o = dais(&env, &["meeting", "show", "8000", "--json"]);
    let v: Value = serde_json::from_str(&o.stdout).unwrap();
    assert_eq!(v["state"], "ended");
    assert_eq!(v["venues_connected"], 0);
    let o = dais(&env, &["logout"]);
    assert_eq!(o.code, EXIT_OK, "{}", o.stderr);
    assert!(!token_file.exists());
    d.stop();
}
