//! Digest vectors from RFC 7616 §3.9.1 and RFC 2617 §3.5, and the server's nonce life cycle.
use std::time::{Duration, Instant};

use dais_sip::digest::{
    DigestAlgorithm, DigestCredentials, DigestOutcome, DigestServer, expected_response, ha1,
};

fn rfc7616_creds(alg: &str, response: &str) -> DigestCredentials {
    DigestCredentials::parse(&format!(
        "Digest username=\"Mufasa\", realm=\"http-auth@example.org\", uri=\"/dir/index.html\", \
         algorithm={alg}, nonce=\"7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v\", nc=00000001, \
         cnonce=\"f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ\", qop=auth, \
         response=\"{response}\", opaque=\"FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS\""
    ))
    .unwrap()
}

#[test]
fn rfc7616_sha256_vector_matches() {
    let c = rfc7616_creds(
        "SHA-256",
        "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
    );
    assert_eq!(c.algorithm(), Some(DigestAlgorithm::Sha256));
    let h = ha1(
        DigestAlgorithm::Sha256,
        "Mufasa",
        "http-auth@example.org",
        "Circle of Life",
    );
    assert_eq!(
        expected_response(DigestAlgorithm::Sha256, &h, "GET", &c),
        c.response
    );
}

#[test]
fn rfc7616_md5_vector_matches() {
    let c = rfc7616_creds("MD5", "8ca523f5e9506fed4657c9700eebdbec");
    let h = ha1(
        DigestAlgorithm::Md5,
        "Mufasa",
        "http-auth@example.org",
        "Circle of Life",
    );
    assert_eq!(
        expected_response(DigestAlgorithm::Md5, &h, "GET", &c),
        c.response
    );
}

#[test]
fn rfc2617_md5_vector_matches() {
    let c = DigestCredentials::parse(
        "Digest username=\"Mufasa\", realm=\"testrealm@host.com\", \
         nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", uri=\"/dir/index.html\", qop=auth, \
         nc=00000001, cnonce=\"0a4f113b\", response=\"6629fae49393a05397450978507c4ef1\", \
         opaque=\"5ccc069c403ebaf9f0171e9517f40e41\"",
    )
    .unwrap();
    assert_eq!(c.algorithm(), Some(DigestAlgorithm::Md5));
    let h = ha1(
        DigestAlgorithm::Md5,
        "Mufasa",
        "testrealm@host.com",
        "Circle Of Life",
    );
    assert_eq!(
        expected_response(DigestAlgorithm::Md5, &h, "GET", &c),
        c.response
    );
}

/// What a UAC would send for `nonce` (the UAC side of the computation, for tests).
fn answer(alg: DigestAlgorithm, nonce: &str, nc: u32, password: &str) -> DigestCredentials {
    let mut c = DigestCredentials::parse(&format!(
        "Digest username=\"venue7\", realm=\"dais\", nonce=\"{nonce}\", uri=\"sip:1234@mcu\", \
         response=\"00\", algorithm={}, qop=auth, nc={nc:08x}, cnonce=\"abc\"",
        alg.token()
    ))
    .unwrap();
    let h = ha1(alg, "venue7", "dais", password);
    c.response = expected_response(alg, &h, "INVITE", &c);
    c
}

fn nonce_of(challenge: &str) -> String {
    challenge
        .split("nonce=\"")
        .nth(1)
        .unwrap()
        .split('"')
        .next()
        .unwrap()
        .to_owned()
}

#[test]
fn server_accepts_both_algorithms_and_rejects_wrong_password() {
    let t0 = Instant::now();
    let mut s = DigestServer::new("dais", b"secret-key", t0, Duration::from_secs(300));
    let ch = s.challenge(t0, false);
    assert_eq!(ch.len(), 2);
    assert!(ch[0].contains("algorithm=SHA-256") && ch[1].contains("algorithm=MD5"));
    for (i, alg) in [DigestAlgorithm::Sha256, DigestAlgorithm::Md5]
        .into_iter()
        .enumerate()
    {
        // A nonce per algorithm run, so nc counting starts afresh.
        let now = t0 + Duration::from_secs(i as u64 + 1);
        let nonce = nonce_of(&s.challenge(now, false)[i]);
        assert_eq!(
            s.verify(now, "INVITE", &answer(alg, &nonce, 1, "pw"), "pw"),
            DigestOutcome::Valid
        );
        let wrong = answer(alg, &nonce, 2, "wrong");
        assert_eq!(
            s.verify(now, "INVITE", &wrong, "pw"),
            DigestOutcome::WrongResponse
        );
        assert_eq!(
            s.verify(now, "INVITE", &answer(alg, &nonce, 2, "pw"), "pw"),
            DigestOutcome::Valid
        );
    }
}

