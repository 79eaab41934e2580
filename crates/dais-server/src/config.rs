//! Configuration: defaults, then a TOML file (`--config`), then `DAIS_*` environment
//! variables, then command-line flags, each overriding the one before. Everything is parsed
//! once into a validated [`Config`]; a bad value is refused with the key that holds it.

use std::fmt;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::parser::ValueSource;
use clap::{ArgMatches, CommandFactory, FromArgMatches, Parser};
use serde::Deserialize;

/// Default data directory.
pub const DEFAULT_DATA_DIR: &str = "./dais-data";
/// Default HTTP listen address (loopback: exposing the API is a deliberate choice).
pub const DEFAULT_HTTP: &str = "127.0.0.1:8080";
/// Default SIP listen address, UDP and TCP.
pub const DEFAULT_SIP: &str = "127.0.0.1:5060";
/// Default RTP port range.
pub const DEFAULT_RTP_PORTS: &str = "20000-20999";

/// The `daisd` command line. Every option can also come from the config file (same name with
/// `_` for `-`) or from a `DAIS_*` environment variable.
#[derive(Debug, Clone, Parser)]
#[command(name = "daisd", version, about = "Dais MCU server")]
pub struct Cli {
    /// TOML configuration file.
    #[arg(long, value_name = "FILE", env = "DAIS_CONFIG")]
    pub config: Option<PathBuf>,
    /// Data directory (database, recordings). [default: ./dais-data]
    #[arg(long, value_name = "DIR", env = "DAIS_DATA")]
    pub data: Option<String>,
    /// The store: a `postgres://` URL for several servers sharing one database. [default: the
    /// SQLite file in the data directory]
    #[arg(long, value_name = "URL", env = "DAIS_STORE")]
    pub store: Option<String>,
    /// HTTP API listen address. [default: 127.0.0.1:8080]
    #[arg(long, value_name = "ADDR", env = "DAIS_HTTP")]
    pub http: Option<String>,
    /// SIP listen address, UDP and TCP. [default: 127.0.0.1:5060]
    #[arg(long, value_name = "ADDR", env = "DAIS_SIP")]
    pub sip: Option<String>,
    /// RTP port range, even start. [default: 20000-20999]
    #[arg(long, value_name = "LO-HI", env = "DAIS_RTP_PORTS")]
    pub rtp_ports: Option<String>,
    /// Address announced in SDP and Contact. [default: the SIP bind address]
    #[arg(long, value_name = "ADDR", env = "DAIS_PUBLIC_IP")]
    pub public_ip: Option<String>,
    /// Log format: human or json. [default: human]
    #[arg(long, value_name = "FORMAT", env = "DAIS_LOG_FORMAT")]
    pub log_format: Option<String>,
    /// Start the demo meeting.
    #[arg(long, env = "DAIS_DEMO", value_parser = clap::builder::BoolishValueParser::new(), num_args = 0..=1, default_missing_value = "true")]
    pub demo: Option<bool>,
    /// The web console's default language: `zh` or `en`.
    #[arg(long, value_name = "LANG", env = "DAIS_CONSOLE_LANGUAGE")]
    pub console_language: Option<String>,
}

/// The config file's shape. Unknown keys are refused so a typo is not silently ignored.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct FileConfig {
    data: Option<String>,
    store: Option<String>,
    http: Option<String>,
    sip: Option<String>,
    rtp_ports: Option<String>,
    public_ip: Option<String>,
    log_format: Option<String>,
    demo: Option<bool>,
    console_language: Option<String>,
    session_ttl_secs: Option<i64>,
    shutdown_grace_secs: Option<u64>,
    rooms: Option<Vec<String>>,
    testing_lead_secs: Option<i64>,
    send_threads: Option<usize>,
    udp_offload: Option<bool>,
    record: Option<bool>,
    recordings_backup: Option<String>,
    recording_retention_days: Option<u32>,
}

