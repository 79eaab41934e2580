//! Every RFC 4475 / RFC 5118 torture message through the server core over UDP, with the outcome
//! `tests/data/torture/INDEX.md` prescribes for an endpoint (a UAS/registrar front, not a proxy).
use std::net::SocketAddr;
use std::path::Path;
use std::time::Instant;

use dais_sip::{
    CoreConfig, Limits, SipCore, SipEvent, SipMessage, Transport, parse, parse_unvalidated,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Outcome {
    /// IncomingCall raised (100 Trying sent); the test rejects it 486 as a caller would.
    Call,
    /// Register event raised; the test answers 200.
    Register,
    /// Answered by the core itself with this final status.
    Status(u16),
    /// Nothing sent, no event (responses, unusable framing).
    Dropped,
}
use Outcome::*;

const EXPECTED: &[(&str, Outcome)] = &[
    // RFC 4475 §3.1.1: valid, must be processed.
    // Its To carries a tag matching no dialog of ours: RFC 3261 §12.2.2 says 481.
    ("wsinv.dat", Status(481)),
    ("intmeth.dat", Status(501)),
    ("esc01.dat", Call),
    ("escnull.dat", Register),
    ("esc02.dat", Status(501)),
    ("lwsdisp.dat", Status(200)),
    ("longreq.dat", Call),
    ("dblreq.dat", Register),
    ("semiuri.dat", Status(200)),
    ("transports.dat", Status(200)),
    ("mpart01.dat", Status(405)),
    ("unreason.dat", Dropped),
    ("noreason.dat", Dropped),
    // §3.1.2: invalid.
    ("badinv01.dat", Status(400)),
    ("clerr.dat", Status(400)),
    ("ncl.dat", Status(400)),
    ("scalar02.dat", Status(400)),
    ("scalarlg.dat", Dropped),
    ("quotbal.dat", Status(400)),
    ("ltgtruri.dat", Status(400)),
    ("lwsruri.dat", Status(400)),
    ("lwsstart.dat", Status(400)),
    ("trws.dat", Status(400)),
    ("escruri.dat", Status(400)),
    // The Date value does not matter to us, so it is ignored (allowed by §3.1.2.12).
    ("baddate.dat", Call),
    ("regbadct.dat", Status(400)),
    ("badaspec.dat", Status(400)),
    ("baddn.dat", Status(400)),
    ("badvers.dat", Status(505)),
    ("mismatch01.dat", Status(400)),
    ("mismatch02.dat", Status(501)),
    ("bigcode.dat", Dropped),
    // §3.2, §3.3, §3.4: valid syntax, application semantics.
    ("badbranch.dat", Status(200)),
    ("insuf.dat", Status(400)),
    ("unkscm.dat", Status(416)),
    ("novelsc.dat", Status(416)),
    ("unksm2.dat", Status(400)),
    ("bext01.dat", Status(420)),
    ("invut.dat", Status(415)),
    ("regaut01.dat", Register),
    ("multi01.dat", Status(400)),
    ("mcl01.dat", Status(400)),
    ("bcast.dat", Dropped),
    ("zeromf.dat", Status(200)),
    ("cparam01.dat", Register),
    ("cparam02.dat", Register),
    ("regescrt.dat", Register),
    ("sdp01.dat", Status(406)),
    ("inv2543.dat", Call),
    // RFC 5118 wire-ready variants.
    ("rfc5118/wire/ipv6-good.dat", Register),
    ("rfc5118/wire/ipv6-bad.dat", Status(400)),
    ("rfc5118/wire/port-ambiguous.dat", Register),
    ("rfc5118/wire/port-unambiguous.dat", Register),
    (
        "rfc5118/wire/via-received-param-with-delim.dat",
        Status(481),
    ),
    ("rfc5118/wire/via-received-param-no-delim.dat", Status(200)),
    ("rfc5118/wire/ipv6-in-sdp.dat", Call),
    ("rfc5118/wire/mult-ip-in-header.dat", Status(481)),
    ("rfc5118/wire/mult-ip-in-sdp.dat", Call),
    ("rfc5118/wire/ipv4-mapped-ipv6.dat", Call),
    ("rfc5118/wire/ipv6-bug-abnf-3-colons.dat", Status(200)),
    ("rfc5118/wire/ipv6-correct-abnf-2-colons.dat", Status(200)),
    // RFC 5118 archive bytes: bare LF (tolerated in the head), two without the closing empty
    // line (the whole datagram is then the head), two with a Content-Length longer than the
    // body (400, as clerr).
    ("rfc5118/ipv6-good.dat", Register),
    ("rfc5118/ipv6-bad.dat", Status(400)),
    ("rfc5118/port-ambiguous.dat", Register),
    ("rfc5118/port-unambiguous.dat", Register),
    ("rfc5118/via-received-param-with-delim.dat", Status(481)),
    ("rfc5118/via-received-param-no-delim.dat", Status(200)),
    ("rfc5118/ipv6-in-sdp.dat", Status(400)),
    ("rfc5118/mult-ip-in-header.dat", Status(481)),
    ("rfc5118/mult-ip-in-sdp.dat", Status(400)),
    ("rfc5118/ipv4-mapped-ipv6.dat", Call),
    ("rfc5118/ipv6-bug-abnf-3-colons.dat", Status(200)),
    ("rfc5118/ipv6-correct-abnf-2-colons.dat", Status(200)),
];

fn data(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/data/torture")
            .join(name),
    )
    .unwrap()
}

