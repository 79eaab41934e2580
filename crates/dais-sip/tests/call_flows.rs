//! Full call flows, message by message, in virtual time.
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use bytes::Bytes;
use dais_sip::digest::{DigestAlgorithm, DigestCredentials, DigestOutcome, DigestServer};
use dais_sip::{
    CoreConfig, DialTarget, EndReason, Method, Request, Response, SipCore, SipEvent, SipMessage,
    Transport, parse,
};

const SDP: &str = "v=0\r\no=- 1 1 IN IP4 192.0.2.9\r\ns=-\r\nc=IN IP4 192.0.2.9\r\nt=0 0\r\nm=audio 4000 RTP/AVP 0\r\n";

fn venue() -> SocketAddr {
    "192.0.2.9:5062".parse().unwrap()
}

fn core() -> SipCore {
    SipCore::new(CoreConfig {
        local_host: "198.51.100.1".into(),
        ..CoreConfig::default()
    })
}

fn invite(branch: &str, cseq: u32, auth: Option<&str>) -> Vec<u8> {
    let auth = auth
        .map(|a| format!("Authorization: {a}\r\n"))
        .unwrap_or_default();
    format!(
        "INVITE sip:8001@198.51.100.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.9:5062;branch={branch};rport\r\n\
         Max-Forwards: 70\r\n\
         From: \"Jinan\" <sip:jinan@192.0.2.9>;tag=v1\r\n\
         To: <sip:8001@198.51.100.1>\r\n\
         Call-ID: call-1@192.0.2.9\r\n\
         CSeq: {cseq} INVITE\r\n\
         Contact: <sip:jinan@192.0.2.9:5062>\r\n\
         {auth}Content-Type: application/sdp\r\n\
         Content-Length: {}\r\n\r\n{SDP}",
        SDP.len()
    )
    .into_bytes()
}

