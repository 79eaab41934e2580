//! Opus (RFC 7587) through libopus, behind the `opus` feature.
//!
//! libopus decodes and encodes at 16 kHz itself (its API takes 8, 12, 16, 24 or 48 kHz), so an
//! Opus venue enters and leaves the 16 kHz mix with no resampler of ours: decoding at 48 kHz and
//! filtering down would throw away exactly the band libopus leaves out at 16 kHz. The RTP clock
//! stays 48 kHz (RFC 7587 §4.1); timestamps are divided by 3 on the way in and multiplied on
//! the way out.
//!
//! Without the feature the two types are uninhabited: their constructors return
//! [`MixerError::CodecNotBuilt`] and every method is statically unreachable, so the mixer needs
//! no `cfg` of its own.

use std::time::Instant;

use crate::error::{DropReason, MixerError};
use crate::jitter::JitterBuffer;

/// RTP timestamp units (48 kHz) per decoded sample (16 kHz).
#[cfg(feature = "opus")]
const TS_PER_SAMPLE: u32 = 3;
/// Samples (16 kHz) in the longest Opus packet, 120 ms.
#[cfg(feature = "opus")]
const MAX_PACKET_SAMPLES: usize = 1920;
/// Opus's frame grid: 2.5 ms at 16 kHz. Concealment lengths are multiples of it.
#[cfg(feature = "opus")]
const GRID: u32 = 40;
/// A packet this far (1 s at 16 kHz) behind the decoder starts a new timeline.
#[cfg(feature = "opus")]
const JUMP: u32 = 16_000;
/// Largest Opus payload we produce (RFC 6716 §3.4: 1275 bytes per frame).
#[cfg(feature = "opus")]
const MAX_PAYLOAD: usize = 1275;
/// Packets a parked source keeps undecoded: enough for the deepest jitter buffer (400 ms) of
/// 20 ms packets plus the pre-roll; older ones are dropped first (the wake then resets).
#[cfg(feature = "opus")]
const PARK_SLOTS: usize = 24;
/// Largest payload kept undecoded (≈ 200 kb/s at 20 ms, far above any mono voice stream); a
/// larger one wakes the source and is decoded at once.
#[cfg(feature = "opus")]
const PARK_BYTES: usize = 512;
/// Packets decoded (and thrown away) before the first one to be played when a decoder is
/// woken from a reset: enough for SILK's LTP/LPC history and CELT's inter-frame energy
/// prediction to be back on the sender's track by the time audio is heard.
#[cfg(feature = "opus")]
const PREROLL: usize = 2;

/// One packet kept undecoded while the source is parked.
#[cfg(feature = "opus")]
#[derive(Clone, Copy, Debug, Default)]
struct Kept {
    ts: u32,
    samples: u32,
    len: u16,
}

/// Decoder work counters of one Opus source (summed into
/// [`MixerStats`](crate::MixerStats)).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct OpusWork {
    /// Packets run through libopus (on arrival, at a wake, in a probe; PLC not counted).
    pub(crate) decodes: u64,
    /// Packets accepted while parked: stored, not decoded on arrival.
    pub(crate) parked: u64,
    /// Parked → decoding transitions.
    pub(crate) wakes: u64,
    /// Level probes of parked sources without RFC 6464 levels.
    pub(crate) probes: u64,
}

impl OpusWork {
    pub(crate) fn add(&mut self, o: OpusWork) {
        self.decodes += o.decodes;
        self.parked += o.parked;
        self.wakes += o.wakes;
        self.probes += o.probes;
    }
}

