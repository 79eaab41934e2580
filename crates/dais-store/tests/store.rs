//! Behaviour of the store against a real SQLite file in a temporary directory, or a fresh
//! PostgreSQL database when `DAIS_TEST_POSTGRES_URL` is set (see `common`).

mod common;

use dais_store::{
    ADMIN_USERNAME, AuditChainError, AuditEvent, AuditResult, LOCKOUT_AFTER_FAILURES, LOCKOUT_SECS,
    MeetingState, NewMeeting, NewVenue, PasswordCost, Role, Store, StoreError, StoreOptions,
    VenueKind,
};

const T0: i64 = 1_800_000_000;

fn fast() -> StoreOptions {
    StoreOptions {
        password_cost: PasswordCost::InsecureFastForTests,
        ..StoreOptions::default()
    }
}

async fn open(dir: &common::TestDb) -> Store {
    Store::open_with(dir.path(), fast()).await.unwrap()
}

fn venue<'a>(name: &'a str, user: &'a str) -> NewVenue<'a> {
    NewVenue {
        name,
        kind: VenueKind::Branch,
        parent: None,
        site: "province",
        sip_user: user,
        realm: "dais",
        sip_password: "venue-secret",
        contact_uri: None,
    }
}

#[tokio::test]
async fn reopening_keeps_accounts_venues_meetings_and_audit() {
    let dir = common::TestDb::new().await;
    let store = open(&dir).await;
    let generated = store.ensure_admin(None, T0).await.unwrap();
    let pw = generated.expect("empty store generates a password");
    assert_eq!(pw.len(), 20);
    assert!(pw.chars().all(|c| c.is_ascii_alphanumeric()));
    let main = store
        .create_venue(
            "admin",
            &NewVenue {
                kind: VenueKind::Main,
                ..venue("province-13f", "p13")
            },
            T0,
        )
        .await
        .unwrap();
    let jinan = store
        .create_venue(
            "admin",
            &NewVenue {
                kind: VenueKind::City,
                parent: Some(main.id),
                contact_uri: Some("sip:jinan@192.0.2.7"),
                ..venue("jinan", "jinan")
            },
            T0,
        )
        .await
        .unwrap();
    store
        .create_meeting(
            "admin",
            &NewMeeting {
                number: "8001",
                subject: "Monthly review",
                main_venue: main.id,
                venues: &[jinan.id],
                chair: Some("chair1"),
            },
            T0,
        )
        .await
        .unwrap();
    store.close().await;

    let store = open(&dir).await;
    assert_eq!(
        store.ensure_admin(None, T0).await.unwrap(),
        None,
        "admin exists already"
    );
    store.login(ADMIN_USERNAME, &pw, None, T0).await.unwrap();
    let venues = store.list_venues().await.unwrap();
    assert_eq!(venues.len(), 2);
    assert_eq!(venues[1].parent, Some(main.id));
    assert_eq!(
        venues[1].contact_uri.as_deref(),
        Some("sip:jinan@192.0.2.7")
    );
    let m = store.meeting("8001").await.unwrap().unwrap();
    assert_eq!(m.venues, vec![main.id, jinan.id], "main venue first");
    assert_eq!(m.state, MeetingState::Scheduled);
    assert_eq!(m.chair.as_deref(), Some("chair1"));
    assert_eq!(
        store.venue_by_name("jinan").await.unwrap().map(|v| v.id),
        Some(jinan.id)
    );
    assert_eq!(store.venue_by_name("nowhere").await.unwrap(), None);
    let ops = store.list_operators().await.unwrap();
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0].username, ADMIN_USERNAME);
    store.integrity_check().await.unwrap();
    store.verify_audit_chain().await.unwrap();
    // admin creation, 2 venues, 1 meeting, 1 login
    assert_eq!(store.recent_audit(100).await.unwrap().len(), 5);
}

#[tokio::test]
async fn given_admin_password_is_used_and_short_one_refused() {
    let dir = common::TestDb::new().await;
    let store = open(&dir).await;
    assert!(matches!(
        store.ensure_admin(Some("short"), T0).await,
        Err(StoreError::Invalid {
            field: "password",
            ..
        })
    ));
    assert_eq!(
        store.ensure_admin(Some("correct horse"), T0).await.unwrap(),
        None
    );
    let s = store
        .login("admin", "correct horse", None, T0)
        .await
        .unwrap();
    assert_eq!(s.operator.role, Role::ItCentre);
}

