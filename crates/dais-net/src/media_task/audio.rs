//! The media task's audio side: which legs are mixed, the mixer's frames, packets and events.

use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use dais_audio::{Codec, MixerError, MixerEvent, VenueId};
use dais_media::{AudioRoute, LegConfig, LegId, MediaError, MediaKind};
use dais_rtp::Ssrc;
use dais_rtp::rtcp::{SenderReport, build_sender_report};
use tracing::{debug, warn};

use super::{MediaTask, MediaTaskError};
use crate::udp::HEAD;

/// Mixer frames run per wake-up at most: the mixer mixes one frame per call and skips ahead by
/// itself when it is further behind than this.
const MIX_CATCH_UP: usize = 6;
/// How a leg's audio is mixed: the codec the mixer decodes and encodes for it, on the leg's
/// negotiated payload type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MixedAudio {
    /// G.711 μ-law or A-law, or Opus (when [`MixedAudio::mixes_opus`]).
    pub codec: Codec,
    /// The leg's audio payload type (both directions).
    pub payload_type: u8,
    /// The RFC 4733 telephone-event payload type the leg negotiated, if any: its packets
    /// become [`AudioEvent::Dtmf`], never audio.
    pub telephone_event: Option<u8>,
    /// The RFC 6464 audio-level header extension id the leg negotiated, if any: the mixer
    /// takes the venue's own level from it instead of computing one.
    pub level_extension: Option<u8>,
    /// Packet time of what the mixer sends the leg (a multiple of the mixer's frame).
    pub ptime: Duration,
}

/// What SDP agreed on for a leg's audio besides the codec, which the meeting learns after the
/// leg is up.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AudioExtras {
    /// RFC 4733 telephone-event payload type: key presses become DTMF events, never audio.
    pub telephone_event: Option<u8>,
    /// RFC 6464 audio-level header extension id: the venue's own measure of its level.
    pub level_extension: Option<u8>,
    /// The packet time the venue asked for (`a=ptime`): its mix is sent in packets of the
    /// largest multiple of the mixer's frame not above it (at most 120 ms; Opus always one
    /// frame). `None`: one frame.
    pub ptime: Option<Duration>,
}

impl MixedAudio {
    /// The mixer settings for a leg's negotiated audio, or `None` when the mixer cannot decode
    /// it. Mixed: the static G.711 payload types (PCMU = 0, PCMA = 8, at 8000 Hz) and, when
    /// this build mixes Opus ([`MixedAudio::mixes_opus`]), a dynamic payload type (96-127) at
    /// 48000 Hz: the only 48 kHz audio codec Dais negotiates is `opus/48000/2` (RFC 7587), and
    /// [`AudioParams`](dais_media::AudioParams) carries the clock rate, not the name. Anything
    /// else stays on the feed model (its audio is switched with the picture). Packet time
    /// 20 ms (the mixer's frame, the one Opus packet time every endpoint accepts), no
    /// telephone-event (set [`MixedAudio::telephone_event`] when SDP negotiated one).
    pub fn for_leg(cfg: &LegConfig) -> Option<MixedAudio> {
        let audio = cfg.audio?;
        let codec = match (audio.payload_type, audio.clock_rate) {
            (0, 8000) => Codec::Pcmu,
            (8, 8000) => Codec::Pcma,
            (96..=127, 48000) if Self::mixes_opus() => Codec::Opus,
            _ => return None,
        };
        Some(MixedAudio {
            codec,
            payload_type: audio.payload_type,
            telephone_event: None,
            level_extension: None,
            ptime: Duration::from_millis(20),
        })
    }

    /// Whether this build's mixer decodes and encodes Opus (the `opus` feature, libopus). The
    /// SIP layer offers and accepts Opus only then, so an Opus venue is always mixed.
    pub fn mixes_opus() -> bool {
        Codec::Opus.is_available()
    }
}

/// One venue's audio level in a level report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AudioLevel {
    /// The leg.
    pub leg: LegId,
    /// Smoothed level in -dBov (0 loudest, 127 silence), the RFC 6464 scale.
    pub level: u8,
    /// Voice activity.
    pub voice: bool,
    /// Whether the leg is in the mix now.
    pub mixed: bool,
}