/// One Opus uplink: the decoder, a timestamp map 48 kHz → 16 kHz, and where the next packet
/// is expected (so a gap is concealed by the decoder itself, in order).
#[cfg(feature = "opus")]
pub(crate) struct OpusIn {
    dec: opus::Decoder,
    pcm: Box<[i16]>,
    /// Last RTP timestamp seen and its 16 kHz image.
    last: Option<(u32, u32)>,
    /// 16 kHz timestamp where the next packet should start.
    next: Option<u32>,
    /// Longest gap the decoder conceals (samples); the jitter buffer's fade covers the rest.
    conceal_max: u32,
    /// Samples the decoder made up (PLC or FEC), for [`SourceStats`](crate::SourceStats).
    concealed: u64,
    /// Samples concealed since the last real packet (stops at `conceal_max`).
    plc_run: u32,
    /// Whether `next` was last advanced by concealment (a packet before it is then late).
    next_concealed: bool,
    /// Parked: packets are kept, not decoded (the source cannot be mixed; see the mixer).
    parked: bool,
    /// Where the decoder's own state stands (end of what it last produced). While parked,
    /// `next` runs ahead of it.
    dec_pos: Option<u32>,
    /// Kept packets' payloads, `PARK_SLOTS` × `PARK_BYTES`, oldest at `kept_head`.
    kept_bytes: Box<[u8]>,
    kept: [Kept; PARK_SLOTS],
    kept_head: usize,
    kept_len: usize,
    /// 16 kHz timestamp of the last level probe (parked sources without RFC 6464 levels).
    last_probe: Option<u32>,
    work: OpusWork,
}

/// Without the `opus` feature there is no Opus decoder.
#[cfg(not(feature = "opus"))]
pub(crate) enum OpusIn {}

impl std::fmt::Debug for OpusIn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpusIn")
    }
}

#[cfg(feature = "opus")]
impl OpusIn {
    pub(crate) fn new(conceal_samples: u32) -> Result<Self, MixerError> {
        let dec = opus::Decoder::new(16000, opus::Channels::Mono)
            .map_err(|e| MixerError::Opus(e.to_string()))?;
        Ok(OpusIn {
            dec,
            pcm: vec![0; MAX_PACKET_SAMPLES].into_boxed_slice(),
            last: None,
            next: None,
            conceal_max: conceal_samples.max(GRID) / GRID * GRID,
            concealed: 0,
            plc_run: 0,
            next_concealed: false,
            parked: false,
            dec_pos: None,
            kept_bytes: vec![0; PARK_SLOTS * PARK_BYTES].into_boxed_slice(),
            kept: [Kept::default(); PARK_SLOTS],
            kept_head: 0,
            kept_len: 0,
            last_probe: None,
            work: OpusWork::default(),
        })
    }

    /// Decoder work so far.
    pub(crate) fn work(&self) -> OpusWork {
        self.work
    }

    /// Whether packets are kept undecoded.
    pub(crate) fn is_parked(&self) -> bool {
        self.parked
    }

    /// Stops decoding: from now on packets are kept (and the jitter buffer gets silence in
    /// their place, so its timing follows the stream as before).
    pub(crate) fn park(&mut self) {
        if !self.parked {
            self.parked = true;
            self.kept_len = 0;
            self.dec_pos = self.next;
            self.last_probe = None;
        }
    }

    /// Starts decoding again so that the audio from `play` (the jitter buffer's playout
    /// position) on is real. If the kept packets continue exactly where the decoder stopped
    /// and few of them are already past playout, they are all decoded in order: the output is
    /// then bit-exact with a decoder that never stopped. Otherwise the decoder is reset and
    /// decodes `PREROLL` packets before `play` (their audio is past playout and discarded)
    /// and then every kept packet from `play` on.
    pub(crate) fn wake(&mut self, play: Option<u32>, jb: &mut JitterBuffer) {
        if !self.parked {
            return;
        }
        self.parked = false;
        self.work.wakes += 1;
        let n = self.kept_len;
        let first_needed = match play {
            Some(p) => (0..n)
                .find(|&k| {
                    let m = self.kept[(self.kept_head + k) % PARK_SLOTS];
                    m.ts.wrapping_add(m.samples).wrapping_sub(p) as i32 > 0
                })
                .unwrap_or(n),
            None => 0,
        };
        // Nothing kept: the decoder still stands where it stopped.
        let continuous = n == 0
            || (self.dec_pos == Some(self.kept[self.kept_head].ts) && first_needed <= PREROLL);
        let from = if continuous {
            self.next = self.dec_pos;
            0
        } else {
            self.reset_decoder();
            self.next = None;
            first_needed.saturating_sub(PREROLL)
        };
        self.next_concealed = false;
        self.plc_run = 0;
        for k in from..n {
            let m = self.kept[(self.kept_head + k) % PARK_SLOTS];
            let at = ((self.kept_head + k) % PARK_SLOTS) * PARK_BYTES;
            // Copied out so the decoder (which borrows `self`) can read it.
            let mut buf = [0u8; PARK_BYTES];
            buf[..m.len as usize].copy_from_slice(&self.kept_bytes[at..at + m.len as usize]);
            if let Ok(d) = self.decode_after_gap(m.ts, &buf[..m.len as usize], m.samples, jb) {
                let pcm = &self.pcm;
                jb.write_concealment(m.ts, d, |i| pcm[i]);
            }
        }
        self.kept_len = 0;
        self.dec_pos = self.next;
    }

