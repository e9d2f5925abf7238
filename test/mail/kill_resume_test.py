#!/usr/bin/python3
"""Kills a real mail job with SIGKILL mid-run, resumes it, and counts what a
real SMTP server on loopback received per recipient.

  kill_resume_test.py RUNNER [--recipients 3000] [--kills 3] [--batch 32]

The job runs in herald_mail_runner (an SQLite ledger in a temporary folder)
against an aiosmtpd server. It is killed with kill -9 at several points
(after 20%, 45%, 70% of the list has arrived), then run to completion. Every
recipient must receive at least one message, and the duplicates must stay
within the documented bound: at most batch x workers per kill (the in-flight
recipients). Each run claims as worker "kill" (its instance id is
"kill/<random>"); each run after a kill names "kill" in --requeue-claims-of,
the operator saying that the earlier runs are dead, so their fresh in-flight
claims are requeued at once instead of after claim_timeout."""
import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import smtp_counter  # noqa: E402


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runner")
    ap.add_argument("--recipients", type=int, default=3000)
    ap.add_argument("--kills", type=int, default=3)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--workers", type=int, default=2)
    args = ap.parse_args()

    tmp = tempfile.mkdtemp(prefix="herald-kill-")
    counter, controller, port = smtp_counter.start_server()
    try:
        csv = os.path.join(tmp, "list.csv")
        smtp_counter.write_list(csv, args.recipients)
        cmd = [args.runner, "--store", "sqlite:" + os.path.join(tmp, "ledger.db"),
               "--csv", csv, "--smtp", f"smtp://127.0.0.1:{port}",
               "--batch", str(args.batch), "--workers", str(args.workers),
               "--connections", "4", "--worker-id", "kill"]
        resume = cmd + ["--requeue-claims-of", "kill"]
        kills = 0
        for k in range(args.kills):
            target = args.recipients * (20 + 25 * k) // 100
            child = subprocess.Popen(cmd if k == 0 else resume, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            deadline = time.time() + 120
            while counter.total() < target and child.poll() is None and time.time() < deadline:
                time.sleep(0.002)
            if child.poll() is None:
                os.kill(child.pid, signal.SIGKILL)
                child.wait()
                kills += 1
                print(f"kill {kills}: SIGKILL after {counter.total()} messages arrived")
            else:
                print(f"run {k} ended before the kill point ({child.returncode})")
        final = subprocess.run(resume, capture_output=True, text=True, timeout=300)
        if final.returncode != 0:
            print("final run failed:", final.stderr)
            return 1
        report = json.loads(final.stdout)
        time.sleep(0.2)  # let the server finish counting
        counts = counter.snapshot()
        missing = [f"user{i}@example.org" for i in range(args.recipients)
                   if counts.get(f"user{i}@example.org", 0) == 0]
        duplicates = sum(n - 1 for n in counts.values() if n > 1)
        twice = sum(1 for n in counts.values() if n > 1)
        bound = kills * args.batch * args.workers
        print(f"recipients {args.recipients}, messages {sum(counts.values())}, "
              f"missing {len(missing)}, recipients with two {twice}, extra messages {duplicates}, "
              f"bound {bound} ({kills} kills x batch {args.batch} x workers {args.workers}); "
              f"final report: state {report['state']}, sent {report['sent']}, "
              f"requeued in flight {report['requeued_in_flight']}")
        ok = True
        if missing:
            print("FAIL: never received:", missing[:10])
            ok = False
        if duplicates > bound:
            print("FAIL: more duplicates than the in-flight bound")
            ok = False
        if any(n > 2 for n in counts.values()):
            print("FAIL: someone received three messages")
            ok = False
        if report["state"] != "completed" or report["sent"] != args.recipients:
            print("FAIL: the job did not complete with everyone sent")
            ok = False
        if kills == 0:
            print("FAIL: the job was never killed mid-run")
            ok = False
        return 0 if ok else 1
    finally:
        controller.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
