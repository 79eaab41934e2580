# Shared by scripts/setup-test-deps.sh and scripts/daisd.sh (sourced, not run): installs
# Debian packages with apt-get only when they are missing.

# ensure_packages WHO PACKAGE=PROBE...
#   PROBE is a command the package provides, or an absolute path it installs; an empty PROBE
#   counts as missing. `apt-get update` runs only when something is missing. Needs root or
#   sudo; WHO prefixes the messages.
ensure_packages() {
  local who="$1"
  shift
  local missing=() names=() pair pkg probe
  for pair in "$@"; do
    pkg="${pair%%=*}"
    probe="${pair#*=}"
    names+=("$pkg")
    if [[ "$probe" == /* ]]; then
      [ -e "$probe" ] || missing+=("$pkg")
    elif [ -z "$probe" ] || ! command -v "$probe" >/dev/null 2>&1; then
      missing+=("$pkg")
    fi
  done
  if [ ${#missing[@]} -eq 0 ]; then
    echo "$who: all present (${names[*]})"
    return 0
  fi
  if ! command -v apt-get >/dev/null 2>&1; then
    echo "$who: missing ${missing[*]} and no apt-get here; install them with your package manager" >&2
    return 1
  fi
  local sudo=""
  if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
  echo "$who: installing ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q --no-install-recommends "${missing[@]}"
}
