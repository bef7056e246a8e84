"""Real peers the interop tests drive, each behind a fixture (a plugin, see tests/conftest.py):
`openssl` runs the openssl binary, `scepclient` runs Debian's micromdm scepclient, and `slapd`
(tests/users/ldap_server.py) serves LDAP. Asking for one of them is what marks a test
`interop`, so a new test that drives a peer is marked without anyone remembering to.

A missing peer fails the test, it is never skipped: .ci/run installs them (Debian packages
openssl, scep, slapd, ldap-utils).
"""

from __future__ import annotations

import shutil
import subprocess

import pytest

from tests.base.scep.scepclient import run_scepclient

OPENSSL = shutil.which("openssl") or "/usr/bin/openssl"

# The fixtures by which tests/conftest.py recognises an interop test.
INTEROP_FIXTURES = frozenset({"openssl", "scepclient", "slapd"})


def run_openssl(*args, **kwargs) -> subprocess.CompletedProcess:
    """`openssl <args>`, output captured; keyword arguments go to subprocess.run."""
    return subprocess.run([OPENSSL, *(str(arg) for arg in args)],
                          **{"capture_output": True, **kwargs})


@pytest.fixture(scope="session")
def openssl():
    """Run the openssl binary: `openssl("cms", "-verify", ..., check=True)`."""
    return run_openssl


@pytest.fixture(scope="session")
def scepclient():
    """Enroll with Debian's scepclient: `scepclient(url, folder, challenge, cn=...)`."""
    return run_scepclient
