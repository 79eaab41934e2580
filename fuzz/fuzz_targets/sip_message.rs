#![no_main]
//! SIP input surface: datagram parse, serialise round trip, TCP framer, and the server core.
use std::time::{Duration, Instant};

use bytes::Bytes;
use dais_sip::framer::StreamFramer;
use dais_sip::{CoreConfig, Limits, SipCore, SipMessage, Transport, parse_unvalidated};

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    // Digest header values: what a caller (Authorization) or a callee (WWW-Authenticate)
    // sends us.
    if let Ok(text) = std::str::from_utf8(data) {
        let _ = dais_sip::digest::DigestCredentials::parse(text);
        if let Some(ch) = dais_sip::digest::DigestChallenge::parse(text) {
            let _ = ch.answer("u", "00", "INVITE", "sip:x@y", "c", 1);
        }
    }
    let limits = Limits::default();
    if let Ok(msg) = parse_unvalidated(Bytes::copy_from_slice(data), &limits) {
        let _ = msg.validate();
        let _ = msg.headers().vias();
        let _ = msg.headers().contacts();
        let _ = msg.headers().session_expires();
        let wire = msg.to_bytes();
        let again = parse_unvalidated(wire.clone(), &limits).expect("what we serialise parses");
        assert_eq!(again.body(), msg.body());
        match (&msg, &again) {
            (SipMessage::Request(a), SipMessage::Request(b)) => assert_eq!(a.method, b.method),
            (SipMessage::Response(a), SipMessage::Response(b)) => assert_eq!(a.status, b.status),
            _ => panic!("request/response flipped"),
        }
        // The serialised form always carries Content-Length, so the stream framer takes it too,
        // split at an arbitrary point.
        let mut framer = StreamFramer::new(limits);
        let cut = data.len() % wire.len().max(1);
        let mut got = framer.push(&wire[..cut]).expect("first half frames");
        got.extend(framer.push(&wire[cut..]).expect("second half frames"));
        assert_eq!(got.len(), 1);
    }
    let now = Instant::now();
    let peer = "192.0.2.1:5060".parse().unwrap();
    let mut core = SipCore::new(CoreConfig::default());
    core.handle_datagram(now, Transport::Udp, peer, data);
    core.handle_datagram(now, Transport::Tcp, peer, data);
    while let Some(ev) = core.poll_event() {
        if let dais_sip::SipEvent::IncomingCall { call, .. } = ev {
            let _ = core.accept(now, call, Bytes::new());
        }
    }
    while core.poll_transmit().is_some() {}
    core.handle_timeout(now + Duration::from_secs(64));
    while core.poll_transmit().is_some() {}
});
