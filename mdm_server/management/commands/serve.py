"""serve: the one-command run (SPEC R9). Migrates, creates the demo tenant on first run, then
runs the web server (gunicorn), a Celery worker and the beat scheduler until Ctrl-C."""

from __future__ import annotations

import os
import secrets
import signal
import subprocess
import sys
import time

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError

from core.config import DEFAULT_BIND, ConfigError, parse_bind, public_url_for_bind
from users.models import Tenant
from users.services.accounts import do_create_tenant

DEMO_SLUG = "demo"
DEMO_ADMIN = "admin@demo.test"


class Command(BaseCommand):
    help = "Run web server, Celery worker and beat together (embedded default or production)."

    def add_arguments(self, parser):
        parser.add_argument("--bind", default=os.environ.get("MDM_BIND") or DEFAULT_BIND,
                            help="Where the web server listens (HOST:PORT); with "
                                 "MDM_PUBLIC_URL unset it also gives the public URL.")
        parser.add_argument("--no-demo", action="store_true", help="Do not create a demo tenant.")
        parser.add_argument("--web-workers", type=int, default=2)
        parser.add_argument("--demo-devices", type=int, default=None,
                            help="Simulated iPhones and Macs to enroll in the demo tenant once "
                                 "the server is up (default: 6 on the first run, else 0).")

    def handle(self, *args, bind: str, no_demo: bool, web_workers: int,
               demo_devices: int | None, **options):
        try:
            listen = parse_bind(bind, "--bind")
            public_url, public_url_origin = public_url_for_bind(bind)
        except ConfigError as exc:
            raise CommandError(str(exc)) from None
        call_command("migrate", interactive=False, verbosity=0)
        call_command("createcachetable", verbosity=0)
        first_run = not no_demo and not Tenant.objects.filter(slug=DEMO_SLUG).exists()
        credentials = None if no_demo else self._demo_credentials()
        if demo_devices is None:
            demo_devices = 6 if first_run else 0
        python = sys.executable
        commands = {
            "web": [python, "-m", "gunicorn", "mdm_server.wsgi", "--bind", bind,
                    "--workers", str(web_workers), "--access-logfile", "-"],
            "worker": [python, "-m", "celery", "-A", "mdm_server", "worker",
                       "--loglevel", "INFO", "--concurrency", "2"],
            "beat": [python, "-m", "celery", "-A", "mdm_server", "beat", "--loglevel", "INFO",
                     "--schedule", str(settings.MDM_DATA_DIR / "celerybeat-schedule")],
        }
        # The web server and the workers (which send invitations and reminders) derive the
        # same public URL from the address given here.
        env = {**os.environ, "MDM_BIND": bind}
        children = {name: subprocess.Popen(cmd, env=env) for name, cmd in commands.items()}
        jobs = []
        if demo_devices and not no_demo and listen.port is not None:
            # One-shot jobs: they wait for the web server, enroll, and exit.
            local = "127.0.0.1" if listen.all_interfaces else listen.host
            local = f"[{local}]" if ":" in local else local
            for platform, count in (("ios", demo_devices - demo_devices // 2),
                                    ("macos", demo_devices // 2)):
                if count:
                    jobs.append(subprocess.Popen(
                        [python, "manage.py", "simulate_devices", "--tenant", DEMO_SLUG,
                         "--platform", platform, "--count", str(count), "--server",
                         f"http://{local}:{listen.port}", "--wait", "60"], env=env))
        self.stdout.write(self.style.SUCCESS(
            f"\nMDM server listening on {bind}  (Ctrl-C stops)"))
        self.stdout.write(f"  Public URL: {public_url}\n"
                          f"    Devices, registration links, invitations and QR codes use it;\n"
                          f"    {public_url_origin}.")
        if credentials:
            self.stdout.write(f"  Admin portal: {public_url}/t/{DEMO_SLUG}/admin/\n"
                              f"  Sign in as {credentials[0]} with password {credentials[1]}\n"
                              f"  API docs: {public_url}/api/docs/   "
                              f"Health: {public_url}/healthz\n")
        self._supervise(children, jobs)

    def _demo_credentials(self) -> tuple[str, str] | None:
        path = settings.MDM_DATA_DIR / "demo-admin.txt"
        if Tenant.objects.filter(slug=DEMO_SLUG).exists():
            return tuple(path.read_text().split("\n", 1)) if path.exists() else None
        password = secrets.token_urlsafe(12)
        do_create_tenant(DEMO_SLUG, "Demo", admin_email=DEMO_ADMIN, admin_password=password,
                         actor="serve")
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(f"{DEMO_ADMIN}\n{password}")
        return DEMO_ADMIN, password

    def _supervise(self, children: dict[str, subprocess.Popen],
                   jobs: list[subprocess.Popen]) -> None:
        """Run until Ctrl-C or until a service dies; one-shot `jobs` may end on their own."""
        stopping = False

        def stop(*_):
            nonlocal stopping
            stopping = True

        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        while not stopping:
            dead = [name for name, proc in children.items() if proc.poll() is not None]
            if dead:
                self.stderr.write(f"{', '.join(dead)} stopped; shutting down the rest.")
                break
            time.sleep(0.5)
        everything = [*children.values(), *jobs]
        for proc in everything:
            if proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + 15
        for proc in everything:
            try:
                proc.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                proc.kill()
        self.stdout.write("Stopped.")
