//! Adaptive jitter buffer with packet-loss concealment, one per source.
//!
//! Decoded samples go into a ring indexed by RTP timestamp; each slot remembers the timestamp
//! that wrote it, so a read knows exactly which samples arrived (loss, reordering, duplicates and
//! silence suppression need no packet bookkeeping). Playout follows the sender's timeline:
//! a packet stamped `ts` is played at `ts + base + target`, where `base` is the smallest transit
//! time seen over the last two windows (it follows clock drift and route changes) and `target`
//! grows with the RFC 3550 §A.8 interarrival jitter, bounded by the configured minimum and
//! maximum. When the playout position drifts more than a frame from that schedule, one frame is
//! skipped (too deep) or held (starving).

use std::time::{Duration, Instant};

use crate::error::DropReason;

/// Transit excursions beyond this (1 s) are timeline jumps, not jitter.
const JUMP_SECS: u32 = 1;
/// Consecutive jumped packets that confirm a new timeline.
const JUMP_CONFIRM: u8 = 3;
/// Minimum-transit window.
const WINDOW: Duration = Duration::from_secs(2);

/// What a frame pull produced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pulled {
    /// Every sample was received.
    Played,
    /// Some or all samples were concealed from the previous frame.
    Concealed,
    /// Nothing to play (no stream, or concealment ran out).
    Silent,
    /// Held to let the buffer grow (concealment, position not advanced).
    Held,
}

/// What the next pull does: hold at, or play from (and whether that skips a frame).
#[derive(Clone, Copy, Debug)]
enum Plan {
    Hold(u32),
    Play(u32, bool),
}

#[derive(Debug, Clone)]
struct Timeline {
    /// Origin of the arrival clock.
    epoch: Instant,
    /// Transit of the first packet; later transits are relative to it (wrapping).
    transit0: u32,
    play_ts: u32,
    last_transit: i64,
    win_min: i64,
    prev_win_min: i64,
    win_start: Instant,
    jump_run: u8,
}

#[derive(Debug, Clone)]
pub(crate) struct JitterBuffer {
    rate: u32,
    mask: u32,
    samples: Box<[i16]>,
    stamps: Box<[u32]>,
    line: Option<Timeline>,
    /// RFC 3550 interarrival jitter, in timestamp units.
    jitter: f64,
    max_packet: u32,
    min_delay: u32,
    max_delay: u32,
    frame_len: usize,
    last_frame: Box<[i16]>,
    have_last: bool,
    /// Consecutive concealed frames.
    lost_run: u32,
    conceal_frames: u32,
}

fn units(d: Duration, rate: u32) -> u32 {
    (d.as_nanos() * rate as u128 / 1_000_000_000) as u32
}

impl JitterBuffer {
    pub(crate) fn new(
        rate: u32,
        frame_len: usize,
        min: Duration,
        max: Duration,
        conceal: Duration,
        frame: Duration,
    ) -> Self {
        // Room for the largest delay plus a 120 ms packet and a frame, as a power of two.
        let need = units(max, rate) as usize + units(Duration::from_millis(120), rate) as usize;
        let len = (need + frame_len).next_power_of_two();
        let conceal_frames = (conceal.as_nanos() / frame.as_nanos().max(1)) as u32;
        JitterBuffer {
            rate,
            mask: len as u32 - 1,
            samples: vec![0; len].into_boxed_slice(),
            // A stamp whose low bits differ from its index never matches a wanted timestamp.
            stamps: (0..len as u32).map(|i| i ^ 1).collect(),
            line: None,
            jitter: 0.0,
            max_packet: 0,
            min_delay: units(min, rate),
            max_delay: units(max, rate),
            frame_len,
            last_frame: vec![0; frame_len].into_boxed_slice(),
            have_last: false,
            lost_run: 0,
            conceal_frames,
        }
    }

    /// Forgets the stream (a new SSRC): the next packet starts a new timeline.
    pub(crate) fn reset(&mut self) {
        self.line = None;
        self.have_last = false;
        self.lost_run = 0;
        self.jitter = 0.0;
        for (i, s) in self.stamps.iter_mut().enumerate() {
            *s = i as u32 ^ 1;
        }
    }