    fn reset_decoder(&mut self) {
        if let Err(e) = self.dec.reset_state() {
            tracing::warn!(error = %e, "opus decoder reset failed");
        }
    }

    fn keep(&mut self, ts: u32, payload: &[u8], samples: u32) -> bool {
        if payload.len() > PARK_BYTES {
            return false;
        }
        if self.kept_len == PARK_SLOTS {
            // The oldest is long past playout; losing it only costs the bit-exact resume.
            self.kept_head = (self.kept_head + 1) % PARK_SLOTS;
            self.kept_len -= 1;
        }
        let slot = (self.kept_head + self.kept_len) % PARK_SLOTS;
        self.kept[slot] = Kept {
            ts,
            samples,
            len: payload.len() as u16,
        };
        self.kept_bytes[slot * PARK_BYTES..slot * PARK_BYTES + payload.len()]
            .copy_from_slice(payload);
        self.kept_len += 1;
        true
    }

    /// A parked source without levels: decodes this packet (after a reset and the previous
    /// kept packet as pre-roll, when there is one right before it) and returns its level, at
    /// most once per `interval` samples. The decoded audio goes into `jb` like any packet's.
    fn probe(
        &mut self,
        now: Instant,
        ts: u32,
        payload: &[u8],
        interval: u32,
        jb: &mut JitterBuffer,
    ) -> Option<Result<u8, DropReason>> {
        if self
            .last_probe
            .is_some_and(|p| (ts.wrapping_sub(p) as i32) < interval as i32)
        {
            return None;
        }
        self.last_probe = Some(ts);
        self.work.probes += 1;
        let prev = (self.kept_len > 0)
            .then(|| (self.kept_head + self.kept_len - 1) % PARK_SLOTS)
            .filter(|&s| self.kept[s].ts.wrapping_add(self.kept[s].samples) == ts);
        if self.dec_pos != Some(ts) {
            self.reset_decoder();
            if let Some(s) = prev {
                let m = self.kept[s];
                let at = s * PARK_BYTES;
                let mut buf = [0u8; PARK_BYTES];
                buf[..m.len as usize].copy_from_slice(&self.kept_bytes[at..at + m.len as usize]);
                self.work.decodes += 1;
                let _ = self
                    .dec
                    .decode(&buf[..m.len as usize], &mut self.pcm, false);
            }
        }
        self.kept_len = 0;
        self.work.decodes += 1;
        let n = match self.dec.decode(payload, &mut self.pcm, false) {
            Ok(n) => n,
            Err(_) => return Some(Err(DropReason::Undecodable)),
        };
        self.next = Some(ts.wrapping_add(n as u32));
        self.dec_pos = self.next;
        self.next_concealed = false;
        self.plc_run = 0;
        let level = crate::level::level_of(&self.pcm[..n]);
        let pcm = &self.pcm;
        Some(jb.insert(now, ts, n, |i| pcm[i]).map(|()| level))
    }

    /// Audio made up by the decoder so far.
    pub(crate) fn concealed(&self) -> std::time::Duration {
        std::time::Duration::from_micros(self.concealed * 1_000_000 / 16_000)
    }

    /// A new stream (SSRC change): forget the timeline and the decoder's history.
    pub(crate) fn reset(&mut self) {
        self.last = None;
        self.next = None;
        self.next_concealed = false;
        self.plc_run = 0;
        self.kept_len = 0;
        self.dec_pos = None;
        self.last_probe = None;
        self.reset_decoder();
    }

