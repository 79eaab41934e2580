//! Bookings (conflicts, the three-stage chain, the meeting an approval creates) and the sites'
//! A/B administrator registry, against a real SQLite file (or PostgreSQL, see `common`).

mod common;

use dais_store::{
    ApprovalStage, BookingStatus, MeetingState, NewBooking, NewVenue, PasswordCost, Role, Slot,
    SlotAssignment, SlotChangeReason, Store, StoreError, StoreOptions, VenueId, VenueKind,
};

const T0: i64 = 1_800_000_000;
const H: i64 = 3600;

async fn open(dir: &common::TestDb) -> Store {
    Store::open_with(
        dir.path(),
        StoreOptions {
            password_cost: PasswordCost::InsecureFastForTests,
            ..StoreOptions::default()
        },
    )
    .await
    .unwrap()
}

async fn venue(store: &Store, name: &str) -> VenueId {
    store
        .create_venue(
            "admin",
            &NewVenue {
                name,
                kind: VenueKind::Branch,
                parent: None,
                site: name,
                sip_user: name,
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

fn booking<'a>(room: &'a str, venues: &'a [VenueId], from: i64, to: i64) -> NewBooking<'a> {
    NewBooking {
        applying_unit: "Finance bureau",
        subject: "Budget review",
        attendees: "bureau heads",
        attendee_count: 12,
        starts_at: from,
        ends_at: to,
        room,
        venues,
        remarks: "",
        chair: Some("chair1"),
        meeting_number: None,
    }
}

#[tokio::test]
async fn conflicts_name_the_clashing_booking_and_the_chain_runs_in_order() {
    let dir = common::TestDb::new().await;
    let store = open(&dir).await;
    let p = venue(&store, "province").await;
    let j = venue(&store, "jinan").await;
    let q = venue(&store, "qingdao").await;

    let first = store
        .create_booking(
            "alice",
            &booking("8th floor", &[p, j], T0 + 2 * H, T0 + 4 * H),
            T0,
        )
        .await
        .unwrap();
    assert_eq!(first.status, BookingStatus::PendingUnitHead);
    assert_eq!(first.venues, vec![p, j]);

    // Same room, overlapping by one hour: refused, naming booking `first`.
    let e = store
        .create_booking(
            "bob",
            &booking("8th floor", &[q], T0 + 3 * H, T0 + 5 * H),
            T0,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Clash { booking, .. } if *booking == first.id),
        "{e}"
    );
    assert!(e.to_string().contains("room"), "{e}");
    // Another room, but jinan is in `first` at that time.
    let e = store
        .create_booking(
            "bob",
            &booking("11th floor", &[q, j], T0 + 3 * H, T0 + 5 * H),
            T0,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&e, StoreError::Clash { booking, .. } if *booking == first.id),
        "{e}"
    );
    assert!(e.to_string().contains("venue jinan"), "{e}");
    // Back to back (ends exactly when the other starts) is not an overlap.
    let second = store
        .create_booking(
            "bob",
            &booking("8th floor", &[q, j], T0 + 4 * H, T0 + 5 * H),
            T0,
        )
        .await
        .unwrap();
    // Bad input: precise errors, nothing written.
    for (b, field) in [
        (
            booking("8th floor", &[q], T0 + 6 * H, T0 + 6 * H),
            "ends_at",
        ),
        (
            booking("8th floor", &[q], T0 - 3 * H, T0 - 2 * H),
            "ends_at",
        ),
        (booking("8th floor", &[], T0 + 6 * H, T0 + 7 * H), "venues"),
        (
            booking("8th floor", &[q, q], T0 + 6 * H, T0 + 7 * H),
            "venues",
        ),
        (booking("", &[q], T0 + 6 * H, T0 + 7 * H), "room"),
    ] {
        let e = store.create_booking("bob", &b, T0).await.unwrap_err();
        assert!(
            matches!(e, StoreError::Invalid { field: f, .. } if f == field),
            "{e}"
        );
    }
    assert_eq!(store.list_bookings().await.unwrap().len(), 2);

    // Out of order: the IT centre cannot approve before the unit head.
    let e = store
        .decide_booking("it", first.id, ApprovalStage::ItCentre, true, "ok", T0 + 1)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::WrongState { .. }), "{e}");
    assert_eq!(
        store
            .bookings_waiting_for(ApprovalStage::UnitHead)
            .await
            .unwrap()
            .len(),
        2
    );
    let b = store
        .decide_booking(
            "head",
            first.id,
            ApprovalStage::UnitHead,
            true,
            "agreed",
            T0 + 1,
        )
        .await
        .unwrap();
    assert_eq!(b.status, BookingStatus::PendingItCentre);
    assert_eq!(
        store
            .bookings_waiting_for(ApprovalStage::ItCentre)
            .await
            .unwrap()[0]
            .id,
        first.id
    );
    let b = store
        .decide_booking(
            "it",
            first.id,
            ApprovalStage::ItCentre,
            true,
            "lines ok",
            T0 + 2,
        )
        .await
        .unwrap();
    assert_eq!(b.status, BookingStatus::PendingDepartmentLeader);
    assert!(store.list_meetings().await.unwrap().is_empty());
    let b = store
        .decide_booking(
            "leader",
            first.id,
            ApprovalStage::DepartmentLeader,
            true,
            "go",
            T0 + 3,
        )
        .await
        .unwrap();
    assert_eq!(b.status, BookingStatus::Approved);
    assert_eq!(b.meeting_number.as_deref(), Some("8001"));
    let stages: Vec<_> = b
        .opinions
        .iter()
        .map(|o| (o.stage, o.approver.as_str()))
        .collect();
    assert_eq!(
        stages,
        vec![
            (ApprovalStage::UnitHead, "head"),
            (ApprovalStage::ItCentre, "it"),
            (ApprovalStage::DepartmentLeader, "leader")
        ]
    );
    let m = store.meeting("8001").await.unwrap().unwrap();
    assert_eq!(
        (m.state, m.main_venue, m.venues.clone()),
        (MeetingState::Scheduled, p, vec![p, j])
    );
    assert_eq!(m.chair.as_deref(), Some("chair1"));
    let starts = store.scheduled_starts().await.unwrap();
    assert_eq!(starts.len(), 1);
    assert_eq!(
        (starts[0].number.as_str(), starts[0].starts_at),
        ("8001", T0 + 2 * H)
    );
    // Decided: a second opinion at the last stage is refused.
    let e = store
        .decide_booking(
            "leader",
            first.id,
            ApprovalStage::DepartmentLeader,
            true,
            "again",
            T0 + 4,
        )
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::WrongState { .. }), "{e}");

    // A rejection ends the chain and frees the slot for another booking.
    let b = store
        .decide_booking(
            "head",
            second.id,
            ApprovalStage::UnitHead,
            false,
            "not needed",
            T0 + 5,
        )
        .await
        .unwrap();
    assert_eq!(b.status, BookingStatus::Rejected);
    assert!(b.meeting_number.is_none());
    store
        .create_booking(
            "carol",
            &booking("8th floor", &[q, j], T0 + 4 * H, T0 + 5 * H),
            T0,
        )
        .await
        .unwrap();

    // Everything survives a reopen, and the chain of audit rows verifies.
    store.close().await;
    let store = open(&dir).await;
    let again = store.booking(first.id).await.unwrap().unwrap();
    assert_eq!(again, b_first(&store, first.id).await);
    assert_eq!(again.opinions.len(), 3);
    store.verify_audit_chain().await.unwrap();
    let actions: Vec<String> = store
        .recent_audit(100)
        .await
        .unwrap()
        .into_iter()
        .map(|e| e.action)
        .collect();
    for a in [
        "booking.create",
        "booking.approve.unit_head",
        "booking.approve.it_centre",
        "booking.approve.department_leader",
        "booking.reject.unit_head",
        "meeting.create",
    ] {
        assert!(
            actions.iter().any(|x| x == a),
            "{a} not audited: {actions:?}"
        );
    }
}

