//! 2:1 polyphase FIR resampling between 8 kHz (G.711) and the 16 kHz mixing rate.
//!
//! One 64-tap Kaiser-windowed sinc low-pass (cut-off 3.9 kHz at 16 kHz, β = 7: about 70 dB
//! stop-band, pass-band flat to ~3.4 kHz) serves both directions: the interpolator runs its two
//! 32-tap phases (no multiplications by stuffed zeros), the decimator computes only the output
//! samples it keeps. Each stream keeps its own history, so frames join without clicks.

/// Filter length; the two polyphase branches have half of it each.
pub(crate) const TAPS: usize = 64;
const PHASE: usize = TAPS / 2;

/// The shared low-pass, split into the interpolator's two phases.
#[derive(Debug, Clone)]
pub(crate) struct HalfBandFir {
    /// Full filter (decimator), scaled for unity DC gain.
    h: [f32; TAPS],
    /// Even and odd taps reversed (interpolator phases), scaled ×2 for the zero stuffing.
    even: [f32; PHASE],
    odd: [f32; PHASE],
}

fn bessel_i0(x: f64) -> f64 {
    // Power series; 25 terms are far past f64 precision for the β we use.
    let mut sum = 1.0;
    let mut term = 1.0;
    for k in 1..25 {
        let t = x / (2.0 * k as f64);
        term *= t * t;
        sum += term;
    }
    sum
}

impl HalfBandFir {
    pub(crate) fn new() -> Self {
        let beta = 7.0;
        let cutoff = 3900.0 / 16000.0; // cycles per sample at 16 kHz
        let mid = (TAPS - 1) as f64 / 2.0;
        let mut h = [0f64; TAPS];
        for (n, v) in h.iter_mut().enumerate() {
            let x = n as f64 - mid;
            let sinc = if x == 0.0 {
                2.0 * cutoff
            } else {
                (2.0 * std::f64::consts::PI * cutoff * x).sin() / (std::f64::consts::PI * x)
            };
            let r = x / mid;
            let w = bessel_i0(beta * (1.0 - r * r).max(0.0).sqrt()) / bessel_i0(beta);
            *v = sinc * w;
        }
        let sum: f64 = h.iter().sum();
        let mut out = HalfBandFir {
            h: [0.0; TAPS],
            even: [0.0; PHASE],
            odd: [0.0; PHASE],
        };
        for (i, v) in h.iter().enumerate() {
            out.h[i] = (v / sum) as f32;
        }
        for k in 0..PHASE {
            // Reversed so the inner loop walks input and taps in the same direction.
            out.even[PHASE - 1 - k] = 2.0 * out.h[2 * k];
            out.odd[PHASE - 1 - k] = 2.0 * out.h[2 * k + 1];
        }
        out
    }
}

#[inline]
fn dot(a: &[f32], b: &[f32]) -> f32 {
    // Four accumulators let the compiler vectorise without reassociation flags.
    let mut acc = [0f32; 4];
    let mut ca = a.chunks_exact(4);
    let mut cb = b.chunks_exact(4);
    for (x, y) in (&mut ca).zip(&mut cb) {
        acc[0] += x[0] * y[0];
        acc[1] += x[1] * y[1];
        acc[2] += x[2] * y[2];
        acc[3] += x[3] * y[3];
    }
    let mut s = (acc[0] + acc[1]) + (acc[2] + acc[3]);
    for (x, y) in ca.remainder().iter().zip(cb.remainder()) {
        s += x * y;
    }
    s
}

/// 8 kHz → 16 kHz for one stream. The history lives in the front of `buf`.
#[derive(Debug, Clone)]
pub(crate) struct Upsampler {
    /// `PHASE - 1` samples of history followed by the current input frame.
    buf: Vec<f32>,
}

impl Upsampler {
    pub(crate) fn new(max_in: usize) -> Self {
        Upsampler {
            buf: vec![0.0; PHASE - 1 + max_in],
        }
    }

    /// Keeps the history current for a frame that is not interpolated (a source outside the
    /// mix), so it can join the mix next frame without a click.
    pub(crate) fn skip(&mut self, input: &[i16]) {
        let h = PHASE - 1;
        if input.len() >= h {
            for (d, s) in self.buf[..h].iter_mut().zip(&input[input.len() - h..]) {
                *d = *s as f32;
            }
        } else {
            self.buf.copy_within(input.len()..h, 0);
            for (d, s) in self.buf[h - input.len()..h].iter_mut().zip(input) {
                *d = *s as f32;
            }
        }
    }

