#!/usr/bin/python3
"""SMTP over TLS and with AUTH against real servers on loopback (aiosmtpd,
Debian's python3-aiosmtpd), with a throwaway self-signed certificate made by
`openssl req -x509` in a temporary folder. herald_mail_runner sends a small
job (SQLite ledger) to each server:

  1. STARTTLS required + AUTH PLAIN only (auth only after TLS): delivered
  2. STARTTLS required + AUTH LOGIN only: delivered
  3. the same server, a wrong password: every recipient fails permanently
     with a clear "authentication failed" detail; nothing delivered
  4. a server that requires STARTTLS, Herald told tls NONE: refused (530),
     permanent failures saying so; nothing delivered
  5. implicit TLS (smtps://) + AUTH: delivered
  6. STARTTLS without the CA file: the certificate is not trusted; nothing
     delivered (verification is on)

The password never appears in the runner's output, errors or the ledger.

  smtp_tls_test.py RUNNER"""
import argparse
import collections
import json
import logging
import os
import shutil
import sqlite3
import ssl
import subprocess
import sys
import tempfile
import threading
import warnings

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smtp_counter  # noqa: E402
from aiosmtpd.controller import Controller  # noqa: E402
from aiosmtpd.smtp import AuthResult, LoginPassword  # noqa: E402

USER = "mailer"
PASSWORD = "s3cret-Pa55-word-9f8e7d"
RECIPIENTS = 5


class Recorder:
    """Counts delivered messages per recipient and how each session logged in."""

    def __init__(self):
        self.lock = threading.Lock()
        self.per_recipient = collections.Counter()
        self.logins = collections.Counter()  # (mechanism, tls) -> sessions
        self.tls_sessions = 0

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            for rcpt in envelope.rcpt_tos:
                self.per_recipient[rcpt] += 1
        return "250 OK queued"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
              and auth_data.password == PASSWORD.encode())
        if ok:
            with self.lock:
                self.logins[(mechanism, session.ssl is not None)] += 1
        return AuthResult(success=ok, handled=False)

    def delivered(self):
        with self.lock:
            return sum(self.per_recipient.values())


def make_cert(tmp):
    cert, key = os.path.join(tmp, "cert.pem"), os.path.join(tmp, "key.pem")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key,
                    "-out", cert, "-days", "2", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   check=True, capture_output=True)
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.load_cert_chain(cert, key)
    return cert, ctx


