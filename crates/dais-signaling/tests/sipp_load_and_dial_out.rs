//! 100 concurrent sipp dial-ins torn down by the meeting's end; dial-out to sipp UAS with redial.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::*;
use dais_conference::{Actor, ChairCommand, RedialPolicy, Role, VenueId};
use dais_signaling::ServiceStats;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hundred_concurrent_dial_ins_all_set_up_and_all_get_bye_at_meeting_end() {
    init_tracing();
    const N: usize = 100;
    let DialInMeeting {
        dir: _dir,
        svc,
        meeting: h,
        sipp_dir: d,
    } = dial_in_meeting("8200", "v", 3, N).await;
    let args = vec![
        "-sf".into(),
        scenario("uac_auth_wait_bye.xml").display().to_string(),
        "-inf".into(),
        "users.csv".into(),
        "-s".into(),
        "8200".into(),
        "-m".into(),
        N.to_string(),
        "-l".into(),
        N.to_string(),
        "-r".into(),
        "50".into(),
        "-p".into(),
        free_port().to_string(),
        "-mp".into(),
        free_port().to_string(),
        svc.local_addr().to_string(),
    ];
    let path = d.path().to_path_buf();
    let run = tokio::spawn(async move { sipp(&path, args).await });
    // Wait until all N legs are connected (bounded by sipp's own timeout).
    let stats = svc.stats();
    for _ in 0..300 {
        if ServiceStats::get(&stats.calls_answered) as usize >= N || run.is_finished() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(
        ServiceStats::get(&stats.calls_answered) as usize,
        N,
        "all calls set up"
    );
    let connected = h
        .view()
        .await
        .unwrap()
        .conference
        .legs
        .iter()
        .filter(|l| l.status.is_connected())
        .count();
    assert_eq!(connected, N, "every venue is connected in the meeting");
    h.command(
        Actor::new("admin", Role::ItCentre),
        ChairCommand::EndMeeting,
    )
    .await
    .unwrap();
    let run = run.await.unwrap();
    assert!(
        run.status.success(),
        "sipp:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(
        stat(&run, "SuccessfulCall(C)"),
        Some(N as u64),
        "every call got its BYE"
    );
    svc.shutdown().await;
    h.shutdown().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_out_to_sipp_uas_and_redial_after_it_hangs_up() {
    init_tracing();
    let dir = Arc::new(TestDir::default());
    let svc = start_service(&dir).await;
    let uas_port = free_port();
    let venue: VenueId = "room".parse().unwrap();
    dir.contacts
        .lock()
        .unwrap()
        .insert(venue.clone(), format!("sip:room@127.0.0.1:{uas_port}"));
    // sipp UAS: answers, hangs up after 1 s; the second call is the redial.
    let d = sipp_dir(&[]);
    let args = vec![
        "-sf".into(),
        scenario("uas_hangup.xml").display().to_string(),
        "-m".into(),
        "2".into(),
        "-p".into(),
        uas_port.to_string(),
        "-mp".into(),
        free_port().to_string(),
    ];
    let path = d.path().to_path_buf();
    let run = tokio::spawn(async move { sipp(&path, args).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let redial = RedialPolicy {
        attempts: 3,
        interval: Duration::from_millis(300),
        backoff: 1,
    };
    let h = start_meeting(&dir, "8300", "hq", &["room".into()], svc.dialer(), redial).await;
    h.command(
        Actor::new("admin", Role::ItCentre),
        ChairCommand::Dial {
            venue: venue.clone(),
        },
    )
    .await
    .unwrap();
    let run = run.await.unwrap();
    assert!(
        run.status.success(),
        "sipp UAS:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    assert_eq!(
        stat(&run, "SuccessfulCall(C)"),
        Some(2),
        "answered, hung up, redialled, answered"
    );
    assert!(ServiceStats::get(&svc.stats().calls_dialed) >= 2);
    h.shutdown().await;
    svc.shutdown().await;
}

/// Runs the challenging sipp UAS for one call and dials it; returns whether sipp saw a
/// successful call, and how many calls the service reported answered.
async fn dial_challenging_uas(
    number: &str,
    venue_password: &str,
    uas_password: &str,
) -> (bool, String) {
    let dir = Arc::new(TestDir::default());
    dir.add_venue("room", venue_password);
    let svc = start_service(&dir).await;
    let uas_port = free_port();
    let venue: VenueId = "room".parse().unwrap();
    dir.contacts
        .lock()
        .unwrap()
        .insert(venue.clone(), format!("sip:room@127.0.0.1:{uas_port}"));
    let d = sipp_dir(&[]);
    let args = vec![
        "-sf".into(),
        scenario("uas_auth.xml").display().to_string(),
        "-key".into(),
        "user".into(),
        "room".into(),
        "-key".into(),
        "password".into(),
        uas_password.into(),
        "-m".into(),
        "1".into(),
        "-p".into(),
        uas_port.to_string(),
        "-mp".into(),
        free_port().to_string(),
    ];
    let path = d.path().to_path_buf();
    let run = tokio::spawn(async move { sipp(&path, args).await });
    tokio::time::sleep(Duration::from_millis(300)).await;
    let h = start_meeting(
        &dir,
        number,
        "hq",
        &["room".into()],
        svc.dialer(),
        RedialPolicy::default(),
    )
    .await;
    h.command(
        Actor::new("admin", Role::ItCentre),
        ChairCommand::Dial { venue },
    )
    .await
    .unwrap();
    let run = run.await.unwrap();
    h.shutdown().await;
    svc.shutdown().await;
    (
        run.status.success() && stat(&run, "SuccessfulCall(C)") == Some(1),
        format!("{}\n{}", run.stdout, run.stderr),
    )
}

/// A callee that authenticates its caller: our dial-out answers its 401 with the venue's own
/// credentials (sipp's `verifyauth` checks the MD5 qop=auth answer), and is refused when the
/// secrets differ.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dial_out_answers_the_callee_digest_challenge() {
    init_tracing();
    let (ok, log) = dial_challenging_uas("8310", "shared-secret", "shared-secret").await;
    assert!(ok, "sipp UAS refused our credentials:\n{log}");
    let (ok, _) = dial_challenging_uas("8311", "shared-secret", "another-secret").await;
    assert!(!ok, "a wrong secret must not pass sipp's verifyauth");
}
