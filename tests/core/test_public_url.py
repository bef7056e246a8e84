"""The public URL follows the bind address in embedded mode (MDM_PUBLIC_URL unset): every URL
the server hands out (registration links, invitations, QR codes, portal links, the enrollment
profile's SCEP and MDM URLs) points where `serve --bind` listens."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest
from django.core.management import CommandError, call_command

from core import config as config_module
from core.config import BASE_DIR, ConfigError, load_config, parse_bind, public_url_for_bind


@pytest.fixture
def env(tmp_path):
    return {"MDM_DATA_DIR": str(tmp_path)}


@pytest.mark.parametrize(("bind", "url"), [
    ("", "http://127.0.0.1:8000"),  # the default bind
    ("127.0.0.1:18500", "http://127.0.0.1:18500"),
    ("localhost:9000", "http://localhost:9000"),
    ("tcp://10.1.2.3:8443", "http://10.1.2.3:8443"),
    ("[::1]:9000", "http://[::1]:9000"),
    ("192.168.1.20:80", "http://192.168.1.20"),
    ("mdm.lan", "http://mdm.lan:8000"),  # gunicorn's default port
])
def test_embedded_public_url_is_the_bind_address(env, bind, url):
    config = load_config({**env, "MDM_BIND": bind})
    assert config.public_url == url
    assert "the address it listens on" in config.public_url_origin
    host = parse_bind(bind or "127.0.0.1:8000").host
    assert (f"[{host}]" if ":" in host else host) in config.allowed_hosts


@pytest.mark.parametrize("bind", ["0.0.0.0:18500", ":18500", "[::]:18500"])
def test_all_interfaces_use_the_machines_hostname(env, monkeypatch, bind):
    monkeypatch.setattr(config_module.socket, "gethostname", lambda: "Mdm-Box")
    config = load_config({**env, "MDM_BIND": bind})
    assert config.public_url == "http://mdm-box:18500"
    assert "this machine's hostname" in config.public_url_origin
    assert "mdm-box" in config.allowed_hosts and "0.0.0.0" not in config.allowed_hosts


@pytest.mark.parametrize("hostname", ["", "localhost", "bad host name", "under_score!"])
def test_all_interfaces_without_a_usable_hostname_use_loopback(env, monkeypatch, hostname):
    monkeypatch.setattr(config_module.socket, "gethostname", lambda: hostname)
    config = load_config({**env, "MDM_BIND": "0.0.0.0:8000"})
    assert config.public_url == "http://127.0.0.1:8000"
    assert "no usable hostname" in config.public_url_origin


def test_a_set_public_url_wins_over_the_bind(env):
    config = load_config({**env, "MDM_BIND": "0.0.0.0:18500",
                          "MDM_PUBLIC_URL": "https://mdm.example.com/"})
    assert config.public_url == "https://mdm.example.com"
    assert config.public_url_origin == "set by MDM_PUBLIC_URL"
    # A proxy in front may reach the server over a Unix socket.
    proxied = load_config({**env, "MDM_BIND": "unix:/run/mdm.sock",
                           "MDM_PUBLIC_URL": "https://mdm.example.com"})
    assert proxied.public_url == "https://mdm.example.com"


def test_production_still_requires_an_https_public_url(env):
    base = {**env, "MDM_MODE": "production", "SECRET_KEY": "x" * 40,
            "MDM_ENCRYPTION_KEY": "a2tra2tra2tra2tra2tra2tra2tra2tra2tra2tra2s=",
            "DATABASE_URL": "postgres://mdm@db/mdm", "MDM_BIND": "0.0.0.0:8000"}
    with pytest.raises(ConfigError, match="MDM_PUBLIC_URL is required in production"):
        load_config(base)
    with pytest.raises(ConfigError, match="https"):
        load_config({**base, "MDM_PUBLIC_URL": "http://mdm.example.com"})
    assert load_config({**base, "MDM_PUBLIC_URL": "https://mdm.example.com"}).public_url == \
        "https://mdm.example.com"


@pytest.mark.parametrize(("bind", "message"), [
    ("127.0.0.1:http", "port must be a number"),
    ("127.0.0.1:0", "port must be a number"),
    ("127.0.0.1:65536", "port must be a number"),
    ("127.0.0.1:", "port must be a number"),
    ("[fe80::zz]:80", "invalid IPv6"),
    ("[::1]8000", "HOST:PORT or"),
    ("my host:80", "invalid host"),
    ("http://x:80", "HOST:PORT or"),
    ("::1:8000", "HOST:PORT or"),
    ("300.1.1.1:80", "invalid host"),
    ("unix:/run/mdm.sock", "MDM_PUBLIC_URL must be set"),
    ("fd://3", "MDM_PUBLIC_URL must be set"),
])
def test_bad_bind_values_name_the_variable(env, bind, message):
    with pytest.raises(ConfigError, match=message) as caught:
        load_config({**env, "MDM_BIND": bind})
    assert "MDM_BIND" in str(caught.value)


def test_serve_refuses_a_bad_bind_before_doing_anything(db):
    with pytest.raises(CommandError, match="--bind port must be a number"):
        call_command("serve", bind="127.0.0.1:notaport", no_demo=True)
    with pytest.raises(CommandError, match="MDM_PUBLIC_URL must be set"):
        call_command("serve", bind="unix:/tmp/mdm.sock", no_demo=True)


def test_serve_computes_what_its_children_will_use(monkeypatch):
    monkeypatch.delenv("MDM_PUBLIC_URL", raising=False)
    monkeypatch.setenv("MDM_MODE", "embedded")
    url, origin = public_url_for_bind("127.0.0.1:18500")
    assert url == "http://127.0.0.1:18500" and "serve --bind" in origin


# Run in a process started as `serve` starts its web server and workers: MDM_BIND set,
# MDM_PUBLIC_URL unset, an embedded SQLite database.
URLS_SCRIPT = r"""
import json
from django.core import mail
from django.core.management import call_command
from django.test import Client
call_command("migrate", verbosity=0)
from enrollment.services.apple_settings import do_save_apple_settings
from enrollment.apple.profile import build_registration_profile
from enrollment.services.app_access import do_create_qr_token
from enrollment.services.invitations import do_send_invitations, selfservice_url
from enrollment.services.links import current_go_url
from enrollment.services.registration_journey import start_registration
from users.models import User
from users.services.accounts import do_create_tenant

