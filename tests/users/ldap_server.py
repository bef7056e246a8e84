"""A real OpenLDAP server for the LDAP tests and the import benchmark.

`SlapdServer` runs `/usr/sbin/slapd` (mdb database in a temporary folder) on free loopback
ports: plain LDAP with StartTLS, and LDAPS, both with a certificate from a throwaway CA. Base
entries are loaded with `ldapadd`. Like most directories, it caps an ordinary search at 500
entries and allows any total through paged results, so the client must page.

Fixtures: `slapd` (session-scoped server) and `directory` (a fresh `ou=` per test, so tests
never see each other's entries). Missing slapd or ldap-utils is an error, not a skip:
`apt-get install slapd ldap-utils` (see FACTS.md).
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import ldap3
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

SLAPD = "/usr/sbin/slapd"
LDAPADD = "/usr/bin/ldapadd"
SCHEMA_DIR = "/etc/ldap/schema"
SUFFIX = "dc=example,dc=test"
ROOT_DN = f"cn=admin,{SUFFIX}"
ROOT_PASSWORD = "root-secret"
READER_DN = f"cn=reader,{SUFFIX}"
READER_PASSWORD = "Reader-pass-42"

SLAPD_CONF = """\
include {schema}/core.schema
include {schema}/cosine.schema
include {schema}/inetorgperson.schema
include {schema}/nis.schema
pidfile {folder}/slapd.pid
argsfile {folder}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
TLSCACertificateFile {folder}/ca.pem
TLSCertificateFile {folder}/server.pem
TLSCertificateKeyFile {folder}/server.key
sizelimit size.soft=500 size.hard=500 size.prtotal=unlimited

database mdb
maxsize 2147483648
suffix "{suffix}"
rootdn "{root_dn}"
rootpw {root_password}
directory {folder}/db
dbnosync
index objectClass eq
index mail eq
access to attrs=userPassword
  by anonymous auth
  by * none
access to *
  by * read
"""

BASE_LDIF = f"""\
dn: {SUFFIX}
objectClass: dcObject
objectClass: organization
o: Example
dc: example

dn: {READER_DN}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: reader
userPassword: {READER_PASSWORD}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _require_tools() -> None:
    missing = [tool for tool in (SLAPD, LDAPADD) if not os.access(tool, os.X_OK)]
    if missing:
        raise RuntimeError(
            f"LDAP tests need a real OpenLDAP server; missing {', '.join(missing)}. Install it: "
            "printf 'slapd slapd/no_configuration boolean true\\n' | debconf-set-selections; "
            "apt-get install -y --no-install-recommends slapd ldap-utils")


