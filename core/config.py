"""Typed settings read from the environment, with embedded defaults that need no service.

`load_config(environ)` is pure (no Django imports) so it can be tested with any mapping; a bad
value raises `ConfigError` naming the variable, which `settings.py` turns into a start-up error.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import os
import re
import secrets
import socket
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal
from urllib.parse import unquote, urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent

Mode = Literal["embedded", "production"]


class ConfigError(ValueError):
    """A setting from the environment is missing or malformed."""


@dataclass(frozen=True)
class EmailConfig:
    backend: str
    host: str
    port: int
    user: str
    password: str
    use_tls: bool
    default_from: str


@dataclass(frozen=True)
class Config:
    mode: Mode
    debug: bool
    data_dir: Path
    secret_key: str
    encryption_key: bytes
    database: dict
    broker_url: str
    broker_transport_options: dict
    redis_url: str | None
    public_url: str
    allowed_hosts: list[str]
    email: EmailConfig
    scep_challenge_ttl_minutes: int
    registration_ttl_hours: int
    account_token_ttl_minutes: int
    certificate_validity_days: int
    login_attempt_limit: int
    cache_key_prefix: str
    public_url_origin: str = "set by MDM_PUBLIC_URL"  # or how it was derived from MDM_BIND
    bind: Bind | None = None
    # This deployment's MDM vendor certificate (PEM: certificate, Apple's WWDR intermediate,
    # Apple Root CA) and its key: signs push certificate requests of tenants without their own.
    vendor_certificate_file: Path | None = None
    vendor_key_file: Path | None = None
    vendor_key_password: str = ""
    extra: dict = field(default_factory=dict)


def _bool(env: dict, name: str, default: bool) -> bool:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    lowered = raw.strip().lower()
    if lowered in {"1", "true", "yes", "on"}:
        return True
    if lowered in {"0", "false", "no", "off"}:
        return False
    raise ConfigError(f"{name} must be a boolean (true/false), got {raw!r}")


def _int(env: dict, name: str, default: int, *, minimum: int = 0, maximum: int = 10**9) -> int:
    raw = env.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be an integer, got {raw!r}") from None
    if not minimum <= value <= maximum:
        raise ConfigError(f"{name} must be between {minimum} and {maximum}, got {value}")
    return value


def _persisted_secret(path: Path, make: callable) -> str:
    """Read a generated secret from the data folder, creating it (mode 0600) on first use."""
    if path.exists():
        return path.read_text().strip()
    path.parent.mkdir(parents=True, exist_ok=True)
    value = make()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def _database_host(parts) -> str:
    """The host, or a Unix socket directory given percent-encoded (it keeps its case)."""
    raw = parts.netloc.rsplit("@", 1)[-1]
    if raw[:3].lower() == "%2f":
        return unquote(raw.split(":", 1)[0])
    return parts.hostname or "127.0.0.1"


def parse_database_url(url: str, data_dir: Path) -> dict:
    """`postgres://user:pw@host:port/name` or `sqlite:///path` as a Django DATABASES entry."""
    parts = urlsplit(url)
    if parts.scheme == "sqlite":
        raw_path = unquote(parts.path)
        if raw_path.startswith("//"):  # sqlite:////absolute/path
            path = Path(raw_path[1:])
        else:
            path = Path(raw_path.lstrip("/")) if raw_path else data_dir / "mdm.sqlite3"
            if not path.is_absolute():
                path = BASE_DIR / path
        return {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(path),
            # WAL + IMMEDIATE let the web server, worker and beat share the file without
            # "database is locked" errors under write contention.
            "OPTIONS": {
                "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
            },
        }
    if parts.scheme in {"postgres", "postgresql", "pgsql"}:
        name = parts.path.lstrip("/")
        if not name:
            raise ConfigError("DATABASE_URL must name a database, e.g. postgres://host/mdm")
        try:
            port = parts.port or 5432
        except ValueError:
            raise ConfigError(f"DATABASE_URL has an invalid port: {url!r}") from None
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(name),
            "USER": unquote(parts.username or "postgres"),
            "PASSWORD": unquote(parts.password or ""),
            # A percent-encoded path is a Unix socket directory: postgres://%2Fvar%2Frun%2Fpostgresql/mdm
            "HOST": _database_host(parts),
            "PORT": str(port),
            "CONN_MAX_AGE": 60,
            # A health check is one more round trip on every request (a third of an Idle's
            # time): off by default; a broken connection fails one request, then is replaced.
            "CONN_HEALTH_CHECKS": False,
        }
    raise ConfigError(
        f"DATABASE_URL scheme must be postgres:// or sqlite://, got {parts.scheme or url!r}"
    )


def _broker(env: dict, data_dir: Path) -> tuple[str, dict]:
    url = env.get("CELERY_BROKER_URL", "").strip() or "filesystem://"
    scheme = urlsplit(url).scheme
    if scheme not in {"filesystem", "redis", "rediss", "amqp", "sqla+sqlite", "sqla+postgresql"}:
        raise ConfigError(
            f"CELERY_BROKER_URL scheme {scheme!r} is not supported "
            "(use redis://, amqp:// or filesystem://; memory:// does not work across processes)"
        )
    if scheme == "filesystem":
        folder = data_dir / "broker"
        for sub in ("queue", "processed", "control"):
            (folder / sub).mkdir(parents=True, exist_ok=True)
        return url, {
            "data_folder_in": str(folder / "queue"),
            "data_folder_out": str(folder / "queue"),
            "processed_folder": str(folder / "processed"),
            "control_folder": str(folder / "control"),
            "store_processed": False,
        }
    return url, {"visibility_timeout": 3600}


DEFAULT_BIND = "127.0.0.1:8000"
ALL_INTERFACES = {"", "0.0.0.0", "::"}  # noqa: S104 - names, compared with, not bound to
_HOSTNAME = re.compile(r"^[A-Za-z0-9]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_-]{1,63})*\.?$")


@dataclass(frozen=True)
class Bind:
    """Where the web server listens (`MDM_BIND`, `serve --bind`): a TCP host and port, or
    None for both when it is a Unix socket or file descriptor (a proxy in front names the
    server)."""

    raw: str
    host: str | None
    port: int | None

    @property
    def all_interfaces(self) -> bool:
        return self.host in ALL_INTERFACES


def parse_bind(raw: str, name: str = "MDM_BIND") -> Bind:
    """gunicorn's bind forms: HOST:PORT, [IPV6]:PORT, HOST (port 8000), :PORT (all
    interfaces), tcp://..., unix:PATH, fd://N. Raises ConfigError naming `name`."""
    value = raw.strip()
    if value.startswith(("unix:", "fd://")):
        return Bind(value, None, None)
    address = value.removeprefix("tcp://")
    if address.startswith("["):
        host, bracket, rest = address[1:].partition("]")
        if not bracket or (rest and not rest.startswith(":")):
            raise ConfigError(f"{name} must be HOST:PORT or [IPV6]:PORT, got {raw!r}")
        port_text = rest[1:] or "8000"
        try:
            host = str(ipaddress.IPv6Address(host))
        except ValueError:
            raise ConfigError(f"{name} has an invalid IPv6 address: {raw!r}") from None
    else:
        if address.count(":") > 1:  # a URL, or an IPv6 address without its brackets
            raise ConfigError(f"{name} must be HOST:PORT or [IPV6]:PORT, got {raw!r}")
        host, _, port_text = address.partition(":") if ":" in address else (address, "", "8000")
        host = host.lower()
        if host and not _valid_host(host):
            raise ConfigError(f"{name} has an invalid host: {raw!r}")
    if not (port_text.isascii() and port_text.isdigit()) or not 1 <= int(port_text) <= 65535:
        raise ConfigError(f"{name} port must be a number from 1 to 65535, got {raw!r}")
    return Bind(value, host, int(port_text))


