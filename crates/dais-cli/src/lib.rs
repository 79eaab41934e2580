//! `dais`: the Dais operator command line.
//!
//! Every subcommand is one or two calls of the REST API under `/api/v1/` (see `docs/api.md`).
//! The library form exists so that tests (and other tools) can run the CLI in-process with
//! their own environment and output buffers: [`run`] takes the arguments, an [`Env`] and two
//! writers and returns the exit code.
//!
//! # Exit codes
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | done |
//! | 1 | the server refused or failed it (any 4xx/5xx; the API's `{code, message}` is printed) |
//! | 2 | usage: bad arguments, no server URL, not logged in |
//! | 3 | the server could not be reached |
//!
//! # Credentials
//!
//! `dais login` saves the token in `$XDG_CONFIG_HOME/dais/token` (else
//! `$HOME/.config/dais/token`), mode 0600, and the server URL beside it in `server`.
//! `DAIS_TOKEN` and `DAIS_SERVER` override both; `DAIS_CONFIG_DIR` moves the directory.

#![warn(missing_docs)]

mod args;
mod client;
mod ops;
mod table;

use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;

use clap::Parser;
use serde_json::{Value, json};

pub use args::Cli;
use args::{Command, Kind, MeetingCmd, OnOff, OperatorCmd, PollCmd, RoleArg, VenueCmd};
use client::Client;

/// Exit code: done.
pub const EXIT_OK: u8 = 0;
/// Exit code: the server refused or failed the request.
pub const EXIT_REFUSED: u8 = 1;
/// Exit code: bad usage (arguments, missing server or login).
pub const EXIT_USAGE: u8 = 2;
/// Exit code: the server could not be reached.
pub const EXIT_UNREACHABLE: u8 = 3;

/// The environment the CLI reads: variables (`DAIS_*`, `HOME`, `XDG_CONFIG_HOME`). Passed in
/// rather than read from the process so tests can run several CLIs side by side.
#[derive(Debug, Clone, Default)]
pub struct Env {
    /// Variable name → value.
    pub vars: BTreeMap<String, String>,
}

impl Env {
    /// The variables of this process that the CLI uses.
    pub fn from_process() -> Env {
        let vars = std::env::vars()
            .filter(|(k, _)| k.starts_with("DAIS_") || k == "HOME" || k == "XDG_CONFIG_HOME")
            .collect();
        Env { vars }
    }

    /// Adds or replaces a variable (builder style, for tests).
    #[must_use]
    pub fn with(mut self, key: &str, value: impl Into<String>) -> Env {
        self.vars.insert(key.to_owned(), value.into());
        self
    }

    fn var(&self, key: &str) -> Option<&str> {
        self.vars
            .get(key)
            .map(String::as_str)
            .filter(|v| !v.is_empty())
    }

    fn config_dir(&self) -> Option<PathBuf> {
        if let Some(d) = self.var("DAIS_CONFIG_DIR") {
            return Some(PathBuf::from(d));
        }
        if let Some(x) = self.var("XDG_CONFIG_HOME") {
            return Some(PathBuf::from(x).join("dais"));
        }
        self.var("HOME")
            .map(|h| PathBuf::from(h).join(".config").join("dais"))
    }
}

/// Why a command did not succeed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CliError {
    /// The server answered with an error (the API's stable code and message).
    #[error("{code}: {message}")]
    Api {
        /// HTTP status.
        status: u16,
        /// The API's error code, e.g. `forbidden`.
        code: String,
        /// The API's message.
        message: String,
    },
    /// The server answered something that is not the API's JSON.
    #[error("unexpected answer (HTTP {status}): {body}")]
    BadResponse {
        /// HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The server could not be reached.
    #[error("cannot reach {server}: {reason}")]
    Unreachable {
        /// The URL.
        server: String,
        /// Why.
        reason: String,
    },
    /// The user's mistake before anything was sent.
    #[error("{0}")]
    Usage(String),
    /// Reading or writing the saved credentials failed.
    #[error("{0}")]
    Local(String),
}

impl CliError {
    /// The process exit code for this error.
    pub fn exit_code(&self) -> u8 {
        match self {
            CliError::Unreachable { .. } => EXIT_UNREACHABLE,
            CliError::Usage(_) => EXIT_USAGE,
            _ => EXIT_REFUSED,
        }
    }
}

