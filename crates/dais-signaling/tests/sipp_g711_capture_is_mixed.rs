//! Real audio through the audio MCU: sipp dials in and plays SIPp's own G.711 A-law capture
//! (speech-like, 30 ms packets), and a μ-law venue with a 500 Hz tone listens. What the
//! listener hears, decoded, is the capture itself: found by cross-correlating half a second
//! of the capture (decoded from the same pcap here) with the listener's audio. Its own tone is
//! absent (mix-minus), and two codecs and two packet times meet in one mix.
#![allow(clippy::print_stderr)] // the correlation found is the test's report

#[path = "../../dais-net/tests/audio_common/mod.rs"]
mod audio_common;
mod common;

use audio_common::{AMPLITUDE, SENT_PEAK, ToneVenue, tone_amplitude};
use common::*;
use dais_audio::Codec;

/// The RTP payloads of a pcap of Ethernet/IPv4/UDP/RTP packets, in order.
fn rtp_payloads(pcap: &[u8]) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    let mut off = 24;
    while off + 16 <= pcap.len() {
        let incl = u32::from_le_bytes(pcap[off + 8..off + 12].try_into().unwrap()) as usize;
        let pkt = &pcap[off + 16..off + 16 + incl];
        off += 16 + incl;
        let ihl = usize::from(pkt[14] & 0x0f) * 4;
        let rtp = &pkt[14 + ihl + 8..];
        let h = dais_rtp::RtpHeader::parse(rtp).unwrap();
        out.push(h.payload(rtp).to_vec());
    }
    out
}

/// The best normalised cross-correlation of `reference` within `signal`, and its lag.
fn best_match(reference: &[f32], signal: &[f32]) -> (f64, usize) {
    let energy = |x: &[f32]| x.iter().map(|v| f64::from(*v) * f64::from(*v)).sum::<f64>();
    let er = energy(reference);
    let mut best = (0.0, 0);
    for lag in 0..signal.len().saturating_sub(reference.len()) {
        let w = &signal[lag..lag + reference.len()];
        let ew = energy(w);
        if ew <= 0.0 {
            continue;
        }
        let dot: f64 = reference
            .iter()
            .zip(w)
            .map(|(a, b)| f64::from(*a) * f64::from(*b))
            .sum();
        let c = dot / (er * ew).sqrt();
        if c > best.0 {
            best = (c, lag);
        }
    }
    best
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sipp_venues_g711_capture_is_what_the_others_hear() {
    let (_dir, svc, h) = jinan_meeting("8121").await;
    let province = ToneVenue::join(&h, "province", 1, 500.0, AMPLITUDE).await;
    let mark = province.mark();
    let d = sipp_dir(&[("jinan".into(), "pw-jinan".into())]);
    let run = sipp(
        d.path(),
        uac_args("uac_auth_pcap.xml", "8121", svc.local_addr(), &[]),
    )
    .await;
    assert!(
        run.status.success(),
        "sipp failed:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    let heard: Vec<f32> = province
        .heard_since(mark)
        .iter()
        .map(|s| f32::from(*s))
        .collect();
    province.stop();

    let pcap = std::fs::read(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/g711a.pcap"),
    )
    .unwrap();
    let mut capture = Vec::new();
    for p in rtp_payloads(&pcap) {
        let mut pcm = vec![0i16; p.len()];
        dais_audio::decode(Codec::Pcma, &p, &mut pcm);
        capture.extend(pcm.iter().map(|s| f32::from(*s)));
    }
    // 1.5 s into the capture: speech, before sipp's BYE at about 3 s.
    let reference = &capture[12_000..16_000];
    let (corr, lag) = best_match(reference, &heard);
    eprintln!(
        "capture found in what the listener heard: correlation {corr:.3} at {:.3} s",
        lag as f64 / 8000.0
    );
    assert!(
        corr > 0.9,
        "the listener does not hear the capture (best correlation {corr:.3})"
    );
    // Mix-minus: the listener's own tone is not in what it heard.
    let own = tone_amplitude(&province.heard_since(mark), 500.0);
    assert!(own < 0.05 * SENT_PEAK, "the listener hears itself: {own}");
    svc.shutdown().await;
    h.shutdown().await;
}
