"""Signed, expiring links for people without a password: confirming an email address, and the
preferences page. The signature is the authority; nothing about the token is stored.
"""

from __future__ import annotations

import hashlib

from django.core import signing

EMAIL_CONFIRM_SALT = "alongside.email-confirm"
PREFERENCES_SALT = "alongside.preferences"
EMAIL_CONFIRM_MAX_AGE = 3 * 86400
PREFERENCES_MAX_AGE = 30 * 86400
UNSUBSCRIBE_SALT = "alongside.unsubscribe"
UNSUBSCRIBE_MAX_AGE = 365 * 86400
RIDE_SALT = "alongside.ride"
RIDE_MAX_AGE = 30 * 86400


def email_confirm_token(confirmation_id: int) -> str:
    return signing.dumps({"k": confirmation_id}, salt=EMAIL_CONFIRM_SALT, compress=True)


def email_confirm_id(token: str) -> int | None:
    """The confirmation a link is for; None if it was tampered with or is older than 3 days."""
    return _load(token, EMAIL_CONFIRM_SALT, EMAIL_CONFIRM_MAX_AGE, "k")


def address_fingerprint(address: str) -> str:
    """What a link carries of the address it was sent to: enough to recognise it, not to read it."""
    return hashlib.sha256(address.strip().lower().encode()).hexdigest()[:16]


def preferences_token(caregiver_id: int, *, address: str) -> str:
    """A link to the preferences page, good only while `address` (the number or email it is sent
    to) is the caregiver's and confirmed: a link that reached an address before its owner said yes,
    or an address they no longer have, opens nothing."""
    return _token(caregiver_id, address, PREFERENCES_SALT)


def preferences_link(token: str) -> tuple[int, str | None] | None:
    """(caregiver id, address fingerprint) of a preferences link; None if tampered with or expired.

    Links made before they named an address carry no fingerprint (None); they expire within 30 days.
    """
    return _link(token, PREFERENCES_SALT, PREFERENCES_MAX_AGE)


def unsubscribe_token(caregiver_id: int, *, email: str) -> str:
    """An email's one-click unsubscribe link: it stops emails to `email` and to no later address."""
    return _token(caregiver_id, email, UNSUBSCRIBE_SALT)


def unsubscribe_link(token: str) -> tuple[int, str | None] | None:
    """(caregiver id, fingerprint of the address it was sent to, None in links made before they
    named one) of an unsubscribe link; None if it was tampered with or is over a year old."""
    return _link(token, UNSUBSCRIBE_SALT, UNSUBSCRIBE_MAX_AGE)


def ride_token(caregiver_id: int, *, appointment_id: int, email: str) -> str:
    """A reminder email's ride link: says (or unsays) that the ride home for one appointment is
    arranged, for the caregiver it was emailed to, while that address is still theirs."""
    return signing.dumps(
        {"c": caregiver_id, "p": appointment_id, "a": address_fingerprint(email)}, salt=RIDE_SALT, compress=True
    )


def ride_link(token: str) -> tuple[int, int, str] | None:
    """(caregiver id, appointment id, address fingerprint) of a ride link; None if tampered with or expired."""
    try:
        data = signing.loads(token, salt=RIDE_SALT, max_age=RIDE_MAX_AGE)
        return int(data["c"]), int(data["p"]), str(data["a"])
    except (signing.BadSignature, KeyError, TypeError, ValueError, AttributeError):
        return None


def _token(caregiver_id: int, address: str, salt: str) -> str:
    return signing.dumps({"c": caregiver_id, "a": address_fingerprint(address)}, salt=salt, compress=True)


def _link(token: str, salt: str, max_age: int) -> tuple[int, str | None] | None:
    try:
        data = signing.loads(token, salt=salt, max_age=max_age)
        fingerprint = data.get("a")
        return int(data["c"]), str(fingerprint) if fingerprint is not None else None
    except (signing.BadSignature, KeyError, TypeError, ValueError, AttributeError):
        return None


def _load(token: str, salt: str, max_age: int, field: str) -> int | None:
    try:
        return int(signing.loads(token, salt=salt, max_age=max_age)[field])
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
