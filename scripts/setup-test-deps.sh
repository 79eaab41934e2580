#!/usr/bin/env bash
# Installs the system packages the Dais test suite needs (real SIP and media peers), and nothing
# else. Idempotent: a package already present is skipped, and `apt-get update` runs only when
# something is missing. Needs root (CI and the dev machines run as root) or sudo.
set -euo pipefail

# package -> a command it provides (what we check for)
declare -A wanted=(
  [sip-tester]=sipp
  [ffmpeg]=ffmpeg
)

missing=()
for pkg in "${!wanted[@]}"; do
  if ! command -v "${wanted[$pkg]}" >/dev/null 2>&1; then
    missing+=("$pkg")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "setup-test-deps: all present (${!wanted[*]})"
  exit 0
fi

sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "setup-test-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -q
$sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