    fn len(&self) -> u32 {
        self.mask + 1
    }

    fn arrival(&self, line: &Timeline, now: Instant) -> u32 {
        units(now.saturating_duration_since(line.epoch), self.rate)
    }

    /// The delay playout aims for, in timestamp units.
    pub(crate) fn target(&self) -> u32 {
        let t = self.max_packet as f64 + 4.0 * self.jitter;
        (t as u32).clamp(self.min_delay, self.max_delay)
    }

    pub(crate) fn target_delay(&self) -> Duration {
        Duration::from_nanos(self.target() as u64 * 1_000_000_000 / self.rate as u64)
    }

    fn start(&mut self, now: Instant, ts: u32, len: u32) {
        self.max_packet = len.min(self.max_delay);
        let target = self.target();
        let play_ts = ts.wrapping_sub(target);
        self.line = Some(Timeline {
            epoch: now,
            transit0: 0u32.wrapping_sub(ts),
            play_ts,
            last_transit: 0,
            win_min: 0,
            prev_win_min: 0,
            win_start: now,
            jump_run: 0,
        });
        self.jitter = 0.0;
    }

    /// Stores a packet's samples (`len` of them, written by `decode(i)`) stamped `ts`.
    pub(crate) fn insert(
        &mut self,
        now: Instant,
        ts: u32,
        len: usize,
        mut decode: impl FnMut(usize) -> i16,
    ) -> Result<(), DropReason> {
        if len == 0 {
            return Err(DropReason::MalformedPayload);
        }
        if len as u32 > self.len() / 2 {
            return Err(DropReason::TooEarly);
        }
        let len32 = len as u32;
        let Some(line) = self.line.as_ref() else {
            self.start(now, ts, len32);
            return self.write(ts, len, &mut decode);
        };
        let arrival = self.arrival(line, now);
        let transit = arrival.wrapping_sub(ts).wrapping_sub(line.transit0) as i32 as i64;
        let base = line.win_min.min(line.prev_win_min);
        let jump = (JUMP_SECS * self.rate) as i64;
        let line = self.line.as_mut().expect("checked above");
        if (transit - base).abs() > jump {
            line.jump_run += 1;
            if line.jump_run < JUMP_CONFIRM {
                return Err(DropReason::TimestampJump);
            }
            tracing::debug!(ts, "audio timeline jump confirmed; resynchronising");
            self.have_last = false;
            self.start(now, ts, len32);
            return self.write(ts, len, &mut decode);
        }
        line.jump_run = 0;
        let d = (transit - line.last_transit).unsigned_abs() as f64;
        line.last_transit = transit;
        if now.saturating_duration_since(line.win_start) >= WINDOW {
            line.prev_win_min = line.win_min;
            line.win_min = transit;
            line.win_start = now;
        } else {
            line.win_min = line.win_min.min(transit);
        }
        self.jitter += (d - self.jitter) / 16.0;
        self.max_packet = self.max_packet.max(len32.min(self.max_delay));
        self.write(ts, len, &mut decode)
    }

    /// Stores samples a decoder made up for a gap (Opus PLC/FEC): no effect on the timing
    /// estimates, and whatever is already past playout is simply not written.
    #[cfg_attr(not(feature = "opus"), allow(dead_code))]
    pub(crate) fn write_concealment(
        &mut self,
        ts: u32,
        len: usize,
        mut decode: impl FnMut(usize) -> i16,
    ) {
        if self.line.is_some() && len > 0 && len as u32 <= self.len() / 2 {
            let _ = self.write(ts, len, &mut decode);
        }
    }