def _write_certificates(folder: Path) -> str:
    """A throwaway CA and a server certificate for 127.0.0.1/localhost; returns the CA PEM."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Test LDAP CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name)
          .public_key(ca_key.public_key()).serial_number(x509.random_serial_number())
          .not_valid_before(now - dt.timedelta(minutes=5))
          .not_valid_after(now + dt.timedelta(days=2))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .add_extension(x509.KeyUsage(False, False, False, False, False, True, True, False,
                                       False), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    server = (x509.CertificateBuilder()
              .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")]))
              .issuer_name(ca_name).public_key(key.public_key())
              .serial_number(x509.random_serial_number())
              .not_valid_before(now - dt.timedelta(minutes=5))
              .not_valid_after(now + dt.timedelta(days=2))
              .add_extension(x509.SubjectAlternativeName([
                  x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                  critical=False)
              .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]),
                             critical=False)
              .sign(ca_key, hashes.SHA256()))
    ca_pem = ca.public_bytes(serialization.Encoding.PEM).decode()
    (folder / "ca.pem").write_text(ca_pem)
    (folder / "server.pem").write_bytes(server.public_bytes(serialization.Encoding.PEM))
    (folder / "server.key").write_bytes(key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption()))
    return ca_pem


@dataclass
class Person:
    uid: str
    mail: str | None
    given_name: str
    surname: str
    password: str


class SlapdServer:
    def __init__(self, folder: Path | None = None):
        _require_tools()
        self._own_folder = folder is None
        self.folder = Path(folder or tempfile.mkdtemp(prefix="slapd-"))
        self.port = free_port()
        self.ldaps_port = free_port()
        self.process: subprocess.Popen | None = None
        self.ca_pem = ""

    @property
    def url(self) -> str:
        return f"ldap://127.0.0.1:{self.port}"

    @property
    def ldaps_url(self) -> str:
        return f"ldaps://127.0.0.1:{self.ldaps_port}"

    def start(self) -> SlapdServer:
        (self.folder / "db").mkdir(parents=True, exist_ok=True)
        self.ca_pem = _write_certificates(self.folder)
        conf = self.folder / "slapd.conf"
        conf.write_text(SLAPD_CONF.format(schema=SCHEMA_DIR, folder=self.folder, suffix=SUFFIX,
                                          root_dn=ROOT_DN, root_password=ROOT_PASSWORD))
        # -d 0: stay in the foreground (no fork), so we own the process and can stop it.
        self.process = subprocess.Popen(
            [SLAPD, "-d", "0", "-f", str(conf), "-h", f"{self.url}/ {self.ldaps_url}/"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 10
        while True:
            if self.process.poll() is not None:
                output = self.process.stdout.read().decode(errors="replace")
                raise RuntimeError(f"slapd exited with {self.process.returncode}:\n{output}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("slapd did not start listening within 10 s") from None
                time.sleep(0.05)
        self.ldapadd(BASE_LDIF)
        return self

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if self.process and self.process.stdout:
            self.process.stdout.close()
        if self._own_folder:
            shutil.rmtree(self.folder, ignore_errors=True)

    def __enter__(self) -> SlapdServer:
        return self.start()

    def __exit__(self, *exc) -> None:
        self.stop()

    # loading and changing entries ---------------------------------------------------------

    def ldapadd(self, ldif: str) -> None:
        result = subprocess.run(
            [LDAPADD, "-x", "-H", self.url, "-D", ROOT_DN, "-w", ROOT_PASSWORD],
            input=ldif.encode(), capture_output=True, timeout=600)
        if result.returncode != 0:
            raise RuntimeError(f"ldapadd failed: {result.stderr.decode(errors='replace')}")

    def admin(self) -> ldap3.Connection:
        return ldap3.Connection(ldap3.Server(self.url, get_info=ldap3.NONE), ROOT_DN,
                                ROOT_PASSWORD, auto_bind=True, raise_exceptions=True)

    def new_ou(self) -> str:
        name = f"t{uuid.uuid4().hex[:10]}"
        self.ldapadd(f"dn: ou={name},{SUFFIX}\nobjectClass: organizationalUnit\nou: {name}\n")
        return f"ou={name},{SUFFIX}"


def person_ldif(base_dn: str, person: Person) -> str:
    lines = [f"dn: uid={person.uid},{base_dn}", "objectClass: inetOrgPerson",
             f"uid: {person.uid}", f"cn: {person.given_name} {person.surname}",
             f"sn: {person.surname}", f"givenName: {person.given_name}",
             f"userPassword: {person.password}"]
    if person.mail:
        lines.append(f"mail: {person.mail}")
    return "\n".join(lines) + "\n"


class Directory:
    """One test's corner of the directory: entries under a fresh `ou=`."""

    def __init__(self, server: SlapdServer):
        self.server = server
        self.base_dn = server.new_ou()

    def dn(self, uid: str) -> str:
        return f"uid={uid},{self.base_dn}"

    def add(self, uid: str, mail: str | None = "", given_name: str = "Given",
            surname: str = "Surname", password: str = "") -> Person:
        person = Person(uid, f"{uid}@example.test" if mail == "" else mail, given_name, surname,
                        password or f"Pw-{uid}-2024")
        self.server.ldapadd(person_ldif(self.base_dn, person))
        return person

    def add_many(self, count: int, prefix: str = "user") -> None:
        self.server.ldapadd("\n".join(
            person_ldif(self.base_dn, Person(f"{prefix}{i}", f"{prefix}{i}@example.test",
                                             f"Given{i}", f"Surname{i}", f"Pw-{i}"))
            for i in range(count)))

    def modify(self, uid: str, **attributes: str | list[str]) -> None:
        changes = {name: [(ldap3.MODIFY_REPLACE, value if isinstance(value, list) else [value])]
                   for name, value in attributes.items()}
        with self.server.admin() as connection:
            connection.modify(self.dn(uid), changes)

    def delete(self, uid: str) -> None:
        with self.server.admin() as connection:
            connection.delete(self.dn(uid))

    def connector_values(self, **overrides) -> dict:
        """Keyword arguments for `do_save_ldap_connector`."""
        values = {"server_urls": [self.server.url], "base_dn": self.base_dn,
                  "bind_dn": READER_DN, "bind_password": READER_PASSWORD}
        values.update(overrides)
        return values


@pytest.fixture(scope="session")
def slapd():
    server = SlapdServer().start()
    yield server
    server.stop()


@pytest.fixture
def directory(slapd) -> Directory:
    return Directory(slapd)
