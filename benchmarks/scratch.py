"""What the benchmarks share: a scratch PostgreSQL database made afresh for each run, the
schema straight from the models (as the tests make it with --nomigrations), and a counter of
the SQL statements and seconds a block costs."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager


def setup_database(database_url: str, name: str) -> None:
    """Drop and create database ``name`` on the server of ``database_url`` (no database
    part: postgres://user@host:port)."""
    admin = database_url + "/postgres"
    subprocess.run(["psql", admin, "-qc", f"DROP DATABASE IF EXISTS {name}"], check=True)
    subprocess.run(["psql", admin, "-qc", f"CREATE DATABASE {name}"], check=True)


def create_schema() -> None:
    """The tables of every app, from the models (Django set up on the scratch database)."""
    from django.apps import apps
    from django.conf import settings
    from django.core.management import call_command

    settings.MIGRATION_MODULES = {app.label: None for app in apps.get_app_configs()}
    call_command("migrate", run_syncdb=True, verbosity=0)


@contextmanager
def counted() -> Iterator[dict]:
    """SQL statements run (their text not kept: bulk INSERTs are large) and seconds spent in
    the block: ``{"queries": n, "seconds": s}``."""
    from django.db import connection

    counter = {"queries": 0}

    def wrapper(execute, sql, params, many, context):
        counter["queries"] += 1
        return execute(sql, params, many, context)

    started = time.perf_counter()
    with connection.execute_wrapper(wrapper):
        yield counter
    counter["seconds"] = time.perf_counter() - started
