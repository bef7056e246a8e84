"""The one-command run (R9) on the embedded default: SQLite, filesystem broker, demo tenant;
web, worker and beat come up, /healthz is 200, and Ctrl-C stops all of them."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.parse
import urllib.request

import pytest

from core.config import BASE_DIR

# serve starts a real Celery worker and beat (on its embedded filesystem broker), without the
# celery_processes fixture that marks the other worker tests.
pytestmark = pytest.mark.worker


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def _signed_in_get(base: str, path: str, email: str, password: str) -> str:
    """Sign in to the demo admin portal (CSRF cookie and token) and GET `path`."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar()))
    login = opener.open(f"{base}/t/demo/admin/login/", timeout=10).read().decode()
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login).group(1)
    form = urllib.parse.urlencode({"csrfmiddlewaretoken": token, "email": email,
                                   "password": password}).encode()
    opener.open(urllib.request.Request(f"{base}/t/demo/admin/login/", data=form,
                                       headers={"Referer": f"{base}/t/demo/admin/login/"}),
                timeout=10)
    return opener.open(f"{base}{path}", timeout=10).read().decode()


def test_serve_runs_everything_on_the_embedded_default(tmp_path):
    port = _free_port()
    env = {key: value for key, value in os.environ.items()
           if key not in ("DATABASE_URL", "CELERY_BROKER_URL", "REDIS_URL")}
    env["MDM_DATA_DIR"] = str(tmp_path / "data")
    process = subprocess.Popen(
        [sys.executable, "manage.py", "serve", "--bind", f"127.0.0.1:{port}",
         "--web-workers", "1"], cwd=BASE_DIR, env=env, stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT, text=True, start_new_session=True)
    output = ""
    try:
        deadline = time.monotonic() + 90
        status = None
        while time.monotonic() < deadline:
            try:
                status, body = _get(f"http://127.0.0.1:{port}/healthz")
                if status == 200:
                    break
            except OSError:
                pass
            time.sleep(0.5)
        assert status == 200, "server did not come up"
        assert json.loads(body) == {"status": "ok", "database": "ok", "broker": "ok"}
        status, page = _get(f"http://127.0.0.1:{port}/t/demo/admin/login/")
        assert status == 200 and b"Admin portal" in page
        credentials = (tmp_path / "data" / "demo-admin.txt").read_text().split("\n")
        assert credentials[0] == "admin@demo.test" and len(credentials[1]) >= 12
        assert (tmp_path / "data" / "mdm.sqlite3").exists()
        # The first run fills the demo tenant with simulated iPhones and Macs.
        import sqlite3

        deadline, active = time.monotonic() + 90, 0
        while time.monotonic() < deadline and active < 6:
            time.sleep(1)
            with sqlite3.connect(tmp_path / "data" / "mdm.sqlite3") as db:
                active = db.execute("SELECT count(*) FROM devices_device "
                                    "WHERE state = 'active'").fetchone()[0]
        assert active == 6
        # The page the admin copies the registration URL from shows this server's address:
        # with MDM_PUBLIC_URL unset, the public URL follows --bind.
        page = _signed_in_get(f"http://127.0.0.1:{port}", "/t/demo/admin/settings/registration/",
                              *credentials)
        shown = re.search(r'id="registration-url">([^<]+)<', page).group(1)
        assert shown.startswith(f"http://127.0.0.1:{port}/r/")
    finally:
        process.send_signal(signal.SIGINT)
        try:
            output, _ = process.communicate(timeout=40)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            output, _ = process.communicate()
            raise AssertionError("serve did not stop on Ctrl-C:\n" + output[-3000:]) from None
    assert "Sign in as admin@demo.test" in output
    assert f"Public URL: http://127.0.0.1:{port}\n" in output
    assert f"Admin portal: http://127.0.0.1:{port}/t/demo/admin/" in output
    assert "Stopped." in output
    # Nothing of it is left running (web workers, celery worker and beat).
    leftovers = subprocess.run(["pgrep", "-s", str(process.pid)], capture_output=True,
                               text=True).stdout.split()
    assert leftovers == []
