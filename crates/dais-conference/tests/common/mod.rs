//! Test kit: a meeting in virtual time and a model of the shell that applies its actions.
#![allow(dead_code)]

use std::collections::HashMap;
use std::time::{Duration, Instant};

use dais_conference::*;

pub const MAIN: &str = "province";
pub const CHAIR: &str = "li.chair";

pub fn id(s: &str) -> VenueId {
    s.parse().expect("valid slug")
}

/// `province` (main) plus `b1..=bn` branches; roll-call order b1..bn.
pub fn plan(branches: usize) -> MeetingPlan {
    let mut venues = vec![Venue {
        id: id(MAIN),
        name: "Provincial main venue".into(),
        kind: VenueKind::Main,
        parent: None,
    }];
    let mut order = Vec::new();
    for i in 1..=branches {
        let v = id(&format!("b{i}"));
        venues.push(Venue {
            id: v.clone(),
            name: format!("Branch {i}"),
            kind: if i % 2 == 0 {
                VenueKind::City
            } else {
                VenueKind::Branch
            },
            parent: Some(id(MAIN)),
        });
        order.push(v);
    }
    MeetingPlan {
        number: "2024-117".into(),
        subject: "Provincial work meeting".into(),
        main_venue: id(MAIN),
        venues,
        chair: CHAIR.into(),
        duration: Some(Duration::from_secs(3600)),
        roll_call_order: order,
    }
}

pub fn config() -> ConferenceConfig {
    ConferenceConfig {
        redial: RedialPolicy {
            attempts: 3,
            interval: Duration::from_secs(2),
            backoff: 2,
        },
        keyframe_lead: Duration::from_millis(400),
        voice_hold: Duration::from_secs(2),
        voice_min_dwell: Duration::from_secs(4),
    }
}

pub fn it() -> Actor {
    Actor::new("wang.it", Role::ItCentre)
}

pub fn chair() -> Actor {
    Actor::new(CHAIR, Role::ChairOperator)
}

/// What the media engine and SIP layer would hold after applying every action.
#[derive(Debug, Default, Clone)]
pub struct ShellModel {
    pub feeds: HashMap<FeedRole, Option<VenueId>>,
    pub subscribed: HashMap<VenueId, FeedRole>,
    pub mic: HashMap<VenueId, bool>,
    pub blocked: HashMap<VenueId, bool>,
    pub dials: Vec<VenueId>,
    pub hangups: Vec<VenueId>,
    pub keyframes: Vec<VenueId>,
    pub hung_up_all: bool,
}

impl ShellModel {
    pub fn apply(&mut self, actions: &[Action]) {
        for a in actions {
            match a {
                Action::Show { feed, venue } => {
                    self.feeds.insert(*feed, venue.clone());
                }
                Action::Subscribe { venue, feed } => {
                    self.subscribed.insert(venue.clone(), *feed);
                }
                Action::SetMicrophone { venue, open } => {
                    self.mic.insert(venue.clone(), *open);
                }
                Action::BlockAudio { venue, blocked } => {
                    self.blocked.insert(venue.clone(), *blocked);
                }
                Action::RequestKeyframe { venue } => self.keyframes.push(venue.clone()),
                Action::Dial { venue } => self.dials.push(venue.clone()),
                Action::HangUp { venue } => {
                    self.hangups.push(venue.clone());
                    self.forget(venue);
                }
                Action::HangUpAll => {
                    self.hung_up_all = true;
                    self.subscribed.clear();
                    self.mic.clear();
                    self.blocked.clear();
                }
            }
        }
    }

    /// A leg went away: the media engine drops its subscription and mix slot.
    pub fn forget(&mut self, venue: &VenueId) {
        self.subscribed.remove(venue);
        self.mic.remove(venue);
        self.blocked.remove(venue);
    }

    pub fn feed(&self, feed: FeedRole) -> Option<VenueId> {
        self.feeds.get(&feed).cloned().flatten()
    }
}

/// A conference in virtual time with the shell model applied to every output.
pub struct Sim {
    pub conf: Conference,
    pub t0: Instant,
    pub now: Instant,
    pub shell: ShellModel,
    /// Every action with the virtual time it came out at.
    pub log: Vec<(Duration, Action)>,
}

impl Sim {
    pub fn new(branches: usize) -> Self {
        Self::with(plan(branches), config())
    }

    pub fn with(plan: MeetingPlan, config: ConferenceConfig) -> Self {
        let t0 = Instant::now();
        let conf = Conference::new(t0, plan, config).expect("valid plan");
        Self {
            conf,
            t0,
            now: t0,
            shell: ShellModel::default(),
            log: Vec::new(),
        }
    }

    /// Live, with the main venue and `b1..=bn` connected.
    pub fn live(branches: usize) -> Self {
        let mut s = Self::new(branches);
        s.ok(&it(), ChairCommand::GoLive);
        s.answer(MAIN);
        for i in 1..=branches {
            s.answer(&format!("b{i}"));
        }
        s
    }

