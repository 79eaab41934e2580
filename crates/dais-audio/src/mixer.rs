//! The mixer: sources, receivers, one frame per tick.

use std::collections::{HashMap, VecDeque};
use std::time::{Duration, Instant};

use dais_rtp::{RtpHeader, Ssrc};

use crate::dtmf::{self, DtmfState};
use crate::error::{DropReason, MixerError};
use crate::g711;
use crate::jitter::{JitterBuffer, Pulled};
use crate::level::{self, Dominant, Meter};
use crate::opus_codec::{OpusIn, OpusOut, OpusWork};
use crate::resample::{HalfBandFir, Upsampler};
use crate::signal::{Signal, encode_into};
use crate::types::{Codec, MixerConfig, MixerEvent, MixerStats, OutPacket, SourceStats, VenueId};

/// Comfort noise (RFC 3389), which a mixer has no use for.
const PT_COMFORT_NOISE: u8 = 13;
/// Mixed venues keep their slot unless a challenger is louder by this much (no churn).
const MIX_STICKINESS_DB: f32 = 2.0;
/// Largest packet time a receiver may negotiate.
const MAX_PTIME: Duration = Duration::from_millis(120);
/// If `handle_timeout` falls this many frames behind, skip ahead instead of catching up.
const MAX_CATCH_UP: u32 = 5;
/// RFC 6464 levels remembered per source, matched to frames by timestamp.
const EXT_LEVELS: usize = 8;
/// A frame's RFC 6464 level is the latest one stamped at most this many frames before it.
const EXT_WINDOW_FRAMES: i64 = 6;
/// An Opus source outside the mix for this many frames in a row stops being decoded (it
/// "parks"), if its level is known without decoding. The hold keeps a venue that just left
/// the mix decodable for a quick return, and bounds park/wake churn.
const PARK_AFTER_FRAMES: u32 = 5;
/// A parked Opus source without RFC 6464 levels is decoded once every this many frames to
/// measure its level (a probe), so a venue that starts talking is noticed within this bound.
const PROBE_FRAMES: u32 = 8;

#[derive(Clone, Copy, Debug, Default)]
struct ExtLevel {
    ts: u32,
    level: u8,
    voice: bool,
    valid: bool,
    /// Measured by a probe of a parked source (no V bit: the energy VAD decides).
    measured: bool,
}

#[derive(Debug)]
struct Source {
    id: VenueId,
    codec: Codec,
    pt: u8,
    dtmf_pt: Option<u8>,
    level_ext: Option<u8>,
    ssrc: Option<Ssrc>,
    jb: JitterBuffer,
    /// The Opus decoder (Opus sources only).
    opus: Option<OpusIn>,
    /// This frame at the source's decode rate (8 kHz G.711, 16 kHz Opus).
    frame: Vec<i16>,
    up: Upsampler,
    /// This frame at 16 kHz (valid while mixed).
    wide: Vec<f32>,
    meter: Meter,
    ext_levels: [ExtLevel; EXT_LEVELS],
    ext_next: usize,
    muted: bool,
    mixed: bool,
    was_mixed: bool,
    /// Selected this frame while parked: not mixed (nothing decoded), decoded from the next
    /// frame on, and kept sticky as if mixed.
    reserved: bool,
    /// Consecutive frames outside the mix (and not the main venue).
    unmixed: u32,
    /// This frame's level came from the sender's RFC 6464 extension.
    ext_fed: bool,
    /// This frame's level came from a probe (a parked source without levels).
    probe_fed: bool,
    /// A parked source must decode from the next frame (its level is unknown, or it was
    /// selected).
    wake: bool,
    /// The venue's own mix-minus while it is mixed.
    minus: Signal,
    dtmf: DtmfState,
    stats: SourceStats,
}

/// What a receiver hears this frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Heard {
    Silence,
    Full,
    /// Everyone mixed but this source (the receiver's own).
    Minus(usize),
}

#[derive(Clone, Copy, Debug)]
enum PayloadRef {
    Shared(Heard, Codec),
    /// The receiver's own multi-frame packet buffer.
    Own,
}

#[derive(Clone, Copy, Debug)]
struct Pending {
    rx: usize,
    payload: PayloadRef,
    sequence: u16,
    timestamp: u32,
    marker: bool,
}

#[derive(Debug)]
struct Receiver {
    id: VenueId,
    codec: Codec,
    pt: u8,
    frames_per_packet: u32,
    /// RTP timestamp advance per packet (the packet time in the codec's clock).
    ts_step: u32,
    ssrc: Ssrc,
    seq: u16,
    ts: u32,
    blocked: bool,
    own_source: Option<usize>,
    pkt: Vec<u8>,
    filling: bool,
    sent_any: bool,
}

