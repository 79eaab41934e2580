//! What a receiving venue makes of the packets the MCU sends it, and what the run's switches
//! add up to. Pure: arrival times come in as nanoseconds since the run's origin (the clock the
//! senders stamp their probes with), so every figure here is testable without sockets.

use dais_net::sim::Probe;
use dais_rtp::{PacketClass, RtpHeader, classify};

/// Video payload type the harness offers (and so receives).
pub const VIDEO_PT: u8 = 96;
/// Audio payload type (PCMU).
pub const AUDIO_PT: u8 = 0;

/// Loss accounting for one RTP stream (one SSRC), RFC 3550 §A.3 style: expected is the span
/// of extended sequence numbers seen, lost is expected minus received (never negative).
#[derive(Debug, Clone, Copy, Default)]
struct StreamCount {
    ssrc: u32,
    first_ext: i64,
    /// Highest extended sequence number so far (its low 16 bits are the highest seq seen).
    max_ext: i64,
    received: u64,
}

impl StreamCount {
    fn new(ssrc: u32, seq: u16) -> StreamCount {
        StreamCount {
            ssrc,
            first_ext: i64::from(seq),
            max_ext: i64::from(seq),
            received: 1,
        }
    }

    /// Counts one packet; returns the signed distance from the highest sequence number so far
    /// (1 when in order), which also extends it across wraps.
    fn on_seq(&mut self, seq: u16) -> i32 {
        let delta = i32::from(seq.wrapping_sub(self.max_ext as u16) as i16);
        if delta > 0 {
            self.max_ext += i64::from(delta);
        }
        self.received += 1;
        delta
    }

    fn lost(&self) -> u64 {
        let expected = (self.max_ext - self.first_ext + 1).max(0) as u64;
        expected.saturating_sub(self.received)
    }
}

/// A change of the venue a receiver is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Transition {
    /// Arrival of the first packet from the new venue, ns since origin.
    pub at_ns: u64,
    /// The venue now shown (probe venue number).
    pub venue: u32,
    /// When the source sent that packet (its probe), ns since origin.
    pub sent_ns: u64,
    /// Whether that first packet was the first packet of a keyframe.
    pub on_keyframe: bool,
}

/// Why a packet broke the picture's continuity.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Violation {
    /// A sequence gap (or jump back) exactly where the picture changed venue.
    SeqGapAtSwitch,
    /// The RTP timestamp went backwards.
    TimestampBack,
    /// The first packet of a new venue was not the start of a keyframe.
    BeforeKeyframe,
    /// The video SSRC changed mid-call (the receiver moved to another feed). Reported, but
    /// not a continuity violation: it starts a new stream (which must start on a keyframe).
    SsrcChanged,
}

/// One receiving venue's view of its call.
#[derive(Debug, Clone, Default)]
pub struct ReceiverTracker {
    video: Option<StreamCount>,
    audio: Option<StreamCount>,
    /// Loss of streams closed by a redial (a new call starts new counting).
    closed_lost: u64,
    last_video_ts: Option<u32>,
    showing: Option<u32>,
    /// Every change of the venue shown, in arrival order.
    pub transitions: Vec<Transition>,
    /// RTP packets received (audio and video).
    pub received: u64,
    /// Video packets that carried a probe.
    pub probed: u64,
    /// Continuity violations seen.
    pub violations: Vec<(u64, Violation)>,
}

/// What one received datagram was, for the caller's latency histogram.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seen {
    /// A video packet with a probe: latency in ns (arrival minus send stamp).
    Video {
        /// Arrival minus send stamp, ns.
        latency_ns: u64,
    },
    /// An audio packet or a video packet without a probe.
    Other,
    /// RTCP: `true` when it asks for a keyframe (PLI or FIR).
    Rtcp {
        /// A PLI or FIR was in the compound.
        keyframe_request: bool,
    },
    /// Not RTP or RTCP, or malformed.
    Junk,
}

impl ReceiverTracker {
    /// A fresh tracker.
    pub fn new() -> ReceiverTracker {
        ReceiverTracker::default()
    }

    /// Starts a new call (after a redial): the MCU may start new streams, so the counts of the
    /// old ones are closed and continuity starts afresh.
    pub fn new_call(&mut self) {
        self.closed_lost += self.video.map_or(0, |s| s.lost()) + self.audio.map_or(0, |s| s.lost());
        self.video = None;
        self.audio = None;
        self.last_video_ts = None;
        self.showing = None;
    }

