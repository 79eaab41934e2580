//! Where a test's store lives: a fresh SQLite file in a temporary directory, or — when
//! `DAIS_TEST_POSTGRES_URL` names a PostgreSQL server (`scripts/postgres-test-server.sh`) — a
//! fresh database of its own on that server, so the same tests run against both backends.

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use sqlx::Connection;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// One test's database. `path()` is what `Store::open` takes: the directory or the URL.
pub struct TestDb {
    dir: tempfile::TempDir,
    pg_url: Option<String>,
    location: PathBuf,
}

impl TestDb {
    /// A new, empty database for one test.
    pub async fn new() -> TestDb {
        let dir = tempfile::tempdir().unwrap();
        let Ok(admin_url) = std::env::var("DAIS_TEST_POSTGRES_URL") else {
            let location = dir.path().to_owned();
            return TestDb {
                dir,
                pg_url: None,
                location,
            };
        };
        sqlx::any::install_default_drivers();
        // Unique across the test binaries running at once (pid) and the tests in one (counter).
        let name = format!(
            "dais_test_{}_{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        let mut admin = sqlx::AnyConnection::connect(&admin_url).await.unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!(
            "DROP DATABASE IF EXISTS {name}"
        )))
        .execute(&mut admin)
        .await
        .unwrap();
        sqlx::raw_sql(sqlx::AssertSqlSafe(format!("CREATE DATABASE {name}")))
            .execute(&mut admin)
            .await
            .unwrap();
        admin.close().await.unwrap();
        let (base, _) = admin_url
            .rsplit_once('/')
            .expect("URL with a database name");
        let url = format!("{base}/{name}");
        TestDb {
            dir,
            location: PathBuf::from(&url),
            pg_url: Some(url),
        }
    }

    /// What `Store::open` takes for this database.
    pub fn path(&self) -> &Path {
        &self.location
    }

    /// Whether this test runs against PostgreSQL.
    pub fn is_postgres(&self) -> bool {
        self.pg_url.is_some()
    }

    /// A connection of its own, beside the store's pool (what someone with the database in
    /// hand could do).
    pub async fn raw_conn(&self) -> sqlx::AnyConnection {
        sqlx::any::install_default_drivers();
        let url = match &self.pg_url {
            Some(url) => url.clone(),
            None => format!("sqlite://{}", self.dir.path().join("dais.sqlite").display()),
        };
        sqlx::AnyConnection::connect(&url).await.unwrap()
    }

    /// Everything the database holds, as bytes to search for secrets: the SQLite file, or
    /// every row of every table as PostgreSQL prints it.
    pub async fn raw_contents(&self) -> Vec<u8> {
        if self.pg_url.is_none() {
            return std::fs::read(self.dir.path().join("dais.sqlite")).unwrap();
        }
        let mut c = self.raw_conn().await;
        let tables: Vec<String> = sqlx::query_scalar(
            "SELECT tablename::text FROM pg_tables WHERE schemaname = 'public' ORDER BY tablename",
        )
        .fetch_all(&mut c)
        .await
        .unwrap();
        assert!(tables.iter().any(|t| t == "sessions"), "{tables:?}");
        let mut out = Vec::new();
        for t in tables {
            let rows: Vec<String> =
                sqlx::query_scalar(sqlx::AssertSqlSafe(format!("SELECT t::text FROM {t} t")))
                    .fetch_all(&mut c)
                    .await
                    .unwrap();
            for r in rows {
                out.extend_from_slice(r.as_bytes());
                out.push(b'\n');
            }
        }
        out
    }
}
