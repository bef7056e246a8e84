"""Identity renewal wave: 100,000 devices whose MDM identities come due on the same day.

    .venv/bin/python benchmarks/renewal_wave.py [--devices 100000] [--minutes 3]
        [--big-batch 1000] [--idles 400] [--rounds 5]
        [--database-url postgres://postgres@127.0.0.1:5432]

Sets up a scratch PostgreSQL database `mdm_bench_renewal` (schema from the models). A tenant,
two iPhones enrolled through the real protocol (the check-in measurement below), and
--devices managed iPhones in bulk rows (a device channel each, bound to one identity row)
whose identities all expire in 30 days: inside the 60-day window, all due at once. Then:

1. The scan as the beat runs it, once a minute for --minutes minutes (the scan's clock is
   moved a minute each time) at the default limit of 100 a minute: devices queued per scan,
   a second scan within the same minute (it must queue none), SQL statements per scan.
2. One scan with the limit raised to --big-batch: the same number of statements (constant
   per batch, whatever its size), and devices queued per second (each gets its own signed
   re-enrollment profile).
3. What a renewed device's check-in costs next to a normal Idle (the reference, measured in
   the same run, in rounds that alternate them): one of the two iPhones renews for real (the
   profile's challenge spent by the real SCEP service, Authenticate and TokenUpdate with the
   new identity); Idle requests go through the whole Django stack in this process
   (signature verified, PostgreSQL store). Also the old identity in its grace period, which
   takes the general path. Median microseconds per Idle, and the ratio to the normal one
   (target: a renewed device no slower than a normal Idle).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
import tempfile
import time
import uuid
from pathlib import Path
from statistics import median

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.scratch import counted, create_schema, setup_database  # noqa: E402 - after sys.path

DB_NAME = "mdm_bench_renewal"





def bulk_fleet(tenant, count: int, expires_at: dt.datetime) -> None:
    """``count`` managed iPhones, their device channels bound to one identity row."""
    from devices.models import AppleChannel, Device
    from enrollment.models import IssuedCertificate
    from users.models import User

    started = time.perf_counter()
    users = User.objects.bulk_create([
        User(tenant=tenant, email=f"wave{n}@bench.test", password="!") for n in range(1000)])
    identity = IssuedCertificate.objects.for_tenant(tenant).first()
    for start in range(0, count, 10_000):
        devices = Device.objects.bulk_create([
            Device(tenant=tenant, platform="ios", state="active", owner=users[n % len(users)],
                   udid=str(uuid.uuid4()).upper(), identity_expires_at=expires_at)
            for n in range(start, min(count, start + 10_000))])
        AppleChannel.objects.bulk_create([
            AppleChannel(tenant=tenant, device=device, channel_id=device.udid,
                         certificate=identity, topic="bench", enabled=True)
            for device in devices])
    print(f"created {count} managed iPhones due on the same day "
          f"in {time.perf_counter() - started:.1f} s")


def renew_for_real(tenant, device) -> object:
    """Renew ``device``'s identity as an iPhone does; returns its old (key, certificate)."""
    from devices.models import Device
    from devices.services.renewals import do_queue_renewals
    from tests.base.apple.renewal import renewal_profile, request_identity, scep_payload
    from tests.base.apple.simulator import parse_command
    from tests.base.scep.client import new_key

    pk = Device.objects.get(udid=device.udid).pk
    renewal = do_queue_renewals(tenant, [pk], reason="requested", actor="bench").queued[0]
    old = (device.key, device.cert)
    key = new_key()
    result = request_identity(tenant, scep_payload(renewal_profile(renewal)), key)
    device.key, device.cert = key, result.certificate
    assert device.authenticate()[0] == 200 and device.token_update()[0] == 200
    _, body = device.idle()  # the InstallProfile, answered with the new identity
    assert device.report("Acknowledged", parse_command(body)["CommandUUID"]) == (200, b"")
    return old


def idle_rounds(devices: dict, idles: int, rounds: int) -> dict[str, float]:
    """Median microseconds per Idle of each device, in rounds that alternate them."""
    samples: dict[str, list[float]] = {name: [] for name in devices}
    for device in devices.values():
        assert device.idle() == (200, b""), device  # warm: prepared statement, caches
    for _ in range(rounds):
        for name, device in devices.items():
            started = time.perf_counter()
            for _ in range(idles):
                device.idle()
            samples[name].append((time.perf_counter() - started) / idles * 1e6)
    return {name: median(values) for name, values in samples.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--devices", type=int, default=100_000)
    parser.add_argument("--minutes", type=int, default=3)
    parser.add_argument("--big-batch", type=int, default=1000)
    parser.add_argument("--idles", type=int, default=400)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    setup_database(args.database_url, DB_NAME)
    os.environ.update({"DATABASE_URL": f"{args.database_url}/{DB_NAME}",
                       "DJANGO_SETTINGS_MODULE": "mdm_server.settings",
                       "MDM_DATA_DIR": tempfile.mkdtemp(prefix="mdm-bench-renewal-"),
                       # The push tasks the scan queues wait there; no worker takes them.
                       "CELERY_BROKER_URL": os.environ.get("CELERY_BROKER_URL",
                                                           "redis://127.0.0.1:6379/9")})
    import django

    django.setup()
    create_schema()
    import copy

    from django.utils import timezone

    from benchmarks.checkin_idle import enroll_devices
    from devices.models import IdentityRenewal
    from devices.services.renewals import scan_tenant
    from enrollment.services.renewal_policy import do_save_renewal_policy

    tenant, (normal, renewed) = enroll_devices(2)
    now = timezone.now()
    bulk_fleet(tenant, args.devices, now + dt.timedelta(days=30))

    print(f"\n1. the scan, once a minute, default limit (100 a minute), {args.devices} due:")
    for minute in range(args.minutes):
        at = now + dt.timedelta(minutes=minute)
        with counted() as scan:
            outcome = scan_tenant(tenant, now=at)
        with counted() as again:
            second = scan_tenant(tenant, now=at)
        print(f"   minute {minute + 1}: queued {outcome['queued']:>5} in {scan['seconds']:.2f} s,"
              f" {scan['queries']} SQL statements; again in the same minute: queued "
              f"{second['queued']} ({again['queries']} statements)")
        assert outcome["queued"] == 100 and second["queued"] == 0

    do_save_renewal_policy(tenant, actor="bench", max_per_minute=args.big_batch)
    at = now + dt.timedelta(minutes=args.minutes + 1)
    with counted() as big:
        outcome = scan_tenant(tenant, now=at)
    print(f"\n2. one scan with the limit at {args.big_batch}: queued {outcome['queued']} in "
          f"{big['seconds']:.2f} s = {outcome['queued'] / big['seconds']:.0f} devices/s, "
          f"{big['queries']} SQL statements (constant per batch)")
    assert outcome["queued"] == args.big_batch
    assert IdentityRenewal.objects.count() == 100 * args.minutes + args.big_batch

    print(f"\n3. Idle cost, {args.rounds} rounds of {args.idles} Idles each, in-process:")
    old_key, old_cert = renew_for_real(tenant, renewed)
    in_grace = copy.copy(renewed)
    in_grace.key, in_grace.cert = old_key, old_cert
    figures = idle_rounds({"normal Idle (reference)": normal, "renewed device": renewed,
                           "old identity in grace": in_grace}, args.idles, args.rounds)
    reference = figures["normal Idle (reference)"]
    for name, micros in figures.items():
        print(f"   {name:<26} {micros:8.0f} µs/Idle   {micros / reference:5.2f} x reference")


if __name__ == "__main__":
    main()