/// Why the configuration was refused. The message names the key and where it came from.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The config file could not be read.
    #[error("cannot read config file {path}: {source}")]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The config file is not valid TOML or has an unknown key or a value of the wrong type.
    #[error("config file {path}: {message}")]
    Parse {
        /// The file.
        path: PathBuf,
        /// The parser's message, which names the key.
        message: String,
    },
    /// A value was read but is not acceptable.
    #[error("invalid `{key}` ({source_desc}): {problem}")]
    Invalid {
        /// The key, in the config file's spelling (`rtp_ports`).
        key: &'static str,
        /// Where the value came from: `config file`, `DAIS_RTP_PORTS`, `--rtp-ports`.
        source_desc: String,
        /// What is wrong with it.
        problem: String,
    },
    /// The command line itself is malformed (clap's own message).
    #[error("{0}")]
    Usage(String),
    /// `--help` or `--version` was asked for: not an error, the text goes to stdout.
    #[error("{0}")]
    Info(String),
}

/// Log output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum LogFormat {
    /// Human-readable lines.
    #[default]
    Human,
    /// One JSON object per line.
    Json,
}

/// An inclusive UDP port range for media, starting on an even port (RTP on even, RTCP on odd
/// when not multiplexed, RFC 3550 §11).
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct RtpPortRange {
    lo: u16,
    hi: u16,
}

impl RtpPortRange {
    /// Builds a range; `lo` must be even and non-zero, and below `hi`.
    ///
    /// # Errors
    ///
    /// A description of the problem.
    pub fn new(lo: u16, hi: u16) -> Result<Self, String> {
        if lo == 0 {
            return Err("the range cannot start at port 0".into());
        }
        if !lo.is_multiple_of(2) {
            return Err(format!("the range must start on an even port, not {lo}"));
        }
        if lo >= hi {
            return Err(format!("low port {lo} must be below high port {hi}"));
        }
        Ok(RtpPortRange { lo, hi })
    }

    /// First port.
    pub fn lo(self) -> u16 {
        self.lo
    }

    /// Last port (inclusive).
    pub fn hi(self) -> u16 {
        self.hi
    }

    /// Number of ports.
    pub fn len(self) -> u32 {
        u32::from(self.hi) - u32::from(self.lo) + 1
    }

    /// Never true (a valid range has at least two ports); here for API symmetry.
    pub fn is_empty(self) -> bool {
        false
    }
}

impl fmt::Debug for RtpPortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RtpPortRange({}-{})", self.lo, self.hi)
    }
}

impl fmt::Display for RtpPortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.lo, self.hi)
    }
}

impl std::str::FromStr for RtpPortRange {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        let (lo, hi) = s
            .split_once('-')
            .ok_or_else(|| format!("expected LO-HI, e.g. {DEFAULT_RTP_PORTS}, got {s:?}"))?;
        let port = |p: &str| {
            p.trim()
                .parse::<u16>()
                .map_err(|_| format!("{p:?} is not a port number (0-65535)"))
        };
        RtpPortRange::new(port(lo)?, port(hi)?)
    }
}

/// A secret string whose `Debug` does not show it.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret.
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into())
    }

    /// The clear value.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// The validated server configuration.