tenant, admin = do_create_tenant("acme", "Acme", admin_email="admin@acme.test",
                                 admin_password="Corr3ct-horse-battery")
do_save_apple_settings(tenant, actor=admin, push_topic="com.apple.mgmt.External.test")
user = User.objects.create_user(tenant, "mac@acme.test", None)
sent = do_send_invitations(tenant, [user], actor=admin)
started = start_registration(tenant, user, "macos", "api", actor=admin)
profile = build_registration_profile(tenant, started.registration, "challenge")
by_type = {p["PayloadType"]: p for p in profile["PayloadContent"]}
desktop = Client().get(sent[0].url.split("://", 1)[1].split("/", 1)[1].join(["/", ""]),
                       HTTP_USER_AGENT="Mozilla/5.0 (Windows NT 10.0; Win64; x64)")
print(json.dumps({
    "registration_url": current_go_url(tenant),
    "invitation_url": sent[0].url,
    "invitation_email": mail.outbox[0].body,
    "qr_payload": do_create_qr_token(tenant, user).payload,
    "portal": selfservice_url(tenant),
    "profile_url": started.profile_url,
    "scep": by_type["com.apple.security.scep"]["PayloadContent"]["URL"],
    "mdm_server": by_type["com.apple.mdm"]["ServerURL"],
    "mdm_checkin": by_type["com.apple.mdm"]["CheckInURL"],
    "desktop_page": desktop.content.decode(),
}))
"""


def test_every_url_handed_out_follows_the_bind(tmp_path):
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL", "MDM_PUBLIC_URL",
                          "MDM_MODE")}
    env.update(MDM_DATA_DIR=str(tmp_path), MDM_BIND="127.0.0.1:18500",
               EMAIL_BACKEND="django.core.mail.backends.locmem.EmailBackend")
    done = subprocess.run([sys.executable, "manage.py", "shell", "-c", URLS_SCRIPT],
                          cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]
    urls = json.loads(done.stdout.strip().splitlines()[-1])
    base = "http://127.0.0.1:18500"
    assert urls["registration_url"].startswith(f"{base}/r/")
    assert urls["invitation_url"].startswith(f"{base}/r/")
    assert urls["invitation_url"] in urls["invitation_email"]
    assert urls["qr_payload"].startswith(f"{base}/t/acme/app/")
    assert urls["portal"] == f"{base}/t/acme/portal/"
    assert urls["profile_url"].startswith(f"{base}/t/acme/enroll/apple/")
    assert urls["scep"] == f"{base}/t/acme/scep"
    assert urls["mdm_server"] == f"{base}/t/acme/mdm/server"
    assert urls["mdm_checkin"] == f"{base}/t/acme/mdm/checkin"
    assert f"{base}/r/" in urls["desktop_page"]  # the QR code's link, shown in words
    everything = json.dumps(urls)
    assert "localhost:8000" not in everything and "127.0.0.1:8000" not in everything
