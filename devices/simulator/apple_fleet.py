"""Many simulated Apple devices enrolling at once: users and registrations are made in-process
(as an admin or the API would), then each device enrolls over HTTP from a thread pool
(profile, SCEP, check-in, commands: see enroll_apple). Used by `simulate_devices` and
benchmarks/simulate_enroll.py."""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor, as_completed

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings

from devices.simulator.account_driven import AccountDrivenEnrollment
from devices.simulator.accounts import (
    ACTOR,
    SIMULATED_PASSWORD,
    simulated_domain,
    simulated_users,
)
from devices.simulator.enroll_apple import AppleEnrollment, SimulationError
from devices.simulator.summary import Summary
from enrollment.models import ManagedDomain, RegistrationMethod
from enrollment.services.managed_domains import do_add_managed_domain
from enrollment.services.registration_journey import start_registration

KEY_POOL_SIZE = 8  # RSA generation is slow; devices of one run share a few keys


def device_keys(count: int) -> list[rsa.RSAPrivateKey]:
    return [rsa.generate_private_key(public_exponent=65537, key_size=2048)
            for _ in range(min(KEY_POOL_SIZE, count))]


def start_registrations(tenant, platform: str, count: int) -> list[tuple[str, str]]:
    """(one-time profile URL, user short name) for `count` new users of the tenant."""
    jobs = []
    for user in simulated_users(tenant, platform, count):
        started = start_registration(tenant, user, platform, RegistrationMethod.API, actor=ACTOR)
        jobs.append((started.profile_url, user.email.split("@")[0]))
    return jobs


def enroll_apple_devices(tenant_slug: str, platform: str, jobs: list[tuple[str, str]],
                         server: str, *, concurrency: int, keys: list | None = None,
                         progress: Callable[[int, int], None] | None = None) -> Summary:
    """Enroll one device per job over HTTP; the summary's clock covers only this part."""
    keys = keys or device_keys(len(jobs))
    summary = Summary(len(jobs))
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=max(1, concurrency))) \
            as http:
        enrollment = AppleEnrollment(http, settings.MDM_PUBLIC_URL, server)
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            futures = [pool.submit(enrollment.enroll, tenant_slug, url, keys[index % len(keys)],
                                   platform=platform, user_short_name=short)
                       for index, (url, short) in enumerate(jobs)]
            for future in as_completed(futures):
                try:
                    summary.add(future.result())
                except (SimulationError, httpx.HTTPError, ValueError) as exc:
                    summary.fail(str(exc))
                if progress:
                    progress(summary.done, summary.total)
    return summary


def enroll_by_account(tenant, platform: str, count: int, server: str, *, mode: str = "adde",
                      concurrency: int, progress: Callable[[int, int], None] | None = None
                      ) -> Summary:
    """Account-driven enrollment for `count` new users with the simulated password, their
    domain managed by the tenant (added if missing): discovery, sign-in, profile, then SCEP
    and check-in, as `AccountDrivenEnrollment` does."""
    domain = simulated_domain(tenant)
    if not ManagedDomain.objects.for_tenant(tenant).filter(domain=domain).exists():
        do_add_managed_domain(tenant, domain, actor=ACTOR)
    users = simulated_users(tenant, platform, count, password=SIMULATED_PASSWORD)
    keys = device_keys(count)
    summary = Summary(count)
    with httpx.Client(timeout=60, limits=httpx.Limits(max_connections=max(1, concurrency))) \
            as http:
        devices = AccountDrivenEnrollment(AppleEnrollment(http, settings.MDM_PUBLIC_URL, server))
        with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
            futures = [pool.submit(devices.enroll, tenant.slug, user.email, SIMULATED_PASSWORD,
                                   keys[index % len(keys)], mode=mode, platform=platform)
                       for index, user in enumerate(users)]
            for future in as_completed(futures):
                try:
                    summary.add(future.result())
                except (SimulationError, httpx.HTTPError, ValueError) as exc:
                    summary.fail(str(exc))
                if progress:
                    progress(summary.done, summary.total)
    return summary
