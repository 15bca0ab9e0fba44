"""The provider's side of /healthz: an account the provider refuses, and carrier filtering.

Workers write here (one row per channel, `ProviderHealth`); /healthz and the admin read it.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime

from django.db.models import F
from django.utils import timezone

from .models import ProviderHealth

logger = logging.getLogger(__name__)


def failing(*, channel: str, code: str, detail: str) -> None:
    """The provider refused our credentials or account: say so loudly, keep when it began."""
    now = timezone.now()
    health, _ = ProviderHealth.objects.get_or_create(channel=channel)
    ProviderHealth.objects.filter(pk=channel).update(
        failing_since=health.failing_since or now, code=code[:20], detail=detail[:300], updated_at=now
    )
    logger.error(
        "OPERATOR ALERT: the %s provider refuses our account (%s): %s. Messages are kept and retried; "
        "fix the credentials or the account.",
        channel, code, detail,
    )  # fmt: skip


def recovered(*, channels: Iterable[str]) -> None:
    """The provider accepted a message on these channels: whatever was failing works again.

    One UPDATE that matches nothing in the usual case.
    """
    if ProviderHealth.objects.filter(channel__in=list(channels), failing_since__isnull=False).update(
        failing_since=None, updated_at=timezone.now()
    ):
        logger.warning("the provider accepts our messages again (%s)", ", ".join(sorted(set(channels))))


def filtered(*, channel: str) -> None:
    """A carrier filtered a message as spam (Twilio 30007): counted, for the operator."""
    now = timezone.now()
    ProviderHealth.objects.get_or_create(channel=channel)
    ProviderHealth.objects.filter(pk=channel).update(filtered=F("filtered") + 1, filtered_last_at=now, updated_at=now)
    logger.warning("a carrier filtered a %s message (30007): check the wording and the sender's registration", channel)


def problems() -> dict[str, dict[str, object]]:
    """What /healthz shows for each channel the provider refuses: since when, the code and why."""
    return {
        row.channel: {"since": _iso(row.failing_since), "code": row.code, "detail": row.detail}
        for row in ProviderHealth.objects.filter(failing_since__isnull=False)
    }


def filtering() -> dict[str, dict[str, object]]:
    return {
        row.channel: {"count": row.filtered, "last": _iso(row.filtered_last_at)}
        for row in ProviderHealth.objects.filter(filtered__gt=0)
    }


def _iso(value: datetime | None) -> str | None:
    return value.isoformat() if value else None
