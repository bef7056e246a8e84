"""Configuration: embedded defaults, production requirements, clear errors on bad values."""

import base64
import os
import subprocess
import sys
from pathlib import Path

import pytest

from core.config import BASE_DIR, ConfigError, load_config, parse_database_url

KEY = base64.urlsafe_b64encode(b"k" * 32).decode()


def test_embedded_defaults_need_no_service(tmp_path):
    config = load_config({"MDM_DATA_DIR": str(tmp_path)})
    assert config.mode == "embedded"
    assert config.database["ENGINE"] == "django.db.backends.sqlite3"
    assert config.database["NAME"] == str(tmp_path / "mdm.sqlite3")
    assert config.broker_url == "filesystem://"
    assert (tmp_path / "broker" / "queue").is_dir()
    # Generated secrets are persisted (0600) so a restart keeps sessions and encrypted data.
    again = load_config({"MDM_DATA_DIR": str(tmp_path)})
    assert config.secret_key == again.secret_key and len(config.secret_key) >= 50
    assert config.encryption_key == again.encryption_key and len(config.encryption_key) == 32
    assert oct((tmp_path / "secret_key").stat().st_mode & 0o777) == "0o600"


def test_production_requires_secrets_database_and_https(tmp_path):
    base = {"MDM_MODE": "production", "MDM_DATA_DIR": str(tmp_path)}
    with pytest.raises(ConfigError, match="SECRET_KEY is required"):
        load_config(base)
    base["SECRET_KEY"] = "x" * 40
    with pytest.raises(ConfigError, match="MDM_ENCRYPTION_KEY is required"):
        load_config(base)
    base["MDM_ENCRYPTION_KEY"] = KEY
    with pytest.raises(ConfigError, match="DATABASE_URL is required"):
        load_config(base)
    base["DATABASE_URL"] = "postgres://mdm:pw@db:5433/mdm"
    with pytest.raises(ConfigError, match="https"):
        load_config(base)
    base["MDM_PUBLIC_URL"] = "https://mdm.example.com/"
    config = load_config(base)
    assert config.public_url == "https://mdm.example.com"
    assert config.database["HOST"] == "db" and config.database["PORT"] == "5433"
    assert config.database["USER"] == "mdm" and config.database["PASSWORD"] == "pw"
    assert "mdm.example.com" in config.allowed_hosts


@pytest.mark.parametrize(("name", "value", "message"), [
    ("MDM_MODE", "staging", "MDM_MODE must be"),
    ("DATABASE_URL", "mysql://x/y", "DATABASE_URL scheme"),
    ("DATABASE_URL", "postgres://host/", "must name a database"),
    ("DATABASE_URL", "postgres://host:notaport/db", "invalid port"),
    ("CELERY_BROKER_URL", "memory://", "memory:// does not work"),
    ("REDIS_URL", "http://cache", "REDIS_URL must be"),
    ("MDM_PUBLIC_URL", "ftp://x", "MDM_PUBLIC_URL must be"),
    ("MDM_ENCRYPTION_KEY", "c2hvcnQ=", "32 bytes"),
    ("MDM_ENCRYPTION_KEY", "@@@", "urlsafe base64"),
    ("SECRET_KEY", "short", "at least 32"),
    ("EMAIL_PORT", "smtp", "EMAIL_PORT must be an integer"),
    ("EMAIL_USE_TLS", "maybe", "EMAIL_USE_TLS must be a boolean"),
    ("MDM_SCEP_CHALLENGE_TTL_MINUTES", "0", "between 1"),
])
def test_bad_values_name_the_variable(tmp_path, name, value, message):
    with pytest.raises(ConfigError, match=message):
        load_config({"MDM_DATA_DIR": str(tmp_path), name: value})


def test_sqlite_url_forms(tmp_path):
    assert parse_database_url("sqlite:////abs/db.sqlite3", tmp_path)["NAME"] == "/abs/db.sqlite3"
    assert parse_database_url("sqlite:///rel.sqlite3", tmp_path)["NAME"] == str(
        BASE_DIR / "rel.sqlite3")


def test_bad_env_value_is_a_clear_startup_error(tmp_path):
    env = {**os.environ, "MDM_DATA_DIR": str(tmp_path), "DATABASE_URL": "mysql://nope/db"}
    result = subprocess.run([sys.executable, "manage.py", "check"], cwd=BASE_DIR, env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "Invalid configuration: DATABASE_URL scheme must be postgres:// or sqlite://" in (
        result.stderr)
    assert Path(tmp_path).exists()


def test_database_health_checks_are_a_setting(tmp_path):
    base = {"MDM_DATA_DIR": str(tmp_path), "DATABASE_URL": "postgres://mdm@db/mdm"}
    assert load_config(base).database["CONN_HEALTH_CHECKS"] is False
    on = load_config({**base, "MDM_DB_HEALTH_CHECKS": "true"})
    assert on.database["CONN_HEALTH_CHECKS"] is True and on.database["CONN_MAX_AGE"] == 60
    with pytest.raises(ConfigError, match="MDM_DB_HEALTH_CHECKS"):
        load_config({**base, "MDM_DB_HEALTH_CHECKS": "sometimes"})


def test_database_url_with_a_unix_socket(tmp_path):
    database = parse_database_url("postgres://mdm@%2Fvar%2Frun%2Fpostgresql/mdm", tmp_path)
    assert database["HOST"] == "/var/run/postgresql" and database["NAME"] == "mdm"
    assert parse_database_url("postgres://mdm@DB.example:5433/mdm", tmp_path)["HOST"] == \
        "db.example"
    assert parse_database_url("postgres://localhost/mdm", tmp_path)["PORT"] == "5432"
