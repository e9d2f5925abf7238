#!/usr/bin/env bash
# End-to-end SMTP throughput: Herald's mailer (a real job: CSV list, SQLite
# ledger, compose, libcurl SMTP with N connections) against Postfix's
# smtp-source sending the same number of messages of the same size, both to
# Postfix's smtp-sink on loopback. Prints both rates and the ratio.
#
#   bench/smtp_throughput.sh BUILD_DIR [MESSAGES=20000] [SESSIONS=20] [SIZE=2000]
set -euo pipefail
build=${1:?usage: smtp_throughput.sh BUILD_DIR [messages] [sessions] [size]}
messages=${2:-20000}
sessions=${3:-20}
size=${4:-2000}
runner=$build/bin/herald_mail_runner
[ -x "$runner" ] || { echo "build herald_mail_runner first" >&2; exit 2; }
command -v smtp-sink >/dev/null || { echo "smtp-sink missing: apt-get install postfix (scripts/packages.txt)" >&2; exit 2; }
tmp=$(mktemp -d /tmp/herald-smtp-XXXXXX)
port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
user=()
[ "$(id -u)" -eq 0 ] && user=(-u postfix)
smtp-sink "${user[@]}" 127.0.0.1:$port 1024 &
sink=$!
trap 'kill $sink 2>/dev/null || true; rm -rf "$tmp"' EXIT
sleep 0.5

now() { date +%s.%N; }
# Postfix's smtp-source: SESSIONS parallel sessions, SIZE-byte messages.
t0=$(now)
smtp-source -s "$sessions" -l "$size" -m "$messages" -f news@contoso.example.com \
  -t user@example.org 127.0.0.1:$port
t1=$(now)
ref_rate=$(python3 -c "print(f'{$messages/($t1-$t0):.0f}')")

# Herald: a direct-mail job of MESSAGES recipients, SIZE-byte messages.
python3 - "$tmp/list.csv" "$messages" <<'PY'
import sys
with open(sys.argv[1], "w") as f:
    f.write("id,email,first_name\n")
    for i in range(int(sys.argv[2])):
        f.write(f"{i},user{i}@example.org,User{i}\n")
PY
t0=$(now)
"$runner" --store "sqlite:$tmp/ledger.db" --csv "$tmp/list.csv" --smtp "smtp://127.0.0.1:$port" \
  --job throughput --batch 400 --connections "$sessions" --size "$size" > "$tmp/report.json"
t1=$(now)
herald_rate=$(python3 -c "print(f'{$messages/($t1-$t0):.0f}')")
sent=$(python3 -c "import json; print(json.load(open('$tmp/report.json'))['sent'])")
[ "$sent" -eq "$messages" ] || { echo "herald sent $sent of $messages" >&2; exit 1; }
ratio=$(python3 -c "print(f'{$herald_rate/$ref_rate:.2f}')")
echo "messages=$messages size=$size sessions=$sessions"
echo "smtp-source: $ref_rate messages/s"
echo "herald:      $herald_rate messages/s (whole job: list, SQLite ledger, compose, send)"
echo "ratio herald/smtp-source: $ratio"
