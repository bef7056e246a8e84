"""A simulated Apple fleet living through months in minutes (``simulate_devices --days``):
the fleet enrolls on day 0 (``start``, now unless given), then checks in every
``step_days`` while the application's clock moves forward (time-machine moves Python's clock
for the whole process: the server's checks, the certificates it issues and the renewal scan
all read it). Rows written on later days carry those days' dates.

Everything runs in this process: the devices talk to the real endpoints through the WSGI
application, and each step runs the renewal scan the beat would run.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from itertools import count as counter

import httpx
import time_machine
from django.conf import settings
from django.core.wsgi import get_wsgi_application
from django.utils import timezone

from devices.services.renewals import scan_tenant
from devices.simulator.apple import SimulatedDevice
from devices.simulator.apple_fleet import device_keys, start_registrations
from devices.simulator.enroll_apple import AppleEnrollment, AppleRun, SimulationError


@dataclass
class LifecycleReport:
    enrolled: int = 0
    days: int = 0
    renewals: int = 0
    managed: int = 0  # devices whose check-in on the last day was answered
    identities_valid: int = 0  # devices whose identity on the last day was in date
    failures: Counter = field(default_factory=Counter)


def in_process_client() -> httpx.Client:
    """An HTTP client that calls this process's WSGI application (no socket)."""
    return httpx.Client(transport=httpx.WSGITransport(app=get_wsgi_application()),
                        base_url=settings.MDM_PUBLIC_URL, timeout=60)


def live_through(tenant, platform: str, count: int, days: int, *, step_days: int = 1,
                 start: dt.datetime | None = None, http: httpx.Client | None = None,
                 progress: Callable[[int, int], None] | None = None) -> LifecycleReport:
    report = LifecycleReport(days=days)
    start = start or timezone.now()
    keys = device_keys(count + 1)
    turn = counter()
    http = http or in_process_client()
    enrollment = AppleEnrollment(http, settings.MDM_PUBLIC_URL, settings.MDM_PUBLIC_URL,
                                 renewal_key=lambda device: _another_key(keys, device, turn))
    with time_machine.travel(start, tick=False) as clock:
        devices = []
        for index, (url, short_name) in enumerate(start_registrations(tenant, platform, count)):
            try:
                run = enrollment.enroll(tenant.slug, url, keys[index % len(keys)],
                                        platform=platform, user_short_name=short_name)
            except (SimulationError, httpx.HTTPError) as exc:
                report.failures[f"day 0: {exc}"[:200]] += 1
                continue
            devices.append(run.device)
        report.enrolled = len(devices)
        alive = {device.udid: True for device in devices}
        for day in range(step_days, days + 1, step_days):
            clock.move_to(start + dt.timedelta(days=day))
            scan_tenant(tenant)
            for device in devices:
                alive[device.udid] = _check_in(enrollment, device, day, report)
            if progress:
                progress(day, days)
        clock.move_to(start + dt.timedelta(days=days))
        now = timezone.now()
        report.managed = sum(alive.values())
        report.identities_valid = sum(device.cert.not_valid_after_utc > now
                                      for device in devices)
    return report


def _check_in(enrollment: AppleEnrollment, device: SimulatedDevice, day: int,
              report: LifecycleReport) -> bool:
    run = AppleRun(udid=device.udid, device=device)
    try:
        enrollment.live(device, run)
    except (SimulationError, httpx.HTTPError) as exc:
        report.failures[f"{exc}"[:200]] += 1
        return False
    finally:
        report.renewals += run.renewals
    return True


def _another_key(keys: list, device: SimulatedDevice, turn) -> object:
    """A pool key other than the device's current one (RSA generation is slow)."""
    for _ in range(len(keys)):
        key = keys[next(turn) % len(keys)]
        if key is not device.key:
            return key
    raise SimulationError("the key pool has a single key")
