"""Background work by name: services say which task they want run, they never import tasks.

Tasks import services (a task is a thin shell around one service call); if services imported
tasks too, every app would import itself in a circle. Zulip's `queue_json_publish` has the
same shape. `enqueue` sends when the current transaction commits (a task must never see rows
that were rolled back, nor miss rows not yet committed); `send` sends now.
"""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.db import transaction


def _task(name: str):
    tasks = current_app.tasks
    if name not in tasks:  # this process has not imported the task modules yet
        current_app.loader.import_default_modules()
    return tasks[name]


def send(name: str, *args: Any, **options: Any) -> None:
    """Queue the task called ``name`` with ``args`` now (``options``: apply_async's)."""
    _task(name).apply_async(args, **options)


def enqueue(name: str, *args: Any, **options: Any) -> None:
    """Queue the task called ``name`` with ``args`` once the current transaction commits
    (at once outside a transaction)."""
    transaction.on_commit(lambda: send(name, *args, **options))
