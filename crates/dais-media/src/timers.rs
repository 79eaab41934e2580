//! A timer heap with lazy deletion: stale entries are recognised by their owner's epoch or
//! deadline when they fire, so nothing is ever searched for or removed early.

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::time::Instant;

use crate::types::{FeedId, LegId};

#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Timer {
    /// Repeat the keyframe request of a pending switch (epoch = the feed's switch epoch).
    SwitchRetry { feed: FeedId, epoch: u64 },
    /// Give up waiting for a keyframe.
    SwitchTimeout { feed: FeedId, epoch: u64 },
    /// Check a source's health (epoch = the leg's epoch; kind index 0 audio, 1 video).
    Health { leg: LegId, epoch: u64, kind: usize },
    /// Send a deferred (coalesced) keyframe request to a source.
    KeyframeFlush { leg: LegId, epoch: u64, kind: usize },
    /// Receiver report for a source leg.
    SourceReport { leg: LegId, epoch: u64 },
    /// Sender report for a feed.
    FeedReport { feed: FeedId },
}

#[derive(Debug, Default)]
pub(crate) struct Timers {
    heap: BinaryHeap<Reverse<(Instant, Timer)>>,
}

impl Timers {
    pub(crate) fn schedule(&mut self, at: Instant, timer: Timer) {
        self.heap.push(Reverse((at, timer)));
    }

    pub(crate) fn next(&self) -> Option<Instant> {
        self.heap.peek().map(|Reverse((at, _))| *at)
    }

    pub(crate) fn pop_due(&mut self, now: Instant) -> Option<(Instant, Timer)> {
        match self.heap.peek() {
            Some(Reverse((at, _))) if *at <= now => self.heap.pop().map(|Reverse(e)| e),
            _ => None,
        }
    }
}
