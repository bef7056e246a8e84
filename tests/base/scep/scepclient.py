"""Run Debian's micromdm `scepclient` (package `scep`) against a SCEP URL.

Quirks (see FACTS.md): it wants a PKCS#1 key and writes `csr.pem` beside the key, reusing it
on the next run, so every identity gets its own folder.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat

from tests.base.scep.client import new_key

SCEPCLIENT = shutil.which("scepclient") or "/usr/bin/scepclient"


def write_identity_folder(folder: Path, key=None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    key = key or new_key()
    (folder / "key.pem").write_bytes(
        key.private_bytes(Encoding.PEM, PrivateFormat.TraditionalOpenSSL, NoEncryption()))
    return folder


def run_scepclient(url: str, folder: Path, challenge: str, cn: str = "interop-device",
                   timeout: int = 60, organization: str | None = None
                   ) -> subprocess.CompletedProcess[str]:
    """Enroll the identity in `folder` (key.pem, made if missing; cert.pem written)."""
    if not (folder / "key.pem").exists():
        write_identity_folder(folder)
    command = [SCEPCLIENT, "-server-url", url, "-challenge", challenge, "-cn", cn,
               "-private-key", str(folder / "key.pem"), "-certificate", str(folder / "cert.pem")]
    if organization is not None:
        command += ["-organization", organization]
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False)