def _valid_host(host: str) -> bool:
    try:
        ipaddress.IPv4Address(host)
        return True
    except ValueError:
        return bool(_HOSTNAME.match(host)) and not host.replace(".", "").isdigit()


def _bound_host(bind: Bind) -> tuple[str, str]:
    """(host for URLs, why): listening on every interface names no address, so devices are
    sent to this machine's hostname (127.0.0.1 when it has no usable one)."""
    if not bind.all_interfaces:
        return bind.host, "the address it listens on"
    name = socket.gethostname().strip().lower().rstrip(".")
    if name and name != "localhost" and _valid_host(name):
        return name, "this machine's hostname, as it listens on all interfaces"
    return "127.0.0.1", ("127.0.0.1, as it listens on all interfaces and this machine has no "
                         "usable hostname")


def _public_url(env: dict, mode: Mode, bind: Bind) -> tuple[str, str]:
    """(MDM_PUBLIC_URL, where it came from). Unset in embedded mode: derived from the bind
    address, so links, QR codes and profiles point where `bin/serve` listens."""
    url = env.get("MDM_PUBLIC_URL", "").strip()
    if not url:
        if mode == "production":
            raise ConfigError("MDM_PUBLIC_URL is required in production: the https:// URL "
                              "devices reach (devices require TLS)")
        if bind.host is None:
            raise ConfigError(f"MDM_PUBLIC_URL must be set when MDM_BIND is not a TCP address "
                              f"({bind.raw!r}): no URL can be derived from it")
        host, why = _bound_host(bind)
        shown = f"[{host}]" if ":" in host else host
        return (f"http://{shown}" + ("" if bind.port == 80 else f":{bind.port}"),
                f"derived from the bind address {bind.raw} (serve --bind, MDM_BIND): {why}; "
                "set MDM_PUBLIC_URL to choose another")
    parts = urlsplit(url)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ConfigError(f"MDM_PUBLIC_URL must be an http(s) URL, got {url!r}")
    if mode == "production" and parts.scheme != "https":
        raise ConfigError("MDM_PUBLIC_URL must use https:// in production: devices require TLS")
    return url.rstrip("/"), "set by MDM_PUBLIC_URL"


