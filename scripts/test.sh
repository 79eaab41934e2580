#!/usr/bin/env bash
# The whole Dais test suite, from a fresh clone on a fresh machine: installs the system packages
# the tests need, then checks formatting and lints, builds the benchmarks, replays every fuzz
# seed corpus once, and runs every test. `.ci/run` calls exactly this.
set -euo pipefail
cd "$(dirname "$0")/.."

# A persistent target dir outside the clone makes repeated runs fast; override as you like.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-/var/tmp/dais-target}"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Tests start real peers and servers; keep the machine's 2 cores from being oversubscribed.
export RUST_TEST_THREADS="${RUST_TEST_THREADS:-2}"

step() { printf '\n==> %s\n' "$*"; }

step "system packages for the tests"
bash scripts/setup-test-deps.sh

step "formatting (cargo fmt --check)"
cargo fmt --all --check

step "lints (cargo clippy -D warnings)"
cargo clippy --workspace --all-targets --locked -- -D warnings

step "benchmarks build (cargo bench --no-run)"
cargo bench --workspace --no-run --locked

step "fuzz targets build and replay their seed corpora once"
bash scripts/fuzz-smoke.sh

step "tests (cargo test)"
cargo test --workspace --locked

# daisd's default `opus` feature (D34) is on in every workspace command above, so Opus is
# linted and tested there; this step covers the G.711-only build (`--no-default-features`):
# Opus refused by the mixer, not offered in SDP, Opus legs left to the feed model.
step "the build without Opus (--no-default-features: G.711 only, no libopus)"
cargo clippy -p dais-audio -p dais-net -p dais-signaling -p dais-server --no-default-features --all-targets --locked -- -D warnings
cargo test -p dais-audio -p dais-net -p dais-signaling --lib --locked
cargo test -p dais-audio --test opus_is_refused_without_the_feature --locked

step "store and operator-API tests against PostgreSQL (dais-store; daisd with --store postgres://)"
pg_url="$(bash scripts/postgres-test-server.sh start)"
trap 'bash scripts/postgres-test-server.sh stop' EXIT
DAIS_TEST_POSTGRES_URL="$pg_url" cargo test -p dais-store --locked
# The API tests that run the real daisd, each on a fresh PostgreSQL database of its own
# (crates/dais-server/tests/api_common): bookings and approvals, sites, equipment, records,
# permissions and audit, chair commands, recordings.
DAIS_TEST_POSTGRES_URL="$pg_url" cargo test -p dais-server --locked \
  --test api_operations --test api_permissions --test api_chair_commands --test api_recordings