    /// Packets lost so far on every stream this venue received.
    pub fn lost(&self) -> u64 {
        self.closed_lost + self.video.map_or(0, |s| s.lost()) + self.audio.map_or(0, |s| s.lost())
    }

    /// Handles one datagram that arrived at `at_ns`.
    pub fn on_datagram(&mut self, at_ns: u64, buf: &[u8]) -> Seen {
        match classify(buf) {
            PacketClass::Rtp => {}
            PacketClass::Rtcp => {
                let keyframe_request = dais_rtp::parse_compound(buf).is_ok_and(|pkts| {
                    pkts.iter().any(|p| {
                        matches!(
                            p,
                            dais_rtp::RtcpPacket::Pli { .. } | dais_rtp::RtcpPacket::Fir { .. }
                        )
                    })
                });
                return Seen::Rtcp { keyframe_request };
            }
            _ => return Seen::Junk,
        }
        let Ok(h) = RtpHeader::parse(buf) else {
            return Seen::Junk;
        };
        self.received += 1;
        if h.payload_type != VIDEO_PT {
            match &mut self.audio {
                Some(s) if s.ssrc == h.ssrc.0 => {
                    s.on_seq(h.sequence);
                }
                slot => {
                    // A new audio SSRC (the MCU switched the audio source without rewriting):
                    // keep the old stream's loss, count the new one.
                    self.closed_lost += slot.map_or(0, |s| s.lost());
                    *slot = Some(StreamCount::new(h.ssrc.0, h.sequence));
                }
            }
            return Seen::Other;
        }
        let probe = Probe::parse(h.payload(buf));
        let new_venue = probe.is_some_and(|p| self.showing != Some(p.venue));
        let mut new_stream = false;
        let delta = match &mut self.video {
            Some(s) if s.ssrc == h.ssrc.0 => Some(s.on_seq(h.sequence)),
            Some(s) => {
                // The engine gives each feed (broadcast, broadcaster's view, chair view) its own
                // SSRC: moving between feeds is a new stream, whose numbering starts afresh.
                self.violations.push((at_ns, Violation::SsrcChanged));
                self.closed_lost += s.lost();
                *s = StreamCount::new(h.ssrc.0, h.sequence);
                self.last_video_ts = None;
                new_stream = true;
                None
            }
            None => {
                self.video = Some(StreamCount::new(h.ssrc.0, h.sequence));
                None
            }
        };
        if let Some(prev) = self.last_video_ts
            && (h.timestamp.wrapping_sub(prev) as i32) < 0
        {
            self.violations.push((at_ns, Violation::TimestampBack));
        }
        self.last_video_ts = Some(h.timestamp);
        let Some(p) = probe else {
            return Seen::Other;
        };
        self.probed += 1;
        let on_keyframe = p.keyframe && p.index == 0;
        if (new_venue || new_stream) && !on_keyframe && self.showing.is_some() {
            // A decoder cannot start a new stream or a new picture mid-GOP.
            self.violations.push((at_ns, Violation::BeforeKeyframe));
        }
        if new_venue {
            // The very first picture of a call has nothing to be continuous with.
            if self.showing.is_some() && delta.is_some_and(|d| d != 1) {
                self.violations.push((at_ns, Violation::SeqGapAtSwitch));
            }
            if self.showing.is_none() && !on_keyframe {
                self.violations.push((at_ns, Violation::BeforeKeyframe));
            }
            self.showing = Some(p.venue);
            self.transitions.push(Transition {
                at_ns,
                venue: p.venue,
                sent_ns: p.sent_ns,
                on_keyframe,
            });
        }
        Seen::Video {
            latency_ns: at_ns.saturating_sub(p.sent_ns),
        }
    }
}

/// A broadcast command the harness issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SwitchCommand {
    /// When the API call started, ns since origin.
    pub at_ns: u64,
    /// The venue broadcast (probe venue number).
    pub venue: u32,
}

/// The outcome of one switch at one receiver.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct SwitchSample {
    /// From the API call to the new venue's first keyframe packet at this receiver, ns.
    pub total_ns: u64,
    /// Of which spent before the source sent that keyframe (the encoder's share), ns.
    pub waiting_for_key_ns: u64,
}

