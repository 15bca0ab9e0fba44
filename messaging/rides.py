"""Rides home: the clinic is told when nobody has confirmed one a day before a treatment.

Caregivers confirm with RIDE (messaging.inbound) or the link in a reminder email
(portal.views.ride); the family's other caregivers are told who is driving by a notice the planner
writes (planning._notices). What is left is the clinic's safety net: a treatment within
RIDE_ALERT_HOURS with no ride confirmed makes one email to the clinic's staff, once per start time
(a moved appointment is checked again). The query is answered by a partial index of scheduled
appointments without a ride, so its cost follows the sessions due, not the families stored.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse

from caregiver.models import Appointment, Caregiver

from . import alerts, rendering

logger = logging.getLogger(__name__)
RIDE_ALERT_HOURS = 24


def rides_unconfirmed_alert(*, now: datetime, limit: int = 200) -> dict[str, int]:
    """Alert each clinic of its treatments starting within RIDE_ALERT_HOURS with no ride confirmed."""
    alerted = messages = 0
    created: list[int] = []
    with transaction.atomic():
        due = (
            Appointment.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(
                status=Appointment.Status.SCHEDULED,
                ride_arranged_at__isnull=True,
                kind__in=Appointment.TREATMENT_KINDS,
                starts_at__gt=now,
                starts_at__lte=now + timedelta(hours=RIDE_ALERT_HOURS),
            )
            .select_related("loved_one__clinic")
            .order_by("starts_at")
        )
        for appointment in due[:limit]:
            if appointment.ride_alerted_for == appointment.starts_at:
                continue  # told already for this time
            created += _alert(appointment, now=now)
            Appointment.objects.filter(pk=appointment.pk).update(ride_alerted_for=appointment.starts_at)
            alerted += 1
        messages = len(created)
    if created:
        from .inbound import dispatcher_wake

        transaction.on_commit(lambda: dispatcher_wake(created))
    return {"alerted": alerted, "messages": messages}


def _alert(appointment: Appointment, *, now: datetime) -> list[int]:
    clinic = appointment.loved_one.clinic
    caregivers = Caregiver.objects.filter(links__loved_one=appointment.loved_one).exclude(
        status=Caregiver.Status.OPTED_OUT
    )
    family = ", ".join(
        f"{c.name} {rendering.national_phone(c.phone) or c.email}".strip() for c in caregivers.order_by("name")
    )
    context = {
        "loved_one": appointment.loved_one.first_name,
        "day": rendering.clinic_day(appointment.starts_at, clinic=clinic),
        "time": rendering.clinic_clock(appointment.starts_at, clinic=clinic, caregiver=None),
        "pickup_time": rendering.clinic_clock(appointment.pickup_at, clinic=clinic, caregiver=None),
        "caregivers": family or "nobody enrolled",
        "tomorrow_url": settings.PUBLIC_BASE_URL + reverse("portal:tomorrow"),
    }
    body = rendering.template_body(key="staff-ride-alert", channel="email", context=context, caregiver=None)
    key = f"ride-alert:{appointment.pk}:{int(appointment.starts_at.timestamp())}"
    return alerts.staff_emails_create(clinic=clinic, key=key, body=body, now=now, appointment=appointment)