    fn take(&mut self, actions: Vec<Action>) -> Vec<Action> {
        let at = self.now - self.t0;
        self.shell.apply(&actions);
        self.log.extend(actions.iter().cloned().map(|a| (at, a)));
        actions
    }

    pub fn cmd(&mut self, actor: &Actor, c: ChairCommand) -> Result<Vec<Action>, CommandError> {
        let r = self.conf.command(self.now, actor, c);
        match r {
            Ok(a) => Ok(self.take(a)),
            Err(e) => Err(e),
        }
    }

    pub fn ok(&mut self, actor: &Actor, c: ChairCommand) -> Vec<Action> {
        let label = format!("{c:?}");
        self.cmd(actor, c)
            .unwrap_or_else(|e| panic!("{label} refused: {e}"))
    }

    pub fn event(&mut self, venue: &str, e: LegEvent) -> Vec<Action> {
        if matches!(e, LegEvent::Dropped { .. } | LegEvent::HungUpByVenue) {
            self.shell.forget(&id(venue));
        }
        let a = self
            .conf
            .handle_leg_event(self.now, &id(venue), e)
            .expect("known venue");
        self.take(a)
    }

    pub fn answer(&mut self, venue: &str) -> Vec<Action> {
        self.event(venue, LegEvent::Answered)
    }

    pub fn speaker(&mut self, venue: &str) -> Vec<Action> {
        let a = self
            .conf
            .handle_dominant_speaker(self.now, &id(venue))
            .expect("known venue");
        self.take(a)
    }

    /// Advances virtual time by `d`, firing every deadline at its exact instant.
    pub fn advance(&mut self, d: Duration) -> Vec<Action> {
        let end = self.now + d;
        let mut all = Vec::new();
        while let Some(due) = self.conf.poll_timeout() {
            if due > end {
                break;
            }
            assert!(due >= self.now, "deadline in the past");
            self.now = due;
            let a = self.conf.handle_timeout(due);
            all.extend(self.take(a));
        }
        self.now = end;
        all
    }

    pub fn status(&self, venue: &str) -> LegStatus {
        self.conf.leg_status(&id(venue)).expect("known venue")
    }

    pub fn events(&mut self) -> Vec<ConferenceEvent> {
        std::iter::from_fn(|| self.conf.poll_event()).collect()
    }

    /// The shell's picture and microphone state matches the policy for every venue, and the
    /// policy's own invariants hold.
    pub fn check_invariants(&self) {
        let snap = self.conf.snapshot();
        if snap.state == MeetingState::Live || snap.state == MeetingState::Testing {
            assert_eq!(self.shell.feed(FeedRole::Broadcast), snap.feeds.broadcast);
            assert_eq!(
                self.shell.feed(FeedRole::BroadcasterView),
                snap.feeds.broadcaster_view
            );
            assert_eq!(self.shell.feed(FeedRole::ChairView), snap.feeds.chair_view);
            assert_eq!(snap.feeds.broadcast.as_ref(), Some(self.conf.broadcast()));
        }
        for leg in &snap.legs {
            let connected = matches!(leg.status, LegStatus::Connected { .. });
            let sub = self.shell.subscribed.get(&leg.venue).copied();
            let mic = self.shell.mic.get(&leg.venue).copied();
            if connected {
                assert_eq!(sub, leg.picture, "{}: shell picture differs", leg.venue);
                assert_eq!(
                    mic,
                    Some(leg.microphone_open),
                    "{}: shell mic differs",
                    leg.venue
                );
                assert_eq!(
                    self.shell.blocked.get(&leg.venue).copied(),
                    Some(leg.audio_blocked)
                );
                if Some(&leg.venue) == snap.feeds.broadcast.as_ref() {
                    assert_ne!(sub, Some(FeedRole::Broadcast), "broadcaster watches itself");
                }
                if leg.venue != snap.main_venue {
                    assert_ne!(
                        sub,
                        Some(FeedRole::ChairView),
                        "only the main venue sees the chair view"
                    );
                }
            } else {
                assert_eq!(sub, None, "{}: not connected but subscribed", leg.venue);
                assert_eq!(mic, None, "{}: not connected but in the mix", leg.venue);
                assert!(!leg.microphone_open);
            }
            if leg.muted {
                assert_ne!(mic, Some(true), "{}: muted but microphone open", leg.venue);
            }
            if let Some(r) = &snap.roll_call
                && &leg.venue != r
                && leg.venue != snap.main_venue
            {
                assert_ne!(
                    mic,
                    Some(true),
                    "{}: open during another's roll call",
                    leg.venue
                );
            }
        }
        if snap.state == MeetingState::Ended {
            assert_eq!(self.conf.poll_timeout(), None, "timers survive the end");
        }
        if let Some(due) = self.conf.poll_timeout() {
            assert!(due >= self.now || snap.state != MeetingState::Ended);
        }
    }
}
