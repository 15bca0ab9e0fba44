"""Writes of the portal app: the staff API's stored answers to retried POSTs, and staff members'
authenticator apps (two-factor sign-in, django-otp TOTP devices)."""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta

import django_otp
from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import IdempotencyKey

logger = logging.getLogger(__name__)

IDEMPOTENCY_KEY_HOURS = 24


def idempotency_fingerprint(*, method: str, path: str, body: object) -> str:
    canonical = json.dumps(body, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(f"{method} {path}\n{canonical}".encode()).hexdigest()


def idempotency_key_claim(
    *, user: AbstractBaseUser, key: str, fingerprint: str, now: datetime
) -> IdempotencyKey | None:
    """Inside the caller's transaction: reserve `key` for this request, or return the answer stored for it.

    None means "go ahead": the key is held (a concurrent request with the same key waits on the
    unique constraint until this transaction ends) and idempotency_key_store must be called.
    Expired keys (older than IDEMPOTENCY_KEY_HOURS), anyone's, are deleted first, so an expired
    key is claimed afresh.
    """
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("idempotency_key_claim must run inside the request's transaction")
    # Expired keys go whoever made them (an indexed range): none outlives its 24 hours for long.
    IdempotencyKey.objects.filter(created_at__lt=now - timedelta(hours=IDEMPOTENCY_KEY_HOURS)).delete()
    try:
        with transaction.atomic():
            IdempotencyKey.objects.create(
                user=user, key=key, fingerprint=fingerprint, status_code=0, response={}, created_at=now
            )
    except IntegrityError:
        # Stored (or another request with this key has just finished): that answer stands.
        return IdempotencyKey.objects.get(user=user, key=key)
    return None


def idempotency_key_store(
    *, user: AbstractBaseUser, key: str, status_code: int, response: object, location: str
) -> None:
    IdempotencyKey.objects.filter(user=user, key=key).update(
        status_code=status_code, response=response, location=location[:200]
    )


# --- Two-factor sign-in ----------------------------------------------------------------------------


def staff_device_start(*, user: AbstractBaseUser, pending_id: int | None = None) -> TOTPDevice:
    """The authenticator app a staff member is setting up in this session (`pending_id`, kept in the
    session): the same secret on every visit until it is confirmed, so an app that scanned it once
    works. Another session gets a secret of its own: someone who learnt only the password and opened
    the setup page cannot read the key the owner will later scan (only the confirmed one counts)."""
    device = TOTPDevice.objects.filter(user=user, confirmed=False, pk=pending_id).first() if pending_id else None
    if device is not None:
        return device
    return TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)


@transaction.atomic
def staff_device_confirm(*, user: AbstractBaseUser, device: TOTPDevice, code: str) -> bool:
    """Turn two-factor sign-in on with the first code the app shows. False if the code is wrong (or the
    device is waiting out wrong codes, see portal.selectors.device_wait); nothing changes then."""
    # Locked, as django-otp locks a device it verifies: two requests cannot both use one code.
    device = TOTPDevice.objects.select_for_update().get(pk=device.pk, user=user, confirmed=False)
    if not device.verify_token(code):
        return False
    device.confirmed = True
    device.save(update_fields=["confirmed"])
    TOTPDevice.objects.filter(user=user, confirmed=False).delete()
    logger.info("two-factor sign-in turned on", extra={"user_id": user.pk})
    return True


def staff_device_verify(*, user: AbstractBaseUser, device: TOTPDevice, code: str) -> bool:
    """Check a sign-in code against the user's app. Each code works once; wrong ones make the device
    wait longer before the next (django-otp's throttling, recorded on the device)."""
    return django_otp.verify_token(user, device.persistent_id, code) is not None


@transaction.atomic
def staff_two_factor_reset(*, user: AbstractBaseUser) -> int:
    """Forget the user's authenticator apps (a lost phone): their sessions that entered a code no
    longer count as verified, and where a clinic asks for it they set a new app up at their next
    sign-in. Returns how many were removed."""
    removed, _ = TOTPDevice.objects.filter(user=user).delete()
    logger.info("two-factor sign-in reset", extra={"user_id": user.pk, "devices": removed})
    return removed
