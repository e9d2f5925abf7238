#!/usr/bin/env python3
"""End to end: the example storefront in headless Chromium.

Starts storefront_server on 127.0.0.1 (an ephemeral port, a fresh SQLite
store, external click URLs sent to a local landing page), starts chromedriver
(Debian's chromium-driver) and drives Chromium through WebDriver with
Python's standard library only: the three ad slots fill, clicking an ad
records the click (redirect to the landing page, counted by /delivery and the
report), and the basket shows its discount. Exit 77 (skipped) when chromium
or chromedriver is missing. No network outside 127.0.0.1.
"""
import argparse, json, os, shutil, signal, socket, subprocess, sys, tempfile, time, urllib.request

AT = "2026-11-24T10:00:00-08:00"  # a Tuesday morning: every campaign runs


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def http(method, url, body=None):
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    with urllib.request.urlopen(req, timeout=30) as res:
        return json.loads(res.read() or b"null")


class WebDriver:
    def __init__(self, base):
        self.base = base
        caps = {"capabilities": {"alwaysMatch": {"browserName": "chrome", "goog:chromeOptions": {
            "binary": shutil.which("chromium") or "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                     "--disable-background-networking", "--disable-component-update", "--disable-sync",
                     "--disable-dev-shm-usage", "--user-data-dir=" + tempfile.mkdtemp(prefix="herald-chrome-"),
                     "--host-resolver-rules=MAP * ~NOTFOUND , EXCLUDE 127.0.0.1"]}}}}
        self.session = http("POST", base + "/session", caps)["value"]["sessionId"]

    def cmd(self, method, path, body=None):
        return http(method, f"{self.base}/session/{self.session}{path}", body)["value"]

    def go(self, url):
        self.cmd("POST", "/url", {"url": url})

    def script(self, source, *args):
        return self.cmd("POST", "/execute/sync", {"script": source, "args": list(args)})

    def find(self, css):
        el = self.cmd("POST", "/element", {"using": "css selector", "value": css})
        return list(el.values())[0]

    def click(self, css):
        self.cmd("POST", f"/element/{self.find(css)}/click", {})

    def wait(self, source, what, timeout=20):
        end = time.time() + timeout
        while time.time() < end:
            value = self.script(source)
            if value:
                return value
            time.sleep(0.1)
        raise AssertionError("timed out waiting for " + what + "; page: " +
                             str(self.script("return document.body.innerText")))

    def quit(self):
        try:
            http("DELETE", f"{self.base}/session/{self.session}")
        except Exception:
            pass


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--server", required=True)
    ap.add_argument("--catalog", required=True)
    args = ap.parse_args()
    driver_bin = shutil.which("chromedriver")
    if not driver_bin or not (shutil.which("chromium") or os.path.exists("/usr/bin/chromium")):
        print("chromium or chromedriver (Debian chromium-driver) missing: skipped")
        return 77
    work = tempfile.mkdtemp(prefix="herald-browser-")
    port_file = os.path.join(work, "port")
    server = subprocess.Popen([args.server, "--catalog", args.catalog, "--store", "sqlite:" + work + "/shop.db",
                               "--port", "0", "--port-file", port_file, "--local-landing", "--seed", "3"],
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    driver_port = free_port()
    driver = subprocess.Popen([driver_bin, f"--port={driver_port}", "--allowed-ips=127.0.0.1"],
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    browser = None
    try:
        for _ in range(200):
            if os.path.exists(port_file):
                break
            if server.poll() is not None:
                raise AssertionError("server exited: " + server.stdout.read())
            time.sleep(0.05)
        port = int(open(port_file).read())
        site = f"http://127.0.0.1:{port}"
        for _ in range(200):
            try:
                http("GET", f"http://127.0.0.1:{driver_port}/status")
                break
            except Exception:
                time.sleep(0.05)
        browser = WebDriver(f"http://127.0.0.1:{driver_port}")

        # 1. Ads appear in the three slots.
        browser.go(f"{site}/?page_group=Home&user=shopper-1&at={AT}")
        browser.wait("return document.body.dataset.adsLoaded", "ads")
        filled = browser.script("return [...document.querySelectorAll('.slot.filled')].map(s => s.dataset.item)")
        print("slots:", filled)
        assert len(filled) == 3, filled

        # 2. A click on the first banner is recorded, redirected and counted.
        item = filled[0]
        before = http("GET", f"{site}/delivery/{item}")
        browser.click("#slot-1 a")
        browser.wait("return document.getElementById('landing') !== null", "the landing page")
        after = http("GET", f"{site}/delivery/{item}")
        print("delivery of", item, before, "->", after)
        assert after["clicks"] == before["clicks"] + 1, (before, after)
        report = http("GET", f"{site}/reports/campaign-item-summary?format=json")
        assert any(r.get("clicks") for r in report["rows"]), report

        # 3. The basket shows its discount: two cases of juice (the second half
        #    price, 10% off beverages) and a telephone (10% off).
        browser.go(f"{site}/?page_group=Kitchen&user=shopper-1&at={AT}")
        browser.wait("return document.body.dataset.priced", "the empty basket")
        for css in ['[data-add="juice-case"]', '[data-add="juice-case"]', '[data-add="phone-basic"]']:
            stamp = browser.script("return document.body.dataset.priced")
            browser.click(css)
            browser.wait(f"return document.body.dataset.priced !== '{stamp}'", "the basket priced")
        saved = int(browser.script("return document.getElementById('discount-total').dataset.minor"))
        applied = browser.script("return [...document.querySelectorAll('#discounts li')].map(li => li.textContent)")
        print("discounts:", applied, "saved", saved)
        assert saved > 0, saved
        assert any("juice" in a.lower() for a in applied), applied
        assert any("telephone" in a.lower() for a in applied), applied
        print("PASS")
        return 0
    finally:
        if browser is not None:
            browser.quit()
        driver.terminate()
        server.send_signal(signal.SIGTERM)
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
        driver.wait(timeout=10)
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
