//! The switching decision: a pure function from (feed state, packet header) to what to do.
//!
//! Nothing here touches sockets, maps or the clock; [`crate::Engine`] looks packets up and
//! applies the decisions. The shape follows mediasoup's `SeqManager` (fixed offsets from a
//! sync point, wrapping arithmetic) without its per-consumer boolean `syncRequired`: whether a
//! feed waits for a keyframe is a state ([`FeedState::Switching`]), not a flag.

use std::time::{Duration, Instant};

use dais_rtp::Ssrc;

use crate::error::DropReason;
use crate::types::LegId;

/// A packet more than this far behind the newest one of its source is not reordering but a
/// sequence restart (an endpoint re-initialised its stream under the same SSRC): re-sync.
pub(crate) const MAX_MISORDER: u64 = 1000;

/// Header values that the shell writes into a forwarded packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rewrite {
    /// The feed's output SSRC (constant for the feed's lifetime).
    pub ssrc: Ssrc,
    /// Output sequence number.
    pub sequence: u16,
    /// Output timestamp.
    pub timestamp: u32,
    /// Marker bit (passed through from the source).
    pub marker: bool,
}

/// What switching needs to know about one incoming RTP packet.
#[derive(Clone, Copy, Debug)]
pub(crate) struct PacketInfo {
    pub(crate) from: LegId,
    pub(crate) sequence: u16,
    pub(crate) timestamp: u32,
    pub(crate) marker: bool,
    pub(crate) keyframe: bool,
    pub(crate) clock_rate: u32,
}

/// The output numbering of one feed: where the next cut-over continues from.
#[derive(Clone, Copy, Debug)]
pub(crate) struct OutputClock {
    highest_seq: u16,
    last_ts: u32,
    /// When `last_ts` was first emitted; `None` before the first packet.
    last_ts_at: Option<Instant>,
}

impl OutputClock {
    /// Random starting points (RFC 3550 §5.1) come from the engine's seeded generator.
    pub(crate) fn new(initial_seq: u16, initial_ts: u32) -> Self {
        OutputClock {
            highest_seq: initial_seq.wrapping_sub(1),
            last_ts: initial_ts,
            last_ts_at: None,
        }
    }

    fn record(&mut self, seq: u16, ts: u32, now: Instant) {
        if (seq.wrapping_sub(self.highest_seq) as i16) > 0 {
            self.highest_seq = seq;
        }
        if (ts.wrapping_sub(self.last_ts) as i32) > 0 || self.last_ts_at.is_none() {
            self.last_ts = ts;
            self.last_ts_at = Some(now);
        }
    }

    /// The last emitted sequence number and timestamp, and when that timestamp was first
    /// emitted (`None` before the first packet).
    pub(crate) fn last(&self) -> (u16, u32, Option<Instant>) {
        (self.highest_seq, self.last_ts, self.last_ts_at)
    }

    /// The output timestamp of "now", extrapolated from the last emitted one.
    pub(crate) fn timestamp_at(&self, now: Instant, clock_rate: u32) -> u32 {
        match self.last_ts_at {
            None => self.last_ts,
            Some(at) => self
                .last_ts
                .wrapping_add(ticks(now.saturating_duration_since(at), clock_rate)),
        }
    }
}

/// Wall-clock gap in RTP ticks, at least 1 so that the new source's first frame never shares
/// a timestamp with the old source's last one, and capped well below half the timestamp space
/// so that wrapping comparisons downstream still see it as "later".
pub(crate) fn ticks(gap: Duration, clock_rate: u32) -> u32 {
    let t = gap.as_nanos().saturating_mul(u128::from(clock_rate)) / 1_000_000_000;
    t.clamp(1, (i32::MAX / 2) as u128) as u32
}

/// Fixed offsets from a source's numbering to its feed's, set at a cut-over.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mapping {
    seq_offset: u16,
    ts_offset: u32,
    /// Extended (unwrapped) input sequence number of the cut-over packet.
    cut_ext: u64,
    /// Extended input sequence number of the newest packet seen.
    highest_ext: u64,
}

enum MapOutcome {
    Mapped(u16, u32),
    BeforeCutover,
    Restart,
}

impl Mapping {
    /// Map `pkt` to the next output sequence number and to "now" on the output clock.
    fn cut_over(pkt: &PacketInfo, out: &OutputClock, now: Instant) -> Mapping {
        let out_seq = out.highest_seq.wrapping_add(1);
        let out_ts = out.timestamp_at(now, pkt.clock_rate);
        // Start extended numbers high so that reordering before the cut point stays positive.
        let ext = (1u64 << 32) | u64::from(pkt.sequence);
        Mapping {
            seq_offset: out_seq.wrapping_sub(pkt.sequence),
            ts_offset: out_ts.wrapping_sub(pkt.timestamp),
            cut_ext: ext,
            highest_ext: ext,
        }
    }