async fn b_first(store: &Store, id: i64) -> dais_store::Booking {
    store
        .list_bookings()
        .await
        .unwrap()
        .into_iter()
        .find(|b| b.id == id)
        .unwrap()
}

#[tokio::test]
async fn a_wanted_number_is_used_and_a_taken_one_refused_at_approval() {
    let dir = common::TestDb::new().await;
    let store = open(&dir).await;
    let p = venue(&store, "province").await;
    let only_p = [p];
    let mut nb = booking("13th floor", &only_p, T0 + H, T0 + 2 * H);
    nb.meeting_number = Some("8100");
    let b = store.create_booking("alice", &nb, T0).await.unwrap();
    for (who, stage) in [
        ("h", ApprovalStage::UnitHead),
        ("i", ApprovalStage::ItCentre),
        ("d", ApprovalStage::DepartmentLeader),
    ] {
        store
            .decide_booking(who, b.id, stage, true, "ok", T0)
            .await
            .unwrap();
    }
    assert!(store.meeting("8100").await.unwrap().is_some());
    let mut nb = booking("13th floor", &only_p, T0 + 3 * H, T0 + 4 * H);
    nb.meeting_number = Some("8100");
    let b = store.create_booking("alice", &nb, T0).await.unwrap();
    store
        .decide_booking("h", b.id, ApprovalStage::UnitHead, true, "ok", T0)
        .await
        .unwrap();
    store
        .decide_booking("i", b.id, ApprovalStage::ItCentre, true, "ok", T0)
        .await
        .unwrap();
    let e = store
        .decide_booking("d", b.id, ApprovalStage::DepartmentLeader, true, "ok", T0)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Conflict { .. }), "{e}");
    // The failed approval rolled back whole: still waiting for the leader.
    assert_eq!(
        store.booking(b.id).await.unwrap().unwrap().status,
        BookingStatus::PendingDepartmentLeader
    );
}

