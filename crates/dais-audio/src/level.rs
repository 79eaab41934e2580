//! Audio levels (RFC 6464 scale), voice activity and the dominant-speaker detector.

use std::time::{Duration, Instant};

/// Loudness in dB above the RFC 6464 floor: `127 - level`, so larger is louder.
pub(crate) fn loudness_of_level(level: u8) -> f32 {
    127.0 - level.min(127) as f32
}

/// RFC 6464 level (-dBov, 0..=127) of 16-bit samples; 0 dBov is a full-scale square wave.
pub(crate) fn level_of(samples: &[i16]) -> u8 {
    if samples.is_empty() {
        return 127;
    }
    let energy: f64 = samples.iter().map(|s| (*s as f64) * (*s as f64)).sum();
    let ms = energy / samples.len() as f64 / (32768.0 * 32768.0);
    if ms <= 0.0 {
        return 127;
    }
    let dbov = 10.0 * ms.log10();
    (-dbov).round().clamp(0.0, 127.0) as u8
}

/// Per-source level smoothing and an energy voice-activity detector.
#[derive(Clone, Debug)]
pub(crate) struct Meter {
    /// Smoothed loudness (dB above the floor of the scale).
    pub(crate) loud: f32,
    noise: f32,
    pub(crate) voice: bool,
    hang_left: u32,
    hang_frames: u32,
    alpha: f32,
    noise_rise: f32,
}

/// Voice must stand this far above the noise floor…
const VOICE_MARGIN_DB: f32 = 9.0;
/// …and above -60 dBov.
const VOICE_ABS: f32 = 127.0 - 60.0;

impl Meter {
    pub(crate) fn new(frame: Duration) -> Self {
        let f = frame.as_secs_f32();
        Meter {
            loud: 0.0,
            noise: 20.0,
            voice: false,
            // 300 ms of hangover keeps words together.
            hang_frames: (0.3 / f).ceil() as u32,
            hang_left: 0,
            // ~150 ms smoothing.
            alpha: (f / 0.15).min(1.0),
            // The floor creeps up 1 dB/s: a steady noise becomes "noise" within tens of seconds.
            noise_rise: f,
        }
    }

    /// One frame: its level and, when the sender said so (RFC 6464 V bit), its voice flag.
    pub(crate) fn update(&mut self, level: u8, sender_vad: Option<bool>) {
        let l = loudness_of_level(level);
        self.loud += self.alpha * (l - self.loud);
        if l < self.noise {
            self.noise = l;
        } else {
            self.noise += self.noise_rise;
        }
        let raw = match sender_vad {
            Some(v) => v,
            None => l > self.noise + VOICE_MARGIN_DB && l > VOICE_ABS,
        };
        if raw {
            self.voice = true;
            self.hang_left = self.hang_frames;
        } else if self.hang_left > 0 {
            self.hang_left -= 1;
        } else {
            self.voice = false;
        }
    }

    pub(crate) fn level(&self) -> u8 {
        (127.0 - self.loud).round().clamp(0.0, 127.0) as u8
    }
}

/// Picks the dominant speaker among voice-active sources: a challenger takes over only after
/// being the loudest, by the hysteresis margin, for the whole hold time (or when the current
/// speaker has fallen silent for that long). Two equally loud venues therefore never flap.
#[derive(Clone, Debug)]
pub(crate) struct Dominant {
    hold: Duration,
    margin: f32,
    /// Current dominant speaker (slot index).
    pub(crate) current: Option<usize>,
    challenger: Option<(usize, Instant)>,
}

impl Dominant {
    pub(crate) fn new(hold: Duration, margin: f32) -> Self {
        Dominant {
            hold,
            margin,
            current: None,
            challenger: None,
        }
    }

    /// Forgets a removed slot.
    pub(crate) fn forget(&mut self, slot: usize) {
        if self.current == Some(slot) {
            self.current = None;
        }
        if self.challenger.is_some_and(|(s, _)| s == slot) {
            self.challenger = None;
        }
    }

    /// One frame. `loudest` is the loudest voice-active candidate (slot, loudness),
    /// `current_loud` the current speaker's loudness if it is still voice-active.
    /// Returns the new dominant speaker when it changes.
    pub(crate) fn update(
        &mut self,
        now: Instant,
        loudest: Option<(usize, f32)>,
        current_loud: Option<f32>,
    ) -> Option<usize> {
        let Some((cand, loud)) = loudest else {
            self.challenger = None;
            return None;
        };
        if Some(cand) == self.current {
            self.challenger = None;
            return None;
        }
        let beats = match current_loud {
            Some(c) => loud >= c + self.margin,
            None => true,
        };
        if !beats {
            self.challenger = None;
            return None;
        }
        match self.challenger {
            // With nobody dominant yet, the clock runs from the first voice, whoever is loudest
            // at each instant (two equal first speakers would otherwise reset it forever).
            Some((_, since)) if self.current.is_none() => {
                if now.saturating_duration_since(since) >= self.hold {
                    self.current = Some(cand);
                    self.challenger = None;
                    return Some(cand);
                }
                self.challenger = Some((cand, since));
            }
            Some((s, since)) if s == cand => {
                if now.saturating_duration_since(since) >= self.hold {
                    self.current = Some(cand);
                    self.challenger = None;
                    return Some(cand);
                }
            }
            _ => self.challenger = Some((cand, now)),
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn level_of_full_scale_and_silence() {
        assert_eq!(level_of(&[i16::MAX, i16::MIN]), 0);
        assert_eq!(level_of(&[0; 160]), 127);
        // A sine at half scale: -3 dB (sine) -6 dB (half) ≈ 9 dBov.
        let s: Vec<i16> = (0..160)
            .map(|i| (16384.0 * (i as f64 * 0.3).sin()) as i16)
            .collect();
        assert!((8..=10).contains(&level_of(&s)), "{}", level_of(&s));
    }

    #[test]
    fn equal_challenger_never_takes_over() {
        let t0 = Instant::now();
        let mut d = Dominant::new(Duration::from_secs(1), 3.0);
        let step = Duration::from_millis(20);
        let mut changes = Vec::new();
        for k in 0..500u32 {
            let now = t0 + step * k;
            // Two venues at the same level; the "loudest" alternates on ties.
            let cand = (k % 2) as usize;
            let cur = d.current.map(|_| 60.0);
            if let Some(s) = d.update(now, Some((cand, 60.0)), cur) {
                changes.push((k, s));
            }
        }
        assert_eq!(changes.len(), 1, "{changes:?}");
    }

    #[test]
    fn louder_challenger_takes_over_after_hold() {
        let t0 = Instant::now();
        let mut d = Dominant::new(Duration::from_secs(1), 3.0);
        let step = Duration::from_millis(20);
        assert_eq!(d.update(t0, Some((0, 50.0)), None), None);
        assert_eq!(
            d.update(t0 + Duration::from_secs(1), Some((0, 50.0)), None),
            Some(0)
        );
        let t1 = t0 + Duration::from_secs(2);
        let mut switched = None;
        for k in 0..100u32 {
            let now = t1 + step * k;
            if let Some(s) = d.update(now, Some((1, 70.0)), Some(50.0)) {
                switched = Some((now, s));
                break;
            }
        }
        let (at, s) = switched.unwrap();
        assert_eq!(s, 1);
        assert_eq!(at - t1, Duration::from_secs(1));
    }
}