    fn write(
        &mut self,
        ts: u32,
        len: usize,
        decode: &mut impl FnMut(usize) -> i16,
    ) -> Result<(), DropReason> {
        let play_ts = self.line.as_ref().map_or(ts, |l| l.play_ts);
        let offset = ts.wrapping_sub(play_ts) as i32 as i64;
        let end = offset + len as i64;
        if end <= 0 {
            return Err(DropReason::Late);
        }
        if end > self.len() as i64 {
            return Err(DropReason::TooEarly);
        }
        // A packet straddling the playout point keeps only its future part.
        let first = (-offset).max(0) as usize;
        for i in first..len {
            let t = ts.wrapping_add(i as u32);
            let idx = (t & self.mask) as usize;
            self.samples[idx] = decode(i);
            self.stamps[idx] = t;
        }
        Ok(())
    }

    /// Where the next [`pull`](Self::pull) at `now` reads (after adapting the playout position
    /// to the schedule): `None` before the first packet.
    fn plan(&self, now: Instant) -> Option<Plan> {
        let line = self.line.as_ref()?;
        let base = line.win_min.min(line.prev_win_min);
        let desired = self
            .arrival(line, now)
            .wrapping_sub(line.transit0)
            .wrapping_sub(base as i32 as u32)
            .wrapping_sub(self.target());
        let err = desired.wrapping_sub(line.play_ts) as i32 as i64;
        let frame = self.frame_len as i64;
        Some(if err < -frame {
            Plan::Hold(line.play_ts)
        } else if err > frame {
            Plan::Play(line.play_ts.wrapping_add(self.frame_len as u32), true)
        } else {
            Plan::Play(line.play_ts, false)
        })
    }

    /// The first timestamp the next [`pull`](Self::pull) at `now` will play, if it plays
    /// (not before the first packet, not when it holds).
    #[cfg_attr(not(feature = "opus"), allow(dead_code))]
    pub(crate) fn next_play(&self, now: Instant) -> Option<u32> {
        match self.plan(now)? {
            Plan::Play(start, _) => Some(start),
            Plan::Hold(_) => None,
        }
    }

    /// The playout position: the first timestamp of the next frame (before any skip or hold
    /// the next pull may decide). `None` before the first packet.
    #[cfg_attr(not(feature = "opus"), allow(dead_code))]
    pub(crate) fn play_pos(&self) -> Option<u32> {
        self.line.as_ref().map(|l| l.play_ts)
    }

    /// Whether the sample stamped `ts` is in the buffer.
    #[cfg_attr(not(feature = "opus"), allow(dead_code))]
    pub(crate) fn has(&self, ts: u32) -> bool {
        self.stamps[(ts & self.mask) as usize] == ts
    }

    /// Plays one frame into `out` (`frame_len` samples) for the tick at `now`, adapting the
    /// playout position to the schedule first. Returns what happened and the frame's start.
    /// The third value says whether a frame was skipped to shrink the buffer.
    pub(crate) fn pull(&mut self, now: Instant, out: &mut [i16]) -> (Pulled, u32, bool) {
        let n = self.frame_len.min(out.len());
        let (play_ts, skipped) = match self.plan(now) {
            None => {
                out[..n].fill(0);
                return (Pulled::Silent, 0, false);
            }
            Some(Plan::Hold(start)) => {
                // Starving: conceal without consuming, so the buffer can fill.
                self.conceal(&mut out[..n], None);
                return (Pulled::Held, start, false);
            }
            Some(Plan::Play(start, skipped)) => (start, skipped),
        };
        let mut present = 0;
        for (i, o) in out[..n].iter_mut().enumerate() {
            let t = play_ts.wrapping_add(i as u32);
            let idx = (t & self.mask) as usize;
            if self.stamps[idx] == t {
                *o = self.samples[idx];
                present += 1;
            }
        }
        let start = play_ts;
        if let Some(line) = self.line.as_mut() {
            line.play_ts = play_ts.wrapping_add(n as u32);
        }
        let status = if present == n {
            self.last_frame[..n].copy_from_slice(&out[..n]);
            self.have_last = true;
            self.lost_run = 0;
            Pulled::Played
        } else {
            let status = self.conceal(&mut out[..n], Some(play_ts));
            if present > 0 && status == Pulled::Silent {
                Pulled::Concealed
            } else {
                status
            }
        };
        (status, start, skipped)
    }

