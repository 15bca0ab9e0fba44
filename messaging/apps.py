import logging

from django.apps import AppConfig
from django.conf import settings


class MessagingConfig(AppConfig):
    name = "messaging"
    verbose_name = "Messaging"

    def ready(self) -> None:
        # One line in every process's log saying where Celery tasks go (Redis or var/).
        logging.getLogger("messaging").info(settings.BROKER_CHOICE)
        from . import bounces, checks, receivers  # noqa: F401 - registers the system checks, connects the receivers
