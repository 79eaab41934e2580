//! `dais-loadgen`: simulated SIP venues against `daisd`, figures out.
//!
//! Exit codes: 0 when the run's correctness figures are clean, 1 when they are not or the run
//! failed, 2 for bad options.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::Parser;
use dais_loadgen::reference::run_reference;
use dais_loadgen::spawn::Spawned;
use dais_loadgen::{DropMode, IoMode, RunOptions, run};
use dais_net::sim::VideoShape;

/// Simulate N SIP venues in one daisd meeting, drive the chair, measure.
#[derive(Debug, Parser)]
#[command(name = "dais-loadgen", version)]
struct Cli {
    /// Venues in the meeting (the first is the main venue).
    #[arg(long, default_value_t = 16)]
    venues: usize,
    /// Measured seconds (after every venue is in).
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Broadcast a random venue every this many seconds (0: never).
    #[arg(long, default_value_t = 2.0)]
    switch_every: f64,
    /// Start a daisd of our own on free loopback ports (stopped with SIGTERM at the end).
    #[arg(long)]
    spawn: bool,
    /// The daisd binary for --spawn (default: `daisd` next to this binary).
    #[arg(long)]
    daisd: Option<PathBuf>,
    /// A config file for the --spawn daisd (its `--config`; the harness's own flags for ports
    /// and data still win), e.g. `send_threads = 0` to compare sender threads.
    #[arg(long)]
    daisd_config: Option<PathBuf>,
    /// A running daisd's HTTP base URL (loopback only).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    server: String,
    /// That daisd's SIP address.
    #[arg(long, default_value = "127.0.0.1:5060")]
    sip: SocketAddr,
    /// The running daisd's process id, to read its CPU and memory from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// API user.
    #[arg(long, default_value = "admin", env = "DAIS_LOADGEN_USER")]
    user: String,
    /// API password (with --spawn: ignored, the harness sets it).
    #[arg(long, env = "DAIS_LOADGEN_PASSWORD", default_value = "")]
    password: String,
    /// Meeting number to create and use.
    #[arg(long, default_value = "7100")]
    meeting: String,
    /// Venue name prefix (venues are `<prefix>-1` … `<prefix>-N`).
    #[arg(long, default_value = "lg")]
    prefix: String,
    /// The venues' SIP digest password.
    #[arg(long, default_value = "loadgen-venue-secret")]
    venue_password: String,
    /// Video packets per interframe (keyframes get three times as many); 10 → 300 packets/s.
    #[arg(long, default_value_t = 10)]
    packets_per_frame: u16,
    /// Frames per second.
    #[arg(long, default_value_t = 30)]
    fps: u32,
    /// A keyframe every this many frames.
    #[arg(long, default_value_t = 60)]
    gop: u32,
    /// Keyframe request to keyframe, ms (the simulated encoder's delay).
    #[arg(long, default_value_t = 0)]
    encoder_delay_ms: u64,
    /// INVITEs in flight at once.
    #[arg(long, default_value_t = 16)]
    sip_window: usize,
    /// Mute a random venue (and unmute the previous) at each switch.
    #[arg(long)]
    mute: bool,
    /// Drop a random venue (BYE) every this many seconds and redial it after --drop-for.
    #[arg(long)]
    drop_every: Option<f64>,
    /// How a venue drops: `bye` (hangs up) or `blackout` (media and SIP go silent; the MCU
    /// must notice by itself).
    #[arg(long, value_enum, default_value_t = DropArg::Bye)]
    drop_mode: DropArg,
    /// Alternate broadcast and roll call at the switches (both timed).
    #[arg(long)]
    roll_call: bool,
    /// Seconds a dropped venue stays away.
    #[arg(long, default_value_t = 2.0)]
    drop_for: f64,
    /// Also run the reference forwarder under the same load and report the ratio.
    #[arg(long)]
    reference: bool,
    /// Seed of the random choices.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Write every figure as JSON here.
    #[arg(long)]
    json: Option<PathBuf>,
    /// No progress lines.
    #[arg(long)]
    quiet: bool,
    /// The chair starts polling over the branches with this interval (whole seconds) and the
    /// harness times every automatic switch; it then issues no broadcast of its own.
    #[arg(long, value_name = "SECONDS")]
    polling: Option<u32>,
    /// The MCU dials the venues: they are created with contacts at the harness's SIP
    /// socket, the meeting start makes daisd call them, the harness answers.
    #[arg(long)]
    dial_out: bool,
    /// Media I/O: `gso` (a frame in one UDP GSO send, epoll + recvmmsg), `batched` (a frame
    /// in one sendmmsg, epoll + recvmmsg) or `simple` (send_to per packet, poll over every
    /// socket: the first harness, kept to measure the difference).
    #[arg(long, value_enum, default_value_t = IoArg::Gso)]
    io: IoArg,
}

/// `--io` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum IoArg {
    Gso,
    Batched,
    Simple,
}

/// `--drop-mode` values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum DropArg {
    Bye,
    Blackout,
}

fn secs(v: f64, what: &str) -> Result<Duration, String> {
    Duration::try_from_secs_f64(v).map_err(|_| format!("--{what}: {v} is not a duration"))
}

