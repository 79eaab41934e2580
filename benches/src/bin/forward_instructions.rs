//! Drives the `media/forward/K` scenario N times, for instruction counts under callgrind
//! (repeatable on a shared machine where wall-clock benches are not).
//!
//! `valgrind --tool=callgrind target/release/forward_instructions K N`
//!
//! Run it twice with two values of N and divide the difference of the totals by the difference
//! of N: set-up cancels out and what remains is instructions per forwarded packet.
#![allow(clippy::print_stdout)]

use std::hint::black_box;

use dais_benches::forward_scenario::ForwardScenario;

fn main() {
    let mut args = std::env::args().skip(1);
    let k: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(64);
    let n: u32 = args.next().and_then(|a| a.parse().ok()).unwrap_or(100_000);
    let mut s = ForwardScenario::new(k);
    let mut dests = 0usize;
    for _ in 0..n {
        dests += black_box(s.step());
    }
    println!("K={k} N={n} destinations={dests}");
}