    /// Maps an RTP timestamp (48 kHz) to the jitter buffer's 16 kHz timeline. Differences are
    /// taken modulo 2^32 first, so the map wraps correctly although 2^32 is not a multiple of 3.
    pub(crate) fn map_ts(&mut self, rtp_ts: u32) -> u32 {
        let mapped = match self.last {
            None => rtp_ts / TS_PER_SAMPLE,
            Some((rtp, m)) => {
                let d = rtp_ts.wrapping_sub(rtp) as i32;
                m.wrapping_add((d / TS_PER_SAMPLE as i32) as u32)
            }
        };
        self.last = Some((rtp_ts, mapped));
        mapped
    }

    /// Takes one packet stamped `ts` (already mapped) into `jb`. Decoding, a gap since the
    /// previous packet is first filled by the decoder's concealment (and in-band FEC for its
    /// last frame when the packet carries it), so a loss sounds like Opus PLC, not a repeat.
    /// Parked, the packet is kept and silence of its length goes into `jb`; if `probe` is
    /// given (the packet has no RFC 6464 level), every `probe` samples one packet is decoded
    /// anyway and its level returned.
    pub(crate) fn insert(
        &mut self,
        now: Instant,
        ts: u32,
        payload: &[u8],
        probe: Option<u32>,
        jb: &mut JitterBuffer,
    ) -> Result<Option<u8>, DropReason> {
        if payload.is_empty() {
            return Err(DropReason::MalformedPayload);
        }
        let samples = self
            .dec
            .get_nb_samples(payload)
            .map_err(|_| DropReason::Undecodable)?;
        if samples == 0 || samples > MAX_PACKET_SAMPLES {
            return Err(DropReason::Undecodable);
        }
        if let Some(next) = self.next
            && (ts.wrapping_sub(next) as i32) < -(JUMP as i32)
        {
            // Far behind: not a reordered packet but a timeline that restarted (same SSRC).
            // Follow it; the jitter buffer confirms or refuses the jump on its own.
            self.next = None;
            self.next_concealed = false;
            self.kept_len = 0;
            self.last_probe = None;
        }
        if let Some(next) = self.next
            && (ts.wrapping_sub(next) as i32) < 0
        {
            // Its place was already played (concealed), or a later packet was decoded (or
            // kept: parked sources drop exactly what a decoding one would).
            return Err(if self.next_concealed {
                DropReason::Late
            } else {
                DropReason::OutOfOrder
            });
        }
        if self.parked {
            if let Some(interval) = probe
                && let Some(r) = self.probe(now, ts, payload, interval, jb)
            {
                return r.map(Some);
            }
            if self.keep(ts, payload, samples as u32) {
                self.work.parked += 1;
                // What a decoding source would conceal before this packet, as silence (see
                // `decode_after_gap`), so the two play, count and drop alike.
                let gap = self.gap_before(ts);
                if gap > 0 {
                    jb.write_concealment(ts.wrapping_sub(gap), gap as usize, |_| 0);
                }
                self.next = Some(ts.wrapping_add(samples as u32));
                self.next_concealed = false;
                self.plc_run = 0;
                return jb.insert(now, ts, samples, |_| 0).map(|()| None);
            }
            // Too large to keep: decode from here on.
            let play = jb.play_pos();
            self.wake(play, jb);
        }
        let n = self.decode_after_gap(ts, payload, samples as u32, jb)?;
        let pcm = &self.pcm;
        jb.insert(now, ts, n, |i| pcm[i]).map(|()| None)
    }

    /// The part of the gap between the expected position and a packet at `ts` that the
    /// decoder conceals (the earlier part, if the gap is long, is the jitter buffer's fade).
    fn gap_before(&self, ts: u32) -> u32 {
        self.next.map_or(0, |next| {
            let gap = ts.wrapping_sub(next) as i32;
            (gap.max(0) as u32 / GRID * GRID).min(self.conceal_max)
        })
    }

