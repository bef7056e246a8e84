"""Bulk user creation and invitations: 10,000 users added and invited in one go.

    .venv/bin/python benchmarks/bulk_invite.py [--count 10000]

Prints seconds and SQL queries for creating the users and for inviting them (emails go to
Django's locmem backend, so only our side is measured), at N and 2N to show linear scaling.
Uses a scratch PostgreSQL database `mdm_bench_invite` (DATABASE_URL's server).
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    admin = args.database_url + "/postgres"
    subprocess.run(["psql", admin, "-qc", "DROP DATABASE IF EXISTS mdm_bench_invite"],
                   check=True)
    subprocess.run(["psql", admin, "-qc", "CREATE DATABASE mdm_bench_invite"], check=True)
    os.environ.update({"DATABASE_URL": args.database_url + "/mdm_bench_invite",
                       "DJANGO_SETTINGS_MODULE": "mdm_server.settings",
                       "EMAIL_BACKEND": "django.core.mail.backends.locmem.EmailBackend",
                       "MDM_DATA_DIR": "/tmp/mdm-bench-invite"})
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    call_command("migrate", verbosity=0)
    from enrollment.services.invitations import do_send_invitations
    from users.csv_import import UserRow
    from users.services.accounts import do_create_tenant
    from users.services.people import do_create_users

    print(f"Bulk create + invite, PostgreSQL, {os.cpu_count()} CPUs")
    for scale, count in (("N", args.count), ("2N", 2 * args.count)):
        tenant, admin_user = do_create_tenant(f"bench{count}", "Bench",
                                              admin_email="a@bench.test",
                                              admin_password="Bench-pass-123")
        rows = [UserRow(line=i, email=f"user{i}@bench.test", first_name="U")
                for i in range(count)]
        with CaptureQueriesContext(connection) as created_queries:
            started = time.perf_counter()
            result = do_create_users(tenant, rows, actor=admin_user)
            created_seconds = time.perf_counter() - started
        assert result.ok, result.errors[:3]
        with CaptureQueriesContext(connection) as invite_queries:
            started = time.perf_counter()
            sent = do_send_invitations(tenant, result.users, actor=admin_user)
            invite_seconds = time.perf_counter() - started
        print(f"{scale:>2} = {count:6d} users: create {created_seconds:6.2f} s "
              f"({len(created_queries)} queries), invite {invite_seconds:6.2f} s "
              f"({len(invite_queries)} queries, {len(sent)} invitations, "
              f"{sum(1 for s in sent if s.pin)} PINs)")


if __name__ == "__main__":
    main()