    fn map(&mut self, seq: u16, ts: u32) -> MapOutcome {
        let diff = i64::from(seq.wrapping_sub(self.highest_ext as u16) as i16);
        let ext = self.highest_ext.wrapping_add_signed(diff);
        if diff < 0 && self.highest_ext - ext > MAX_MISORDER {
            return MapOutcome::Restart;
        }
        if ext < self.cut_ext {
            return MapOutcome::BeforeCutover;
        }
        if ext > self.highest_ext {
            self.highest_ext = ext;
        }
        MapOutcome::Mapped(
            seq.wrapping_add(self.seq_offset),
            ts.wrapping_add(self.ts_offset),
        )
    }
}

/// What may end a pending switch.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Gate {
    /// Only a keyframe packet of the new source (video).
    Keyframe,
    /// Any packet of the new source (audio, or video after the switch timed out).
    AnyPacket {
        /// True when this gate replaced a keyframe gate on timeout.
        forced: bool,
    },
}

/// The source a feed shows.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Shown {
    pub(crate) source: LegId,
    pub(crate) map: Mapping,
}

/// Why a feed is waiting for a source.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SwitchCause {
    /// `Engine::switch`.
    Command,
    /// The shown source changed SSRC: its old numbering is void.
    SsrcChange,
}

/// A feed's switching state.
#[derive(Clone, Copy, Debug)]
pub(crate) enum FeedState {
    /// Shows nothing.
    Idle,
    /// Shows `source` through a fixed mapping.
    Showing(Shown),
    /// Waiting for `to`; meanwhile keeps showing `from`, if any.
    Switching {
        from: Option<Shown>,
        to: LegId,
        gate: Gate,
        cause: SwitchCause,
        requested_at: Instant,
    },
}

/// The outcome of [`FeedState::decide`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Forward with this header.
    Forward(Rewrite),
    /// The pending switch completed on this packet; forward it.
    CutOver {
        rewrite: Rewrite,
        requested_at: Instant,
        forced: bool,
        cause: SwitchCause,
    },
    /// The source restarted its numbering; the mapping was re-synced on this packet.
    Resync(Rewrite),
    /// Do not forward.
    Drop(DropReason),
}

impl FeedState {
    /// The leg whose packets currently reach the feed's receivers.
    pub(crate) fn shown(&self) -> Option<LegId> {
        match self {
            FeedState::Idle => None,
            FeedState::Showing(s) => Some(s.source),
            FeedState::Switching { from, .. } => from.map(|s| s.source),
        }
    }

    /// Decide what to do with `pkt` for this feed and advance the state. `ssrc` is the
    /// feed's output SSRC.
    pub(crate) fn decide(
        &mut self,
        pkt: &PacketInfo,
        out: &mut OutputClock,
        ssrc: Ssrc,
        now: Instant,
    ) -> Decision {
        let decision = match self {
            FeedState::Idle => Decision::Drop(DropReason::NotShown),
            FeedState::Showing(shown) if shown.source == pkt.from => {
                map_shown(shown, pkt, out, now, ssrc)
            }
            FeedState::Showing(_) => Decision::Drop(DropReason::NotShown),
            FeedState::Switching {
                to,
                gate,
                requested_at,
                cause,
                ..
            } if *to == pkt.from => {
                let forced = match *gate {
                    Gate::Keyframe if !pkt.keyframe => {
                        return Decision::Drop(DropReason::AwaitingKeyframe);
                    }
                    Gate::Keyframe => false,
                    Gate::AnyPacket { forced } => forced,
                };
                let (requested_at, cause) = (*requested_at, *cause);
                let map = Mapping::cut_over(pkt, out, now);
                *self = FeedState::Showing(Shown {
                    source: pkt.from,
                    map,
                });
                let seq = pkt.sequence.wrapping_add(map.seq_offset);
                let ts = pkt.timestamp.wrapping_add(map.ts_offset);
                Decision::CutOver {
                    rewrite: rewrite(ssrc, seq, ts, pkt.marker),
                    requested_at,
                    forced,
                    cause,
                }
            }
            FeedState::Switching {
                from: Some(shown), ..
            } if shown.source == pkt.from => map_shown(shown, pkt, out, now, ssrc),
            FeedState::Switching { .. } => Decision::Drop(DropReason::NotShown),
        };
        match decision {
            Decision::Forward(r) | Decision::Resync(r) | Decision::CutOver { rewrite: r, .. } => {
                out.record(r.sequence, r.timestamp, now);
            }
            Decision::Drop(_) => {}
        }
        decision
    }
}

