#!/usr/bin/env python3
"""herald serve's /metrics against the real Prometheus tools (Debian's
`prometheus` package): starts `herald serve` on 127.0.0.1, sends known
traffic, runs `promtool check metrics` on the real /metrics output, then
starts a Prometheus server on loopback (its own temp dir, a generated
prometheus.yml scraping herald every second, a free port) and queries its
HTTP API until the scraped series show the traffic's values.

Usage: prometheus_test.py HERALD CATALOG
Fails (never skips) when promtool or prometheus is missing.
"""
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request

herald, catalog = sys.argv[1:3]
PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
PROMETHEUS = shutil.which("prometheus") or "/usr/bin/prometheus"
failures = []


def check(condition, message):
    if not condition:
        failures.append(message)
        print("FAIL:", message, file=sys.stderr)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def call(url, body=None):
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method="POST" if body is not None else "GET")
    request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=20) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def wait_for(url, deadline):
    while time.time() < deadline:
        try:
            call(url)
            return True
        except OSError:
            time.sleep(0.1)
    return False


def main():
    for tool in (PROMTOOL, PROMETHEUS):
        if not os.access(tool, os.X_OK):
            print(f"FAIL: {tool} not found: install Debian's prometheus package (scripts/packages.txt)",
                  file=sys.stderr)
            return 1
    tmp = tempfile.mkdtemp(prefix="herald-prometheus-")
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    server = subprocess.Popen([herald, "serve", "--catalog", catalog, "--listen", f"127.0.0.1:{port}",
                               "--threads", "2"], stderr=open(os.path.join(tmp, "herald.log"), "wb"))
    prometheus = None
    try:
        if not wait_for(base + "/healthz", time.time() + 20):
            print("FAIL: herald serve did not start", file=sys.stderr)
            return 1
        # Known traffic: 7 decisions, 2 invalid ones, 3 forged clicks.
        for i in range(7):
            status, _ = call(base + "/v1/ads:select", {"pageGroups": ["Home"], "count": 3, "userId": f"u{i}"})
            check(status == 200, f"ads:select answered {status}")
        for _ in range(2):
            status, _ = call(base + "/v1/ads:select", {"count": 1000})
            check(status == 400, f"ads:select count=1000 answered {status}")
        for _ in range(3):
            status, _ = call(base + "/v1/clicks/not-a-token")
            check(status == 404, f"forged click answered {status}")

        status, text = call(base + "/metrics")
        check(status == 200, f"/metrics answered {status}")
        with open(os.path.join(tmp, "metrics.txt"), "wb") as f:
            f.write(text)
        lint = subprocess.run([PROMTOOL, "check", "metrics"], input=text, capture_output=True)
        check(lint.returncode == 0,
              f"promtool check metrics: {lint.stdout.decode()}{lint.stderr.decode()}")
        body = text.decode()
        check('herald_http_requests_total{route="/v1/ads:select",status_class="2xx"} 7' in body,
              "/metrics lacks 7 successful ads:select requests")
        check('herald_http_requests_total{route="/v1/clicks/{token}",status_class="4xx"} 3' in body,
              "/metrics lacks 3 refused clicks under the route template")
        check("not-a-token" not in body, "/metrics names a raw click path")

        prom_port = free_port()
        with open(os.path.join(tmp, "prometheus.yml"), "w") as f:
            f.write(f"""global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: herald
    scrape_interval: 1s
    static_configs:
      - targets: ["127.0.0.1:{port}"]
""")
        prometheus = subprocess.Popen(
            [PROMETHEUS, f"--config.file={tmp}/prometheus.yml", f"--storage.tsdb.path={tmp}/data",
             f"--web.listen-address=127.0.0.1:{prom_port}", "--web.enable-lifecycle"],
            stdout=subprocess.DEVNULL, stderr=open(os.path.join(tmp, "prometheus.log"), "wb"), cwd=tmp)
        prom = f"http://127.0.0.1:{prom_port}"
        expected = {
            'herald_decisions_total{outcome="filled"}': 7,
            'herald_decisions_total{outcome="rejected"}': 2,
            'herald_http_requests_total{route="/v1/clicks/{token}",status_class="4xx"}': 3,
            'herald_http_request_duration_seconds_count{route="/v1/ads:select"}': 9,
            'sum(herald_slots_total{kind=~"paid|house|discount|empty"})': 21,
        }
        seen = {}
        deadline = time.time() + 60
        while time.time() < deadline and seen != expected:
            time.sleep(0.5)
            for query in expected:
                try:
                    status, answer = call(prom + "/api/v1/query?" + urllib.parse.urlencode({"query": query}))
                except OSError:
                    continue
                if status != 200:
                    continue
                result = json.loads(answer)["data"]["result"]
                if result:
                    seen[query] = float(result[0]["value"][1])
        for query, value in expected.items():
            check(seen.get(query) == value, f"Prometheus: {query} = {seen.get(query)}, expected {value}")
        up = call(prom + "/api/v1/query?" + urllib.parse.urlencode({"query": 'up{job="herald"}'}))
        check(up[0] == 200 and '"1"]' in up[1].decode(), f"Prometheus: herald target not up: {up[1][:300]}")
    finally:
        for process in (prometheus, server):
            if process is not None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
        if failures:
            print(f"kept for inspection: {tmp}", file=sys.stderr)
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    if failures:
        return 1
    print("prometheus_test: promtool and a Prometheus scrape agree with the traffic")
    return 0


if __name__ == "__main__":
    sys.exit(main())