fn statuses(core: &mut SipCore) -> Vec<u16> {
    let mut out = Vec::new();
    while let Some(t) = core.poll_transmit() {
        // Not `parse`: a 400 copies the peer's malformed Via verbatim, as it must.
        match parse_unvalidated(t.bytes.clone(), &Limits::default())
            .expect("we send parseable messages")
        {
            SipMessage::Response(r) => out.push(r.status),
            SipMessage::Request(r) => panic!("unexpected request {}", r.method),
        }
    }
    out
}

fn run(name: &str) -> Outcome {
    let now = Instant::now();
    let peer: SocketAddr = "192.0.2.1:5060".parse().unwrap();
    let mut core = SipCore::new(CoreConfig::default());
    core.handle_datagram(now, Transport::Udp, peer, &data(name));
    let mut outcome = None;
    while let Some(ev) = core.poll_event() {
        match ev {
            SipEvent::IncomingCall { call, .. } => {
                core.reject(now, call, 486, None).unwrap();
                outcome = Some(Call);
            }
            SipEvent::Register { request, .. } => {
                core.respond(now, request, 200, &[]).unwrap();
                outcome = Some(Register);
            }
            other => panic!("{name}: unexpected event {other:?}"),
        }
    }
    let sent = statuses(&mut core);
    match outcome {
        Some(Call) => {
            assert_eq!(
                sent,
                vec![100, 486],
                "{name}: Trying then the caller's answer"
            );
            Call
        }
        Some(Register) => {
            assert_eq!(sent, vec![200], "{name}");
            Register
        }
        _ if sent.is_empty() => Dropped,
        _ => {
            assert_eq!(sent.len(), 1, "{name}: one answer, got {sent:?}");
            Status(sent[0])
        }
    }
}

#[test]
fn every_torture_message_gets_the_prescribed_outcome() {
    let mut failures = Vec::new();
    for (name, want) in EXPECTED {
        let got = run(name);
        if got != *want {
            failures.push(format!("{name}: want {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn the_table_covers_every_file_of_the_index() {
    let index = String::from_utf8(data("index.tsv")).unwrap();
    for line in index.lines().skip(1) {
        let file = line.split('\t').next().unwrap();
        assert!(
            EXPECTED.iter().any(|(n, _)| n == &file),
            "{file} has no expected outcome"
        );
    }
}

#[test]
fn intmeth_501_lists_allow_and_badvers_quotes_505() {
    let now = Instant::now();
    let peer: SocketAddr = "192.0.2.1:5060".parse().unwrap();
    let mut core = SipCore::new(CoreConfig::default());
    core.handle_datagram(now, Transport::Udp, peer, &data("intmeth.dat"));
    let t = core.poll_transmit().unwrap();
    assert_eq!(t.dest, peer);
    let SipMessage::Response(r) = parse(&t.bytes).unwrap() else {
        panic!()
    };
    assert!(r.headers.text("Allow").unwrap().contains("INVITE"));
    core.handle_datagram(now, Transport::Udp, peer, &data("bext01.dat"));
    let SipMessage::Response(r) = parse(&core.poll_transmit().unwrap().bytes).unwrap() else {
        panic!()
    };
    assert_eq!(r.status, 420);
    let unsupported = r.headers.text("Unsupported").unwrap();
    assert!(unsupported.contains("nothingSupportsThis"), "{unsupported}");
}

#[test]
fn torture_messages_over_tcp_never_panic_and_broken_framing_closes() {
    let now = Instant::now();
    for (name, _) in EXPECTED {
        let peer: SocketAddr = "192.0.2.7:5060".parse().unwrap();
        let mut core = SipCore::new(CoreConfig::default());
        core.handle_datagram(now, Transport::Tcp, peer, &data(name));
        while core.poll_event().is_some() {}
        while core.poll_transmit().is_some() {}
    }
    let peer: SocketAddr = "192.0.2.7:5060".parse().unwrap();
    for name in ["ncl.dat", "mcl01.dat"] {
        let mut core = SipCore::new(CoreConfig::default());
        core.handle_datagram(now, Transport::Tcp, peer, &data(name));
        assert!(
            matches!(core.poll_event(), Some(SipEvent::CloseConnection { .. })),
            "{name}"
        );
    }
}