#[derive(Debug, Clone)]
pub struct Config {
    /// Data directory: the SQLite database (unless `store` names another) and recordings.
    pub data_dir: PathBuf,
    /// The store's URL when it is not the data directory's SQLite file (`postgres://…`,
    /// `sqlite://…`). Secret: a PostgreSQL URL carries its password.
    pub store: Option<Secret>,
    /// HTTP API listen address.
    pub http: SocketAddr,
    /// SIP listen address (UDP and TCP).
    pub sip: SocketAddr,
    /// Media ports.
    pub rtp_ports: RtpPortRange,
    /// Address announced to peers in SDP and Contact headers.
    pub public_ip: IpAddr,
    /// Log format.
    pub log_format: LogFormat,
    /// Start the demo meeting.
    pub demo: bool,
    /// The web console's default language (an operator can switch; the choice is kept in the
    /// browser).
    pub console_language: crate::console::Language,
    /// Bearer token lifetime in seconds.
    pub session_ttl_secs: i64,
    /// Time allowed to each shutdown step and to draining HTTP connections.
    pub shutdown_grace: Duration,
    /// Password for the first admin account (`DAIS_ADMIN_PASSWORD`; environment only, so it
    /// stays out of files and process listings).
    pub admin_password: Option<Secret>,
    /// The meeting-room catalogue bookings choose from (config file `rooms`).
    pub rooms: Vec<String>,
    /// How long before a booked meeting's start the scheduler opens its testing window
    /// (config file `testing_lead_secs`).
    pub testing_lead_secs: i64,
    /// Threads that send large fan-outs for every meeting (config file `send_threads`; 0: each
    /// meeting's task sends its own; default one per core, at most 4: D38).
    pub send_threads: usize,
    /// UDP segmentation and receive offload on media sockets (config file `udp_offload`,
    /// default on: D37).
    pub udp_offload: bool,
    /// Meeting recording and its archive (config file keys `record`, `recordings_backup`,
    /// `recording_retention_days`).
    pub recording: RecordingConfig,
}

/// Recording settings: live meetings are recorded into `<data>/recordings`, each finished
/// file is copied to `backup_dir` and indexed, and deleted (both copies) after the retention.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordingConfig {
    /// Record meetings when they go live. [default: true]
    pub enabled: bool,
    /// Where the recordings are written: `<data>/recordings`.
    pub dir: PathBuf,
    /// The backup copies' directory (another disk in production). [default:
    /// `<data>/recordings-backup`]
    pub backup_dir: PathBuf,
    /// Days a recording is kept after its meeting ended. [default: 365]
    pub retention_days: u32,
}

/// The default meeting-room catalogue.
pub const DEFAULT_ROOMS: [&str; 3] = ["8th floor", "11th floor", "13th floor"];
/// Default testing window before a booked meeting: 30 minutes.
pub const DEFAULT_TESTING_LEAD_SECS: i64 = 30 * 60;

impl Config {
    /// A configuration with every default (loopback listeners, `./dais-data`).
    pub fn defaults() -> Config {
        // The defaults are constants known to parse; a failure here is a bug caught by tests.
        Config::build(FileConfig::default(), None, &Layers::default()).unwrap_or_else(|e| {
            unreachable!("default configuration invalid: {e}");
        })
    }

    /// Parses the process's command line and environment (and the file they name).
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the offending key; [`ConfigError::Usage`] for clap's errors;
    /// [`ConfigError::Info`] for `--help` and `--version`, whose text is the message.
    pub fn from_env_and_args() -> Result<Config, ConfigError> {
        Config::from_args(std::env::args_os())
    }

    /// As [`Config::from_env_and_args`] with explicit arguments (the first is the program name).
    /// `DAIS_*` variables are still read from the environment.
    ///
    /// # Errors
    ///
    /// As [`Config::from_env_and_args`].
    pub fn from_args<I, T>(args: I) -> Result<Config, ConfigError>
    where
        I: IntoIterator<Item = T>,
        T: Into<std::ffi::OsString> + Clone,
    {
        let matches = Cli::command().try_get_matches_from(args).map_err(|e| {
            let text = e.render().to_string();
            if e.use_stderr() {
                ConfigError::Usage(text)
            } else {
                ConfigError::Info(text)
            }
        })?;
        let cli = Cli::from_arg_matches(&matches).map_err(|e| ConfigError::Usage(e.to_string()))?;
        let file = match &cli.config {
            Some(path) => read_file(path)?,
            None => FileConfig::default(),
        };
        let admin_password = std::env::var("DAIS_ADMIN_PASSWORD")
            .ok()
            .filter(|p| !p.is_empty())
            .map(Secret::new);
        if let Some(p) = &admin_password
            && p.expose().chars().count() < 8
        {
            return Err(ConfigError::Invalid {
                key: "admin_password",
                source_desc: "DAIS_ADMIN_PASSWORD".into(),
                problem: "shorter than 8 characters".into(),
            });
        }
        Config::build(file, admin_password, &Layers::from_cli(&cli, &matches))
    }

