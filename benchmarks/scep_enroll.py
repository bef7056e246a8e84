"""SCEP enrollment throughput: our server (gunicorn + PostgreSQL) next to micromdm's
`scepserver` (Debian package `scep`), both driven by Debian's `scepclient`.

    .venv/bin/python benchmarks/scep_enroll.py [--count 200] [--concurrency 4] [--workers 2]

Prints enrollments/s for both servers, their ratio, failures (a failure is a client that did
not get a certificate, or a certificate missing from the server's store), our server's CPU time
per issuance (and, apart, PostgreSQL's), and the floor set by the three RSA-2048 private-key
operations each issuance needs (decrypt the request, sign the certificate, sign the CertRep;
`openssl speed`). Three reference lines serve `scep_bare_app.py` under the same gunicorn and
load: our protocol code alone (no Django, database or policy), only the three RSA operations,
and no work at all, so that what gunicorn, RSA, the protocol code and the rest each cost can
be read off one run.
Keys are generated before timing starts. Needs PostgreSQL at DATABASE_URL's server (default
postgres://postgres@127.0.0.1:5432) and uses a scratch database `mdm_bench`.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from benchmarks.cpu import postgres_cpu, process_tree_cpu  # noqa: E402
from tests.base.scep.scepclient import run_scepclient, write_identity_folder  # noqa: E402


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(url_host: str, port: int, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex((url_host, port)) == 0:
                return
        time.sleep(0.1)
    raise RuntimeError(f"nothing listens on {url_host}:{port}")


def rsa_private_op_seconds() -> float:
    out = subprocess.run(["openssl", "speed", "-seconds", "2", "rsa2048"], capture_output=True,
                         text=True, check=True).stdout
    line = next(row for row in out.splitlines() if row.startswith("rsa 2048"))
    numbers = re.findall(r"[\d.]+", line)
    return float(numbers[1])  # "sign" seconds per operation


def enroll_all(url: str, folders: list[Path], challenges: list[str], concurrency: int,
               name: str = "bench") -> tuple[float, int]:
    def one(index: int) -> bool:
        result = run_scepclient(url, folders[index], challenges[index], cn=f"{name}-{index}",
                                timeout=120)
        return result.returncode == 0 and (folders[index] / "cert.pem").exists()

    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=concurrency) as pool:
        successes = sum(pool.map(one, range(len(folders))))
    return time.perf_counter() - started, successes


def prepare_folders(base: Path, count: int) -> list[Path]:
    return [write_identity_folder(base / f"id{index:05d}") for index in range(count)]


def run_ours(args, work: Path) -> dict:
    env = {**os.environ, "DATABASE_URL": args.database_url + "/mdm_bench",
           "MDM_DATA_DIR": str(work / "data"), "CELERY_BROKER_URL": "filesystem://",
           "MDM_SCEP_CHALLENGE_TTL_MINUTES": "120"}
    warmups = 4 * args.workers
    total = args.count + warmups
    admin = args.database_url + "/postgres"
    subprocess.run(["psql", admin, "-qc", "DROP DATABASE IF EXISTS mdm_bench"], check=True)
    subprocess.run(["psql", admin, "-qc", "CREATE DATABASE mdm_bench"], check=True)
    python = sys.executable
    subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
    script = (
        "from users.services.accounts import do_create_tenant;"
        "from enrollment.services.challenges import do_create_challenge;"
        "t,a=do_create_tenant('bench','Bench',admin_email='a@bench.test',"
        "admin_password='Bench-pass-123');"
        f"print('\\n'.join(do_create_challenge(t,actor=a).raw for _ in range({total})))"
    )
    out = subprocess.run([python, "manage.py", "shell", "-c", script], cwd=ROOT, env=env,
                         check=True, capture_output=True, text=True).stdout
    challenges = out.split()[-total:]
    warmup, challenges = challenges[:warmups], challenges[warmups:]
    result = run_gunicorn(args, work / "ours", "mdm_server.wsgi", "/t/bench/scep", challenges,
                          warmup, env=env)
    stored = subprocess.run(
        ["psql", args.database_url + "/mdm_bench", "-tAc",
         "SELECT count(DISTINCT serial_hex) FROM enrollment_issuedcertificate "
         "WHERE common_name LIKE 'bench-%'"],
        capture_output=True, text=True, check=True).stdout.strip()
    return {**result, "stored": int(stored)}


def run_reference(args, work: Path, reference: str) -> dict:
    """``benchmarks/scep_bare_app.py`` doing ``reference`` ("protocol", "rsa" or "http") per
    PKIOperation under the same gunicorn. Only "protocol" answers a CertRep a client accepts;
    the others still get all three requests of every enrollment."""
    env = {**os.environ, "SCEP_REFERENCE": reference}
    return run_gunicorn(args, work / reference, "benchmarks.scep_bare_app:application", "/scep",
                        ["-"] * args.count, ["-"] * 4 * args.workers, env=env,
                        options=("--preload",))


def run_gunicorn(args, work: Path, app: str, path: str, challenges: list[str],
                 warmup: list[str], *, env: dict | None = None, options: tuple = ()) -> dict:
    """Serve ``app`` with gunicorn, warm every worker with the ``warmup`` challenges, then
    enroll one identity per challenge: seconds, successes, server and PostgreSQL CPU."""
    folders = prepare_folders(work / "ids", len(challenges))
    port = free_port()
    server = subprocess.Popen(
        [sys.executable, "-m", "gunicorn", app, *options, "--bind", f"127.0.0.1:{port}",
         "--workers", str(args.workers), "--log-level", "warning"], cwd=ROOT, env=env)
    try:
        wait_for("127.0.0.1", port)
        url = f"http://127.0.0.1:{port}{path}"
        # Every worker loads its code and opens its connection before the clock starts: the
        # figures are steady-state ones, not a worker's start-up spread over a short run.
        enroll_all(url, prepare_folders(work / "warmup", len(warmup)), warmup,
                   args.concurrency, name="warmup")
        cpu_before, database_before = process_tree_cpu(server.pid), postgres_cpu()
        seconds, successes = enroll_all(url, folders, challenges, args.concurrency)
        cpu = process_tree_cpu(server.pid) - cpu_before
        database = postgres_cpu() - database_before
    finally:
        server.terminate()
        server.wait(timeout=30)
    return {"seconds": seconds, "successes": successes, "cpu": cpu, "database_cpu": database}


def run_peer(args, work: Path) -> dict | None:
    binary = shutil.which("scepserver")
    if binary is None:
        return None
    depot = work / "depot"
    subprocess.run([binary, "ca", "-init", "-depot", str(depot)], check=True,
                   capture_output=True)
    folders = prepare_folders(work / "peer", args.count)
    port = free_port()
    server = subprocess.Popen([binary, "-depot", str(depot), "-port", str(port),
                               "-challenge", "bench-secret"], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        wait_for("127.0.0.1", port)
        url = f"http://127.0.0.1:{port}/scep"
        cpu_before = process_tree_cpu(server.pid)
        seconds, successes = enroll_all(url, folders, ["bench-secret"] * args.count,
                                        args.concurrency)
        cpu = process_tree_cpu(server.pid) - cpu_before
    finally:
        server.terminate()
        server.wait(timeout=30)
    stored = len(list(depot.glob("*.pem"))) - 1  # minus ca.pem
    return {"seconds": seconds, "successes": successes, "stored": stored, "cpu": cpu}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()

    with tempfile.TemporaryDirectory(prefix="scep-bench-") as tmp:
        work = Path(tmp)
        ours = run_ours(args, work)
        references = {name: run_reference(args, work, name) for name in ("protocol", "rsa", "http")}
        peer = run_peer(args, work)
    floor = 3 * rsa_private_op_seconds()

    def row(name: str, result: dict) -> str:
        rate = result["successes"] / result["seconds"]
        failures = args.count - min(result["successes"], result["stored"])
        return (f"{name:<22} {rate:8.1f} enroll/s  {result['seconds']:7.2f} s  "
                f"failures {failures:4d}  stored {result['stored']:5d}")

    def cpu(name: str, seconds: float, note: str = "") -> str:
        per_enrollment = seconds / args.count
        return (f"  {name:<50} {1000 * per_enrollment:6.2f} ms  "
                f"{per_enrollment / floor:5.2f}x{note}")

    print(f"SCEP enrollment, {args.count} identities, concurrency {args.concurrency}, "
          f"gunicorn workers {args.workers}, {os.cpu_count()} CPUs")
    print(row("ours (gunicorn+pg)", ours))
    if peer:
        print(row("micromdm scepserver", peer))
        ratio = (ours["successes"] / ours["seconds"]) / (peer["successes"] / peer["seconds"])
        print(f"rate ratio ours/peer: {ratio:.2f}")
    else:
        print("micromdm scepserver not installed (Debian package scep): peer not measured")
    protocol = references["protocol"]
    if protocol["successes"] != args.count:
        print(f"warning: the protocol reference enrolled {protocol['successes']} of {args.count}")
    print(f"Server CPU per enrollment, against the RSA-2048 floor (3 private-key operations, "
          f"openssl speed: {1000 * floor:.2f} ms):")
    with_database = (ours["cpu"] + ours["database_cpu"]) / args.count / floor
    print(cpu("ours (gunicorn)", ours["cpu"],
              f"   PostgreSQL {1000 * ours['database_cpu'] / args.count:.2f} ms more: "
              f"{with_database:.2f}x with it"))
    if peer:
        print(cpu("micromdm scepserver", peer["cpu"]))
    print(cpu("reference: our protocol code alone", protocol["cpu"],
              "   (no Django, database or policy)"))
    print(cpu("reference: gunicorn + the 3 RSA operations only", references["rsa"]["cpu"]))
    print(cpu("reference: gunicorn alone, 3 requests, no work", references["http"]["cpu"]))

if __name__ == "__main__":
    main()