/// Runs the CLI: parses `args` (the first is the program name), does the work, writes results
/// to `out` and errors to `err`, and returns the exit code.
pub fn run<I, T>(args: I, env: &Env, out: &mut dyn Write, err: &mut dyn Write) -> u8
where
    I: IntoIterator<Item = T>,
    T: Into<std::ffi::OsString> + Clone,
{
    let cli = match Cli::try_parse_from(args) {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { EXIT_USAGE } else { EXIT_OK };
            let text = e.render().to_string();
            let _ = if code == EXIT_OK {
                out.write_all(text.as_bytes())
            } else {
                err.write_all(text.as_bytes())
            };
            return code;
        }
    };
    match execute(&cli, env) {
        Ok(text) => {
            let _ = out.write_all(text.as_bytes());
            EXIT_OK
        }
        Err(e) => {
            let _ = writeln!(err, "dais: {e}");
            e.exit_code()
        }
    }
}

fn server(cli: &Cli, env: &Env) -> Result<String, CliError> {
    if let Some(s) = &cli.server {
        return Ok(s.clone());
    }
    if let Some(s) = env.var("DAIS_SERVER") {
        return Ok(s.to_owned());
    }
    if let Some(dir) = env.config_dir()
        && let Ok(s) = std::fs::read_to_string(dir.join("server"))
        && !s.trim().is_empty()
    {
        return Ok(s.trim().to_owned());
    }
    Err(CliError::Usage(
        "no server: pass --server URL, set DAIS_SERVER, or run `dais login --server URL`".into(),
    ))
}

fn token(env: &Env) -> Result<String, CliError> {
    if let Some(t) = env.var("DAIS_TOKEN") {
        return Ok(t.to_owned());
    }
    if let Some(dir) = env.config_dir()
        && let Ok(t) = std::fs::read_to_string(dir.join("token"))
        && !t.trim().is_empty()
    {
        return Ok(t.trim().to_owned());
    }
    Err(CliError::Usage(
        "not logged in: run `dais login --server URL --user NAME` or set DAIS_TOKEN".into(),
    ))
}

/// A secret from `var`, else typed at the terminal without echo.
fn secret(env: &Env, var: &str, prompt: &str) -> Result<String, CliError> {
    if let Some(p) = env.var(var) {
        return Ok(p.to_owned());
    }
    rpassword::prompt_password(prompt)
        .map_err(|e| CliError::Usage(format!("{var} is not set and no terminal to ask: {e}")))
}

fn write_private(path: &std::path::Path, contents: &str) -> Result<(), CliError> {
    use std::io::Write as _;
    let fail = |e: std::io::Error| CliError::Local(format!("{}: {e}", path.display()));
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        opts.mode(0o600);
        let mut f = opts.open(path).map_err(fail)?;
        // An existing file keeps its old mode through open(); tighten it.
        f.set_permissions(std::fs::Permissions::from_mode(0o600))
            .map_err(fail)?;
        f.write_all(contents.as_bytes()).map_err(fail)
    }
    #[cfg(not(unix))]
    {
        let mut f = opts.open(path).map_err(fail)?;
        f.write_all(contents.as_bytes()).map_err(fail)
    }
}

fn authed(cli: &Cli, env: &Env) -> Result<Client, CliError> {
    let server = server(cli, env)?;
    Client::new(&server, Some(token(env)?))
}

fn pretty(v: &Value) -> String {
    let mut s = serde_json::to_string_pretty(v).unwrap_or_else(|_| v.to_string());
    s.push('\n');
    s
}

fn execute(cli: &Cli, env: &Env) -> Result<String, CliError> {
    let cmd = match &cli.command {
        Command::Login { user } => return login(cli, env, user),
        Command::Logout => return logout(cli, env),
        Command::Whoami => {
            let v = authed(cli, env)?.get("/api/v1/me")?;
            return Ok(if cli.json {
                pretty(&v)
            } else {
                format!(
                    "{} ({})\n",
                    table::cell(&v["username"]),
                    role_text(&v["role"])
                )
            });
        }
        Command::Meetings => {
            let v = authed(cli, env)?.get("/api/v1/meetings")?;
            return Ok(if cli.json {
                pretty(&v)
            } else {
                meetings_table(&v)
            });
        }
        Command::Meeting(m) => return meeting(cli, env, m),
        Command::Venues => {
            let v = authed(cli, env)?.get("/api/v1/venues")?;
            return Ok(if cli.json {
                pretty(&v)
            } else {
                venues_table(&v)
            });
        }
        Command::Venue(v) => return venue(cli, env, v),
        Command::Operators => {
            let v = authed(cli, env)?.get("/api/v1/operators")?;
            return Ok(if cli.json {
                pretty(&v)
            } else {
                operators_table(&v)
            });
        }
        Command::Operator(o) => return operator(cli, env, o),
        Command::Bookings | Command::Booking(_) => {
            return ops::bookings(cli, &authed(cli, env)?);
        }
        Command::Sites | Command::Site(_) => return ops::sites(cli, &authed(cli, env)?),
        Command::Equipment(_) => return ops::equipment(cli, &authed(cli, env)?),
        other => chair_command(other)?,
    };
    let (number, body) = cmd;
    check_number(&number)?;
    let v = authed(cli, env)?.post(&format!("/api/v1/meetings/{number}/commands"), Some(&body))?;
    Ok(if cli.json {
        pretty(&v)
    } else {
        format!("{}\n", table::cell(&v["message"]))
    })
}