fn in_dialog(
    method: &str,
    branch: &str,
    cseq: u32,
    to_tag: &str,
    extra: &str,
    body: &str,
) -> Vec<u8> {
    let cseq_method = if method == "ACK" {
        "ACK".to_owned()
    } else {
        method.to_owned()
    };
    format!(
        "{method} sip:8001@198.51.100.1 SIP/2.0\r\n\
         Via: SIP/2.0/UDP 192.0.2.9:5062;branch={branch}\r\n\
         Max-Forwards: 70\r\n\
         From: \"Jinan\" <sip:jinan@192.0.2.9>;tag=v1\r\n\
         To: <sip:8001@198.51.100.1>;tag={to_tag}\r\n\
         Call-ID: call-1@192.0.2.9\r\n\
         CSeq: {cseq} {cseq_method}\r\n\
         {extra}Content-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .into_bytes()
}

fn sent(core: &mut SipCore) -> Vec<SipMessage> {
    let mut out = Vec::new();
    while let Some(t) = core.poll_transmit() {
        out.push(parse(&t.bytes).unwrap());
    }
    out
}

fn statuses(msgs: &[SipMessage]) -> Vec<u16> {
    msgs.iter()
        .filter_map(|m| match m {
            SipMessage::Response(r) => Some(r.status),
            SipMessage::Request(_) => None,
        })
        .collect()
}

fn response(msgs: &[SipMessage], status: u16) -> Response {
    msgs.iter()
        .find_map(|m| match m {
            SipMessage::Response(r) if r.status == status => Some(r.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {status} in {msgs:?}"))
}

fn request(msgs: &[SipMessage], method: Method) -> Request {
    msgs.iter()
        .find_map(|m| match m {
            SipMessage::Request(r) if r.method == method => Some(r.clone()),
            _ => None,
        })
        .unwrap_or_else(|| panic!("no {method} in {msgs:?}"))
}

fn events(core: &mut SipCore) -> Vec<SipEvent> {
    std::iter::from_fn(|| core.poll_event()).collect()
}

fn incoming(sip: &mut SipCore) -> dais_sip::CallId {
    match events(sip).as_slice() {
        [SipEvent::IncomingCall { call, .. }] => *call,
        other => panic!("{other:?}"),
    }
}

fn nonce(challenge: &str) -> String {
    challenge
        .split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

/// Dial-in to a meeting, challenged, answered, confirmed, then hung up by the venue.
#[test]
fn dial_in_with_digest_challenge_answer_ack_and_remote_bye() {
    let t0 = Instant::now();
    let mut sip = core();
    let mut auth = DigestServer::new("dais", b"server-secret", t0, Duration::from_secs(300));

    sip.handle_datagram(t0, Transport::Udp, venue(), &invite("z9hG4bK-a", 1, None));
    let ev = events(&mut sip);
    let [
        SipEvent::IncomingCall {
            call,
            to_user,
            auth: None,
            offer: Some(_),
            ..
        },
    ] = ev.as_slice()
    else {
        panic!("{ev:?}")
    };
    assert_eq!(to_user.as_deref(), Some("8001"));
    sip.challenge(t0, *call, &auth.challenge(t0, false))
        .unwrap();
    let out = sent(&mut sip);
    assert_eq!(statuses(&out), vec![100, 401]);
    let challenge = response(&out, 401);
    let www: Vec<String> = challenge.headers.www_authenticate().collect();
    assert_eq!(www.len(), 2);
    // The venue ACKs the 401 (same branch) and retries with credentials.
    sip.handle_datagram(
        t0,
        Transport::Udp,
        venue(),
        &in_dialog(
            "ACK",
            "z9hG4bK-a",
            1,
            challenge.headers.to().unwrap().tag.as_deref().unwrap(),
            "",
            "",
        ),
    );
    assert!(sent(&mut sip).is_empty());

    let mut creds = DigestCredentials::parse(&format!(
        "Digest username=\"jinan\", realm=\"dais\", nonce=\"{}\", uri=\"sip:8001@198.51.100.1\", \
         response=\"x\", algorithm=SHA-256, qop=auth, nc=00000001, cnonce=\"c1\"",
        nonce(&www[0])
    ))
    .unwrap();
    let ha1 = dais_sip::digest::ha1(DigestAlgorithm::Sha256, "jinan", "dais", "pw");
    creds.response =
        dais_sip::digest::expected_response(DigestAlgorithm::Sha256, &ha1, "INVITE", &creds);
    let header = format!(
        "Digest username=\"jinan\", realm=\"dais\", nonce=\"{}\", uri=\"sip:8001@198.51.100.1\", \
         response=\"{}\", algorithm=SHA-256, qop=auth, nc=00000001, cnonce=\"c1\"",
        creds.nonce, creds.response
    );
    let t1 = t0 + Duration::from_millis(50);
    sip.handle_datagram(
        t1,
        Transport::Udp,
        venue(),
        &invite("z9hG4bK-b", 2, Some(&header)),
    );
    let ev = events(&mut sip);
    let [
        SipEvent::IncomingCall {
            call,
            auth: Some(c),
            request_uri,
            ..
        },
    ] = ev.as_slice()
    else {
        panic!("{ev:?}")
    };
    assert_eq!(c.uri, *request_uri);
    assert_eq!(auth.verify(t1, "INVITE", c, "pw"), DigestOutcome::Valid);
    let call = *call;
    sip.accept(t1, call, Bytes::from_static(SDP.as_bytes()))
        .unwrap();
    let out = sent(&mut sip);
    assert_eq!(statuses(&out), vec![100, 200]);
    let ok = response(&out, 200);
    assert_eq!(ok.body, SDP.as_bytes());
    assert!(ok.headers.contact().is_some());
    let tag = ok.headers.to().unwrap().tag.unwrap();

    sip.handle_datagram(
        t1,
        Transport::Udp,
        venue(),
        &in_dialog("ACK", "z9hG4bK-c", 2, &tag, "", ""),
    );
    assert!(
        matches!(events(&mut sip).as_slice(), [SipEvent::CallConfirmed { call: c, answer: None }] if *c == call)
    );
    // No 2xx retransmission after the ACK.
    sip.handle_timeout(t1 + Duration::from_secs(10));
    assert!(sent(&mut sip).is_empty());

    sip.handle_datagram(
        t1,
        Transport::Udp,
        venue(),
        &in_dialog("BYE", "z9hG4bK-d", 3, &tag, "", ""),
    );
    assert_eq!(statuses(&sent(&mut sip)), vec![200]);
    assert!(matches!(
        events(&mut sip).as_slice(),
        [SipEvent::CallEnded { call: c, reason: EndReason::RemoteBye }] if *c == call
    ));
}

#[test]
fn invite_retransmission_is_absorbed() {
    let t0 = Instant::now();
    let mut sip = core();
    sip.handle_datagram(t0, Transport::Udp, venue(), &invite("z9hG4bK-r", 1, None));
    assert_eq!(events(&mut sip).len(), 1);
    assert_eq!(statuses(&sent(&mut sip)), vec![100]);
    sip.handle_datagram(
        t0 + Duration::from_millis(500),
        Transport::Udp,
        venue(),
        &invite("z9hG4bK-r", 1, None),
    );
    assert!(
        events(&mut sip).is_empty(),
        "the retransmission is not a new call"
    );
    assert_eq!(
        statuses(&sent(&mut sip)),
        vec![100],
        "the last response is repeated"
    );
}

#[test]
fn lost_ack_retransmits_2xx_then_ends_the_call_with_bye() {
    let t0 = Instant::now();
    let mut sip = core();
    sip.handle_datagram(t0, Transport::Udp, venue(), &invite("z9hG4bK-l", 1, None));
    let call = incoming(&mut sip);
    sip.accept(t0, call, Bytes::from_static(SDP.as_bytes()))
        .unwrap();
    assert_eq!(statuses(&sent(&mut sip)), vec![100, 200]);
    // Drive the clock to 64*T1 = 32 s, collecting retransmissions.
    let mut retransmits = Vec::new();
    while let Some(at) = sip.poll_timeout() {
        if at > t0 + Duration::from_secs(40) {
            break;
        }
        let now = at;
        sip.handle_timeout(now);
        for m in sent(&mut sip) {
            retransmits.push(((now - t0).as_millis(), m));
        }
    }
    let times: Vec<u128> = retransmits
        .iter()
        .filter(|(_, m)| matches!(m, SipMessage::Response(r) if r.status == 200))
        .map(|(t, _)| *t)
        .collect();
    // T1, then doubling capped at T2 (4 s): 0.5, 1.5, 3.5, 7.5, 11.5, ...
    assert_eq!(&times[..4], &[500, 1500, 3500, 7500]);
    assert!(times.windows(2).skip(3).all(|w| w[1] - w[0] <= 4000));
    let bye = retransmits
        .iter()
        .find(|(_, m)| matches!(m, SipMessage::Request(r) if r.method == Method::Bye))
        .expect("BYE after the ACK timeout");
    assert_eq!(bye.0, 32_000);
    assert!(matches!(
        events(&mut sip).as_slice(),
        [SipEvent::CallEnded { call: c, reason: EndReason::AckTimeout }] if *c == call
    ));
}

#[test]
fn cancel_before_answer_gives_487_and_ends_the_call() {
    let t0 = Instant::now();
    let mut sip = core();
    sip.handle_datagram(t0, Transport::Udp, venue(), &invite("z9hG4bK-x", 1, None));
    let call = incoming(&mut sip);
    let _ = sent(&mut sip);
    let cancel = String::from_utf8(invite("z9hG4bK-x", 1, None))
        .unwrap()
        .replace("INVITE sip:", "CANCEL sip:")
        .replace("1 INVITE", "1 CANCEL");
    let cancel = cancel.split("Contact:").next().unwrap().to_owned() + "Content-Length: 0\r\n\r\n";
    sip.handle_datagram(t0, Transport::Udp, venue(), cancel.as_bytes());
    let out = sent(&mut sip);
    assert_eq!(statuses(&out), vec![200, 487]);
    assert!(matches!(
        events(&mut sip).as_slice(),
        [SipEvent::CallEnded { call: c, reason: EndReason::Cancelled }] if *c == call
    ));
    assert!(
        sip.accept(t0, call, Bytes::new()).is_err(),
        "a cancelled call cannot be accepted"
    );
    // 487 is retransmitted until the ACK, which stops it.
    sip.handle_timeout(t0 + Duration::from_millis(500));
    assert_eq!(statuses(&sent(&mut sip)), vec![487]);
    let tag = response(&out, 487).headers.to().unwrap().tag.unwrap();
    sip.handle_datagram(
        t0,
        Transport::Udp,
        venue(),
        &in_dialog("ACK", "z9hG4bK-x", 1, &tag, "", ""),
    );
    sip.handle_timeout(t0 + Duration::from_secs(3));
    assert!(sent(&mut sip).is_empty());
}

fn target() -> DialTarget {
    DialTarget {
        uri: "sip:room@192.0.2.20".into(),
        dest: "192.0.2.20:5060".parse().unwrap(),
        transport: Transport::Udp,
    }
}

fn answer_to(req: &Request, status: u16, tag: &str, body: &str) -> Vec<u8> {
    let mut r = req.make_response(status, Some(tag));
    if status == 200 {
        r.headers.push("Contact", "<sip:room@192.0.2.20:5060>");
        r.headers.push("Content-Type", "application/sdp");
        r.body = Bytes::copy_from_slice(body.as_bytes());
    }
    SipMessage::Response(r).to_bytes().to_vec()
}

#[test]
fn dial_out_ringing_answered_ack_then_local_bye() {
    let t0 = Instant::now();
    let mut sip = core();
    let room = target().dest;
    let call = sip
        .invite(
            t0,
            &target(),
            "mcu",
            Some(Bytes::from_static(SDP.as_bytes())),
        )
        .unwrap();
    let out = sent(&mut sip);
    let inv = request(&out, Method::Invite);
    assert_eq!(inv.body, SDP.as_bytes());
    // Retransmitted at T1 while nothing comes back.
    sip.handle_timeout(t0 + Duration::from_millis(500));
    assert_eq!(
        request(&sent(&mut sip), Method::Invite)
            .headers
            .top_via()
            .unwrap()
            .branch,
        inv.headers.top_via().unwrap().branch
    );

    sip.handle_datagram(t0, Transport::Udp, room, &answer_to(&inv, 180, "r1", ""));
    assert!(matches!(events(&mut sip).as_slice(), [SipEvent::Ringing { call: c }] if *c == call));
    sip.handle_datagram(t0, Transport::Udp, room, &answer_to(&inv, 200, "r1", SDP));
    assert!(
        matches!(events(&mut sip).as_slice(), [SipEvent::Answered { call: c, answer: Some(_) }] if *c == call)
    );
    let ack = request(&sent(&mut sip), Method::Ack);
    assert_eq!(ack.headers.cseq().unwrap().seq, 1);
    assert_eq!(ack.headers.to().unwrap().tag.as_deref(), Some("r1"));
    assert_eq!(
        ack.uri.as_str(),
        "sip:room@192.0.2.20:5060",
        "ACK goes to the Contact"
    );
    // A retransmitted 200 is ACKed again.
    sip.handle_datagram(t0, Transport::Udp, room, &answer_to(&inv, 200, "r1", SDP));
    assert_eq!(
        request(&sent(&mut sip), Method::Ack)
            .headers
            .cseq()
            .unwrap()
            .seq,
        1
    );
    // No INVITE retransmission once answered.
    sip.handle_timeout(t0 + Duration::from_secs(5));
    assert!(sent(&mut sip).is_empty());

    sip.send_info(
        t0,
        call,
        "application/media_control+xml",
        Bytes::from_static(b"<picture_fast_update/>"),
    )
    .unwrap();
    let info = request(&sent(&mut sip), Method::Info);
    assert_eq!(info.headers.cseq().unwrap().seq, 2);
    sip.handle_datagram(t0, Transport::Udp, room, &answer_to(&info, 200, "r1", ""));

    sip.bye(t0, call).unwrap();
    let bye = request(&sent(&mut sip), Method::Bye);
    assert_eq!(bye.headers.cseq().unwrap().seq, 3);
    assert!(events(&mut sip).is_empty(), "ended when the BYE completes");
    sip.handle_datagram(t0, Transport::Udp, room, &answer_to(&bye, 200, "r1", ""));
    assert!(matches!(
        events(&mut sip).as_slice(),
        [SipEvent::CallEnded { call: c, reason: EndReason::LocalBye }] if *c == call
    ));
}

#[test]
fn dial_out_busy_is_acked_and_reported() {
    let t0 = Instant::now();
    let mut sip = core();
    let call = sip.invite(t0, &target(), "mcu", None).unwrap();
    let inv = request(&sent(&mut sip), Method::Invite);
    let mut busy = inv.make_response(486, Some("b1"));
    busy.headers.push("Retry-After", "30");
    let busy = SipMessage::Response(busy).to_bytes();
    sip.handle_datagram(t0, Transport::Udp, target().dest, &busy);
    let ack = request(&sent(&mut sip), Method::Ack);
    assert_eq!(
        ack.headers.top_via().unwrap().branch,
        inv.headers.top_via().unwrap().branch
    );
    assert!(matches!(
        events(&mut sip).as_slice(),
        [SipEvent::Failed { call: c, status: 486, retry_after: Some(30) }] if *c == call
    ));
    // The retransmitted 486 is absorbed with another ACK, and no new event.
    sip.handle_datagram(t0, Transport::Udp, target().dest, &busy);
    assert_eq!(sent(&mut sip).len(), 1);
    assert!(events(&mut sip).is_empty());
}

#[test]
fn dial_out_without_answer_times_out_after_64_t1() {
    let t0 = Instant::now();
    let mut sip = core();
    let call = sip.invite(t0, &target(), "mcu", None).unwrap();
    let mut invites = 0;
    while let Some(at) = sip.poll_timeout() {
        invites += sent(&mut sip).len();
        sip.handle_timeout(at);
        if !events(&mut sip).is_empty() {
            assert_eq!(at - t0, Duration::from_secs(32));
            break;
        }
    }
    // 0, 0.5, 1.5, 3.5, 7.5, 15.5, 31.5 s (timer A doubles without cap).
    assert_eq!(invites + sent(&mut sip).len(), 7);
    assert!(sip.bye(t0, call).is_err(), "the failed call is gone");
}

#[test]
fn reinvite_info_and_options_inside_a_call() {
    let t0 = Instant::now();
    let mut sip = core();
    sip.handle_datagram(t0, Transport::Udp, venue(), &invite("z9hG4bK-1", 1, None));
    let call = incoming(&mut sip);
    sip.accept(t0, call, Bytes::from_static(SDP.as_bytes()))
        .unwrap();
    let tag = response(&sent(&mut sip), 200)
        .headers
        .to()
        .unwrap()
        .tag
        .unwrap();
    sip.handle_datagram(
        t0,
        Transport::Udp,
        venue(),
        &in_dialog("ACK", "z9hG4bK-2", 1, &tag, "", ""),
    );
    let _ = events(&mut sip);

    let info_body = "<media_control><vc_primitive><to_encoder><picture_fast_update/></to_encoder></vc_primitive></media_control>";
    sip.handle_datagram(
        t0,
        Transport::Udp,
        venue(),
        &in_dialog(
            "INFO",
            "z9hG4bK-3",
            2,
            &tag,
            "Content-Type: application/media_control+xml\r\n",
            info_body,
        ),
    );
    assert_eq!(statuses(&sent(&mut sip)), vec![200]);
    let ev = events(&mut sip);
    let [
        SipEvent::InfoReceived {
            content_type: Some(ct),
            body,
            ..
        },
    ] = ev.as_slice()
    else {
        panic!("{ev:?}")
    };
    assert_eq!(ct, "application/media_control+xml");
    assert!(body.starts_with(b"<media_control>"));

    sip.handle_datagram(
        t0,
        Transport::Udp,
        venue(),
        &in_dialog(
            "INVITE",
            "z9hG4bK-4",
            3,
            &tag,
            "Content-Type: application/sdp\r\n",
            SDP,
        ),
    );
    assert_eq!(statuses(&sent(&mut sip)), vec![100]);
    let ev = events(&mut sip);
    assert!(
        matches!(ev.as_slice(), [SipEvent::ReInvite { call: c, offer: Some(_) }] if *c == call)
    );
    // A second offer while one is pending: 491.
    sip.handle_datagram(
        t0,
        Transport::Udp,
        venue(),
        &in_dialog("INVITE", "z9hG4bK-5", 4, &tag, "", ""),
    );
    assert_eq!(statuses(&sent(&mut sip)), vec![491]);
    sip.handle_datagram(
        t0,
        Transport::Udp,
        venue(),
        &in_dialog("ACK", "z9hG4bK-5", 4, &tag, "", ""),
    );
    sip.accept_reinvite(t0, call, Bytes::from_static(SDP.as_bytes()))
        .unwrap();
    assert_eq!(statuses(&sent(&mut sip)), vec![200]);
    sip.handle_datagram(
        t0,
        Transport::Udp,
        venue(),
        &in_dialog("ACK", "z9hG4bK-6", 3, &tag, "", ""),
    );
    assert!(
        events(&mut sip).is_empty(),
        "a re-INVITE ACK does not re-confirm"
    );
    sip.handle_timeout(t0 + Duration::from_secs(3));
    assert!(
        sent(&mut sip).is_empty(),
        "no 2xx retransmission after the ACK"
    );

    sip.handle_datagram(
        t0,
        Transport::Udp,
        venue(),
        &in_dialog("OPTIONS", "z9hG4bK-7", 5, &tag, "", ""),
    );
    let ok = response(&sent(&mut sip), 200);
    assert!(ok.headers.text("Allow").unwrap().contains("INFO"));
    // BYE for an unknown dialog: 481.
    sip.handle_datagram(
        t0,
        Transport::Udp,
        venue(),
        &in_dialog("BYE", "z9hG4bK-8", 6, "nosuchtag", "", ""),
    );
    assert_eq!(statuses(&sent(&mut sip)), vec![481]);
}

#[test]
fn session_timer_expiry_ends_the_call_with_bye() {
    let t0 = Instant::now();
    let mut sip = core();
    let inv = String::from_utf8(invite("z9hG4bK-s", 1, None))
        .unwrap()
        .replace(
            "Max-Forwards: 70\r\n",
            "Max-Forwards: 70\r\nSession-Expires: 90\r\nSupported: timer\r\n",
        );
    sip.handle_datagram(t0, Transport::Udp, venue(), inv.as_bytes());
    let call = incoming(&mut sip);
    sip.accept(t0, call, Bytes::from_static(SDP.as_bytes()))
        .unwrap();
    let ok = response(&sent(&mut sip), 200);
    assert_eq!(ok.headers.session_expires().unwrap().seconds, 90);
    assert_eq!(ok.headers.require(), vec!["timer"]);
    let tag = ok.headers.to().unwrap().tag.unwrap();
    sip.handle_datagram(
        t0,
        Transport::Udp,
        venue(),
        &in_dialog("ACK", "z9hG4bK-a2", 1, &tag, "", ""),
    );
    let _ = events(&mut sip);
    // A refresh (UPDATE without body) at 60 s moves the deadline to 150 s.
    let t60 = t0 + Duration::from_secs(60);
    sip.handle_datagram(
        t60,
        Transport::Udp,
        venue(),
        &in_dialog("UPDATE", "z9hG4bK-u", 2, &tag, "", ""),
    );
    assert_eq!(statuses(&sent(&mut sip)), vec![200]);
    sip.handle_timeout(t0 + Duration::from_secs(100));
    assert!(events(&mut sip).is_empty());
    sip.handle_timeout(t0 + Duration::from_secs(151));
    assert!(matches!(
        events(&mut sip).as_slice(),
        [SipEvent::CallEnded { call: c, reason: EndReason::SessionExpired }] if *c == call
    ));
    request(&sent(&mut sip), Method::Bye);
}

#[test]
fn register_is_handed_to_the_caller_and_answered() {
    let t0 = Instant::now();
    let mut sip = core();
    let reg = "REGISTER sip:198.51.100.1 SIP/2.0\r\nVia: SIP/2.0/UDP 192.0.2.9:5062;branch=z9hG4bK-reg\r\n\
               Max-Forwards: 70\r\nFrom: <sip:jinan@198.51.100.1>;tag=r\r\nTo: <sip:jinan@198.51.100.1>\r\n\
               Call-ID: reg-1\r\nCSeq: 7 REGISTER\r\nContact: <sip:jinan@192.0.2.9:5062>\r\nExpires: 600\r\n\
               Content-Length: 0\r\n\r\n";
    sip.handle_datagram(t0, Transport::Udp, venue(), reg.as_bytes());
    let ev = events(&mut sip);
    let [
        SipEvent::Register {
            request,
            aor,
            expires: Some(600),
            cseq: 7,
            ..
        },
    ] = ev.as_slice()
    else {
        panic!("{ev:?}")
    };
    assert_eq!(aor.user(), Some("jinan"));
    sip.respond(
        t0,
        *request,
        200,
        &[
            ("Contact", "<sip:jinan@192.0.2.9:5062>;expires=600".into()),
            ("Expires", "600".into()),
        ],
    )
    .unwrap();
    let ok = response(&sent(&mut sip), 200);
    assert_eq!(ok.headers.expires(), Some(600));
    assert!(
        sip.respond(t0, *request, 200, &[]).is_err(),
        "answered once"
    );
}

/// RFC 3264 §4 delayed offer: an INVITE without SDP gets our offer in the 200, and the ACK's
/// SDP reaches the service as the answer.
#[test]
fn invite_without_sdp_gets_the_offer_in_the_200_and_the_ack_answers() {
    let mut sip = core();
    let t0 = Instant::now();
    let bare = String::from_utf8(invite("z9hG4bK-d1", 1, None)).unwrap();
    let head = bare.split("Content-Type").next().unwrap();
    let no_sdp = format!("{head}Content-Length: 0\r\n\r\n");
    sip.handle_datagram(t0, Transport::Udp, venue(), no_sdp.as_bytes());
    let ev = events(&mut sip);
    let [
        SipEvent::IncomingCall {
            call, offer: None, ..
        },
    ] = ev.as_slice()
    else {
        panic!("{ev:?}")
    };
    let call = *call;
    sip.accept(t0, call, Bytes::from_static(SDP.as_bytes()))
        .unwrap();
    let out = sent(&mut sip);
    let ok = response(&out, 200);
    assert_eq!(ok.body, SDP.as_bytes(), "our offer is in the 200");
    let tag = ok.headers.to().unwrap().tag.unwrap();
    let answer = SDP.replace("4000", "4002");
    sip.handle_datagram(
        t0,
        Transport::Udp,
        venue(),
        &in_dialog(
            "ACK",
            "z9hG4bK-d2",
            1,
            &tag,
            "Content-Type: application/sdp\r\n",
            &answer,
        ),
    );
    let ev = events(&mut sip);
    let [
        SipEvent::CallConfirmed {
            call: c,
            answer: Some(a),
        },
    ] = ev.as_slice()
    else {
        panic!("{ev:?}")
    };
    assert_eq!(*c, call);
    assert_eq!(a.as_ref(), answer.as_bytes());
}

/// A callee that challenges our INVITE (a cascaded MCU, an SBC): the challenge is reported,
/// answered with a new INVITE (same dialog identifiers, next CSeq, new branch, Authorization),
/// the 200 is ACKed with that CSeq. A second challenge means the credentials were refused.
#[test]
fn dial_out_answers_a_digest_challenge_once() {
    use dais_sip::digest::{DigestChallenge, ha1};
    let t0 = Instant::now();
    let mut sip = core();
    let call = sip.invite(t0, &target(), "mcu", None).unwrap();
    let inv = request(&sent(&mut sip), Method::Invite);
    let mut chal = inv.make_response(401, Some("u1"));
    chal.headers.push(
        "WWW-Authenticate",
        "Digest realm=\"dais\", nonce=\"n1\", algorithm=MD5, qop=\"auth\"",
    );
    let chal = SipMessage::Response(chal).to_bytes();
    sip.handle_datagram(t0, Transport::Udp, target().dest, &chal);
    let ack = request(&sent(&mut sip), Method::Ack);
    assert_eq!(ack.headers.cseq().unwrap().seq, 1, "the 401 is ACKed");
    let ev = events(&mut sip);
    let [
        SipEvent::AuthChallenge {
            call: c,
            status: 401,
            challenges,
        },
    ] = ev.as_slice()
    else {
        panic!("{ev:?}")
    };
    assert_eq!(*c, call);
    let ch = DigestChallenge::parse(&challenges[0]).unwrap();
    let h = ha1(DigestAlgorithm::Md5, "mcu", "dais", "pw");
    let value = ch
        .answer("mcu", &h, "INVITE", &target().uri, "cn", 1)
        .unwrap();
    sip.answer_challenge(t0, call, 401, &value).unwrap();
    let again = request(&sent(&mut sip), Method::Invite);
    assert_eq!(again.headers.cseq().unwrap().seq, 2);
    assert_eq!(
        again.headers.call_id().unwrap(),
        inv.headers.call_id().unwrap()
    );
    assert_eq!(
        again.headers.from().unwrap().tag,
        inv.headers.from().unwrap().tag
    );
    assert_ne!(
        again.headers.top_via().unwrap().branch,
        inv.headers.top_via().unwrap().branch
    );
    let creds = DigestCredentials::parse(&again.headers.authorization().next().unwrap()).unwrap();
    assert_eq!(
        creds.response,
        dais_sip::digest::expected_response(DigestAlgorithm::Md5, &h, "INVITE", &creds)
    );
    assert!(
        sip.answer_challenge(t0, call, 401, &value).is_err(),
        "one answer per call"
    );
    let ok = SipMessage::Response(again.make_response(200, Some("u1"))).to_bytes();
    sip.handle_datagram(t0, Transport::Udp, target().dest, &ok);
    let ack = request(&sent(&mut sip), Method::Ack);
    assert_eq!(
        ack.headers.cseq().unwrap().seq,
        2,
        "the ACK repeats the INVITE's CSeq"
    );
    assert!(
        matches!(events(&mut sip).as_slice(), [SipEvent::Answered { call: c, .. }] if *c == call)
    );

    // Another call: challenged twice → failed with the status.
    let call = sip.invite(t0, &target(), "mcu", None).unwrap();
    let inv = request(&sent(&mut sip), Method::Invite);
    let mut chal = inv.make_response(407, Some("p1"));
    chal.headers
        .push("Proxy-Authenticate", "Digest realm=\"dais\", nonce=\"n2\"");
    sip.handle_datagram(
        t0,
        Transport::Udp,
        target().dest,
        &SipMessage::Response(chal).to_bytes(),
    );
    let _ = sent(&mut sip);
    assert!(matches!(
        events(&mut sip).as_slice(),
        [SipEvent::AuthChallenge { status: 407, .. }]
    ));
    sip.answer_challenge(t0, call, 407, "Digest username=\"mcu\"")
        .unwrap();
    let again = request(&sent(&mut sip), Method::Invite);
    assert!(again.headers.get("Proxy-Authorization").is_some());
    let mut chal = again.make_response(407, Some("p1"));
    chal.headers
        .push("Proxy-Authenticate", "Digest realm=\"dais\", nonce=\"n3\"");
    sip.handle_datagram(
        t0,
        Transport::Udp,
        target().dest,
        &SipMessage::Response(chal).to_bytes(),
    );
    assert!(matches!(
        events(&mut sip).as_slice(),
        [SipEvent::Failed { call: c, status: 407, .. }] if *c == call
    ));
}

/// RFC 3261 §18.1.1: an INVITE over 1300 bytes goes over TCP even to a UDP target; when the
/// TCP connection cannot be made it is sent again over UDP (new branch), and the call goes on.
#[test]
fn a_large_invite_goes_over_tcp_and_falls_back_to_udp() {
    let t0 = Instant::now();
    let mut sip = core();
    let mut big = String::from(SDP);
    for i in 0..40 {
        big.push_str(&format!("a=x-filler-{i}:0123456789abcdef\r\n"));
    }
    assert!(big.len() > 1300);
    let call = sip
        .invite(t0, &target(), "mcu", Some(Bytes::from(big.clone())))
        .unwrap();
    let first = sip.poll_transmit().unwrap();
    assert_eq!(first.transport, Transport::Tcp);
    let inv = match parse(&first.bytes).unwrap() {
        SipMessage::Request(r) => r,
        other => panic!("{other:?}"),
    };
    assert_eq!(inv.headers.top_via().unwrap().transport, "TCP");

    // A small request to the same target stays on UDP.
    let _small = sip.invite(t0, &target(), "mcu", None).unwrap();
    assert_eq!(sip.poll_transmit().unwrap().transport, Transport::Udp);

    sip.connection_failed(t0, target().dest);
    let again = sip.poll_transmit().unwrap();
    assert_eq!(again.transport, Transport::Udp);
    assert!(
        sip.poll_transmit().is_none(),
        "only the large INVITE is resent"
    );
    let retry = match parse(&again.bytes).unwrap() {
        SipMessage::Request(r) => r,
        other => panic!("{other:?}"),
    };
    let via = retry.headers.top_via().unwrap();
    assert_eq!(via.transport, "UDP");
    assert_ne!(via.branch, inv.headers.top_via().unwrap().branch);
    assert_eq!(retry.body, big.as_bytes());
    // The UDP retry retransmits like any UDP INVITE, and its answer completes the call.
    sip.handle_timeout(t0 + Duration::from_millis(500));
    assert!(
        sent(&mut sip)
            .iter()
            .any(|m| matches!(m, SipMessage::Request(r) if r.method == Method::Invite))
    );
    let ok = SipMessage::Response(retry.make_response(200, Some("u9"))).to_bytes();
    sip.handle_datagram(t0, Transport::Udp, target().dest, &ok);
    assert!(
        events(&mut sip)
            .iter()
            .any(|e| matches!(e, SipEvent::Answered { call: c, .. } if *c == call))
    );
}
