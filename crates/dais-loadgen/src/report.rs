//! The figures of a run: the JSON the issue asks for and a readable summary.

use std::fmt::Write as _;

use serde::Serialize;

/// p50 / p99 / max of a sample set (milliseconds where used).
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct Percentiles {
    /// Median.
    pub p50: f64,
    /// 99th percentile.
    pub p99: f64,
    /// Largest.
    pub max: f64,
    /// Number of samples.
    pub count: u64,
}

impl Percentiles {
    /// Of these samples (sorted in place); zeros when empty.
    pub fn of(samples: &mut [f64]) -> Percentiles {
        if samples.is_empty() {
            return Percentiles::default();
        }
        samples.sort_by(f64::total_cmp);
        let at = |q: f64| {
            let idx = ((samples.len() as f64 * q).ceil() as usize).clamp(1, samples.len()) - 1;
            samples[idx]
        };
        Percentiles {
            p50: at(0.5),
            p99: at(0.99),
            max: samples[samples.len() - 1],
            count: samples.len() as u64,
        }
    }
}

/// Added latency of video packets, sender to receiver through the MCU, µs.
#[derive(Debug, Clone, Copy, Default, Serialize, PartialEq)]
pub struct LatencyUs {
    /// Median.
    pub p50: u64,
    /// 99th percentile.
    pub p99: u64,
    /// 99.9th percentile.
    pub p999: u64,
    /// Largest.
    pub max: u64,
    /// Packets measured.
    pub samples: u64,
}

/// Everything one run measured (`--json` writes it as is; `docs/benchmarks.md` documents each
/// field).
#[derive(Debug, Clone, Default, Serialize)]
pub struct Report {
    /// Venues in the meeting.
    pub venues: u64,
    /// Measured time, seconds.
    pub duration_s: f64,
    /// Call attempts (first dials, retries, redials).
    pub sip_attempts: u64,
    /// Dials that ended without a call.
    pub sip_failures: u64,
    /// Final statuses of those failures (0: timeout or unusable answer).
    pub sip_failure_statuses: Vec<u16>,
    /// Attempts repeated after 503/486 or a timeout.
    pub sip_retries: u64,
    /// First INVITE to 200 OK, ms.
    pub sip_setup_ms: Percentiles,
    /// RTP packets the venues sent (whole run, set-up included).
    pub sent_packets: u64,
    /// Sends the kernel refused.
    pub send_errors: u64,
    /// Media events the harness sent more than a frame late (it could not keep up).
    pub sender_late_events: u64,
    /// Packets daisd sent in the measured window (`dais_media_sends_total` delta).
    pub forwarded_packets: Option<u64>,
    /// RTP packets the venues received (whole run).
    pub received_packets: u64,
    /// Of which audio.
    pub audio_received_packets: u64,
    /// Packets missing from the streams the venues received (sequence-number accounting).
    pub lost_packets: u64,
    /// The worst receiver's loss.
    pub max_loss_per_receiver: u64,
    /// Receivers that lost anything.
    pub receivers_with_loss: u64,
    /// Added latency (measured window).
    pub latency_us: LatencyUs,
    /// Broadcast commands issued.
    pub switches: u64,
    /// Switches every expected receiver followed.
    pub switches_completed: u64,
    /// Switches some expected receiver did not follow before the next one.
    pub switches_incomplete: u64,
    /// (switch, receiver) pairs that never showed the new venue.
    pub switch_receivers_missed: u64,
    /// API call to the new venue's first keyframe packet at each receiver, ms.
    pub switch_ms: Percentiles,
    /// Share of the switch time spent before the source sent that keyframe.
    pub switch_keyframe_wait_share: Option<f64>,
    /// Chair commands the API refused.
    pub command_errors: u64,
    /// Sequence gaps at a switch + timestamps back + packets before the keyframe (measured
    /// window).
    pub continuity_violations: u64,
    /// Sequence gap where the picture changed venue.
    pub seq_gaps_at_switch: u64,
    /// Video RTP timestamp went backwards.
    pub timestamps_back: u64,
    /// A new venue's first packet was not the start of a keyframe.
    pub before_keyframe: u64,
    /// Times a receiver's video SSRC changed (it moved to another feed; not counted as a
    /// continuity violation, but the new stream must start on a keyframe).
    pub ssrc_changes: u64,
    /// Times a venue was shown its own picture (measured window).
    pub self_views: u64,
    /// RTCP PLI/FIR received by the venues.
    pub keyframe_requests: u64,
    /// Venues dropped (BYE or blackout) to exercise redial.
    pub drops: u64,
    /// How they dropped.
    pub drop_mode: crate::run::DropMode,
    /// Drops the MCU detected by itself (media timeout), from its meeting record.
    pub mcu_detected_drops: Option<u64>,
    /// Switches made by roll call (the rest by broadcast).
    pub roll_calls: u64,
    /// SIP messages for blacked-out calls that the harness left unanswered.
    pub unanswered_sip: u64,
    /// BYEs the MCU sent.
    pub remote_byes: u64,
    /// daisd CPU time (user + system) in the measured window, s.
    pub server_cpu_s: Option<f64>,
    /// daisd resident memory at the end, KiB.
    pub server_rss_kib: Option<u64>,
    /// daisd peak resident memory, KiB.
    pub server_peak_rss_kib: Option<u64>,
    /// daisd CPU per packet it sent, µs.
    pub cpu_us_per_forwarded_packet: Option<f64>,
    /// The reference forwarder's CPU per packet sent, µs (when `--reference` ran).
    pub reference_cpu_us_per_packet: Option<f64>,
    /// `cpu_us_per_forwarded_packet / reference_cpu_us_per_packet`.
    pub reference_ratio: Option<f64>,
    /// `dial_in` (the venues call the meeting) or `dial_out` (the MCU calls the venues).
    pub drive: &'static str,
    /// Dial-out: meeting start (API call) → each venue's call up (ACK), ms; `null` for
    /// dial-in.
    pub dial_out_up_ms: Option<Percentiles>,
    /// INVITEs from the MCU the harness answered (dial-out; retransmissions not counted).
    pub invites_answered: u64,
    /// `--polling` interval, s (`null`: the harness broadcasts itself).
    pub polling_interval_s: Option<u32>,
    /// Broadcast switches the MCU's polling made in the measured window (`null` without
    /// polling); they are the `switches` then.
    pub poll_switches: Option<u64>,
    /// `lagged` events on the event stream (the harness read it too slowly; `null` when not
    /// read).
    pub event_stream_lagged: Option<u64>,
    /// The harness's media I/O (`batched` or `simple`).
    pub io_mode: crate::media::IoMode,
    /// The harness process's own CPU time (user + system) in the measured window, s.
    pub harness_cpu_s: Option<f64>,
    /// Datagrams the harness sent plus received in the measured window.
    pub harness_packets: u64,
    /// `harness_cpu_s / harness_packets`, µs.
    pub harness_cpu_us_per_packet: Option<f64>,
    /// Send system calls (whole run).
    pub send_calls: u64,
    /// `recvmmsg` calls that returned datagrams (whole run).
    pub recv_calls: u64,
    /// Readiness waits that reported a ready socket (whole run).
    pub receiver_wakeups: u64,
    /// daisd CPU per thread name in the measured window, largest first.
    pub server_threads: Vec<ThreadCpu>,
}