    /// Fills the samples of `out` that did not arrive (all of them when `start` is `None`,
    /// otherwise those whose stamp does not match `start + i`) with the last good frame, faded
    /// linearly to zero over the concealment span, then silence.
    fn conceal(&mut self, out: &mut [i16], start: Option<u32>) -> Pulled {
        self.lost_run += 1;
        let n = out.len() as f32;
        let span = (self.conceal_frames as f32 * n).max(1.0);
        let done = (self.lost_run - 1) as f32 * n;
        let active = self.have_last && self.lost_run <= self.conceal_frames;
        for (i, o) in out.iter_mut().enumerate() {
            if let Some(s) = start {
                let t = s.wrapping_add(i as u32);
                if self.stamps[(t & self.mask) as usize] == t {
                    continue;
                }
            }
            *o = if active {
                let g = 1.0 - (done + i as f32) / span;
                (self.last_frame[i] as f32 * g.max(0.0)) as i16
            } else {
                0
            };
        }
        if active {
            Pulled::Concealed
        } else {
            Pulled::Silent
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const F: Duration = Duration::from_millis(20);

    fn jb() -> JitterBuffer {
        JitterBuffer::new(
            8000,
            160,
            Duration::from_millis(20),
            Duration::from_millis(300),
            Duration::from_millis(60),
            F,
        )
    }

    #[test]
    fn steady_stream_plays_every_frame_after_the_initial_delay() {
        let t0 = Instant::now();
        let mut b = jb();
        let mut out = [0i16; 160];
        let mut played = 0;
        for k in 0..100u32 {
            let now = t0 + F * k;
            b.insert(now, 1000 + 160 * k, 160, |i| (i as i16) + 1)
                .unwrap();
            let (p, _, _) = b.pull(now + Duration::from_millis(1), &mut out);
            if p == Pulled::Played {
                played += 1;
                assert_eq!(out[0], 1);
                assert_eq!(out[159], 160);
            }
        }
        assert!(played >= 97, "played {played}");
    }

    #[test]
    fn late_packets_are_dropped_and_loss_is_concealed_then_silent() {
        let t0 = Instant::now();
        let mut b = jb();
        let mut out = [0i16; 160];
        for k in 0..10u32 {
            let now = t0 + F * k;
            b.insert(now, 160 * k, 160, |_| 1000).unwrap();
            b.pull(now, &mut out);
        }
        // The stream stops: concealment fades over three frames, then silence.
        let mut statuses = Vec::new();
        for k in 10..16u32 {
            let (p, _, _) = b.pull(t0 + F * k, &mut out);
            statuses.push((p, out[0], out[159]));
        }
        let concealed: Vec<_> = statuses
            .iter()
            .filter(|s| s.0 == Pulled::Concealed)
            .collect();
        assert!(
            !concealed.is_empty() && concealed.len() <= 4,
            "{statuses:?}"
        );
        assert!(
            statuses
                .last()
                .is_some_and(|s| s.0 == Pulled::Silent && s.1 == 0),
            "{statuses:?}"
        );
        // A packet for a frame already played is late.
        assert_eq!(
            b.insert(t0 + F * 16, 160 * 5, 160, |_| 1),
            Err(DropReason::Late)
        );
    }

    #[test]
    fn timeline_jump_is_confirmed_before_resync() {
        let t0 = Instant::now();
        let mut b = jb();
        let mut out = [0i16; 160];
        b.insert(t0, 0, 160, |_| 1).unwrap();
        b.pull(t0, &mut out);
        let far = 0x4000_0000u32;
        assert_eq!(
            b.insert(t0 + F, far, 160, |_| 1),
            Err(DropReason::TimestampJump)
        );
        assert_eq!(
            b.insert(t0 + F * 2, far + 160, 160, |_| 1),
            Err(DropReason::TimestampJump)
        );
        assert_eq!(b.insert(t0 + F * 3, far + 320, 160, |_| 1), Ok(()));
    }
}
