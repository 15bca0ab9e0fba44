"""messaging listens to what caregiver/ announces (after commit) and re-plans at once."""

from __future__ import annotations

import logging

from django.db.models.signals import post_save
from django.dispatch import receiver

from caregiver.models import Clinic
from caregiver.signals import appointment_changed, caregiver_changed, confirmation_requested

from . import planning, services
from .inbound import dispatcher_wake
from .tasks import replan_appointment_task, replan_caregiver_task, welcome_task

logger = logging.getLogger(__name__)


def _enqueue(task, object_id: int) -> None:
    try:
        task.delay(object_id)
    except Exception:
        logger.exception(
            "could not enqueue %s(%s); send-time checks and the next plan tick cover it", task.name, object_id
        )


@receiver(appointment_changed)
def on_appointment_changed(sender, *, appointment_id: int, change: str, **kwargs) -> None:
    _enqueue(replan_appointment_task, appointment_id)


@receiver(caregiver_changed)
def on_caregiver_changed(sender, *, caregiver_id: int, change: str, **kwargs) -> None:
    _enqueue(replan_caregiver_task, caregiver_id)
    if change == "consent":
        _enqueue(welcome_task, caregiver_id)


@receiver(post_save, sender=Clinic)
def on_clinic_saved(sender, *, instance: Clinic, created: bool, **kwargs) -> None:
    if created:
        planning.reminder_rules_seed(clinic=instance)


@receiver(confirmation_requested)
def on_confirmation_requested(sender, *, confirmation_id: int, code: str, **kwargs) -> None:
    # Someone is waiting on the page for this code: enqueue it now and wake the dispatcher
    # rather than wait for its next tick.
    if services.confirmation_send(confirmation_id=confirmation_id, code=code) is not None:
        dispatcher_wake()
