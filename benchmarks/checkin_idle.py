"""Signed Idle check-ins per second: empty queue, and one pending command per device.

    .venv/bin/python benchmarks/checkin_idle.py [--devices 1000] [--duration 5] [--rounds 3]
        [--workers 5] [--clients 16]

Sets up a scratch PostgreSQL database `mdm_bench_checkin` (DATABASE_URL's server): a tenant
and --devices devices enrolled through the real protocol (identity certificates issued by the
tenant CA for real registrations, Authenticate + TokenUpdate). Then serves the project with
gunicorn (sync workers) and hammers it from --clients concurrent client threads (in two
processes) with pre-signed Idle requests (Mdm-Signature) spread over all the devices, and
with a trivial Django view on the same server (the framework ceiling), in rounds that pair a
trivial phase with an Idle phase (the CPU a shared machine gives drifts over minutes). Prints
the median requests/s of each, the median ratio to the ceiling (and every round's), the SQL
queries one Idle costs, and where the CPU went.

gunicorn imports this module for its WSGI app: `application` below serves the project's URLs
plus /bench/trivial.
"""

from __future__ import annotations

import argparse
import http.client
import multiprocessing
import os
import plistlib
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.scratch import setup_database  # noqa: E402 - after sys.path

DB_NAME = "mdm_bench_checkin"
TRIVIAL_PATH = "/bench/trivial"

# --- the WSGI app gunicorn serves ----------------------------------------------------------

_app = None


def trivial(request):
    from django.http import HttpResponse

    return HttpResponse(b"ok", content_type="text/plain")


def _urlpatterns():
    from django.urls import path

    from mdm_server import urls

    # Flat, as in the project's URLconf: neither view pays for an extra include level.
    return [path(TRIVIAL_PATH.lstrip("/"), trivial), *urls.urlpatterns]


def __getattr__(name):  # urlpatterns is built lazily: Django is not set up at import time
    if name == "urlpatterns":
        return _urlpatterns()
    raise AttributeError(name)


def application(environ, start_response):
    global _app
    if _app is None:
        os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mdm_server.settings")
        from django.conf import settings
        from django.core.wsgi import get_wsgi_application

        _app = get_wsgi_application()
        settings.ROOT_URLCONF = "benchmarks.checkin_idle"
    return _app(environ, start_response)


# --- setup ---------------------------------------------------------------------------------


def enroll_devices(count: int):
    """Tenant + `count` devices enrolled over the protocol; returns (slug, devices)."""
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    from cryptography.hazmat.primitives.serialization import Encoding
    from django.test import Client

    from devices.models import Command, CommandStatus
    from enrollment.models import IssuedCertificate
    from enrollment.scep import depot
    from enrollment.scep.signer import Signed, challenge_grant
    from enrollment.services.authorities import active_authority, key_pair
    from enrollment.services.registrations import do_claim_profile, do_start_registration
    from pki.authority import fingerprint, random_serial, subject_text
    from pki.issuance import issue_certificate
    from tests.base.apple.devices import django_transport, ready_tenant
    from tests.base.apple.simulator import SimulatedDevice, shared_key
    from tests.base.scep.client import make_csr
    from users.models import User
    from users.services.accounts import do_create_tenant

    tenant, admin = do_create_tenant("bench", "Bench", admin_email="admin@bench.test",
                                     admin_password="Corr3ct-horse-battery")
    ready_tenant(tenant, admin)
    authority = active_authority(tenant)
    ca = key_pair(authority)
    key = shared_key()
    csr = make_csr(key, "bench device")
    transport = django_transport(Client())
    devices = []
    started_at = time.perf_counter()
    for n in range(count):
        user = User.objects.create_user(tenant, f"user{n}@bench.test")
        started = do_start_registration(tenant, user, "ios", "api", actor=admin)
        _, minted = do_claim_profile(tenant, started.profile_token)
        # What the SCEP service stores (SCEP itself is benchmarked by scep_enroll.py).
        serial = random_serial()
        cert = issue_certificate(csr, ca, serial=serial, validity_days=365)
        depot.store(Signed(IssuedCertificate(
            tenant=tenant, authority=authority, serial_hex=f"{serial:040x}",
            subject=subject_text(cert.subject), common_name="bench device",
            fingerprint_sha256=fingerprint(cert), certificate_der=cert.public_bytes(Encoding.DER),
            not_before=cert.not_valid_before_utc, not_after=cert.not_valid_after_utc),
            challenge_grant(tenant, minted.raw, "bench")))
        device = SimulatedDevice(tenant.slug, transport, key, cert)
        assert device.authenticate()[0] == 200
        assert device.token_update()[0] == 200
        devices.append(device)
    # Every device has answered its DeviceInformation: the queues are empty.
    Command.objects.update(status=CommandStatus.ACKNOWLEDGED)
    print(f"enrolled {count} devices in {time.perf_counter() - started_at:.1f} s")
    return tenant, devices