def public_url_for_bind(bind: str, environ: dict | None = None) -> tuple[str, str]:
    """The public URL (and its origin) the server will use when it listens on `bind`: what
    `serve --bind` passes to its web server and workers as MDM_BIND."""
    env = dict(os.environ if environ is None else environ)
    mode = env.get("MDM_MODE", "embedded").strip() or "embedded"
    return _public_url(env, mode, parse_bind(bind, "--bind"))


def _encryption_key(env: dict, mode: Mode, data_dir: Path) -> bytes:
    raw = env.get("MDM_ENCRYPTION_KEY", "").strip()
    if not raw:
        if mode == "production":
            raise ConfigError(
                "MDM_ENCRYPTION_KEY is required in production "
                "(32 random bytes, urlsafe base64: python -c "
                "'import base64,os;print(base64.urlsafe_b64encode(os.urandom(32)).decode())')"
            )
        raw = _persisted_secret(
            data_dir / "encryption.key",
            lambda: base64.urlsafe_b64encode(os.urandom(32)).decode(),
        )
    try:
        key = base64.b64decode(raw.encode(), altchars=b"-_", validate=True)
    except (binascii.Error, ValueError):
        raise ConfigError("MDM_ENCRYPTION_KEY must be urlsafe base64") from None
    if len(key) != 32:
        raise ConfigError(f"MDM_ENCRYPTION_KEY must decode to 32 bytes, got {len(key)}")
    return key


def _vendor_files(env: dict) -> tuple[Path | None, Path | None]:
    certificate = env.get("MDM_VENDOR_CERTIFICATE_FILE", "").strip()
    key = env.get("MDM_VENDOR_KEY_FILE", "").strip()
    if key and not certificate:
        raise ConfigError("MDM_VENDOR_KEY_FILE is set without MDM_VENDOR_CERTIFICATE_FILE "
                          "(the vendor certificate followed by Apple's chain, PEM)")
    for name, value in (("MDM_VENDOR_CERTIFICATE_FILE", certificate),
                        ("MDM_VENDOR_KEY_FILE", key)):
        if value and not Path(value).is_file():
            raise ConfigError(f"{name} does not name a file: {value!r}")
    return (Path(certificate) if certificate else None), (Path(key) if key else None)


