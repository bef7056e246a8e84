"""The users a simulation run enrolls devices for: one per device, tagged per run."""

from __future__ import annotations

import uuid

from django.core.management.base import CommandError

from users.csv_import import UserRow
from users.services.people import do_create_users

ACTOR = "simulate_devices"


def simulated_users(tenant, platform: str, count: int) -> list:
    tag = uuid.uuid4().hex[:6]
    rows = [UserRow(line=i, email=f"sim-{tag}-{i}@{tenant.slug}.sim", first_name="Sim",
                    last_name=f"{platform} {i}") for i in range(count)]
    result = do_create_users(tenant, rows, actor=ACTOR)
    if not result.ok:
        raise CommandError("; ".join(result.errors[:5]))
    return result.users
