"""Devices page and devices API at scale: p50/p95 server time with 100,000 devices.

    .venv/bin/python benchmarks/devices_list.py [--devices 100000] [--runs 40]
        [--database-url postgres://postgres@127.0.0.1:5432] [--explain]

Sets up a scratch PostgreSQL database `mdm_bench_devices` (DATABASE_URL's server): one tenant,
5,000 owners and --devices devices (bulk_create: a mix of platforms, states and OS versions,
last seen spread over 90 days), plus a second tenant with 10% as many (so every query must
narrow by tenant). Then times the admin portal's Devices page and `GET /api/v1/devices/`
in-process with Django's test client (the full middleware, template or serializer, and SQL;
no network): the first page, a filtered page (platform + state + OS version), a sorted page
(last seen, newest first), a sorted filtered page and a deep page (page 1000). Prints p50 / p95
in ms and the SQL queries of one request. `--explain` prints the plans of the list queries.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.scratch import setup_database  # noqa: E402 - after sys.path

DB_NAME = "mdm_bench_devices"
OWNERS = 5_000
BATCH = 5_000

CASES = (
    ("first page", ""),
    ("filtered (ios + active + 17)", "platform=ios&state=active&os_version=17"),
    ("sorted (last seen, newest)", "ordering=-last_seen"),
    ("sorted + filtered (android, OS)", "platform=android&ordering=os_version"),
    ("not seen for 30 days", "not_seen_since=" + "{month_ago}"),
    ("deep page (1000)", "page=1000"),
)

OS_VERSIONS = {
    "ios": ["16.7.8", "17.4", "17.5.1", "17.6", "18.0", "18.1"],
    "macos": ["13.6.7", "14.4", "14.5", "14.6.1", "15.0"],
    "android": ["11", "12", "13", "14", "15"],
}
PLATFORMS = ["ios"] * 5 + ["macos"] * 2 + ["android"] * 3
STATES = ["active"] * 14 + ["inactive", "pending", "wiped", "reset", "retired", "retired"]



def populate(tenant, count: int, rng: random.Random) -> None:
    from django.utils import timezone

    from devices.models import Device
    from users.models import User

    owners = User.objects.bulk_create([
        User(tenant=tenant, email=f"user{n}@{tenant.slug}.test", password="!")
        for n in range(min(OWNERS, count))], batch_size=BATCH)
    now = timezone.now()
    for start in range(0, count, BATCH):
        rows = []
        for n in range(start, min(start + BATCH, count)):
            platform = rng.choice(PLATFORMS)
            state = rng.choice(STATES)
            seen = now - dt.timedelta(seconds=rng.randrange(90 * 86400))
            rows.append(Device(
                tenant=tenant, platform=platform, state=state,
                owner=owners[n % len(owners)] if rng.random() < 0.95 else None,
                udid=str(uuid.UUID(int=rng.getrandbits(128))).upper(),
                serial_number=f"SN{tenant.pk:02d}{n:08d}", name=f"Device {n:06d}",
                model_name={"ios": "iPhone", "macos": "MacBook Pro",
                            "android": "Pixel 8"}[platform],
                os_version=rng.choice(OS_VERSIONS[platform]),
                enrolled_at=seen - dt.timedelta(days=rng.randrange(400)),
                last_seen_at=None if state == "pending" else seen))
        Device.objects.bulk_create(rows, batch_size=BATCH)


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def measure(client, url: str, runs: int, headers: dict) -> tuple[float, float, int, int]:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    for _ in range(3):  # warm: templates, tenant cache, session
        response = client.get(url, **headers)
        assert response.status_code == 200, (url, response.status_code, response.content[:300])
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        client.get(url, **headers)
        times.append((time.perf_counter() - started) * 1000)
    with CaptureQueriesContext(connection) as captured:
        client.get(url, **headers)
    return (statistics.median(times), percentile(times, 0.95), len(captured),
            len(response.content))


def explain(tenant, query: str) -> None:
    from django.db import connection
    from django.http import QueryDict

    from devices.filtersets import DeviceFilterSet
    from devices.models import Device

    filterset = DeviceFilterSet(QueryDict(query), queryset=Device.objects.for_tenant(tenant)
                                .select_related("owner"))
    queryset = filterset.qs
    page = int(QueryDict(query).get("page", 1))
    sql, params = queryset[(page - 1) * 50:page * 50].query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) " + sql, params)
        print(f"\n-- {query or 'first page'}")
        print("\n".join(row[0] for row in cursor.fetchall()))
        sql, params = queryset.order_by().values("pk").query.sql_with_params()
        cursor.execute(f"EXPLAIN (ANALYZE, COSTS OFF) SELECT COUNT(*) FROM ({sql}) c", params)
        print("\n".join(row[0] for row in cursor.fetchall()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=40)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432")
    parser.add_argument("--explain", action="store_true")
    parser.add_argument("--reuse", action="store_true",
                        help="keep the database of the previous run (migrating it)")
    args = parser.parse_args()
    if not args.reuse:
        setup_database(args.database_url, DB_NAME)
    os.environ.update({"DATABASE_URL": f"{args.database_url}/{DB_NAME}",
                       "DJANGO_SETTINGS_MODULE": "mdm_server.settings",
                       "MDM_ALLOWED_HOSTS": "testserver,localhost",
                       "MDM_DATA_DIR": os.environ.get("MDM_DATA_DIR", "/tmp/mdm-bench-devices")})
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.utils import timezone

    from users.models import Tenant
    from users.services.accounts import do_create_api_token, do_create_tenant

    call_command("migrate", verbosity=0)
    started = time.perf_counter()
    if args.reuse and Tenant.objects.filter(slug="bench").exists():
        tenant = Tenant.objects.get(slug="bench")
        admin = tenant.users.get(email="admin@bench.test")
    else:
        rng = random.Random(8)
        tenant, admin = do_create_tenant("bench", "Bench", admin_email="admin@bench.test",
                                         admin_password="Corr3ct-horse-battery")
        other, _ = do_create_tenant("other", "Other", admin_email="admin@other.test",
                                    admin_password="Corr3ct-horse-battery")
        populate(tenant, args.devices, rng)
        populate(other, args.devices // 10, rng)
        print(f"created {args.devices:,} devices (+{args.devices // 10:,} in another tenant) "
              f"in {time.perf_counter() - started:.1f} s")
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE")
    if args.explain:
        for _, query in CASES:
            explain(tenant, query.format(month_ago=(timezone.now() - dt.timedelta(days=30))
                                         .strftime("%Y-%m-%dT%H:%M:%SZ")))
    portal = Client()
    portal.force_login(admin, backend="users.auth.TenantEmailBackend")
    api = Client()
    raw_token = do_create_api_token(tenant, "bench", actor=admin).raw
    token = {"HTTP_AUTHORIZATION": f"Bearer {raw_token}"}
    month_ago = (timezone.now() - dt.timedelta(days=30)).strftime("%Y-%m-%dT%H:%M:%SZ")
    print(f"\nDevices list, {args.devices:,} devices in the tenant, PostgreSQL, "
          f"{os.cpu_count()} CPUs, {args.runs} runs each (in-process test client)\n")
    print(f"{'case':34} {'surface':7} {'p50 ms':>8} {'p95 ms':>8} {'queries':>8}")
    for name, query in CASES:
        query = query.format(month_ago=month_ago)
        for surface, client, base, headers in (
                ("portal", portal, "/t/bench/admin/devices/", {}),
                ("api", api, "/api/v1/devices/", token)):
            p50, p95, queries, _ = measure(client, f"{base}?{query}", args.runs, headers)
            flag = "  SLOW" if p50 > 100 else ""
            print(f"{name:34} {surface:7} {p50:8.1f} {p95:8.1f} {queries:8}{flag}")


if __name__ == "__main__":
    main()
