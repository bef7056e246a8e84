"""Run Debian's certmonger (package `certmonger`) as a throwaway daemon that touches nothing
of the system's: its own D-Bus session bus, its own state folders, its own HOME.

certmonger only talks D-Bus. A private `dbus-daemon` (a session-type bus from a generated
config, no service activation) carries it; `certmonger -s -n -B` serves that bus in the
foreground without idle exit; `CERTMONGER_*_DIR` and the lock-file variables move every file
it keeps (requests, CAs, its local CA, temporary files) into one folder; `getcert -s` talks to
it through `DBUS_SESSION_BUS_ADDRESS`. Both daemons run in their own process group, ended by
its id when the session closes. Works as root (CI) or as any user.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

CERTMONGER = shutil.which("certmonger") or "/usr/sbin/certmonger"
GETCERT = shutil.which("getcert") or "/usr/bin/getcert"
DBUS_DAEMON = shutil.which("dbus-daemon") or "/usr/bin/dbus-daemon"

_BUS_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>session</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow send_destination="*" eavesdrop="true"/>
    <allow eavesdrop="true"/>
    <allow own="*"/>
  </policy>
</busconfig>
"""


class CertmongerError(AssertionError):
    """certmonger did not do what the test waited for; the message carries its log."""


class CertmongerSession:
    """A private certmonger: ``with CertmongerSession() as certmonger: certmonger.getcert(...)``.

    State lives in a short temporary folder (a unix socket path must stay under ~100 bytes),
    removed on exit with both daemons.
    """

    def __init__(self, startup_timeout: float = 30) -> None:
        self.startup_timeout = startup_timeout
        self.root = Path(tempfile.mkdtemp(prefix="certmonger-"))
        self._processes: list[subprocess.Popen] = []
        self.env: dict[str, str] = {}

    # --- lifecycle -------------------------------------------------------------------------

    def __enter__(self) -> CertmongerSession:
        try:
            self._start()
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def _start(self) -> None:
        folders = {name: self.root / name
                   for name in ("home", "config", "requests", "cas", "local", "tmp")}
        for folder in folders.values():
            folder.mkdir(mode=0o700)
        socket = self.root / "bus"
        config = self.root / "bus.conf"
        config.write_text(_BUS_CONFIG.format(socket=socket))
        self.env = {
            **{key: value for key, value in os.environ.items()
               if not key.startswith(("CERTMONGER_", "DBUS_"))},
            "HOME": str(folders["home"]),
            "XDG_CONFIG_HOME": str(folders["config"]),
            "DBUS_SESSION_BUS_ADDRESS": f"unix:path={socket}",
            "CERTMONGER_CONFIG_DIR": str(folders["config"]),
            "CERTMONGER_REQUESTS_DIR": str(folders["requests"]),
            "CERTMONGER_CAS_DIR": str(folders["cas"]),
            "CERTMONGER_LOCAL_CA_DIR": str(folders["local"]),
            "CERTMONGER_TMPDIR": str(folders["tmp"]),
            "CERTMONGER_SYSTEM_LOCK_FILE": str(self.root / "system.lock"),
            "TMPDIR": str(folders["tmp"]),
        }
        self._spawn([DBUS_DAEMON, f"--config-file={config}", "--nofork", "--nopidfile"],
                    self.root / "dbus.log")
        self._wait(lambda: socket.exists(), "the private D-Bus socket")
        self._spawn([CERTMONGER, "-s", "-n", "-B", "-d", "2"], self.root / "certmonger.log")
        self._wait(lambda: self.getcert("list-cas", check=False).returncode == 0,
                   "certmonger on the private bus")

    def _spawn(self, command: list[str], log: Path) -> None:
        with log.open("wb") as output:
            self._processes.append(subprocess.Popen(
                command, env=self.env, cwd=self.root, stdin=subprocess.DEVNULL, stdout=output,
                stderr=subprocess.STDOUT, start_new_session=True))

    def _wait(self, ready, what: str) -> None:
        deadline = time.monotonic() + self.startup_timeout
        while not ready():
            for process in self._processes:
                if process.poll() is not None:
                    raise CertmongerError(f"{process.args[0]} exited ({process.returncode}) "
                                          f"while waiting for {what}\n{self.logs()}")
            if time.monotonic() > deadline:
                raise CertmongerError(f"timed out waiting for {what}\n{self.logs()}")
            time.sleep(0.1)

    def close(self) -> None:
        # certmonger first (it runs scep-submit helpers in its group), then the bus.
        for process in reversed(self._processes):
            if process.poll() is None:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGTERM)  # its own group, by its id
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=10)
        self._processes.clear()
        shutil.rmtree(self.root, ignore_errors=True)

    def logs(self, tail: int = 60) -> str:
        parts = []
        for name in ("certmonger.log", "dbus.log"):
            path = self.root / name
            if path.exists():
                lines = path.read_text(errors="replace").splitlines()[-tail:]
                parts.append(f"--- {name} (last {len(lines)} lines)\n" + "\n".join(lines))
        return "\n".join(parts)

    # --- getcert ---------------------------------------------------------------------------

    def getcert(self, *args: str, check: bool = True,
                timeout: float = 120) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([GETCERT, args[0], "-s", *args[1:]], env=self.env,
                                capture_output=True, text=True, timeout=timeout, check=False)
        if check and result.returncode != 0:
            raise CertmongerError(f"getcert {' '.join(args)} exited {result.returncode}:\n"
                                  f"{result.stdout}{result.stderr}\n{self.logs()}")
        return result

    def add_scep_ca(self, name: str, url: str, timeout: float = 60) -> str:
        """`getcert add-scep-ca -c NAME -u URL`, as an administrator would (no -N, -r, -I:
        everything from GetCACert), then wait for certmonger to have fetched the CA."""
        self.getcert("add-scep-ca", "-c", name, "-u", url)
        deadline = time.monotonic() + timeout
        while True:
            listing = self.getcert("list-cas", "-c", name).stdout
            if "SCEP CA certificate thumbprint" in listing:
                return listing
            if time.monotonic() > deadline:
                raise CertmongerError(f"certmonger did not fetch the CA:\n{listing}\n"
                                      f"{self.logs()}")
            time.sleep(0.2)

    def status(self, request_id: str) -> dict[str, str]:
        """`getcert list -i ID` as {field: value} (status, ca-error, certificate, issuer...)."""
        listing = self.getcert("list", "-i", request_id).stdout
        fields = {}
        for line in listing.splitlines():
            match = re.match(r"\s+([a-z][a-z -]*?):\s?(.*)$", line)
            if match:
                fields.setdefault(match.group(1), match.group(2).strip())
        return fields

    def wait_for(self, request_id: str, states: tuple[str, ...] = (), *, until=None,
                 timeout: float = 120) -> dict[str, str]:
        """Poll until the request reaches one of ``states`` (MONITORING, CA_REJECTED...) or
        ``until(fields)`` holds."""
        deadline = time.monotonic() + timeout
        while True:
            fields = self.status(request_id)
            if fields.get("status") in states or (until is not None and until(fields)):
                return fields
            if time.monotonic() > deadline:
                raise CertmongerError(f"request {request_id} stuck in {fields}\n{self.logs()}")
            time.sleep(0.2)