/// CPU time of the threads of one name.
#[derive(Debug, Clone, Default, Serialize, PartialEq)]
pub struct ThreadCpu {
    /// Thread name (`comm`), e.g. `tokio-runtime-w`.
    pub name: String,
    /// CPU seconds in the measured window, summed over the threads of that name.
    pub cpu_s: f64,
}

fn opt<T: std::fmt::Display>(v: Option<T>) -> String {
    v.map_or_else(|| "n/a".to_owned(), |v| v.to_string())
}

impl Report {
    /// Whether the correctness figures are clean: no SIP failure, no loss, no continuity
    /// violation, every switch completed.
    pub fn correct(&self) -> bool {
        self.sip_failures == 0
            && self.lost_packets == 0
            && self.continuity_violations == 0
            && self.switches_incomplete == 0
    }

    /// A readable summary.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(
            s,
            "venues {}  measured {:.1} s",
            self.venues, self.duration_s
        );
        let _ = writeln!(
            s,
            "SIP     attempts {}  failures {} {:?}  retries {}  set-up p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms",
            self.sip_attempts,
            self.sip_failures,
            self.sip_failure_statuses,
            self.sip_retries,
            self.sip_setup_ms.p50,
            self.sip_setup_ms.p99,
            self.sip_setup_ms.max
        );
        let _ = writeln!(
            s,
            "packets sent {}  forwarded {}  received {} (audio {})  lost {} (worst receiver {}, {} receivers)  send errors {}  late {}",
            self.sent_packets,
            opt(self.forwarded_packets),
            self.received_packets,
            self.audio_received_packets,
            self.lost_packets,
            self.max_loss_per_receiver,
            self.receivers_with_loss,
            self.send_errors,
            self.sender_late_events
        );
        let _ = writeln!(
            s,
            "chair   {} switches ({} by roll call)  drops {} ({:?}; {} detected by the MCU)  MCU BYEs {}  unanswered SIP {}",
            self.switches,
            self.roll_calls,
            self.drops,
            self.drop_mode,
            opt(self.mcu_detected_drops),
            self.remote_byes,
            self.unanswered_sip
        );
        let _ = writeln!(
            s,
            "latency p50 {} µs  p99 {} µs  p99.9 {} µs  max {} µs  ({} packets)",
            self.latency_us.p50,
            self.latency_us.p99,
            self.latency_us.p999,
            self.latency_us.max,
            self.latency_us.samples
        );
        let _ = writeln!(
            s,
            "switch  {} issued, {} completed, {} incomplete ({} receivers missed)  p50 {:.1} ms  p99 {:.1} ms  keyframe wait {}",
            self.switches,
            self.switches_completed,
            self.switches_incomplete,
            self.switch_receivers_missed,
            self.switch_ms.p50,
            self.switch_ms.p99,
            self.switch_keyframe_wait_share
                .map_or_else(|| "n/a".to_owned(), |w| format!("{:.0} %", w * 100.0))
        );
        let _ = writeln!(
            s,
            "continuity violations {} (seq gap at switch {}, ts back {}, before keyframe {})  feed/SSRC changes {}  self-views {}",
            self.continuity_violations,
            self.seq_gaps_at_switch,
            self.timestamps_back,
            self.before_keyframe,
            self.ssrc_changes,
            self.self_views
        );
        let _ = writeln!(
            s,
            "daisd   CPU {} s  RSS {} KiB (peak {})  CPU/forwarded packet {} µs  reference ratio {}",
            self.server_cpu_s
                .map_or_else(|| "n/a".into(), |c| format!("{c:.2}")),
            opt(self.server_rss_kib),
            opt(self.server_peak_rss_kib),
            self.cpu_us_per_forwarded_packet
                .map_or_else(|| "n/a".into(), |c| format!("{c:.2}")),
            self.reference_ratio
                .map_or_else(|| "n/a".into(), |r| format!("{r:.2}"))
        );
        let threads: Vec<String> = self
            .server_threads
            .iter()
            .take(4)
            .map(|t| format!("{} {:.2} s", t.name, t.cpu_s))
            .collect();
        let _ = writeln!(s, "daisd threads  {}", threads.join(", "));
        let _ = writeln!(
            s,
            "harness CPU {} s for {} packets sent+received ({} µs/packet, {:?} I/O: {} send calls, {} recvmmsg, {} wake-ups)",
            self.harness_cpu_s
                .map_or_else(|| "n/a".into(), |c| format!("{c:.2}")),
            self.harness_packets,
            self.harness_cpu_us_per_packet
                .map_or_else(|| "n/a".into(), |c| format!("{c:.2}")),
            self.io_mode,
            self.send_calls,
            self.recv_calls,
            self.receiver_wakeups
        );
        let _ = writeln!(
            s,
            "drive   {}{}{}",
            self.drive,
            self.dial_out_up_ms.map_or_else(String::new, |p| format!(
                "  (start → call up p50 {:.1} ms  p99 {:.1} ms  max {:.1} ms, {} INVITEs answered)",
                p.p50, p.p99, p.max, self.invites_answered
            )),
            self.polling_interval_s
                .map_or_else(String::new, |i| format!(
                    "  polling every {i} s: {} switches by the MCU (event stream lagged {})",
                    opt(self.poll_switches),
                    opt(self.event_stream_lagged)
                ))
        );
        let _ = writeln!(
            s,
            "verdict {}",
            if self.correct() {
                "correct (no SIP failure, no loss, no continuity violation, every switch completed)"
            } else {
                "NOT correct"
            }
        );
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentiles_and_json_fields() {
        let p = Percentiles::of(&mut [5.0, 1.0, 3.0, 2.0, 4.0]);
        assert_eq!((p.p50, p.p99, p.max, p.count), (3.0, 5.0, 5.0, 5));
        assert_eq!(Percentiles::of(&mut []), Percentiles::default());
        let v = serde_json::to_value(Report::default()).unwrap();
        for f in [
            "venues",
            "duration_s",
            "sip_failures",
            "sent_packets",
            "received_packets",
            "lost_packets",
            "latency_us",
            "switches",
            "switch_ms",
            "continuity_violations",
            "server_cpu_s",
            "cpu_us_per_forwarded_packet",
            "reference_ratio",
        ] {
            assert!(v.get(f).is_some(), "{f} missing");
        }
        assert!(v["latency_us"].get("p999").is_some());
        assert!(Report::default().correct());
        assert!(Report::default().summary().contains("verdict correct"));
    }
}