#[tokio::test]
async fn five_failures_lock_the_account_for_five_minutes() {
    let dir = common::TestDb::new().await;
    let store = open(&dir).await;
    store
        .ensure_admin(Some("right password"), T0)
        .await
        .unwrap();
    for i in 1..LOCKOUT_AFTER_FAILURES {
        let e = store
            .login("admin", "wrong", Some("192.0.2.1"), T0)
            .await
            .unwrap_err();
        assert!(matches!(e, StoreError::BadCredentials), "attempt {i}: {e}");
    }
    let e = store
        .login("admin", "wrong", Some("192.0.2.1"), T0)
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::Locked { until } if until == T0 + LOCKOUT_SECS),
        "{e}"
    );
    // Locked: even the right password is refused.
    let e = store
        .login("admin", "right password", None, T0 + LOCKOUT_SECS - 1)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Locked { .. }), "{e}");
    // After the lockout it works, and the counter was reset.
    store
        .login("admin", "right password", None, T0 + LOCKOUT_SECS)
        .await
        .unwrap();
    let op = store.operator_by_name("admin").await.unwrap().unwrap();
    assert_eq!((op.failed_logins, op.locked_until), (0, None));
    // Every attempt is in the audit log.
    let log = store.recent_audit(100).await.unwrap();
    let refusals = log
        .iter()
        .filter(|e| e.action == "login" && matches!(e.result, AuditResult::Refused(_)))
        .count();
    assert_eq!(refusals, 6);
    assert!(log.iter().any(|e| e.from.as_deref() == Some("192.0.2.1")));
}

#[tokio::test]
async fn a_success_resets_the_failure_count() {
    let dir = common::TestDb::new().await;
    let store = open(&dir).await;
    store
        .ensure_admin(Some("right password"), T0)
        .await
        .unwrap();
    for _ in 0..LOCKOUT_AFTER_FAILURES - 1 {
        store.login("admin", "wrong", None, T0).await.unwrap_err();
    }
    store
        .login("admin", "right password", None, T0)
        .await
        .unwrap();
    let e = store.login("admin", "wrong", None, T0).await.unwrap_err();
    assert!(matches!(e, StoreError::BadCredentials));
}

#[tokio::test]
async fn unknown_user_is_indistinguishable_from_wrong_password() {
    let dir = common::TestDb::new().await;
    let store = open(&dir).await;
    store
        .ensure_admin(Some("right password"), T0)
        .await
        .unwrap();
    let e = store
        .login("nobody", "whatever", None, T0)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::BadCredentials));
    assert_eq!(e.to_string(), StoreError::BadCredentials.to_string());
}

#[tokio::test]
async fn tokens_expire_after_the_session_lifetime_and_logout_ends_them() {
    let dir = common::TestDb::new().await;
    let store = Store::open_with(
        dir.path(),
        StoreOptions {
            session_ttl_secs: 600,
            ..fast()
        },
    )
    .await
    .unwrap();
    store
        .ensure_admin(Some("right password"), T0)
        .await
        .unwrap();
    let s = store
        .login("admin", "right password", None, T0)
        .await
        .unwrap();
    assert_eq!(s.token.len(), 64);
    assert_eq!(s.expires_at, T0 + 600);
    assert!(
        !format!("{s:?}").contains(&s.token),
        "Debug must not leak the token"
    );
    let who = store
        .authenticate(&s.token, T0 + 599)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(who.username, "admin");
    assert_eq!(store.authenticate(&s.token, T0 + 600).await.unwrap(), None);
    assert_eq!(store.purge_expired_sessions(T0 + 600).await.unwrap(), 1);

    let s2 = store
        .login("admin", "right password", None, T0)
        .await
        .unwrap();
    assert_ne!(s.token, s2.token);
    assert!(store.logout(&s2.token, None, T0).await.unwrap());
    assert!(!store.logout(&s2.token, None, T0).await.unwrap());
    assert_eq!(store.authenticate(&s2.token, T0).await.unwrap(), None);
    assert_eq!(store.authenticate("not-a-token", T0).await.unwrap(), None);
}

