"""Expiry sweep and reminder scan over 100,000 pending registrations, and 10,000 MDM pushes to
a loopback HTTP/2 APNs.

    .venv/bin/python benchmarks/sweeps_and_pushes.py [--registrations 100000]
        [--pushes 10000] [--database-url postgres://postgres@127.0.0.1:5432]

Sets up a scratch PostgreSQL database `mdm_bench_workers` (schema straight from the models, as
the tests do with --nomigrations). Half the registrations are past their window (the expiry
sweep expires them), half are open with the profile downloaded five hours ago (the reminder
scan claims one reminder each; delivery then sends them, here by email to Django's in-memory
backend since these users have no app). The pushes go to the test suite's loopback APNs
(h2 + TLS, client certificate checked) running in a separate process. Prints seconds, rows or
pushes per second, and SQL queries used.
"""

from __future__ import annotations

import argparse
import datetime as dt
import multiprocessing
import os
import secrets
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
from benchmarks.scratch import counted, create_schema, setup_database  # noqa: E402 - after sys.path

DB_NAME = "mdm_bench_workers"





def report(label: str, count: int, unit: str, measured: dict) -> None:
    seconds = measured["seconds"]
    print(f"{label:<34} {count:>7} {unit:<13} {seconds:7.2f} s  {count / seconds:9.0f} {unit}/s"
          f"  {measured['queries']:>5} queries")


def apns_server_process(pki_folder: str, ready, stop, stats) -> None:
    import django

    django.setup()  # the test package that holds the server is a fixture plugin: models
    from tests.base.push.apns_server import ApnsTestServer

    folder = Path(pki_folder)
    server = ApnsTestServer(str(folder / "ca.pem"), str(folder / "server.pem"),
                            str(folder / "server.key")).start()
    ready.put(server.port)
    stop.wait()
    stats.put({"requests": len(server.requests), "connections": server.connections,
               "ok": sum(1 for r in server.requests if r.status == 200)})
    server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--registrations", type=int, default=100_000)
    parser.add_argument("--pushes", type=int, default=10_000)
    parser.add_argument("--database-url", default="postgres://postgres@127.0.0.1:5432")
    args = parser.parse_args()
    setup_database(args.database_url, DB_NAME)
    data_dir = tempfile.mkdtemp(prefix="mdm-bench-workers-")
    os.environ.update({"DATABASE_URL": f"{args.database_url}/{DB_NAME}",
                       "DJANGO_SETTINGS_MODULE": "mdm_server.settings",
                       "MDM_DATA_DIR": data_dir})
    import django

    django.setup()
    create_schema()
    from django.conf import settings
    from django.utils import timezone

    from devices.models import AppleChannel, Device, PushAttempt
    from devices.push import credentials, service
    from devices.push.reminders import deliver_reminders
    from enrollment.models import Registration, RegistrationState, Reminder
    from enrollment.services import reminders, sweeps
    from tests.base.push.pki import make_pki
    from users.models import User
    from users.services.accounts import do_create_tenant

    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    tenant, admin = do_create_tenant("bench", "Bench", admin_email="admin@bench.test",
                                     admin_password="Corr3ct-horse-battery")
    users = User.objects.bulk_create([
        User(tenant=tenant, email=f"user{n}@bench.test", password="!") for n in range(1000)])
    now = timezone.now()
    half = args.registrations // 2
    started = time.perf_counter()
    Registration.objects.bulk_create([
        Registration(tenant=tenant, user=users[n % len(users)], platform="ios",
                     method="invitation", state=RegistrationState.PROFILE_DOWNLOADED,
                     profile_downloaded_at=now - dt.timedelta(hours=5),
                     expires_at=now + (dt.timedelta(minutes=-1) if n < half
                                       else dt.timedelta(days=1)))
        for n in range(args.registrations)], batch_size=5000)
    print(f"created {args.registrations} pending registrations "
          f"in {time.perf_counter() - started:.1f} s (batch size "
          f"{settings.MDM_SWEEP_BATCH_SIZE})")

    with counted() as expiry:
        result = sweeps.run_expiry_sweeps()
    report("expiry sweep (expired)", result["registrations"], "registrations", expiry)
    with counted() as scan:
        claimed = reminders.claim_due_reminders(queue=False)
    report("reminder scan (claimed)", len(claimed), "reminders", scan)
    with counted() as again:
        assert reminders.claim_due_reminders(queue=False) == []
    report("reminder scan again (no double)", args.registrations - half, "scanned", again)
    with counted() as delivery:
        for start in range(0, len(claimed), 1000):
            deliver_reminders(claimed[start:start + 1000])
    report("reminder delivery (email)", len(claimed), "reminders", delivery)
    assert Reminder.objects.filter(status="sent").count() == len(claimed)
    assert Registration.objects.filter(state="expired").count() == half

    # --- pushes ---
    pki = make_pki(tempfile.mkdtemp(prefix="mdm-bench-pki-"))
    context = multiprocessing.get_context("spawn")
    ready, stats, stop = context.Queue(), context.Queue(), context.Event()
    server = context.Process(target=apns_server_process,
                             args=(str(pki.folder), ready, stop, stats))
    server.start()
    port = ready.get(timeout=30)
    settings.MDM_APNS_URL = f"https://127.0.0.1:{port}"
    settings.MDM_APNS_CA_FILE = str(pki.ca_file)
    credentials.do_upload_apns_certificate(tenant, pki.push_p12, password="secret",
                                           actor=admin)
    devices = Device.objects.bulk_create([
        Device(tenant=tenant, platform="ios", state="active", udid=str(uuid.uuid4()).upper())
        for _ in range(args.pushes)], batch_size=5000)
    channels = AppleChannel.objects.bulk_create([
        AppleChannel(tenant=tenant, device=device, channel_id=device.udid,
                     topic=credentials.apns_certificate(tenant).topic,
                     push_token=secrets.token_bytes(32), push_magic=str(uuid.uuid4()),
                     enabled=True) for device in devices], batch_size=5000)
    ids = [channel.pk for channel in channels]
    service.push_channels(ids[:100])  # connect and warm up (TLS handshake, threads)
    PushAttempt.objects.all().delete()
    with counted() as pushes:
        outcome = service.push_channels(ids)
    report(f"MDM pushes (batch {settings.MDM_PUSH_BATCH_SIZE}, "
           f"{settings.MDM_PUSH_CONCURRENCY} streams)", outcome.sent, "pushes", pushes)
    stop.set()
    server_stats = stats.get(timeout=30)
    server.join(timeout=30)
    credentials.close_clients()
    print(f"loopback APNs: {server_stats['requests']} requests ({server_stats['ok']} x 200) "
          f"over {server_stats['connections']} TLS connection(s)")
    assert outcome.sent == args.pushes


if __name__ == "__main__":
    main()