/// The switches of a run, judged at every receiver.
#[derive(Debug, Clone, Default)]
pub struct SwitchReport {
    /// Per completed (command, receiver) pair.
    pub samples: Vec<SwitchSample>,
    /// Commands after which every expected receiver showed the new venue in time.
    pub completed: u64,
    /// Commands after which some expected receiver never showed it.
    pub incomplete: u64,
    /// (command, receiver) pairs that never landed.
    pub missed_receivers: u64,
    /// Which: (index of the command, receiver venue number).
    pub missed: Vec<(usize, u32)>,
}

/// Judges every switch: for each command and each receiver `expected(cmd, receiver)` says
/// should show it, the first transition to the commanded venue in `[cmd, next cmd)`
/// (the last command's window ends at `end_ns`).
///
/// `receivers[i]` holds receiver venue number `i + 1`'s transitions.
pub fn judge_switches(
    commands: &[SwitchCommand],
    receivers: &[&[Transition]],
    end_ns: u64,
    expected: impl Fn(&SwitchCommand, u32) -> bool,
) -> SwitchReport {
    let mut out = SwitchReport::default();
    for (i, cmd) in commands.iter().enumerate() {
        let until = commands.get(i + 1).map_or(end_ns, |c| c.at_ns);
        let mut all = true;
        for (r, transitions) in receivers.iter().enumerate() {
            let me = r as u32 + 1;
            if me == cmd.venue || !expected(cmd, me) {
                continue;
            }
            // Already showing it (the old broadcaster watched the main venue, which is now
            // broadcast): nothing to switch, nothing to time.
            let showing = transitions
                .iter()
                .rev()
                .find(|t| t.at_ns < cmd.at_ns)
                .map(|t| t.venue);
            let hit = transitions
                .iter()
                .find(|t| t.venue == cmd.venue && t.at_ns >= cmd.at_ns && t.at_ns < until);
            if hit.is_none() && showing == Some(cmd.venue) {
                continue;
            }
            match hit {
                Some(t) => out.samples.push(SwitchSample {
                    total_ns: t.at_ns - cmd.at_ns,
                    waiting_for_key_ns: t
                        .sent_ns
                        .saturating_sub(cmd.at_ns)
                        .min(t.at_ns - cmd.at_ns),
                }),
                None => {
                    all = false;
                    out.missed_receivers += 1;
                    out.missed.push((i, me));
                }
            }
        }
        if all {
            out.completed += 1;
        } else {
            out.incomplete += 1;
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use dais_net::sim::{SyntheticVideo, VideoShape};

    /// Rewrites a synthetic packet as the MCU would for one receiver.
    fn as_mcu(pkt: &[u8], seq: u16, ts: u32) -> Vec<u8> {
        let mut p = pkt.to_vec();
        dais_rtp::rewrite_header(&mut p, dais_rtp::Ssrc(0xabc), seq, ts);
        p
    }

    #[test]
    fn a_clean_switch_on_a_keyframe_counts_no_violation_and_no_loss() {
        let mut a = SyntheticVideo::new(1, VIDEO_PT, VideoShape::default(), 1);
        let mut b = SyntheticVideo::new(2, VIDEO_PT, VideoShape::default(), 1);
        let mut t = ReceiverTracker::new();
        let mut frame = Vec::new();
        let (mut seq, mut ts) = (100u16, 5000u32);
        for f in 0..3u64 {
            a.next_frame(f * 1000, &mut frame);
            for p in &frame {
                t.on_datagram(f * 1000 + 10, &as_mcu(p, seq, ts));
                seq = seq.wrapping_add(1);
            }
            ts += 3000;
        }
        b.next_frame(3000, &mut frame);
        for p in &frame {
            t.on_datagram(3050, &as_mcu(p, seq, ts));
            seq = seq.wrapping_add(1);
        }
        assert!(t.violations.is_empty(), "{:?}", t.violations);
        assert_eq!(t.lost(), 0);
        assert_eq!(t.transitions.len(), 2);
        assert_eq!(t.transitions[1].venue, 2);
        assert!(t.transitions[1].on_keyframe);
    }

    #[test]
    fn gaps_back_steps_and_switches_off_keyframe_are_caught() {
        let shape = VideoShape {
            gop: 100,
            ..VideoShape::default()
        };
        let mut a = SyntheticVideo::new(1, VIDEO_PT, shape, 1);
        let mut b = SyntheticVideo::new(2, VIDEO_PT, shape, 1);
        let mut t = ReceiverTracker::new();
        let mut frame = Vec::new();
        a.next_frame(0, &mut frame);
        for (i, p) in frame.iter().enumerate() {
            // Packet 5 lost in transit.
            if i != 5 {
                t.on_datagram(1, &as_mcu(p, i as u16, 9000));
            }
        }
        assert_eq!(t.lost(), 1);
        b.next_frame(0, &mut frame); // keyframe
        b.next_frame(0, &mut frame); // interframe: switching here is wrong
        t.on_datagram(2, &as_mcu(&frame[0], 40, 8000));
        let kinds: Vec<Violation> = t.violations.iter().map(|(_, v)| *v).collect();
        assert!(kinds.contains(&Violation::SeqGapAtSwitch));
        assert!(kinds.contains(&Violation::BeforeKeyframe));
        assert!(kinds.contains(&Violation::TimestampBack));
    }

    #[test]
    fn sequence_wrap_is_not_loss_and_rtcp_pli_is_recognised() {
        let mut a = SyntheticVideo::new(1, VIDEO_PT, VideoShape::default(), 1);
        let mut t = ReceiverTracker::new();
        let mut frame = Vec::new();
        a.next_frame(0, &mut frame);
        for (i, p) in frame.iter().enumerate() {
            t.on_datagram(1, &as_mcu(p, 65_530u16.wrapping_add(i as u16), 1));
        }
        assert_eq!(t.lost(), 0);
        assert!(t.violations.is_empty());
        // RFC 4585 PLI: V=2, FMT=1, PT=206, length 2.
        let pli = [0x81, 206, 0, 2, 0, 0, 0, 1, 0, 0, 0, 2];
        assert_eq!(
            t.on_datagram(2, &pli),
            Seen::Rtcp {
                keyframe_request: true
            }
        );
        assert_eq!(t.on_datagram(3, b"garbage"), Seen::Junk);
        assert_eq!(t.on_datagram(3, &[]), Seen::Junk);
    }

    #[test]
    fn switches_are_judged_per_receiver_with_the_keyframe_wait_share() {
        let cmds = [
            SwitchCommand {
                at_ns: 1000,
                venue: 2,
            },
            SwitchCommand {
                at_ns: 5000,
                venue: 3,
            },
        ];
        let tr = |at_ns, venue, sent_ns| Transition {
            at_ns,
            venue,
            sent_ns,
            on_keyframe: true,
        };
        // Receiver i is venue i + 1; a venue never has to show itself.
        let r1 = vec![tr(0, 1, 0), tr(1500, 2, 1200), tr(5600, 3, 5300)];
        let r2 = vec![tr(0, 1, 0), tr(5400, 3, 5100)];
        let r3 = vec![tr(0, 1, 0), tr(1700, 2, 1200)];
        let r4 = vec![tr(0, 1, 0), tr(5800, 3, 5300)];
        let rep = judge_switches(&cmds, &[&r1, &r2, &r3, &r4], 9000, |_, _| true);
        assert_eq!(rep.completed, 1);
        assert_eq!(rep.incomplete, 1, "venue 4 never showed venue 2");
        assert_eq!(rep.missed_receivers, 1);
        assert_eq!(rep.samples.len(), 5);
        assert_eq!(
            rep.samples[0],
            SwitchSample {
                total_ns: 500,
                waiting_for_key_ns: 200
            }
        );
        // A receiver already showing the venue has nothing to switch.
        let r4_shown = vec![tr(0, 2, 0), tr(5800, 3, 5300)];
        let rep = judge_switches(&cmds, &[&r1, &r2, &r3, &r4_shown], 9000, |_, _| true);
        assert_eq!(
            (rep.completed, rep.incomplete, rep.samples.len()),
            (2, 0, 5)
        );
        let rep = judge_switches(&cmds, &[&r1, &r2, &r3, &r4], 9000, |c, r| {
            !(c.venue == 2 && r == 4)
        });
        assert_eq!((rep.completed, rep.incomplete), (2, 0));
    }
}
