//! The SIP thread: one UDP socket for every venue's calls, a bounded window of INVITEs in
//! flight (daisd rate-limits per source address), retransmission, retries after 503, BYE.

use std::collections::{HashMap, VecDeque};
use std::net::{SocketAddr, UdpSocket};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::sync::mpsc::{Receiver, TryRecvError};
use std::thread;
use std::time::Duration;

use dais_sip::SipMessage;

use crate::media::{Shared, encode_addr};
use crate::sip::{Call, CallOutput, CallSpec, CallState};

/// What the driver is told to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SipCommand {
    /// Dial venue `i` in (again).
    Dial(usize),
    /// Hang venue `i` up with BYE.
    HangUp(usize),
    /// Blackout of venue `i` (power cut, cable pulled): its media stops and every SIP message
    /// of its current call goes unanswered from now on, so the MCU must find out by itself
    /// (media timeout, session timer) and redial.
    Blackout(usize),
    /// Hang every call up and stop.
    Stop,
}

/// Fixed parameters of the driver.
#[derive(Debug, Clone)]
pub struct SipSetup {
    /// The MCU's SIP address.
    pub server: SocketAddr,
    /// Meeting number.
    pub meeting: String,
    /// SIP user of venue `i`.
    pub users: Vec<String>,
    /// The venues' digest password.
    pub password: String,
    /// Media address of venue `i`.
    pub media: Vec<SocketAddr>,
    /// Most INVITE transactions in flight at once.
    pub window: usize,
    /// Give up on a call attempt after this long.
    pub setup_timeout: Duration,
    /// Attempts per dial (503 and timeouts are retried).
    pub attempts: u32,
    /// Answer the MCU's INVITEs (dial-out): the Request-URI's user names the venue.
    pub answer_invites: bool,
}

/// What the signaling did.
#[derive(Debug, Clone, Default)]
pub struct SipReport {
    /// Set-up time of every answered call (first INVITE to 200), ms.
    pub setup_ms: Vec<f64>,
    /// Dials that ended without a call.
    pub failures: u64,
    /// Final statuses of the failures (0 = timeout or unusable answer).
    pub failure_statuses: Vec<u16>,
    /// Attempts repeated after a 503 or a timeout.
    pub retries: u64,
    /// BYEs received from the MCU.
    pub remote_byes: u64,
    /// SIP messages for blacked-out calls, dropped unanswered.
    pub unanswered: u64,
    /// Per venue: `(up_at_ns, down_at_ns)` intervals (`u64::MAX` while still up).
    pub up: Vec<Vec<(u64, u64)>>,
    /// INVITEs from the MCU answered (dial-out), retransmissions not counted.
    pub invites_answered: u64,
}

/// A dial-out call we answered with 200 OK, waiting for the MCU's ACK.
struct Answering {
    venue: usize,
    call: Call,
    invite_at_ns: u64,
    last_sent_ns: u64,
    sends: u32,
}

struct Attempt {
    call: Call,
    first_sent_ns: u64,
    last_sent_ns: u64,
    sends: u32,
    attempt: u32,
}

