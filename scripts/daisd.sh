#!/usr/bin/env bash
# Builds and runs daisd: `bash scripts/daisd.sh --demo` (any daisd arguments pass through).
# daisd mixes Opus venues by default (the `opus` feature, D34), which links the system libopus
# through pkg-config; this installs `libopus-dev` and `pkg-config` with apt-get first, only when
# pkg-config cannot find libopus. Without apt-get: install them yourself, or build the
# G.711-only server with
#   cargo run --release -p dais-server --no-default-features --bin daisd -- --demo
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/packages.sh

if ! pkg-config --exists opus 2>/dev/null; then
  ensure_packages daisd libopus-dev=/usr/include/opus/opus.h pkg-config=pkg-config
fi
exec cargo run --release -p dais-server --bin daisd -- "$@"
