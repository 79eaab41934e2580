//! Each listener's mix stream gets RTCP sender reports, like the video feeds: they name the
//! SSRC of the audio it receives and map the engine's NTP clock to that stream's timeline, so
//! an endpoint can line the mixed audio up with the picture (RFC 3550 §6.4.1).

mod audio_common;

use audio_common::*;
use dais_conference::ConferenceConfig;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_listener_gets_sender_reports_for_its_own_mix_stream() {
    let names = ["province", "jinan"];
    let meeting = start_meeting("8103", &names, ConferenceConfig::default()).await;
    let province = ToneVenue::join(&meeting, "province", 1, 500.0, AMPLITUDE).await;
    let jinan = ToneVenue::join(&meeting, "jinan", 2, 700.0, AMPLITUDE).await;
    let venues = [province, jinan];
    for v in &venues {
        eventually("two sender reports after mixed audio", || {
            let n = v.sender_reports.lock().unwrap().len();
            let heard = v.last_in.lock().unwrap().is_some();
            async move { heard && n >= 2 }
        })
        .await;
    }
    for v in &venues {
        let (ssrc, ts) = v.last_in.lock().unwrap().expect("mixed audio received");
        let srs = v.sender_reports.lock().unwrap().clone();
        let (sr_ssrc, rtp_time, packets) = *srs.last().expect("a report");
        assert_eq!(
            sr_ssrc, ssrc,
            "{}: the report names its mix stream",
            v.venue
        );
        assert!(packets > 0, "{}: packets counted", v.venue);
        // The report's RTP time is "now" on the stream's 8 kHz timeline: within 2 s of the
        // packets (generous: the shared machine may stall either side).
        let diff = rtp_time.wrapping_sub(ts) as i32;
        assert!(
            diff.abs() < 16_000,
            "{}: report {rtp_time} vs packet {ts}",
            v.venue
        );
        // Counts only grow.
        let (_, _, first) = srs[0];
        assert!(packets >= first, "{}: {first} then {packets}", v.venue);
        // No report for anyone else's stream.
        assert!(
            srs.iter().all(|(s, _, _)| *s == ssrc),
            "{}: {srs:?}",
            v.venue
        );
    }
    for v in &venues {
        v.stop();
    }
    meeting.shutdown().await;
}
