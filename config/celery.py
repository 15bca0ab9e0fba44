"""The Celery app. Configuration comes from Django settings (CELERY_* names)."""

import logging.config
import os

from celery import Celery, signals

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("alongside")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()


@signals.setup_logging.connect
def _log_as_django_does(*, loglevel: int | None = None, **kwargs) -> None:
    """Worker and beat log through settings.LOGGING, its masking filter included: without a receiver
    here Celery would replace the root logger's handlers with its own, unmasked ones. --loglevel holds."""
    from django.conf import settings

    logging.config.dictConfig(settings.LOGGING)
    if loglevel:
        logging.getLogger().setLevel(loglevel)
