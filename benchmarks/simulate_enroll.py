"""The device simulator enrolling Apple devices end to end: devices/s and per-step latencies.

    .venv/bin/python benchmarks/simulate_enroll.py [--count 500] [--concurrency 8]
        [--workers 4] [--platform ios|macos]

Sets up a scratch PostgreSQL database `mdm_bench_enroll` (on --database-url's server) with a
tenant ready for Apple enrollment (its CA, profile-signing certificate and an APNs topic),
serves the project with gunicorn (sync workers) and runs the simulator against it, as
`simulate_devices --count N --concurrency C --server URL` does: N users and registrations,
then each device over HTTP downloads its signed enrollment profile, enrolls over SCEP
(GetCACert + PKIOperation), sends Authenticate and TokenUpdate signed with its new identity
(plus the user channel on macOS) and answers its commands until the queue is empty.

No Celery worker is needed: with no APNs certificate no push is queued (the simulated device
polls right away, as a device woken by the push would), and nothing else in this path runs as
a task. Device keys come from a pool of 8 generated up front (RSA generation would otherwise
dominate the client); the client still signs and decrypts per device, on the same CPUs as the
server, so client and server CPU time per device are printed too.

Prints enrolled/failed, wall time, devices/s, and p50/p95/max of each step and of a whole
device (after a warm-up run of a few devices that is not counted).
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.scratch import setup_database  # noqa: E402 - after sys.path

DB_NAME = "mdm_bench_enroll"
STEPS = ("profile", "scep", "checkin", "commands")



def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url: str, seconds: float = 30) -> None:
    import httpx

    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{url}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not answer /healthz")


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a process and its children (gunicorn master + workers)."""
    tick = os.sysconf("SC_CLK_TCK")
    pids = [pid, *(int(child) for child in Path(f"/proc/{pid}/task/{pid}/children")
                   .read_text().split())]
    total = 0
    for each in pids:
        fields = Path(f"/proc/{each}/stat").read_text().rsplit(")", 1)[1].split()
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / tick


def ready_tenant():
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("createcachetable", verbosity=0)  # the cache when REDIS_URL is unset
    from devices.simulator.apple import TOPIC
    from enrollment.services.apple_settings import do_save_apple_settings
    from users.services.accounts import do_create_tenant

    tenant, admin = do_create_tenant("bench", "Bench", admin_email="admin@bench.test",
                                     admin_password="Corr3ct-horse-battery")
    do_save_apple_settings(tenant, actor=admin, push_topic=TOPIC)
    return tenant


def run(tenant, platform: str, count: int, concurrency: int, server: str, keys,
        server_pid: int):
    """(seconds to create users and registrations, summary, client CPU s, server CPU s)."""
    from devices.simulator.apple_fleet import enroll_apple_devices, start_registrations

    started = time.perf_counter()
    jobs = start_registrations(tenant, platform, count)
    setup_seconds = time.perf_counter() - started

    def progress(done: int, total: int) -> None:
        if done % max(1, total // 20) == 0 or done == total:
            print(f"\r  {done}/{total}", end="\n" if done == total else "", file=sys.stderr,
                  flush=True)

    server_before, client_before = cpu_seconds(server_pid), time.process_time()
    summary = enroll_apple_devices(tenant.slug, platform, jobs, server, concurrency=concurrency,
                                   keys=keys, progress=progress)
    return (setup_seconds, summary, time.process_time() - client_before,
            cpu_seconds(server_pid) - server_before)


def ms(seconds: float) -> str:
    return f"{1000 * seconds:8.1f}"


def report(summary, args, setup_seconds: float, client_cpu: float, server_cpu: float) -> None:
    print(f"{args.platform}: {summary.total} devices, concurrency {args.concurrency}, "
          f"gunicorn sync workers {args.workers}, CPUs {os.cpu_count()}")
    print(f"users + registrations created in-process: {setup_seconds:.1f} s")
    print(f"enrolled {summary.enrolled}, failed {summary.failed} in {summary.elapsed:.1f} s: "
          f"{summary.enrolled / summary.elapsed:.1f} devices/s")
    print(f"CPU per device: server {ms(server_cpu / summary.total).strip()} ms, "
          f"client (simulator) {ms(client_cpu / summary.total).strip()} ms")
    if summary.enrolled:
        summary.timings["device"] = [sum(values) for values in
                                     zip(*(summary.timings[step] for step in STEPS),
                                         strict=True)]
        print(f"{'step (ms)':<10} {'p50':>8} {'p95':>8} {'max':>8}")
        for step in (*STEPS, "device"):
            print(f"{step:<10} {ms(summary.percentile(step, 0.5))} "
                  f"{ms(summary.percentile(step, 0.95))} {ms(max(summary.timings[step]))}")
    for reason, times in summary.errors.most_common(5):
        print(f"failure x{times}: {reason}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=500)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--workers", type=int, default=2 * (os.cpu_count() or 1))
    parser.add_argument("--platform", choices=["ios", "macos"], default="ios")
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--keep", action="store_true", help="Keep the scratch database.")
    args = parser.parse_args()

    setup_database(args.database_url, DB_NAME)
    data_dir = tempfile.mkdtemp(prefix="mdm-bench-enroll-")
    port = free_port()
    server = f"http://127.0.0.1:{port}"
    os.environ.update({"DATABASE_URL": f"{args.database_url}/{DB_NAME}",
                       "DJANGO_SETTINGS_MODULE": "mdm_server.settings",
                       "MDM_DATA_DIR": data_dir, "MDM_PUBLIC_URL": server})
    import django

    django.setup()
    from devices.models import Device, DeviceState
    from devices.simulator.apple_fleet import KEY_POOL_SIZE, device_keys

    tenant = ready_tenant()
    keys = device_keys(KEY_POOL_SIZE)
    gunicorn = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "mdm_server.wsgi", "--workers", str(args.workers),
         "--bind", f"127.0.0.1:{port}", "--log-level", "warning", "--backlog", "2048"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        wait_for(server)
        warm_up = 2 * args.workers  # every worker has served each endpoint once
        run(tenant, args.platform, warm_up, args.concurrency, server, keys, gunicorn.pid)
        setup_seconds, summary, client_cpu, server_cpu = run(
            tenant, args.platform, args.count, args.concurrency, server, keys, gunicorn.pid)
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=30)
        shutil.rmtree(data_dir, ignore_errors=True)
    report(summary, args, setup_seconds, client_cpu, server_cpu)
    active = Device.objects.filter(tenant=tenant, state=DeviceState.ACTIVE).count()
    print(f"devices Active in the database: {active} (warm-up included)")
    if not args.keep:
        from django.db import connections

        connections.close_all()
        admin = args.database_url + "/postgres"
        subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {DB_NAME}"], check=True)


if __name__ == "__main__":
    main()
