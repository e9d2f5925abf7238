#!/usr/bin/env python3
"""Validates the Business Desk admin API's real answers, errors included,
against docs/openapi.json (the paths tagged "Business Desk"): pushes the
example catalog into a new SQLite store, creates the admin, starts `herald
serve` with its desk listener and a maildir transport on 127.0.0.1, signs in
as an admin, an editor and a viewer, and calls every route of the document's
desk paths with good and bad requests (unknown ids, malformed bodies and
headers, no or another session's CSRF token, a role too low, a stale
If-Match, a wrong Content-Type, no session); lists are imported through the
API, a direct-mail item using them is sent into the maildir and followed
until completed, another is paused and stopped, and a second server on the
store without a mail transport refuses a start. Each answer's status must be
one the document lists for that path and method, its body must match the
schema given for that status (the headers it names must be there too), and
every desk operation of the document must have been called and answered with
success at least once: a route added to the document without a test here
fails, as does an answer the document does not describe.

Usage: desk_openapi_test.py HERALD CATALOG OPENAPI_JSON
Needs python3-jsonschema (Draft 2020-12, as OpenAPI 3.1 uses).
"""
import json
import os
import re
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

import jsonschema

herald, catalog_file, openapi_path = (os.path.abspath(p) for p in sys.argv[1:4])
with open(openapi_path) as f:
    document = json.load(f)

TAG = "Business Desk"
ADMIN = ("ann", "ann-password-1234")
EDITOR = ("eve", "eve-password-1234")
VIEWER = ("vic", "vic-password-1234")
METHODS = ("get", "put", "post", "patch", "delete")


def desk_operations():
    """(template, method) of every operation tagged Business Desk."""
    return {(path, method) for path, item in document["paths"].items() for method in METHODS
            if method in item and TAG in item[method].get("tags", [])}


def template_pattern(template):
    # A {param} stands for one segment's value, which never holds '/' or ':'
    # (a ':' is sent as %3A), so "/x/{id}" does not take "/x/a:verb".
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("^" + "".join("[^/:]+" if p.startswith("{") else re.escape(p) for p in parts) + "$")


PATTERNS = [(template, template_pattern(template)) for template in document["paths"]]


def operation_for(path, method):
    for template, pattern in PATTERNS:
        if pattern.match(path) and method.lower() in document["paths"][template]:
            return template, document["paths"][template][method.lower()]
    return None, None


def resolve(value):
    while isinstance(value, dict) and "$ref" in value and value["$ref"].startswith("#/components/"):
        section, name = value["$ref"][len("#/components/"):].split("/", 1)
        value = document["components"][section][name]
    return value


def fail(message):
    sys.exit(f"FAIL {message}")


