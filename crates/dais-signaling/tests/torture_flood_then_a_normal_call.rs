//! The running service survives the RFC 4475 torture corpus (flooded, from one source) and a
//! scanner's flood, then still completes a normal call.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use dais_conference::RedialPolicy;
use dais_signaling::{ServiceConfig, ServiceStats};
use tokio::net::UdpSocket;

fn corpus() -> Vec<Vec<u8>> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/torture");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    files.iter().map(|p| std::fs::read(p).unwrap()).collect()
}

async fn options_answered(target: std::net::SocketAddr) -> bool {
    let s = UdpSocket::bind((LOOPBACK, 0)).await.unwrap();
    let local = s.local_addr().unwrap();
    let msg = format!(
        "OPTIONS sip:{target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKprobe{}\r\n\
         Max-Forwards: 70\r\nFrom: <sip:probe@{local}>;tag=p\r\nTo: <sip:{target}>\r\n\
         Call-ID: probe{}@x\r\nCSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n",
        local.port(),
        local.port()
    );
    let mut buf = [0u8; 4096];
    // Like any UAC over UDP (RFC 3261 timer E), retransmit: right after a flood the server's
    // socket buffer may still be full and drop a datagram. A hang guard, not a timing
    // assertion: 20 tries over 10 s.
    for _ in 0..20 {
        s.send_to(msg.as_bytes(), target).await.unwrap();
        if let Ok(Ok((n, _))) =
            tokio::time::timeout(Duration::from_millis(500), s.recv_from(&mut buf)).await
        {
            return buf[..n].starts_with(b"SIP/2.0 200");
        }
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn torture_corpus_flood_then_a_normal_sipp_call_completes() {
    init_tracing();
    let dir = Arc::new(TestDir::default());
    dir.add_venue("jinan", "pw");
    let svc = start_service(&dir).await;
    let h = start_meeting(
        &dir,
        "8400",
        "hq",
        &["jinan".into()],
        svc.dialer(),
        RedialPolicy::default(),
    )
    .await;
    let flood = UdpSocket::bind((LOOPBACK, 0)).await.unwrap();
    let messages = corpus();
    assert_eq!(messages.len(), 49);
    for _ in 0..20 {
        for m in &messages {
            flood.send_to(m, svc.local_addr()).await.unwrap();
        }
        // Over TCP too: each message on its own connection (some close it by design).
        if std::env::var("NO_TCP").is_err()
            && let Ok(mut c) = tokio::net::TcpStream::connect(svc.local_addr()).await
        {
            use tokio::io::AsyncWriteExt;
            let _ = c.write_all(&messages.concat()).await;
        }
    }
    assert!(
        options_answered(svc.local_addr()).await,
        "still serving after the corpus"
    );
    let d = sipp_dir(&[("jinan".into(), "pw".into())]);
    let run = sipp(
        d.path(),
        vec![
            "-sf".into(),
            scenario("uac_auth_bench.xml").display().to_string(),
            "-inf".into(),
            "users.csv".into(),
            "-s".into(),
            "8400".into(),
            "-m".into(),
            "1".into(),
            "-p".into(),
            free_port().to_string(),
            "-mp".into(),
            free_port().to_string(),
            svc.local_addr().to_string(),
        ],
    )
    .await;
    assert!(
        run.status.success(),
        "sipp:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(ServiceStats::get(&svc.stats().calls_answered), 1);
    svc.shutdown().await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flooding_source_is_rate_limited_and_others_are_still_served() {
    init_tracing();
    let dir = Arc::new(TestDir::default());
    let cfg = ServiceConfig {
        rate_per_source: 50.0,
        burst_per_source: 100.0,
        ..service_config()
    };
    let svc = start_service_with(&dir, cfg).await;
    // The scanner: 2000 OPTIONS from 127.0.0.1 in a burst.
    let scanner = UdpSocket::bind((LOOPBACK, 0)).await.unwrap();
    let target = svc.local_addr();
    for i in 0..2000 {
        let msg = format!(
            "OPTIONS sip:{target} SIP/2.0\r\nVia: SIP/2.0/UDP 127.0.0.1:9;branch=z9hG4bKscan{i}\r\n\
             From: <sip:scan@x>;tag=s\r\nTo: <sip:{target}>\r\nCall-ID: scan{i}\r\n\
             CSeq: 1 OPTIONS\r\nContent-Length: 0\r\n\r\n"
        );
        scanner.send_to(msg.as_bytes(), target).await.unwrap();
    }
    // Loopback delivers in order: once the probe from another address (127.0.0.2) is answered,
    // the flood has been through the limiter.
    let other = UdpSocket::bind(("127.0.0.2", 0)).await.unwrap();
    let local = other.local_addr().unwrap();
    let msg = format!(
        "OPTIONS sip:{target} SIP/2.0\r\nVia: SIP/2.0/UDP {local};branch=z9hG4bKother\r\n\
         From: <sip:o@x>;tag=o\r\nTo: <sip:{target}>\r\nCall-ID: other\r\nCSeq: 1 OPTIONS\r\n\
         Content-Length: 0\r\n\r\n"
    );
    other.send_to(msg.as_bytes(), target).await.unwrap();
    let mut buf = [0u8; 4096];
    let (n, _) = tokio::time::timeout(Duration::from_secs(10), other.recv_from(&mut buf))
        .await
        .expect("another source is served")
        .unwrap();
    assert!(buf[..n].starts_with(b"SIP/2.0 200"));
    // The kernel drops part of a burst before we read it, so only "some" is certain.
    let limited = ServiceStats::get(&svc.stats().rate_limited);
    assert!(limited > 0, "no flood message was rate-limited");
    svc.shutdown().await;
}
