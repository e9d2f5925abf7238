#!/usr/bin/env python3
"""Validates herald serve's real answers, errors included, against the OpenAPI
document it serves (docs/openapi.json): starts `herald serve` on 127.0.0.1,
sends good and bad requests to every endpoint, and checks each answer's body
against the schema the document gives for that path, method and status (and
that the document lists the status at all).

Usage: openapi_test.py HERALD CATALOG OPENAPI_JSON
Needs python3-jsonschema (Debian 12: 4.10, Draft 2020-12 as OpenAPI 3.1 uses).
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
import urllib.error
import urllib.request

import jsonschema

herald, catalog, openapi_path = sys.argv[1:4]
with open(openapi_path) as f:
    document = json.load(f)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


opener = urllib.request.build_opener(NoRedirect)


def call(base, method, path, body=None, content_type="application/json", headers=None):
    data = None if body is None else (body if isinstance(body, bytes) else json.dumps(body).encode())
    request = urllib.request.Request(base + path, data=data, method=method)
    if content_type:
        request.add_header("Content-Type", content_type)
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    try:
        with opener.open(request, timeout=20) as response:
            return response.status, dict(response.headers), response.read()
    except urllib.error.HTTPError as e:
        return e.code, dict(e.headers), e.read()


def operation_for(path, method):
    for template, item in document["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", re.escape(template).replace(r"\{", "{").replace(r"\}", "}")) + "$"
        if re.match(pattern, path) and method.lower() in item:
            return template, item[method.lower()]
    return None, None


checked = []


def check(base, method, path, body=None, content_type="application/json", expect=None, query="", key=None):
    status, headers, raw = call(base, method, path + query, body, content_type,
                                {"Authorization": f"Bearer {key}"} if key else None)
    where = f"{method} {path}{query} -> {status}"
    if expect is not None and status != expect:
        sys.exit(f"FAIL {where}: expected {expect}; body {raw[:300]!r}")
    template, op = operation_for(path, method)
    if op is None:
        # Not in the document: only a 404 (no such endpoint) or a 405 may say so.
        op = {"responses": document["paths"]["/v1/ads:select"]["post"]["responses"]}
        if status not in (404, 405):
            sys.exit(f"FAIL {where}: path not in the document")
        schema = {"$ref": "#/components/schemas/ApiError"}
    else:
        response = op["responses"].get(str(status))
        if response is None:
            sys.exit(f"FAIL {where}: status {status} not documented for {template}")
        content = response.get("content")
        if content is None:
            checked.append(where)
            return status, headers, raw
        media = headers.get("Content-Type", "").split(";")[0].strip()
        if media not in content:
            sys.exit(f"FAIL {where}: content type {media} not documented ({list(content)})")
        if media != "application/json":
            checked.append(where)
            return status, headers, raw
        schema = content[media]["schema"]
    validator = jsonschema.Draft202012Validator(
        {**schema, "components": document["components"]})
    try:
        validator.validate(json.loads(raw))
    except (jsonschema.ValidationError, json.JSONDecodeError) as e:
        sys.exit(f"FAIL {where}: {str(e)[:500]}")
    checked.append(where)
    return status, headers, raw


def new_key(keys_file, scope):
    made = subprocess.run([herald, "serve", "keys", "create", "--scope", scope, "--name", scope,
                           "--keys-file", keys_file], capture_output=True, text=True, check=True)
    return made.stdout.strip()


def check_keys_and_limits(workdir):
    """The answers of a server with API keys and a rate limit: 401, 403, 429, /metrics."""
    keys_file = os.path.join(workdir, "keys")
    decisions, reports, admin = (new_key(keys_file, s) for s in ("decisions", "reports", "admin"))
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    config = os.path.join(workdir, "server.textproto")
    with open(config, "w") as f:
        f.write(f'listen: "127.0.0.1:{port}"\ncatalog: "{catalog}"\napi_keys_file: "keys"\n'
                'access_log: "off"\nlimits { requests_per_second_per_key: 0.2 burst_per_key: 1 }\n')
    server = subprocess.Popen([herald, "serve", "--config", config], stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                if call(base, "GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        select = {"pageGroups": ["Home"], "count": 1}
        check(base, "POST", "/v1/ads:select", select, expect=401)
        check(base, "POST", "/v1/ads:select", select, expect=401, key="hk_00000000_" + "0" * 64)
        check(base, "POST", "/v1/ads:select", select, expect=403, key=reports)
        check(base, "POST", "/v1/ads:select", select, expect=200, key=decisions)
        _, headers, _ = check(base, "POST", "/v1/ads:select", select, expect=429, key=decisions)
        if not headers.get("Retry-After", "").isdigit():
            sys.exit(f"FAIL 429 without Retry-After: {headers}")
        check(base, "GET", "/v1/reports/campaign-item-summary", expect=403, key=decisions)
        check(base, "GET", "/metrics", expect=401)
        check(base, "GET", "/metrics", expect=200, key=admin)
        check(base, "GET", "/healthz", expect=200)
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)


def main():
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    workdir = tempfile.mkdtemp(prefix="herald-openapi-")
    server = subprocess.Popen([herald, "serve", "--catalog", catalog, "--store", os.path.join(workdir, "s.db"),
                               "--listen", f"127.0.0.1:{port}"], stderr=subprocess.DEVNULL)
    try:
        for _ in range(100):
            try:
                if call(base, "GET", "/readyz")[0] == 200:
                    break
            except OSError:
                pass
            time.sleep(0.05)
        select = {"pageGroups": ["Home"], "count": 3, "userId": "u1", "profile": {"age": 34, "state": "WA"}}
        _, _, raw = check(base, "POST", "/v1/ads:select", select, expect=200)
        winners = json.loads(raw)["winners"]
        check(base, "POST", "/v1/ads:select", {**select, "trace": True}, expect=200)
        check(base, "POST", "/v1/ads:select", {"profile": {"age": "abc"}}, expect=400)
        check(base, "POST", "/v1/ads:select", b"{\"pageGroups\":[\"\xff\"]}", expect=400)
        check(base, "POST", "/v1/ads:select", {}, content_type="text/plain", expect=415)
        check(base, "GET", "/v1/ads:select", expect=405)
        check(base, "GET", winners[0]["clickUrl"], expect=302)
        check(base, "GET", "/v1/clicks/k1.forged.link", expect=404)
        # 08:00 in the catalog's zone: outside its 5-9 pm happy hour, whatever the clock says.
        basket = {"currency": "USD", "customerId": "c1", "couponCodes": ["WELCOME5"], "time": "2026-06-02T15:00:00Z",
                  "items": [{"productId": "tent", "category": "Outdoor", "unitPriceMinor": "4500", "quantity": "1"}]}
        check(base, "POST", "/v1/baskets:price", {"basket": basket, "explain": True}, expect=200)
        check(base, "POST", "/v1/baskets:price", {"basket": {"items": [{"quantity": "x"}]}}, expect=400)
        check(base, "POST", "/v1/orders:commit", {"basket": {**basket, "orderId": "o1"}}, expect=200)
        check(base, "POST", "/v1/orders:commit", {"basket": {**basket, "orderId": "o2"}}, expect=409)
        response = {"subject": {"customerId": "c1"}, "action": {"issue": "Sales", "group": "Gear", "name": "WinterJacket"},
                    "outcome": "OUTCOME_ACCEPTED"}
        check(base, "POST", "/v1/responses", response, expect=200)
        consent = {"adUserData": "CONSENT_STATUS_GRANTED", "adPersonalization": "CONSENT_STATUS_DENIED",
                   "dataProcessingOptions": ["LDU"], "dataProcessingOptionsCountry": 1, "dataProcessingOptionsState": 1000}
        check(base, "POST", "/v1/responses", {**response, "consent": consent}, expect=200)
        check(base, "POST", "/v1/responses", {**response, "consent": {"dataProcessingOptions": ["GDPR"]}}, expect=400)
        check(base, "POST", "/v1/responses", {**response, "action": {"issue": "Sales", "group": "Gear", "name": "No"}}, expect=404)
        time.sleep(1.2)  # one flush interval: the report sees the events
        check(base, "GET", "/v1/reports/campaign-item-summary", expect=200)
        check(base, "GET", "/v1/reports/campaign-item-summary", query="?format=csv", expect=200)
        check(base, "GET", "/v1/reports/campaign-item-summary", query="?from=yesterday", expect=400)
        check(base, "GET", "/v1/reports/nope", expect=404)
        check(base, "GET", "/healthz", expect=200)
        check(base, "GET", "/readyz", expect=200)
        check(base, "GET", "/v1/openapi.json", expect=200)
        check(base, "GET", "/v1/nothing", expect=404)
        _, _, served = call(base, "GET", "/v1/openapi.json")
        if json.loads(served) != document:
            sys.exit("FAIL /v1/openapi.json differs from docs/openapi.json")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
    check_keys_and_limits(workdir)
    print(f"ok: {len(checked)} answers valid against {openapi_path}")


main()
