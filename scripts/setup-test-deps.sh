#!/usr/bin/env bash
# Installs the system packages the Dais test suite needs (real SIP and media peers, the
# headless browser for the web console, libopus for the audio mixer's `opus` feature, the
# PostgreSQL server for the store's second test run), and the
# console e2e test's npm packages. Nothing else.
# Idempotent: a package already present is skipped, and `apt-get update` runs only when
# something is missing. Needs root (CI and the dev machines run as root) or sudo.
set -euo pipefail

source "$(dirname "$0")/lib/packages.sh"

# package=a command it provides, or a file it installs (what we check for)
wanted=(
  sip-tester=sipp
  ffmpeg=ffmpeg
  # The web console's e2e test drives Debian's Chromium with playwright-core.
  chromium=chromium
  # CJK glyphs, so the console's Chinese labels render in the screenshots.
  fonts-wqy-microhei=/usr/share/fonts/truetype/wqy/wqy-microhei.ttc
  # The audio mixer's Opus (daisd's default `opus` feature) links Debian's libopus, found
  # through pkg-config (scripts/daisd.sh installs the same two).
  libopus-dev=/usr/include/opus/opus.h
  pkg-config=pkg-config
  # The dais-store suite's second run against PostgreSQL (scripts/postgres-test-server.sh). The
  # server's initdb, not just the client's directory; empty (so: missing) when absent.
  postgresql="$(ls -d /usr/lib/postgresql/*/bin/initdb 2>/dev/null | head -n1 || true)"
)
ensure_packages setup-test-deps "${wanted[@]}"

# The console e2e test's JavaScript dependencies (playwright-core, pinned by the lock file; it
# never downloads a browser). Skipped when the installed tree matches the lock file.
e2e="$(cd "$(dirname "$0")/.." && pwd)/tests/e2e"
if [ -f "$e2e/node_modules/.package-lock.json" ] \
  && cmp -s <(node -e 'const l=require(process.argv[1]);console.log(JSON.stringify(l.packages["node_modules/playwright-core"].version))' "$e2e/package-lock.json") \
            <(node -e 'const l=require(process.argv[1]);console.log(JSON.stringify(l.packages["node_modules/playwright-core"].version))' "$e2e/node_modules/.package-lock.json"); then
  echo "setup-test-deps: tests/e2e node modules present"
else
  echo "setup-test-deps: npm ci in tests/e2e"
  (cd "$e2e" && npm ci --no-audit --no-fund)
fi
