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
        })
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
        if let Err(e) = self.dec.reset_state() {
            tracing::warn!(error = %e, "opus decoder reset failed");
        }
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

    /// Decodes one packet stamped `ts` (already mapped) into `jb`. A gap since the previous
    /// packet is first filled by the decoder's concealment (and in-band FEC for its last
    /// frame when the packet carries it), so a loss sounds like Opus PLC, not a repeat.
    pub(crate) fn insert(
        &mut self,
        now: Instant,
        ts: u32,
        payload: &[u8],
        jb: &mut JitterBuffer,
    ) -> Result<(), DropReason> {
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
        }
        if let Some(next) = self.next {
            let gap = ts.wrapping_sub(next) as i32;
            if gap < 0 {
                // Its place was already played (concealed), or a later packet was decoded.
                return Err(if self.next_concealed {
                    DropReason::Late
                } else {
                    DropReason::OutOfOrder
                });
            }
            // Conceal the part of the gap just before this packet (the earlier part, if the
            // gap is long, is the jitter buffer's fade to silence).
            let gap = (gap as u32 / GRID * GRID).min(self.conceal_max);
            if gap > 0 {
                self.conceal(ts.wrapping_sub(gap), gap, payload, samples as u32, jb);
            }
        }
        let n = self
            .dec
            .decode(payload, &mut self.pcm, false)
            .map_err(|_| DropReason::Undecodable)?;
        self.next = Some(ts.wrapping_add(n as u32));
        self.next_concealed = false;
        self.plc_run = 0;
        let pcm = &self.pcm;
        jb.insert(now, ts, n, |i| pcm[i])
    }

    /// Before a frame `[start, start + len)` is played: if the decoder has not reached its end
    /// and the packet that should be there has not arrived, the decoder conceals the missing
    /// part now, in order, so a loss sounds like Opus PLC even when the next packet is not yet
    /// in (a buffer as shallow as one frame). Stops after `conceal_max` without a packet; the
    /// jitter buffer's fade then takes over.
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
        self.concealed += pos as u64;
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
        _jb: &mut JitterBuffer,
    ) -> Result<(), DropReason> {
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
