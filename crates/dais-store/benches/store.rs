//! Store hot paths: bearer-token authentication (every API request), audit append (every
//! command), and a full login at the production password cost.
//!
//! Run: `cargo bench -p dais-store --bench store`

use criterion::{Criterion, criterion_group, criterion_main};
use dais_store::{AuditEvent, AuditResult, Store};

const T0: i64 = 1_800_000_000;

fn bench(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    // DAIS_BENCH_STORE_URL=postgres://… measures the first three on PostgreSQL instead.
    let location = std::env::var("DAIS_BENCH_STORE_URL")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| dir.path().to_owned());
    let store = rt.block_on(Store::open(&location)).unwrap();
    rt.block_on(store.ensure_admin(Some("bench password"), T0))
        .unwrap();
    let session = rt
        .block_on(store.login("admin", "bench password", None, T0))
        .unwrap();

    c.bench_function("authenticate (valid token)", |b| {
        b.to_async(&rt)
            .iter(|| async { store.authenticate(&session.token, T0).await.unwrap() });
    });
    c.bench_function("audit append (WAL, synchronous=NORMAL)", |b| {
        b.to_async(&rt).iter(|| async {
            store
                .audit(&AuditEvent {
                    actor: "admin",
                    action: "meeting.command.broadcast",
                    target: "meeting 8001",
                    at: T0,
                    from: Some("127.0.0.1:40000"),
                    result: AuditResult::Ok,
                })
                .await
                .unwrap()
        });
    });
    let mut g = c.benchmark_group("login");
    g.sample_size(10);
    g.bench_function("login (argon2id 19 MiB, t=2)", |b| {
        b.to_async(&rt).iter(|| async {
            store
                .login("admin", "bench password", None, T0)
                .await
                .unwrap()
        });
    });
    g.finish();
    // A separate store with exactly 10,000 rows, so the figure does not depend on how many
    // iterations the benchmarks above happened to run.
    let dir2 = tempfile::tempdir().unwrap();
    let chain = rt.block_on(Store::open(dir2.path())).unwrap();
    rt.block_on(async {
        for i in 0..10_000 {
            chain
                .audit(&AuditEvent {
                    actor: "admin",
                    action: "meeting.command.broadcast",
                    target: &format!("meeting {i}"),
                    at: T0 + i,
                    from: Some("127.0.0.1:40000"),
                    result: AuditResult::Ok,
                })
                .await
                .unwrap();
        }
    });
    let mut g = c.benchmark_group("verify_audit_chain");
    g.sample_size(10);
    g.bench_function("10k rows", |b| {
        b.to_async(&rt)
            .iter(|| async { chain.verify_audit_chain().await.unwrap() });
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