#[tokio::test]
async fn site_slots_record_every_replacement_and_show_vacancies() {
    let dir = common::TestDb::new().await;
    let store = open(&dir).await;
    for (name, site) in [
        ("ja", "jinan"),
        ("jb", "jinan"),
        ("jc", "jinan"),
        ("qa", "qingdao"),
    ] {
        store
            .create_operator(
                "admin",
                name,
                "long password",
                Role::SiteAdmin { site: site.into() },
                T0,
            )
            .await
            .unwrap();
    }
    store.create_site("admin", "jinan", T0).await.unwrap();
    store.create_site("admin", "qingdao", T0).await.unwrap();
    assert!(matches!(
        store.create_site("admin", "jinan", T0).await.unwrap_err(),
        StoreError::Conflict { .. }
    ));
    assert!(matches!(
        store
            .create_site("admin", "Bad Name", T0)
            .await
            .unwrap_err(),
        StoreError::Invalid { .. }
    ));
    let app = SlotChangeReason::Appointment;
    store
        .assign_slot("admin", "jinan", Slot::A, Some("ja"), app, "", T0 + 1)
        .await
        .unwrap();
    store
        .assign_slot("admin", "jinan", Slot::B, Some("jb"), app, "", T0 + 2)
        .await
        .unwrap();
    // Wrong site's admin, the other slot's holder, an appointment over a holder: refused.
    for (op, reason) in [("qa", app), ("jb", SlotChangeReason::Transfer), ("jc", app)] {
        let e = store
            .assign_slot("admin", "jinan", Slot::A, Some(op), reason, "", T0 + 3)
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::Invalid { .. }), "{op}: {e}");
    }
    let e = store
        .assign_slot("admin", "nowhere", Slot::A, Some("ja"), app, "", T0 + 3)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::NotFound { .. }), "{e}");
    let change = store
        .assign_slot(
            "admin",
            "jinan",
            Slot::A,
            Some("jc"),
            SlotChangeReason::Retirement,
            "order 7",
            T0 + 4,
        )
        .await
        .unwrap();
    assert_eq!(change.previous.as_deref(), Some("ja"));
    store
        .assign_slot(
            "admin",
            "jinan",
            Slot::B,
            None,
            SlotChangeReason::Leave,
            "",
            T0 + 5,
        )
        .await
        .unwrap();

    store.close().await;
    let store = open(&dir).await;
    let sites = store.list_sites().await.unwrap();
    assert_eq!(sites.len(), 2);
    assert_eq!(sites[0].name, "jinan");
    assert_eq!(sites[0].a.operator.as_deref(), Some("jc"));
    assert_eq!(sites[0].a.since, T0 + 4);
    assert!(sites[0].b.operator.is_none());
    assert!(sites.iter().all(dais_store::Site::has_vacancy));
    let h = store.site_history("jinan").await.unwrap();
    let summary: Vec<_> = h
        .iter()
        .map(|c| (c.slot, c.previous.as_deref(), c.next.as_deref(), c.reason))
        .collect();
    assert_eq!(
        summary,
        vec![
            (Slot::A, None, Some("ja"), SlotChangeReason::Appointment),
            (Slot::B, None, Some("jb"), SlotChangeReason::Appointment),
            (
                Slot::A,
                Some("ja"),
                Some("jc"),
                SlotChangeReason::Retirement
            ),
            (Slot::B, Some("jb"), None, SlotChangeReason::Leave),
        ]
    );
    assert_eq!(h[2].note, "order 7");
    store.verify_audit_chain().await.unwrap();
}

