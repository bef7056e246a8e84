"""Project package: settings, URLs, the Celery app and cross-cutting pieces (tenancy, API)."""

from mdm_server.celery import app as celery_app

__all__ = ("celery_app",)