class NoRedirect(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None


opener = urllib.request.build_opener(NoRedirect)
checked = []          # "METHOD path -> status" of every answer checked
exercised = {}        # (template, method) -> set of statuses seen


class Session:
    """A signed-in user: the cookie and the CSRF token."""

    def __init__(self, cookie, csrf, user):
        self.cookie, self.csrf, self.user = cookie, csrf, user


class Desk:
    def __init__(self, base):
        self.base = base

    def call(self, method, path, body=None, *, session=None, csrf=True, content_type="application/json",
             headers=None, query=""):
        """One request; (status, headers, raw body)."""
        if body is None:
            data = None
        elif isinstance(body, (bytes, bytearray)):
            data = bytes(body)
        elif isinstance(body, str):
            data = body.encode()
        else:
            data = json.dumps(body).encode()
        if data is None and method in ("POST", "PUT", "PATCH"):
            data = b""
        request = urllib.request.Request(self.base + path + query, data=data, method=method)
        if content_type and method != "GET":
            request.add_header("Content-Type", content_type)
        if session is not None:
            request.add_header("Cookie", f"herald_desk={session.cookie}")
            if csrf and method not in ("GET", "HEAD"):
                request.add_header("X-CSRF-Token", session.csrf if csrf is True else csrf)
        for name, value in (headers or {}).items():
            request.add_header(name, value)
        try:
            with opener.open(request, timeout=30) as response:
                return response.status, response.headers, response.read()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read()

    def check(self, method, path, body=None, *, expect=None, **kwargs):
        """Calls, then checks the answer against the document; the body parsed (None when empty)."""
        status, headers, raw = self.call(method, path, body, **kwargs)
        query = kwargs.get("query", "")
        where = f"{method} {path}{query} -> {status}"
        if expect is not None and status not in (expect if isinstance(expect, tuple) else (expect,)):
            fail(f"{where}: expected {expect}; body {raw[:400]!r}")
        template, op = operation_for(path, method)
        if op is None:
            # Not in the document: only a 404 (no such route) or a 405 (another method) may say so.
            if status not in (404, 405):
                fail(f"{where}: not in the document")
            response = {"content": {"application/json": {"schema": {"$ref": "#/components/schemas/ApiError"}}}}
        else:
            if TAG not in op.get("tags", []):
                fail(f"{where}: {template} is not a desk path")
            response = op["responses"].get(str(status))
            if response is None:
                fail(f"{where}: status {status} not documented for {method} {template}")
            response = resolve(response)
            exercised.setdefault((template, method.lower()), set()).add(status)
        for name in response.get("headers", {}):
            if headers.get(name) is None:
                fail(f"{where}: no {name} header, which the document names")
        content = response.get("content")
        parsed = None
        if content is None:
            if raw:
                fail(f"{where}: a body ({raw[:100]!r}) where the document has none")
        else:
            media = (headers.get("Content-Type") or "").split(";")[0].strip()
            if media not in content:
                fail(f"{where}: content type {media!r} not documented ({list(content)})")
            if media == "application/json":
                try:
                    parsed = json.loads(raw)
                except json.JSONDecodeError as e:
                    fail(f"{where}: not JSON: {e}; {raw[:200]!r}")
                validator = jsonschema.Draft202012Validator(
                    {**content[media]["schema"], "components": document["components"]})
                errors = sorted(validator.iter_errors(parsed), key=lambda e: list(e.absolute_path))
                if errors:
                    e = errors[0]
                    fail(f"{where}: {'/'.join(map(str, e.absolute_path))}: {e.message[:400]}")
            else:
                parsed = raw.decode()
        checked.append(where)
        return status, headers, parsed

    def sign_in(self, user, password):
        _, headers, body = self.check("POST", "/api/v1/session", {"user": user, "password": password}, expect=200)
        cookie = re.search(r"herald_desk=([^;]*)", headers.get("Set-Cookie", ""))
        if cookie is None or not cookie.group(1):
            fail(f"sign-in of {user}: no herald_desk cookie in {headers.get('Set-Cookie')!r}")
        return Session(cookie.group(1), body["csrfToken"], user)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run(args, env=None):
    done = subprocess.run([herald] + args, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if done.returncode != 0:
        fail(f"herald {' '.join(args)}: exit {done.returncode}: {done.stderr[-800:]}")
    return done.stdout


def q(value):
    """A path segment: percent-encoded, ':' too."""
    return urllib.parse.quote(value, safe="")


# ---- the scenarios ---------------------------------------------------------

def sessions_and_users(desk):
    """Signing in, the session routes and user management; the sessions to use next."""
    check = desk.check
    check("GET", "/api/v1/session", expect=401)
    check("POST", "/api/v1/session", {"user": ADMIN[0], "password": "not-the-password"}, expect=401)
    check("POST", "/api/v1/session", b"{not json", expect=400)
    check("POST", "/api/v1/session", {"user": 5, "password": "x"}, expect=400)
    check("POST", "/api/v1/session", {"user": ADMIN[0], "password": ADMIN[1]}, content_type="text/plain", expect=415)
    check("POST", "/api/v1/session", {"user": ADMIN[0], "password": ADMIN[1]},
          headers={"Origin": "https://evil.example"}, expect=403)
    admin = desk.sign_in(*ADMIN)  # clears the failures counted so far
    _, _, me = check("GET", "/api/v1/session", session=admin, expect=200)
    if me["user"] != ADMIN[0] or me["role"] != "admin":
        fail(f"GET /api/v1/session: {me}")

    # Users.
    check("GET", "/api/v1/users", session=admin, expect=200)
    check("GET", "/api/v1/users", expect=401)
    for (name, password), role in ((EDITOR, "editor"), (VIEWER, "viewer")):
        check("POST", "/api/v1/users", {"name": name, "role": role, "password": password}, session=admin, expect=201)
    check("POST", "/api/v1/users", {"name": EDITOR[0], "role": "editor", "password": EDITOR[1]}, session=admin,
          expect=409)
    check("POST", "/api/v1/users", {"name": "zed", "role": "boss", "password": "zed-password-1234"}, session=admin,
          expect=400)
    check("POST", "/api/v1/users", {"name": "zed", "role": "viewer", "password": "short"}, session=admin, expect=400)
    check("POST", "/api/v1/users", b"[1]", session=admin, expect=400)
    check("POST", "/api/v1/users", {"name": "zed", "role": "viewer", "password": "zed-password-1234"},
          session=admin, csrf=False, expect=403)
    check("POST", "/api/v1/users", {"name": "zed", "role": "viewer", "password": "zed-password-1234"},
          session=admin, csrf="not-the-token", expect=403)
    check("POST", "/api/v1/users", {"name": "zed", "role": "viewer", "password": "zed-password-1234"},
          session=admin, content_type="text/plain", expect=415)
    check("POST", "/api/v1/users", {"name": "zed", "role": "viewer", "password": "zed-password-1234"}, expect=401)
    editor = desk.sign_in(*EDITOR)
    viewer = desk.sign_in(*VIEWER)
    check("GET", "/api/v1/users", session=editor, expect=403)
    check("POST", "/api/v1/users", {"name": "zed", "role": "viewer", "password": "zed-password-1234"},
          session=editor, expect=403)
    check("POST", "/api/v1/users", {"name": "tmp", "role": "viewer", "password": "tmp-password-1234"},
          session=admin, expect=201)
    check("PATCH", "/api/v1/users/tmp", {"role": "editor", "disabled": True}, session=admin, expect=200)
    check("PATCH", "/api/v1/users/tmp", {"disabled": False, "password": "tmp-password-5678"}, session=admin,
          expect=200)
    check("PATCH", "/api/v1/users/tmp", {"bogus": 1}, session=admin, expect=400)
    check("PATCH", "/api/v1/users/tmp", {"disabled": "yes"}, session=admin, expect=400)
    check("PATCH", "/api/v1/users/tmp", b"nope", session=admin, expect=400)
    check("PATCH", "/api/v1/users/nobody", {"role": "viewer"}, session=admin, expect=404)
    check("PATCH", f"/api/v1/users/{ADMIN[0]}", {"role": "viewer"}, session=admin, expect=409)
    check("PATCH", "/api/v1/users/tmp", {"role": "viewer"}, session=viewer, expect=403)
    check("PATCH", "/api/v1/users/tmp", {"role": "viewer"}, session=admin, csrf=False, expect=403)
    check("PATCH", "/api/v1/users/tmp", {"role": "viewer"}, session=admin, content_type="text/plain", expect=415)
    check("PATCH", "/api/v1/users/tmp", {"role": "viewer"}, expect=401)
    check("DELETE", f"/api/v1/users/{ADMIN[0]}", session=admin, expect=409)
    check("DELETE", "/api/v1/users/tmp", session=editor, expect=403)
    check("DELETE", "/api/v1/users/tmp", session=admin, csrf=False, expect=403)
    check("DELETE", "/api/v1/users/tmp", expect=401)
    check("DELETE", "/api/v1/users/tmp", session=admin, expect=204)
    check("DELETE", "/api/v1/users/tmp", session=admin, expect=404)

    # Your own password: a user of its own, whose sessions it signs out.
    pat = ("pat", "pat-password-1234")
    check("POST", "/api/v1/users", {"name": pat[0], "role": "viewer", "password": pat[1]}, session=admin, expect=201)
    pat_session = desk.sign_in(*pat)
    pat_other = desk.sign_in(*pat)
    path = "/api/v1/session:password"
    check("POST", path, {"current": "wrong-password-1", "new": "pat-password-5678"}, session=pat_session, expect=403)
    check("POST", path, {"current": pat[1], "new": "short"}, session=pat_session, expect=400)
    check("POST", path, {"current": pat[1]}, session=pat_session, expect=400)
    check("POST", path, b"{", session=pat_session, expect=400)
    check("POST", path, {"current": pat[1], "new": "pat-password-5678"}, session=pat_session, csrf=False, expect=403)
    check("POST", path, {"current": pat[1], "new": "pat-password-5678"}, session=pat_session,
          content_type="text/plain", expect=415)
    check("POST", path, {"current": pat[1], "new": "pat-password-5678"}, expect=401)
    check("POST", path, {"current": pat[1], "new": "pat-password-5678"}, session=pat_session, expect=204)
    check("GET", "/api/v1/session", session=pat_other, expect=401)   # signed out by the change
    check("GET", "/api/v1/session", session=pat_session, expect=200)  # kept

    # Signing out.
    check("DELETE", "/api/v1/session", session=pat_session, csrf=False, expect=403)
    check("DELETE", "/api/v1/session", session=pat_session, csrf="not-the-token", expect=403)
    check("DELETE", "/api/v1/session", expect=401)
    check("DELETE", "/api/v1/session", session=pat_session, expect=204)
    check("GET", "/api/v1/session", session=pat_session, expect=401)

    # The audit log.
    _, _, audit = check("GET", "/api/v1/audit", session=viewer, expect=200)
    if not audit["entries"]:
        fail("GET /api/v1/audit: no entries after sign-ins and user changes")
    last = audit["entries"][-1]["sequence"]
    check("GET", "/api/v1/audit", session=viewer, query=f"?before={audit['entries'][0]['sequence']}&limit=2",
          expect=200)
    check("GET", "/api/v1/audit", session=viewer, query=f"?before={last}", expect=200)
    check("GET", "/api/v1/audit", session=viewer, query="?limit=0", expect=400)
    check("GET", "/api/v1/audit", session=viewer, query="?before=x", expect=400)
    check("GET", "/api/v1/audit", expect=401)
    return admin, editor, viewer


def catalog_routes(desk, editor, viewer):
    check = desk.check
    _, headers, current = check("GET", "/api/v1/catalog", session=viewer, expect=200)
    version = current["version"]
    if headers.get("ETag") != f'"{version}"':
        fail(f"GET /api/v1/catalog: ETag {headers.get('ETag')!r}, version {version}")
    if version < 1:
        fail("GET /api/v1/catalog: the pushed catalog is not there")
    check("GET", "/api/v1/catalog", expect=401)
    catalog = current["catalog"]

    # A whole catalog.
    _, _, same = check("PUT", "/api/v1/catalog", {"catalog": catalog, "basedOn": version}, session=editor,
                       expect=200)
    if not same["unchanged"]:
        fail(f"PUT /api/v1/catalog of the current catalog: {same}")
    renamed = {**catalog, "name": catalog.get("name", "") + " (desk)"}
    _, _, saved = check("PUT", "/api/v1/catalog", {"catalog": renamed, "basedOn": str(version), "note": "renamed"},
                        session=editor, expect=200)
    if saved["unchanged"] or saved["version"] != version + 1:
        fail(f"PUT /api/v1/catalog: {saved}")
    check("PUT", "/api/v1/catalog", {"catalog": catalog, "basedOn": version}, session=editor, expect=409)
    invalid = {**catalog, "campaigns": catalog["campaigns"] + [
        {"id": "orphan", "customerId": "no-such-customer", "start": "2026-01-01", "end": "2026-12-31"}]}
    _, _, refused = check("PUT", "/api/v1/catalog", {"catalog": invalid}, session=editor, expect=400)
    if not refused.get("issues"):
        fail(f"PUT /api/v1/catalog of an invalid catalog: no issues in {refused}")
    check("PUT", "/api/v1/catalog", {"basedOn": version}, session=editor, expect=400)
    check("PUT", "/api/v1/catalog", {"catalog": {"bogusField": 1}}, session=editor, expect=400)
    check("PUT", "/api/v1/catalog", {"catalog": catalog, "basedOn": "x"}, session=editor, expect=400)
    check("PUT", "/api/v1/catalog", b"{", session=editor, expect=400)
    check("PUT", "/api/v1/catalog", {"catalog": catalog}, session=viewer, expect=403)
    check("PUT", "/api/v1/catalog", {"catalog": catalog}, session=editor, csrf=False, expect=403)
    check("PUT", "/api/v1/catalog", {"catalog": catalog}, session=editor, content_type="text/plain", expect=415)
    check("PUT", "/api/v1/catalog", {"catalog": catalog}, expect=401)

    # Versions, diff, rollback.
    _, _, versions = check("GET", "/api/v1/catalog/versions", session=viewer, expect=200)
    if len(versions["versions"]) < 2:
        fail(f"GET /api/v1/catalog/versions: {versions}")
    check("GET", "/api/v1/catalog/versions", expect=401)
    check("GET", f"/api/v1/catalog/versions/{version}", session=viewer, expect=200)
    check("GET", "/api/v1/catalog/versions/0", session=viewer, expect=200)
    check("GET", "/api/v1/catalog/versions/abc", session=viewer, expect=400)
    check("GET", "/api/v1/catalog/versions/999", session=viewer, expect=404)
    check("GET", "/api/v1/catalog/versions/1", expect=401)
    _, _, diff = check("GET", "/api/v1/catalog/diff", session=viewer, query=f"?from={version}", expect=200)
    if not diff["changes"]:
        fail(f"GET /api/v1/catalog/diff: no changes after a rename: {diff}")
    check("GET", "/api/v1/catalog/diff", session=viewer, query=f"?from={version}&to={version + 1}", expect=200)
    check("GET", "/api/v1/catalog/diff", session=viewer, query=f"?from={version}&to=999", expect=404)
    check("GET", "/api/v1/catalog/diff", session=viewer, expect=400)
    check("GET", "/api/v1/catalog/diff", session=viewer, query="?from=x", expect=400)
    check("GET", "/api/v1/catalog/diff", query="?from=1", expect=401)
    path = "/api/v1/catalog:rollback"
    check("POST", path, {"version": version, "note": "back"}, session=editor, expect=200)
    check("POST", path, {"version": 0}, session=editor, expect=400)
    check("POST", path, {"version": "x"}, session=editor, expect=400)
    check("POST", path, {"version": 999}, session=editor, expect=404)
    check("POST", path, b"[]", session=editor, expect=400)
    check("POST", path, {"version": version}, session=viewer, expect=403)
    check("POST", path, {"version": version}, session=editor, csrf=False, expect=403)
    check("POST", path, {"version": version}, session=editor, content_type="text/plain", expect=415)
    check("POST", path, {"version": version}, expect=401)


def current_version(desk, session):
    return desk.check("GET", "/api/v1/catalog", session=session, expect=200)[2]["version"]


def object_routes(desk, editor, viewer):
    """Customers, campaigns, items, target groups, reference tables: good, stale, malformed, refused."""
    check = desk.check
    _, _, customers = check("GET", "/api/v1/customers", session=viewer, expect=200)
    names = [(c.get("name") or c["id"]).lower() for c in customers["customers"]]
    if names != sorted(names):
        fail(f"GET /api/v1/customers: not in alphabetical order: {names}")
    check("GET", "/api/v1/customers", expect=401)

    def object_route(path, good, changed, *, bad_body, delete=True, missing=None, in_use=None):
        """PUT (and DELETE) of one object route with every refusal."""
        stale = current_version(desk, editor)
        check("PUT", path, good, session=editor, expect=200)
        check("PUT", path, changed, session=editor, headers={"If-Match": f'"{stale}"'}, expect=409)
        now = current_version(desk, editor)
        check("PUT", path, changed, session=editor, headers={"If-Match": f'"{now}"'}, expect=200)
        check("PUT", path, changed, session=editor, headers={"If-Match": "yesterday"}, expect=400)
        check("PUT", path, bad_body, session=editor, expect=400)
        check("PUT", path, b"{oops", session=editor, expect=400)
        check("PUT", path, good, session=viewer, expect=403)
        check("PUT", path, good, session=editor, csrf=False, expect=403)
        check("PUT", path, good, session=editor, content_type="text/plain", expect=415)
        check("PUT", path, good, expect=401)
        if not delete:
            return
        check("DELETE", path, session=viewer, expect=403)
        check("DELETE", path, session=editor, csrf=False, expect=403)
        check("DELETE", path, expect=401)
        now = current_version(desk, editor)
        check("DELETE", path, session=editor, headers={"If-Match": f'"{now - 1}"'}, expect=409)
        check("DELETE", path, session=editor, headers={"If-Match": "soon"}, expect=400)
        check("DELETE", path, session=editor, headers={"If-Match": f'"{now}"'}, expect=200)
        check("DELETE", path, session=editor, expect=404)
        if missing:
            check("DELETE", missing, session=editor, expect=404)
        if in_use:
            _, _, refused = check("DELETE", in_use, session=editor, expect=400)
            if not refused.get("issues"):
                fail(f"DELETE {in_use}: no issues in {refused}")

    object_route("/api/v1/customers/acme", {"name": "Acme"}, {"id": "acme", "name": "Acme Corp", "industry": "paint"},
                 bad_body={"id": "other", "name": "Acme"}, in_use="/api/v1/customers/fabrikam")
    check("PUT", "/api/v1/customers/acme", {"name": 5}, session=editor, expect=400)
    campaign = {"name": "Desk test", "customerId": "contoso", "start": "2026-01-01", "end": "2027-12-31"}
    object_route("/api/v1/campaigns/desk-test", campaign, {**campaign, "name": "Desk test 2"},
                 bad_body={**campaign, "items": [{"id": "x"}]}, delete=False)
    check("PUT", "/api/v1/campaigns/desk-test", {**campaign, "customerId": "nobody"}, session=editor, expect=400)
    ad = {"name": "Desk ad", "ad": {"type": "AD_TYPE_PAID", "quantity": "1000", "size": "Banner",
                                    "display": {"imageUrl": "https://cdn.example.com/a.png", "clickUrl": "/c/a"}}}
    object_route("/api/v1/campaigns/desk-test/items/desk-ad", ad, {**ad, "name": "Desk ad 2"},
                 bad_body={**ad, "ad": {"quantity": "many"}},
                 missing="/api/v1/campaigns/nope/items/desk-ad")
    check("PUT", "/api/v1/campaigns/nope/items/desk-ad", ad, session=editor, expect=404)
    check("PUT", "/api/v1/campaigns/desk-test/items/desk-ad", ad, session=editor, expect=200)
    check("PUT", "/api/v1/campaigns/desk-test/items/desk-ad-2", {**ad, "ad": {**ad["ad"], "quantity": "500"}},
          session=editor, expect=200)

    # The goaling switch.
    path = "/api/v1/campaigns/desk-test:set-goaling"
    _, _, switched = check("POST", path, {"level": "campaign"}, session=editor, expect=200)
    if {i["id"] for i in switched["items"]} != {"desk-ad", "desk-ad-2"}:
        fail(f"POST {path}: items {switched['items']}")
    stale = switched["version"] - 1
    check("POST", path, {"level": "ad"}, session=editor, headers={"If-Match": f'"{stale}"'}, expect=409)
    check("POST", path, {"level": "ad"}, session=editor, headers={"If-Match": f'"{switched["version"]}"'}, expect=200)
    check("POST", path, {"level": "sideways"}, session=editor, expect=400)
    check("POST", path, {"level": 1}, session=editor, expect=400)
    check("POST", "/api/v1/campaigns/nope:set-goaling", {"level": "ad"}, session=editor, expect=404)
    check("POST", path, {"level": "ad"}, session=viewer, expect=403)
    check("POST", path, {"level": "ad"}, session=editor, csrf=False, expect=403)
    check("POST", path, {"level": "ad"}, session=editor, content_type="text/plain", expect=415)
    check("POST", path, {"level": "ad"}, expect=401)
    check("DELETE", "/api/v1/campaigns/desk-test", session=viewer, expect=403)
    check("DELETE", "/api/v1/campaigns/desk-test", session=editor, csrf=False, expect=403)
    check("DELETE", "/api/v1/campaigns/desk-test", expect=401)
    check("DELETE", "/api/v1/campaigns/desk-test", session=editor, headers={"If-Match": '"1"'}, expect=409)
    check("DELETE", "/api/v1/campaigns/desk-test", session=editor, headers={"If-Match": "W/x"}, expect=400)
    check("DELETE", "/api/v1/campaigns/desk-test", session=editor, expect=200)
    check("DELETE", "/api/v1/campaigns/desk-test", session=editor, expect=404)

    group = {"name": "Desk group", "entries": [{"action": "TARGET_ACTION_REQUIRE", "expression": "user.age >= 18"}]}
    object_route("/api/v1/target-groups/desk-group", group, {**group, "name": "Desk group 2"},
                 bad_body={**group, "entries": [{"action": "TARGET_ACTION_NOPE"}]},
                 in_use="/api/v1/target-groups/registered")
    check("PUT", "/api/v1/target-groups/desk-group", {**group, "entries": [{"expression": "user.nope >"}]},
          session=editor, expect=400)

    tables = desk.check("GET", "/api/v1/catalog", session=editor, expect=200)[2]["catalog"].get("referenceTables", {})
    more = {**tables, "pageGroups": tables.get("pageGroups", []) + [{"name": "DeskPage", "description": "a test"}]}
    object_route("/api/v1/reference-tables", more, {**more, "pageGroups": more["pageGroups"][:-1]},
                 bad_body={"contentSizes": "big"}, delete=False)


def tool_routes(desk, editor, viewer):
    check = desk.check
    path = "/api/v1/expressions:check"
    _, _, good = check("POST", path, {"expression": "user.age >= 18", "kind": "target"}, session=viewer, expect=200)
    _, _, bad = check("POST", path, {"expression": "user.age >=", "kind": "target"}, session=viewer, expect=200)
    if not good["ok"] or bad["ok"]:
        fail(f"POST {path}: {good} {bad}")
    check("POST", path, {"expression": "product.category == \"Outdoor\"", "kind": "condition"}, session=viewer,
          expect=200)
    check("POST", path, {"expression": "true", "kind": "sideways"}, session=viewer, expect=400)
    check("POST", path, {"expression": 5}, session=viewer, expect=400)
    check("POST", path, b"", session=viewer, expect=400)
    check("POST", path, {"expression": "true"}, session=viewer, csrf=False, expect=403)
    check("POST", path, {"expression": "true"}, session=viewer, content_type="text/plain", expect=415)
    check("POST", path, {"expression": "true"}, expect=401)

    path = "/api/v1/baskets:price"
    basket = {"currency": "USD", "customerId": "c1", "couponCodes": ["WELCOME5"], "time": "2026-06-02T15:00:00Z",
              "items": [{"productId": "tent", "category": "Outdoor", "unitPriceMinor": "4500", "quantity": "1"}]}
    check("POST", path, {"basket": basket}, session=viewer, expect=200)
    check("POST", path, {"basket": {"items": [{"quantity": "x"}]}}, session=viewer, expect=400)
    check("POST", path, {"bogus": True}, session=viewer, expect=400)
    check("POST", path, {"basket": basket}, session=viewer, csrf=False, expect=403)
    check("POST", path, {"basket": basket}, session=viewer, content_type="text/plain", expect=415)
    check("POST", path, {"basket": basket}, expect=401)

    path = "/api/v1/ads:trace"
    select = {"pageGroups": ["Home"], "count": 3, "userId": "u1", "profile": {"age": 34, "state": "WA"}}
    _, _, traced = check("POST", path, select, session=viewer, expect=200)
    if "trace" not in traced:
        fail(f"POST {path}: no trace")
    check("POST", path, {"count": "many"}, session=viewer, expect=400)
    check("POST", path, {"count": 101}, session=viewer, expect=(200, 400))
    check("POST", path, select, session=viewer, csrf=False, expect=403)
    check("POST", path, select, session=viewer, content_type="text/plain", expect=415)
    check("POST", path, select, expect=401)

    _, _, reports = check("GET", "/api/v1/reports", session=viewer, expect=200)
    check("GET", "/api/v1/reports", expect=401)
    for report in reports["reports"]:
        check("GET", f"/api/v1/reports/{q(report['name'])}", session=viewer, expect=200)
    name = reports["reports"][0]["name"]
    check("GET", f"/api/v1/reports/{name}", session=viewer, query="?format=csv&from=2026-01-01&to=2027-01-01",
          expect=200)
    check("GET", f"/api/v1/reports/{name}", session=viewer, query="?campaign=spring-paint&format=json", expect=200)
    check("GET", f"/api/v1/reports/{name}", session=viewer, query="?from=yesterday", expect=400)
    check("GET", f"/api/v1/reports/{name}", session=viewer, query="?format=xml", expect=400)
    check("GET", f"/api/v1/reports/{name}", session=viewer, query="?campaign=nope", expect=404)
    check("GET", "/api/v1/reports/nope", session=viewer, expect=404)
    check("GET", f"/api/v1/reports/{name}", expect=401)
    check("GET", "/api/v1/charts", session=viewer, expect=200)
    check("GET", "/api/v1/charts", session=viewer, query="?from=2026-01-01&to=2027-12-31&campaign=spring-paint",
          expect=200)
    check("GET", "/api/v1/charts", session=viewer, query="?to=soon", expect=400)
    check("GET", "/api/v1/charts", session=viewer, query="?campaign=nope", expect=404)
    check("GET", "/api/v1/charts", expect=401)


def mail_item(list_name, opt_outs, per_hour=0):
    return {"name": f"Desk mail to {list_name}", "directMail": {
        "recipients": {"storeList": list_name},
        "optOutStoreList": opt_outs,
        "message": {"template": {"subject": "Hello {{first_name}}", "text": "Hello {{first_name}},\n\nNews.\n"}},
        "format": "MAIL_FORMAT_TEXT",
        "from": "Contoso Outdoor <news@contoso.example.com>",
        "messagesPerHour": str(per_hour)}}


def list_routes(desk, editor, viewer):
    check = desk.check
    csv = ("Email,first_name,customer\n"
           "ann@Example.com,Ann,c1\n"
           "bob@example.com,Bob,c2\n"
           "not-an-address,Nobody,c3\n"
           "ann@EXAMPLE.com,Ann again,c4\n"
           "cid@example.com,Cid,c5\n")
    imports = {"kind": "recipients", "csv": csv, "idColumn": "customer", "description": "desk test"}
    _, _, preview = check("POST", "/api/v1/lists:preview", imports, session=editor, expect=200)
    if preview["emailColumn"] != "Email" or preview["invalidAddresses"] != 1:
        fail(f"POST /api/v1/lists:preview: {preview}")
    check("POST", "/api/v1/lists:preview", {"kind": "recipients", "csv": "name,city\nAnn,Oslo\n"}, session=editor,
          expect=400)
    check("POST", "/api/v1/lists:preview", {"csv": 5}, session=editor, expect=400)
    check("POST", "/api/v1/lists:preview", b"{", session=editor, expect=400)
    check("POST", "/api/v1/lists:preview", imports, session=viewer, expect=403)
    check("POST", "/api/v1/lists:preview", imports, session=editor, csrf=False, expect=403)
    check("POST", "/api/v1/lists:preview", imports, session=editor, content_type="text/plain", expect=415)
    check("POST", "/api/v1/lists:preview", imports, expect=401)

    _, _, saved = check("PUT", "/api/v1/lists/desk-customers", imports, session=editor, expect=200)
    if saved["imported"] != 3 or saved["list"]["kind"] != "recipients":
        fail(f"PUT /api/v1/lists/desk-customers: {saved}")
    # The slow job's list: each run sends its first message at once (a new
    # run's pace starts afresh) and the next an hour later, so it must keep
    # recipients for every start of the test.
    slow = "email,first_name\n" + "".join(f"slow{i}@example.com,S{i}\n" for i in range(8))
    check("PUT", "/api/v1/lists/desk-slow", {"kind": "recipients", "csv": slow}, session=editor, expect=200)
    check("PUT", "/api/v1/lists/desk-spare", {"kind": "opt-out", "addresses": ["x@example.com"]}, session=editor,
          expect=200)
    check("PUT", f"/api/v1/lists/{q('bad name!')}", imports, session=editor, expect=400)
    check("PUT", "/api/v1/lists/desk-customers", {"kind": "sideways", "csv": csv}, session=editor, expect=400)
    check("PUT", "/api/v1/lists/desk-customers", {"kind": "recipients", "csv": "name\nAnn\n"}, session=editor,
          expect=400)
    check("PUT", "/api/v1/lists/desk-customers", b"[]", session=editor, expect=400)
    check("PUT", "/api/v1/lists/desk-customers", imports, session=viewer, expect=403)
    check("PUT", "/api/v1/lists/desk-customers", imports, session=editor, csrf=False, expect=403)
    check("PUT", "/api/v1/lists/desk-customers", imports, session=editor, content_type="text/plain", expect=415)
    check("PUT", "/api/v1/lists/desk-customers", imports, expect=401)

    path = "/api/v1/lists/desk-opt-outs:add"
    _, _, added = check("POST", path, {"addresses": ["bob@EXAMPLE.com", "not an address"]}, session=editor,
                        expect=200)
    if added["added"] != 1 or added["invalid"] != ["not an address"] or added["list"]["kind"] != "opt-out":
        fail(f"POST {path}: {added}")
    check("POST", "/api/v1/lists/desk-customers:add", {"addresses": ["z@example.com"]}, session=editor, expect=409)
    check("POST", path, {"addresses": "bob@example.com"}, session=editor, expect=400)
    check("POST", f"/api/v1/lists/{q('bad name!')}:add", {"addresses": ["z@example.com"]}, session=editor, expect=400)
    check("POST", path, {"addresses": []}, session=viewer, expect=403)
    check("POST", path, {"addresses": []}, session=editor, csrf=False, expect=403)
    check("POST", path, {"addresses": []}, session=editor, content_type="text/plain", expect=415)
    check("POST", path, {"addresses": []}, expect=401)

    _, _, lists = check("GET", "/api/v1/lists", session=viewer, expect=200)
    names = [entry["name"] for entry in lists["lists"]]
    if names != sorted(names) or not {"desk-customers", "desk-opt-outs"} <= set(names):
        fail(f"GET /api/v1/lists: {names}")
    check("GET", "/api/v1/lists", expect=401)
    _, _, rows = check("GET", "/api/v1/lists/desk-customers", session=viewer, query="?offset=1&limit=1", expect=200)
    if len(rows["rows"]) != 1 or rows["offset"] != 1:
        fail(f"GET /api/v1/lists/desk-customers: {rows}")
    check("GET", "/api/v1/lists/desk-customers", session=viewer, expect=200)
    check("GET", "/api/v1/lists/desk-customers", session=viewer, query="?limit=many", expect=400)
    check("GET", "/api/v1/lists/desk-customers", session=viewer, query="?offset=-1", expect=400)
    check("GET", "/api/v1/lists/nope", session=viewer, expect=404)
    check("GET", "/api/v1/lists/desk-customers", expect=401)

    check("DELETE", "/api/v1/lists/desk-spare", session=viewer, expect=403)
    check("DELETE", "/api/v1/lists/desk-spare", session=editor, csrf=False, expect=403)
    check("DELETE", "/api/v1/lists/desk-spare", expect=401)
    check("DELETE", "/api/v1/lists/desk-spare", session=editor, expect=204)
    check("DELETE", "/api/v1/lists/desk-spare", session=editor, expect=404)


def mail_routes(desk, editor, viewer, workdir):
    """The mail items use the lists imported through the API; a job is started and polled until completed."""
    check = desk.check
    campaign = "store-discounts"
    items = f"/api/v1/campaigns/{campaign}/items"
    check("PUT", f"{items}/desk-mail", mail_item("desk-customers", "desk-opt-outs"), session=editor, expect=200)
    check("PUT", f"{items}/desk-slow", mail_item("desk-slow", "desk-opt-outs", 1), session=editor, expect=200)
    # Items whose job cannot be made: a list file that is not CSV, a
    # placeholder no column fills, a store list that is not there.
    with open(os.path.join(workdir, "files", "bad.csv"), "w") as f:
        f.write('email,first_name\n"ann@example.com,Ann\n')
    broken = mail_item("desk-customers", "desk-opt-outs")
    broken["directMail"]["recipients"] = {"csvPath": "bad.csv"}  # in --mail-files-dir
    check("PUT", f"{items}/desk-bad-csv", broken, session=editor, expect=200)
    # A file outside the files folder (the server's database, its secrets) is never read.
    broken["directMail"]["recipients"] = {"csvPath": os.path.join(workdir, "desk.db")}
    check("PUT", f"{items}/desk-outside", broken, session=editor, expect=200)
    check("GET", "/api/v1/mail-items/desk-outside/audience", session=viewer, expect=400)
    check("POST", "/api/v1/mail-jobs/desk-outside:start", session=editor, expect=400)
    check("DELETE", f"{items}/desk-outside", session=editor, expect=200)
    broken = mail_item("desk-customers", "desk-opt-outs")
    broken["directMail"]["message"]["template"]["text"] = "Hello {{no_such_column}}"
    check("PUT", f"{items}/desk-bad-template", broken, session=editor, expect=200)
    check("PUT", f"{items}/desk-no-list", mail_item("desk-no-such-list", "desk-opt-outs"), session=editor, expect=200)
    check("GET", "/api/v1/mail-items/desk-bad-csv/audience", session=viewer, expect=400)
    check("GET", "/api/v1/mail-items/desk-no-list/audience", session=viewer, expect=404)
    check("POST", "/api/v1/mail-jobs/desk-bad-csv:start", session=editor, expect=400)
    check("POST", "/api/v1/mail-jobs/desk-bad-template:start", session=editor, expect=400)
    check("POST", "/api/v1/mail-jobs/desk-no-list:start", session=editor, expect=404)
    # A list the current catalog uses is not deleted.
    check("DELETE", "/api/v1/lists/desk-customers", session=editor, expect=409)
    check("DELETE", "/api/v1/lists/desk-opt-outs", session=editor, expect=409)

    _, _, audience = check("GET", "/api/v1/mail-items/desk-mail/audience", session=viewer, expect=200)
    if (audience["recipients"], audience["optedOut"], audience["willReceive"]) != (3, 1, 2):
        fail(f"GET /api/v1/mail-items/desk-mail/audience: {audience}")
    check("GET", "/api/v1/mail-items/nope/audience", session=viewer, expect=404)
    check("GET", "/api/v1/mail-items/desk-ad/audience", session=viewer, expect=404)
    check("GET", "/api/v1/mail-items/desk-mail/audience", expect=401)

    _, _, jobs = check("GET", "/api/v1/mail-jobs", session=viewer, expect=200)
    if not {"desk-mail", "desk-slow"} <= {j["item"] for j in jobs["jobs"]}:
        fail(f"GET /api/v1/mail-jobs: {jobs}")
    check("GET", "/api/v1/mail-jobs", expect=401)
    _, _, job = check("GET", "/api/v1/mail-jobs/desk-mail", session=viewer, expect=200)
    if job["state"] != "none":
        fail(f"GET /api/v1/mail-jobs/desk-mail before a start: {job}")
    check("GET", "/api/v1/mail-jobs/nope", session=viewer, expect=404)
    check("GET", "/api/v1/mail-jobs/desk-mail", expect=401)

    for verb in ("start", "pause", "abort"):
        path = f"/api/v1/mail-jobs/desk-mail:{verb}"
        check("POST", path, session=viewer, expect=403)
        check("POST", path, session=editor, csrf=False, expect=403)
        # No body needs no type; a body must be JSON.
        check("POST", path, "stop", session=editor, content_type="text/plain", expect=415)
        check("POST", path, expect=401)
        check("POST", f"/api/v1/mail-jobs/nope:{verb}", session=editor, expect=404)
    # Never started: not in the ledger.
    check("POST", "/api/v1/mail-jobs/desk-mail:pause", session=editor, expect=404)
    check("POST", "/api/v1/mail-jobs/desk-mail:abort", session=editor, expect=404)
    check("POST", "/api/v1/mail-jobs/desk-mail:start", session=editor, expect=202)
    deadline = time.time() + 60
    while True:
        _, _, job = check("GET", "/api/v1/mail-jobs/desk-mail", session=viewer, expect=200)
        if job["state"] == "completed" and not job["running"]:
            break
        if time.time() > deadline or job["state"] == "aborted":
            fail(f"the mail job did not complete: {job}")
        time.sleep(0.2)
    if (job["sent"], job["skipped"], job["pending"]) != (2, 1, 0) or "report" not in job:
        fail(f"GET /api/v1/mail-jobs/desk-mail: sent/skipped/pending or the report of {job}")
    check("POST", "/api/v1/mail-jobs/desk-mail:pause", session=editor, expect=409)   # completed
    check("POST", "/api/v1/mail-jobs/desk-mail:abort", session=editor, expect=409)
    check("GET", "/api/v1/mail-jobs", session=viewer, expect=200)

    # A job at one message an hour stays running: pause, stop, start again.
    check("POST", "/api/v1/mail-jobs/desk-slow:start", session=editor, expect=202)
    deadline = time.time() + 30
    while check("GET", "/api/v1/mail-jobs/desk-slow", session=viewer, expect=200)[2]["state"] != "running":
        if time.time() > deadline:   # only a running job may be paused
            fail("the slow mail job is not running")
        time.sleep(0.05)
    check("POST", "/api/v1/mail-jobs/desk-slow:start", session=editor, expect=409)   # already running here
    check("POST", "/api/v1/mail-jobs/desk-slow:pause", session=editor, expect=200)
    check("POST", "/api/v1/mail-jobs/desk-slow:abort", session=editor, expect=200)
    check("POST", "/api/v1/mail-jobs/desk-slow:pause", session=editor, expect=409)   # stopped
    deadline = time.time() + 30
    while check("GET", "/api/v1/mail-jobs/desk-slow", session=viewer, expect=200)[2]["running"]:
        if time.time() > deadline:
            fail("the stopped mail job still runs")
        time.sleep(0.2)
    check("POST", "/api/v1/mail-jobs/desk-slow:start", session=editor, expect=202)
    check("POST", "/api/v1/mail-jobs/desk-slow:abort", session=editor, expect=200)
    messages = [name for folder, _, names in os.walk(desk.maildir) if os.path.basename(folder) in ("new", "cur")
                for name in names]
    if len(messages) < 2:
        fail(f"the maildir {desk.maildir} holds {len(messages)} messages, not the job's 2 (or more)")


def without_transport(store, workdir, editor):
    """A second server on the store, without a mail transport: a start is refused."""
    desk_port = free_port()
    log = open(os.path.join(workdir, "serve-no-mail.log"), "w")
    server = subprocess.Popen([herald, "serve", "--store", store, "--listen", f"127.0.0.1:{free_port()}",
                               "--desk-listen", f"127.0.0.1:{desk_port}"], stdout=log, stderr=subprocess.STDOUT,
                              cwd=workdir)
    try:
        other = Desk(f"http://127.0.0.1:{desk_port}")
        wait_ready(other, server)
        # Sessions live in the store: the editor's works on this server too.
        _, _, answer = other.check("POST", "/api/v1/mail-jobs/desk-mail:start", session=editor, expect=409)
        if "transport" not in answer["message"]:
            fail(f"a start without a mail transport: {answer}")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=30)
        log.close()


def other_answers(desk, viewer):
    """Paths outside the document, other methods, and sign-in throttling (last: it locks 127.0.0.1 out)."""
    check = desk.check
    check("GET", "/api/v1/nothing", session=viewer, expect=404)
    check("PATCH", "/api/v1/catalog", {}, session=viewer, expect=405)
    check("GET", "/api/v1/users/ann", session=viewer, expect=405)
    for attempt in range(12):
        status, _, _ = check("POST", "/api/v1/session", {"user": "mallory", "password": f"guess-{attempt}-xxxx"},
                             expect=(401, 429))
        if status == 429:
            break
    else:
        fail("POST /api/v1/session: no 429 after 12 failed sign-ins")


def check_coverage():
    missing = []
    for template, method in sorted(desk_operations()):
        statuses = exercised.get((template, method), set())
        if not statuses:
            missing.append(f"{method.upper()} {template}: never called")
        elif not any(200 <= s < 300 for s in statuses):
            missing.append(f"{method.upper()} {template}: never answered with success ({sorted(statuses)})")
    if missing:
        fail("desk operations of the document the test does not exercise:\n  " + "\n  ".join(missing))


def wait_ready(desk, server):
    for _ in range(200):
        if server.poll() is not None:
            fail(f"herald serve exited with {server.returncode}")
        try:
            if desk.call("GET", "/api/v1/session")[0] == 401:
                return
        except OSError:
            pass
        time.sleep(0.05)
    fail("the desk listener did not answer")


def metrics_and_log(desk, port, workdir):
    """The desk's requests are counted on the decision API's /metrics and
    logged by route name, never by raw path (a list's name is data). A
    request is counted and logged just after its answer is sent: the check
    looks again for a few seconds before it fails."""
    desk.call("GET", "/app/nothing.js")  # the app's files: one route, whatever the path
    lines = ('herald_desk_requests_total{route="/api/v1/session",status_class="2xx"}',
             'herald_desk_requests_total{route="/api/v1/lists/{}",status_class="2xx"}',
             'herald_desk_requests_total{route="/api/v1/session",status_class="4xx"}',
             'herald_desk_requests_total{route="/desk/files",status_class="4xx"}',
             'herald_desk_request_duration_seconds_count{route="/api/v1/mail-jobs/{}"}')
    wanted_routes = ("/api/v1/lists/{}", "/api/v1/mail-jobs/{}:start", "/desk/files")
    deadline = time.time() + 10
    while True:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=20) as response:
            text = response.read().decode()
        with open(os.path.join(workdir, "serve.log")) as f:
            routes = {json.loads(l).get("route") for l in f if l.startswith("{") and '"route"' in l}
        missing = [l for l in lines if l not in text] + [r for r in wanted_routes if r not in routes]
        if not missing:
            break
        if time.time() > deadline:
            fail(f"not on /metrics or in the access log: {missing}")
        time.sleep(0.2)
    if any(r and "desk-customers" in r for r in routes):
        fail("the access log names a request by its raw path")


