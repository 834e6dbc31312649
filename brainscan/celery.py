"""The Celery app: workers run `predictions.tasks`; settings come from Django's `CELERY_*` names."""

from __future__ import annotations

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "brainscan.settings")

app = Celery("brainscan")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