    /// Parses a config file on its own (no flags, no environment) — for tests and tools.
    ///
    /// # Errors
    ///
    /// As [`Config::from_env_and_args`].
    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        Config::build(read_file(path)?, None, &Layers::default())
    }

    fn build(
        file: FileConfig,
        admin_password: Option<Secret>,
        layers: &Layers,
    ) -> Result<Config, ConfigError> {
        let pick = |key: &'static str, file_val: Option<String>, default: &str| -> Picked {
            match layers.get(key) {
                Some((v, src)) => Picked {
                    value: v.clone(),
                    source: src.clone(),
                },
                None => match file_val {
                    Some(v) => Picked {
                        value: v,
                        source: "config file".into(),
                    },
                    None => Picked {
                        value: default.to_owned(),
                        source: "default".into(),
                    },
                },
            }
        };

        let data = pick("data", file.data, DEFAULT_DATA_DIR);
        if data.value.trim().is_empty() {
            return Err(data.invalid("data", "empty path".into()));
        }
        let store = match layers.get("store") {
            Some((v, src)) => Some((v, src)),
            None => file.store.map(|v| (v, "config file".to_owned())),
        };
        let store = match store {
            None => None,
            Some((v, src)) => {
                let lower = v.trim().to_ascii_lowercase();
                let known = ["postgres://", "postgresql://", "sqlite://"]
                    .iter()
                    .any(|p| lower.starts_with(p));
                if !known {
                    // Never echo the value: it may hold a password.
                    return Err(ConfigError::Invalid {
                        key: "store",
                        source_desc: src,
                        problem: "must be a postgres://, postgresql:// or sqlite:// URL".into(),
                    });
                }
                Some(Secret::new(v.trim()))
            }
        };
        let http = pick("http", file.http, DEFAULT_HTTP);
        let http_addr = parse_addr(&http, "http")?;
        let sip = pick("sip", file.sip, DEFAULT_SIP);
        let sip_addr = parse_addr(&sip, "sip")?;
        let rtp = pick("rtp_ports", file.rtp_ports, DEFAULT_RTP_PORTS);
        let rtp_ports: RtpPortRange = rtp.value.parse().map_err(|p| rtp.invalid("rtp_ports", p))?;
        let public_ip = match layers
            .get("public_ip")
            .or(file.public_ip.map(|v| (v, "config file".to_owned())))
        {
            Some((value, source)) => {
                let p = Picked { value, source };
                let ip: IpAddr = p.value.trim().parse().map_err(|_| {
                    p.invalid("public_ip", format!("{:?} is not an IP address", p.value))
                })?;
                if ip.is_unspecified() {
                    return Err(p.invalid("public_ip", "cannot be 0.0.0.0 or ::".into()));
                }
                ip
            }
            None if sip_addr.ip().is_unspecified() => {
                return Err(ConfigError::Invalid {
                    key: "public_ip",
                    source_desc: "missing".into(),
                    problem: format!(
                        "required when sip binds the wildcard address {sip_addr}: peers need an \
                         address they can reach"
                    ),
                });
            }
            None => sip_addr.ip(),
        };
        let lf = pick("log_format", file.log_format, "human");
        let log_format = match lf.value.trim() {
            "human" => LogFormat::Human,
            "json" => LogFormat::Json,
            other => {
                return Err(lf.invalid(
                    "log_format",
                    format!("{other:?} is not one of: human, json"),
                ));
            }
        };
        let demo = layers.demo.or(file.demo).unwrap_or(false);
        let lang = pick("console_language", file.console_language, "zh");
        let console_language =
            crate::console::Language::parse(lang.value.trim()).ok_or_else(|| {
                lang.invalid(
                    "console_language",
                    format!("{:?} is not one of: zh, en", lang.value),
                )
            })?;
        let session_ttl_secs = file
            .session_ttl_secs
            .unwrap_or(dais_store::DEFAULT_SESSION_TTL_SECS);
        if !(60..=30 * 24 * 3600).contains(&session_ttl_secs) {
            return Err(ConfigError::Invalid {
                key: "session_ttl_secs",
                source_desc: "config file".into(),
                problem: format!(
                    "{session_ttl_secs} is outside 60..=2592000 (one minute to 30 days)"
                ),
            });
        }
        let grace = file.shutdown_grace_secs.unwrap_or(10);
        if !(1..=600).contains(&grace) {
            return Err(ConfigError::Invalid {
                key: "shutdown_grace_secs",
                source_desc: "config file".into(),
                problem: format!("{grace} is outside 1..=600"),
            });
        }
        let rooms = file
            .rooms
            .unwrap_or_else(|| DEFAULT_ROOMS.iter().map(|r| (*r).to_owned()).collect());
        let bad_room = rooms
            .iter()
            .find(|r| r.trim().is_empty() || r.len() > 128 || r.chars().any(char::is_control));
        if rooms.is_empty() || bad_room.is_some() {
            return Err(ConfigError::Invalid {
                key: "rooms",
                source_desc: "config file".into(),
                problem: "must list 1 or more room names of 1 to 128 bytes".into(),
            });
        }
        let testing_lead_secs = file.testing_lead_secs.unwrap_or(DEFAULT_TESTING_LEAD_SECS);
        if !(0..=24 * 3600).contains(&testing_lead_secs) {
            return Err(ConfigError::Invalid {
                key: "testing_lead_secs",
                source_desc: "config file".into(),
                problem: format!("{testing_lead_secs} is outside 0..=86400"),
            });
        }
        let send_threads = file
            .send_threads
            .unwrap_or_else(dais_net::send_pool::default_threads);
        if send_threads > 64 {
            return Err(ConfigError::Invalid {
                key: "send_threads",
                source_desc: "config file".into(),
                problem: format!("{send_threads} is outside 0..=64"),
            });
        }
        let data_dir = PathBuf::from(&data.value);
        let retention_days = file.recording_retention_days.unwrap_or(365);
        if !(1..=36_500).contains(&retention_days) {
            return Err(ConfigError::Invalid {
                key: "recording_retention_days",
                source_desc: "config file".into(),
                problem: format!("{retention_days} is outside 1..=36500"),
            });
        }
        let backup_dir = match file.recordings_backup {
            Some(b) if b.trim().is_empty() => {
                return Err(ConfigError::Invalid {
                    key: "recordings_backup",
                    source_desc: "config file".into(),
                    problem: "empty path".into(),
                });
            }
            Some(b) => PathBuf::from(b),
            None => data_dir.join("recordings-backup"),
        };
        let recording = RecordingConfig {
            enabled: file.record.unwrap_or(true),
            dir: data_dir.join("recordings"),
            backup_dir,
            retention_days,
        };
        if recording.backup_dir == recording.dir {
            return Err(ConfigError::Invalid {
                key: "recordings_backup",
                source_desc: "config file".into(),
                problem: "must not be the recordings directory itself".into(),
            });
        }
        Ok(Config {
            rooms,
            testing_lead_secs,
            send_threads,
            udp_offload: file.udp_offload.unwrap_or(true),
            recording,
            data_dir: PathBuf::from(data.value),
            store,
            http: http_addr,
            sip: sip_addr,
            rtp_ports,
            public_ip,
            log_format,
            demo,
            console_language,
            session_ttl_secs,
            shutdown_grace: Duration::from_secs(grace),
            admin_password,
        })
    }
}