def load_config(environ: dict | None = None) -> Config:
    env = dict(os.environ if environ is None else environ)
    mode = env.get("MDM_MODE", "embedded").strip() or "embedded"
    if mode not in ("embedded", "production"):
        raise ConfigError(f"MDM_MODE must be 'embedded' or 'production', got {mode!r}")
    data_dir = Path(env.get("MDM_DATA_DIR", "") or BASE_DIR / "data").resolve()

    secret_key = env.get("SECRET_KEY", "").strip()
    if not secret_key:
        if mode == "production":
            raise ConfigError("SECRET_KEY is required in production")
        secret_key = _persisted_secret(data_dir / "secret_key", lambda: secrets.token_urlsafe(50))
    elif len(secret_key) < 32:
        raise ConfigError("SECRET_KEY must be at least 32 characters")

    encryption_key = _encryption_key(env, mode, data_dir)
    default_db = f"sqlite:///{data_dir / 'mdm.sqlite3'}"
    if mode == "production" and not env.get("DATABASE_URL"):
        raise ConfigError("DATABASE_URL is required in production (postgres://...)")
    database = parse_database_url(env.get("DATABASE_URL", "") or default_db, data_dir)
    if database["ENGINE"].endswith("postgresql"):
        database["CONN_HEALTH_CHECKS"] = _bool(env, "MDM_DB_HEALTH_CHECKS", False)
    broker_url, broker_options = _broker(env, data_dir)

    redis_url = env.get("REDIS_URL", "").strip() or None
    if redis_url and urlsplit(redis_url).scheme not in {"redis", "rediss", "unix"}:
        raise ConfigError(f"REDIS_URL must be a redis:// URL, got {redis_url!r}")

    bind = parse_bind(env.get("MDM_BIND", "").strip() or DEFAULT_BIND)
    public_url, public_url_origin = _public_url(env, mode, bind)
    vendor_certificate_file, vendor_key_file = _vendor_files(env)
    hosts = [h.strip() for h in env.get("MDM_ALLOWED_HOSTS", "").split(",") if h.strip()]
    if not hosts:
        named = [urlsplit(public_url).hostname, "localhost", "127.0.0.1", "testserver"]
        if bind.host and not bind.all_interfaces:
            named.append(bind.host)  # the address it listens on answers too
        for host in named:  # Django matches IPv6 hosts in brackets
            host = f"[{host}]" if ":" in host else host
            if host not in hosts:
                hosts.append(host)

    email_backend = env.get("EMAIL_BACKEND", "").strip() or (
        "django.core.mail.backends.smtp.EmailBackend"
        if env.get("EMAIL_HOST")
        else "django.core.mail.backends.console.EmailBackend"
    )
    email = EmailConfig(
        backend=email_backend,
        host=env.get("EMAIL_HOST", "localhost"),
        port=_int(env, "EMAIL_PORT", 587, minimum=1, maximum=65535),
        user=env.get("EMAIL_HOST_USER", ""),
        password=env.get("EMAIL_HOST_PASSWORD", ""),
        use_tls=_bool(env, "EMAIL_USE_TLS", True),
        default_from=env.get("DEFAULT_FROM_EMAIL", "MDM <mdm@localhost>"),
    )

    return Config(
        mode=mode,
        debug=_bool(env, "MDM_DEBUG", False),
        data_dir=data_dir,
        secret_key=secret_key,
        encryption_key=encryption_key,
        database=database,
        broker_url=broker_url,
        broker_transport_options=broker_options,
        redis_url=redis_url,
        public_url=public_url,
        public_url_origin=public_url_origin,
        bind=bind,
        allowed_hosts=hosts,
        email=email,
        scep_challenge_ttl_minutes=_int(env, "MDM_SCEP_CHALLENGE_TTL_MINUTES", 10, minimum=1),
        registration_ttl_hours=_int(env, "MDM_REGISTRATION_TTL_HOURS", 72, minimum=1,
                                    maximum=24 * 90),
        account_token_ttl_minutes=_int(env, "MDM_ACCOUNT_TOKEN_TTL_MINUTES", 15, minimum=1,
                                       maximum=24 * 60),
        certificate_validity_days=_int(env, "MDM_CERTIFICATE_VALIDITY_DAYS", 365, minimum=1),
        login_attempt_limit=_int(env, "MDM_LOGIN_ATTEMPT_LIMIT", 10, minimum=1),
        cache_key_prefix=env.get("MDM_CACHE_KEY_PREFIX", "").strip(),
        vendor_certificate_file=vendor_certificate_file,
        vendor_key_file=vendor_key_file,
        vendor_key_password=env.get("MDM_VENDOR_KEY_PASSWORD", ""),
    )