/// The audio MCU of one meeting: decode, jitter buffers, mix-minus, encode, levels and the
/// dominant speaker. See the crate docs for the run loop.
#[derive(Debug)]
pub struct Mixer {
    cfg: MixerConfig,
    fir: HalfBandFir,
    /// Samples per frame at 8 kHz and at the 16 kHz mixing rate.
    narrow: usize,
    wide: usize,
    sources: Vec<Option<Source>>,
    source_index: HashMap<VenueId, usize>,
    receivers: Vec<Option<Receiver>>,
    receiver_index: HashMap<VenueId, usize>,
    main: Option<VenueId>,
    next_tick: Option<Instant>,
    frame_no: u64,
    acc: Vec<f32>,
    scratch: Vec<f32>,
    full: Signal,
    /// G.711 silence (μ-law, A-law), long enough for the largest packet time.
    silence: [Vec<u8>; 2],
    /// Opus silence for blocked Opus receivers: an encoder fed zeros, once per frame.
    silence_opus: Option<OpusOut>,
    silence_opus_frame: u64,
    zeros: Vec<i16>,
    mixed: Vec<usize>,
    best: Vec<(f32, usize)>,
    pending: VecDeque<Pending>,
    events: VecDeque<MixerEvent>,
    dominant: Dominant,
    next_level_report: Option<Instant>,
    rng: u64,
    stats: MixerStats,
    /// Opus decoder counters of removed sources.
    retired: OpusWork,
}

