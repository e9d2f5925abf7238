#!/usr/bin/env bash
# Compares candidate HTTP stacks (Debian 12 packages) serving the same fixed
# ~1 KB JSON body to `wrk -t1 -c32 -d5s` on loopback (keep-alive): the
# measurement behind the choice of libevent's evhttp for `herald serve`
# (docs/server.md, "Choosing the HTTP stack").
# Needs: wrk libevent-dev libmicrohttpd-dev libboost-dev libcpp-httplib-dev.
# Usage: bench/http_stacks/compare.sh [seconds]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
secs=${1:-5}
out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; rm -rf "$out"' EXIT
cxx() { g++ -O2 -std=c++20 "$here/$1" -o "$out/$2" "${@:3}" -pthread; }
cxx httplib_server.cc httplib $(pkg-config --cflags --libs cpp-httplib)
cxx evhttp_server.cc evhttp -levent
cxx microhttpd_server.cc mhd -lmicrohttpd
cxx beast_server.cc beast
port=18931
printf '%-28s %12s %10s %10s\n' stack requests/s p50 p99
run() {  # name, command...
  local name=$1; shift
  "$@" & local pid=$!
  for _ in $(seq 50); do curl -s -o /dev/null -X POST "http://127.0.0.1:$port/v1/ads:select" && break; sleep 0.1; done
  local r; r=$(wrk -t1 -c32 -d"${secs}s" --latency -s "$here/post.lua" "http://127.0.0.1:$port/v1/ads:select")
  kill "$pid"; wait "$pid" 2>/dev/null || true
  printf '%-28s %12s %10s %10s\n' "$name" "$(awk '/Requests\/sec/ {print $2}' <<<"$r")" \
    "$(awk '$1=="50%" {print $2}' <<<"$r")" "$(awk '$1=="99%" {print $2}' <<<"$r")"
  port=$((port + 1))
}
run "cpp-httplib (thread pool)" "$out/httplib" $port
run "evhttp, 1 loop" "$out/evhttp" $port 1
run "evhttp, 2 loops" "$out/evhttp" $port 2
run "libmicrohttpd, 1 thread" "$out/mhd" $port 1
run "libmicrohttpd, 2 threads" "$out/mhd" $port 2
run "Boost.Beast, 1 thread" "$out/beast" $port 1
run "Boost.Beast, 2 threads" "$out/beast" $port 2
