"""Signed, expiring links for people without a password: confirming an email address, and the
preferences page. The signature is the authority; nothing about the token is stored.
"""

from __future__ import annotations

from django.core import signing

EMAIL_CONFIRM_SALT = "alongside.email-confirm"
PREFERENCES_SALT = "alongside.preferences"
EMAIL_CONFIRM_MAX_AGE = 3 * 86400
PREFERENCES_MAX_AGE = 30 * 86400


def email_confirm_token(confirmation_id: int) -> str:
    return signing.dumps({"k": confirmation_id}, salt=EMAIL_CONFIRM_SALT, compress=True)


def email_confirm_id(token: str) -> int | None:
    """The confirmation a link is for; None if it was tampered with or is older than 3 days."""
    return _load(token, EMAIL_CONFIRM_SALT, EMAIL_CONFIRM_MAX_AGE, "k")


def preferences_token(caregiver_id: int) -> str:
    return signing.dumps({"c": caregiver_id}, salt=PREFERENCES_SALT, compress=True)


def preferences_caregiver_id(token: str) -> int | None:
    return _load(token, PREFERENCES_SALT, PREFERENCES_MAX_AGE, "c")


def _load(token: str, salt: str, max_age: int, field: str) -> int | None:
    try:
        return int(signing.loads(token, salt=salt, max_age=max_age)[field])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
