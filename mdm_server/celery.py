"""The Celery application; configuration comes from Django settings (CELERY_* names)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "mdm_server.settings")

app = Celery("mdm_server")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