struct Picked {
    value: String,
    source: String,
}

impl Picked {
    fn invalid(&self, key: &'static str, problem: String) -> ConfigError {
        ConfigError::Invalid {
            key,
            source_desc: self.source.clone(),
            problem,
        }
    }
}

fn parse_addr(p: &Picked, key: &'static str) -> Result<SocketAddr, ConfigError> {
    p.value.trim().parse().map_err(|_| {
        p.invalid(
            key,
            format!(
                "{:?} is not an IP:port socket address (e.g. {DEFAULT_HTTP})",
                p.value
            ),
        )
    })
}

fn read_file(path: &Path) -> Result<FileConfig, ConfigError> {
    let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })?;
    toml::from_str(&text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e.to_string(),
    })
}

/// Values from the environment and flags, with where each came from.
#[derive(Default)]
struct Layers {
    values: Vec<(&'static str, String, String)>,
    demo: Option<bool>,
}

impl Layers {
    fn from_cli(cli: &Cli, m: &ArgMatches) -> Layers {
        let mut values = Vec::new();
        let mut push = |key: &'static str, id: &str, flag: &str, env: &str, v: &Option<String>| {
            if let Some(v) = v {
                let src = match m.value_source(id) {
                    Some(ValueSource::EnvVariable) => env.to_owned(),
                    _ => flag.to_owned(),
                };
                values.push((key, v.clone(), src));
            }
        };
        push("data", "data", "--data", "DAIS_DATA", &cli.data);
        push("store", "store", "--store", "DAIS_STORE", &cli.store);
        push("http", "http", "--http", "DAIS_HTTP", &cli.http);
        push("sip", "sip", "--sip", "DAIS_SIP", &cli.sip);
        push(
            "rtp_ports",
            "rtp_ports",
            "--rtp-ports",
            "DAIS_RTP_PORTS",
            &cli.rtp_ports,
        );
        push(
            "public_ip",
            "public_ip",
            "--public-ip",
            "DAIS_PUBLIC_IP",
            &cli.public_ip,
        );
        push(
            "log_format",
            "log_format",
            "--log-format",
            "DAIS_LOG_FORMAT",
            &cli.log_format,
        );
        push(
            "console_language",
            "console_language",
            "--console-language",
            "DAIS_CONSOLE_LANGUAGE",
            &cli.console_language,
        );
        Layers {
            values,
            demo: cli.demo,
        }
    }

