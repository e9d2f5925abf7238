#!/usr/bin/python3
"""Several mailer processes share one job through PostgreSQL and send nothing
twice. Needs HERALD_TEST_PG (a libpq connection URI, see
scripts/pg_test_server.sh); without it the test passes with a WARN.

  shared_job_test.py RUNNER [--recipients 3000] [--processes 3]"""
import argparse
import json
import time
import os
import subprocess
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
        print("WARN: HERALD_TEST_PG is not set: the shared PostgreSQL job test was skipped")
        return 0
    import smtp_counter
    tmp = tempfile.mkdtemp(prefix="herald-shared-")
    counter, controller, port = smtp_counter.start_server()
    try:
        csv = os.path.join(tmp, "list.csv")
        smtp_counter.write_list(csv, args.recipients)
        job = "shared-" + uuid.uuid4().hex[:12]
        children = []
        for p in range(args.processes):
            cmd = [args.runner, "--store", pg, "--csv", csv, "--smtp", f"smtp://127.0.0.1:{port}",
                   "--job", job, "--batch", "16", "--connections", "4", "--worker-id", f"proc{p}"]
            if p > 0:
                cmd.append("--join")  # only the first may requeue in-flight recipients
            children.append(subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
            if p == 0:
                # The first process requeues recipients left in flight by a
                # crashed run, at its start; joiners must not be claiming yet
                # (in-flight claims carry no owner or age: docs/mail.md).
                time.sleep(0.3)
        reports = []
        for c in children:
            out, err = c.communicate(timeout=300)
            if c.returncode != 0:
                print("FAIL: a mailer process failed:", err)
                return 1
            reports.append(json.loads(out))
        counts = counter.snapshot()
        per_process = [r["sent_this_run"] for r in reports]
        twice = [r for r, n in counts.items() if n > 1]
        missing = args.recipients - len(counts)
        print(f"{args.processes} processes sent {per_process} (total {sum(per_process)}); "
              f"recipients reached {len(counts)}, missing {missing}, received twice {len(twice)}")
        if twice or missing or sum(per_process) != args.recipients:
            print("FAIL")
            return 1
        if sum(1 for n in per_process if n > 0) < 2:
            print("WARN: only one process did any work")
        return 0
    finally:
        controller.stop()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