/// What the mixer reports to the meeting controller.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum AudioEvent {
    /// A new dominant speaker (hold time and hysteresis already applied by the mixer).
    DominantSpeaker {
        /// Its leg.
        leg: LegId,
    },
    /// A DTMF key (RFC 4733 telephone-event), reported once when it ends.
    Dtmf {
        /// The sending leg.
        leg: LegId,
        /// The event code (0-9, 10 = `*`, 11 = `#`, 12-15 = A-D).
        event: u8,
        /// How long the key was held.
        duration: Duration,
    },
    /// Every mixed leg's level, once per level interval (500 ms by default), in one message.
    Levels(Vec<AudioLevel>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum MixerFlag {
    Muted,
    Blocked,
}

/// A leg whose audio is mixed, as the task knows it.
#[derive(Debug, Clone, Copy)]
pub(super) struct MixedLeg {
    audio: MixedAudio,
    /// Where its mix goes (`None`: the leg does not receive).
    dest: Option<SocketAddr>,
    source: bool,
    muted: bool,
    blocked: bool,
    /// What its mix stream has carried so far, for its sender reports.
    sent: Option<MixSent>,
}

/// A listener's mix stream as sent: the last packet's SSRC and timestamp, and the RFC 3550
/// sender counts.
#[derive(Debug, Clone, Copy)]
struct MixSent {
    ssrc: u32,
    ts: u32,
    at: Instant,
    packets: u32,
    octets: u32,
}

impl MediaTask {
    /// Puts a leg's audio in the mixer (replacing earlier settings), then routes it there.
    pub(super) fn mix_audio(
        &mut self,
        leg: LegId,
        audio: MixedAudio,
    ) -> Result<(), MediaTaskError> {
        let cfg = *self
            .engine
            .leg_config(leg)
            .ok_or(MediaError::UnknownLeg(leg))?;
        if cfg.audio.is_none() {
            return Err(MediaError::KindNotNegotiated {
                leg,
                kind: MediaKind::Audio,
            }
            .into());
        }
        let (muted, blocked) = self
            .mixed
            .get(&leg)
            .map_or((false, false), |m| (m.muted, m.blocked));
        self.unmix(leg);
        let m = MixedLeg {
            audio,
            dest: cfg.recv.then_some(cfg.rtp_addr),
            source: cfg.send,
            muted,
            blocked,
            sent: None,
        };
        if let Err(e) = self.add_to_mixer(leg, &m) {
            self.unmix(leg);
            let _ = self.engine.set_audio_route(leg, AudioRoute::Feeds);
            return Err(e.into());
        }
        self.engine.set_audio_route(
            leg,
            AudioRoute::Mixed {
                telephone_event: audio.telephone_event,
            },
        )?;
        self.mixed.insert(leg, m);
        Ok(())
    }

    fn add_to_mixer(&mut self, leg: LegId, m: &MixedLeg) -> Result<(), MixerError> {
        let v = venue(leg);
        let a = m.audio;
        if m.source {
            self.mixer
                .add_source(v, a.codec, a.payload_type, a.codec.clock_rate())?;
            self.mixer.set_telephone_event(v, a.telephone_event)?;
            self.mixer.set_level_extension(v, a.level_extension)?;
            self.mixer.set_muted(v, m.muted)?;
        }
        if m.dest.is_some() {
            self.mixer
                .add_receiver(v, a.codec, a.payload_type, a.ptime)?;
            self.mixer.set_blocked(v, m.blocked)?;
        }
        Ok(())
    }

    /// Takes a leg out of the mixer (nothing happens for a leg that is not in it).
    pub(super) fn unmix(&mut self, leg: LegId) {
        self.mixed.remove(&leg);
        let v = venue(leg);
        let _ = self.mixer.remove_source(v);
        let _ = self.mixer.remove_receiver(v);
    }

    /// A re-INVITE changed a mixed leg: follow its address, and its codec and directions
    /// (a new receiver then starts a new RTP stream: new SSRC and numbering).
    pub(super) fn mixed_leg_updated(&mut self, leg: LegId, cfg: &LegConfig) {
        let Some(old) = self.mixed.get(&leg).copied() else {
            return;
        };
        let Some(mut audio) = MixedAudio::for_leg(cfg) else {
            // No longer a codec the mixer decodes: back to the feed model.
            self.unmix(leg);
            let _ = self.engine.set_audio_route(leg, AudioRoute::Feeds);
            return;
        };
        audio.telephone_event = old.audio.telephone_event;
        audio.level_extension = old.audio.level_extension;
        audio.ptime = old.audio.ptime;
        let dest = cfg.recv.then_some(cfg.rtp_addr);
        let same_shape =
            audio == old.audio && cfg.send == old.source && dest.is_some() == old.dest.is_some();
        if same_shape {
            if let Some(m) = self.mixed.get_mut(&leg) {
                m.dest = dest;
            }
        } else if let Err(e) = self.mix_audio(leg, audio) {
            warn!(?leg, error = %e, "mixed leg could not follow its update; audio unmixed");
        }
    }

    pub(super) fn set_audio_extras(
        &mut self,
        leg: LegId,
        extras: AudioExtras,
    ) -> Result<(), MediaTaskError> {
        let v = venue(leg);
        let frame = self.mixer.config().frame;
        let m = self
            .mixed
            .get_mut(&leg)
            .ok_or(MixerError::UnknownSource(v))?;
        let ptime = packet_time(extras.ptime, frame, m.audio.codec);
        if ptime != m.audio.ptime {
            // The listener's encoder and packetiser change: it is put in the mixer anew
            // (a new stream), keeping its mute and block.
            let audio = MixedAudio {
                telephone_event: extras.telephone_event,
                level_extension: extras.level_extension,
                ptime,
                ..m.audio
            };
            return self.mix_audio(leg, audio);
        }
        m.audio.telephone_event = extras.telephone_event;
        m.audio.level_extension = extras.level_extension;
        if m.source {
            self.mixer.set_telephone_event(v, extras.telephone_event)?;
            self.mixer.set_level_extension(v, extras.level_extension)?;
        }
        self.engine.set_audio_route(
            leg,
            AudioRoute::Mixed {
                telephone_event: extras.telephone_event,
            },
        )?;
        Ok(())
    }

    pub(super) fn set_flag(
        &mut self,
        leg: LegId,
        flag: MixerFlag,
        on: bool,
    ) -> Result<(), MediaTaskError> {
        let v = venue(leg);
        let m = self
            .mixed
            .get_mut(&leg)
            .ok_or(MixerError::UnknownSource(v))?;
        match flag {
            MixerFlag::Muted => {
                m.muted = on;
                if m.source {
                    self.mixer.set_muted(v, on)?;
                }
            }
            MixerFlag::Blocked => {
                m.blocked = on;
                if m.dest.is_some() {
                    self.mixer.set_blocked(v, on)?;
                }
            }
        }
        Ok(())
    }

    /// Runs the mixer's frames that are due, sends their packets, and passes its events on.
    pub(super) fn mix(&mut self, now: Instant) {
        for _ in 0..MIX_CATCH_UP {
            if self.mixer.poll_timeout().is_none_or(|d| d > now) {
                break;
            }
            self.mixer.handle_timeout(now);
            if let Some((_, sink)) = &self.recording
                && let Some((index, pcm)) = self.mixer.full_mix()
            {
                sink.audio(now, index, pcm);
            }
            self.send_mix(now);
        }
        self.mixer_events();
        if now >= self.next_mix_report {
            self.next_mix_report = now + self.engine.config().rtcp_interval;
            self.mix_reports(now);
        }
    }

    /// Sender reports for every listener's mix stream, on the engine's NTP clock (the one its
    /// video feeds' reports use), so that a venue can line the mixed audio up with the
    /// picture (RFC 3550 §6.4.1).
    fn mix_reports(&mut self, now: Instant) {
        let ntp = self.engine.ntp_time(now);
        for (leg, m) in &self.mixed {
            let (Some(s), Some(cfg)) = (m.sent, self.engine.leg_config(*leg)) else {
                continue;
            };
            let gap = now.saturating_duration_since(s.at);
            let ticks = gap.as_nanos() * u128::from(m.audio.codec.clock_rate()) / 1_000_000_000;
            let sr = SenderReport {
                ssrc: Ssrc(s.ssrc),
                ntp_time: ntp,
                rtp_time: s.ts.wrapping_add(ticks as u32),
                packet_count: s.packets,
                octet_count: s.octets,
                reports: Vec::new(),
            };
            let Ok(bytes) = build_sender_report(&sr) else {
                continue;
            };
            let socket = if cfg.rtcp_addr.is_some() {
                &self.rtcp
            } else {
                &self.rtp
            };
            if socket.try_send_to(&bytes, cfg.rtcp_destination()).is_err() {
                self.counters.send_errors.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Drains the mixer's packets of one frame and sends them. Every listener has its own
    /// header (SSRC, numbering) but most share a payload (the one encode of the full mix, or
    /// of a speaker's mix-minus), so the packets are grouped by payload: each distinct one is
    /// copied once into the stage (the mixer lends payloads from its own buffers until its next
    /// frame), and every listener's datagram is its header plus that shared payload, sent 64
    /// per `sendmmsg` by the task or the sender threads.
    fn send_mix(&mut self, now: Instant) {
        let st = &mut self.mix_stage;
        st.begin();
        while let Some((v, pkt)) = self.mixer.poll_output() {
            let Some(m) = self.mixed.get_mut(&LegId(v.0)) else {
                continue;
            };
            let Some(dest) = m.dest else { continue };
            let s = m.sent.get_or_insert(MixSent {
                ssrc: pkt.ssrc.0,
                ts: pkt.timestamp,
                at: now,
                packets: 0,
                octets: 0,
            });
            (s.ssrc, s.ts, s.at) = (pkt.ssrc.0, pkt.timestamp, now);
            s.packets = s.packets.wrapping_add(1);
            s.octets = s.octets.wrapping_add(pkt.payload.len() as u32);
            let Some(len) = pkt.write_rtp(&mut self.mix_buf) else {
                continue;
            };
            let (Some(head), Some(payload)) = (
                self.mix_buf
                    .get(..HEAD)
                    .and_then(|h| <[u8; HEAD]>::try_from(h).ok()),
                self.mix_buf.get(HEAD..len),
            ) else {
                continue;
            };
            st.add(pkt.payload.as_ptr() as usize, payload, head, dest);
        }
        st.finish();
        // Through the meeting's sender (D37, D38): in place for a small meeting, from the sender
        // threads when hundreds of listeners each need their packet.
        for (p, payload, heads, dests) in st.groups() {
            for (head, dest) in heads.iter().zip(dests) {
                let head = self.sender.head(*head);
                self.sender.add(*dest, head, p as u32, HEAD + payload.len());
            }
        }
        let st = &self.mix_stage;
        self.sender
            .flush(st.used, |p| st.payload(p as usize).unwrap_or_default());
    }

    fn mixer_events(&mut self) {
        while let Some(ev) = self.mixer.poll_event() {
            let out = match ev {
                MixerEvent::DominantSpeaker { venue } => AudioEvent::DominantSpeaker {
                    leg: LegId(venue.0),
                },
                MixerEvent::Dtmf {
                    venue,
                    event,
                    duration,
                } => AudioEvent::Dtmf {
                    leg: LegId(venue.0),
                    event,
                    duration,
                },
                MixerEvent::LevelReport {
                    venue,
                    level,
                    voice,
                    mixed,
                } => {
                    self.levels.push(AudioLevel {
                        leg: LegId(venue.0),
                        level,
                        voice,
                        mixed,
                    });
                    continue;
                }
                other => {
                    debug!(event = ?other, "mixer event");
                    continue;
                }
            };
            self.send_audio_event(out);
        }
        // The mixer reports every venue's level in one frame: one message per interval.
        if !self.levels.is_empty() {
            let levels = AudioEvent::Levels(std::mem::take(&mut self.levels));
            self.send_audio_event(levels);
        }
    }

    fn send_audio_event(&self, ev: AudioEvent) {
        if let Err(e) = self.audio_events.try_send(ev) {
            // Nobody may have taken the receiver (a meeting without a controller): not worth
            // a warning per level report.
            debug!(event = ?e, "audio event dropped");
        }
    }
}

/// The packet time a listener gets for the `asked` one: the largest multiple of the mixer's
/// `frame` not above it, between one frame and 120 ms (RFC 3551 §4.5's ceiling for G.711
/// packetisation the mixer supports); Opus is always one frame.
fn packet_time(asked: Option<Duration>, frame: Duration, codec: Codec) -> Duration {
    let Some(asked) = asked.filter(|_| codec != Codec::Opus) else {
        return frame;
    };
    let frames =
        (asked.as_millis() / frame.as_millis().max(1)).clamp(1, 120 / frame.as_millis().max(1));
    frame * u32::try_from(frames).unwrap_or(1)
}

/// The mixer's id for a leg: the same number, so no table is needed either way.
pub(super) fn venue(leg: LegId) -> VenueId {
    VenueId(leg.0)
}

/// One mixer frame's packets, grouped by shared payload for [`MediaTask::send_mix`]. Reused
/// from frame to frame: nothing is allocated once the largest frame has been seen.
#[derive(Debug, Default)]
pub(super) struct MixStage {
    /// Distinct payloads of this frame (the first `used` are live), with the address of the
    /// mixer buffer each came from: payloads lent from one buffer are one payload.
    payloads: Vec<(usize, Vec<u8>)>,
    used: usize,
    /// Per packet: its payload's index, its header, its listener.
    rows: Vec<(usize, [u8; HEAD], SocketAddr)>,
    heads: Vec<[u8; HEAD]>,
    dests: Vec<SocketAddr>,
    /// Per payload: its rows' range in `heads`/`dests`.
    spans: Vec<(usize, usize)>,
}

impl MixStage {
    fn begin(&mut self) {
        self.used = 0;
        self.rows.clear();
    }

    fn add(&mut self, key: usize, payload: &[u8], head: [u8; HEAD], dest: SocketAddr) {
        let live = &self.payloads[..self.used];
        let idx = match live
            .iter()
            .position(|(k, p)| *k == key && p.as_slice() == payload)
        {
            Some(i) => i,
            None => {
                if self.used == self.payloads.len() {
                    self.payloads.push((0, Vec::new()));
                }
                let slot = &mut self.payloads[self.used];
                slot.0 = key;
                slot.1.clear();
                slot.1.extend_from_slice(payload);
                self.used += 1;
                self.used - 1
            }
        };
        self.rows.push((idx, head, dest));
    }

    /// Lays the rows out payload by payload (unstable sort: no scratch allocation; the order
    /// of listeners within a payload does not matter).
    fn finish(&mut self) {
        self.rows.sort_unstable_by_key(|r| r.0);
        self.heads.clear();
        self.dests.clear();
        self.spans.clear();
        self.spans.resize(self.used, (0, 0));
        for (i, (idx, head, dest)) in self.rows.iter().enumerate() {
            if self.spans[*idx].1 == 0 {
                self.spans[*idx].0 = i;
            }
            self.spans[*idx].1 += 1;
            self.heads.push(*head);
            self.dests.push(*dest);
        }
    }

    /// Live payload `i`.
    fn payload(&self, i: usize) -> Option<&[u8]> {
        self.payloads[..self.used].get(i).map(|(_, p)| p.as_slice())
    }

    /// Each payload with its listeners' headers and addresses.
    fn groups(&self) -> impl Iterator<Item = (usize, &[u8], &[[u8; HEAD]], &[SocketAddr])> {
        self.payloads[..self.used]
            .iter()
            .zip(&self.spans)
            .enumerate()
            .filter(|(_, (_, (_, n)))| *n > 0)
            .map(|(i, ((_, p), (start, n)))| {
                (
                    i,
                    p.as_slice(),
                    &self.heads[*start..start + n],
                    &self.dests[*start..start + n],
                )
            })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dais_media::AudioParams;

    fn leg(payload_type: u8, clock_rate: u32) -> LegConfig {
        LegConfig {
            rtp_addr: SocketAddr::from(([127, 0, 0, 1], 40_000)),
            rtcp_addr: None,
            video: None,
            audio: Some(AudioParams {
                payload_type,
                clock_rate,
            }),
            send: true,
            recv: true,
        }
    }

    #[test]
    fn negotiated_audio_maps_to_the_mixer_codec() {
        let codec =
            |pt, rate| MixedAudio::for_leg(&leg(pt, rate)).map(|a| (a.codec, a.payload_type));
        assert_eq!(codec(0, 8000), Some((Codec::Pcmu, 0)));
        assert_eq!(codec(8, 8000), Some((Codec::Pcma, 8)));
        // Opus: any dynamic payload type at 48 kHz, mixed only when the build has libopus.
        let opus = |pt| MixedAudio::mixes_opus().then_some((Codec::Opus, pt));
        assert_eq!(codec(111, 48000), opus(111));
        assert_eq!(codec(96, 48000), opus(96));
        assert_eq!(codec(127, 48000), opus(127));
        assert_eq!(MixedAudio::mixes_opus(), cfg!(feature = "opus"));
        // Never guessed: a static payload type at 48 kHz, a dynamic one at 8 kHz, G.722's 9.
        assert_eq!(codec(0, 48000), None);
        assert_eq!(codec(95, 48000), None);
        assert_eq!(codec(111, 8000), None);
        assert_eq!(codec(9, 8000), None);
        let mut no_audio = leg(0, 8000);
        no_audio.audio = None;
        assert_eq!(MixedAudio::for_leg(&no_audio), None);
    }

    #[test]
    fn the_packet_time_asked_for_is_rounded_down_to_whole_frames() {
        let f = Duration::from_millis(20);
        let ms = Duration::from_millis;
        let pt = |asked: Option<u64>, c| packet_time(asked.map(ms), f, c);
        assert_eq!(pt(None, Codec::Pcmu), f);
        assert_eq!(pt(Some(40), Codec::Pcmu), ms(40));
        assert_eq!(pt(Some(30), Codec::Pcma), ms(20));
        assert_eq!(pt(Some(10), Codec::Pcma), ms(20));
        assert_eq!(pt(Some(1000), Codec::Pcmu), ms(120));
        assert_eq!(pt(Some(60), Codec::Opus), f, "Opus is always one frame");
    }

    fn addr(p: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], p))
    }

    #[test]
    fn a_frame_is_grouped_by_shared_payload_and_reused_without_leftovers() {
        let mut st = MixStage::default();
        for frame in 0..2u8 {
            st.begin();
            // Listeners 1, 3, 4 hear the full mix (one buffer), 2 a speaker's mix-minus.
            let full = [frame; 160];
            let minus = [9u8; 160];
            st.add(0x1000, &full, [1; HEAD], addr(1));
            st.add(0x2000, &minus, [2; HEAD], addr(2));
            st.add(0x1000, &full, [3; HEAD], addr(3));
            st.add(0x1000, &full, [4; HEAD], addr(4));
            st.finish();
            let groups: Vec<_> = st.groups().collect();
            assert_eq!(groups.len(), 2, "frame {frame}");
            let (i, p, heads, dests) = groups[0];
            assert_eq!(p, &full[..]);
            assert_eq!(st.payload(i), Some(&full[..]));
            let mut got: Vec<(u8, u16)> = heads
                .iter()
                .zip(dests)
                .map(|(h, d)| (h[0], d.port()))
                .collect();
            got.sort_unstable();
            assert_eq!(got, vec![(1, 1), (3, 3), (4, 4)]);
            let (i, p, heads, dests) = groups[1];
            assert_eq!(p, &minus[..]);
            assert_eq!(st.payload(i), Some(&minus[..]));
            assert_eq!((heads[0][0], dests[0].port()), (2, 2));
        }
    }
}