#[test]
fn replayed_nc_is_refused() {
    let t0 = Instant::now();
    let mut s = DigestServer::new("dais", b"k", t0, Duration::from_secs(300));
    let nonce = s.nonce(t0);
    let c = answer(DigestAlgorithm::Sha256, &nonce, 5, "pw");
    assert_eq!(s.verify(t0, "INVITE", &c, "pw"), DigestOutcome::Valid);
    assert_eq!(s.verify(t0, "INVITE", &c, "pw"), DigestOutcome::Replay);
    let older = answer(DigestAlgorithm::Sha256, &nonce, 4, "pw");
    assert_eq!(s.verify(t0, "INVITE", &older, "pw"), DigestOutcome::Replay);
}

#[test]
fn expired_nonce_with_right_password_is_stale() {
    let t0 = Instant::now();
    let mut s = DigestServer::new("dais", b"k", t0, Duration::from_secs(60));
    let nonce = s.nonce(t0);
    let c = answer(DigestAlgorithm::Md5, &nonce, 1, "pw");
    let later = t0 + Duration::from_secs(61);
    assert_eq!(s.verify(later, "INVITE", &c, "pw"), DigestOutcome::Stale);
    assert_eq!(
        s.verify(
            later,
            "INVITE",
            &answer(DigestAlgorithm::Md5, &nonce, 2, "bad"),
            "pw"
        ),
        DigestOutcome::WrongResponse
    );
    assert!(s.challenge(later, true)[0].ends_with("stale=true"));
}

#[test]
fn forged_or_foreign_nonce_is_unknown() {
    let t0 = Instant::now();
    let mut s = DigestServer::new("dais", b"k", t0, Duration::from_secs(60));
    let other = DigestServer::new("dais", b"other-key", t0, Duration::from_secs(60));
    let c = answer(DigestAlgorithm::Sha256, &other.nonce(t0), 1, "pw");
    assert_eq!(
        s.verify(t0, "INVITE", &c, "pw"),
        DigestOutcome::UnknownNonce
    );
    let c = answer(DigestAlgorithm::Sha256, "zz", 1, "pw");
    assert_eq!(
        s.verify(t0, "INVITE", &c, "pw"),
        DigestOutcome::UnknownNonce
    );
}

#[test]
fn credentials_debug_hides_response_and_parser_rejects_garbage() {
    let c = rfc7616_creds("MD5", "8ca523f5e9506fed4657c9700eebdbec");
    assert!(!format!("{c:?}").contains("8ca523f5"));
    assert!(DigestCredentials::parse("Basic dXNlcjpwYXNz").is_none());
    assert!(DigestCredentials::parse("Digest username=\"unterminated").is_none());
    assert!(DigestCredentials::parse("Digest").is_none());
    assert!(DigestCredentials::parse("NewAuth realm=\"x\"").is_none());
}

/// Nonces are stateless and change once a second, so clients challenged in the same second
/// share one; each has its own cnonce and starts at `nc=00000001`. None of them is a replay of
/// another (found by 100 concurrent sipp dial-ins).
#[test]
fn clients_sharing_a_nonce_each_have_their_own_count() {
    let t0 = Instant::now();
    let mut s = DigestServer::new("dais", b"k", t0, Duration::from_secs(300));
    let nonce = s.nonce(t0);
    let with_cnonce = |cnonce: &str, nc: u32| {
        let mut c = answer(DigestAlgorithm::Md5, &nonce, nc, "pw");
        c.cnonce = Some(cnonce.to_owned());
        let h = ha1(DigestAlgorithm::Md5, "venue7", "dais", "pw");
        c.response = expected_response(DigestAlgorithm::Md5, &h, "INVITE", &c);
        c
    };
    for client in ["a1", "b2", "c3"] {
        let c = with_cnonce(client, 1);
        assert_eq!(
            s.verify(t0, "INVITE", &c, "pw"),
            DigestOutcome::Valid,
            "{client}"
        );
    }
    // The same client repeating its count is a replay; counting on is not.
    let again = with_cnonce("b2", 1);
    assert_eq!(s.verify(t0, "INVITE", &again, "pw"), DigestOutcome::Replay);
    let next = with_cnonce("b2", 2);
    assert_eq!(s.verify(t0, "INVITE", &next, "pw"), DigestOutcome::Valid);
    // Without a cnonce a qop=auth answer is malformed.
    let mut bare = answer(DigestAlgorithm::Md5, &nonce, 3, "pw");
    bare.cnonce = None;
    assert_eq!(
        s.verify(t0, "INVITE", &bare, "pw"),
        DigestOutcome::WrongResponse
    );
}

