"""The LDAP wire side (ldap3): connect with failover, StartTLS/LDAPS, bind, paged user search.

No Django imports: it takes an `LdapSettings` and returns typed `DirectoryEntry`s, or raises one
of the typed errors below with a message an administrator can act on. The bind password lives
only in `LdapSettings` (hidden from its repr) and is never logged.
"""

from __future__ import annotations

import contextlib
import re
import ssl
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import ldap3
from ldap3.core import exceptions as ldap_errors
from ldap3.operation.search import parse_filter
from ldap3.utils.dn import parse_dn

PAGE_SIZE = 500
CONNECT_TIMEOUT_SECONDS = 5
RECEIVE_TIMEOUT_SECONDS = 30
_PAGED_RESULTS_OID = "1.2.840.113556.1.4.319"
# LDAP result codes (RFC 4511) that mean "your configuration is wrong", not "server down".
_INVALID_CREDENTIALS = 49
_NO_SUCH_OBJECT = 32
_INVALID_DN_SYNTAX = 34
_UNAVAILABLE_CODES = {51, 52, 80}  # busy, unavailable, other


class LdapError(Exception):
    """Base of the LDAP errors; `str(exc)` is a message fit for an administrator."""


class LdapUnavailable(LdapError):
    """No server answered (down, refused, timed out, TLS handshake failed)."""


class LdapBindFailed(LdapError):
    """The server refused the bind credentials."""


class LdapConfigError(LdapError):
    """The settings are wrong: bad URL, base DN missing, filter refused, attribute missing."""


@dataclass(frozen=True)
class AttributeMap:
    email: str = "mail"
    first_name: str = "givenName"
    last_name: str = "sn"
    unique_id: str = "entryUUID"

    def requested(self) -> list[str]:
        return list(dict.fromkeys([self.email, self.first_name, self.last_name, self.unique_id]))


@dataclass(frozen=True)
class LdapSettings:
    server_urls: tuple[str, ...]
    base_dn: str
    bind_dn: str = ""
    bind_password: str = field(default="", repr=False)
    start_tls: bool = False
    ca_certificate_pem: str = ""
    user_filter: str = "(objectClass=inetOrgPerson)"
    attributes: AttributeMap = field(default_factory=AttributeMap)
    connect_timeout: float = CONNECT_TIMEOUT_SECONDS
    receive_timeout: float = RECEIVE_TIMEOUT_SECONDS


@dataclass(frozen=True)
class DirectoryEntry:
    """One user entry as the directory holds it (email lower-cased, blank when absent)."""

    dn: str
    unique_id: str
    email: str
    first_name: str
    last_name: str


@dataclass(frozen=True)
class ConnectionTestResult:
    ok: bool
    message: str
    server_url: str = ""
    entry_count: int | None = None  # users the filter matches in the first page


# -- validation (also used by the API serializer and the portal form) --------------------------

