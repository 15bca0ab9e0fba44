"""messaging listens to what caregiver/ announces (after commit) and re-plans at once."""

from __future__ import annotations

import logging

from django.db.models.signals import post_save
from django.dispatch import receiver

from caregiver.models import Caregiver, Clinic, plan_mark
from caregiver.signals import (
    already_signed_up,
    appointment_changed,
    appointments_merged,
    caregiver_changed,
    confirmation_requested,
    sign_up_discarding,
)
from content.models import MessageTemplate, Tip

from . import planning, services
from .inbound import dispatcher_wake
from .models import OutboundMessage
from .tasks import plan_batch_task, welcome_task

logger = logging.getLogger(__name__)


def _enqueue(task, *args) -> None:
    try:
        task.delay(*args)
    except Exception:
        logger.exception("could not enqueue %s%s; the planner's next tick covers it", task.name, args)


# The change already marked the caregivers for planning in its own transaction (caregiver.models
# .plan_mark), so the beat tick re-plans them within PLAN_INTERVAL_SECONDS whatever happens here;
# these only make it sooner.
@receiver(appointment_changed)
def on_appointment_changed(sender, *, appointment_id: int, change: str, **kwargs) -> None:
    ids = planning.appointment_caregiver_ids(appointment_id=appointment_id)
    if ids:
        _enqueue(plan_batch_task, ids)


@receiver(caregiver_changed)
def on_caregiver_changed(sender, *, caregiver_id: int, change: str, **kwargs) -> None:
    _enqueue(plan_batch_task, [caregiver_id])
    if change == "consent":
        _enqueue(welcome_task, caregiver_id)


@receiver(appointments_merged)
def on_appointments_merged(sender, *, pairs: list[tuple[int, int]], **kwargs) -> None:
    services.outbox_appointments_merge(pairs=pairs)


@receiver(post_save, sender=Clinic)
def on_clinic_saved(sender, *, instance: Clinic, created: bool, **kwargs) -> None:
    if created:
        planning.reminder_rules_seed(clinic=instance)


@receiver(confirmation_requested)
def on_confirmation_requested(sender, *, confirmation_id: int, code: str, **kwargs) -> None:
    # Someone is waiting on the page for this code: enqueue it now and wake the dispatcher
    # rather than wait for its next tick.
    message = services.confirmation_send(confirmation_id=confirmation_id, code=code)
    if message is not None:
        dispatcher_wake([message.pk])


@receiver(already_signed_up)
def on_already_signed_up(sender, *, caregiver_id: int, channel: str, **kwargs) -> None:
    message = services.already_signed_up_send(caregiver_id=caregiver_id, channel=channel)
    if message is not None:
        dispatcher_wake([message.pk])


@receiver(sign_up_discarding)
def on_sign_up_discarding(sender, *, caregiver_id: int, **kwargs) -> None:
    # Inside the deleting transaction: its codes (masked once sent) go with the sign-up.
    OutboundMessage.objects.filter(caregiver_id=caregiver_id).delete()


# Words changed: the caregivers with a planned message in those words are re-planned, so what
# goes out is the new text (or, for a tip taken out of use, another tip).
@receiver(post_save, sender=Tip)
def on_tip_saved(sender, *, instance: Tip, **kwargs) -> None:
    planned = OutboundMessage.objects.filter(tip=instance, status=OutboundMessage.Status.SCHEDULED)
    plan_mark(Caregiver.objects.filter(pk__in=planned.values("caregiver_id")))


@receiver(post_save, sender=MessageTemplate)
def on_template_saved(sender, *, instance: MessageTemplate, **kwargs) -> None:
    planned = OutboundMessage.objects.filter(rule__template_key=instance.key, status=OutboundMessage.Status.SCHEDULED)
    plan_mark(Caregiver.objects.filter(pk__in=planned.values("caregiver_id")))
