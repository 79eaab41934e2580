#!/usr/bin/env bash
# Builds the fuzz crate with plain stable cargo (no sanitizers) and replays each target's seed
# corpus once: libFuzzer runs every file given on the command line exactly once. A panic or a
# crash fails the run. Real fuzzing: `cargo +nightly fuzz run <target> fuzz/seeds/<target>`.
set -euo pipefail
cd "$(dirname "$0")/../fuzz"
target_dir="${CARGO_TARGET_DIR:-/var/tmp/dais-target}-fuzz"
CARGO_TARGET_DIR="$target_dir" cargo build --locked --quiet
for src in fuzz_targets/*.rs; do
  name=$(basename "$src" .rs)
  seeds=(seeds/"$name"/*)
  if [ ! -e "${seeds[0]}" ]; then
    echo "fuzz-smoke: $name has no seeds in fuzz/seeds/$name" >&2
    exit 1
  fi
  # -runs=0 is not used: with files as arguments libFuzzer executes each one and exits.
  "$target_dir/debug/$name" "${seeds[@]}" > /tmp/fuzz-smoke-"$name".log 2>&1 || {
    tail -40 /tmp/fuzz-smoke-"$name".log >&2
    echo "fuzz-smoke: $name FAILED" >&2
    exit 1
  }
  echo "fuzz-smoke: $name replayed ${#seeds[@]} seeds"
done
