#!/usr/bin/python3
"""No SMTP credentials in clear text (issue #15 item 12), checked on the wire.

A recording TCP proxy on loopback sits in front of a real aiosmtpd server
(Debian's python3-aiosmtpd) that offers AUTH PLAIN / LOGIN without TLS and
no STARTTLS: every byte the client sends is kept, so "no AUTH in clear text"
is checked on what actually crossed the socket, not on what Herald says.

herald_mail_runner (the library's smtp transport):
  A. user information in the URL (smtp://user:pass@host): refused at
     creation, the error names password_env / password_file, no connection
  B. a username with tls NONE: refused at creation, no connection
  C. a username, tls unset, a server without STARTTLS: every message fails
     ("TLS is required"), no AUTH on the wire
  D. the same with allow_plaintext_auth_insecure: delivered, AUTH in clear
     (the operator asked for it), the report's transport says INSECURE
herald mail (the CLI):
  E. --smtp smtp://user:pass@host: exit 2, the message names
     HERALD_SMTP_PASSWORD and --smtp-password-file, no connection
  F. --smtp-user without any password source: exit 2, names them too
  G. --smtp-user with HERALD_SMTP_PASSWORD, no TLS offered: nothing sent, no AUTH
  H. the same with --allow-plaintext-auth-insecure: delivered, a warning
The password never appears in any output.

  smtp_credentials_test.py RUNNER HERALD CATALOG"""
import argparse
import json
import logging
import os
import shutil
import socket
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
PASSWORD = "pl41n-Secret-77d1e"
RECIPIENTS = 3


class Recorder:
    def __init__(self):
        self.lock = threading.Lock()
        self.delivered = 0
        self.logins = 0

    async def handle_DATA(self, server, session, envelope):
        with self.lock:
            self.delivered += len(envelope.rcpt_tos)
        return "250 OK queued"

    def authenticate(self, server, session, envelope, mechanism, auth_data):
        ok = (isinstance(auth_data, LoginPassword) and auth_data.login == USER.encode()
              and auth_data.password == PASSWORD.encode())
        with self.lock:
            self.logins += 1
        return AuthResult(success=ok, handled=False)


class RecordingProxy:
    """Forwards loopback connections to `target_port` and keeps every byte
    the clients sent."""

    def __init__(self, target_port):
        self.target_port = target_port
        self.lock = threading.Lock()
        self.client_bytes = b""
        self.connections = 0
        self.sock = socket.socket()
        self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                client, _ = self.sock.accept()
            except OSError:
                return
            with self.lock:
                self.connections += 1
            upstream = socket.create_connection(("127.0.0.1", self.target_port))
            threading.Thread(target=self._pump, args=(client, upstream, True), daemon=True).start()
            threading.Thread(target=self._pump, args=(upstream, client, False), daemon=True).start()

    def _pump(self, src, dst, record):
        try:
            while True:
                data = src.recv(65536)
                if not data:
                    break
                if record:
                    with self.lock:
                        self.client_bytes += data
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

    def take(self):
        """(connections, client bytes) since the last call."""
        with self.lock:
            out = (self.connections, self.client_bytes)
            self.connections, self.client_bytes = 0, b""
        return out


