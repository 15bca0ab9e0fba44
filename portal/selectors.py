"""Reads of the portal app: what a staff member owes before a staff page (two-factor sign-in)."""

from __future__ import annotations

import math
from typing import Literal

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.utils import timezone
from django_otp.plugins.otp_totp.models import TOTPDevice

from caregiver.models import Clinic

TwoFactorStep = Literal["code", "setup"]


def staff_two_factor_required(*, user: AbstractBaseUser | AnonymousUser) -> bool:
    """True when any clinic the user works at asks for it, or the user is an operator and
    SUPERUSER_TWO_FACTOR_REQUIRED is on."""
    if not user.is_authenticated:
        return False
    if user.is_superuser and settings.SUPERUSER_TWO_FACTOR_REQUIRED:
        return True
    return Clinic.objects.filter(memberships__user=user, staff_two_factor_required=True).exists()


def clinics_requiring_two_factor(*, user: AbstractBaseUser | AnonymousUser) -> list[str]:
    """The names of the user's clinics that ask for it, for the pages that say why."""
    if not user.is_authenticated:
        return []
    return list(
        Clinic.objects.filter(memberships__user=user, staff_two_factor_required=True)
        .order_by("name")
        .values_list("name", flat=True)
        .distinct()
    )


def staff_device(*, user: AbstractBaseUser | AnonymousUser, confirmed: bool = True) -> TOTPDevice | None:
    """The user's authenticator app (a confirmed one, unless asked for the one being set up)."""
    if not user.is_authenticated:
        return None
    return TOTPDevice.objects.filter(user=user, confirmed=confirmed).order_by("-id").first()


def two_factor_step(*, user: AbstractBaseUser | AnonymousUser) -> TwoFactorStep | None:
    """What a signed-in user who has not entered a code in this session owes before a staff page.

    "code": they have an authenticator app (whether or not a clinic asks: having one means using it).
    "setup": a clinic asks for it and they have none yet. None: nothing.
    """
    if not user.is_authenticated:
        return None
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return "code"
    if staff_two_factor_required(user=user):
        return "setup"
    return None


def device_wait(*, device: TOTPDevice) -> int | None:
    """Seconds until django-otp lets this device check a code again after wrong ones (1, 2, 4, 8 ... s
    after each failure in a row), or None if it may now."""
    allowed, details = device.verify_is_allowed()
    if allowed:
        return None
    locked_until = (details or {}).get("locked_until")
    if locked_until is None:
        return 1
    return max(1, math.ceil((locked_until - timezone.now()).total_seconds()))
