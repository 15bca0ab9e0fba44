"""Writes of the portal app: the staff API's stored answers to retried POSTs."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.db import IntegrityError, transaction

from .models import IdempotencyKey

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
