#!/usr/bin/env bash
# Starts or stops a throwaway PostgreSQL 15 server for tests and benchmarks.
#
#   scripts/pg_test_server.sh start [DIR]   initdb in DIR (default: a new temp dir),
#                                           start on 127.0.0.1 at a free port, wait
#                                           until it accepts connections, and print
#                                             export HERALD_TEST_PG='postgresql://herald@127.0.0.1:PORT/herald'
#                                             export HERALD_TEST_PG_DIR='DIR'
#   scripts/pg_test_server.sh stop DIR      stop the server and delete DIR
#
# Typical use:  eval "$(scripts/pg_test_server.sh start)"; ctest ...;
#               scripts/pg_test_server.sh stop "$HERALD_TEST_PG_DIR"
#
# The server trusts local connections (initdb -A trust, user "herald"), listens
# only on 127.0.0.1 and a socket in DIR, and is tuned for tests (fsync stays on:
# the durability tests mean it). PostgreSQL refuses to run as root: run as root,
# the script owns DIR by the "postgres" user and runs the server as that user
# (runuser -u postgres --). Everything but the export lines goes to stderr.
set -euo pipefail

PG_BIN=${PG_BIN:-}
if [ -z "$PG_BIN" ]; then
  for d in /usr/lib/postgresql/15/bin /usr/lib/postgresql/*/bin; do
    if [ -x "$d/initdb" ]; then PG_BIN=$d; break; fi
  done
fi
if [ -z "$PG_BIN" ] || [ ! -x "$PG_BIN/initdb" ]; then
  echo "pg_test_server: initdb not found (install the postgresql package: scripts/setup.sh)" >&2
  exit 1
fi

as_pg=()
if [ "$(id -u)" -eq 0 ]; then
  if ! id postgres >/dev/null 2>&1; then
    echo "pg_test_server: running as root needs the 'postgres' user" >&2
    exit 1
  fi
  as_pg=(runuser -u postgres --)
fi

free_port() {
  python3 - <<'EOF'
import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()
EOF
}

start() {
  local dir=${1:-}
  if [ -z "$dir" ]; then
    dir=$(mktemp -d "${TMPDIR:-/tmp}/herald-pg.XXXXXX")
  fi
  mkdir -p "$dir"
  chmod 700 "$dir"
  if [ ${#as_pg[@]} -gt 0 ]; then chown postgres: "$dir"; fi
  if [ ! -f "$dir/data/PG_VERSION" ]; then
    "${as_pg[@]}" "$PG_BIN/initdb" -D "$dir/data" -A trust -U herald -E UTF8 --no-locale >"$dir/initdb.log" 2>&1 || {
      echo "pg_test_server: initdb failed:" >&2
      cat "$dir/initdb.log" >&2
      exit 1
    }
  fi
  local port attempt
  for attempt in 1 2 3 4 5; do
    port=$(free_port)
    if "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 30 \
        -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c max_connections=200 -c shared_buffers=64MB" \
        start >&2; then
      break
    fi
    echo "pg_test_server: start on port $port failed (attempt $attempt); retrying" >&2
    port=""
  done
  if [ -z "$port" ]; then
    echo "pg_test_server: the server did not start; log:" >&2
    tail -n 30 "$dir/server.log" >&2 || true
    exit 1
  fi
  # Wait until it answers queries, then create the database.
  for attempt in $(seq 1 60); do
    if "$PG_BIN/pg_isready" -h 127.0.0.1 -p "$port" -q; then break; fi
    sleep 0.5
  done
  "${as_pg[@]}" "$PG_BIN/createdb" -h 127.0.0.1 -p "$port" -U herald herald >&2 2>/dev/null || true
  echo "$port" >"$dir/port"
  if [ ${#as_pg[@]} -gt 0 ]; then chown postgres: "$dir/port"; fi
  echo "export HERALD_TEST_PG='postgresql://herald@127.0.0.1:$port/herald'"
  echo "export HERALD_TEST_PG_DIR='$dir'"
}

stop() {
  local dir=${1:?usage: pg_test_server.sh stop DIR}
  if [ -f "$dir/data/postmaster.pid" ]; then
    "${as_pg[@]}" "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w stop >&2 || true
  fi
  case "$dir" in
    */herald-pg.*|"${TMPDIR:-/tmp}"/*) rm -rf "$dir" ;;
    *) echo "pg_test_server: stopped; left $dir in place (not a temp dir)" >&2 ;;
  esac
}

case "${1:-}" in
  start) shift; start "${1:-}" ;;
  stop) shift; stop "${1:-}" ;;
  *) echo "usage: $0 start [DIR] | stop DIR" >&2; exit 2 ;;
esac
