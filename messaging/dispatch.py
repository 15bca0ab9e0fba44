"""Dispatching: claim what is due, hand it to workers, take back what a dead worker dropped."""

from __future__ import annotations

import logging
import math
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Case, F, Q, TextField, Value, When

from .models import OutboundMessage

logger = logging.getLogger(__name__)
Status = OutboundMessage.Status
WORKER_LOST = "The worker sending it stopped before it finished, on every attempt."


def leases_recover(*, now: datetime) -> int:
    """Put expired leases back to `scheduled`.

    A row that was `sending` may have reached the provider before its worker died, so it is
    marked `needs_reconcile`: the next attempt asks the provider before sending again.
    """
    expired = Q(lease_expires_at__lt=now)
    # One UPDATE, as before: a message whose worker died under it SEND_MAX_ATTEMPTS times (it
    # crashes the worker, or always outlives the time limit) fails for good instead of taking a
    # worker down every lease; the others go back to be reconciled and sent.
    given_up = Q(attempts__gte=settings.SEND_MAX_ATTEMPTS)
    sending = OutboundMessage.objects.filter(expired, status=Status.SENDING).update(
        status=Case(When(given_up, then=Value(Status.FAILED)), default=Value(Status.SCHEDULED)),
        error_code=Case(When(given_up, then=Value("worker_lost")), default=F("error_code")),
        last_error=Case(When(given_up, then=Value(WORKER_LOST)), default=F("last_error"), output_field=TextField()),
        needs_reconcile=True, lease_expires_at=None, send_at=now, updated_at=now,
    )  # fmt: skip
    queued = OutboundMessage.objects.filter(expired, status=Status.QUEUED).update(
        status=Status.SCHEDULED, lease_expires_at=None, updated_at=now
    )
    if sending or queued:
        logger.warning(
            "recovered %s expired leases (%s were mid-send; any at their last attempt failed as worker_lost)",
            sending + queued, sending,
        )  # fmt: skip
    return sending + queued


def due_claim(*, now: datetime, batch_size: int) -> list[int]:
    """Mark up to `batch_size` due rows `queued` under a lease and return their ids.

    SKIP LOCKED lets two dispatchers (a mistake, but it happens) claim disjoint rows.
    """
    with transaction.atomic():
        ids = list(
            OutboundMessage.objects.select_for_update(skip_locked=True)
            .filter(status=Status.SCHEDULED, send_at__lte=now)
            .order_by("send_at")
            .values_list("id", flat=True)[:batch_size]
        )
        if ids:
            OutboundMessage.objects.filter(pk__in=ids, status=Status.SCHEDULED).update(
                status=Status.QUEUED,
                lease_expires_at=now + timedelta(seconds=settings.DISPATCH_LEASE_SECONDS),
                updated_at=now,
            )
    return ids


def ids_claim(*, ids: list[int], now: datetime) -> list[int]:
    """Claim these due rows (`queued`, under a lease) for sending in this process; returns those claimed.

    For urgent messages while the broker is down (inbound.dispatcher_wake): the same lease and
    SKIP LOCKED as a tick's claim, so a dispatcher running at the same moment cannot also take them.
    """
    with transaction.atomic():
        claimed = list(
            OutboundMessage.objects.select_for_update(skip_locked=True)
            .filter(pk__in=ids, status=Status.SCHEDULED, send_at__lte=now)
            .values_list("id", flat=True)
        )
        OutboundMessage.objects.filter(pk__in=claimed).update(
            status=Status.QUEUED,
            lease_expires_at=now + timedelta(seconds=settings.DISPATCH_LEASE_SECONDS),
            updated_at=now,
        )
    return claimed


def task_chunks(ids: list[int]) -> list[list[int]]:
    """A claim split into send tasks: at most DISPATCH_TASK_SIZE ids each, yet spread over at least
    DISPATCH_MIN_TASKS tasks, so that a handful of due messages still go out side by side."""
    size = max(1, min(settings.DISPATCH_TASK_SIZE, math.ceil(len(ids) / settings.DISPATCH_MIN_TASKS)))
    return [ids[start : start + size] for start in range(0, len(ids), size)]


def dispatch_due(*, now: datetime, batch_size: int, max_per_tick: int, enqueue) -> dict[str, int]:
    """One dispatcher tick. `enqueue(ids)` publishes the send tasks (after the claim committed).

    If publishing fails (the broker is down), the rows stay claimed until their lease expires and
    a later tick takes them back: nothing is lost, and the database still says what is owed.
    """
    recovered = leases_recover(now=now)
    claimed = 0
    while True:
        ids = due_claim(now=now, batch_size=batch_size)
        if not ids:
            break
        enqueue(ids)
        claimed += len(ids)
        # Claim no more than workers can send within a lease; the next tick takes the rest.
        if len(ids) < batch_size or claimed >= max_per_tick:
            break
    return {"claimed": claimed, "recovered": recovered}