    /// Conceals the gap since the decoder's position (PLC, then FEC from `payload` for the
    /// last part), then decodes `payload` into `self.pcm`; returns the samples decoded.
    fn decode_after_gap(
        &mut self,
        ts: u32,
        payload: &[u8],
        samples: u32,
        jb: &mut JitterBuffer,
    ) -> Result<usize, DropReason> {
        let gap = self.gap_before(ts);
        if gap > 0 {
            self.conceal(ts.wrapping_sub(gap), gap, payload, samples, jb);
        }
        self.work.decodes += 1;
        let n = self
            .dec
            .decode(payload, &mut self.pcm, false)
            .map_err(|_| DropReason::Undecodable)?;
        self.next = Some(ts.wrapping_add(n as u32));
        self.next_concealed = false;
        self.plc_run = 0;
        Ok(n)
    }

    /// Before a frame `[start, start + len)` is played: if the decoder has not reached its end
    /// and the packet that should be there has not arrived, the decoder conceals the missing
    /// part now, in order, so a loss sounds like Opus PLC even when the next packet is not yet
    /// in (a buffer as shallow as one frame). Stops after `conceal_max` without a packet; the
    /// jitter buffer's fade then takes over. Parked, the span is filled with silence.
    pub(crate) fn conceal_before_playout(&mut self, start: u32, len: u32, jb: &mut JitterBuffer) {
        let Some(next) = self.next else { return };
        let end = start.wrapping_add(len);
        let from = if start.wrapping_sub(next) as i32 > 0 {
            start
        } else {
            next
        };
        let gap = end.wrapping_sub(from) as i32;
        if gap <= 0 || jb.has(from) || self.plc_run >= self.conceal_max {
            return;
        }
        let k = (gap as u32).min(self.conceal_max - self.plc_run) / GRID * GRID;
        let mut pos = 0u32;
        if self.parked {
            // The same span a decoding source would conceal, as silence: the frame then counts
            // as played (its RFC 6464 level meters it) and a packet arriving for it later is
            // dropped as late, exactly as for a decoding source.
            jb.write_concealment(from, k as usize, |_| 0);
            pos = k;
        }
        while pos < k {
            let want = (k - pos).min(MAX_PACKET_SAMPLES as u32) as usize;
            match self.dec.decode(&[], &mut self.pcm[..want], false) {
                Ok(n) if n > 0 => {
                    let pcm = &self.pcm;
                    jb.write_concealment(from.wrapping_add(pos), n, |i| pcm[i]);
                    pos += n as u32;
                }
                _ => break,
            }
        }
        if !self.parked {
            self.concealed += pos as u64;
        }
        self.plc_run += pos;
        self.next = Some(from.wrapping_add(pos));
        self.next_concealed = true;
    }

    fn conceal(&mut self, at: u32, gap: u32, payload: &[u8], dur: u32, jb: &mut JitterBuffer) {
        // The frame right before `payload` may be recoverable from its FEC (LBRR) data.
        let fec = gap.min(dur);
        let plc = gap - fec;
        let mut pos = 0u32;
        while pos < plc {
            let k = (plc - pos).min(MAX_PACKET_SAMPLES as u32) as usize;
            match self.dec.decode(&[], &mut self.pcm[..k], false) {
                Ok(n) => {
                    let pcm = &self.pcm;
                    jb.write_concealment(at.wrapping_add(pos), n, |i| pcm[i]);
                    self.concealed += n as u64;
                    pos += n.max(1) as u32;
                }
                Err(_) => return,
            }
        }
        if let Ok(n) = self
            .dec
            .decode(payload, &mut self.pcm[..fec as usize], true)
        {
            let pcm = &self.pcm;
            jb.write_concealment(at.wrapping_add(plc), n, |i| pcm[i]);
            self.concealed += n as u64;
        }
    }
}

#[cfg(not(feature = "opus"))]
impl OpusIn {
    pub(crate) fn new(_conceal_samples: u32) -> Result<Self, MixerError> {
        Err(MixerError::CodecNotBuilt(crate::types::Codec::Opus))
    }
    pub(crate) fn reset(&mut self) {
        match *self {}
    }
    pub(crate) fn map_ts(&mut self, _rtp_ts: u32) -> u32 {
        match *self {}
    }
    pub(crate) fn concealed(&self) -> std::time::Duration {
        match *self {}
    }
    pub(crate) fn conceal_before_playout(
        &mut self,
        _start: u32,
        _len: u32,
        _jb: &mut JitterBuffer,
    ) {
        match *self {}
    }
    pub(crate) fn insert(
        &mut self,
        _now: Instant,
        _ts: u32,
        _payload: &[u8],
        _probe: Option<u32>,
        _jb: &mut JitterBuffer,
    ) -> Result<Option<u8>, DropReason> {
        match *self {}
    }
    pub(crate) fn work(&self) -> OpusWork {
        match *self {}
    }
    pub(crate) fn is_parked(&self) -> bool {
        match *self {}
    }
    pub(crate) fn park(&mut self) {
        match *self {}
    }
    pub(crate) fn wake(&mut self, _play: Option<u32>, _jb: &mut JitterBuffer) {
        match *self {}
    }
}