/// Runs the driver until [`SipCommand::Stop`] (then hangs up) or until the command channel
/// closes. Every loop is bounded: each turn waits at most 10 ms on the socket.
pub fn spawn(
    setup: SipSetup,
    socket: UdpSocket,
    shared: Arc<Shared>,
    commands: Receiver<SipCommand>,
) -> thread::JoinHandle<SipReport> {
    thread::spawn(move || {
        let n = setup.users.len();
        let local = socket
            .local_addr()
            .unwrap_or_else(|_| SocketAddr::from(([127, 0, 0, 1], 0)));
        let _ = socket.set_read_timeout(Some(Duration::from_millis(10)));
        let mut report = SipReport {
            up: vec![Vec::new(); n],
            ..SipReport::default()
        };
        let mut queue: VecDeque<(usize, u32, u64)> = VecDeque::new(); // (venue, attempt, not before)
        let mut inflight: HashMap<String, (usize, Attempt)> = HashMap::new();
        let mut calls: HashMap<String, (usize, Call)> = HashMap::new();
        // Calls of blacked-out venues: whatever the MCU sends for them is dropped unanswered.
        let mut deaf: std::collections::HashSet<String> = std::collections::HashSet::new();
        let mut answering: HashMap<String, Answering> = HashMap::new();
        let venue_of: HashMap<&str, usize> = setup
            .users
            .iter()
            .enumerate()
            .map(|(i, u)| (u.as_str(), i))
            .collect();
        let mut unique: u64 = u64::from(std::process::id()) << 32;
        let mut buf = vec![0u8; 65_536];
        let mut stopping: Option<u64> = None;
        let send = |bytes: &[u8]| {
            let _ = socket.send_to(bytes, setup.server);
        };
        loop {
            let now = shared.now_ns();
            loop {
                match commands.try_recv() {
                    Ok(SipCommand::Dial(i)) if i < n => queue.push_back((i, 1, 0)),
                    Ok(SipCommand::HangUp(i)) => {
                        let id = calls
                            .iter()
                            .find(|(_, (v, c))| {
                                *v == i && matches!(c.state(), CallState::Up { .. })
                            })
                            .map(|(k, _)| k.clone());
                        if let Some(id) = id
                            && let Some((_, call)) = calls.get_mut(&id)
                            && let Some(bye) = call.hang_up()
                        {
                            send(&bye);
                            down(&shared, &mut report, i, now);
                        }
                    }
                    Ok(SipCommand::Blackout(i)) => {
                        let id = calls
                            .iter()
                            .find(|(_, (v, c))| {
                                *v == i && matches!(c.state(), CallState::Up { .. })
                            })
                            .map(|(k, _)| k.clone());
                        if let Some(id) = id {
                            calls.remove(&id);
                            deaf.insert(id);
                            down(&shared, &mut report, i, now);
                        }
                    }
                    Ok(SipCommand::Stop) | Err(TryRecvError::Disconnected) => {
                        if stopping.is_none() {
                            stopping = Some(now);
                            queue.clear();
                            for (i, call) in calls.values_mut() {
                                if let Some(bye) = call.hang_up() {
                                    send(&bye);
                                    down(&shared, &mut report, *i, now);
                                }
                            }
                        }
                        break;
                    }
                    Ok(_) => {}
                    Err(TryRecvError::Empty) => break,
                }
            }
            if let Some(t) = stopping
                && (inflight.is_empty() || now.saturating_sub(t) > 2_000_000_000)
            {
                // Give BYEs' 200s a moment; retransmissions are not worth waiting for.
                let until = now + 300_000_000;
                while shared.now_ns() < until {
                    let _ = socket.recv_from(&mut buf);
                }
                break;
            }
            // Start queued dials within the window.
            let mut requeue = Vec::new();
            while inflight.len() < setup.window.max(1) {
                let Some((i, attempt, not_before)) = queue.pop_front() else {
                    break;
                };
                if not_before > now {
                    requeue.push((i, attempt, not_before));
                    continue;
                }
                unique += 1;
                let call = Call::new(CallSpec {
                    server: setup.server,
                    local_sip: local,
                    meeting: setup.meeting.clone(),
                    user: setup.users[i].clone(),
                    password: setup.password.clone(),
                    media: setup.media[i],
                    unique,
                });
                send(call.last_request());
                inflight.insert(
                    call.call_id().to_owned(),
                    (
                        i,
                        Attempt {
                            call,
                            first_sent_ns: now,
                            last_sent_ns: now,
                            sends: 1,
                            attempt,
                        },
                    ),
                );
            }
            queue.extend(requeue);
            // Timer A-like retransmission (500 ms doubling, capped at 4 s) and the deadline.
            let mut expired = Vec::new();
            for (id, (i, a)) in inflight.iter_mut() {
                let age = now.saturating_sub(a.first_sent_ns);
                if age > setup.setup_timeout.as_nanos() as u64 {
                    expired.push((id.clone(), *i, a.attempt));
                    continue;
                }
                let interval = 500_000_000u64 << a.sends.saturating_sub(1).min(3);
                if now.saturating_sub(a.last_sent_ns) >= interval {
                    send(a.call.last_request());
                    a.last_sent_ns = now;
                    a.sends += 1;
                }
            }
            for (id, i, attempt) in expired {
                inflight.remove(&id);
                if attempt < setup.attempts && stopping.is_none() {
                    report.retries += 1;
                    queue.push_back((i, attempt + 1, now));
                } else {
                    report.failures += 1;
                    report.failure_statuses.push(0);
                }
            }
            // Our 200s to the MCU's INVITEs until the ACK (RFC 3261 §13.3.1.4: T1 doubling
            // to T2), given up at the set-up deadline.
            answering.retain(|_, a| {
                if now.saturating_sub(a.invite_at_ns) > setup.setup_timeout.as_nanos() as u64 {
                    report.failures += 1;
                    report.failure_statuses.push(0);
                    return false;
                }
                let interval = 500_000_000u64 << a.sends.saturating_sub(1).min(3);
                if now.saturating_sub(a.last_sent_ns) >= interval {
                    send(a.call.last_request());
                    a.last_sent_ns = now;
                    a.sends += 1;
                }
                true
            });
            let Ok((len, _from)) = socket.recv_from(&mut buf) else {
                continue;
            };
            let Ok(msg) = dais_sip::parse(buf.get(..len).unwrap_or_default()) else {
                continue;
            };
            let (call_id, is_request) = match &msg {
                SipMessage::Request(r) => (r.headers.call_id().ok(), true),
                SipMessage::Response(r) => (r.headers.call_id().ok(), false),
            };
            let Some(call_id) = call_id else { continue };
            if deaf.contains(&call_id) {
                report.unanswered += 1;
                continue;
            }
            let now = shared.now_ns();
            if let Some((i, a)) = inflight.get_mut(&call_id) {
                let i = *i;
                let outs = match &msg {
                    SipMessage::Response(r) => a.call.on_response(r),
                    SipMessage::Request(r) => a.call.on_request(r),
                };
                for o in outs {
                    match o {
                        CallOutput::Send(b) => {
                            send(&b);
                            a.last_sent_ns = now;
                        }
                        CallOutput::Answered { remote_media } => {
                            report.setup_ms.push((now - a.first_sent_ns) as f64 / 1e6);
                            shared.call_epoch[i].fetch_add(1, Ordering::Relaxed);
                            shared.remote[i].store(encode_addr(remote_media), Ordering::Relaxed);
                            shared.request_keyframe(i);
                            report.up[i].push((now, u64::MAX));
                        }
                        CallOutput::Failed {
                            status,
                            retry_after,
                        } => {
                            if (status == 503 || status == 486) && a.attempt < setup.attempts {
                                report.retries += 1;
                                let wait = u64::from(retry_after.unwrap_or(1).clamp(1, 2));
                                queue.push_back((i, a.attempt + 1, now + wait * 500_000_000));
                            } else {
                                report.failures += 1;
                                report.failure_statuses.push(status);
                            }
                        }
                        _ => {}
                    }
                }
                if !matches!(a.call.state(), CallState::Inviting)
                    && let Some((i, a)) = inflight.remove(&call_id)
                    && matches!(a.call.state(), CallState::Up { .. })
                {
                    calls.insert(call_id, (i, a.call));
                }
            } else if let Some((i, call)) = calls.get_mut(&call_id) {
                let i = *i;
                let outs = match &msg {
                    SipMessage::Response(r) => call.on_response(r),
                    SipMessage::Request(r) => call.on_request(r),
                };
                for o in outs {
                    match o {
                        CallOutput::Send(b) => send(&b),
                        CallOutput::RemoteBye => {
                            report.remote_byes += 1;
                            down(&shared, &mut report, i, now);
                        }
                        CallOutput::KeyframeRequest => shared.request_keyframe(i),
                        _ => {}
                    }
                }
            } else if let Some(a) = answering.get_mut(&call_id) {
                match &msg {
                    SipMessage::Request(r) if r.method == dais_sip::Method::Ack => {
                        if let Some(a) = answering.remove(&call_id) {
                            let i = a.venue;
                            if let CallState::Up { remote_media } = a.call.state() {
                                report.setup_ms.push((now - a.invite_at_ns) as f64 / 1e6);
                                shared.call_epoch[i].fetch_add(1, Ordering::Relaxed);
                                shared.remote[i]
                                    .store(encode_addr(*remote_media), Ordering::Relaxed);
                                shared.request_keyframe(i);
                                report.up[i].push((now, u64::MAX));
                            }
                            calls.insert(call_id, (i, a.call));
                        }
                    }
                    // The INVITE again: our 200 was lost or is late.
                    SipMessage::Request(r) if r.method == dais_sip::Method::Invite => {
                        send(a.call.last_request());
                        a.last_sent_ns = now;
                    }
                    SipMessage::Request(r) => {
                        // CANCEL or BYE before the ACK: end it.
                        send(&SipMessage::Response(r.make_response(200, None)).to_bytes());
                        answering.remove(&call_id);
                    }
                    SipMessage::Response(_) => {}
                }
            } else if setup.answer_invites
                && stopping.is_none()
                && let SipMessage::Request(r) = &msg
                && r.method == dais_sip::Method::Invite
            {
                let venue =
                    crate::sip::uri_user(r.uri.as_str()).and_then(|u| venue_of.get(u).copied());
                let Some(i) = venue else {
                    send(&SipMessage::Response(r.make_response(404, None)).to_bytes());
                    continue;
                };
                unique += 1;
                let spec = CallSpec {
                    server: setup.server,
                    local_sip: local,
                    meeting: setup.meeting.clone(),
                    user: setup.users[i].clone(),
                    password: String::new(),
                    media: setup.media[i],
                    unique,
                };
                match Call::answer(spec, r) {
                    Ok((call, ok)) => {
                        send(&ok);
                        report.invites_answered += 1;
                        answering.insert(
                            call_id,
                            Answering {
                                venue: i,
                                call,
                                invite_at_ns: now,
                                last_sent_ns: now,
                                sends: 1,
                            },
                        );
                    }
                    Err(refusal) => {
                        report.failures += 1;
                        report.failure_statuses.push(488);
                        send(&refusal);
                    }
                }
            } else if is_request && let SipMessage::Request(r) = &msg {
                // Not ours (an old call): 481, so the MCU stops retrying.
                if r.method != dais_sip::Method::Ack {
                    send(&SipMessage::Response(r.make_response(481, None)).to_bytes());
                }
            }
        }
        report
    })
}

fn down(shared: &Shared, report: &mut SipReport, i: usize, now: u64) {
    if let Some(r) = shared.remote.get(i) {
        r.store(0, Ordering::Relaxed);
    }
    if let Some(last) = report.up.get_mut(i).and_then(|v| v.last_mut())
        && last.1 == u64::MAX
    {
        last.1 = now;
    }
}