fn check_number(n: &str) -> Result<(), CliError> {
    if n.is_empty() || n.len() > 32 || !n.bytes().all(|b| b.is_ascii_digit()) {
        return Err(CliError::Usage(format!(
            "meeting number must be 1 to 32 digits, not `{n}`"
        )));
    }
    Ok(())
}

/// A chair command as (meeting number, API body).
fn chair_command(cmd: &Command) -> Result<(String, Value), CliError> {
    let nv =
        |c: &str, a: &args::NumVenue| (a.number.clone(), json!({"command": c, "venue": a.venue}));
    let n = |c: &str, a: &args::Num| (a.number.clone(), json!({ "command": c }));
    Ok(match cmd {
        Command::StartTesting(a) => n("start_testing", a),
        Command::GoLive(a) => n("go_live", a),
        Command::End(a) => n("end_meeting", a),
        Command::Broadcast(a) => nv("broadcast", a),
        Command::View(a) => nv("view", a),
        Command::StopView(a) => n("stop_view", a),
        Command::ReturnToMain(a) => n("return_to_main", a),
        Command::RollCall(a) => nv("roll_call", a),
        Command::RollCallNext(a) => n("roll_call_next", a),
        Command::EndRollCall(a) => n("end_roll_call", a),
        Command::Poll(PollCmd::Start {
            number,
            every,
            venues,
        }) => (
            number.clone(),
            json!({"command": "start_polling", "venues": venues, "interval_secs": every}),
        ),
        Command::Poll(PollCmd::Pause(a)) => n("pause_polling", a),
        Command::Poll(PollCmd::Resume(a)) => n("resume_polling", a),
        Command::Poll(PollCmd::Stop(a)) => n("stop_polling", a),
        Command::Voice { number, state } => (
            number.clone(),
            json!({"command": "set_voice_activation", "on": matches!(state, OnOff::On)}),
        ),
        Command::Mute(a) => nv("mute", a),
        Command::Unmute(a) => nv("unmute", a),
        Command::MuteAll(a) => n("mute_all_but_main", a),
        Command::BlockAudio(a) => nv("block_audio", a),
        Command::UnblockAudio(a) => nv("unblock_audio", a),
        Command::Lock(a) => n("lock", a),
        Command::Unlock(a) => n("unlock", a),
        Command::Extend { number, minutes } => (
            number.clone(),
            json!({"command": "extend", "by_secs": minutes.saturating_mul(60)}),
        ),
        Command::HandChair { number, to } => {
            (number.clone(), json!({"command": "hand_chair", "to": to}))
        }
        Command::Dial(a) => nv("dial", a),
        Command::HangUp(a) => nv("hang_up", a),
        Command::Redial(a) => nv("redial", a),
        // Handled before; listed so a new subcommand cannot silently fall through.
        Command::Login { .. }
        | Command::Logout
        | Command::Whoami
        | Command::Meetings
        | Command::Meeting(_)
        | Command::Venues
        | Command::Venue(_)
        | Command::Operators
        | Command::Operator(_)
        | Command::Bookings
        | Command::Booking(_)
        | Command::Sites
        | Command::Site(_)
        | Command::Equipment(_) => {
            return Err(CliError::Usage("not a chair command".into()));
        }
    })
}