/// One Opus encoder for one distinct mix (stateful, so shared only by receivers hearing the
/// same signal every frame).
#[cfg(feature = "opus")]
pub(crate) struct OpusOut {
    enc: opus::Encoder,
    buf: Box<[u8]>,
    len: usize,
}

/// Without the `opus` feature there is no Opus encoder.
#[cfg(not(feature = "opus"))]
pub(crate) enum OpusOut {}

impl std::fmt::Debug for OpusOut {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("OpusOut")
    }
}

#[cfg(feature = "opus")]
impl OpusOut {
    pub(crate) fn new() -> Result<Self, MixerError> {
        let err = |e: opus::Error| MixerError::Opus(e.to_string());
        let mut enc = opus::Encoder::new(16000, opus::Channels::Mono, opus::Application::Voip)
            .map_err(err)?;
        // Wideband speech: 32 kb/s is transparent for a 16 kHz mix. FEC at a nominal 5 % loss
        // lets receivers recover single losses (what the mixer itself does for its sources).
        enc.set_bitrate(opus::Bitrate::Bits(32_000)).map_err(err)?;
        enc.set_inband_fec(true).map_err(err)?;
        enc.set_packet_loss_perc(5).map_err(err)?;
        Ok(OpusOut {
            enc,
            buf: vec![0; MAX_PAYLOAD].into_boxed_slice(),
            len: 0,
        })
    }

    /// Encodes one frame (16 kHz; 10, 20, 40 or 60 ms). On a libopus error the payload is
    /// empty and `false` is returned (the caller skips the packet).
    pub(crate) fn encode(&mut self, pcm: &[i16]) -> bool {
        match self.enc.encode(pcm, &mut self.buf) {
            Ok(n) => {
                self.len = n;
                true
            }
            Err(e) => {
                tracing::warn!(error = %e, samples = pcm.len(), "opus encode failed");
                self.len = 0;
                false
            }
        }
    }

    pub(crate) fn encoded(&self) -> &[u8] {
        &self.buf[..self.len]
    }
}

#[cfg(not(feature = "opus"))]
impl OpusOut {
    pub(crate) fn new() -> Result<Self, MixerError> {
        Err(MixerError::CodecNotBuilt(crate::types::Codec::Opus))
    }
    pub(crate) fn encode(&mut self, _pcm: &[i16]) -> bool {
        match *self {}
    }
    pub(crate) fn encoded(&self) -> &[u8] {
        match *self {}
    }
}

#[cfg(all(test, feature = "opus"))]
mod tests {
    use std::time::{Duration, Instant};

    use super::*;
    use crate::jitter::{JitterBuffer, Pulled};

    const FRAME: Duration = Duration::from_millis(20);

    fn jb() -> JitterBuffer {
        JitterBuffer::new(
            16000,
            320,
            Duration::from_millis(20),
            Duration::from_millis(300),
            Duration::from_millis(60),
            FRAME,
        )
    }

    /// 20 ms packets of a 440 Hz tone from a 48 kHz libopus encoder; `big` at 510 kb/s.
    fn packets(n: usize, big: bool) -> Vec<Vec<u8>> {
        let mut enc =
            opus::Encoder::new(48000, opus::Channels::Mono, opus::Application::Voip).unwrap();
        if big {
            enc.set_bitrate(opus::Bitrate::Max).unwrap();
        }
        (0..n)
            .map(|k| {
                let pcm: Vec<i16> = (0..960)
                    .map(|i| {
                        let t = (k * 960 + i) as f64 / 48000.0;
                        (8000.0 * (2.0 * std::f64::consts::PI * 440.0 * t).sin()) as i16
                    })
                    .collect();
                enc.encode_vec(&pcm, 1500).unwrap()
            })
            .collect()
    }