/// Dial-out: a callee's challenge is answered, and our own server (the same rules any
/// RFC 8760 UAS applies) accepts the answer, for both algorithms.
#[test]
fn client_answers_a_challenge_the_server_accepts() {
    use dais_sip::digest::DigestChallenge;
    let t0 = Instant::now();
    let mut s = DigestServer::new("dais", b"k", t0, Duration::from_secs(300));
    for (i, value) in s.challenge(t0, false).into_iter().enumerate() {
        let ch = DigestChallenge::parse(&value).unwrap();
        let alg = ch.algorithm().unwrap();
        assert_eq!(ch.qop, vec!["auth".to_owned()]);
        let h = ha1(alg, "venue7", "dais", "pw");
        let header = ch
            .answer(
                "venue7",
                &h,
                "INVITE",
                "sip:room@10.0.0.9",
                &format!("c{i}"),
                1,
            )
            .unwrap();
        let creds = DigestCredentials::parse(&header).unwrap();
        assert_eq!(creds.algorithm(), Some(alg));
        assert_eq!(
            s.verify_ha1(t0, "INVITE", &creds, &h),
            DigestOutcome::Valid,
            "{header}"
        );
        // The wrong password's answer is refused.
        let bad = ha1(alg, "venue7", "dais", "nope");
        let header = ch
            .answer("venue7", &bad, "INVITE", "sip:room@10.0.0.9", "x", 1)
            .unwrap();
        let creds = DigestCredentials::parse(&header).unwrap();
        assert_eq!(
            s.verify_ha1(t0, "INVITE", &creds, &h),
            DigestOutcome::WrongResponse
        );
    }
}

#[test]
fn challenge_parsing_and_the_rfc2069_form() {
    use dais_sip::digest::DigestChallenge;
    let ch = DigestChallenge::parse(
        "Digest realm=\"biloxi.com\", nonce=\"dcd98b7102dd2f0e8b11d0f600bfb0c093\", \
         opaque=\"5ccc069c403ebaf9f0171e9517f40e41\", stale=TRUE",
    )
    .unwrap();
    assert!(ch.stale && ch.qop.is_empty());
    assert_eq!(ch.algorithm(), Some(DigestAlgorithm::Md5));
    let h = ha1(DigestAlgorithm::Md5, "bob", "biloxi.com", "zanzibar");
    let header = ch
        .answer("bob", &h, "INVITE", "sip:bob@biloxi.com", "unused", 1)
        .unwrap();
    assert!(!header.contains("qop"), "{header}");
    assert!(header.contains("opaque=\"5ccc069c403ebaf9f0171e9517f40e41\""));
    let creds = DigestCredentials::parse(&header).unwrap();
    assert_eq!(
        creds.response,
        expected_response(DigestAlgorithm::Md5, &h, "INVITE", &creds)
    );
    // Refused: another scheme, missing nonce, unknown algorithm, auth-int only.
    assert!(DigestChallenge::parse("Basic realm=\"x\"").is_none());
    assert!(DigestChallenge::parse("Digest realm=\"x\"").is_none());
    let odd =
        DigestChallenge::parse("Digest realm=\"x\", nonce=\"n\", algorithm=SHA-512-256").unwrap();
    assert!(odd.answer("u", "h", "INVITE", "sip:x", "c", 1).is_none());
    let int = DigestChallenge::parse("Digest realm=\"x\", nonce=\"n\", qop=\"auth-int\"").unwrap();
    assert!(int.answer("u", "h", "INVITE", "sip:x", "c", 1).is_none());
}