def validate_server_url(url: str) -> str:
    """Return the URL if it is ldap:// or ldaps:// with a host; else raise LdapConfigError."""
    if not isinstance(url, str) or url != url.strip() or re.search(r"\s", url):
        raise LdapConfigError("A server URL must not contain spaces.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise LdapConfigError(f"{url!r} is not a valid URL.") from None
    if parts.scheme.lower() not in ("ldap", "ldaps"):
        raise LdapConfigError(f"{url!r} must start with ldap:// or ldaps://.")
    if not parts.hostname:
        raise LdapConfigError(f"{url!r} has no host name.")
    try:  # what the resolver will do with it: empty or over-long labels fail there
        parts.hostname.encode("idna")
    except UnicodeError:
        raise LdapConfigError(f"{url!r} has an invalid host name.") from None
    if port == 0:
        raise LdapConfigError(f"{url!r} has an invalid port.")
    if parts.path not in ("", "/") or parts.query or parts.fragment or parts.username:
        raise LdapConfigError(f"{url!r}: give only scheme, host and port.")
    return url


def validate_filter(search_filter: str) -> str:
    try:
        parse_filter(search_filter, None, True, False, None, False)
    except (ldap_errors.LDAPException, ValueError, IndexError, TypeError):
        raise LdapConfigError(
            "The user filter is not a valid LDAP filter, e.g. (objectClass=inetOrgPerson)."
        ) from None
    return search_filter


def validate_dn(dn: str) -> str:
    # ldap3's parser refuses the common "ou=People, dc=example" spacing; RFC 4514 allows it.
    try:
        parse_dn(re.sub(r"(?<!\\)\s*([,=+])\s*", r"\1", dn.strip()))
    except (ldap_errors.LDAPException, ValueError, IndexError, TypeError):
        raise LdapConfigError(f"{dn!r} is not a valid DN, e.g. ou=People,dc=example,dc=com.") \
            from None
    return dn


# -- the client ---------------------------------------------------------------------------------

def _text(values: list[bytes] | None) -> str:
    if not values:
        return ""
    raw = values[0]
    try:
        return raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        # Binary ids: Active Directory's objectGUID is a little-endian UUID.
        return str(uuid.UUID(bytes_le=raw)) if len(raw) == 16 else raw.hex()


class LdapClient:
    def __init__(self, settings: LdapSettings):
        if not settings.server_urls:
            raise LdapConfigError("No LDAP server URL is configured.")
        self.settings = settings

    # connection -------------------------------------------------------------------------------

    def _server(self, url: str) -> ldap3.Server:
        validate_server_url(url)
        # Certificates are always verified: against the configured CA, else the system's.
        tls = ldap3.Tls(validate=ssl.CERT_REQUIRED, sni=urlsplit(url).hostname,
                        ca_certs_data=self.settings.ca_certificate_pem or None)
        return ldap3.Server(url, use_ssl=url.lower().startswith("ldaps://"), tls=tls,
                            get_info=ldap3.NONE, connect_timeout=self.settings.connect_timeout)

    def _bound(self, user: str, password: str) -> tuple[ldap3.Connection, str]:
        """A connection bound as `user` on the first server that answers.

        A server that is down is skipped; a refused bind stops at once (the next server holds
        the same accounts, and trying it would double the failed attempts)."""
        failures = []
        for url in self.settings.server_urls:
            try:  # a URL stored before today's checks: that server is out, not the others
                server = self._server(url)
            except LdapConfigError as exc:
                failures.append(f"{url}: {exc}")
                continue
            connection = ldap3.Connection(
                server, user=user or None, password=password or None,
                authentication=ldap3.SIMPLE if user else ldap3.ANONYMOUS,
                auto_bind=ldap3.AUTO_BIND_NONE, read_only=True, raise_exceptions=False,
                receive_timeout=self.settings.receive_timeout)
            try:
                connection.open()
                if self.settings.start_tls and not url.lower().startswith("ldaps://"):
                    connection.start_tls()
                bound = connection.bind()
            except ldap_errors.LDAPStartTLSError as exc:
                _close(connection)
                failures.append(f"{url}: StartTLS failed ({_reason(exc)})")
                continue
            except ldap_errors.LDAPException as exc:
                _close(connection)
                failures.append(f"{url}: {_reason(exc)}")
                continue
            if bound:
                return connection, url
            code = connection.result.get("result")
            _close(connection)
            if code == _INVALID_CREDENTIALS:
                raise LdapBindFailed(f"{url} refused the bind credentials (invalid credentials).")
            if code in _UNAVAILABLE_CODES:
                failures.append(f"{url}: {connection.result.get('description')}")
                continue
            if code == _INVALID_DN_SYNTAX:
                raise LdapConfigError(f"{url}: the bind DN is not a valid DN.")
            raise LdapBindFailed(f"{url} refused the bind: {_describe(connection.result)}.")
        raise LdapUnavailable("Directory unreachable: " + "; ".join(failures))

    # operations -------------------------------------------------------------------------------

    def test_connection(self) -> ConnectionTestResult:
        """Bind with the service account and run the user search once (first page only)."""
        try:
            connection, url = self._bound(self.settings.bind_dn, self.settings.bind_password)
        except LdapError as exc:
            return ConnectionTestResult(ok=False, message=str(exc))
        try:
            count = len(self._page(connection, cookie=None)[0])
        except LdapError as exc:
            return ConnectionTestResult(ok=False, message=str(exc), server_url=url)
        finally:
            _close(connection)
        more = "+" if count >= PAGE_SIZE else ""
        return ConnectionTestResult(
            ok=True, server_url=url, entry_count=count,
            message=f"Connected to {url}; the filter matches {count}{more} entries.")

    def search_users(self) -> Iterator[DirectoryEntry]:
        """Every entry the filter matches under the base DN, fetched `PAGE_SIZE` at a time."""
        connection, _ = self._bound(self.settings.bind_dn, self.settings.bind_password)
        try:
            cookie = None
            while True:
                entries, cookie = self._page(connection, cookie)
                yield from entries
                if not cookie:
                    return
        finally:
            _close(connection)

    def verify_credentials(self, dn: str, password: str) -> bool:
        """Bind as the user: True when the directory accepts `password` for `dn`.

        Raises LdapUnavailable when no server answers. An empty password is refused here: LDAP
        treats it as an anonymous bind, which "succeeds" for anyone."""
        if not dn or not password:
            return False
        try:
            connection, _ = self._bound(dn, password)
        except (LdapBindFailed, LdapConfigError):
            return False
        _close(connection)
        return True

    def _page(self, connection: ldap3.Connection, cookie: bytes | None
              ) -> tuple[list[DirectoryEntry], bytes | None]:
        attributes = self.settings.attributes
        try:
            ok = connection.search(
                self.settings.base_dn, self.settings.user_filter, ldap3.SUBTREE,
                attributes=attributes.requested(), paged_size=PAGE_SIZE, paged_cookie=cookie)
        except ldap_errors.LDAPInvalidFilterError:
            raise LdapConfigError("The user filter is not a valid LDAP filter.") from None
        except ldap_errors.LDAPCommunicationError as exc:
            raise LdapUnavailable(f"Directory unreachable during the search: {_reason(exc)}") \
                from None
        except ldap_errors.LDAPException as exc:
            raise LdapConfigError(f"The search failed: {_reason(exc)}") from None
        result = connection.result
        if not ok and result.get("result") not in (0, None):
            code = result.get("result")
            if code == _NO_SUCH_OBJECT:
                raise LdapConfigError(f"The base DN {self.settings.base_dn!r} does not exist.")
            if code == _INVALID_DN_SYNTAX:
                raise LdapConfigError(f"The base DN {self.settings.base_dn!r} is not a valid DN.")
            if code in _UNAVAILABLE_CODES:
                raise LdapUnavailable(f"Directory unavailable: {_describe(result)}.")
            raise LdapConfigError(f"The search failed: {_describe(result)}.")
        entries = [
            DirectoryEntry(
                dn=item["dn"],
                unique_id=_text(item["raw_attributes"].get(attributes.unique_id)),
                email=_text(item["raw_attributes"].get(attributes.email)).lower(),
                first_name=_text(item["raw_attributes"].get(attributes.first_name)),
                last_name=_text(item["raw_attributes"].get(attributes.last_name)),
            )
            for item in connection.response or ()
            if item.get("type") == "searchResEntry"
        ]
        controls = result.get("controls") or {}
        next_cookie = controls.get(_PAGED_RESULTS_OID, {}).get("value", {}).get("cookie")
        return entries, next_cookie or None


def _close(connection: ldap3.Connection) -> None:
    with contextlib.suppress(ldap_errors.LDAPException, OSError):  # already broken: fine
        connection.unbind()


def _reason(exc: Exception) -> str:
    # ldap3 nests its messages in exception args and one-element tuples: unwrap to the text.
    detail: object = exc
    for _ in range(5):
        args = detail.args if isinstance(detail, BaseException) else detail
        if not isinstance(args, tuple) or not args:
            break
        detail = args[0]
    text = type(detail).__name__ if isinstance(detail, BaseException) else str(detail)
    text = text.replace("socket connection error while opening: ", "")
    if "CERTIFICATE_VERIFY_FAILED" in text:
        text += "; the server's certificate is not trusted: add the CA certificate that signed it"
    return text


def _describe(result: dict) -> str:
    message = (result.get("message") or "").strip()
    description = result.get("description") or f"result {result.get('result')}"
    return f"{description} ({message})" if message else description
