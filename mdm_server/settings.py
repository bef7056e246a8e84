"""Django settings. Every value comes from `config.load_config()`; see README "Settings"."""

from django.core.exceptions import ImproperlyConfigured

from core.config import BASE_DIR, ConfigError, load_config

try:
    CONFIG = load_config()
except ConfigError as exc:
    raise ImproperlyConfigured(f"Invalid configuration: {exc}") from None

SECRET_KEY = CONFIG.secret_key
DEBUG = CONFIG.debug
ALLOWED_HOSTS = CONFIG.allowed_hosts
MDM_PUBLIC_URL = CONFIG.public_url
MDM_ENCRYPTION_KEY = CONFIG.encryption_key
MDM_DATA_DIR = CONFIG.data_dir
MDM_SCEP_CHALLENGE_TTL_MINUTES = CONFIG.scep_challenge_ttl_minutes
MDM_REGISTRATION_TTL_HOURS = CONFIG.registration_ttl_hours
MDM_ACCOUNT_TOKEN_TTL_MINUTES = CONFIG.account_token_ttl_minutes
MDM_CERTIFICATE_VALIDITY_DAYS = CONFIG.certificate_validity_days
MDM_LOGIN_ATTEMPT_LIMIT = CONFIG.login_attempt_limit
MDM_VENDOR_CERTIFICATE_FILE = CONFIG.vendor_certificate_file
MDM_VENDOR_KEY_FILE = CONFIG.vendor_key_file
MDM_VENDOR_KEY_PASSWORD = CONFIG.vendor_key_password

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "mdm_server",
    "users",
    "audit",
    "enrollment",
    "devices",
    "profiles",
]

MIDDLEWARE = [
    "mdm_server.device_endpoints.DeviceEndpointsMiddleware",  # devices skip the rest
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "tenants.tenancy.TenantMiddleware",
]

ROOT_URLCONF = "mdm_server.urls"
WSGI_APPLICATION = "mdm_server.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "tenants.tenancy.tenant_context",
            ],
        },
    },
]

DATABASES = {"default": CONFIG.database}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "users.User"
AUTHENTICATION_BACKENDS = ["users.auth.TenantEmailBackend"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
     "OPTIONS": {"min_length": 10}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Email is unique per tenant, not globally: authentication always takes the tenant.
SILENCED_SYSTEM_CHECKS = ["auth.E003", "auth.W004"]

if CONFIG.redis_url:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache",
                          "LOCATION": CONFIG.redis_url, "KEY_PREFIX": CONFIG.cache_key_prefix}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.db.DatabaseCache",
                          "LOCATION": "mdm_cache", "KEY_PREFIX": CONFIG.cache_key_prefix}}

SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = CONFIG.mode == "production"
CSRF_COOKIE_SECURE = CONFIG.mode == "production"
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
CSRF_TRUSTED_ORIGINS = [CONFIG.public_url]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = CONFIG.data_dir / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns on a missing root
STATICFILES_DIRS = [BASE_DIR / "static"]
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedStaticFilesStorage"},
}
WHITENOISE_USE_FINDERS = True

EMAIL_BACKEND = CONFIG.email.backend
EMAIL_HOST = CONFIG.email.host
EMAIL_PORT = CONFIG.email.port
EMAIL_HOST_USER = CONFIG.email.user
EMAIL_HOST_PASSWORD = CONFIG.email.password
EMAIL_USE_TLS = CONFIG.email.use_tls
DEFAULT_FROM_EMAIL = CONFIG.email.default_from

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "users.api.authentication.ApiTokenAuthentication",
        "users.api.authentication.AdminSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.api.permissions.IsTenantAdmin"],
    # JSON only: the schema's types (booleans, integers, lists) are what a client sends.
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.StandardPagination",
    "DEFAULT_FILTER_BACKENDS": ["core.filters.ApiFilterBackend"],
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.ApiAutoSchema",
    "EXCEPTION_HANDLER": "core.api.errors.json_exception_handler",
    "DEFAULT_METADATA_CLASS": "core.api.metadata.SchemaPointerMetadata",
    "UNAUTHENTICATED_USER": None,
    "DEFAULT_THROTTLE_RATES": {"login": "10/minute"},
}
SPECTACULAR_SETTINGS = {
    "TITLE": "MDM enrollment server API",
    "DESCRIPTION": "Tenant-scoped REST API. Authenticate with `Authorization: Bearer <token>`.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "PlatformEnum": "core.platforms.Platform",
        "DeviceStateEnum": "devices.models.DeviceState",
        "RegistrationStateEnum": "enrollment.models.RegistrationState",
        "RevocationReasonEnum": "enrollment.models.RevocationReason",
    },
}

CELERY_BROKER_URL = CONFIG.broker_url
CELERY_BROKER_TRANSPORT_OPTIONS = CONFIG.broker_transport_options
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_IGNORE_RESULT = True
CELERY_BEAT_SCHEDULE_FILENAME = str(CONFIG.data_dir / "celerybeat-schedule")
CELERY_BEAT_SCHEDULE: dict = {
    # Each run syncs only the connectors whose own interval has elapsed.
    "sync-ldap-directories": {"task": "users.sync_ldap_directories", "schedule": 5 * 60.0},
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": "INFO"},
    "loggers": {"django.db.backends": {"level": "WARNING"}},
}

# --- Pushes (APNs, FCM), registration reminders, expiry sweeps (devices.push, enrollment.tasks)
# Read here with config.py's typed helpers; see README "Settings".
import os  # noqa: E402
from pathlib import Path  # noqa: E402