def auth_on_wire(data):
    return any(line.upper().startswith(b"AUTH") for line in data.split(b"\r\n"))


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
    ap.add_argument("herald")
    ap.add_argument("catalog")
    args = ap.parse_args()
    logging.getLogger("mail.log").setLevel(logging.CRITICAL)
    warnings.filterwarnings("ignore", message="Requiring AUTH while not requiring TLS")
    tmp = tempfile.mkdtemp(prefix="herald-creds-")
    checks = Checks()
    rec = Recorder()
    port = smtp_counter.free_port()
    controller = Controller(rec, hostname="127.0.0.1", port=port, authenticator=rec.authenticate,
                            auth_require_tls=False)
    controller.start()
    proxy = RecordingProxy(port)
    csv = os.path.join(tmp, "list.csv")
    smtp_counter.write_list(csv, RECIPIENTS)
    env = dict(os.environ, TEST_SMTP_PASSWORD=PASSWORD, HERALD_UNSUBSCRIBE_SECRET="creds-test-secret-0123")
    env.pop("HERALD_SMTP_PASSWORD", None)

    def runner(name, url, *extra):
        db = os.path.join(tmp, name + ".db")
        cmd = [args.runner, "--store", "sqlite:" + db, "--csv", csv, "--smtp", url, "--job", name,
               "--connections", "1", "--timeout-ms", "10000"] + list(extra)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
        return proc.returncode, proc.stdout + proc.stderr, proc.stdout

    def cli(name, url, *extra, extra_env=None):
        cmd = [args.herald, "mail", "--catalog", args.catalog, "--item", "newsletter", "--recipients", csv,
               "--smtp", url, "--store", "sqlite:" + os.path.join(tmp, name + ".db"), "--json"] + list(extra)
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=dict(env, **(extra_env or {})))
        return proc.returncode, proc.stdout + proc.stderr, proc.stdout

    def no_password(name, out):
        checks.expect(PASSWORD not in out, f"{name}: the password appears in no output")

    try:
        plain = f"127.0.0.1:{proxy.port}"
        creds = ["--user", USER, "--password-env", "TEST_SMTP_PASSWORD"]

        # A: credentials in the URL.
        rc, out, _ = runner("url-userinfo", f"smtp://{USER}:{PASSWORD}@{plain}", "--tls", "auto")
        conns, wire = proxy.take()
        checks.expect(rc != 0 and "must not carry credentials" in out and "password_env" in out
                      and "password_file" in out, f"A url with user:pass@: refused, says what to use ({out.strip()[:300]})")
        checks.expect(conns == 0 and not auth_on_wire(wire), f"A: no connection, no AUTH ({conns} connections)")
        no_password("A", out)

        # B: username with tls NONE.
        rc, out, _ = runner("tls-none-user", f"smtp://{plain}", "--tls", "none", *creds)
        conns, wire = proxy.take()
        checks.expect(rc != 0 and "clear text" in out and "allow_plaintext_auth_insecure" in out,
                      f"B username + tls NONE: refused at creation ({out.strip()[:300]})")
        checks.expect(conns == 0 and not auth_on_wire(wire), f"B: no connection, no AUTH ({conns} connections)")
        no_password("B", out)

        # C: username, tls unset, the server offers no STARTTLS.
        rc, out, stdout = runner("tls-auto-user", f"smtp://{plain}", "--tls", "auto", *creds)
        conns, wire = proxy.take()
        report = json.loads(stdout) if rc == 0 else None
        checks.expect(report is not None and report["sent"] == 0 and report["failed"] == RECIPIENTS,
                      f"C username, no STARTTLS offered: nothing sent ({out.strip()[:300]})")
        checks.expect(conns > 0 and not auth_on_wire(wire) and USER.encode() not in wire,
                      f"C: connected ({conns}) but sent no AUTH and no credentials")
        no_password("C", out)

        # D: the loudly named opt-in.
        before = rec.delivered
        rc, out, stdout = runner("insecure", f"smtp://{plain}", "--tls", "none", *creds,
                                 "--allow-plaintext-auth-insecure")
        conns, wire = proxy.take()
        report = json.loads(stdout) if rc == 0 else None
        checks.expect(report is not None and report["sent"] == RECIPIENTS and rec.delivered - before == RECIPIENTS,
                      f"D allow_plaintext_auth_insecure: delivered ({out.strip()[:300]})")
        checks.expect(auth_on_wire(wire), "D: AUTH went out in clear text, as asked")
        checks.expect(report is not None and "INSECURE" in report["transport"],
                      f"D: the report's transport says so ({report and report['transport']})")
        no_password("D", out)

        # E: the CLI refuses credentials in --smtp.
        rc, out, _ = cli("cli-url", f"smtp://{USER}:{PASSWORD}@{plain}")
        conns, wire = proxy.take()
        checks.expect(rc == 2 and "HERALD_SMTP_PASSWORD" in out and "--smtp-password-file" in out
                      and "must not carry credentials" in out, f"E herald mail --smtp with user:pass@: exit 2 ({out.strip()[:400]})")
        checks.expect(conns == 0, "E: no connection")
        no_password("E", out)

        # F: --smtp-user without a password source.
        rc, out, _ = cli("cli-nopass", f"smtp://{plain}", "--smtp-user", USER)
        checks.expect(rc == 2 and "HERALD_SMTP_PASSWORD" in out and "--smtp-password-file" in out,
                      f"F --smtp-user without a password: exit 2, names the sources ({out.strip()[:300]})")
        proxy.take()

        # G: --smtp-user + HERALD_SMTP_PASSWORD, no TLS available: no AUTH.
        rc, out, stdout = cli("cli-notls", f"smtp://{plain}", "--smtp-user", USER,
                              extra_env={"HERALD_SMTP_PASSWORD": PASSWORD})
        conns, wire = proxy.take()
        report = json.loads(stdout) if rc == 0 and stdout.strip().startswith("{") else None
        checks.expect(report is not None and report["sent"] == 0, f"G no STARTTLS: nothing sent ({out.strip()[:300]})")
        checks.expect(not auth_on_wire(wire), "G: no AUTH on the wire")
        no_password("G", out)

        # H: --allow-plaintext-auth-insecure.
        before = rec.delivered
        rc, out, stdout = cli("cli-insecure", f"smtp://{plain}", "--smtp-user", USER,
                              "--allow-plaintext-auth-insecure", extra_env={"HERALD_SMTP_PASSWORD": PASSWORD})
        conns, wire = proxy.take()
        report = json.loads(stdout) if rc == 0 and stdout.strip().startswith("{") else None
        checks.expect(report is not None and report["sent"] == RECIPIENTS and rec.delivered - before == RECIPIENTS,
                      f"H --allow-plaintext-auth-insecure: delivered ({out.strip()[:300]})")
        checks.expect(auth_on_wire(wire) and "WARNING" in out, "H: AUTH in clear, with a warning")
        no_password("H", out)

        print("PASS" if checks.failed == 0 else f"FAIL: {checks.failed} check(s)")
        return 0 if checks.failed == 0 else 1
    finally:
        controller.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
