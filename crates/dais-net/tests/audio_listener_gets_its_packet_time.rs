//! A venue whose SDP asks for 40 ms packets (`a=ptime:40`, passed on by the SIP service with
//! `set_audio_extras`) gets its mix in 40 ms packets: 320 G.711 bytes, timestamps 320 apart, on
//! one continuous stream from then on.

mod audio_common;

use std::time::Duration;

use audio_common::*;
use dais_conference::ConferenceConfig;
use dais_net::meeting::AudioExtras;
use tokio::net::UdpSocket;

/// Receives mixed packets for `d`: (SSRC, timestamp, payload length) of each.
async fn collect(socket: &UdpSocket, d: Duration) -> Vec<(u32, u32, usize)> {
    let mut out = Vec::new();
    let mut buf = [0u8; 2048];
    let end = tokio::time::Instant::now() + d;
    while let Ok(Ok((n, _))) = tokio::time::timeout_at(end, socket.recv_from(&mut buf)).await {
        let data = &buf[..n];
        if dais_rtp::classify(data) != dais_rtp::PacketClass::Rtp {
            continue;
        }
        if let Ok(h) = dais_rtp::RtpHeader::parse(data) {
            out.push((h.ssrc.0, h.timestamp, h.payload(data).len()));
        }
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_listener_asking_for_40_ms_gets_40_ms_packets() {
    let meeting = start_meeting("8105", &["province", "jinan"], ConferenceConfig::default()).await;
    let _province = ToneVenue::join(&meeting, "province", 1, 500.0, AMPLITUDE).await;
    let socket = UdpSocket::bind((LOOPBACK, 0)).await.unwrap();
    let cfg = pcmu_leg(socket.local_addr().unwrap(), false);
    meeting.leg_up(&id("jinan"), cfg).await.unwrap();

    let before = collect(&socket, Duration::from_millis(600)).await;
    assert!(before.len() > 10, "mixed audio arrives: {}", before.len());
    assert!(before.iter().all(|p| p.2 == 160), "20 ms packets first");

    meeting
        .set_audio_extras(
            &id("jinan"),
            AudioExtras {
                telephone_event: None,
                level_extension: None,
                ptime: Some(Duration::from_millis(40)),
            },
        )
        .await
        .unwrap();
    // Packets already on their way are skipped: from the first 40 ms packet on, all are.
    let after = collect(&socket, Duration::from_millis(1200)).await;
    let start = after
        .iter()
        .position(|p| p.2 == 320)
        .expect("40 ms packets after the change");
    let tail = &after[start..];
    assert!(tail.len() > 10, "{}", tail.len());
    assert!(tail.iter().all(|p| p.2 == 320), "all 40 ms: {tail:?}");
    assert!(tail.iter().all(|p| p.0 == tail[0].0), "one stream");
    for w in tail.windows(2) {
        assert_eq!(w[1].1.wrapping_sub(w[0].1), 320, "timestamps 40 ms apart");
    }
    meeting.shutdown().await;
}
