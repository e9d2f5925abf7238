#!/usr/bin/python3
"""Several mailer processes share one job through PostgreSQL and send nothing
twice. Every process starts at once with in-flight recovery on: claims carry
an owner and a time, and a process only requeues stale claims (older than
claim_timeout), never the fresh claims of its live peers. Needs
HERALD_TEST_PG (a libpq connection URI, see scripts/pg_test_server.sh);
without it the test passes with a WARN.

A second job starts with a crash: one process (worker id "crashed") is killed
with SIGKILL mid-run, leaving fresh claims in flight; then all processes start
at once, each naming "crashed" in --requeue-claims-of. The crashed claims are
requeued exactly once in all (whichever process gets there first), no live
claim is requeued, everybody is reached, and only the crashed in-flight
recipients may receive a second message.

  shared_job_test.py RUNNER [--recipients 3000] [--processes 3]"""
import argparse
import json
import os
import signal
import subprocess
import time
import sys
import tempfile
import shutil
import uuid

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("runner")
    ap.add_argument("--recipients", type=int, default=3000)
    ap.add_argument("--processes", type=int, default=3)
    args = ap.parse_args()
    pg = os.environ.get("HERALD_TEST_PG", "")
    if not pg:
        # ctest reports exit code 77 as skipped (SKIP_RETURN_CODE), never passed.
        print("SKIPPED: the shared PostgreSQL job test needs PostgreSQL: HERALD_TEST_PG is not set")
        return 77
    import smtp_counter
    tmp = tempfile.mkdtemp(prefix="herald-shared-")
    counter, controller, port = smtp_counter.start_server()
    counter2, controller2, port2 = smtp_counter.start_server()
    try:
        csv = os.path.join(tmp, "list.csv")
        smtp_counter.write_list(csv, args.recipients)
        job = "shared-" + uuid.uuid4().hex[:12]

        def command(job, port, worker, *extra):
            return [args.runner, "--store", pg, "--csv", csv, "--smtp", f"smtp://127.0.0.1:{port}",
                    "--job", job, "--batch", "16", "--connections", "4", "--worker-id", worker] + list(extra)

        def run_all(job, port, *extra):
            children = [subprocess.Popen(command(job, port, f"proc{p}", *extra), stdout=subprocess.PIPE,
                                         stderr=subprocess.PIPE, text=True)
                        for p in range(args.processes)]
            reports = []
            for c in children:
                out, err = c.communicate(timeout=300)
                if c.returncode != 0:
                    print("FAIL: a mailer process failed:", err)
                    return None
                reports.append(json.loads(out))
            return reports

        reports = run_all(job, port)
        if reports is None:
            return 1
        counts = counter.snapshot()
        per_process = [r["sent_this_run"] for r in reports]
        twice = [r for r, n in counts.items() if n > 1]
        missing = args.recipients - len(counts)
        print(f"{args.processes} processes sent {per_process} (total {sum(per_process)}); "
              f"recipients reached {len(counts)}, missing {missing}, received twice {len(twice)}")
        requeued = sum(r["requeued_in_flight"] for r in reports)
        if requeued:
            print(f"FAIL: {requeued} live claims were requeued")
            return 1
        if twice or missing or sum(per_process) != args.recipients:
            print("FAIL")
            return 1
        if sum(1 for n in per_process if n > 0) < 2:
            print("WARN: only one process did any work")

        # A crashed run first, then everyone at once, resuming its claims.
        job2 = "crashed-" + uuid.uuid4().hex[:12]
        crashed = subprocess.Popen(command(job2, port2, "crashed"), stdout=subprocess.PIPE,
                                   stderr=subprocess.PIPE)
        deadline = time.time() + 60
        while counter2.total() < args.recipients // 10 and crashed.poll() is None and time.time() < deadline:
            time.sleep(0.002)
        if crashed.poll() is not None:
            print("FAIL: the run to crash ended before it was killed")
            return 1
        os.kill(crashed.pid, signal.SIGKILL)
        crashed.wait()
        in_flight = int(subprocess.run(
            ["psql", "-tAc", f"SELECT count(*) FROM herald.mail_recipients WHERE job_id = '{job2}' AND state = 1",
             pg], capture_output=True, text=True, check=True).stdout.strip())
        time.sleep(0.2)  # let the server count what the killed run sent
        before = counter2.total()
        reports = run_all(job2, port2, "--requeue-claims-of", "crashed")
        if reports is None:
            return 1
        counts = counter2.snapshot()
        requeued = [r["requeued_in_flight"] for r in reports]
        twice = [r for r, n in counts.items() if n > 1]
        missing = args.recipients - len(counts)
        print(f"crashed run killed after {before} messages with {in_flight} in flight; then "
              f"{args.processes} processes sent {[r['sent_this_run'] for r in reports]} and requeued {requeued}; "
              f"missing {missing}, received twice {len(twice)}, final states {[r['state'] for r in reports]}")
        ok = True
        if sum(requeued) != in_flight:
            print("FAIL: the crashed claims were not requeued exactly once (or live claims were requeued)")
            ok = False
        if missing or len(twice) > in_flight or any(n > 2 for n in counts.values()):
            print("FAIL: someone missed, or more duplicates than the crashed in-flight claims")
            ok = False
        if "completed" not in [r["state"] for r in reports]:
            print("FAIL: nobody completed the job")
            ok = False
        return 0 if ok else 1
    finally:
        controller.stop()
        controller2.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