#[tokio::test]
async fn checks_fall_due_monthly_faults_follow_their_life_cycle_moves_need_a_passed_test() {
    use dais_store::{CHECK_INTERVAL_SECS, CHECK_REMINDER_SECS, FaultStatus, MoveStatus};
    let dir = common::TestDb::new().await;
    let store = open(&dir).await;
    let p = venue(&store, "province").await; // created at T0
    let j = venue(&store, "jinan").await;
    let day = 24 * H;
    // Freshly created: nothing due until the reminder week before the first month is up.
    assert!(store.checks_due(T0 + day).await.unwrap().is_empty());
    let soon = T0 + CHECK_INTERVAL_SECS - CHECK_REMINDER_SECS;
    let due = store.checks_due(soon).await.unwrap();
    assert_eq!(due.len(), 2);
    assert!(due.iter().all(|d| !d.overdue && d.last_check.is_none()));
    // jinan is checked; province is not and goes overdue.
    store
        .record_check("ja", j, true, "all fine", soon)
        .await
        .unwrap();
    let late = T0 + CHECK_INTERVAL_SECS + day;
    let due = store.checks_due(late).await.unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].venue, due[0].overdue), (p, true));
    // A month after jinan's check, it is due again (and overdue after that).
    let due = store
        .checks_due(soon + CHECK_INTERVAL_SECS + 1)
        .await
        .unwrap();
    let jd = due.iter().find(|d| d.venue == j).unwrap();
    assert_eq!((jd.last_check, jd.overdue), (Some(soon), true));
    assert!(matches!(
        store
            .record_check("ja", VenueId(999), true, "", T0)
            .await
            .unwrap_err(),
        StoreError::NotFound { .. }
    ));

    let f = store
        .report_fault("ja", j, "camera does not pan", T0)
        .await
        .unwrap();
    assert_eq!(f.status, FaultStatus::Open);
    assert!(matches!(
        store.report_fault("ja", j, "  ", T0).await.unwrap_err(),
        StoreError::Invalid { .. }
    ));
    store
        .set_fault_status("ja", f.id, FaultStatus::InRepair, T0 + 1)
        .await
        .unwrap();
    // Back to open is not a step of the life cycle.
    assert!(matches!(
        store
            .set_fault_status("ja", f.id, FaultStatus::Open, T0 + 2)
            .await
            .unwrap_err(),
        StoreError::WrongState { .. }
    ));
    let f = store
        .set_fault_status("ja", f.id, FaultStatus::ReportedToItCentre, T0 + 3)
        .await
        .unwrap();
    assert_eq!(
        (f.status, f.updated_at),
        (FaultStatus::ReportedToItCentre, T0 + 3)
    );
    // Final.
    assert!(matches!(
        store
            .set_fault_status("ja", f.id, FaultStatus::Fixed, T0 + 4)
            .await
            .unwrap_err(),
        StoreError::WrongState { .. }
    ));

    let m = store
        .request_move("ja", j, "codec to room 2", T0)
        .await
        .unwrap();
    assert_eq!(m.status, MoveStatus::Requested);
    let m = store
        .record_test_call("it", m.id, false, "no audio", T0 + 5)
        .await
        .unwrap();
    assert_eq!(m.status, MoveStatus::TestFailed);
    let m = store
        .record_test_call("it", m.id, true, "picture and sound ok", T0 + 6)
        .await
        .unwrap();
    assert_eq!(
        (m.status, m.test_by.as_deref()),
        (MoveStatus::Closed, Some("it"))
    );
    assert!(matches!(
        store
            .record_test_call("it", m.id, true, "", T0 + 7)
            .await
            .unwrap_err(),
        StoreError::WrongState { .. }
    ));

    store.close().await;
    let store = open(&dir).await;
    assert_eq!(store.list_checks().await.unwrap().len(), 1);
    assert_eq!(store.fault(f.id).await.unwrap().unwrap(), f);
    assert_eq!(store.equipment_move(m.id).await.unwrap().unwrap(), m);
    store.verify_audit_chain().await.unwrap();
}