#[tokio::test]
async fn only_the_token_digest_is_stored() {
    let dir = common::TestDb::new().await;
    let store = open(&dir).await;
    store
        .ensure_admin(Some("right password"), T0)
        .await
        .unwrap();
    let s = store
        .login("admin", "right password", None, T0)
        .await
        .unwrap();
    store.close().await;
    let raw = dir.raw_contents().await;
    let needle = s.token.as_bytes();
    assert!(!raw.windows(needle.len()).any(|w| w == needle));
    assert!(!raw.windows(14).any(|w| w == b"right password"));
}

#[tokio::test]
async fn disabling_an_account_ends_its_sessions_and_refuses_login() {
    let dir = common::TestDb::new().await;
    let store = open(&dir).await;
    store
        .ensure_admin(Some("right password"), T0)
        .await
        .unwrap();
    let op = store
        .create_operator("admin", "chair1", "chair password", Role::ChairOperator, T0)
        .await
        .unwrap();
    assert_eq!(op.role, Role::ChairOperator);
    let s = store
        .login("chair1", "chair password", None, T0)
        .await
        .unwrap();
    store
        .set_operator_disabled("admin", "chair1", true, T0)
        .await
        .unwrap();
    assert_eq!(store.authenticate(&s.token, T0).await.unwrap(), None);
    let e = store
        .login("chair1", "chair password", None, T0)
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Disabled));
    let e = store
        .login("chair1", "wrong password", None, T0)
        .await
        .unwrap_err();
    assert!(
        matches!(e, StoreError::BadCredentials),
        "a wrong password does not reveal {e}"
    );
    assert!(matches!(
        store
            .create_operator("admin", "chair1", "another password", Role::Auditor, T0)
            .await,
        Err(StoreError::Conflict { .. })
    ));
}

#[tokio::test]
async fn roles_round_trip() {
    let dir = common::TestDb::new().await;
    let store = open(&dir).await;
    let roles = [
        Role::SiteAdmin {
            site: "jinan".into(),
        },
        Role::Approver {
            stage: dais_store::ApprovalStage::DepartmentLeader,
        },
        Role::Auditor,
    ];
    for (i, role) in roles.iter().enumerate() {
        let name = format!("op{i}");
        store
            .create_operator("admin", &name, "password123", role.clone(), T0)
            .await
            .unwrap();
        assert_eq!(
            &store.operator_by_name(&name).await.unwrap().unwrap().role,
            role
        );
    }
}

#[tokio::test]
async fn venue_credentials_are_stored_as_ha1_only() {
    let dir = common::TestDb::new().await;
    let store = open(&dir).await;
    // RFC 2617 §3.5's example credentials.
    let v = store
        .create_venue(
            "admin",
            &NewVenue {
                realm: "testrealm@host.com",
                sip_password: "Circle Of Life",
                ..venue("mufasa", "Mufasa")
            },
            T0,
        )
        .await
        .unwrap();
    assert_eq!(v.digest.md5, "939e7578ed9e3c518a452acee763bce9");
    let back = store.venue_by_sip_user("Mufasa").await.unwrap().unwrap();
    assert_eq!(back, v);
    use sha2::Digest;
    let expect = hex::encode(sha2::Sha256::digest(
        b"Mufasa:testrealm@host.com:Circle Of Life",
    ));
    assert_eq!(back.digest.sha256, expect);
    assert!(
        !format!("{back:?}").contains(&expect),
        "Debug must not print HA1"
    );
    store.close().await;
    let raw = dir.raw_contents().await;
    assert!(!raw.windows(14).any(|w| w == b"Circle Of Life"));
}