fn http_addr(url: &str) -> Result<SocketAddr, String> {
    let rest = url.strip_prefix("http://").unwrap_or(url);
    let host = rest.split('/').next().unwrap_or(rest);
    host.parse()
        .map_err(|_| format!("--server: `{url}` is not http://<ip>:<port>"))
}

#[allow(clippy::print_stderr, clippy::print_stdout)]
fn main() -> ExitCode {
    let cli = Cli::parse();
    tracing_subscriber::fmt()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("DAIS_LOADGEN_LOG").unwrap_or_else(|_| {
                tracing_subscriber::EnvFilter::new(if cli.quiet { "warn" } else { "info" })
            }),
        )
        .init();
    match real_main(cli) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::from(1),
        Err(Failure::Usage(e)) => {
            eprintln!("dais-loadgen: {e}");
            ExitCode::from(2)
        }
        Err(Failure::Run(e)) => {
            eprintln!("dais-loadgen: {e:#}");
            ExitCode::from(1)
        }
    }
}

enum Failure {
    Usage(String),
    Run(anyhow::Error),
}

impl From<anyhow::Error> for Failure {
    fn from(e: anyhow::Error) -> Self {
        Failure::Run(e)
    }
}

#[allow(clippy::print_stdout)]
fn real_main(cli: Cli) -> Result<bool, Failure> {
    let duration = secs(cli.duration, "duration").map_err(Failure::Usage)?;
    let switch_every = if cli.switch_every > 0.0 {
        Some(secs(cli.switch_every, "switch-every").map_err(Failure::Usage)?)
    } else {
        None
    };
    let drop_every = match cli.drop_every {
        Some(d) if d > 0.0 => Some(secs(d, "drop-every").map_err(Failure::Usage)?),
        _ => None,
    };
    let drop_for = secs(cli.drop_for, "drop-for").map_err(Failure::Usage)?;
    let shape = VideoShape {
        fps: cli.fps.max(1),
        packets_per_frame: cli.packets_per_frame.max(1),
        gop: cli.gop.max(1),
        ..VideoShape::default()
    };
    let mut spawned = None;
    let (http, sip, user, password, server_pid) = if cli.spawn {
        let daisd = match &cli.daisd {
            Some(p) => p.clone(),
            None => std::env::current_exe()
                .map_err(|e| Failure::Run(e.into()))?
                .with_file_name("daisd"),
        };
        let s = Spawned::start(&daisd, cli.daisd_config.as_deref())
            .map_err(|e| Failure::Run(e.into()))?;
        let out = (
            s.http,
            s.sip,
            "admin".to_owned(),
            s.password.clone(),
            Some(s.pid()),
        );
        spawned = Some(s);
        out
    } else {
        (
            http_addr(&cli.server).map_err(Failure::Usage)?,
            cli.sip,
            cli.user.clone(),
            cli.password.clone(),
            cli.server_pid,
        )
    };
    let opts = RunOptions {
        venues: cli.venues,
        duration,
        switch_every,
        http,
        sip,
        user,
        password,
        meeting: cli.meeting.clone(),
        prefix: cli.prefix.clone(),
        venue_password: cli.venue_password.clone(),
        shape,
        encoder_delay: Duration::from_millis(cli.encoder_delay_ms),
        sip_window: cli.sip_window.max(1),
        mute: cli.mute,
        drop_every,
        drop_mode: match cli.drop_mode {
            DropArg::Bye => DropMode::Bye,
            DropArg::Blackout => DropMode::Blackout,
        },
        roll_call: cli.roll_call,
        drop_for,
        server_pid,
        seed: cli.seed,
        progress: !cli.quiet,
        io: match cli.io {
            IoArg::Gso => IoMode::Gso,
            IoArg::Batched => IoMode::Batched,
            IoArg::Simple => IoMode::Simple,
        },
        polling: cli.polling,
        dial_out: cli.dial_out,
    };
    let result = run(&opts);
    if let Some(mut s) = spawned.take() {
        let status = s.stop();
        tracing::info!(?status, "spawned daisd stopped");
    }
    let mut report = match result {
        Ok(r) => r,
        Err(dais_loadgen::LoadgenError::Options(e)) => return Err(Failure::Usage(e)),
        Err(e) => return Err(Failure::Run(e.into())),
    };
    if cli.reference {
        tracing::info!("reference forwarder run");
        let r = run_reference(cli.venues, shape, duration).map_err(|e| Failure::Run(e.into()))?;
        report.reference_cpu_us_per_packet = Some(r.cpu_us_per_packet);
        report.reference_ratio = report
            .cpu_us_per_forwarded_packet
            .filter(|_| r.cpu_us_per_packet > 0.0)
            .map(|c| c / r.cpu_us_per_packet);
    }
    print!("{}", report.summary());
    if let Some(path) = &cli.json {
        let text = serde_json::to_string_pretty(&report).map_err(|e| Failure::Run(e.into()))?;
        std::fs::write(path, text + "\n")
            .map_err(|e| Failure::Run(anyhow::anyhow!("writing {}: {e}", path.display())))?;
    }
    Ok(report.correct())
}