def start(recorder, **kwargs):
    port = smtp_counter.free_port()
    controller = Controller(recorder, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    return controller, port


def run_job(runner, tmp, name, url, *extra):
    """Runs one job; returns (exit code, report or None, all output, ledger rows)."""
    csv = os.path.join(tmp, "list.csv")
    smtp_counter.write_list(csv, RECIPIENTS)
    db = os.path.join(tmp, name + ".db")
    env = dict(os.environ, HERALD_TEST_SMTP_PASSWORD=PASSWORD)
    cmd = [runner, "--store", "sqlite:" + db, "--csv", csv, "--smtp", url, "--job", name,
           "--connections", "2", "--timeout-ms", "10000"] + list(extra)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    report = None
    if proc.returncode == 0:
        report = json.loads(proc.stdout)
    rows = []
    if os.path.exists(db):
        con = sqlite3.connect(db)
        rows = con.execute("SELECT recipient, state, detail FROM mail_recipients").fetchall()
        con.close()
    return proc.returncode, report, proc.stdout + proc.stderr, rows


class Checks:
    def __init__(self):
        self.failed = 0

    def expect(self, cond, what):
        print(("ok   " if cond else "FAIL ") + what)
        if not cond:
            self.failed += 1


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runner")
    args = ap.parse_args()
    # aiosmtpd logs refused handshakes with tracebacks: expected here.
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    # The implicit-TLS server takes AUTH without STARTTLS: its connections are TLS from the first byte.
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    tmp = tempfile.mkdtemp(prefix="herald-tls-")
    controllers = []
    checks = Checks()
    try:
        cert, ctx = make_cert(tmp)
        auth = dict(tls_context=ctx, require_starttls=True, auth_required=True,
                    auth_require_tls=True)
        plain_rec, login_rec, starttls_rec, implicit_rec = Recorder(), Recorder(), Recorder(), Recorder()
        c, plain_port = start(plain_rec, authenticator=plain_rec.authenticate,
                              auth_exclude_mechanism=["LOGIN"], **auth)
        controllers.append(c)
        c, login_port = start(login_rec, authenticator=login_rec.authenticate,
                              auth_exclude_mechanism=["PLAIN"], **auth)
        controllers.append(c)
        c, starttls_port = start(starttls_rec, tls_context=ctx, require_starttls=True)
        controllers.append(c)
        c, implicit_port = start(implicit_rec, ssl_context=ctx, authenticator=implicit_rec.authenticate,
                                 auth_required=True, auth_require_tls=False)
        controllers.append(c)
        creds = ["--user", USER, "--password-env", "HERALD_TEST_SMTP_PASSWORD"]
        outputs = []

        def no_secret(name, out, rows):
            outputs.append(out)
            leaked = PASSWORD in out or any(PASSWORD in (d or "") for _, _, d in rows)
            checks.expect(not leaked, f"{name}: the password appears in no output, error or ledger detail")

        # 1, 2: STARTTLS + AUTH PLAIN / LOGIN.
        for name, rec, port, mech in (("starttls-plain", plain_rec, plain_port, "PLAIN"),
                                      ("starttls-login", login_rec, login_port, "LOGIN")):
            rc, report, out, rows = run_job(args.runner, tmp, name, f"smtp://127.0.0.1:{port}",
                                            "--tls", "starttls", "--ca-file", cert, *creds)
            checks.expect(rc == 0 and report and report["sent"] == RECIPIENTS and report["state"] == "completed",
                          f"{name}: all {RECIPIENTS} sent, job completed (rc {rc}, {out.strip()[:300]})")
            checks.expect(rec.delivered() == RECIPIENTS, f"{name}: the server received {rec.delivered()} messages")
            checks.expect(rec.logins[(mech, True)] > 0 and sum(rec.logins.values()) == rec.logins[(mech, True)],
                          f"{name}: every session authenticated with AUTH {mech} inside TLS ({dict(rec.logins)})")
            no_secret(name, out, rows)

        # 2b: the password from a file (password_file) instead of the environment.
        pw_file = os.path.join(tmp, "smtp-password")
        with open(pw_file, "w") as f:
            f.write(PASSWORD + "\n")
        before = plain_rec.delivered()
        rc, report, out, rows = run_job(args.runner, tmp, "password-file", f"smtp://127.0.0.1:{plain_port}",
                                        "--tls", "starttls", "--ca-file", cert, "--user", USER,
                                        "--password-file", pw_file)
        checks.expect(rc == 0 and report and report["sent"] == RECIPIENTS
                      and plain_rec.delivered() - before == RECIPIENTS,
                      f"password_file: all {RECIPIENTS} sent (rc {rc}, {out.strip()[:300]})")
        no_secret("password-file", out, rows)

        # 3: wrong password.
        before = plain_rec.delivered()
        os.environ["WRONG_PASSWORD_VAR"] = "not-" + PASSWORD[::-1]
        rc, report, out, rows = run_job(args.runner, tmp, "wrong-password", f"smtp://127.0.0.1:{plain_port}",
                                        "--tls", "starttls", "--ca-file", cert, "--user", USER,
                                        "--password-env", "WRONG_PASSWORD_VAR")
        details = {d for _, _, d in rows}
        checks.expect(rc == 0 and report and report["failed"] == RECIPIENTS and report["sent"] == 0,
                      f"wrong password: all {RECIPIENTS} failed (rc {rc}, {out.strip()[:300]})")
        checks.expect(report is not None and report["failed_by_reason"].get("smtp 535") == RECIPIENTS,
                      f"wrong password: permanent failures 'smtp 535' ({report and report['failed_by_reason']})")
        checks.expect(all("authentication failed" in d for d in details),
                      f"wrong password: the ledger says why: {sorted(details)[:1]}")
        checks.expect(plain_rec.delivered() == before, "wrong password: nothing delivered")
        checks.expect(os.environ["WRONG_PASSWORD_VAR"] not in out and
                      all(os.environ["WRONG_PASSWORD_VAR"] not in d for d in details),
                      "wrong password: the (wrong) password appears nowhere")
        no_secret("wrong password", out, rows)

        # 4: a server that requires STARTTLS, Herald told not to use TLS.
        rc, report, out, rows = run_job(args.runner, tmp, "no-tls", f"smtp://127.0.0.1:{starttls_port}",
                                        "--tls", "none")
        details = {d for _, _, d in rows}
        checks.expect(rc == 0 and report and report["failed"] == RECIPIENTS and report["sent"] == 0,
                      f"no TLS: all {RECIPIENTS} failed permanently (rc {rc}, {out.strip()[:300]})")
        checks.expect(report is not None and report["failed_by_reason"].get("smtp 530") == RECIPIENTS,
                      f"no TLS: refused with 530 ({report and report['failed_by_reason']})")
        checks.expect(all("requires STARTTLS" in d and "tls NONE" in d for d in details),
                      f"no TLS: the ledger says why: {sorted(details)[:1]}")
        checks.expect(starttls_rec.delivered() == 0, "no TLS: nothing delivered in clear text")
        # ... and the same server delivers once Herald uses STARTTLS (no AUTH there).
        rc, report, out, rows = run_job(args.runner, tmp, "with-tls", f"smtp://127.0.0.1:{starttls_port}",
                                        "--tls", "auto", "--ca-file", cert)
        checks.expect(rc == 0 and report and report["sent"] == RECIPIENTS,
                      f"STARTTLS when offered (tls auto): all sent (rc {rc}, {out.strip()[:300]})")
        checks.expect(starttls_rec.delivered() == RECIPIENTS,
                      f"STARTTLS when offered: the server received {starttls_rec.delivered()} messages")

        # 5: implicit TLS (smtps://) + AUTH.
        rc, report, out, rows = run_job(args.runner, tmp, "implicit", f"smtps://127.0.0.1:{implicit_port}",
                                        "--tls", "implicit", "--ca-file", cert, *creds)
        checks.expect(rc == 0 and report and report["sent"] == RECIPIENTS and report["state"] == "completed",
                      f"implicit TLS: all {RECIPIENTS} sent (rc {rc}, {out.strip()[:300]})")
        checks.expect(implicit_rec.delivered() == RECIPIENTS,
                      f"implicit TLS: the server received {implicit_rec.delivered()} messages")
        checks.expect(sum(implicit_rec.logins.values()) > 0, f"implicit TLS: AUTH used ({dict(implicit_rec.logins)})")
        no_secret("implicit", out, rows)

        # 6: verification is on: without the CA file the self-signed certificate is refused.
        before = plain_rec.delivered()
        rc, report, out, rows = run_job(args.runner, tmp, "untrusted", f"smtp://127.0.0.1:{plain_port}",
                                        "--tls", "starttls", *creds)
        details = {d for _, _, d in rows}
        checks.expect(rc == 0 and report and report["sent"] == 0 and report["failed"] == RECIPIENTS,
                      f"untrusted certificate: nothing sent, all failed (rc {rc}, {out.strip()[:300]})")
        checks.expect(report is not None and report["failed_by_reason"].get("permanent") == RECIPIENTS,
                      f"untrusted certificate: permanent failures ({report and report['failed_by_reason']})")
        checks.expect(all("could not be verified" in d for d in details),
                      f"untrusted certificate: the ledger says why: {sorted(details)[:1]}")
        checks.expect(plain_rec.delivered() == before, "untrusted certificate: nothing delivered")
        no_secret("untrusted", out, rows)

        print("PASS" if checks.failed == 0 else f"FAIL: {checks.failed} check(s)")
        return 0 if checks.failed == 0 else 1
    finally:
        for c in controllers:
            try:
                c.stop()
            except Exception:  # noqa: BLE001
                pass
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