fn login(cli: &Cli, env: &Env, user: &str) -> Result<String, CliError> {
    let server = server(cli, env)?;
    let password = secret(env, "DAIS_PASSWORD", &format!("password for {user}: "))?;
    let v = Client::new(&server, None)?.post(
        "/api/v1/auth/login",
        Some(&json!({"username": user, "password": password})),
    )?;
    let token = v["token"]
        .as_str()
        .ok_or_else(|| CliError::BadResponse {
            status: 200,
            body: "login answer without a token".into(),
        })?
        .to_owned();
    let dir = env.config_dir().ok_or_else(|| {
        CliError::Usage("no HOME, XDG_CONFIG_HOME or DAIS_CONFIG_DIR to save the token in".into())
    })?;
    std::fs::create_dir_all(&dir)
        .map_err(|e| CliError::Local(format!("{}: {e}", dir.display())))?;
    write_private(&dir.join("token"), &token)?;
    write_private(&dir.join("server"), &server)?;
    Ok(if cli.json {
        // The token is a credential: keep it out of the printed answer.
        let mut v = v;
        v["token"] = Value::String("<saved>".into());
        pretty(&v)
    } else {
        format!(
            "logged in to {server} as {user}; token saved in {}\n",
            dir.join("token").display()
        )
    })
}

fn logout(cli: &Cli, env: &Env) -> Result<String, CliError> {
    let result = authed(cli, env).and_then(|c| c.post("/api/v1/auth/logout", None));
    if let Some(dir) = env.config_dir() {
        // Forget the token even when the server is gone: the user asked to log out.
        let _ = std::fs::remove_file(dir.join("token"));
    }
    result.map(|_| "logged out\n".to_owned())
}

fn meeting(cli: &Cli, env: &Env, m: &MeetingCmd) -> Result<String, CliError> {
    let c = authed(cli, env)?;
    let v = match m {
        MeetingCmd::Show(a) => {
            check_number(&a.number)?;
            c.get(&format!("/api/v1/meetings/{}", a.number))?
        }
        MeetingCmd::Create {
            number,
            subject,
            main_venue,
            venues,
            chair,
        } => {
            check_number(number)?;
            let mut body = json!({
                "number": number, "subject": subject, "main_venue": main_venue, "venues": venues,
            });
            if let Some(ch) = chair {
                body["chair"] = Value::String(ch.clone());
            }
            let v = c.post("/api/v1/meetings", Some(&body))?;
            if !cli.json {
                return Ok(format!(
                    "meeting {} scheduled: {} venues, chair {}\n",
                    table::cell(&v["number"]),
                    v["venues"].as_array().map_or(0, Vec::len),
                    table::cell(&v["chair"])
                ));
            }
            v
        }
        MeetingCmd::Start { number, testing } => {
            check_number(number)?;
            c.post(
                &format!("/api/v1/meetings/{number}/start"),
                Some(&json!({ "testing": testing })),
            )?
        }
    };
    Ok(if cli.json {
        pretty(&v)
    } else {
        meeting_text(&v)
    })
}

fn venue(cli: &Cli, env: &Env, cmd: &VenueCmd) -> Result<String, CliError> {
    let c = authed(cli, env)?;
    let v = match cmd {
        VenueCmd::Show { venue } => {
            if venue.is_empty()
                || !venue
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            {
                return Err(CliError::Usage(format!(
                    "`{venue}` is not a venue id or name"
                )));
            }
            c.get(&format!("/api/v1/venues/{venue}"))?
        }
        VenueCmd::Add {
            name,
            kind,
            parent,
            site,
            sip_user,
            realm,
            contact,
        } => {
            let password = secret(
                env,
                "DAIS_SIP_PASSWORD",
                &format!("SIP password for {name}: "),
            )?;
            let kind = match kind {
                Kind::Main => "main",
                Kind::Branch => "branch",
                Kind::City => "city",
            };
            let mut body = json!({"name": name, "kind": kind, "sip_password": password});
            for (k, v) in [
                ("parent", parent),
                ("site", site),
                ("sip_user", sip_user),
                ("realm", realm),
                ("contact_uri", contact),
            ] {
                if let Some(v) = v {
                    body[k] = Value::String(v.clone());
                }
            }
            c.post("/api/v1/venues", Some(&body))?
        }
    };
    Ok(if cli.json {
        pretty(&v)
    } else {
        venues_table(&Value::Array(vec![v]))
    })
}

