//! The meeting scheduler: opens a booked meeting's testing window `testing_lead_secs` before
//! its start and puts it live at the start, through the same path as `POST
//! /api/v1/meetings/{number}/start`.
//!
//! It keeps no state of its own: every tick it reads the approved bookings' meetings that have
//! not ended from the store and compares them with the running registry. A restarted `daisd`
//! therefore resumes the schedule by itself: a meeting whose testing window had opened is
//! started again in testing (or live, once past its start), and a booked meeting that was live
//! is started live again.
//!
//! It does not end meetings at their booked end: the chair may extend a meeting, and cutting
//! the lines under a running meeting is the chair's decision (`end_meeting`).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use dais_conference::{ChairCommand, Role as ConfRole};
use dais_store::{MeetingState, ScheduledStart, Store};
use tokio::sync::watch;
use tracing::{debug, info, warn};

use crate::app::{App, unix_now};
use crate::meetings::Meetings;

/// How often the schedule is checked. Booking times are whole seconds.
pub const TICK: Duration = Duration::from_secs(1);

/// The account name the scheduler acts as (in the audit log and as the policy's actor).
pub const SCHEDULER_ACTOR: &str = "scheduler";

/// What one tick did to one meeting (for logs and tests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Started in the testing state.
    OpenedTesting(String),
    /// Started live (its start had passed, or it was live before a restart).
    StartedLive(String),
    /// A running meeting in testing was put live.
    WentLive(String),
    /// Starting failed; the next attempt waits [`RETRY_AFTER_SECS`].
    StartFailed(String),
}

/// After a failed start, the next attempt waits this long (a missing media port or a venue
/// that cannot take part does not fix itself within a second; the log gets one warning per
/// attempt, not one a second).
pub const RETRY_AFTER_SECS: i64 = 30;

/// The scheduler: the store, the registry and the testing lead.
#[derive(Debug, Clone)]
pub struct Scheduler {
    store: Store,
    meetings: Arc<Meetings>,
    lead_secs: i64,
    /// Meetings whose start failed, with the time of the next attempt.
    retry_at: Arc<std::sync::Mutex<HashMap<String, i64>>>,
}

impl Scheduler {
    /// A scheduler over `store` and `meetings` with a testing window of `lead_secs`.
    pub fn new(store: Store, meetings: Arc<Meetings>, lead_secs: i64) -> Scheduler {
        Scheduler {
            store,
            meetings,
            lead_secs,
            retry_at: Arc::default(),
        }
    }

    /// Starts the scheduler's task on `app` (ticking every [`TICK`], first tick at once) and
    /// registers its stop as a shutdown step.
    pub fn spawn(app: &mut App, meetings: Arc<Meetings>) {
        let s = Scheduler::new(
            app.store().clone(),
            meetings,
            app.config().testing_lead_secs,
        );
        let (stop_tx, mut stop_rx) = watch::channel(false);
        let task = tokio::spawn(async move {
            let mut every = tokio::time::interval(TICK);
            every.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            loop {
                tokio::select! {
                    _ = every.tick() => {}
                    _ = stop_rx.changed() => break,
                }
                s.tick(unix_now()).await;
            }
        });
        app.add_shutdown_step("scheduler", async move {
            let _ = stop_tx.send(true);
            let _ = task.await;
        });
    }

    /// One pass over the schedule at time `now` (Unix seconds). Errors are logged, not
    /// returned: one meeting that cannot start must not stop the others.
    pub async fn tick(&self, now: i64) -> Vec<Action> {
        if self.meetings.is_closing() {
            return Vec::new();
        }
        let due = match self.store.scheduled_starts().await {
            Ok(d) => d,
            Err(e) => {
                warn!(error = %e, "scheduler: cannot read the schedule");
                return Vec::new();
            }
        };
        let mut done = Vec::new();
        for s in due {
            if let Some(a) = self.one(&s, now).await {
                done.push(a);
            }
        }
        done
    }

    fn retry_at(&self) -> std::sync::MutexGuard<'_, HashMap<String, i64>> {
        self.retry_at.lock().unwrap_or_else(|e| e.into_inner())
    }

    async fn one(&self, s: &ScheduledStart, now: i64) -> Option<Action> {
        let actor = dais_conference::Actor::new(SCHEDULER_ACTOR, ConfRole::ItCentre);
        if now < s.starts_at.saturating_sub(self.lead_secs) {
            return None;
        }
        if let Some(handle) = self.meetings.handle(&s.number) {
            if now >= s.starts_at && s.state == MeetingState::Testing {
                return match handle.command(actor, ChairCommand::GoLive).await {
                    Ok(_) => {
                        info!(meeting = %s.number, "scheduler: meeting live at its start");
                        Some(Action::WentLive(s.number.clone()))
                    }
                    // Already live (the store's copy lags the engine by one event), or
                    // ended by its chair meanwhile.
                    Err(e) => {
                        debug!(meeting = %s.number, error = %e, "scheduler: go live refused");
                        None
                    }
                };
            }
            return None;
        }
        if now >= s.ends_at {
            // Past its booked end and not running (the server was down meanwhile): starting
            // it now would call venues into a meeting nobody is waiting for.
            return None;
        }
        if self.retry_at().get(&s.number).is_some_and(|at| now < *at) {
            return None;
        }
        let stored = match self.store.meeting(&s.number).await {
            Ok(Some(m)) => m,
            Ok(None) => return None,
            Err(e) => {
                warn!(meeting = %s.number, error = %e, "scheduler: cannot read the meeting");
                return None;
            }
        };
        let testing = now < s.starts_at && s.state != MeetingState::Live;
        match self
            .meetings
            .launch_stored(&self.store, &stored, SCHEDULER_ACTOR, actor, testing)
            .await
        {
            Ok(_) => {
                self.retry_at().remove(&s.number);
                let action = if testing {
                    Action::OpenedTesting(s.number.clone())
                } else {
                    Action::StartedLive(s.number.clone())
                };
                info!(meeting = %s.number, ?action, "scheduler: meeting started");
                self.store
                    .audit(&dais_store::AuditEvent {
                        actor: SCHEDULER_ACTOR,
                        action: "meeting.start",
                        target: &format!("meeting {}", s.number),
                        at: now,
                        from: None,
                        result: dais_store::AuditResult::Ok,
                    })
                    .await
                    .map_err(|e| warn!(error = %e, "scheduler: audit write failed"))
                    .ok();
                Some(action)
            }
            Err(e) => {
                warn!(
                    meeting = %s.number,
                    error = %e.message,
                    retry_in_secs = RETRY_AFTER_SECS,
                    "scheduler: cannot start the meeting"
                );
                self.retry_at()
                    .insert(s.number.clone(), now + RETRY_AFTER_SECS);
                Some(Action::StartFailed(s.number.clone()))
            }
        }
    }
}