def main():
    if not desk_operations():
        fail(f"{openapi_path} has no operation tagged {TAG!r}")
    workdir = tempfile.mkdtemp(prefix="herald-desk-openapi-")
    store = "sqlite:" + os.path.join(workdir, "desk.db")
    maildir = os.path.join(workdir, "maildir")
    os.makedirs(os.path.join(workdir, "files"))
    run(["catalog", "push", catalog_file, "--store", store])
    run(["serve", "--init-admin", ADMIN[0], "--store", store], env={"HERALD_ADMIN_PASSWORD": ADMIN[1]})
    port, desk_port = free_port(), free_port()
    args = [herald, "serve", "--store", store, "--listen", f"127.0.0.1:{port}", "--desk-listen",
            f"127.0.0.1:{desk_port}", "--mail-maildir", maildir, "--mail-files-dir", os.path.join(workdir, "files")]
    log = open(os.path.join(workdir, "serve.log"), "w")
    server = subprocess.Popen(args, stdout=log, stderr=subprocess.STDOUT, cwd=workdir)
    desk = Desk(f"http://127.0.0.1:{desk_port}")
    desk.maildir = maildir
    ok = False
    try:
        wait_ready(desk, server)
        admin, editor, viewer = sessions_and_users(desk)
        catalog_routes(desk, editor, viewer)
        object_routes(desk, editor, viewer)
        tool_routes(desk, editor, viewer)
        list_routes(desk, editor, viewer)
        mail_routes(desk, editor, viewer, workdir)
        without_transport(store, workdir, editor)
        other_answers(desk, viewer)
        metrics_and_log(desk, port, workdir)
        check_coverage()
        ok = True
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            server.kill()
        log.close()
        if ok:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            with open(os.path.join(workdir, "serve.log")) as f:
                sys.stderr.write("herald serve's log (last lines):\n" + "".join(f.readlines()[-30:]))
    print(f"ok: {len(checked)} desk answers valid against {openapi_path}, "
          f"{len(desk_operations())} operations exercised")


main()