fn operator(cli: &Cli, env: &Env, cmd: &OperatorCmd) -> Result<String, CliError> {
    let OperatorCmd::Add {
        username,
        role,
        site,
        stage,
    } = cmd;
    let role = match role {
        RoleArg::ItCentre => json!({"kind": "it_centre"}),
        RoleArg::SiteAdmin => {
            json!({"kind": "site_admin", "site": site.as_deref().ok_or_else(|| CliError::Usage("--role site-admin needs --site".into()))?})
        }
        RoleArg::ChairOperator => json!({"kind": "chair_operator"}),
        RoleArg::Approver => {
            json!({"kind": "approver", "stage": stage.as_deref().ok_or_else(|| CliError::Usage("--role approver needs --stage".into()))?})
        }
        RoleArg::Auditor => json!({"kind": "auditor"}),
    };
    let c = authed(cli, env)?;
    let password = secret(
        env,
        "DAIS_NEW_PASSWORD",
        &format!("password for {username}: "),
    )?;
    let v = c.post(
        "/api/v1/operators",
        Some(&json!({"username": username, "password": password, "role": role})),
    )?;
    Ok(if cli.json {
        pretty(&v)
    } else {
        operators_table(&Value::Array(vec![v]))
    })
}

fn role_text(r: &Value) -> String {
    let kind = table::cell(&r["kind"]);
    match (&r["site"], &r["stage"]) {
        (Value::String(s), _) => format!("{kind} {s}"),
        (_, Value::String(s)) => format!("{kind} {s}"),
        _ => kind,
    }
}

fn rows(v: &Value) -> &[Value] {
    v.as_array().map_or(&[], Vec::as_slice)
}

fn meetings_table(v: &Value) -> String {
    let rows: Vec<Vec<String>> = rows(v)
        .iter()
        .map(|m| {
            vec![
                table::cell(&m["number"]),
                table::cell(&m["state"]),
                format!(
                    "{}/{}",
                    table::cell(&m["venues_connected"]),
                    table::cell(&m["venues_total"])
                ),
                table::cell(&m["subject"]),
            ]
        })
        .collect();
    table::render(&["NUMBER", "STATE", "CONNECTED", "SUBJECT"], &rows)
}

fn venues_table(v: &Value) -> String {
    let rows: Vec<Vec<String>> = rows(v)
        .iter()
        .map(|x| {
            [
                "id",
                "name",
                "kind",
                "parent",
                "site",
                "sip_user",
                "contact_uri",
            ]
            .iter()
            .map(|k| table::cell(&x[*k]))
            .collect()
        })
        .collect();
    table::render(
        &[
            "ID", "NAME", "KIND", "PARENT", "SITE", "SIP USER", "CONTACT",
        ],
        &rows,
    )
}

fn operators_table(v: &Value) -> String {
    let rows: Vec<Vec<String>> = rows(v)
        .iter()
        .map(|o| {
            vec![
                table::cell(&o["id"]),
                table::cell(&o["username"]),
                role_text(&o["role"]),
            ]
        })
        .collect();
    table::render(&["ID", "USERNAME", "ROLE"], &rows)
}