#[tokio::test]
async fn venue_and_meeting_validation() {
    let dir = common::TestDb::new().await;
    let store = open(&dir).await;
    let a = store
        .create_venue("admin", &venue("a", "a"), T0)
        .await
        .unwrap();
    assert!(matches!(
        store.create_venue("admin", &venue("a", "a2"), T0).await,
        Err(StoreError::Conflict { .. })
    ));
    assert!(matches!(
        store
            .create_venue("admin", &venue("b", "bad:user"), T0)
            .await,
        Err(StoreError::Invalid {
            field: "sip_user",
            ..
        })
    ));
    assert!(matches!(
        store
            .create_venue(
                "admin",
                &NewVenue {
                    parent: Some(dais_store::VenueId(99)),
                    ..venue("c", "c")
                },
                T0
            )
            .await,
        Err(StoreError::NotFound { .. })
    ));
    let mk = |number, venues| NewMeeting {
        number,
        subject: "s",
        main_venue: a.id,
        venues,
        chair: None,
    };
    assert!(matches!(
        store.create_meeting("admin", &mk("80a1", &[]), T0).await,
        Err(StoreError::Invalid {
            field: "number",
            ..
        })
    ));
    assert!(matches!(
        store
            .create_meeting("admin", &mk("8001", &[dais_store::VenueId(42)]), T0)
            .await,
        Err(StoreError::NotFound { .. })
    ));
    let twice = [a.id, a.id];
    assert!(matches!(
        store.create_meeting("admin", &mk("8001", &twice), T0).await,
        Err(StoreError::Invalid {
            field: "venues",
            ..
        })
    ));
    store
        .create_meeting("admin", &mk("8001", &[]), T0)
        .await
        .unwrap();
    assert!(matches!(
        store.create_meeting("admin", &mk("8001", &[]), T0).await,
        Err(StoreError::Conflict { .. })
    ));
    store
        .set_meeting_state("admin", "8001", MeetingState::Live, T0)
        .await
        .unwrap();
    assert_eq!(
        store.list_meetings().await.unwrap()[0].state,
        MeetingState::Live
    );
    assert!(matches!(
        store
            .set_meeting_state("admin", "9999", MeetingState::Live, T0)
            .await,
        Err(StoreError::NotFound { .. })
    ));
}

async fn raw_conn(dir: &common::TestDb) -> sqlx::AnyConnection {
    dir.raw_conn().await
}

/// `DROP TRIGGER` in the dialect of the test's backend.
fn drop_trigger(dir: &common::TestDb, name: &str) -> String {
    if dir.is_postgres() {
        format!("DROP TRIGGER {name} ON audit_log")
    } else {
        format!("DROP TRIGGER {name}")
    }
}

async fn store_with_log(dir: &common::TestDb) -> Store {
    let store = open(dir).await;
    for i in 0..5 {
        store
            .audit(&AuditEvent {
                actor: "admin",
                action: "test",
                target: &format!("thing {i}"),
                at: T0 + i,
                from: Some("198.51.100.4"),
                result: AuditResult::Ok,
            })
            .await
            .unwrap();
    }
    store.verify_audit_chain().await.unwrap();
    store
}

#[tokio::test]
async fn audit_log_refuses_updates_through_sql() {
    let dir = common::TestDb::new().await;
    let _store = store_with_log(&dir).await;
    let mut c = raw_conn(&dir).await;
    let e = sqlx::query("UPDATE audit_log SET actor = 'mallory' WHERE id = 2")
        .execute(&mut c)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("append-only"), "{e}");
    assert!(
        sqlx::query("DELETE FROM audit_log")
            .execute(&mut c)
            .await
            .is_err()
    );
}

#[tokio::test]
async fn audit_chain_detects_an_edited_row() {
    let dir = common::TestDb::new().await;
    let store = store_with_log(&dir).await;
    let mut c = raw_conn(&dir).await;
    // Someone with the file in hand removes the guard and rewrites history.
    sqlx::query(sqlx::AssertSqlSafe(drop_trigger(
        &dir,
        "audit_log_no_update",
    )))
    .execute(&mut c)
    .await
    .unwrap();
    sqlx::query("UPDATE audit_log SET result = 'refused: nope' WHERE id = 3")
        .execute(&mut c)
        .await
        .unwrap();
    let e = store.verify_audit_chain().await.unwrap_err();
    assert!(matches!(e, AuditChainError::BrokenAt { id: 3 }), "{e}");
}