    fn get(&self, key: &str) -> Option<(String, String)> {
        self.values
            .iter()
            .find(|(k, _, _)| *k == key)
            .map(|(_, v, s)| (v.clone(), s.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(text: &str) -> Result<Config, ConfigError> {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dais.toml");
        std::fs::write(&p, text).unwrap();
        Config::from_file(&p)
    }

    #[test]
    fn defaults_are_loopback() {
        let c = Config::defaults();
        assert!(c.http.ip().is_loopback());
        assert!(c.sip.ip().is_loopback());
        assert_eq!(c.public_ip, c.sip.ip());
        assert_eq!((c.rtp_ports.lo(), c.rtp_ports.hi()), (20000, 20999));
        assert_eq!(c.log_format, LogFormat::Human);
        assert!(!c.demo);
        assert_eq!(c.rooms, DEFAULT_ROOMS);
        assert_eq!(c.testing_lead_secs, DEFAULT_TESTING_LEAD_SECS);
        assert!(c.udp_offload);
    }

    #[test]
    fn rooms_and_testing_lead_come_from_the_file() {
        let c = file(
            "rooms = [\"Hall A\", \"Hall B\"]\ntesting_lead_secs = 600\nsend_threads = 0\n\
             udp_offload = false\n",
        )
        .unwrap();
        assert_eq!(c.send_threads, 0);
        assert!(!c.udp_offload);
        assert_eq!(c.rooms, ["Hall A", "Hall B"]);
        assert_eq!(c.testing_lead_secs, 600);
    }

    #[test]
    fn file_values_are_used() {
        let c = file(
            "http = \"127.0.0.1:9000\"\nrtp_ports = \"30000-30099\"\nlog_format = \"json\"\ndemo = true\n",
        )
        .unwrap();
        assert_eq!(c.http.port(), 9000);
        assert_eq!(c.rtp_ports.len(), 100);
        assert_eq!(c.log_format, LogFormat::Json);
        assert!(c.demo);
    }

    #[test]
    fn console_language_defaults_to_chinese_and_can_be_english() {
        assert_eq!(
            Config::defaults().console_language,
            crate::console::Language::Zh
        );
        let c = file("console_language = \"en\"\n").unwrap();
        assert_eq!(c.console_language, crate::console::Language::En);
    }

    #[test]
    fn unknown_key_is_named() {
        let e = file("htp = \"127.0.0.1:9000\"\n").unwrap_err().to_string();
        assert!(e.contains("htp"), "{e}");
    }

    #[test]
    fn bad_values_are_named() {
        for (text, key) in [
            ("rtp_ports = \"20001-20999\"", "rtp_ports"),
            ("rtp_ports = \"3000-2000\"", "rtp_ports"),
            ("rtp_ports = \"abc\"", "rtp_ports"),
            ("http = \"localhost\"", "http"),
            ("sip = \"1.2.3.4:99999\"", "sip"),
            ("public_ip = \"nowhere\"", "public_ip"),
            ("sip = \"0.0.0.0:5060\"", "public_ip"),
            ("log_format = \"xml\"", "log_format"),
            ("session_ttl_secs = 1", "session_ttl_secs"),
            ("rooms = []", "rooms"),
            ("rooms = [\"\"]", "rooms"),
            ("testing_lead_secs = -1", "testing_lead_secs"),
            ("send_threads = 65", "send_threads"),
            ("udp_offload = 1", "udp_offload"),
            ("demo = \"yes\"", "demo"),
            ("console_language = \"fr\"", "console_language"),
            ("store = \"mysql://u:pw@h/db\"", "store"),
        ] {
            let e = file(text).unwrap_err().to_string();
            assert!(e.contains(key), "{text}: {e}");
        }
    }

    #[test]
    fn the_store_url_is_taken_and_never_shown() {
        let c = file("store = \"postgres://dais:s3cret-pw@127.0.0.1:5432/dais\"\n").unwrap();
        assert_eq!(
            c.store.as_ref().map(Secret::expose),
            Some("postgres://dais:s3cret-pw@127.0.0.1:5432/dais")
        );
        assert!(!format!("{c:?}").contains("s3cret-pw"));
        assert!(
            Config::defaults().store.is_none(),
            "SQLite in the data dir by default"
        );
        // A refused value is named by its key, not echoed (it may carry a password).
        let e = file("store = \"mysql://u:hunter22@h/db\"\n")
            .unwrap_err()
            .to_string();
        assert!(e.contains("store") && !e.contains("hunter22"), "{e}");
    }

    #[test]
    fn flags_override_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("dais.toml");
        std::fs::write(&p, "http = \"127.0.0.1:9000\"\nsip = \"127.0.0.1:5070\"\n").unwrap();
        let c = Config::from_args([
            "daisd",
            "--config",
            p.to_str().unwrap(),
            "--http",
            "127.0.0.1:9001",
            "--demo",
        ])
        .unwrap();
        assert_eq!(c.http.port(), 9001);
        assert_eq!(c.sip.port(), 5070);
        assert!(c.demo);
        let e = Config::from_args(["daisd", "--rtp-ports", "5-9"])
            .unwrap_err()
            .to_string();
        assert!(e.contains("rtp_ports") && e.contains("--rtp-ports"), "{e}");
    }

    #[test]
    fn secret_is_not_printed() {
        assert!(!format!("{:?}", Secret::new("hunter22")).contains("hunter22"));
    }
}
