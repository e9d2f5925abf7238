#!/usr/bin/env python3
"""Runs one of the example clients (examples/clients/) against a real
`herald serve` and checks what it did: starts the server on the example
catalog on a free 127.0.0.1 port with an API key required, runs the client
with the key in HERALD_API_KEY, reads its `RESULT {json}` line and checks
the results against the catalog, then stops the server with SIGTERM (exit 0).

Usage: client_test.py HERALD CATALOG -- CLIENT_COMMAND...   (the base URL is appended)
"""
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

herald, catalog = sys.argv[1], os.path.abspath(sys.argv[2])
client = sys.argv[sys.argv.index("--") + 1:]


def fail(message):
    sys.exit("FAIL " + message)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def click_target(item_id):
    """The item's click_url in the catalog text ("/" when it has none)."""
    text = open(catalog).read()
    start = text.find(f'id: "{item_id}"')
    if start < 0:
        fail(f"item {item_id!r} is not in {catalog}")
    following = text.find(' id: "', start + 1)  # the next item or campaign
    span = text[start:following if following > 0 else len(text)]
    found = re.search(r'click_url: "([^"]*)"', span)
    url = found.group(1) if found else ""
    absolute = url.startswith("http://") or url.startswith("https://")
    relative = len(url) > 1 and url[0] == "/" and url[1] != "/"
    return url if absolute or relative else "/"


with tempfile.TemporaryDirectory(prefix="herald-client-") as tmp:
    keys = os.path.join(tmp, "keys")
    created = subprocess.run([herald, "serve", "keys", "create", "--scope", "admin", "--name", "ci client",
                              "--keys-file", keys], capture_output=True, text=True)
    if created.returncode != 0:
        fail(f"herald serve keys create: {created.stderr}")
    key = created.stdout.split()[0]
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = os.path.join(tmp, "herald.textproto")
    with open(config, "w") as f:
        f.write(f'listen: "127.0.0.1:{port}"\ncatalog: "{catalog}"\nstore: "{tmp}/events.db"\n'
                f'threads: 2\napi_keys_file: "keys"\nflush_interval_ms: 100\naccess_log: "off"\n')
    server = subprocess.Popen([herald, "serve", "--config", config], stderr=subprocess.PIPE, text=True)
    try:
        for _ in range(200):
            try:
                with urllib.request.urlopen(base + "/readyz", timeout=1) as r:
                    if r.status == 200:
                        break
            except OSError:
                time.sleep(0.05)
        else:
            fail("herald serve did not become ready")
        # Without the key the server refuses the client: the key is really used.
        refused = subprocess.run(client + [base], capture_output=True, text=True, timeout=60,
                                 env={k: v for k, v in os.environ.items() if not k.startswith("HERALD_")})
        if refused.returncode == 0 or "401" not in refused.stderr:
            fail(f"the client without HERALD_API_KEY was not refused: {refused.stdout} {refused.stderr}")
        ran = subprocess.run(client + [base], capture_output=True, text=True, timeout=60,
                             env=dict(os.environ, HERALD_API_KEY=key))
        print(ran.stdout, end="")
        if ran.returncode != 0:
            fail(f"client exited {ran.returncode}: {ran.stderr}")
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            code = server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
            fail("herald serve did not stop on SIGTERM")
        log = server.stderr.read()
        if key[12:] in log:
            fail("the API key's secret is in the server log")
    if code != 0:
        fail(f"herald serve exited {code} after SIGTERM: {log[-2000:]}")

lines = [line for line in ran.stdout.splitlines() if line.startswith("RESULT ")]
if len(lines) != 1:
    fail("the client printed no RESULT line")
result = json.loads(lines[0][len("RESULT "):])
checks = {
    "three ads placed on Home": len(result["winners"]) == 3,
    "every ad's link redirects (302)": all(c["status"] == 302 for c in result["clicks"]),
    "to the ad's URL in the catalog": all(c["location"] == click_target(c["item"]) for c in result["clicks"]),
    "each click is recorded once": result["clicks_recorded"] == len(result["winners"]),
    "the basket is priced with WELCOME5 ($45 - $5)": result["priced_total_minor"] == "4000",
    "the order commits at that price": result["committed_total_minor"] == "4000",
    "the coupon's per-customer limit holds": result["second_commit"] == "failed_precondition",
    "the response is stored": len(result["interaction_id"]) == 32,
    "bad input is a 400 naming the field": result["bad_request"] == {"status": 400, "field": "count"},
}
for name, ok in checks.items():
    print(("ok   " if ok else "FAIL ") + name)
if not all(checks.values()):
    fail(f"result: {json.dumps(result)}")
