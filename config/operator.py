"""Operator alerts that no provider raises: a service-wide or clinic cap was reached, say.

`operator_alert` says it once per key while it lasts: an ERROR line starting "OPERATOR ALERT" (for
log monitoring), an email to OPERATOR_EMAILS (Django's ADMINS), and a line in /healthz's `alerts`
until it expires. Kept in the shared cache: an alert lost with Redis is raised again next time.
"""

from __future__ import annotations

import logging
import time

from django.core.cache import cache
from django.core.mail import mail_admins

logger = logging.getLogger("config.operator")
_ACTIVE = "operator-alerts"


def operator_alert(*, key: str, subject: str, message: str, seconds: int) -> None:
    """Raise `message` for `seconds`, unless the same `key` is already raised. Never fails its caller."""
    if not cache.add(f"operator-alert:{key}", 1, timeout=seconds):
        return
    logger.error("OPERATOR ALERT: %s", message)
    active = {k: v for k, v in (cache.get(_ACTIVE) or {}).items() if v[1] > time.time()}
    active[key] = (message, time.time() + seconds)
    cache.set(_ACTIVE, active, timeout=seconds)
    # An alert must not turn into an error for the family or staff member whose request hit the cap.
    mail_admins(subject, message, fail_silently=True)


def operator_alerts() -> list[str]:
    """The alerts raised and not yet expired, for /healthz."""
    return [message for message, until in (cache.get(_ACTIVE) or {}).values() if until > time.time()]
