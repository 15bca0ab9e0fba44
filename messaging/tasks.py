"""Celery entry points: doors, not rooms. Each takes ids, calls one service, returns a summary."""

from __future__ import annotations

import logging
from collections import Counter

from celery import shared_task
from django.conf import settings
from django.utils import timezone

from caregiver import services as caregiver_services

from . import alerts, dispatch, planning, rides, sending, services
from .locks import beat_lock

logger = logging.getLogger(__name__)


def _enqueue(ids: list[int]) -> None:
    """Publish the claim's send tasks (task_chunks) over one broker connection."""
    with send_batch_task.app.producer_or_acquire() as producer:
        for chunk in dispatch.task_chunks(ids):
            send_batch_task.apply_async((chunk,), producer=producer)


@shared_task(acks_late=True, ignore_result=True)
def send_batch_task(message_ids: list[int]) -> dict[str, int]:
    outcomes = sending.messages_send(message_ids=message_ids)
    return dict(Counter(outcome.split(":")[0] for outcome in outcomes.values()))


@shared_task(acks_late=True, ignore_result=True)
def send_task(message_id: int) -> str:
    # Kept so tasks published before batching still run after a deploy.
    return sending.message_send(message_id=message_id)


@shared_task(ignore_result=True)
def dispatch_task() -> dict[str, int]:
    with beat_lock("dispatch", ttl=max(60, settings.DISPATCH_LEASE_SECONDS)) as got:
        if not got:
            return {"skipped": 1}
        return dispatch.dispatch_due(
            now=timezone.now(),
            batch_size=settings.DISPATCH_BATCH_SIZE,
            max_per_tick=settings.DISPATCH_MAX_PER_TICK,
            enqueue=_enqueue,
        )


def _enqueue_plans(ids: list[int]) -> None:
    plan_batch_task.delay(ids)


# The tick only claims and publishes: seconds at most, however many caregivers are due.
PLAN_TICK_LIMIT = 50


@shared_task(ignore_result=True, soft_time_limit=PLAN_TICK_LIMIT - 10, time_limit=PLAN_TICK_LIMIT)
def plan_task() -> dict[str, int]:
    # Locked for the task's hard limit: a tick that dies frees the lock by then.
    with beat_lock("plan", ttl=PLAN_TICK_LIMIT) as got:
        if not got:
            return {"skipped": 1}
        return planning.plan_tick(now=timezone.now(), enqueue=_enqueue_plans)


@shared_task(acks_late=True, ignore_result=True)
def plan_batch_task(caregiver_ids: list[int]) -> dict[str, int]:
    return planning.caregivers_plan(caregiver_ids=caregiver_ids)


@shared_task(acks_late=True, ignore_result=True)
def replan_caregiver_task(caregiver_id: int) -> dict[str, int]:
    # Kept so tasks published before the plan sync still run after a deploy.
    return planning.caregivers_plan(caregiver_ids=[caregiver_id])


@shared_task(acks_late=True, ignore_result=True)
def replan_appointment_task(appointment_id: int) -> dict[str, int]:
    # Kept so tasks published before the plan sync still run after a deploy.
    return planning.caregivers_plan(caregiver_ids=planning.appointment_caregiver_ids(appointment_id=appointment_id))


@shared_task(acks_late=True, ignore_result=True)
def welcome_task(caregiver_id: int) -> int:
    return services.welcome_enqueue(caregiver_id=caregiver_id)


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=60)
def escalate_task() -> dict[str, int]:
    # Locked for the task's hard limit: a tick that dies frees the lock by then.
    with beat_lock("escalate", ttl=60) as got:
        if not got:
            return {"skipped": 1}
        return alerts.crisis_alerts_escalate(now=timezone.now())


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=60)
def rides_check_task() -> dict[str, int]:
    # Locked for the task's hard limit: a tick that dies frees the lock by then.
    with beat_lock("rides", ttl=60) as got:
        if not got:
            return {"skipped": 1}
        return rides.rides_unconfirmed_alert(now=timezone.now())


@shared_task(ignore_result=True, soft_time_limit=50, time_limit=60)
def sign_ups_expire_task() -> dict[str, int]:
    # Locked for the task's hard limit: a tick that dies frees the lock by then.
    with beat_lock("sign-ups", ttl=60) as got:
        if not got:
            return {"skipped": 1}
        return {"deleted": caregiver_services.sign_ups_expire(now=timezone.now())}