#[tokio::test]
async fn audit_chain_detects_a_deleted_row() {
    let dir = common::TestDb::new().await;
    let store = store_with_log(&dir).await;
    let mut c = raw_conn(&dir).await;
    sqlx::query(sqlx::AssertSqlSafe(drop_trigger(
        &dir,
        "audit_log_no_delete",
    )))
    .execute(&mut c)
    .await
    .unwrap();
    sqlx::query("DELETE FROM audit_log WHERE id = 2")
        .execute(&mut c)
        .await
        .unwrap();
    let e = store.verify_audit_chain().await.unwrap_err();
    assert!(matches!(e, AuditChainError::BrokenAt { id: 3 }), "{e}");
}

#[tokio::test]
async fn concurrent_audit_appends_keep_the_chain() {
    let dir = common::TestDb::new().await;
    let store = open(&dir).await;
    let mut tasks = Vec::new();
    for i in 0..32 {
        let s = store.clone();
        tasks.push(tokio::spawn(async move {
            s.audit(&AuditEvent {
                actor: "system",
                action: "test",
                target: &i.to_string(),
                at: T0,
                from: None,
                result: AuditResult::Ok,
            })
            .await
            .unwrap()
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    store.verify_audit_chain().await.unwrap();
    assert_eq!(store.recent_audit(100).await.unwrap().len(), 32);
}

#[tokio::test]
async fn interactive_cost_hashes_verify() {
    // The production cost, once, to prove the default parameters round-trip.
    let dir = common::TestDb::new().await;
    let store = Store::open(dir.path()).await.unwrap();
    store
        .ensure_admin(Some("right password"), T0)
        .await
        .unwrap();
    store
        .login("admin", "right password", None, T0)
        .await
        .unwrap();
    assert!(matches!(
        store.login("admin", "wrong password", None, T0).await,
        Err(StoreError::BadCredentials)
    ));
}

#[tokio::test]
async fn a_data_dir_with_url_characters_and_an_sqlite_url_both_open() {
    // SQLite only: the directory and URL forms of the location.
    let tmp = tempfile::tempdir().unwrap();
    let odd = tmp.path().join("dais 1%?#");
    let store = Store::open_with(&odd, fast()).await.unwrap();
    assert_eq!(store.backend(), dais_store::Backend::Sqlite);
    store
        .ensure_admin(Some("right password"), T0)
        .await
        .unwrap();
    store.close().await;
    assert!(odd.join("dais.sqlite").is_file());

    let file = tmp.path().join("elsewhere.sqlite");
    let url = format!("sqlite://{}", file.display());
    let store = Store::open_with(&url, fast()).await.unwrap();
    assert_eq!(store.path(), file.as_path());
    store
        .ensure_admin(Some("right password"), T0)
        .await
        .unwrap();
    assert_eq!(store.operator_count().await.unwrap(), 1);
    store.close().await;
    assert!(file.is_file());
}

#[tokio::test]
async fn the_backend_is_the_one_the_location_names() {
    let dir = common::TestDb::new().await;
    let store = open(&dir).await;
    let want = if dir.is_postgres() {
        dais_store::Backend::Postgres
    } else {
        dais_store::Backend::Sqlite
    };
    assert_eq!(store.backend(), want);
    store.integrity_check().await.unwrap();
}

#[test]
fn both_backends_have_the_same_migration_versions() {
    let names = |backend: &str| {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("migrations")
            .join(backend);
        let mut v: Vec<String> = std::fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        v.sort();
        v
    };
    let sqlite = names("sqlite");
    assert!(sqlite.len() >= 4, "{sqlite:?}");
    assert_eq!(sqlite, names("postgres"));
}

#[tokio::test]
async fn an_unreachable_postgres_server_is_a_database_error() {
    // Port 1 on loopback: nothing listens, the connection is refused.
    let e = Store::open_with("postgres://dais:secret@127.0.0.1:1/dais", fast())
        .await
        .unwrap_err();
    assert!(matches!(e, StoreError::Database(_)), "{e:?}");
    assert!(!e.is_caller_fault());
    assert!(!format!("{e} {e:?}").contains("secret"), "{e:?}");
}
