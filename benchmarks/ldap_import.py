"""LDAP import benchmark: time `do_sync_ldap` for 10,000 and 20,000 directory entries.

For each size it starts a temporary slapd (tests/users/ldap_server.py), loads the entries with
ldapadd, and on a throwaway test database measures three syncs: the first import, a resync with
nothing changed, and a resync after renaming every entry (bulk UPDATE of every account), each
the best of --repeat runs. It prints seconds and SQL queries per sync; the seconds should double
with the size (linear) and the queries stay the same.

Run with the environment of bin/test (PostgreSQL, Redis), e.g.:
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/mdm .venv/bin/python benchmarks/ldap_import.py
Options: --sizes 10000 20000  --repeat 3  --nomigrations (create tables from the models)
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mdm_server.settings")


def rename_all(server, base_dn: str, count: int, round_: int) -> None:
    """One ldapmodify run that renames every entry (givenName)."""
    import subprocess

    from tests.users.ldap_server import ROOT_DN, ROOT_PASSWORD

    ldif = "\n".join(f"dn: uid=user{i},{base_dn}\nchangetype: modify\nreplace: givenName\n"
                     f"givenName: Renamed{round_}-{i}\n" for i in range(count))
    subprocess.run(["/usr/bin/ldapmodify", "-x", "-H", server.url, "-D", ROOT_DN, "-w",
                    ROOT_PASSWORD], input=ldif.encode(), check=True, capture_output=True)


def measure(label: str, tenant, size: int, repeat: int, before=None) -> dict:
    """Best of `repeat` runs (the machine may be busy); `before(round)` resets the state."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from users.services.ldap import do_sync_ldap

    best = None
    for round_ in range(repeat):
        if before:
            before(round_)
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            outcome = do_sync_ldap(tenant, actor="benchmark")
            seconds = time.perf_counter() - started
        if outcome.status != "succeeded":
            raise SystemExit(f"sync failed: {outcome.error}")
        if best is None or seconds < best["seconds"]:
            best = {"seconds": seconds, "queries": len(queries), "counts": outcome.counts}
    counts = {k: v for k, v in best["counts"].items() if v and k != "entries"}
    print(f"{size:>7,} entries  {label:<22} {best['seconds']:7.2f} s  {best['queries']:3d} "
          f"queries  {counts}", flush=True)
    return best


def run(size: int, repeat: int) -> dict:
    from tests.users.ldap_server import Directory, SlapdServer
    from users.ldap.client import LdapClient
    from users.models import User, UserSource
    from users.services.accounts import do_create_tenant
    from users.services.ldap import do_save_ldap_connector

    with SlapdServer() as server:
        directory = Directory(server)
        started = time.perf_counter()
        directory.add_many(size)
        load_seconds = time.perf_counter() - started
        tenant, admin = do_create_tenant(f"bench-{size}", f"Bench {size}",
                                         admin_email=f"admin@bench{size}.test",
                                         admin_password="Bench-admin-pass-1")
        connector = do_save_ldap_connector(tenant, actor=admin, **directory.connector_values())
        started = time.perf_counter()
        entries = sum(1 for _ in LdapClient(connector.client_settings()).search_users())
        read_seconds = time.perf_counter() - started
        print(f"{size:>7,} entries  ldapadd load {load_seconds:.1f} s; directory read alone "
              f"{read_seconds:.2f} s ({entries:,} entries, pages of 500)", flush=True)

        def forget_imported(_round):
            User.objects.for_tenant(tenant).filter(source=UserSource.LDAP).delete()

        return {
            "import": measure("first import", tenant, size, repeat, forget_imported),
            "resync": measure("resync, no change", tenant, size, repeat),
            "rename": measure("resync, all renamed", tenant, size, repeat,
                              lambda round_: rename_all(server, directory.base_dn, size, round_)),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10_000, 20_000])
    parser.add_argument("--repeat", type=int, default=3, help="runs per step; best is shown")
    parser.add_argument("--nomigrations", action="store_true")
    args = parser.parse_args()

    import django

    django.setup()
    from django.conf import settings
    from django.test.utils import setup_databases, teardown_databases

    if args.nomigrations:
        settings.MIGRATION_MODULES = {app.split(".")[-1]: None for app in settings.INSTALLED_APPS}
    databases = setup_databases(verbosity=0, interactive=False)
    try:
        results = {size: run(size, args.repeat) for size in args.sizes}
    finally:
        teardown_databases(databases, verbosity=0)
    if len(args.sizes) >= 2:
        small, large = args.sizes[0], args.sizes[-1]
        print(f"\nscaling {small:,} -> {large:,} entries (x{large / small:g}):")
        for step in ("import", "resync", "rename"):
            a, b = results[small][step], results[large][step]
            print(f"  {step:<7} time x{b['seconds'] / a['seconds']:.2f}, "
                  f"queries {a['queries']} -> {b['queries']}")


if __name__ == "__main__":
    main()