/// `set_site_admin` with positional arguments, to keep the table of cases short.
trait AssignSlot {
    #[allow(clippy::too_many_arguments)]
    async fn assign_slot(
        &self,
        actor: &str,
        site: &str,
        slot: Slot,
        operator: Option<&str>,
        reason: SlotChangeReason,
        note: &str,
        now: i64,
    ) -> Result<dais_store::SlotChange, StoreError>;
}

impl AssignSlot for Store {
    async fn assign_slot(
        &self,
        actor: &str,
        site: &str,
        slot: Slot,
        operator: Option<&str>,
        reason: SlotChangeReason,
        note: &str,
        now: i64,
    ) -> Result<dais_store::SlotChange, StoreError> {
        self.set_site_admin(
            actor,
            &SlotAssignment {
                site,
                slot,
                operator,
                reason,
                note,
            },
            now,
        )
        .await
    }
}

/// Figures, not a pass/fail threshold: filing cost as the booking table grows (each filing
/// runs the room and venue overlap queries), and one scheduler read. Run with
/// `cargo test --release -p dais-store --test operations -- --ignored --nocapture`.
#[tokio::test]
#[ignore = "measurement"]
async fn booking_cost_as_the_table_grows() {
    use std::time::Instant;
    let dir = common::TestDb::new().await;
    let store = open(&dir).await;
    let mut venues = Vec::new();
    for i in 0..20 {
        venues.push(venue(&store, &format!("v{i}")).await);
    }
    const N: usize = 2000;
    let rooms = ["8th floor", "11th floor", "13th floor"];
    let mut per = Vec::with_capacity(N);
    for i in 0..N {
        let i64i = i64::try_from(i).unwrap();
        let from = T0 + H + i64i * H;
        let vs = [venues[i % 20], venues[(i + 7) % 20]];
        let b = booking(rooms[i % 3], &vs, from, from + H);
        let t = Instant::now();
        store.create_booking("alice", &b, T0).await.unwrap();
        per.push(t.elapsed().as_secs_f64() * 1e3);
    }
    let median = |s: &[f64]| {
        let mut v = s.to_vec();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let first = median(&per[..100]);
    let last = median(&per[N - 100..]);
    // A clash check against a full table.
    let t = Instant::now();
    let vs = [venues[0]];
    let e = store
        .create_booking("bob", &booking("8th floor", &vs, T0 + H, T0 + 2 * H), T0)
        .await
        .unwrap_err();
    let clash_ms = t.elapsed().as_secs_f64() * 1e3;
    assert!(matches!(e, StoreError::Clash { .. }));
    let t = Instant::now();
    let starts = store.scheduled_starts().await.unwrap();
    let sched_ms = t.elapsed().as_secs_f64() * 1e3;
    #[allow(clippy::print_stdout)]
    {
        println!(
            "create_booking median: first 100 {first:.3} ms, last 100 of {N} {last:.3} ms \
             (ratio {:.2}); refused clash {clash_ms:.3} ms; scheduled_starts ({} rows) {sched_ms:.3} ms",
            last / first,
            starts.len()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_filings_for_one_slot_let_exactly_one_through_and_one_decision_per_stage() {
    let dir = common::TestDb::new().await;
    let store = open(&dir).await;
    let p = venue(&store, "province").await;
    let venues = [p];
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = store.clone();
        tasks.push(tokio::spawn(async move {
            let b = booking("8th floor", &venues, T0 + H, T0 + 2 * H);
            store.create_booking(&format!("unit{i}"), &b, T0).await
        }));
    }
    let mut ok = Vec::new();
    let mut named = Vec::new();
    for t in tasks {
        match t.await.unwrap() {
            Ok(b) => ok.push(b.id),
            Err(StoreError::Clash { booking, .. }) => named.push(booking),
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!((ok.len(), named.len()), (1, 7));
    let id = ok[0];
    assert!(
        named.iter().all(|b| *b == id),
        "each refusal names the winner: {named:?}"
    );

    // Two unit heads deciding at once: one decision is recorded, the other refused.
    let (a, b) = tokio::join!(
        store.decide_booking("head1", id, ApprovalStage::UnitHead, true, "yes", T0),
        store.decide_booking("head2", id, ApprovalStage::UnitHead, false, "no", T0),
    );
    assert!(
        a.is_ok() != b.is_ok(),
        "exactly one decision: {a:?} / {b:?}"
    );
    let loser = if a.is_ok() { b } else { a };
    assert!(
        matches!(loser, Err(StoreError::WrongState { .. })),
        "{loser:?}"
    );
    assert_eq!(store.booking(id).await.unwrap().unwrap().opinions.len(), 1);
    store.verify_audit_chain().await.unwrap();
}

/// Two servers sharing one store: two handles (two pools) on the same database, filing for one
/// slot at once. The writer lock is the database's (SQLite's file lock, PostgreSQL's advisory
/// lock), not the process's, so exactly one booking gets through.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn two_servers_on_one_store_let_exactly_one_filing_through() {
    let dir = common::TestDb::new().await;
    let first = open(&dir).await;
    let second = open(&dir).await;
    let p = venue(&first, "province").await;
    let venues = [p];
    let mut tasks = Vec::new();
    for i in 0..8 {
        let store = if i % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        tasks.push(tokio::spawn(async move {
            let b = booking("8th floor", &venues, T0 + H, T0 + 2 * H);
            store.create_booking(&format!("unit{i}"), &b, T0).await
        }));
    }
    let mut ok = Vec::new();
    let mut clashes = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(b) => ok.push(b.id),
            Err(StoreError::Clash { .. }) => clashes += 1,
            Err(e) => panic!("unexpected {e}"),
        }
    }
    assert_eq!((ok.len(), clashes), (1, 7));
    // Both handles see the one booking, and the audit chain written from two pools is whole.
    assert_eq!(second.booking(ok[0]).await.unwrap().unwrap().id, ok[0]);
    first.verify_audit_chain().await.unwrap();
    second.verify_audit_chain().await.unwrap();
}
