"""simulate_devices --tenant SLUG --platform ios|macos|android --count N [--server URL]
simulate_devices --tenant SLUG --platform ios|macos --count N --days D [--step-days S]
simulate_devices --tenant SLUG --platform ios|macos --method account-driven [--mode adde|byod]

Creates N users and registrations in the tenant, then drives the real HTTP endpoints the way
devices do (see devices.simulator), with a progress bar and a summary: enrolled, failed and
per-step latency.

With --days, the fleet lives D days in this process with a moving clock (Apple only): it
enrolls today, then checks in every S days while the renewal scan runs as the beat would;
devices renew their identities when sent a re-enrollment profile. The summary says how many
renewed and how many are still managed on the last day. Rows written carry the simulated
dates: use a tenant kept for simulations.

With --method account-driven, each device enrolls as a user typing their address in Settings
does (Apple account-driven enrollment): service discovery, the 401 and its sign-in page (the
users get a known password, their domain is made a managed domain of the tenant), the access
token, the profile, then SCEP and check-in (byod: by EnrollmentID, User Enrollment).
"""

from __future__ import annotations

import threading
import time
import uuid

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError

from devices.simulator.android import simulate_android
from devices.simulator.apple_fleet import (
    enroll_apple_devices,
    enroll_by_account,
    start_registrations,
)
from devices.simulator.lifecycle import live_through
from devices.simulator.summary import Summary
from enrollment.services.apple_settings import apple_settings, do_save_apple_settings
from users.models import Tenant


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
        parser.add_argument("--days", type=int, default=0,
                            help="Apple: live this many days in-process with a moving clock "
                                 "(identity renewal included).")
        parser.add_argument("--step-days", type=int, default=1,
                            help="With --days: devices check in every this many days.")
        parser.add_argument("--method", choices=["profile", "account-driven"],
                            default="profile",
                            help="Apple: download a registration's profile (default), or "
                                 "enroll by account sign-in.")
        parser.add_argument("--mode", choices=["adde", "byod"], default="adde",
                            help="With --method account-driven: device (adde) or user (byod) "
                                 "enrollment.")

    def handle(self, *args, tenant: str, platform: str, count: int, server: str | None,
               concurrency: int, wait: int, days: int = 0, step_days: int = 1,
               method: str = "profile", mode: str = "adde", **options):
        tenant_obj = Tenant.objects.filter(slug=tenant, is_active=True).first()
        if tenant_obj is None:
            raise CommandError(f"No active tenant {tenant!r}.")
        if not 1 <= count <= 100_000:
            raise CommandError("--count must be between 1 and 100000.")
        if method == "account-driven" and (platform == "android" or days):
            raise CommandError("--method account-driven is for ios and macos, without --days.")
        if days:
            self._live(tenant_obj, platform, count, days, step_days)
            return
        server = (server or settings.MDM_PUBLIC_URL).rstrip("/")
        if wait:
            self._wait_for(server, wait)
        if platform == "android":
            summary = simulate_android(tenant_obj, count, server, progress=self._progress)
            self._report(summary)
            return
        self._ensure_push_topic(tenant_obj)
        if method == "account-driven":
            self._report(enroll_by_account(tenant_obj, platform, count, server, mode=mode,
                                           concurrency=concurrency, progress=self._progress))
            return
        jobs = start_registrations(tenant_obj, platform, count)
        summary = enroll_apple_devices(tenant_obj.slug, platform, jobs, server,
                                       concurrency=concurrency, progress=self._progress)
        self._report(summary)

    def _live(self, tenant, platform: str, count: int, days: int, step_days: int) -> None:
        if platform == "android":
            raise CommandError("--days simulates Apple identity renewal: use ios or macos.")
        if not 1 <= days <= 3650 or not 1 <= step_days <= days:
            raise CommandError("--days must be 1 to 3650, --step-days 1 to --days.")
        if count > 1000:
            raise CommandError("--days runs in this process: at most 1000 devices.")
        self._ensure_push_topic(tenant)
        report = live_through(tenant, platform, count, days, step_days=step_days,
                              progress=self._progress)
        self.stdout.write(f"enrolled {report.enrolled} of {count}; after {report.days} days: "
                          f"{report.managed} managed, {report.identities_valid} with an "
                          f"identity in date, {report.renewals} identities renewed")
        for reason, times in report.failures.most_common(5):
            self.stdout.write(f"  failure x{times}: {reason}")
        if report.managed < count:
            raise CommandError(f"{count - report.managed} device(s) fell out of management.")

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
        if not apple_settings(tenant).push_topic:
            topic = f"com.apple.mgmt.External.{uuid.uuid4()}"
            do_save_apple_settings(tenant, actor="simulate_devices", push_topic=topic)
            self.stderr.write(f"No APNs topic was set: using a simulated one ({topic}).")

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
        for step in summary.timings:
            self.stdout.write(f"  {step:<9} median {1000 * summary.percentile(step, 0.5):7.1f} ms"
                              f"   p95 {1000 * summary.percentile(step, 0.95):7.1f} ms")
        for reason, times in summary.errors.most_common(5):
            self.stdout.write(f"  failure x{times}: {reason}")
        if summary.failed:
            raise CommandError(f"{summary.failed} device(s) failed to enroll.")