    /// Interpolates `input` (8 kHz) into `out` (16 kHz, twice as long).
    pub(crate) fn process(&mut self, fir: &HalfBandFir, input: &[i16], out: &mut [f32]) {
        let n = input
            .len()
            .min(self.buf.len() - (PHASE - 1))
            .min(out.len() / 2);
        for (d, s) in self.buf[PHASE - 1..PHASE - 1 + n].iter_mut().zip(input) {
            *d = *s as f32;
        }
        for i in 0..n {
            let w = &self.buf[i..i + PHASE];
            out[2 * i] = dot(w, &fir.even);
            out[2 * i + 1] = dot(w, &fir.odd);
        }
        self.buf.copy_within(n..n + PHASE - 1, 0);
    }
}

/// 16 kHz → 8 kHz for one signal.
#[derive(Debug, Clone)]
pub(crate) struct Decimator {
    buf: Vec<f32>,
    rev: [f32; TAPS],
}

impl Decimator {
    pub(crate) fn new(fir: &HalfBandFir, max_in: usize) -> Self {
        let mut rev = [0f32; TAPS];
        for (i, v) in fir.h.iter().enumerate() {
            rev[TAPS - 1 - i] = *v;
        }
        Decimator {
            buf: vec![0.0; TAPS - 1 + max_in],
            rev,
        }
    }

    /// Takes over another signal's history (a listener moving between mixes keeps a smooth
    /// filter tail).
    pub(crate) fn copy_state(&mut self, other: &Decimator) {
        self.buf.copy_from_slice(&other.buf);
    }

    /// Decimates `input` (16 kHz, even length) into `out` (8 kHz, half as long).
    pub(crate) fn process(&mut self, input: &[f32], out: &mut [f32]) {
        let n = input.len().min(self.buf.len() - (TAPS - 1)) / 2 * 2;
        self.buf[TAPS - 1..TAPS - 1 + n].copy_from_slice(&input[..n]);
        for (j, o) in out.iter_mut().take(n / 2).enumerate() {
            // Output j aligns with input 2j + 1 (the newest sample of the window).
            let w = &self.buf[2 * j + 1..2 * j + 1 + TAPS];
            *o = dot(w, &self.rev);
        }
        self.buf.copy_within(n..n + TAPS - 1, 0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tone(f: f64, rate: f64, n: usize, amp: f64) -> Vec<f64> {
        (0..n)
            .map(|i| amp * (2.0 * std::f64::consts::PI * f * i as f64 / rate).sin())
            .collect()
    }

    fn rms(x: &[f32]) -> f64 {
        (x.iter().map(|v| (*v as f64).powi(2)).sum::<f64>() / x.len() as f64).sqrt()
    }

    #[test]
    fn upsampling_keeps_speech_band_tones_and_makes_no_images() {
        let fir = HalfBandFir::new();
        for f in [300.0, 1000.0, 3000.0] {
            let x: Vec<i16> = tone(f, 8000.0, 1600, 10000.0)
                .iter()
                .map(|v| *v as i16)
                .collect();
            let mut up = Upsampler::new(160);
            let mut y = vec![0f32; 3200];
            for (i, chunk) in x.chunks(160).enumerate() {
                up.process(&fir, chunk, &mut y[i * 320..(i + 1) * 320]);
            }
            let r = rms(&y[400..]);
            let want = 10000.0 / 2f64.sqrt();
            assert!(
                (r / want - 1.0).abs() < 0.05,
                "{f} Hz: rms {r}, want {want}"
            );
            // The image at 8000 - f must be gone: correlate with it.
            let img = tone(8000.0 - f, 16000.0, 3200, 1.0);
            let c: f64 = y[400..]
                .iter()
                .zip(&img[400..])
                .map(|(a, b)| *a as f64 * b)
                .sum::<f64>()
                / (y.len() - 400) as f64;
            assert!(c.abs() < 10000.0 * 0.01, "{f} Hz image {c}");
        }
    }

    #[test]
    fn decimation_keeps_band_and_rejects_aliases() {
        let fir = HalfBandFir::new();
        let run = |f: f64| {
            let x: Vec<f32> = tone(f, 16000.0, 3200, 10000.0)
                .iter()
                .map(|v| *v as f32)
                .collect();
            let mut d = Decimator::new(&fir, 320);
            let mut y = vec![0f32; 1600];
            for (i, chunk) in x.chunks(320).enumerate() {
                d.process(chunk, &mut y[i * 160..(i + 1) * 160]);
            }
            rms(&y[200..])
        };
        assert!((run(1000.0) / (10000.0 / 2f64.sqrt()) - 1.0).abs() < 0.05);
        // 6 kHz would alias to 2 kHz: at least 50 dB down.
        assert!(run(6000.0) < 10000.0 * 0.003, "alias {}", run(6000.0));
    }
}
