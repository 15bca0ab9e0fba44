"""System checks for settings that only work together: `manage.py check` (and runserver,
migrate, the test suite) refuse a deployment whose send batches could outlive their lease."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Error, register


@register()
def send_time_limits_check(app_configs, **kwargs) -> list[Error]:
    """batch deadline < Celery soft time limit < hard time limit < dispatch lease.

    A batch stops starting sends at its deadline and records what it did before the soft limit
    interrupts it; the hard limit kills it before its lease expires, so the dispatcher never hands
    rows to a second worker while the first may still be sending them.
    """
    from .sending import RECORD_MARGIN_SECONDS, batch_deadline_seconds, one_send_seconds

    soft, hard = settings.CELERY_TASK_SOFT_TIME_LIMIT, settings.CELERY_TASK_TIME_LIMIT
    lease = settings.DISPATCH_LEASE_SECONDS
    deadline = batch_deadline_seconds()
    errors = []
    if deadline <= 0:
        errors.append(
            Error(
                f"The send batch deadline is {deadline:.0f} s: CELERY_TASK_SOFT_TIME_LIMIT ({soft} s) must exceed "
                f"one send's timeouts ({one_send_seconds():.0f} s, from TWILIO_TIMEOUT and EMAIL_TIMEOUT) "
                f"plus {RECORD_MARGIN_SECONDS:.0f} s to record the results.",
                hint="Raise CELERY_TASK_SOFT_TIME_LIMIT or lower TWILIO_TIMEOUT / EMAIL_TIMEOUT.",
                id="messaging.E001",
            )
        )
    if not soft < hard < lease:
        errors.append(
            Error(
                f"Send tasks need CELERY_TASK_SOFT_TIME_LIMIT ({soft} s) < CELERY_TASK_TIME_LIMIT ({hard} s) "
                f"< DISPATCH_LEASE_SECONDS ({lease} s): otherwise a batch still sending when its lease "
                "expires has its rows handed to another worker.",
                hint="The defaults are 50 s, 60 s and 120 s.",
                id="messaging.E002",
            )
        )
    return errors
