#!/usr/bin/env bash
# herald serve against the ceiling of its own HTTP stack (issue #20 item 6):
# wrk on loopback with keep-alive, 3-slot decisions per second on a
# 10,000-ad catalog, and the same HttpServer answering a fixed body of the
# same size (bench/serve_ceiling.cc); prints ceiling, Herald, ratio, p50, p99.
# Client and server share the machine's cores, as the issue asks.
# Usage: bench/serve_wrk.sh [BUILD_DIR] [SECONDS] [THREADS]   (needs wrk)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-$here/../build}
secs=${2:-10}
threads=${3:-2}
herald=$build/bin/herald
ceiling=$build/bench/serve_ceiling
[ -x "$ceiling" ] || ceiling=$build/bin/serve_ceiling
work=$(mktemp -d)
pids=()
trap 'for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"' EXIT
python3 "$here/serve_catalog.py" "$work/catalog.textproto" 10000
cat > "$work/select.lua" <<'LUA'
-- Decisions for 1,000 users on 20 page groups, 3 slots each.
local n = 0
request = function()
  n = n + 1
  local body = string.format(
    '{"pageGroups":["pg%d"],"count":3,"userId":"u%d","profile":{"age":%d,"state":"WA"}}',
    n % 20, n % 1000, 18 + n % 50)
  return wrk.format("POST", "/v1/ads:select", {["Content-Type"] = "application/json"}, body)
end
LUA
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(free_port)
wait_ready() {
  for _ in $(seq 200); do curl -s -o /dev/null "http://127.0.0.1:$1/readyz" && return 0; sleep 0.05; done
  echo "server on port $1 did not start" >&2; return 1
}
measure() {  # port -> "requests/s p50 p99"
  local r; r=$(wrk -t1 -c32 -d"${secs}s" --latency -s "$work/select.lua" "http://127.0.0.1:$1/v1/ads:select")
  if grep -q "Non-2xx" <<<"$r"; then echo "non-2xx answers:" >&2; echo "$r" >&2; return 1; fi
  echo "$(awk '/Requests\/sec/ {print $2}' <<<"$r") $(awk '$1=="50%" {print $2}' <<<"$r") $(awk '$1=="99%" {print $2}' <<<"$r")"
}
"$herald" serve --catalog "$work/catalog.textproto" --store memory --listen "127.0.0.1:$port" \
  --threads "$threads" 2>"$work/herald.log" & pids+=($!)
wait_ready "$port"
curl -s -H 'Content-Type: application/json' \
  -d '{"pageGroups":["pg3"],"count":3,"userId":"u1","profile":{"age":30,"state":"WA"}}' \
  "http://127.0.0.1:$port/v1/ads:select" > "$work/answer.json"
winners=$(python3 -c 'import json,sys; print(len(json.load(open(sys.argv[1]))["winners"]))' "$work/answer.json")
[ "$winners" = 3 ] || { echo "the sample decision has $winners winners, not 3" >&2; exit 1; }
read -r herald_rps herald_p50 herald_p99 < <(measure "$port")
kill "${pids[0]}"; wait "${pids[0]}" 2>/dev/null || true
port=$(free_port)
# Its access log goes to a file like herald serve's: both pay the same per-request log cost.
"$ceiling" "$work/answer.json" "127.0.0.1:$port" "$threads" 2>"$work/ceiling.log" & pids+=($!)
wait_ready "$port"
read -r ceil_rps ceil_p50 ceil_p99 < <(measure "$port")
printf '%-34s %12s %10s %10s\n' "wrk -t1 -c32 -d${secs}s, $threads loops" requests/s p50 p99
printf '%-34s %12s %10s %10s\n' "ceiling (fixed $(wc -c <"$work/answer.json")-byte answer)" "$ceil_rps" "$ceil_p50" "$ceil_p99"
printf '%-34s %12s %10s %10s\n' "herald serve, 10,000 ads, 3 slots" "$herald_rps" "$herald_p50" "$herald_p99"
python3 -c "import sys; print(f'ratio Herald / ceiling: {float(sys.argv[1]) / float(sys.argv[2]):.2f}')" "$herald_rps" "$ceil_rps"
