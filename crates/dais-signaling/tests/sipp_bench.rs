//! Benchmark, not a test (ignored): sipp dial-in set-up rate with digest auth, zero failures.
//!
//! `BENCH_RATE=200 BENCH_CALLS=2000 cargo test --release -p dais-signaling --test sipp_bench -- --ignored --nocapture`

mod common;

use common::*;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "benchmark"]
#[allow(clippy::print_stdout)] // a benchmark reports its figure
async fn bench_dial_in_rate() {
    let rate: u32 = std::env::var("BENCH_RATE")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(200);
    let calls: usize = std::env::var("BENCH_CALLS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(2000);
    let DialInMeeting {
        dir: _dir,
        svc,
        meeting: h,
        sipp_dir: d,
    } = dial_in_meeting("8500", "b", 5, calls).await;
    let started = std::time::Instant::now();
    let run = sipp(
        d.path(),
        vec![
            "-sf".into(),
            scenario("uac_auth_bench.xml").display().to_string(),
            "-inf".into(),
            "users.csv".into(),
            "-s".into(),
            "8500".into(),
            "-m".into(),
            calls.to_string(),
            "-r".into(),
            rate.to_string(),
            "-l".into(),
            "2000".into(),
            "-p".into(),
            free_port().to_string(),
            "-mp".into(),
            free_port().to_string(),
            svc.local_addr().to_string(),
        ],
    )
    .await;
    let secs = started.elapsed().as_secs_f64();
    let ok = stat(&run, "SuccessfulCall(C)").unwrap_or(0);
    let failed = stat(&run, "FailedCall(C)").unwrap_or(0);
    println!(
        "BENCH rate={rate}/s calls={calls} successful={ok} failed={failed} wall={secs:.1}s achieved={:.0} calls/s exit={:?}",
        ok as f64 / secs,
        run.status.code()
    );
    svc.shutdown().await;
    h.shutdown().await;
}
