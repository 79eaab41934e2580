#!/usr/bin/env bash
# A throwaway PostgreSQL cluster for the dais-store tests, on a loopback port.
#   scripts/postgres-test-server.sh start   # prints the URL for DAIS_TEST_POSTGRES_URL
#   scripts/postgres-test-server.sh stop    # stops it and removes its directory
# The cluster runs as the `postgres` user (PostgreSQL refuses to run as root; CI runs as root),
# trusts local connections (it listens on 127.0.0.1 only and lives for one test run), and keeps
# everything under DAIS_PG_DIR (default /tmp/dais-test-pg). Needs Debian's `postgresql` package
# (scripts/setup-test-deps.sh installs it).
set -euo pipefail

dir="${DAIS_PG_DIR:-/tmp/dais-test-pg}"
port="${DAIS_PG_PORT:-54329}"
bin="$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n1)"
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
  echo "postgres-test-server: no PostgreSQL server found under /usr/lib/postgresql (install the postgresql package)" >&2
  exit 1
fi

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

case "${1:-}" in
  start)
    if [ -f "$dir/data/postmaster.pid" ] && as_pg "$bin/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      echo "postgres://postgres@127.0.0.1:$port/postgres"
      exit 0
    fi
    rm -rf "$dir"
    mkdir -p "$dir"
    if [ "$(id -u)" -eq 0 ]; then chown postgres: "$dir"; fi
    as_pg "$bin/initdb" -D "$dir/data" -U postgres --auth=trust --encoding=UTF8 --locale=C.UTF-8 >"$dir/initdb.log" 2>&1 \
      || { cat "$dir/initdb.log" >&2; exit 1; }
    # fsync off: the cluster is thrown away after the run, and the tests are about semantics.
    as_pg "$bin/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
      -o "-c listen_addresses=127.0.0.1 -p $port -k $dir -c fsync=off -c max_connections=200" start >/dev/null \
      || { cat "$dir/server.log" >&2; exit 1; }
    echo "postgres://postgres@127.0.0.1:$port/postgres"
    ;;
  stop)
    if [ -d "$dir/data" ]; then
      as_pg "$bin/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start|stop" >&2
    exit 2
    ;;
esac
