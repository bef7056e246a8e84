"""The users a simulation run enrolls devices for: one per device, tagged per run."""

from __future__ import annotations

import uuid

from django.core.management.base import CommandError

from users.csv_import import UserRow
from users.services.people import do_create_users

ACTOR = "simulate_devices"
# Simulated users sign in with it where a flow asks for a password (account-driven
# enrollment's web sign-in); never a real account's.
SIMULATED_PASSWORD = "Correct-Horse-Battery-7419"


def simulated_domain(tenant) -> str:
    """The email domain of the tenant's simulated users."""
    return f"{tenant.slug}.sim"


def simulated_users(tenant, platform: str, count: int, *, password: str = "") -> list:
    tag = uuid.uuid4().hex[:6]
    rows = [UserRow(line=i, email=f"sim-{tag}-{i}@{simulated_domain(tenant)}", first_name="Sim",
                    last_name=f"{platform} {i}", password=password) for i in range(count)]
    result = do_create_users(tenant, rows, actor=ACTOR)
    if not result.ok:
        raise CommandError("; ".join(result.errors[:5]))
    return result.users
