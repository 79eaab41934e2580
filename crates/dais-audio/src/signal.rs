//! One distinct mix on its way out: 16 kHz sum → 8 kHz → soft limiter → G.711, or 16 kHz →
//! soft limiter → Opus, encoded at most once per codec per frame however many receivers hear it.

use crate::g711;
use crate::opus_codec::OpusOut;
use crate::resample::{Decimator, HalfBandFir};
use crate::types::Codec;

/// Peak ceiling of the limiter: -1 dBFS.
const CEILING: f32 = 29_200.0;

/// A peak limiter with instant attack and a 100 ms release: the gain drops just enough on a
/// peak that no sample exceeds the ceiling (no clipping, no overshoot), then recovers smoothly.
#[derive(Clone, Debug)]
pub(crate) struct Limiter {
    gain: f32,
    release: f32,
}

impl Limiter {
    pub(crate) fn new(rate: u32) -> Self {
        Limiter {
            gain: 1.0,
            release: 1.0 - (-1.0 / (0.1 * rate as f32)).exp(),
        }
    }

    pub(crate) fn process(&mut self, x: &mut [f32]) {
        for s in x {
            let a = s.abs();
            let need = if a > CEILING { CEILING / a } else { 1.0 };
            self.gain = (self.gain + (1.0 - self.gain) * self.release).min(need);
            *s *= self.gain;
        }
    }
}

/// One mix's output path with its filter and limiter state and its per-codec encodings.
#[derive(Debug)]
pub(crate) struct Signal {
    dec: Decimator,
    limiter: Limiter,
    narrow: Vec<f32>,
    pcm: Vec<i16>,
    /// G.711 encodings (μ-law, A-law).
    enc: [Vec<u8>; 2],
    /// Frame number (+1) each encoding belongs to; 0 = none.
    enc_frame: [u64; Codec::COUNT],
    /// The 16 kHz sum of this frame, kept for Opus (limited only when an Opus receiver asks).
    wide: Vec<f32>,
    wide_limiter: Limiter,
    wide_pcm: Vec<i16>,
    /// Created when the first Opus receiver hears this signal; its state follows this signal.
    opus: Option<OpusOut>,
}

impl Signal {
    pub(crate) fn new(fir: &HalfBandFir, wide: usize) -> Self {
        let narrow = wide / 2;
        Signal {
            dec: Decimator::new(fir, wide),
            limiter: Limiter::new(8000),
            narrow: vec![0.0; narrow],
            pcm: vec![0; narrow],
            enc: [vec![0; narrow], vec![0; narrow]],
            enc_frame: [0; Codec::COUNT],
            wide: vec![0.0; wide],
            wide_limiter: Limiter::new(16000),
            wide_pcm: vec![0; wide],
            opus: None,
        }
    }

    /// Takes over another signal's filter and limiter state (a listener moving to this mix).
    pub(crate) fn copy_state(&mut self, other: &Signal) {
        self.dec.copy_state(&other.dec);
        self.limiter = other.limiter.clone();
        self.wide_limiter = other.wide_limiter.clone();
    }

    /// Renders frame `frame` from the 16 kHz sum `wide`.
    pub(crate) fn render(&mut self, wide: &[f32]) {
        self.dec.process(wide, &mut self.narrow);
        self.limiter.process(&mut self.narrow);
        for (o, s) in self.pcm.iter_mut().zip(&self.narrow) {
            // Saturating float-to-int cast: the limiter already keeps |s| under the ceiling.
            *o = *s as i16;
        }
        // Kept for an Opus receiver (a few hundred floats for at most `max_mixed + 2` signals).
        let n = self.wide.len();
        self.wide.copy_from_slice(&wide[..n]);
        self.enc_frame = [0; Codec::COUNT];
    }

    /// The frame encoded in `codec`, encoding it if this is the first receiver asking.
    /// Returns whether an encode happened.
    pub(crate) fn encode(&mut self, codec: Codec, frame: u64) -> bool {
        let i = codec.index();
        if self.enc_frame[i] == frame + 1 {
            return false;
        }
        self.enc_frame[i] = frame + 1;
        if codec == Codec::Opus {
            return self.encode_opus();
        }
        encode_into(codec, &self.pcm, &mut self.enc[i]);
        true
    }

    fn encode_opus(&mut self) -> bool {
        if self.opus.is_none() {
            // First Opus listener of this signal (created once, kept while the signal lives).
            match OpusOut::new() {
                Ok(o) => self.opus = Some(o),
                Err(e) => {
                    tracing::warn!(error = %e, "no opus encoder for a mix");
                    return false;
                }
            }
        }
        self.wide_limiter.process(&mut self.wide);
        for (o, s) in self.wide_pcm.iter_mut().zip(&self.wide) {
            *o = *s as i16;
        }
        match self.opus.as_mut() {
            Some(o) => o.encode(&self.wide_pcm),
            None => false,
        }
    }

    /// This frame's payload in `codec` (empty if an Opus encode failed).
    pub(crate) fn encoded(&self, codec: Codec) -> &[u8] {
        match codec {
            Codec::Opus => self.opus.as_ref().map_or(&[], |o| o.encoded()),
            _ => &self.enc[codec.index()],
        }
    }

    pub(crate) fn pcm(&self) -> &[i16] {
        &self.pcm
    }
}

/// G.711 sample-wise encode; `Codec::Opus` (stateful, not sample-wise) leaves `out` as it is.
pub(crate) fn encode_into(codec: Codec, pcm: &[i16], out: &mut [u8]) {
    match codec {
        Codec::Opus => {}
        Codec::Pcmu => out
            .iter_mut()
            .zip(pcm)
            .for_each(|(o, s)| *o = g711::ulaw_encode(*s)),
        Codec::Pcma => out
            .iter_mut()
            .zip(pcm)
            .for_each(|(o, s)| *o = g711::alaw_encode(*s)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limiter_never_exceeds_the_ceiling_and_recovers() {
        let mut l = Limiter::new(8000);
        let mut x: Vec<f32> = (0..8000)
            .map(|i| 90_000.0 * ((i as f32) * 0.2).sin())
            .collect();
        l.process(&mut x);
        assert!(x.iter().all(|s| s.abs() <= CEILING + 0.5));
        let mut quiet = vec![1000.0f32; 8000];
        l.process(&mut quiet);
        assert!(
            (quiet[7999] - 1000.0).abs() < 1.0,
            "recovered to {}",
            quiet[7999]
        );
    }

    #[test]
    fn loud_sum_renders_without_wrapping() {
        let fir = HalfBandFir::new();
        let mut s = Signal::new(&fir, 320);
        let wide: Vec<f32> = (0..320)
            .map(|i| 120_000.0 * ((i as f32) * 0.05).sin())
            .collect();
        for _ in 0..10 {
            s.render(&wide);
        }
        assert!(
            s.pcm()
                .iter()
                .all(|v| v.unsigned_abs() <= CEILING as u16 + 1)
        );
        assert!(s.pcm().iter().any(|v| v.unsigned_abs() > 20_000));
    }
}
