//! The scheduler's decisions at chosen times (`Scheduler::tick(now)`), in-process against a
//! real store file and a real meeting registry (media on loopback): nothing before the testing
//! window, testing when it opens, live at the start, and a meeting that cannot start retried
//! after the back-off, not every second.

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, Instant};

use dais_server::RtpPortRange;
use dais_server::meetings::Meetings;
use dais_server::scheduler::{Action, RETRY_AFTER_SECS, Scheduler};
use dais_store::{
    ApprovalStage, MeetingState, NewBooking, NewVenue, PasswordCost, Store, StoreOptions, VenueId,
    VenueKind,
};

const T0: i64 = 1_900_000_000;
const LEAD: i64 = 600;

async fn venue(store: &Store, name: &str) -> VenueId {
    store
        .create_venue(
            "admin",
            &NewVenue {
                name,
                kind: VenueKind::Branch,
                parent: None,
                site: "s",
                sip_user: &name.replace(' ', "_"),
                realm: "dais",
                sip_password: "venue-secret",
                contact_uri: None,
            },
            T0,
        )
        .await
        .unwrap()
        .id
}

/// Files and approves a booking at `from`, one hour long; returns the meeting number.
async fn approved(store: &Store, room: &str, venues: &[VenueId], from: i64) -> String {
    let b = store
        .create_booking(
            "alice",
            &NewBooking {
                applying_unit: "u",
                subject: "s",
                attendees: "a",
                attendee_count: 1,
                starts_at: from,
                ends_at: from + 3600,
                room,
                venues,
                remarks: "",
                chair: None,
                meeting_number: None,
            },
            T0,
        )
        .await
        .unwrap();
    for stage in [
        ApprovalStage::UnitHead,
        ApprovalStage::ItCentre,
        ApprovalStage::DepartmentLeader,
    ] {
        store
            .decide_booking("x", b.id, stage, true, "ok", T0)
            .await
            .unwrap();
    }
    store
        .booking(b.id)
        .await
        .unwrap()
        .unwrap()
        .meeting_number
        .unwrap()
}

async fn wait_state(store: &Store, number: &str, state: MeetingState) {
    let start = Instant::now();
    while store.meeting(number).await.unwrap().unwrap().state != state {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "{number} never reached {state:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ticks_open_testing_go_live_and_back_off_after_a_failed_start() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open_with(
        dir.path(),
        StoreOptions {
            password_cost: PasswordCost::InsecureFastForTests,
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap();
    let p = venue(&store, "province").await;
    let j = venue(&store, "jinan").await;
    // A name the conference cannot use as a venue id: this meeting cannot start.
    let bad = venue(&store, "Not A Slug").await;
    let start = T0 + 7200;
    let good = approved(&store, "8th floor", &[p, j], start).await;
    let broken = approved(&store, "11th floor", &[bad], start).await;

    let meetings = Meetings::new(
        IpAddr::V4(Ipv4Addr::LOCALHOST),
        RtpPortRange::new(47000, 47099).unwrap(),
    );
    let s = Scheduler::new(store.clone(), meetings.clone(), LEAD);

    assert_eq!(s.tick(start - LEAD - 1).await, vec![]);
    assert!(meetings.handle(&good).is_none());
    let first = s.tick(start - LEAD).await;
    assert_eq!(
        first,
        vec![
            Action::OpenedTesting(good.clone()),
            Action::StartFailed(broken.clone())
        ]
    );
    wait_state(&store, &good, MeetingState::Testing).await;
    // Running and in testing before the start: nothing; the failed one waits its back-off.
    assert_eq!(s.tick(start - LEAD + 1).await, vec![]);
    assert_eq!(s.tick(start - LEAD + RETRY_AFTER_SECS - 1).await, vec![]);
    assert_eq!(
        s.tick(start - LEAD + RETRY_AFTER_SECS).await,
        vec![Action::StartFailed(broken.clone())]
    );
    assert_eq!(s.tick(start - LEAD + RETRY_AFTER_SECS + 1).await, vec![]);
    // At the start: live (the broken one's back-off has run out again by then).
    assert_eq!(
        s.tick(start).await,
        vec![
            Action::WentLive(good.clone()),
            Action::StartFailed(broken.clone())
        ]
    );
    wait_state(&store, &good, MeetingState::Live).await;
    assert_eq!(s.tick(start + 1).await, vec![]);
    // Past the booked end nothing is started.
    assert_eq!(s.tick(start + 3600 + RETRY_AFTER_SECS * 10).await, vec![]);
    // Once shutdown has begun nothing starts, even a meeting that is due.
    let late = approved(&store, "13th floor", &[p], start + 7200).await;
    meetings_shutdown(&meetings).await;
    assert_eq!(s.tick(start + 7200).await, vec![]);
    assert!(meetings.handle(&late).is_none());
    store.close().await;
}

async fn meetings_shutdown(m: &Meetings) {
    use dais_server::MeetingControl;
    m.shutdown().await;
}
