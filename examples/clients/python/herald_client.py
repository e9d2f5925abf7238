#!/usr/bin/env python3
"""A storefront's calls to `herald serve`, with Python's standard library only
(urllib + json): place ads, follow a click link, price a basket, commit the
order, capture a response (docs/server.md).

Usage: herald_client.py [BASE_URL]        (default http://127.0.0.1:8080)
Environment: HERALD_API_KEY, sent as `Authorization: Bearer KEY` when set
(a `decisions` key; reading the report to confirm the click needs `reports`
or `admin`: HERALD_REPORTS_API_KEY, else HERALD_API_KEY).

It prints what it did, then one line `RESULT {json}` that the CI test reads.
Exit status: 0 when every step got the answer it expects, 1 otherwise.
"""
import json
import os
import sys
import time
import urllib.error
import urllib.request

BASE = (sys.argv[1] if len(sys.argv) > 1 else "http://127.0.0.1:8080").rstrip("/")
API_KEY = os.environ.get("HERALD_API_KEY", "")
REPORTS_KEY = os.environ.get("HERALD_REPORTS_API_KEY", API_KEY)


class ApiError(Exception):
    """An error answer of the API: {"code", "message", "field"}."""

    def __init__(self, status, body):
        try:
            error = json.loads(body)
        except ValueError:
            error = {"code": "", "message": body.decode(errors="replace"), "field": ""}
        super().__init__(f"HTTP {status} {error.get('code')}: {error.get('message')}")
        self.status = status
        self.error = error


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # The click's redirect is the answer we want to see, not follow.
    def redirect_request(self, *args, **kwargs):
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def call(method, path, body=None, key=API_KEY):
    """One request; returns (status, headers, parsed JSON or raw text)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(BASE + path, data=data, method=method)
    if data is not None:
        request.add_header("Content-Type", "application/json")
    if key:
        request.add_header("Authorization", "Bearer " + key)
    try:
        with _opener.open(request, timeout=10) as response:
            status, headers, raw = response.status, response.headers, response.read()
    except urllib.error.HTTPError as e:
        status, headers, raw = e.code, e.headers, e.read()
    if status >= 400:
        raise ApiError(status, raw)
    is_json = headers.get("Content-Type", "").startswith("application/json")
    return status, headers, json.loads(raw) if is_json and raw else raw.decode()


def click_count(report):
    return sum(int(row.get("events") or 0) for row in report["rows"] if row.get("event") == "click")


def clicks_recorded():
    _, _, report = call("GET", "/v1/reports/campaign-event-summary", key=REPORTS_KEY)
    return click_count(report)


def main():
    run = str(int(time.time() * 1000))
    result = {}

    _, _, ready = call("GET", "/readyz")
    print(f"server: {ready['status']}")

    _, _, selected = call("POST", "/v1/ads:select", {
        "pageGroups": ["Home"], "count": 3, "userId": "py-" + run,
        "profile": {"age": 34, "state": "WA"}})
    winners = selected.get("winners", [])
    for ad in winners:
        print(f"ad: {ad['itemId']} ({ad['kind']}, score {ad['score']:.3f}) -> {ad['clickUrl'][:40]}...")
    result["winners"] = [ad["itemId"] for ad in winners]
    if not winners:
        print("no ads were placed")
        return 1

    # Following each ad's link: a 302 to the advertiser, and as many more
    # clicks in the store (events reach it within the server's flush interval).
    before = clicks_recorded()
    result["clicks"] = []
    for ad in winners:
        status, headers, _ = call("GET", ad["clickUrl"])
        result["clicks"].append({"item": ad["itemId"], "status": status, "location": headers.get("Location")})
        print(f"click on {ad['itemId']}: {status} to {headers.get('Location')}")
    deadline = time.time() + 10
    after = clicks_recorded()
    while after < before + len(winners) and time.time() < deadline:
        time.sleep(0.2)
        after = clicks_recorded()
    result["clicks_recorded"] = after - before
    print(f"clicks recorded: {before} -> {after}")

    customer = "py-" + run
    # `time` fixes the pricing moment (08:00 in the catalog's zone, outside its
    # 5-9 pm happy hour) so the output is the same at any hour; a storefront
    # leaves it out to price at the server's clock.
    basket = {"currency": "USD", "customerId": customer, "couponCodes": ["WELCOME5"],
              "time": "2026-06-02T15:00:00Z",
              "items": [{"productId": "tent", "category": "Outdoor", "unitPriceMinor": "4500", "quantity": "1"}]}
    _, _, priced = call("POST", "/v1/baskets:price", {"basket": basket})
    result["priced_total_minor"] = priced["totalMinor"]
    print(f"basket priced: {priced['totalMinor']} minor units (subtotal {priced.get('subtotalMinor')})")

    _, _, committed = call("POST", "/v1/orders:commit", {"basket": dict(basket, orderId="order-" + run)})
    result["committed_total_minor"] = committed["priced"]["totalMinor"]
    print(f"order order-{run} committed: {committed['priced']['totalMinor']}")
    try:
        call("POST", "/v1/orders:commit", {"basket": dict(basket, orderId="order2-" + run)})
        result["second_commit"] = "accepted"
    except ApiError as e:
        result["second_commit"] = e.error.get("code")
        print(f"second order with the same coupon refused: {e}")

    _, _, stored = call("POST", "/v1/responses", {
        "subject": {"customerId": customer, "email": customer + "@example.com"},
        "action": {"issue": "Sales", "group": "Gear", "name": "WinterJacket"},
        "outcome": "OUTCOME_ACCEPTED", "channel": "Web"})
    result["interaction_id"] = stored["interactionId"]
    print(f"response captured: {stored['interactionId']} (sequence {stored['sequence']})")

    try:
        call("POST", "/v1/ads:select", {"count": "abc"})
        result["bad_request"] = "accepted"
    except ApiError as e:
        result["bad_request"] = {"status": e.status, "field": e.error.get("field")}
        print(f"bad request refused: {e} (field {e.error.get('field')})")

    print("RESULT " + json.dumps(result))
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except (ApiError, urllib.error.URLError, KeyError) as e:
        print(f"herald_client.py: {e}", file=sys.stderr)
        sys.exit(1)
