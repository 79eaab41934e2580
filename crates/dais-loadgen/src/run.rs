//! One load run: set the meeting up through the API, dial every venue in, drive the chair,
//! measure, hang up.

use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use dais_net::sim::VideoShape;
use serde_json::json;
use tracing::{info, warn};

use crate::analysis::{SwitchCommand, Transition, Violation, judge_switches};
use crate::api::Api;
use crate::error::LoadgenError;
use crate::media::{self, IoMode, Shared};
use crate::procstat::{self, ProcSample};
use crate::report::{Percentiles, Report};
use crate::signaling::{self, SipCommand, SipSetup};

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct RunOptions {
    /// Number of venues (the first is the meeting's main venue).
    pub venues: usize,
    /// Measured time, after every venue is in.
    pub duration: Duration,
    /// Broadcast a random venue this often (`None`: never).
    pub switch_every: Option<Duration>,
    /// daisd's HTTP address.
    pub http: SocketAddr,
    /// daisd's SIP address.
    pub sip: SocketAddr,
    /// API user and password.
    pub user: String,
    /// API password.
    pub password: String,
    /// Meeting number to create and use.
    pub meeting: String,
    /// Venue name prefix (`<prefix>-<n>`).
    pub prefix: String,
    /// Every venue's SIP digest password.
    pub venue_password: String,
    /// Video stream shape.
    pub shape: VideoShape,
    /// Keyframe request → keyframe delay of the simulated encoders.
    pub encoder_delay: Duration,
    /// INVITEs in flight at once.
    pub sip_window: usize,
    /// Mute a random venue and unmute the previous one at every switch.
    pub mute: bool,
    /// Drop a random venue this often and redial it after `drop_for`.
    pub drop_every: Option<Duration>,
    /// How a venue drops: BYE, or a blackout (silence on media and SIP).
    pub drop_mode: DropMode,
    /// Alternate broadcast and roll call commands at the switches (both timed as switches:
    /// a roll call shows the called venue to everyone).
    pub roll_call: bool,
    /// How long a dropped venue stays away.
    pub drop_for: Duration,
    /// The server's process id, for CPU and memory (`None`: not measured).
    pub server_pid: Option<u32>,
    /// Seed of the random venue choices.
    pub seed: u64,
    /// Progress lines on stderr.
    pub progress: bool,
    /// How the media threads do their I/O.
    pub io: IoMode,
    /// Let the MCU poll over the branches at this interval (seconds) instead of broadcasting
    /// from the harness; every automatic switch is timed from its event.
    pub polling: Option<u32>,
    /// The MCU dials the venues (their contacts point at the harness) instead of the venues
    /// dialling in.
    pub dial_out: bool,
}

/// How the harness drops a venue.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DropMode {
    /// The venue hangs up (BYE): the MCU learns at once.
    #[default]
    Bye,
    /// The venue goes dark: no media, no SIP answers; the MCU must detect it (media timeout).
    Blackout,
}

/// A small deterministic generator (xorshift64*) for venue choices.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    /// Seeded (0 is replaced by a constant).
    pub fn new(seed: u64) -> Rng {
        Rng(if seed == 0 {
            0x9E37_79B9_7F4A_7C15
        } else {
            seed
        })
    }

    /// A number below `n` (`n` > 0).
    pub fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1) as u64) as usize
    }
}

/// Sets the meeting up through the API: login, venues (`<prefix>-1` main, others branches
/// under it; with `dial_out_to`, each with the contact `sip:<name>@<that address>`), the
/// meeting. Returns the logged-in client and the venue names; the caller starts it.
///
/// # Errors
/// Login or any refused call.
pub fn prepare(
    opts: &RunOptions,
    dial_out_to: Option<SocketAddr>,
) -> Result<(Api, Vec<String>), LoadgenError> {
    let mut api = Api::new(opts.http);
    api.login(&opts.user, &opts.password)?;
    let names: Vec<String> = (1..=opts.venues)
        .map(|i| format!("{}-{i}", opts.prefix))
        .collect();
    for (i, name) in names.iter().enumerate() {
        let (kind, parent) = if i == 0 {
            ("main", None)
        } else {
            ("branch", Some(names[0].as_str()))
        };
        let contact = dial_out_to.map(|a| format!("sip:{name}@{a}"));
        api.ensure_venue(name, kind, parent, &opts.venue_password, contact.as_deref())?;
    }
    api.ensure_meeting(&opts.meeting, &names[0], &names[1..])?;
    Ok((api, names))
}