fn splitmix(state: &mut u64) -> u64 {
    *state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
    let mut z = *state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

impl Mixer {
    /// A mixer with no venues. Fails only on an out-of-range configuration.
    pub fn new(cfg: MixerConfig) -> Result<Mixer, MixerError> {
        cfg.validate()?;
        let fir = HalfBandFir::new();
        let narrow = (cfg.frame.as_millis() * 8) as usize;
        let wide = narrow * 2;
        let full = Signal::new(&fir, wide);
        let max_silence = (MAX_PTIME.as_millis() * 8) as usize;
        let silence = [
            vec![g711::silence_byte(false); max_silence],
            vec![g711::silence_byte(true); max_silence],
        ];
        Ok(Mixer {
            dominant: Dominant::new(cfg.dominant_hold, cfg.dominant_hysteresis_db),
            rng: cfg.seed,
            mixed: Vec::with_capacity(cfg.max_mixed + 1),
            best: Vec::with_capacity(cfg.max_mixed + 1),
            cfg,
            fir,
            narrow,
            wide,
            sources: Vec::new(),
            source_index: HashMap::new(),
            receivers: Vec::new(),
            receiver_index: HashMap::new(),
            main: None,
            next_tick: None,
            frame_no: 0,
            acc: vec![0.0; wide],
            scratch: vec![0.0; wide],
            full,
            silence,
            silence_opus: None,
            silence_opus_frame: 0,
            zeros: vec![0; wide],
            pending: VecDeque::new(),
            events: VecDeque::new(),
            next_level_report: None,
            stats: MixerStats::default(),
            retired: OpusWork::default(),
        })
    }

    /// The configuration in use.
    pub fn config(&self) -> &MixerConfig {
        &self.cfg
    }

    /// Adds a venue's uplink: `codec` on payload type `pt` at `clock_rate` Hz.
    pub fn add_source(
        &mut self,
        id: VenueId,
        codec: Codec,
        pt: u8,
        clock_rate: u32,
    ) -> Result<(), MixerError> {
        if self.source_index.contains_key(&id) {
            return Err(MixerError::DuplicateSource(id));
        }
        if !codec.is_available() {
            return Err(MixerError::CodecNotBuilt(codec));
        }
        if clock_rate != codec.clock_rate() {
            return Err(MixerError::ClockRate {
                clock_rate,
                expected: codec.clock_rate(),
            });
        }
        if pt > 127 {
            return Err(MixerError::PayloadType(pt));
        }
        let c = &self.cfg;
        let rate = codec.pcm_rate();
        let frame_len = if rate == 16000 {
            self.wide
        } else {
            self.narrow
        };
        let opus = match codec {
            Codec::Opus => Some(OpusIn::new(
                (c.conceal.as_millis() as u32).saturating_mul(16),
            )?),
            _ => None,
        };
        let src = Source {
            id,
            codec,
            pt,
            dtmf_pt: None,
            level_ext: None,
            ssrc: None,
            opus,
            jb: JitterBuffer::new(
                rate,
                frame_len,
                c.jitter_min,
                c.jitter_max,
                c.conceal,
                c.frame,
            ),
            frame: vec![0; frame_len],
            up: Upsampler::new(self.narrow),
            wide: vec![0.0; self.wide],
            meter: Meter::new(c.frame),
            ext_levels: [ExtLevel::default(); EXT_LEVELS],
            ext_next: 0,
            muted: false,
            mixed: false,
            was_mixed: false,
            reserved: false,
            unmixed: 0,
            ext_fed: false,
            probe_fed: false,
            wake: false,
            minus: Signal::new(&self.fir, self.wide),
            dtmf: DtmfState::default(),
            stats: SourceStats::default(),
        };
        let slot = match self.sources.iter().position(Option::is_none) {
            Some(s) => {
                self.sources[s] = Some(src);
                s
            }
            None => {
                self.sources.push(Some(src));
                self.sources.len() - 1
            }
        };
        self.source_index.insert(id, slot);
        if let Some(&r) = self.receiver_index.get(&id)
            && let Some(rx) = self.receivers[r].as_mut()
        {
            rx.own_source = Some(slot);
        }
        Ok(())
    }

    /// Removes a venue's uplink (its receiver, if any, stays).
    pub fn remove_source(&mut self, id: VenueId) -> Result<(), MixerError> {
        let slot = self
            .source_index
            .remove(&id)
            .ok_or(MixerError::UnknownSource(id))?;
        if let Some(o) = self.sources[slot].as_ref().and_then(|s| s.opus.as_ref()) {
            self.retired.add(o.work());
        }
        self.sources[slot] = None;
        self.dominant.forget(slot);
        if let Some(&r) = self.receiver_index.get(&id)
            && let Some(rx) = self.receivers[r].as_mut()
        {
            rx.own_source = None;
        }
        // Queued packets may point at this source's mix-minus buffer.
        self.pending
            .retain(|p| !matches!(p.payload, PayloadRef::Shared(Heard::Minus(s), _) if s == slot));
        Ok(())
    }

    /// Accepts RFC 4733 telephone-events on `pt` from this source (reported, never mixed).
    pub fn set_telephone_event(&mut self, id: VenueId, pt: Option<u8>) -> Result<(), MixerError> {
        self.source_mut(id)?.dtmf_pt = pt;
        Ok(())
    }

    /// Reads RFC 6464 audio levels from header extension `ext_id` (as negotiated in SDP).
    pub fn set_level_extension(
        &mut self,
        id: VenueId,
        ext_id: Option<u8>,
    ) -> Result<(), MixerError> {
        self.source_mut(id)?.level_ext = ext_id;
        Ok(())
    }

    /// Adds a venue's downlink: `codec` on payload type `pt`, one packet every `ptime` (a
    /// multiple of the mixing frame, at most 120 ms; for Opus exactly the frame, and the frame
    /// must not be 30 ms, which Opus cannot encode).
    pub fn add_receiver(
        &mut self,
        id: VenueId,
        codec: Codec,
        pt: u8,
        ptime: Duration,
    ) -> Result<(), MixerError> {
        if self.receiver_index.contains_key(&id) {
            return Err(MixerError::DuplicateReceiver(id));
        }
        if !codec.is_available() {
            return Err(MixerError::CodecNotBuilt(codec));
        }
        if pt > 127 {
            return Err(MixerError::PayloadType(pt));
        }
        if codec == Codec::Opus {
            if ptime != self.cfg.frame || self.cfg.frame == Duration::from_millis(30) {
                return Err(MixerError::OpusPacketTime(ptime));
            }
            if self.silence_opus.is_none() {
                self.silence_opus = Some(OpusOut::new()?);
            }
        }
        let frame = self.cfg.frame.as_nanos();
        let p = ptime.as_nanos();
        if p == 0 || !p.is_multiple_of(frame) || ptime > MAX_PTIME {
            return Err(MixerError::PacketTime(ptime));
        }
        let frames = (p / frame) as u32;
        let r = splitmix(&mut self.rng);
        let rx = Receiver {
            id,
            codec,
            pt,
            frames_per_packet: frames,
            ts_step: (codec.clock_rate() as u128 * p / 1_000_000_000) as u32,
            ssrc: Ssrc(r as u32),
            seq: (r >> 32) as u16,
            ts: (r >> 16) as u32 ^ splitmix(&mut self.rng) as u32,
            blocked: false,
            own_source: self.source_index.get(&id).copied(),
            pkt: vec![0; self.narrow * frames as usize],
            filling: false,
            sent_any: false,
        };
        let slot = match self.receivers.iter().position(Option::is_none) {
            Some(s) => {
                self.receivers[s] = Some(rx);
                s
            }
            None => {
                self.receivers.push(Some(rx));
                self.receivers.len() - 1
            }
        };
        self.receiver_index.insert(id, slot);
        Ok(())
    }

    /// Removes a venue's downlink.
    pub fn remove_receiver(&mut self, id: VenueId) -> Result<(), MixerError> {
        let slot = self
            .receiver_index
            .remove(&id)
            .ok_or(MixerError::UnknownReceiver(id))?;
        self.receivers[slot] = None;
        self.pending.retain(|p| p.rx != slot);
        Ok(())
    }

    /// A muted venue is never mixed (its level is still measured and reported).
    pub fn set_muted(&mut self, id: VenueId, muted: bool) -> Result<(), MixerError> {
        self.source_mut(id)?.muted = muted;
        Ok(())
    }

    /// A blocked venue hears silence (its packets keep flowing, so its stream stays alive).
    pub fn set_blocked(&mut self, id: VenueId, blocked: bool) -> Result<(), MixerError> {
        let slot = *self
            .receiver_index
            .get(&id)
            .ok_or(MixerError::UnknownReceiver(id))?;
        if let Some(rx) = self.receivers[slot].as_mut() {
            rx.blocked = blocked;
        }
        Ok(())
    }

    /// The main venue is always mixed (when unmuted), on top of the loudest others. The venue
    /// need not exist yet.
    pub fn set_main(&mut self, id: Option<VenueId>) {
        self.main = id;
    }

    /// Counters of one source.
    pub fn source_stats(&self, id: VenueId) -> Option<SourceStats> {
        let s = self.sources.get(*self.source_index.get(&id)?)?.as_ref()?;
        let mut st = s.stats;
        st.target_delay = s.jb.target_delay();
        if let Some(o) = s.opus.as_ref() {
            st.decoder_concealed = o.concealed();
            st.opus_decodes = o.work().decodes;
            st.opus_parked = o.work().parked;
            st.opus_is_parked = o.is_parked();
        }
        Some(st)
    }

    /// Mixer-wide counters.
    pub fn stats(&self) -> MixerStats {
        let mut w = self.retired;
        for o in self
            .sources
            .iter()
            .flatten()
            .filter_map(|s| s.opus.as_ref())
        {
            w.add(o.work());
        }
        MixerStats {
            opus_decodes: w.decodes,
            opus_parked: w.parked,
            opus_wakes: w.wakes,
            opus_probes: w.probes,
            ..self.stats
        }
    }

    /// Venues mixed in the last frame.
    pub fn mixed(&self) -> impl Iterator<Item = VenueId> + '_ {
        self.mixed
            .iter()
            .filter_map(|s| self.sources.get(*s)?.as_ref().map(|s| s.id))
    }

    /// The current dominant speaker.
    pub fn dominant_speaker(&self) -> Option<VenueId> {
        let s = self.dominant.current?;
        self.sources.get(s)?.as_ref().map(|s| s.id)
    }

    fn source_mut(&mut self, id: VenueId) -> Result<&mut Source, MixerError> {
        let slot = *self
            .source_index
            .get(&id)
            .ok_or(MixerError::UnknownSource(id))?;
        self.sources[slot]
            .as_mut()
            .ok_or(MixerError::UnknownSource(id))
    }

    fn start_clock(&mut self, now: Instant) {
        if self.next_tick.is_none() {
            self.next_tick = Some(now);
            self.next_level_report = Some(now + self.cfg.level_interval);
        }
    }

    /// One RTP packet from venue `id`'s uplink. Audio goes into the venue's jitter buffer,
    /// telephone-events become [`MixerEvent::Dtmf`]; anything else is dropped with a reason
    /// (also counted in [`SourceStats::drops`]). Never panics on any input.
    pub fn handle_rtp(&mut self, now: Instant, id: VenueId, buf: &[u8]) -> Result<(), DropReason> {
        self.start_clock(now);
        let Some(&slot) = self.source_index.get(&id) else {
            return Err(DropReason::UnknownSource);
        };
        let Some(src) = self.sources.get_mut(slot).and_then(Option::as_mut) else {
            return Err(DropReason::UnknownSource);
        };
        // Probe interval of parked Opus sources without levels, in 16 kHz samples.
        let probe = PROBE_FRAMES * self.wide as u32;
        let r = Self::source_packet(src, &mut self.events, now, buf, probe);
        match r {
            Ok(()) => src.stats.accepted += 1,
            Err(reason) => src.stats.drops.add(reason),
        }
        r
    }

    fn source_packet(
        src: &mut Source,
        events: &mut VecDeque<MixerEvent>,
        now: Instant,
        buf: &[u8],
        probe: u32,
    ) -> Result<(), DropReason> {
        let h = RtpHeader::parse(buf).map_err(|_| DropReason::MalformedRtp)?;
        let payload = h.payload(buf);
        if Some(h.payload_type) == src.dtmf_pt {
            let ev = dtmf::parse(payload).ok_or(DropReason::MalformedPayload)?;
            let rate = src.codec.clock_rate() as u64;
            for (event, dur) in src.dtmf.on_packet(h.timestamp, ev).into_iter().flatten() {
                events.push_back(MixerEvent::Dtmf {
                    venue: src.id,
                    event,
                    duration: Duration::from_micros(dur as u64 * 1_000_000 / rate),
                });
            }
            return Ok(());
        }
        if h.payload_type != src.pt {
            return Err(if h.payload_type == PT_COMFORT_NOISE {
                DropReason::NotMixed
            } else {
                DropReason::UnknownPayloadType
            });
        }
        if src.ssrc != Some(h.ssrc) {
            if src.ssrc.is_some() {
                tracing::debug!(venue = ?src.id, ssrc = ?h.ssrc, "audio SSRC changed; new stream");
                src.jb.reset();
                if let Some(o) = src.opus.as_mut() {
                    o.reset();
                }
            }
            src.ssrc = Some(h.ssrc);
        }
        // The jitter buffer counts decoded samples: Opus's 48 kHz timestamps map to 16 kHz.
        let ts = match src.opus.as_mut() {
            Some(o) => o.map_ts(h.timestamp),
            None => h.timestamp,
        };
        let mut has_level = false;
        if let Some(ext) = src.level_ext
            && let Some(&b) = h.extensions(buf).get(ext).and_then(|d| d.first())
        {
            src.push_level(ExtLevel {
                ts,
                level: b & 0x7f,
                voice: b & 0x80 != 0,
                valid: true,
                measured: false,
            });
            has_level = true;
        }
        let n = payload.len();
        match src.codec {
            Codec::Pcmu => src.jb.insert(now, ts, n, |i| g711::ulaw_decode(payload[i])),
            Codec::Pcma => src.jb.insert(now, ts, n, |i| g711::alaw_decode(payload[i])),
            Codec::Opus => match src.opus.as_mut() {
                Some(o) => {
                    let probe = (!has_level).then_some(probe);
                    if let Some(level) = o.insert(now, ts, payload, probe, &mut src.jb)? {
                        src.push_level(ExtLevel {
                            ts,
                            level,
                            voice: false,
                            valid: true,
                            measured: true,
                        });
                    }
                    Ok(())
                }
                None => Err(DropReason::UnknownPayloadType),
            },
        }
    }

    /// When [`handle_timeout`](Self::handle_timeout) wants to run next: `None` until the first
    /// `handle_*` call starts the clock. An instant in the past means "call again now".
    pub fn poll_timeout(&self) -> Option<Instant> {
        self.next_tick
    }

    /// Mixes at most one frame if its time has come, queueing one packet per receiver whose
    /// packet time completes. Packets queued by the previous frame and not yet drained are
    /// discarded (counted in [`MixerStats::packets_discarded`]).
    pub fn handle_timeout(&mut self, now: Instant) {
        self.start_clock(now);
        let Some(mut tick) = self.next_tick else {
            return;
        };
        if now < tick {
            return;
        }
        let frame = self.cfg.frame;
        if now.saturating_duration_since(tick) > frame * MAX_CATCH_UP {
            let behind = (now.saturating_duration_since(tick).as_nanos() / frame.as_nanos()) as u64;
            self.stats.ticks_skipped += behind;
            tick += frame * behind as u32;
        }
        self.mix_frame(tick);
        self.next_tick = Some(tick + frame);
    }

    /// The next packet for a receiver; drain until `None` after every `handle_timeout`.
    pub fn poll_output(&mut self) -> Option<(VenueId, OutPacket<'_>)> {
        loop {
            let p = self.pending.pop_front()?;
            let Some(rx) = self.receivers.get(p.rx).and_then(Option::as_ref) else {
                continue;
            };
            let payload: &[u8] = match p.payload {
                PayloadRef::Own => &rx.pkt,
                PayloadRef::Shared(Heard::Silence, Codec::Opus) => {
                    match self.silence_opus.as_ref() {
                        Some(o) => o.encoded(),
                        None => continue,
                    }
                }
                PayloadRef::Shared(Heard::Silence, c) => &self.silence[c.index()][..self.narrow],
                PayloadRef::Shared(Heard::Full, c) => self.full.encoded(c),
                PayloadRef::Shared(Heard::Minus(s), c) => {
                    match self.sources.get(s).and_then(Option::as_ref) {
                        Some(src) => src.minus.encoded(c),
                        None => continue,
                    }
                }
            };
            return Some((
                rx.id,
                OutPacket {
                    payload,
                    payload_type: rx.pt,
                    ssrc: rx.ssrc,
                    sequence: p.sequence,
                    timestamp: p.timestamp,
                    marker: p.marker,
                },
            ));
        }
    }

    /// The last frame's full mix (every mixed venue, nobody's voice taken out: what a recording
    /// of the meeting hears) as 8 kHz PCM, with the index of its first sample on the mixer's
    /// clock (skipped frames count, so a gap in the indices is a gap in time). `None` before
    /// the first frame. Valid until the next [`Mixer::handle_timeout`].
    pub fn full_mix(&self) -> Option<(u64, &[i16])> {
        let last = self.frame_no.checked_sub(1)?;
        let index = (last + self.stats.ticks_skipped) * self.narrow as u64;
        Some((index, self.full.pcm()))
    }

    /// The next event, if any.
    pub fn poll_event(&mut self) -> Option<MixerEvent> {
        self.events.pop_front()
    }

    fn mix_frame(&mut self, now: Instant) {
        self.stats.packets_discarded += self.pending.len() as u64;
        self.pending.clear();
        self.pull_sources(now);
        self.select();
        self.park_and_wake();
        self.render();
        self.emit(now);
        self.update_dominant(now);
        self.report_levels(now);
        self.frame_no += 1;
        self.stats.ticks += 1;
    }

    fn pull_sources(&mut self, now: Instant) {
        for src in self.sources.iter_mut().flatten() {
            let parked = src.opus.as_ref().is_some_and(OpusIn::is_parked);
            if let Some(o) = src.opus.as_mut()
                && let Some(start) = src.jb.next_play(now)
            {
                o.conceal_before_playout(start, src.frame.len() as u32, &mut src.jb);
            }
            let (status, start, skipped) = src.jb.pull(now, &mut src.frame);
            let st = &mut src.stats;
            match status {
                Pulled::Played => st.played += 1,
                Pulled::Concealed => st.concealed += 1,
                Pulled::Silent => st.silent += 1,
                Pulled::Held => st.held += 1,
            }
            st.skipped += skipped as u64;
            let frame_len = src.frame.len() as i64;
            // A probe's level stands until the next probe; a sender's level for six frames.
            let ext = src
                .ext_levels
                .iter()
                .filter(|e| e.valid && (parked || !e.measured))
                .map(|e| (e.ts.wrapping_sub(start) as i32 as i64, e))
                .filter(|(off, e)| {
                    let back = if e.measured {
                        PROBE_FRAMES as i64 + 2
                    } else {
                        EXT_WINDOW_FRAMES
                    };
                    *off > -back * frame_len && *off < frame_len
                })
                .max_by_key(|(off, _)| *off)
                .map(|(_, e)| *e);
            src.ext_fed = false;
            src.probe_fed = false;
            match ext {
                Some(e) if status != Pulled::Silent => {
                    src.meter.update(e.level, (!e.measured).then_some(e.voice));
                    src.ext_fed = !e.measured;
                    src.probe_fed = e.measured;
                }
                // Parked, packets for this frame and nothing tells their level: decode again
                // rather than meter the silence that stands in for them. (A concealed frame
                // has no new packet: the stream is fading out, its silence is metered.)
                _ if parked && status == Pulled::Played => src.wake = true,
                _ => src.meter.update(level::level_of(&src.frame), None),
            }
            src.was_mixed = src.mixed || src.reserved;
            src.mixed = false;
            src.reserved = false;
        }
    }

    /// Opus sources outside the mix stop being decoded; selected or unmeasurable ones start
    /// again. A parked source the selection picked is *reserved*: taken out of this frame's
    /// mix (nothing of it was decoded; nobody else takes its place) and decoded from the next
    /// frame on, so it is heard one frame later than without parking and what the mixed
    /// venues sound like never depends on parking.
    fn park_and_wake(&mut self) {
        if !self.cfg.skip_unheard_opus {
            return;
        }
        let sources = &mut self.sources;
        self.mixed.retain(|&slot| match sources[slot].as_mut() {
            Some(src) if src.opus.as_ref().is_some_and(OpusIn::is_parked) => {
                src.reserved = true;
                src.wake = true;
                false
            }
            _ => true,
        });
        let main = self.main.and_then(|m| self.source_index.get(&m).copied());
        for (slot, src) in self.sources.iter_mut().enumerate() {
            let Some(src) = src else { continue };
            let Some(o) = src.opus.as_mut() else { continue };
            let keep = self.mixed.contains(&slot) || Some(slot) == main;
            src.unmixed = if keep {
                0
            } else {
                src.unmixed.saturating_add(1)
            };
            if o.is_parked() {
                // Without the sender's levels a probe that hears voice wakes it too: VAD and
                // dominant speaker then run on every frame while it talks.
                if src.wake || Some(slot) == main || (src.probe_fed && src.meter.voice) {
                    o.wake(src.jb.play_pos(), &mut src.jb);
                    src.unmixed = 0;
                }
            } else if !keep
                && src.unmixed >= PARK_AFTER_FRAMES
                && !src.wake
                && (src.ext_fed || !src.meter.voice)
            {
                o.park();
            }
            src.wake = false;
        }
    }

    /// The main venue plus the `max_mixed` loudest other unmuted venues above the floor.
    fn select(&mut self) {
        self.mixed.clear();
        self.best.clear();
        let main = self.main.and_then(|m| self.source_index.get(&m).copied());
        let floor = level::loudness_of_level(self.cfg.mix_floor);
        let n = self.cfg.max_mixed;
        for (slot, src) in self.sources.iter().enumerate() {
            let Some(src) = src else { continue };
            if src.muted || Some(slot) == main || src.meter.loud <= floor {
                continue;
            }
            let key = src.meter.loud
                + if src.was_mixed {
                    MIX_STICKINESS_DB
                } else {
                    0.0
                };
            // Insertion into a sorted list of at most n: O(n) per source, no allocation.
            let pos = self
                .best
                .iter()
                .position(|(k, _)| key > *k)
                .unwrap_or(self.best.len());
            if pos < n {
                if self.best.len() == n {
                    self.best.pop();
                }
                self.best.insert(pos, (key, slot));
            }
        }
        if let Some(m) = main
            && self.sources[m].as_ref().is_some_and(|s| !s.muted)
        {
            self.mixed.push(m);
        }
        self.mixed.extend(self.best.iter().map(|(_, s)| *s));
    }

    fn render(&mut self) {
        self.acc.fill(0.0);
        for src in self.sources.iter_mut().flatten() {
            src.mixed = false;
        }
        for &slot in &self.mixed {
            let Some(src) = self.sources[slot].as_mut() else {
                continue;
            };
            if src.codec == Codec::Opus {
                // Already at the mixing rate.
                for (w, s) in src.wide.iter_mut().zip(&src.frame) {
                    *w = *s as f32;
                }
            } else {
                src.up.process(&self.fir, &src.frame, &mut src.wide);
            }
            for (a, w) in self.acc.iter_mut().zip(&src.wide) {
                *a += *w;
            }
            src.mixed = true;
        }
        for src in self.sources.iter_mut().flatten() {
            if !src.mixed && src.codec != Codec::Opus {
                src.up.skip(&src.frame);
            }
        }
        // A venue entering the mix starts its mix-minus from what it heard until now.
        for &slot in &self.mixed {
            if let Some(src) = self.sources[slot].as_mut()
                && !src.was_mixed
            {
                src.minus.copy_state(&self.full);
            }
        }
        self.full.render(&self.acc);
        for &slot in &self.mixed {
            let Some(src) = self.sources[slot].as_mut() else {
                continue;
            };
            for ((o, a), w) in self.scratch.iter_mut().zip(&self.acc).zip(&src.wide) {
                *o = *a - *w;
            }
            src.minus.render(&self.scratch);
        }
    }

    fn emit(&mut self, _now: Instant) {
        let frame_no = self.frame_no;
        let narrow = self.narrow;
        for (slot, rx) in self.receivers.iter_mut().enumerate() {
            let Some(rx) = rx else { continue };
            let heard = if rx.blocked {
                Heard::Silence
            } else {
                match rx.own_source {
                    Some(s) if self.sources[s].as_ref().is_some_and(|s| s.mixed) => Heard::Minus(s),
                    _ => Heard::Full,
                }
            };
            let codec = rx.codec;
            let encoded = match heard {
                Heard::Silence if codec == Codec::Opus => {
                    let Some(o) = self.silence_opus.as_mut() else {
                        continue;
                    };
                    if self.silence_opus_frame != frame_no + 1 {
                        self.silence_opus_frame = frame_no + 1;
                        o.encode(&self.zeros);
                        self.stats.encodes += 1;
                    }
                    o.encoded()
                }
                Heard::Silence => &self.silence[codec.index()][..narrow],
                Heard::Full => {
                    self.stats.encodes += self.full.encode(codec, frame_no) as u64;
                    self.full.encoded(codec)
                }
                Heard::Minus(s) => {
                    let Some(src) = self.sources[s].as_mut() else {
                        continue;
                    };
                    self.stats.encodes += src.minus.encode(codec, frame_no) as u64;
                    src.minus.encoded(codec)
                }
            };
            if encoded.is_empty() {
                // A failed Opus encode (logged): no packet rather than a broken one.
                continue;
            }
            let k = rx.frames_per_packet as u64;
            let payload = if k == 1 {
                PayloadRef::Shared(heard, codec)
            } else {
                // Packets of every receiver with this packet time start on the same frame.
                let phase = (frame_no % k) as usize;
                if phase == 0 {
                    rx.filling = true;
                }
                if !rx.filling {
                    continue;
                }
                rx.pkt[phase * narrow..(phase + 1) * narrow].copy_from_slice(encoded);
                if phase as u64 != k - 1 {
                    continue;
                }
                PayloadRef::Own
            };
            self.pending.push_back(Pending {
                rx: slot,
                payload,
                sequence: rx.seq,
                timestamp: rx.ts,
                marker: !rx.sent_any,
            });
            rx.sent_any = true;
            rx.seq = rx.seq.wrapping_add(1);
            rx.ts = rx.ts.wrapping_add(rx.ts_step);
            self.stats.packets_out += 1;
        }
    }

    fn update_dominant(&mut self, now: Instant) {
        let mut loudest: Option<(usize, f32)> = None;
        for (slot, src) in self.sources.iter().enumerate() {
            let Some(src) = src else { continue };
            if src.muted || !src.meter.voice {
                continue;
            }
            if loudest.is_none_or(|(_, l)| src.meter.loud > l) {
                loudest = Some((slot, src.meter.loud));
            }
        }
        let current = self
            .dominant
            .current
            .and_then(|c| self.sources.get(c)?.as_ref())
            .filter(|s| !s.muted && s.meter.voice)
            .map(|s| s.meter.loud);
        if let Some(slot) = self.dominant.update(now, loudest, current)
            && let Some(src) = self.sources[slot].as_ref()
        {
            self.events
                .push_back(MixerEvent::DominantSpeaker { venue: src.id });
        }
    }

    fn report_levels(&mut self, now: Instant) {
        let Some(at) = self.next_level_report else {
            return;
        };
        if now < at {
            return;
        }
        for src in self.sources.iter().flatten() {
            self.events.push_back(MixerEvent::LevelReport {
                venue: src.id,
                level: src.meter.level(),
                voice: src.meter.voice,
                mixed: src.mixed,
            });
        }
        let mut next = at + self.cfg.level_interval;
        if next <= now {
            next = now + self.cfg.level_interval;
        }
        self.next_level_report = Some(next);
    }
}

impl Source {
    fn push_level(&mut self, e: ExtLevel) {
        self.ext_levels[self.ext_next] = e;
        self.ext_next = (self.ext_next + 1) % EXT_LEVELS;
    }
}

/// Encodes `pcm` (8 kHz) to G.711 `codec` into `out` (same length): for tests and tools that
/// need a reference encoder. Opus is not sample-wise: for [`Codec::Opus`] `out` is left as it
/// is (use the `opus` re-export's encoder).
pub fn encode(codec: Codec, pcm: &[i16], out: &mut [u8]) {
    encode_into(codec, pcm, out);
}

/// Decodes a G.711 payload into `out` (same length). For [`Codec::Opus`] `out` is left as it
/// is (Opus needs a stateful decoder: the `opus` re-export's).
pub fn decode(codec: Codec, payload: &[u8], out: &mut [i16]) {
    match codec {
        Codec::Opus => {}
        Codec::Pcmu => out
            .iter_mut()
            .zip(payload)
            .for_each(|(o, b)| *o = g711::ulaw_decode(*b)),
        Codec::Pcma => out
            .iter_mut()
            .zip(payload)
            .for_each(|(o, b)| *o = g711::alaw_decode(*b)),
    }
}
