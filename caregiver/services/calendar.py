"""A caregiver's private calendar feed: its secret link, made when they ask and replaced at will."""

from __future__ import annotations

import logging
import secrets

from django.db import transaction
from django.utils import timezone

from ..models import Caregiver

logger = logging.getLogger(__name__)


def _secret() -> str:
    return secrets.token_urlsafe(32)  # 43 characters, the field's length


# Both write with update(), not save(): Caregiver.save() marks them for re-planning, and a calendar
# link changes no message they get. Nor is there an audit event: the audit log records staff
# actions (caregiver.services.audit), and only the caregiver changes their link.


@transaction.atomic
def caregiver_calendar_create(*, caregiver: Caregiver) -> str:
    """The caregiver's calendar secret, made now if they have none (a second click, or another tab,
    keeps the link they may already have added to a calendar)."""
    # Locked, so two clicks at once give one link, not one each.
    secret = Caregiver.objects.select_for_update().values_list("calendar_secret", flat=True).get(pk=caregiver.pk)
    if not secret:
        secret = _secret()
        Caregiver.objects.filter(pk=caregiver.pk).update(calendar_secret=secret, updated_at=timezone.now())
    caregiver.calendar_secret = secret
    return secret


@transaction.atomic
def caregiver_calendar_reset(*, caregiver: Caregiver) -> str:
    """Give the caregiver a new calendar secret; the old link stops working at once (404)."""
    secret = _secret()
    Caregiver.objects.filter(pk=caregiver.pk).update(calendar_secret=secret, updated_at=timezone.now())
    caregiver.calendar_secret = secret
    logger.info("calendar link replaced", extra={"caregiver_id": caregiver.pk})
    return secret


__all__ = ["caregiver_calendar_create", "caregiver_calendar_reset"]
