"""Account-driven enrollment: service discovery requests/s next to /healthz on the same
server, and whole simulated enrollments/s with p50/p95 per step.

    .venv/bin/python benchmarks/account_driven.py [--count 100] [--concurrency 4]
        [--workers 4] [--clients 8] [--seconds 3] [--rounds 3]

Sets up a scratch PostgreSQL database `mdm_bench_enroll` (simulate_enroll.py's set-up: a
tenant ready for Apple enrollment), adds the simulated users' domain as a managed domain and
serves the project with gunicorn (sync workers). Then:

1. Discovery: `--clients` threads with keep-alive connections GET
   `/.well-known/com.apple.remotemanagement?user-identifier=...` for `--seconds`, paired in
   `--rounds` with the same load on `/healthz` (the reference, measured in the same run);
   prints the median requests/s of each and their ratio (target: discovery within 2x of
   /healthz).
2. Enrollment: `--count` devices enroll the account-driven way (mode adde), as
   `simulate_devices --method account-driven` does: discovery, the 401, the web sign-in
   (password), the profile with the token, SCEP, Authenticate, TokenUpdate and commands.
   Prints devices/s and p50/p95/max of each step.
"""

from __future__ import annotations

import argparse
import http.client
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.scratch import setup_database  # noqa: E402 - after sys.path
from benchmarks.simulate_enroll import (  # noqa: E402
    DB_NAME,
    free_port,
    ms,
    ready_tenant,
    wait_for,
)

STEPS = ("account", "profile", "scep", "checkin", "commands")


def requests_per_second(port: int, path: str, clients: int, seconds: float) -> float:
    """GET ``path`` from ``clients`` threads, each on one keep-alive connection."""
    done = [0] * clients
    deadline = time.monotonic() + seconds

    def client(index: int) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        while time.monotonic() < deadline:
            connection.request("GET", path)
            response = connection.getresponse()
            response.read()
            assert response.status == 200, (path, response.status)
            done[index] += 1
        connection.close()

    threads = [threading.Thread(target=client, args=(n,)) for n in range(clients)]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return sum(done) / (time.monotonic() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()

    setup_database(args.database_url, DB_NAME)
    data_dir = tempfile.mkdtemp(prefix="mdm-bench-account-")
    port = free_port()
    server = f"http://127.0.0.1:{port}"
    os.environ.update({"DATABASE_URL": f"{args.database_url}/{DB_NAME}",
                       "DJANGO_SETTINGS_MODULE": "mdm_server.settings",
                       "MDM_DATA_DIR": data_dir, "MDM_PUBLIC_URL": server})
    import django

    django.setup()
    from devices.simulator.accounts import simulated_domain
    from devices.simulator.apple_fleet import enroll_by_account
    from enrollment.services.managed_domains import do_add_managed_domain

    tenant = ready_tenant()
    domain = simulated_domain(tenant)
    do_add_managed_domain(tenant, domain, actor="bench")
    discovery = ("/.well-known/com.apple.remotemanagement"
                 f"?user-identifier=someone%40{domain}")
    gunicorn = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "mdm_server.wsgi", "--workers", str(args.workers),
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--backlog", "2048"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        wait_for(server)
        requests_per_second(port, discovery, args.clients, 1)  # warm every worker
        rates: dict[str, list[float]] = {"/healthz (reference)": [], "discovery": []}
        for _ in range(args.rounds):
            rates["/healthz (reference)"].append(
                requests_per_second(port, "/healthz", args.clients, args.seconds))
            rates["discovery"].append(
                requests_per_second(port, discovery, args.clients, args.seconds))
        print(f"1. discovery, {args.clients} keep-alive clients, {args.rounds} paired rounds "
              f"of {args.seconds:.0f} s, gunicorn sync workers {args.workers}:")
        reference = median(rates["/healthz (reference)"])
        for name, values in rates.items():
            print(f"   {name:<22} {median(values):8.0f} requests/s   "
                  f"{reference / median(values):5.2f}x the reference's time per request   "
                  f"(rounds: {', '.join(f'{v:.0f}' for v in values)})")

        summary = enroll_by_account(tenant, "ios", args.count, server, mode="adde",
                                    concurrency=args.concurrency)
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)
    print(f"\n2. account-driven enrollment (adde), {summary.total} iPhones, concurrency "
          f"{args.concurrency}: enrolled {summary.enrolled}, failed {summary.failed} in "
          f"{summary.elapsed:.1f} s = {summary.enrolled / summary.elapsed:.1f} devices/s")
    if summary.enrolled:
        print(f"   {'step (ms)':<10} {'p50':>8} {'p95':>8} {'max':>8}")
        for step in STEPS:
            print(f"   {step:<10} {ms(summary.percentile(step, 0.5))} "
                  f"{ms(summary.percentile(step, 0.95))} {ms(max(summary.timings[step]))}")
    for reason, times in summary.errors.most_common(5):
        print(f"   failure x{times}: {reason}")


if __name__ == "__main__":
    main()
