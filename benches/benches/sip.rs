//! dais-sip micro-benchmarks: parsing an INVITE, verifying a SHA-256 digest, answering an SDP offer.
use std::hint::black_box;
use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use dais_sip::digest::{
    DigestAlgorithm, DigestCredentials, DigestOutcome, DigestServer, expected_response, ha1,
};
use dais_sip::offer_answer::{Capabilities, negotiate};
use dais_sip::{Limits, parse_unvalidated};

const OFFER: &str = "v=0\r\no=room 1 1 IN IP4 192.0.2.50\r\ns=-\r\nc=IN IP4 192.0.2.50\r\nt=0 0\r\n\
m=audio 49170 RTP/AVP 9 0 8 101\r\na=rtpmap:9 G722/8000\r\na=rtpmap:101 telephone-event/8000\r\n\
a=fmtp:101 0-15\r\na=sendrecv\r\n\
m=video 49180 RTP/AVPF 109 96\r\na=rtpmap:109 H264/90000\r\n\
a=fmtp:109 profile-level-id=42801f\r\na=rtpmap:96 H264/90000\r\n\
a=fmtp:96 profile-level-id=42e01f;packetization-mode=1\r\n\
a=rtcp-fb:* ccm fir\r\na=rtcp-fb:96 nack pli\r\na=rtcp-mux\r\na=sendrecv\r\n";

/// A room system's INVITE: 12 headers and the SDP above (about 1 KB).
fn invite() -> Vec<u8> {
    format!(
        "INVITE sip:8001@198.51.100.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.50:5060;branch=z9hG4bK776asdhds;rport\r\n\
         Max-Forwards: 70\r\n\
         From: \"Jinan county\" <sip:jinan@192.0.2.50>;tag=1928301774\r\n\
         To: <sip:8001@198.51.100.1>\r\n\
         Call-ID: a84b4c76e66710@192.0.2.50\r\n\
         CSeq: 314159 INVITE\r\n\
         Contact: <sip:jinan@192.0.2.50:5060>\r\n\
         Allow: INVITE, ACK, BYE, CANCEL, OPTIONS, INFO, UPDATE\r\n\
         Supported: timer, replaces\r\n\
         Session-Expires: 1800\r\n\
         User-Agent: RoomSystem/9.1\r\n\
         Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{OFFER}",
        OFFER.len()
    )
    .into_bytes()
}

fn sip(c: &mut Criterion) {
    let bytes = Bytes::from(invite());
    let limits = Limits::default();
    let mut g = c.benchmark_group("sip");
    g.throughput(Throughput::Bytes(bytes.len() as u64));
    g.bench_function("parse_invite", |b| {
        b.iter(|| {
            let m = parse_unvalidated(black_box(bytes.clone()), &limits).unwrap();
            m.validate().unwrap();
            black_box(m)
        });
    });
    g.finish();

    let t0 = Instant::now();
    let mut server = DigestServer::new("dais", b"bench-secret", t0, Duration::from_secs(300));
    let nonce = server.nonce(t0);
    let make = |nc: u32| {
        let mut creds = DigestCredentials::parse(&format!(
            "Digest username=\"jinan\", realm=\"dais\", nonce=\"{nonce}\", \
             uri=\"sip:8001@198.51.100.1\", response=\"0\", algorithm=SHA-256, qop=auth, \
             nc={nc:08x}, cnonce=\"0a4f113b\""
        ))
        .unwrap();
        let h = ha1(DigestAlgorithm::Sha256, "jinan", "dais", "secret");
        creds.response = expected_response(DigestAlgorithm::Sha256, &h, "INVITE", &creds);
        creds
    };
    // Each iteration needs a fresh nc (replay protection); credentials are prepared outside
    // the timed part in batches.
    let mut nc = 0u32;
    c.bench_function("sip/digest_verify_sha256", |b| {
        b.iter_batched(
            || {
                nc += 1;
                make(nc)
            },
            |creds| {
                let out = server.verify(t0, "INVITE", black_box(&creds), "secret");
                assert_eq!(out, DigestOutcome::Valid);
            },
            criterion::BatchSize::SmallInput,
        );
    });

    let caps = Capabilities::default();
    c.bench_function("sdp/negotiate", |b| {
        b.iter(|| black_box(negotiate(black_box(OFFER.as_bytes()), &caps, 1).unwrap()));
    });
}

criterion_group!(benches, sip);
criterion_main!(benches);