def signed_idles(devices) -> list[tuple[bytes, str]]:
    from tests.base.apple.simulator import mdm_signature

    requests = []
    for device in devices:
        body = plistlib.dumps({"UDID": device.udid, "Status": "Idle"})
        requests.append((body, mdm_signature(device.key, device.cert, body)))
    return requests


def queries_per_idle(devices) -> tuple[int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    device = devices[0]
    device.idle()  # this process's tenant cache and prepared statement are warm in a server
    with CaptureQueriesContext(connection) as captured:
        device.idle()
    return len(captured), len(captured)


def seen_just_now() -> None:
    """Steady state: every device checked in within the minute, so an Idle writes nothing
    (last-seen is kept to the minute), and autovacuum has caught up with the set-up's bulk
    writes (else it, and the first reads setting hint bits, run during the measurement)."""
    from django.db import connection
    from django.utils import timezone

    from devices.models import AppleChannel, Device

    now = timezone.now()
    AppleChannel.objects.update(last_seen_at=now)
    Device.objects.update(last_seen_at=now)
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")


def enqueue_one_command_each(tenant) -> None:
    from devices.apple.commands import do_enqueue_command
    from devices.models import Device

    for device in Device.objects.for_tenant(tenant):
        do_enqueue_command(tenant, device, "ProfileList", actor="benchmark")


# --- load ----------------------------------------------------------------------------------

def _client_process(port: int, path: str, requests: list, threads: int, duration: float,
                    results) -> None:
    counts: Counter = Counter()
    lock = threading.Lock()
    deadline = time.perf_counter() + duration

    def worker(offset: int) -> None:
        local: Counter = Counter()
        i = offset
        while time.perf_counter() < deadline:
            if requests:
                body, signature = requests[i % len(requests)]
                headers = {"Mdm-Signature": signature,
                           "Content-Type": "application/x-apple-aspen-mdm"}
                method = "PUT"
            else:
                body, headers, method = None, {}, "GET"
            i += threads
            connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
            try:
                connection.request(method, path, body=body, headers=headers)
                response = connection.getresponse()
                response.read()
                local[response.status] += 1
            except OSError:
                local["error"] += 1
            finally:
                connection.close()
        with lock:
            counts.update(local)

    pool = [threading.Thread(target=worker, args=(n,)) for n in range(threads)]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()
    results.put(dict(counts))


def measured_load(server_pid: int, port: int, path: str, requests: list, clients: int,
                  duration: float) -> tuple[float, dict, dict]:
    """``load`` plus where the CPU went, in ms per successful request: gunicorn, PostgreSQL,
    and the rest of the machine (mostly the load clients)."""
    from benchmarks.cpu import machine_cpu, postgres_cpu, process_tree_cpu

    before = process_tree_cpu(server_pid), postgres_cpu(), machine_cpu()
    rate, counts = load(port, path, requests, clients, duration)
    server, database, machine = (after - start for after, start in zip(
        (process_tree_cpu(server_pid), postgres_cpu(), machine_cpu()), before, strict=True))
    done = max(counts.get(200, 0), 1)
    return rate, counts, {"gunicorn": server / done * 1000, "postgres": database / done * 1000,
                          "machine": machine / done * 1000}


def load(port: int, path: str, requests: list, clients: int, duration: float) -> tuple[float,
                                                                                         dict]:
    processes = 2
    results = multiprocessing.Queue()
    share = [requests[n::processes] for n in range(processes)] if requests else [[]] * 2
    procs = [multiprocessing.Process(target=_client_process, args=(
        port, path, share[n], clients // processes, duration, results)) for n in
        range(processes)]
    for proc in procs:
        proc.start()
    total: Counter = Counter()
    for _ in procs:
        total.update(results.get())
    for proc in procs:
        proc.join()
    ok = sum(v for k, v in total.items() if k == 200)
    return ok / duration, dict(total)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(port: int) -> None:
    for _ in range(100):
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("gunicorn did not start")


def paired_rounds(server_pid: int, port: int, path: str, requests: list, args) -> dict:
    """``args.rounds`` rounds of (trivial view, then Idle), each phase ``args.duration``
    seconds: on a shared machine the CPU available drifts, and a ratio taken between
    adjacent phases is steadier than one between phases minutes apart. Medians of each."""
    rounds = []
    for _ in range(args.rounds):
        ceiling = measured_load(server_pid, port, TRIVIAL_PATH, [], args.clients, args.duration)
        idle_rate = measured_load(server_pid, port, path, requests, args.clients, args.duration)
        rounds.append((ceiling, idle_rate))
    return {
        "ceiling": median(c[0] for c, _ in rounds),
        "rate": median(i[0] for _, i in rounds),
        "ratio": median(i[0] / c[0] for c, i in rounds),
        "ratios": [i[0] / c[0] for c, i in rounds],
        "counts": [i[1] for _, i in rounds],
        "ceiling_cpu": {k: median(c[2][k] for c, _ in rounds) for k in rounds[0][0][2]},
        "cpu": {k: median(i[2][k] for _, i in rounds) for k in rounds[0][1][2]},
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=1000)
    parser.add_argument("--duration", type=float, default=5.0, help="seconds per phase")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--workers", type=int, default=2 * os.cpu_count() + 1)
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    setup_database(args.database_url, DB_NAME)
    os.environ.update({"DATABASE_URL": f"{args.database_url}/{DB_NAME}",
                       "DJANGO_SETTINGS_MODULE": "mdm_server.settings",
                       "MDM_DATA_DIR": os.environ.get("MDM_DATA_DIR", "/tmp/mdm-bench-checkin")})
    tenant, devices = enroll_devices(args.devices)
    idles = signed_idles(devices)
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", "benchmarks.checkin_idle:application",
         "--workers", str(args.workers), "--bind", f"127.0.0.1:{port}",
         "--log-level", "warning", "--backlog", "2048"],
        cwd=ROOT, env={**os.environ, "PYTHONPATH": str(ROOT)})
    try:
        wait_for(port)
        checkin_path = f"/t/{tenant.slug}/mdm/server"
        load(port, TRIVIAL_PATH, [], args.clients, 2)  # warm up every worker
        load(port, checkin_path, idles, args.clients, 2)
        seen_just_now()
        empty = paired_rounds(server.pid, port, checkin_path, idles, args)
        empty_queries = queries_per_idle(devices)[0]
        enqueue_one_command_each(tenant)
        seen_just_now()
        pending = paired_rounds(server.pid, port, checkin_path, idles, args)
        pending_queries = queries_per_idle(devices)[0]
    finally:
        server.terminate()
        server.wait(timeout=30)
    print(f"gunicorn sync workers: {args.workers}, client threads: {args.clients}, "
          f"{args.rounds} rounds of {args.duration:.0f} s phases, {args.devices} devices, "
          f"CPUs: {os.cpu_count()}; medians")
    for name, result, queries in (("empty queue", empty, empty_queries),
                                  ("one pending command", pending, pending_queries)):
        print(f"signed Idle, {name}:")
        print(f"  {'trivial Django view (ceiling)':36} {result['ceiling']:8.0f} req/s")
        print(f"  {'signed Idle':36} {result['rate']:8.0f} req/s   {result['ratio']:5.0%} of "
              f"ceiling (rounds: {', '.join(f'{r:.0%}' for r in result['ratios'])})   "
              f"{queries} queries/Idle   {result['counts']}")
        print("  CPU per request (ms): gunicorn / PostgreSQL / whole machine")
        for label, cpu in (("trivial", result["ceiling_cpu"]), ("Idle", result["cpu"])):
            print(f"    {label:34} {cpu['gunicorn']:6.3f} / {cpu['postgres']:6.3f} / "
                  f"{cpu['machine']:6.3f}")


if __name__ == "__main__":
    main()
