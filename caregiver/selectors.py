"""Reads of caregiver/ data. Every staff-facing read goes through a `*_for_user` selector,
which returns only the rows of the clinics that user belongs to: asking for another clinic's
object finds nothing (a 404), it is never "forbidden" (which would confirm it exists).
"""

from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import OuterRef, QuerySet, Subquery

from .models import Appointment, Caregiver, Clinic, ConsentRecord, LovedOne


def clinics_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Clinic]:
    if not user.is_authenticated or not user.is_active:
        return Clinic.objects.none()
    return Clinic.objects.filter(memberships__user=user).distinct()


def _clinic_ids(user: AbstractBaseUser | AnonymousUser) -> QuerySet:
    return clinics_for_user(user=user).values("id")


def loved_ones_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[LovedOne]:
    return LovedOne.objects.filter(clinic__in=_clinic_ids(user)).select_related("clinic")


def caregivers_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Caregiver]:
    return Caregiver.objects.filter(clinic__in=_clinic_ids(user)).select_related("clinic")


def appointments_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Appointment]:
    return Appointment.objects.filter(loved_one__clinic__in=_clinic_ids(user)).select_related("loved_one__clinic")


def consent_records_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[ConsentRecord]:
    return ConsentRecord.objects.filter(caregiver__clinic__in=_clinic_ids(user)).select_related("caregiver")


def caregiver_consent(*, caregiver: Caregiver) -> dict[str, bool]:
    """Current consent per channel, from the latest record of each: {"sms": True, "email": False}.

    A channel with no record is absent (never asked), which is not the same as opted out.
    """
    consent: dict[str, bool] = {}
    for channel, action in caregiver.consent_records.order_by("-created_at", "-id").values_list("channel", "action"):
        consent.setdefault(channel, action == ConsentRecord.Action.OPT_IN)
    return consent


def caregivers_with_consent(queryset: QuerySet[Caregiver] | None = None) -> QuerySet[Caregiver]:
    """Annotate `sms_consent` / `email_consent` ("opt_in", "opt_out" or None) in one query."""
    queryset = queryset if queryset is not None else Caregiver.objects.all()

    def latest(channel: str) -> Subquery:
        return Subquery(
            ConsentRecord.objects.filter(caregiver=OuterRef("pk"), channel=channel)
            .order_by("-created_at", "-id")
            .values("action")[:1]
        )

    return queryset.annotate(
        sms_consent=latest(ConsentRecord.Channel.SMS), email_consent=latest(ConsentRecord.Channel.EMAIL)
    )
