"""Real Celery workers and beats for tests: separate processes on the real broker, on a queue
of their own (other test runs share the broker), against this test's database."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.db import connection

from mdm_server.celery import app as celery_app
from tests.base import REPO_ROOT

ROOT = REPO_ROOT


def database_url() -> str:
    db = connection.settings_dict
    return (f"postgres://{db['USER']}:{db['PASSWORD']}@{db['HOST']}:{db['PORT']}/{db['NAME']}")


class CeleryProcesses:
    """Workers and beats on the real broker, on a queue of their own (other test runs share
    the broker), against this test's database. Each process in its own process group, so a
    SIGKILL takes its pool children too."""

    def __init__(self, extra_env: dict):
        self.queue = f"test-workers-{uuid.uuid4().hex[:8]}"
        self.folder = Path(tempfile.mkdtemp(prefix="mdm-celery-"))
        self.env = {**os.environ, "DATABASE_URL": database_url(),
                    "CELERY_BROKER_URL": django_settings.CELERY_BROKER_URL,
                    "MDM_CELERY_QUEUE": self.queue, "MDM_BROKER_VISIBILITY_TIMEOUT": "4",
                    "MDM_DATA_DIR": str(django_settings.MDM_DATA_DIR),
                    **{k: str(v) for k, v in extra_env.items()}}
        self.processes: list[tuple[subprocess.Popen, Path]] = []

    def _spawn(self, args: list[str], name: str) -> tuple[subprocess.Popen, Path]:
        log = self.folder / f"{name}-{len(self.processes)}.log"
        handle = open(log, "wb")  # noqa: SIM115 - the child writes to it until stopped
        process = subprocess.Popen([sys.executable, "-m", "celery", "-A", "mdm_server", *args],
                                   env=self.env, cwd=ROOT, stdout=handle,
                                   stderr=subprocess.STDOUT, start_new_session=True)
        handle.close()
        self.processes.append((process, log))
        return process, log

    def worker(self, *, concurrency: int = 2, wait: bool = True) -> subprocess.Popen:
        process, log = self._spawn(
            ["worker", "--pool=prefork", f"--concurrency={concurrency}", "-Q", self.queue,
             "-n", f"{self.queue}-{len(self.processes)}@%h", "--without-gossip",
             "--without-mingle", "--without-heartbeat", "-l", "INFO"], "worker")
        if wait:
            self.wait_for(lambda: b"ready." in log.read_bytes(), 60, process, log)
        return process

    def beat(self) -> subprocess.Popen:
        schedule = self.folder / f"beat-{len(self.processes)}"
        process, _log = self._spawn(["beat", "-s", str(schedule), "-l", "INFO",
                                    "--pidfile="], "beat")
        return process

    def wait_for(self, condition, timeout: float, process=None, log=None) -> None:
        deadline = time.monotonic() + timeout
        while not condition():
            if process is not None and process.poll() is not None:
                raise AssertionError(f"celery exited:\n{log.read_text(errors='replace')}")
            if time.monotonic() > deadline:
                raise AssertionError("timed out" + (f"\n{log.read_text(errors='replace')[-4000:]}"
                                                    if log else ""))
            time.sleep(0.1)

    def kill(self, process: subprocess.Popen) -> None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()

    def logs(self) -> str:
        return "\n".join(f"--- {log.name}\n{log.read_text(errors='replace')[-3000:]}"
                         for _, log in self.processes)

    def stop(self) -> None:
        for process, _ in self.processes:
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process, _ in self.processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        with celery_app.connection_for_write() as conn:
            conn.default_channel.queue_purge(self.queue)


@pytest.fixture
def celery_processes(transactional_db, request):
    """Start with `celery_processes(extra_env)`; every process is stopped at teardown, before
    the database is flushed."""
    made: list[CeleryProcesses] = []

    def start(extra_env: dict | None = None) -> CeleryProcesses:
        made.append(CeleryProcesses(extra_env or {}))
        return made[-1]

    yield start
    for processes in made:
        processes.stop()
