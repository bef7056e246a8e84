"""simulate_devices --tenant SLUG --platform ios|macos|android --count N [--server URL]

Creates N users and registrations in the tenant, then drives the real HTTP endpoints the way
devices do (see devices.simulator), with a progress bar and a summary: enrolled, failed and
per-step latency.
"""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor, as_completed

import httpx
from cryptography.hazmat.primitives.asymmetric import rsa
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devices.simulator.accounts import simulated_users
from devices.simulator.enroll_apple import AppleEnrollment, SimulationError
from devices.simulator.summary import Summary
from enrollment.models import RegistrationMethod
from enrollment.services.registration_journey import start_registration
from users.models import Tenant

KEY_POOL_SIZE = 8  # RSA generation is slow; devices of one run share a few keys


class Command(BaseCommand):
    help = "Simulate devices enrolling over HTTP against this server (or --server)."

    def add_arguments(self, parser):
        parser.add_argument("--tenant", required=True)
        parser.add_argument("--platform", choices=["ios", "macos", "android"], required=True)
        parser.add_argument("--count", type=int, default=10)
        parser.add_argument("--server", help="Base URL to call (default: MDM_PUBLIC_URL).")
        parser.add_argument("--concurrency", type=int, default=4)
        parser.add_argument("--wait", type=int, default=0, metavar="SECONDS",
                            help="Wait up to this long for the server's /healthz first.")

    def handle(self, *args, tenant: str, platform: str, count: int, server: str | None,
               concurrency: int, wait: int, **options):
        tenant_obj = Tenant.objects.filter(slug=tenant, is_active=True).first()
        if tenant_obj is None:
            raise CommandError(f"No active tenant {tenant!r}.")
        if not 1 <= count <= 100_000:
            raise CommandError("--count must be between 1 and 100000.")
        server = (server or settings.MDM_PUBLIC_URL).rstrip("/")
        if wait:
            self._wait_for(server, wait)
        if platform == "android":
            from devices.simulator.android import simulate_android

            summary = simulate_android(tenant_obj, count, server, progress=self._progress)
            self._report(summary)
            return
        self._ensure_push_topic(tenant_obj)
        jobs = self._registrations(tenant_obj, platform, count)
        keys = [rsa.generate_private_key(public_exponent=65537, key_size=2048)
                for _ in range(min(KEY_POOL_SIZE, count))]
        summary = Summary(count)
        with httpx.Client(timeout=60) as http:
            enrollment = AppleEnrollment(http, settings.MDM_PUBLIC_URL, server)
            with ThreadPoolExecutor(max_workers=max(1, concurrency)) as pool:
                futures = [pool.submit(enrollment.enroll, tenant_obj.slug, url,
                                       keys[index % len(keys)], platform=platform,
                                       user_short_name=short)
                           for index, (url, short) in enumerate(jobs)]
                for future in as_completed(futures):
                    try:
                        summary.add(future.result())
                    except (SimulationError, httpx.HTTPError, ValueError) as exc:
                        summary.fail(str(exc))
                    self._progress(summary.done, count)
        self._report(summary)

    def _wait_for(self, server: str, seconds: int) -> None:
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{server}/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.5)
        raise CommandError(f"{server} did not answer /healthz within {seconds} s.")

    def _ensure_push_topic(self, tenant) -> None:
        from devices.services.settings import apple_settings, do_save_apple_settings

        if not apple_settings(tenant).push_topic:
            topic = f"com.apple.mgmt.External.{uuid.uuid4()}"
            do_save_apple_settings(tenant, actor="simulate_devices", push_topic=topic)
            self.stderr.write(f"No APNs topic was set: using a simulated one ({topic}).")

    def _registrations(self, tenant, platform: str, count: int) -> list[tuple[str, str]]:
        jobs = []
        for user in simulated_users(tenant, platform, count):
            started = start_registration(tenant, user, platform, RegistrationMethod.API,
                                         actor="simulate_devices")
            jobs.append((started.profile_url, user.email.split("@")[0]))
        return jobs

    _lock = threading.Lock()

    def _progress(self, done: int, total: int) -> None:
        width = 30
        filled = int(width * done / total)
        with self._lock:
            self.stderr.write(f"\r[{'#' * filled}{'.' * (width - filled)}] {done}/{total}",
                              ending="\n" if done == total else "")
            self.stderr.flush()

    def _report(self, summary: Summary) -> None:
        self.stdout.write(f"enrolled {summary.enrolled}, failed {summary.failed} "
                          f"of {summary.total} in {summary.elapsed:.1f} s")
        for step, values in summary.timings.items():
            ordered = sorted(values)
            p95 = ordered[max(0, int(len(ordered) * 0.95) - 1)]
            self.stdout.write(f"  {step:<9} median {1000 * statistics.median(ordered):7.1f} ms"
                              f"   p95 {1000 * p95:7.1f} ms")
        for reason, times in summary.errors.most_common(5):
            self.stdout.write(f"  failure x{times}: {reason}")
        if summary.failed:
            raise CommandError(f"{summary.failed} device(s) failed to enroll.")