    /// Runs `packets` through a decoder that parks before packet `park` and wakes after
    /// packet `wake` arrived (`None`: never parks); the frames it played, one per packet.
    fn play(packets: &[Vec<u8>], park_wake: Option<(usize, usize)>) -> (Vec<Vec<i16>>, OpusIn) {
        let mut o = OpusIn::new(960).unwrap();
        let mut jb = jb();
        let t0 = Instant::now();
        let mut frames = Vec::new();
        for (k, p) in packets.iter().enumerate() {
            let now = t0 + FRAME * k as u32;
            if park_wake.is_some_and(|(park, _)| park == k) {
                o.park();
            }
            let ts = o.map_ts(960 * k as u32);
            o.insert(now, ts, p, None, &mut jb).unwrap();
            if park_wake.is_some_and(|(_, wake)| wake == k) {
                let play = jb.play_pos();
                o.wake(play, &mut jb);
            }
            let mut out = vec![0i16; 320];
            let at = now + Duration::from_millis(5);
            if !o.is_parked()
                && let Some(start) = jb.next_play(at)
            {
                o.conceal_before_playout(start, 320, &mut jb);
            }
            let (st, _, _) = jb.pull(at, &mut out);
            assert_ne!(st, Pulled::Held);
            frames.push(out);
        }
        (frames, o)
    }

    #[test]
    fn a_short_park_resumes_bit_exact() {
        let p = packets(60, false);
        let (reference, _) = play(&p, None);
        // Parked for two packets: they carry on where the decoder stopped.
        let (frames, o) = play(&p, Some((20, 21)));
        assert_eq!(o.work().wakes, 1);
        assert_eq!(o.work().parked, 2);
        assert_eq!(
            o.work().decodes,
            60,
            "the two kept packets are decoded at the wake"
        );
        assert_eq!(frames[21..], reference[21..]);
    }

    #[test]
    fn a_long_park_resumes_from_a_reset_with_pre_roll() {
        let p = packets(100, false);
        let (reference, _) = play(&p, None);
        // Parked for 40 packets: more than are kept, so the decoder is reset and decodes the
        // pre-roll, then the packets not yet played.
        let (frames, o) = play(&p, Some((20, 59)));
        assert_eq!(o.work().parked, 40);
        let decoded_at_wake = o.work().decodes - 20 - 40;
        assert!(
            (PREROLL as u64 + 1..=PREROLL as u64 + 3).contains(&decoded_at_wake),
            "pre-roll plus the packets not yet played: {decoded_at_wake}"
        );
        let err = |k: usize| -> f64 {
            let d: f64 = frames[k]
                .iter()
                .zip(&reference[k])
                .map(|(a, b)| (*a as f64 - *b as f64).powi(2))
                .sum();
            let s: f64 = reference[k].iter().map(|a| (*a as f64).powi(2)).sum();
            10.0 * (d / s).log10()
        };
        // The first frame played after the wake is already close to the uninterrupted
        // decoder's, and the two meet exactly within half a second.
        assert!(
            err(60) < -10.0,
            "first frame after the wake: {:.1} dB",
            err(60)
        );
        assert_eq!(frames[85..], reference[85..]);
    }

    #[test]
    fn a_payload_too_large_to_keep_wakes_the_decoder() {
        let p = packets(30, true);
        assert!(p[12].len() > PARK_BYTES, "{} bytes", p[12].len());
        let mut o = OpusIn::new(960).unwrap();
        let mut jb = jb();
        let t0 = Instant::now();
        for (k, pkt) in p.iter().enumerate().take(12) {
            let ts = o.map_ts(960 * k as u32);
            o.insert(t0 + FRAME * k as u32, ts, pkt, None, &mut jb)
                .unwrap();
        }
        o.park();
        let ts = o.map_ts(960 * 12);
        o.insert(t0 + FRAME * 12, ts, &p[12], None, &mut jb)
            .unwrap();
        assert!(!o.is_parked());
        assert_eq!(
            (o.work().wakes, o.work().parked, o.work().decodes),
            (1, 0, 13)
        );
    }
}