fn rewrite(ssrc: Ssrc, sequence: u16, timestamp: u32, marker: bool) -> Rewrite {
    Rewrite {
        ssrc,
        sequence,
        timestamp,
        marker,
    }
}

fn map_shown(
    shown: &mut Shown,
    pkt: &PacketInfo,
    out: &OutputClock,
    now: Instant,
    ssrc: Ssrc,
) -> Decision {
    match shown.map.map(pkt.sequence, pkt.timestamp) {
        MapOutcome::Mapped(seq, ts) => Decision::Forward(rewrite(ssrc, seq, ts, pkt.marker)),
        MapOutcome::BeforeCutover => Decision::Drop(DropReason::BeforeCutover),
        MapOutcome::Restart => {
            shown.map = Mapping::cut_over(pkt, out, now);
            let seq = pkt.sequence.wrapping_add(shown.map.seq_offset);
            let ts = pkt.timestamp.wrapping_add(shown.map.ts_offset);
            Decision::Resync(rewrite(ssrc, seq, ts, pkt.marker))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pkt(from: u32, seq: u16, ts: u32, keyframe: bool) -> PacketInfo {
        PacketInfo {
            from: LegId(from),
            sequence: seq,
            timestamp: ts,
            marker: false,
            keyframe,
            clock_rate: 90_000,
        }
    }

    fn seq_of(d: Decision) -> u16 {
        match d {
            Decision::Forward(r) | Decision::Resync(r) | Decision::CutOver { rewrite: r, .. } => {
                r.sequence
            }
            Decision::Drop(r) => panic!("dropped: {r:?}"),
        }
    }

    #[test]
    fn cut_over_continues_sequence_and_advances_timestamp_by_wall_clock() {
        let t0 = Instant::now();
        let ssrc = Ssrc(7);
        let mut out = OutputClock::new(100, 5000);
        let mut st = FeedState::Switching {
            from: None,
            to: LegId(1),
            gate: Gate::Keyframe,
            cause: SwitchCause::Command,
            requested_at: t0,
        };
        assert_eq!(
            st.decide(&pkt(1, 10, 0, false), &mut out, ssrc, t0),
            Decision::Drop(DropReason::AwaitingKeyframe)
        );
        assert_eq!(
            seq_of(st.decide(&pkt(1, 11, 0, true), &mut out, ssrc, t0)),
            100
        );
        assert_eq!(
            seq_of(st.decide(&pkt(1, 12, 3000, false), &mut out, ssrc, t0)),
            101
        );
        // Reordered packet older than the cut-over point.
        assert_eq!(
            st.decide(&pkt(1, 10, 0, false), &mut out, ssrc, t0),
            Decision::Drop(DropReason::BeforeCutover)
        );
        // Switch to leg 2 (wrapping input numbers); keep showing leg 1 meanwhile.
        let FeedState::Showing(shown) = st else {
            panic!()
        };
        st = FeedState::Switching {
            from: Some(shown),
            to: LegId(2),
            gate: Gate::Keyframe,
            cause: SwitchCause::Command,
            requested_at: t0,
        };
        assert_eq!(
            seq_of(st.decide(&pkt(1, 13, 6000, false), &mut out, ssrc, t0)),
            102
        );
        let t1 = t0 + Duration::from_millis(100);
        match st.decide(&pkt(2, 65535, u32::MAX, true), &mut out, ssrc, t1) {
            Decision::CutOver {
                rewrite,
                forced: false,
                ..
            } => {
                assert_eq!(rewrite.sequence, 103);
                assert_eq!(rewrite.timestamp, 5000 + 6000 + 9000);
            }
            d => panic!("{d:?}"),
        }
        assert_eq!(
            seq_of(st.decide(&pkt(2, 0, 2999, false), &mut out, ssrc, t1)),
            104
        );
        assert_eq!(
            st.decide(&pkt(1, 14, 9000, false), &mut out, ssrc, t1),
            Decision::Drop(DropReason::NotShown)
        );
    }

    #[test]
    fn large_backward_jump_resyncs_instead_of_dropping_forever() {
        let t0 = Instant::now();
        let mut out = OutputClock::new(0, 0);
        let mut st = FeedState::Switching {
            from: None,
            to: LegId(1),
            gate: Gate::AnyPacket { forced: false },
            cause: SwitchCause::Command,
            requested_at: t0,
        };
        assert_eq!(
            seq_of(st.decide(&pkt(1, 30000, 0, false), &mut out, Ssrc(1), t0)),
            0
        );
        assert!(
            matches!(st.decide(&pkt(1, 5, 10, false), &mut out, Ssrc(1), t0), Decision::Resync(r) if r.sequence == 1)
        );
        assert_eq!(
            seq_of(st.decide(&pkt(1, 6, 20, false), &mut out, Ssrc(1), t0)),
            2
        );
    }
}