from core.config import _bool as _env_bool  # noqa: E402
from core.config import _int as _env_int  # noqa: E402


def _push_settings(env) -> dict:
    environment = env.get("MDM_APNS_ENVIRONMENT", "").strip() or "production"
    if environment not in ("production", "sandbox"):
        raise ConfigError(f"MDM_APNS_ENVIRONMENT must be production or sandbox, "
                          f"got {environment!r}")
    default_host = ("https://api.push.apple.com" if environment == "production"
                    else "https://api.sandbox.push.apple.com")
    ca_file = env.get("MDM_APNS_CA_FILE", "").strip()
    if ca_file and not Path(ca_file).is_file():
        raise ConfigError(f"MDM_APNS_CA_FILE does not name a file: {ca_file!r}")
    return {
        "MDM_APNS_URL": (env.get("MDM_APNS_URL", "").strip() or default_host).rstrip("/"),
        "MDM_APNS_CA_FILE": ca_file or None,
        "MDM_FCM_URL": (env.get("MDM_FCM_URL", "").strip()
                        or "https://fcm.googleapis.com").rstrip("/"),
        "MDM_PUSH_BATCH_SIZE": _env_int(env, "MDM_PUSH_BATCH_SIZE", 500, minimum=1,
                                        maximum=10_000),
        "MDM_PUSH_CONCURRENCY": _env_int(env, "MDM_PUSH_CONCURRENCY", 32, minimum=1,
                                         maximum=1000),
        "MDM_PUSH_MAX_RETRIES": _env_int(env, "MDM_PUSH_MAX_RETRIES", 3, maximum=10),
        "MDM_PUSH_BACKOFF_MS": _env_int(env, "MDM_PUSH_BACKOFF_MS", 500, maximum=600_000),
        "MDM_PUSH_ATTEMPT_RETENTION_DAYS": _env_int(env, "MDM_PUSH_ATTEMPT_RETENTION_DAYS", 30,
                                                    minimum=1),
        "MDM_SWEEP_BATCH_SIZE": _env_int(env, "MDM_SWEEP_BATCH_SIZE", 1000, minimum=1,
                                         maximum=50_000),
        "MDM_SWEEP_INTERVAL_SECONDS": _env_int(env, "MDM_SWEEP_INTERVAL_SECONDS", 60, minimum=1),
        "MDM_REMINDER_SCAN_SECONDS": _env_int(env, "MDM_REMINDER_SCAN_SECONDS", 300, minimum=1),
        "MDM_REMINDER_EMAIL_FALLBACK": _env_bool(env, "MDM_REMINDER_EMAIL_FALLBACK", True),
        "MDM_BROKER_VISIBILITY_TIMEOUT": _env_int(env, "MDM_BROKER_VISIBILITY_TIMEOUT", 3600,
                                                  minimum=1),
        "CELERY_TASK_DEFAULT_QUEUE": env.get("MDM_CELERY_QUEUE", "").strip() or "celery",
    }


try:
    globals().update(_push_settings(os.environ))
except ConfigError as exc:
    raise ImproperlyConfigured(f"Invalid configuration: {exc}") from None

# A task of a worker killed mid-run (acks_late) goes back to the queue after this long.
if CELERY_BROKER_URL.startswith(("redis", "rediss")):
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        **CELERY_BROKER_TRANSPORT_OPTIONS,
        "visibility_timeout": MDM_BROKER_VISIBILITY_TIMEOUT,  # noqa: F821
        # Look for such messages every few seconds (kombu's default is every ~100 s).
        "unacked_restore_interval": min(10, MDM_BROKER_VISIBILITY_TIMEOUT),  # noqa: F821
        "unacked_restore_throttle": 1,
    }
CELERY_BEAT_SCHEDULE.update({
    "expire-enrollment-objects": {"task": "enrollment.run_expiry_sweeps",
                                  "schedule": float(MDM_SWEEP_INTERVAL_SECONDS)},  # noqa: F821
    "send-registration-reminders": {"task": "enrollment.send_reminders",
                                    "schedule": float(MDM_REMINDER_SCAN_SECONDS)},  # noqa: F821
    "check-apns-certificates": {"task": "devices.check_apns_certificates",
                                "schedule": 6 * 3600.0},
    "purge-push-attempts": {"task": "devices.purge_push_attempts", "schedule": 24 * 3600.0},
    "identity-renewals": {"task": "devices.scan_identity_renewals", "schedule": 60.0},
})

# Android Enterprise (devices/android/tasks.py)
CELERY_BEAT_SCHEDULE.update({
    "android-reconcile": {"task": "android.reconcile_all", "schedule": 15 * 60.0},
    "android-revoke-ended-tokens": {"task": "android.revoke_ended_tokens", "schedule": 60.0},
    "android-refresh-operations": {"task": "android.refresh_operations", "schedule": 5 * 60.0},
    "android-purge-processed-messages": {"task": "android.purge_processed_messages",
                                         "schedule": 24 * 3600.0},
})
# Not an app's `tasks` module, so autodiscovery does not see it: import it in every worker.
CELERY_IMPORTS = (*globals().get("CELERY_IMPORTS", ()), "devices.android.tasks",
                  "enrollment.android.tasks")
# httpx logs every request at INFO: thousands of lines per push batch.
LOGGING["loggers"]["httpx"] = {"level": "WARNING"}