fn meeting_text(v: &Value) -> String {
    let conf = &v["extra"]["live"]["conference"];
    let mut out = format!(
        "meeting {}  {}\nstate {}  connected {}/{}  main {}\n",
        table::cell(&v["number"]),
        table::cell(&v["subject"]),
        table::cell(&v["state"]),
        table::cell(&v["venues_connected"]),
        table::cell(&v["venues_total"]),
        table::cell(&v["main_venue"]),
    );
    if conf.is_object() {
        out.push_str(&format!(
            "broadcast {}  chair view {}  polling {}  roll call {}  voice {}  locked {}\n\n",
            table::cell(&conf["feeds"]["broadcast"]),
            table::cell(&conf["feeds"]["chair_view"]),
            table::cell(&conf["polling"]["status"]),
            table::cell(&conf["roll_call"]),
            table::cell(&conf["voice"]["on"]),
            table::cell(&conf["locked"]),
        ));
        let legs: Vec<Vec<String>> = rows(&conf["legs"])
            .iter()
            .map(|l| {
                vec![
                    table::cell(&l["venue"]),
                    table::cell(&l["status"]["status"]),
                    table::cell(&l["muted"]),
                    if l["microphone_open"] == Value::Bool(true) {
                        "open".into()
                    } else {
                        "closed".into()
                    },
                    table::cell(&l["picture"]),
                ]
            })
            .collect();
        out.push_str(&table::render(
            &["VENUE", "LEG", "MUTED", "MIC", "WATCHES"],
            &legs,
        ));
    } else {
        out.push('\n');
        let legs: Vec<Vec<String>> = rows(&v["venues"])
            .iter()
            .map(|l| {
                vec![
                    table::cell(&l["name"]),
                    table::cell(&l["leg"]),
                    table::cell(&l["muted"]),
                ]
            })
            .collect();
        out.push_str(&table::render(&["VENUE", "LEG", "MUTED"], &legs));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Cli {
        Cli::try_parse_from(std::iter::once("dais").chain(args.iter().copied())).unwrap()
    }

    #[test]
    fn chair_subcommands_map_to_the_api_json() {
        let cases: &[(&[&str], Value)] = &[
            (
                &["broadcast", "8001", "jinan"],
                json!({"command":"broadcast","venue":"jinan"}),
            ),
            (
                &["view", "8001", "qingdao"],
                json!({"command":"view","venue":"qingdao"}),
            ),
            (
                &["roll-call", "8001", "jinan"],
                json!({"command":"roll_call","venue":"jinan"}),
            ),
            (
                &["poll", "start", "8001", "--every", "20", "jinan", "qingdao"],
                json!({"command":"start_polling","venues":["jinan","qingdao"],"interval_secs":20}),
            ),
            (
                &["poll", "pause", "8001"],
                json!({"command":"pause_polling"}),
            ),
            (
                &["mute", "8001", "x"],
                json!({"command":"mute","venue":"x"}),
            ),
            (
                &["mute-all", "8001"],
                json!({"command":"mute_all_but_main"}),
            ),
            (
                &["voice", "8001", "on"],
                json!({"command":"set_voice_activation","on":true}),
            ),
            (
                &["extend", "8001", "--minutes", "5"],
                json!({"command":"extend","by_secs":300}),
            ),
            (
                &["hand-chair", "8001", "bob"],
                json!({"command":"hand_chair","to":"bob"}),
            ),
            (&["lock", "8001"], json!({"command":"lock"})),
            (&["end", "8001"], json!({"command":"end_meeting"})),
            (
                &["hang-up", "8001", "x"],
                json!({"command":"hang_up","venue":"x"}),
            ),
        ];
        for (args, want) in cases {
            let (number, body) = chair_command(&parse(args).command).unwrap();
            assert_eq!(number, "8001");
            assert_eq!(&body, want, "{args:?}");
        }
        assert!(chair_command(&parse(&["meetings"]).command).is_err());
    }

    #[test]
    fn errors_map_to_exit_codes() {
        let api = CliError::Api {
            status: 403,
            code: "forbidden".into(),
            message: "no".into(),
        };
        assert_eq!(api.exit_code(), EXIT_REFUSED);
        assert_eq!(api.to_string(), "forbidden: no");
        assert_eq!(CliError::Usage("x".into()).exit_code(), EXIT_USAGE);
        let down = CliError::Unreachable {
            server: "s".into(),
            reason: "r".into(),
        };
        assert_eq!(down.exit_code(), EXIT_UNREACHABLE);
        let mut out = Vec::new();
        let mut err = Vec::new();
        assert_eq!(
            run(["dais", "bogus"], &Env::default(), &mut out, &mut err),
            EXIT_USAGE
        );
        assert_eq!(
            run(
                ["dais", "--server", "https://x", "meetings"],
                &Env::default().with("DAIS_TOKEN", "t"),
                &mut out,
                &mut err
            ),
            EXIT_USAGE,
            "https is refused before any request"
        );
    }

    #[test]
    fn config_dir_follows_the_environment() {
        let e = Env::default().with("HOME", "/home/op");
        assert_eq!(e.config_dir(), Some(PathBuf::from("/home/op/.config/dais")));
        let e = e.with("XDG_CONFIG_HOME", "/xdg");
        assert_eq!(e.config_dir(), Some(PathBuf::from("/xdg/dais")));
        let e = e.with("DAIS_CONFIG_DIR", "/d");
        assert_eq!(e.config_dir(), Some(PathBuf::from("/d")));
        assert_eq!(Env::default().config_dir(), None);
    }

    #[test]
    fn tables_align_columns_and_show_null_as_dash() {
        let t = table::render(
            &["A", "LONG"],
            &[vec!["xyz".into(), table::cell(&Value::Null)]],
        );
        assert_eq!(t, "A    LONG\nxyz  -\n");
        let m = meetings_table(
            &json!([{"number":"8000","state":"live","venues_connected":6,"venues_total":6,"subject":"Demo"}]),
        );
        assert!(m.contains("8000    live   6/6        Demo"), "{m}");
    }
}