/// Runs the load and measures.
///
/// # Errors
/// Options that cannot work, API refusals at set-up, local socket failures.
pub fn run(opts: &RunOptions) -> Result<Report, LoadgenError> {
    if opts.venues < 2 {
        return Err(LoadgenError::Options("at least 2 venues".into()));
    }
    if !opts.sip.ip().is_loopback() || !opts.http.ip().is_loopback() {
        return Err(LoadgenError::Options(
            "the harness only talks to 127.0.0.1 (loopback)".into(),
        ));
    }
    if opts.dial_out && opts.drop_every.is_some() {
        return Err(LoadgenError::Options(
            "--drop-every redials venues by dialling in; not with --dial-out".into(),
        ));
    }
    if opts.polling.is_some() && opts.roll_call {
        return Err(LoadgenError::Options(
            "--polling and --roll-call both drive the broadcast; pick one".into(),
        ));
    }
    if opts.polling == Some(0) {
        return Err(LoadgenError::Options("--polling: at least 1 second".into()));
    }
    let io = |what: &str| {
        let what = what.to_owned();
        move |e| LoadgenError::Io { what, source: e }
    };
    let sip_socket = UdpSocket::bind("127.0.0.1:0").map_err(io("binding the SIP socket"))?;
    let sip_local = sip_socket.local_addr().map_err(io("SIP socket address"))?;
    let (api, names) = prepare(opts, opts.dial_out.then_some(sip_local))?;
    let n = opts.venues;
    let shared = Shared::new(n);
    let sockets = Arc::new(
        media::bind_sockets(n, opts.io != IoMode::Simple).map_err(io("binding media sockets"))?,
    );
    let media_addrs: Vec<SocketAddr> = sockets
        .iter()
        .map(|s| s.local_addr())
        .collect::<Result<_, _>>()
        .map_err(io("media socket address"))?;
    let receiver = media::spawn_receiver(shared.clone(), sockets.clone(), opts.io);
    let sender = media::spawn_sender(
        shared.clone(),
        sockets.clone(),
        opts.shape,
        opts.encoder_delay,
        opts.io,
    );
    let (sip_tx, sip_rx) = mpsc::channel();
    let sip = signaling::spawn(
        SipSetup {
            server: opts.sip,
            meeting: opts.meeting.clone(),
            users: names.clone(),
            password: opts.venue_password.clone(),
            media: media_addrs,
            window: opts.sip_window,
            setup_timeout: Duration::from_secs(8),
            attempts: 5,
            answer_invites: opts.dial_out,
        },
        sip_socket,
        shared.clone(),
        sip_rx,
    );
    // Starting the meeting makes the MCU dial every venue with a contact (dial-out); with
    // dial-in the venues call once it runs.
    let started_at_ns = shared.now_ns();
    if let Err(e) = api.start_meeting(&opts.meeting) {
        shared.stop.store(true, Ordering::Relaxed);
        let _ = sip_tx.send(SipCommand::Stop);
        return Err(e);
    }
    if !opts.dial_out {
        for i in 0..n {
            let _ = sip_tx.send(SipCommand::Dial(i));
        }
    }
    // Wait for the venues to come in: bounded by 2 s + 100 ms per venue.
    let setup_deadline =
        Instant::now() + Duration::from_secs(2) + Duration::from_millis(100) * n as u32;
    let setup_started = Instant::now();
    loop {
        let up = shared
            .remote
            .iter()
            .filter(|r| r.load(Ordering::Relaxed) != 0)
            .count();
        if up == n || Instant::now() > setup_deadline || sip.is_finished() {
            if opts.progress {
                progress(&format!(
                    "{up}/{n} venues in after {:.1} s",
                    setup_started.elapsed().as_secs_f64()
                ));
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    // Let first keyframes settle before measuring.
    std::thread::sleep(Duration::from_millis(500));

    // Polling switches come from the MCU's timer: the event stream tells when.
    let events = match opts.polling {
        Some(_) => {
            let token = api.token().unwrap_or_default().to_owned();
            match crate::events::spawn(api.addr(), &token, &opts.meeting, shared.clone()) {
                Ok(h) => Some(h),
                Err(e) => {
                    // Stop the media and hang up before giving up.
                    shared.stop.store(true, Ordering::Relaxed);
                    let _ = sip_tx.send(SipCommand::Stop);
                    let _ = sip.join();
                    return Err(e);
                }
            }
        }
        None => None,
    };

    let start_ns = shared.now_ns();
    shared.measure_from_ns.store(start_ns, Ordering::Relaxed);
    let proc0 = opts.server_pid.and_then(procstat::sample);
    let threads0 = opts.server_pid.map(procstat::threads).unwrap_or_default();
    let me0 = procstat::sample(std::process::id());
    let packets0 =
        shared.sent_total.load(Ordering::Relaxed) + shared.received_total.load(Ordering::Relaxed);
    let sends0 = api.media_sends().ok();
    let mut command_errors = 0u64;
    if let Some(secs) = opts.polling {
        let cmd = json!({
            "command": "start_polling",
            "venues": &names[1..],
            "interval_secs": secs,
        });
        if let Err(e) = api.command(&opts.meeting, &cmd) {
            command_errors += 1;
            warn!(error = %e, "start_polling refused");
        }
    }
    let started = Instant::now();
    let mut rng = Rng::new(opts.seed);
    let mut commands: Vec<SwitchCommand> = Vec::new();
    let mut broadcasting = 0usize;
    let mut muted: Option<usize> = None;
    let mut dropped: Vec<(usize, Instant)> = Vec::new();
    let mut drops = 0u64;
    let mut roll_calls = 0u64;
    let mut next_switch = opts
        .switch_every
        .filter(|_| opts.polling.is_none())
        .map(|s| started + s);
    let mut next_drop = opts.drop_every.map(|s| started + s);
    let mut next_progress = started + Duration::from_secs(1);
    // A bar on a terminal; elsewhere (CI logs, pipes) a line a second through tracing.
    let bar = (opts.progress && std::io::IsTerminal::is_terminal(&std::io::stderr())).then(|| {
        let bar = indicatif::ProgressBar::new(opts.duration.as_secs().max(1));
        if let Ok(style) = indicatif::ProgressStyle::with_template(
            "{elapsed_precise} [{bar:40}] {pos}/{len} s  {msg}",
        ) {
            bar.set_style(style.progress_chars("=> "));
        }
        bar
    });
    let is_up = |i: usize| shared.remote[i].load(Ordering::Relaxed) != 0;
    // The chair loop: bounded by the duration, one turn every 10 ms.
    while started.elapsed() < opts.duration {
        let now = Instant::now();
        if let (Some(t), Some(every)) = (next_switch, opts.switch_every)
            && now >= t
        {
            next_switch = Some(t + every);
            // A random connected venue other than the one shown (bounded tries).
            let pick = (0..32)
                .map(|_| rng.below(n))
                .find(|&v| v != broadcasting && is_up(v) && !dropped.iter().any(|d| d.0 == v));
            if let Some(v) = pick {
                let at_ns = shared.now_ns();
                // With --roll-call every other switch is a roll call of the venue.
                // The main venue cannot be roll-called (it is the one calling).
                let kind = if opts.roll_call && v != 0 && commands.len() % 2 == 1 {
                    "roll_call"
                } else {
                    "broadcast"
                };
                let cmd = json!({"command": kind, "venue": names[v]});
                match api.command(&opts.meeting, &cmd) {
                    Ok(()) => {
                        tracing::debug!(at_ms = at_ns / 1_000_000, venue = v + 1, kind, "switch");
                        if kind == "roll_call" {
                            roll_calls += 1;
                        }
                        commands.push(SwitchCommand {
                            at_ns,
                            venue: v as u32 + 1,
                        });
                        broadcasting = v;
                    }
                    Err(e) => {
                        command_errors += 1;
                        warn!(error = %e, kind, "switch refused");
                    }
                }
                if opts.mute {
                    if let Some(m) = muted.take() {
                        let _ = api.command(
                            &opts.meeting,
                            &json!({"command": "unmute", "venue": names[m]}),
                        );
                    }
                    let m = rng.below(n);
                    if api
                        .command(
                            &opts.meeting,
                            &json!({"command": "mute", "venue": names[m]}),
                        )
                        .is_ok()
                    {
                        muted = Some(m);
                    } else {
                        command_errors += 1;
                    }
                }
            }
        }
        if let (Some(t), Some(every)) = (next_drop, opts.drop_every)
            && now >= t
        {
            next_drop = Some(t + every);
            // Never the main venue nor the one shown: that would be a different test.
            let pick = (0..32)
                .map(|_| rng.below(n))
                .find(|&v| v != 0 && v != broadcasting && is_up(v));
            if let Some(v) = pick {
                let _ = sip_tx.send(match opts.drop_mode {
                    DropMode::Bye => SipCommand::HangUp(v),
                    DropMode::Blackout => SipCommand::Blackout(v),
                });
                dropped.push((v, now + opts.drop_for));
                drops += 1;
            }
        }
        dropped.retain(|&(v, back_at)| {
            if now >= back_at {
                let _ = sip_tx.send(SipCommand::Dial(v));
                false
            } else {
                true
            }
        });
        if opts.progress && now >= next_progress {
            next_progress += Duration::from_secs(1);
            let up = (0..n).filter(|&i| is_up(i)).count();
            match &bar {
                Some(bar) => {
                    bar.set_position(started.elapsed().as_secs());
                    bar.set_message(format!(
                        "venues up {up}/{n}  switches {}  drops {drops}",
                        commands.len()
                    ));
                }
                None => progress(&format!(
                    "{:>4.0}/{:.0} s  venues up {up}/{n}  switches {}",
                    started.elapsed().as_secs_f64(),
                    opts.duration.as_secs_f64(),
                    commands.len()
                )),
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    let end_ns = shared.now_ns();
    let elapsed = started.elapsed();
    let me1 = procstat::sample(std::process::id());
    let packets1 =
        shared.sent_total.load(Ordering::Relaxed) + shared.received_total.load(Ordering::Relaxed);
    // Metrics are published once a second: wait for the last second's totals.
    std::thread::sleep(Duration::from_millis(1100));
    let proc1 = opts.server_pid.and_then(procstat::sample);
    let threads1 = opts.server_pid.map(procstat::threads).unwrap_or_default();
    let mcu_detected_drops = api
        .media_timeout_drops(&opts.meeting)
        .map_err(|e| warn!(error = %e, "meeting record not read"))
        .ok();
    let sends1 = api.media_sends().ok();
    shared.measure_from_ns.store(u64::MAX, Ordering::Relaxed);
    shared.stop.store(true, Ordering::Relaxed);
    let sent = sender.join().map_err(|_| LoadgenError::Server {
        what: "sender thread panicked (a bug)".into(),
    })?;
    let _ = sip_tx.send(SipCommand::Stop);
    let sipr = sip.join().map_err(|_| LoadgenError::Server {
        what: "SIP thread panicked (a bug)".into(),
    })?;
    let recv = receiver
        .join()
        .map_err(|_| LoadgenError::Server {
            what: "receiver thread panicked (a bug)".into(),
        })?
        .map_err(io("the receiver's epoll"))?;
    let event_log = match events {
        Some(h) => Some(h.join().map_err(|_| LoadgenError::Server {
            what: "event thread panicked (a bug)".into(),
        })?),
        None => None,
    };
    // The last switch is judged up to here. The harness's own switches leave the rest of a
    // period before the end; the MCU's timer may switch just before it, so a poll switch gets
    // until the next poll switch or 1 s more (media still flows: it stops 1.1 s after the end).
    let mut judge_end_ns = end_ns;
    if let Some(log) = &event_log {
        judge_end_ns = log
            .switches
            .iter()
            .map(|e| e.at_ns)
            .find(|&t| t >= end_ns)
            .unwrap_or(u64::MAX)
            .min(end_ns + 1_000_000_000);
        // The MCU's own switches in the window, each timed from its event; a repeat of the
        // venue already shown is not a switch.
        let mut last: Option<u32> = None;
        for ev in log
            .switches
            .iter()
            .filter(|e| e.at_ns >= start_ns && e.at_ns < end_ns)
        {
            let Some(v) = names.iter().position(|x| *x == ev.venue) else {
                continue;
            };
            let venue = v as u32 + 1;
            if last != Some(venue) {
                commands.push(SwitchCommand {
                    at_ns: ev.at_ns,
                    venue,
                });
            }
            last = Some(venue);
        }
    }
    info!(switches = commands.len(), "run finished");

    // A receiver is expected to follow a switch when its call was up through the whole window.
    let up_windows = sipr.up.clone();
    let ends: Vec<u64> = (0..commands.len())
        .map(|k| commands.get(k + 1).map_or(judge_end_ns, |c| c.at_ns))
        .collect();
    let expected = |c: &SwitchCommand, me: u32| {
        let k = commands.iter().position(|x| x == c).unwrap_or(0);
        let until = ends.get(k).copied().unwrap_or(judge_end_ns);
        up_windows
            .get(me as usize - 1)
            .is_some_and(|w| w.iter().any(|&(a, b)| a <= c.at_ns && b >= until))
    };
    let transitions: Vec<&[Transition]> = recv
        .trackers
        .iter()
        .map(|t| t.transitions.as_slice())
        .collect();
    let switches = judge_switches(&commands, &transitions, judge_end_ns, expected);
    for &(k, me) in &switches.missed {
        tracing::debug!(
            command = ?commands.get(k),
            receiver = me,
            transitions = ?transitions
                .get(me as usize - 1)
                .map(|t| t.iter().map(|x| (x.at_ns / 1_000_000, x.venue)).collect::<Vec<_>>()),
            "switch not seen"
        );
    }
    let mut violations = [0u64; 4];
    for (r, t) in recv.trackers.iter().enumerate() {
        for (at, v) in &t.violations {
            if *at < start_ns {
                continue;
            }
            tracing::debug!(receiver = r + 1, at_ms = at / 1_000_000, ?v, transitions = ?t.transitions.iter().map(|x| (x.at_ns / 1_000_000, x.venue)).collect::<Vec<_>>(), "continuity violation");
            let k = match v {
                Violation::SeqGapAtSwitch => 0,
                Violation::TimestampBack => 1,
                Violation::BeforeKeyframe => 2,
                _ => 3,
            };
            violations[k] += 1;
        }
    }
    // A venue shown its own picture (the engine's old broadcaster, for instance).
    let self_views: u64 = recv
        .trackers
        .iter()
        .enumerate()
        .map(|(r, t)| {
            t.transitions
                .iter()
                .filter(|x| x.venue == r as u32 + 1 && x.at_ns >= start_ns)
                .count() as u64
        })
        .sum();
    let lost: Vec<u64> = recv.trackers.iter().map(|t| t.lost()).collect();
    let received: u64 = recv.trackers.iter().map(|t| t.received).sum();
    let mut setup = sipr.setup_ms.clone();
    let forwarded = match (sends0, sends1) {
        (Some(a), Some(b)) => Some(b.saturating_sub(a)),
        _ => None,
    };
    let cpu = match (proc0, proc1) {
        (Some(a), Some(b)) => Some(b.cpu_s - a.cpu_s),
        _ => None,
    };
    let total_ms: Vec<f64> = switches
        .samples
        .iter()
        .map(|s| s.total_ns as f64 / 1e6)
        .collect();
    let wait: f64 = switches
        .samples
        .iter()
        .map(|s| s.waiting_for_key_ns as f64)
        .sum();
    let total: f64 = switches.samples.iter().map(|s| s.total_ns as f64).sum();
    let h = &recv.latency_us;
    let harness_cpu = match (me0, me1) {
        (Some(a), Some(b)) => Some(b.cpu_s - a.cpu_s),
        _ => None,
    };
    let harness_packets = packets1.saturating_sub(packets0);
    let mut dial_out_up: Vec<f64> = sipr
        .up
        .iter()
        .filter_map(|w| w.first())
        .map(|&(at, _)| at.saturating_sub(started_at_ns) as f64 / 1e6)
        .collect();
    Ok(Report {
        venues: n as u64,
        duration_s: elapsed.as_secs_f64(),
        sip_attempts: n as u64 + sipr.retries + drops,
        sip_failures: sipr.failures,
        sip_failure_statuses: sipr.failure_statuses.clone(),
        sip_retries: sipr.retries,
        sip_setup_ms: Percentiles::of(&mut setup),
        sent_packets: sent.sent.iter().sum(),
        send_errors: sent.send_errors,
        sender_late_events: sent.late_events,
        forwarded_packets: forwarded,
        received_packets: received,
        audio_received_packets: recv.audio_received,
        lost_packets: lost.iter().sum(),
        max_loss_per_receiver: lost.iter().copied().max().unwrap_or(0),
        receivers_with_loss: lost.iter().filter(|&&l| l > 0).count() as u64,
        latency_us: crate::report::LatencyUs {
            p50: h.value_at_quantile(0.5),
            p99: h.value_at_quantile(0.99),
            p999: h.value_at_quantile(0.999),
            max: h.max(),
            samples: h.len(),
        },
        switches: commands.len() as u64,
        switches_completed: switches.completed,
        switches_incomplete: switches.incomplete,
        switch_receivers_missed: switches.missed_receivers,
        switch_ms: Percentiles::of(&mut total_ms.clone()),
        switch_keyframe_wait_share: if total > 0.0 {
            Some(wait / total)
        } else {
            None
        },
        command_errors,
        continuity_violations: violations[..3].iter().sum(),
        self_views,
        seq_gaps_at_switch: violations[0],
        timestamps_back: violations[1],
        before_keyframe: violations[2],
        ssrc_changes: violations[3],
        keyframe_requests: recv.keyframe_requests,
        drops,
        drop_mode: opts.drop_mode,
        mcu_detected_drops,
        roll_calls,
        unanswered_sip: sipr.unanswered,
        remote_byes: sipr.remote_byes,
        server_cpu_s: cpu,
        server_rss_kib: proc1.map(|p: ProcSample| p.rss_kib),
        server_peak_rss_kib: proc1.map(|p| p.hwm_kib),
        cpu_us_per_forwarded_packet: match (cpu, forwarded) {
            (Some(c), Some(f)) if f > 0 => Some(c * 1e6 / f as f64),
            _ => None,
        },
        reference_cpu_us_per_packet: None,
        reference_ratio: None,
        drive: if opts.dial_out { "dial_out" } else { "dial_in" },
        dial_out_up_ms: opts.dial_out.then(|| Percentiles::of(&mut dial_out_up)),
        invites_answered: sipr.invites_answered,
        polling_interval_s: opts.polling,
        poll_switches: event_log.as_ref().map(|_| commands.len() as u64),
        event_stream_lagged: event_log.as_ref().map(|l| l.lagged),
        io_mode: opts.io,
        harness_cpu_s: harness_cpu,
        harness_packets,
        harness_cpu_us_per_packet: harness_cpu
            .filter(|_| harness_packets > 0)
            .map(|c| c * 1e6 / harness_packets as f64),
        send_calls: sent.send_calls,
        recv_calls: recv.recv_calls,
        receiver_wakeups: recv.wakeups,
        server_threads: procstat::thread_delta(&threads0, &threads1)
            .into_iter()
            .filter(|(_, cpu)| *cpu > 0.0)
            .map(|(name, cpu_s)| crate::report::ThreadCpu { name, cpu_s })
            .collect(),
    })
}

/// Progress goes through `tracing` (the binary prints it on stderr), not to stdout.
fn progress(line: &str) {
    info!(target: "dais_loadgen::progress", "{line}");
}
