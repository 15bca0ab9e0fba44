"""Double opt-in: a caregiver confirms each channel before anything but the confirmation is sent.

`confirmation_start` records what is being confirmed and announces it (after commit) with the
secret; messaging/ listens and sends the code, the YES invitation or the link. The plaintext
code lives only in that one message.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext, ngettext

from config.operator import operator_alert

from ..models import Caregiver, ChannelConfirmation, ConsentRecord
from ..ratelimit import Limit, limit_hit
from ..selectors import address_of
from ..signals import confirmation_requested
from ..tokens import email_confirm_id
from .core import caregiver_opt_in

Method = ChannelConfirmation.Method
TTL = {Method.CODE: timedelta(minutes=10), Method.REPLY: timedelta(days=30), Method.LINK: timedelta(days=3)}
CODE_ATTEMPTS = 5
CODE_TTL = TTL[Method.CODE]


class RateLimited(ValidationError):
    """Too many confirmations asked for; `retry_after` seconds until the next is allowed."""

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message, code="rate_limited")
        self.retry_after = retry_after


def _code_hash(caregiver_id: int, code: str) -> str:
    key = settings.SECRET_KEY.encode()
    return hmac.new(key, f"confirm:{caregiver_id}:{code}".encode(), hashlib.sha256).hexdigest()


def _minutes(seconds: int) -> int:
    return max(1, round(seconds / 60))


@transaction.atomic
def confirmation_start(
    *,
    caregiver: Caregiver,
    channel: str,
    source: str,
    consent_text_version: str,
    ip_address: str | None = None,
    requested_by: AbstractBaseUser | None = None,
    method: str | None = None,
) -> ChannelConfirmation:
    """Ask the caregiver to confirm `channel`: a code (web sign-up), a YES reply (staff) or a link.

    Limited per number/address (SMS pumping costs the clinic money and annoys the owner of the
    number) and per IP address; over a limit raises RateLimited saying when to try again. Staff
    requests are limited per number and clinic, apart from the public page's.
    """
    if channel == ConsentRecord.Channel.SMS:
        if not caregiver.phone:
            raise ValidationError({"channel": gettext("There is no mobile number to confirm.")})
        address = caregiver.phone
        # Someone on our sign-up page types a code; anyone else (enrolled by staff) replies YES.
        method = method or (Method.CODE if source == ConsentRecord.Source.WEB else Method.REPLY)
    else:
        if not caregiver.email:
            raise ValidationError({"channel": gettext("There is no email address to confirm.")})
        address, method = caregiver.email, Method.LINK
    # Staff invitations count in a bucket of their clinic's own: a stranger pressing "send a new
    # code" on the public page must not stop the clinic inviting a family, nor learn anything from
    # another clinic's invitations.
    confirmation_limits_take(
        channel=channel, address=address, ip_address=ip_address, clinic_id=caregiver.clinic_id,
        by_staff=source == ConsentRecord.Source.STAFF,
    )  # fmt: skip
    # A new request replaces the old one: only the latest code or link works.
    caregiver.confirmations.filter(channel=channel, confirmed_at__isnull=True).update(expires_at=timezone.now())
    code = f"{secrets.randbelow(10**6):06d}" if method == Method.CODE else ""
    confirmation = ChannelConfirmation.objects.create(
        caregiver=caregiver,
        channel=channel,
        method=method,
        address=address,  # what it confirms: a new number or email needs a confirmation of its own
        code_hash=_code_hash(caregiver.pk, code) if code else "",
        consent_text_version=consent_text_version,
        source=source,
        ip_address=ip_address,
        requested_by=requested_by,
        expires_at=timezone.now() + TTL[method],
    )
    transaction.on_commit(
        lambda: confirmation_requested.send(sender=ChannelConfirmation, confirmation_id=confirmation.pk, code=code)
    )
    return confirmation


def confirmation_limits_take(
    *, channel: str, address: str, ip_address: str | None, clinic_id: int, by_staff: bool = False
) -> None:
    """Count one confirmation sent to `address` for `clinic_id` (and asked from `ip_address`); over a
    limit, raise RateLimited saying when to try again. Also counted for a sign-up whose address is
    taken, so that one answers exactly as a new one would.

    The limits, in one place:
    - per number or address, and per IP address (its /64 for IPv6), on the public page. Staff
      invitations count per number and clinic instead, apart from the page's, so a stranger
      pressing "send a new code" cannot stop a clinic inviting a family.
    - caps on texts (SMS pumping is paid in texts; emails cost nothing) per clinic and for the whole
      service, an hour. The public page and staff invitations each have caps of their own, so
      strangers filling the sign-up page's cap cannot stop staff enrolling families, nor a leaked
      staff token the page. A cap reached alerts the operators.
    """
    source = "staff" if by_staff else "public"
    if by_staff:
        limits = [(Limit("confirm-address-staff", settings.CONFIRMATIONS_PER_ADDRESS_PER_HOUR, 3600),
                   f"{clinic_id}:{address}")]  # fmt: skip
    else:
        limits = [(Limit("confirm-address", settings.CONFIRMATIONS_PER_ADDRESS_PER_HOUR, 3600), address)]
        if ip_address:
            limits.append((Limit("confirm-ip", settings.CONFIRMATIONS_PER_IP_PER_HOUR, 3600), ip_address))
    if channel == ConsentRecord.Channel.SMS:
        limits += [
            (Limit(f"cap-clinic-{source}", settings.CONFIRMATIONS_PER_CLINIC_PER_HOUR, 3600), str(clinic_id)),
            (Limit(f"cap-all-{source}", settings.CONFIRMATIONS_PER_HOUR, 3600), "all"),
        ]
    for limit, subject in limits:
        wait = limit_hit(limit, subject)
        if wait is None:
            continue
        if limit.name.startswith("cap-"):
            _cap_reached(limit, clinic_id=clinic_id, source=source)
        raise RateLimited(_too_many(limit.name, channel, _minutes(wait)), wait)


def _too_many(limit_name: str, channel: str, minutes: int) -> str:
    """What a person over a limit is told, in the page's language: whole sentences, each translated."""
    if limit_name == "confirm-ip":
        message = ngettext(
            "We have sent too many confirmations from your connection for now. Try again in %(minutes)d minute.",
            "We have sent too many confirmations from your connection for now. Try again in %(minutes)d minutes.",
            minutes,
        )
    elif limit_name.startswith("cap-") and "clinic" in limit_name:
        message = ngettext(
            "We have sent too many text messages for this clinic this hour. Try again in %(minutes)d minute.",
            "We have sent too many text messages for this clinic this hour. Try again in %(minutes)d minutes.",
            minutes,
        )
    elif limit_name.startswith("cap-"):
        message = ngettext(
            "We have sent too many text messages this hour. Try again in %(minutes)d minute.",
            "We have sent too many text messages this hour. Try again in %(minutes)d minutes.",
            minutes,
        )
    elif channel == "sms":
        message = ngettext(
            "We have sent too many codes to this number for now. Try again in %(minutes)d minute.",
            "We have sent too many codes to this number for now. Try again in %(minutes)d minutes.",
            minutes,
        )
    else:
        message = ngettext(
            "We have sent too many links to this address for now. Try again in %(minutes)d minute.",
            "We have sent too many links to this address for now. Try again in %(minutes)d minutes.",
            minutes,
        )
    return message % {"minutes": minutes}


def _cap_reached(limit: Limit, *, clinic_id: int, source: str) -> None:
    whose = f"Clinic id {clinic_id}" if "clinic" in limit.name else "The whole service"
    by = "staff invitations" if source == "staff" else "sign-up codes from the public page"
    setting = "CONFIRMATIONS_PER_CLINIC_PER_HOUR" if "clinic" in limit.name else "CONFIRMATIONS_PER_HOUR"
    operator_alert(
        key=f"{limit.name}:{clinic_id}" if "clinic" in limit.name else limit.name,
        subject="Text message cap reached",
        message=(
            f"{whose} reached its cap of {limit.count} {by} by text an hour ({setting}). More are refused "
            "until the hour ends. If nobody expected this many, it may be SMS pumping: check the recent "
            "sign-ups and invitations and the addresses they came from."
        ),
        seconds=limit.seconds,
    )


def _still_current(confirmation: ChannelConfirmation) -> bool:
    """A confirmation confirms the address it was sent to, only while the caregiver still has it."""
    return confirmation.address == address_of(confirmation.caregiver, confirmation.channel)


def _confirm(confirmation: ChannelConfirmation, *, ip_address: str | None, message_sid: str = "") -> ConsentRecord:
    if not _still_current(confirmation):
        raise ValidationError(
            gettext("This was sent to an earlier number or address. Use the newest text or email we sent.")
        )
    confirmation.confirmed_at = timezone.now()
    confirmation.save(update_fields=["confirmed_at"])
    return caregiver_opt_in(
        caregiver=confirmation.caregiver,
        channel=confirmation.channel,
        source={Method.CODE: ConsentRecord.Source.WEB, Method.REPLY: ConsentRecord.Source.SMS}.get(
            confirmation.method, ConsentRecord.Source.EMAIL
        ),
        consent_text_version=confirmation.consent_text_version,
        ip_address=ip_address or confirmation.ip_address,
        message_sid=message_sid,
        recorded_by=confirmation.requested_by,
    )


def confirmation_code_check(*, caregiver: Caregiver, code: str, ip_address: str | None = None) -> ConsentRecord:
    """Check a typed SMS code. Right: the SMS channel is opted in. Wrong: raises, saying what to do.

    A wrong try is counted in its own transaction, so raising does not roll the count back.
    """
    with transaction.atomic():
        outcome = _code_try(caregiver, code, ip_address)
    if isinstance(outcome, str):
        raise ValidationError({"code": outcome})
    return outcome


def _code_try(caregiver: Caregiver, code: str, ip_address: str | None) -> ConsentRecord | str:
    confirmation = (
        ChannelConfirmation.objects.select_for_update()
        .filter(caregiver=caregiver, channel=ConsentRecord.Channel.SMS, method=Method.CODE, confirmed_at__isnull=True)
        .order_by("-created_at", "-id")
        .first()
    )
    if confirmation is None or not _still_current(confirmation):
        return gettext("There is no code waiting to be confirmed. Send a new code.")
    problem = code_typed_problem(code=code, expires_at=confirmation.expires_at, attempts=confirmation.attempts)
    if problem:
        return problem
    typed = "".join(ch for ch in code if ch.isdigit())
    if not hmac.compare_digest(confirmation.code_hash, _code_hash(caregiver.pk, typed)):
        confirmation.attempts += 1
        confirmation.save(update_fields=["attempts"])
        return code_wrong_message(attempts=confirmation.attempts)
    return _confirm(confirmation, ip_address=ip_address)


def code_typed_problem(*, code: str, expires_at: datetime, attempts: int) -> str:
    """Why a typed code cannot be checked at all ('' if it can): expired, too many tries, not 6 digits."""
    if expires_at <= timezone.now():
        return gettext("This code has expired. Send a new code and use it within 10 minutes.")
    if attempts >= CODE_ATTEMPTS:
        return gettext("Too many wrong tries. Send a new code.")
    typed = "".join(ch for ch in code if ch.isdigit())
    if len(typed) != 6 or len(code.strip()) > 20:
        return gettext("Enter the 6 digits from the text message.")
    return ""


def code_wrong_message(*, attempts: int) -> str:
    left = CODE_ATTEMPTS - attempts
    if left == 0:
        return gettext("That code is not right, and that was the last try. Send a new code.")
    return ngettext(
        "That code is not right. You have %(left)d try left.",
        "That code is not right. You have %(left)d tries left.",
        left,
    ) % {"left": left}


@transaction.atomic
def confirmation_link_check(*, token: str, ip_address: str | None = None) -> ChannelConfirmation:
    """Open an emailed link: the email channel is opted in. Opening it twice is harmless."""
    confirmation_id = email_confirm_id(token)
    confirmation = (
        ChannelConfirmation.objects.select_for_update().select_related("caregiver").filter(pk=confirmation_id).first()
        if confirmation_id
        else None
    )
    if confirmation is None or confirmation.method != Method.LINK:
        raise ValidationError(
            gettext("This link is not valid or has expired. Ask for a new one from the sign-up page.")
        )
    if confirmation.confirmed_at is None:
        if confirmation.expires_at <= timezone.now():
            raise ValidationError(
                gettext("This link was replaced by a newer one, or has expired. Use the newest email.")
            )
        _confirm(confirmation, ip_address=ip_address)
    return confirmation


@transaction.atomic
def confirmation_reply_check(*, caregiver: Caregiver, message_sid: str) -> ConsentRecord | None:
    """A YES text: confirms a staff enrollment's open invitation, if there is one."""
    confirmation = (
        ChannelConfirmation.objects.select_for_update()
        .filter(
            caregiver=caregiver,
            channel=ConsentRecord.Channel.SMS,
            address=caregiver.phone,  # the YES comes from this number: it confirms this number only
            confirmed_at__isnull=True,
            expires_at__gt=timezone.now(),
        )
        .order_by("-created_at", "-id")
        .first()
    )
    if confirmation is None:
        return None
    return _confirm(confirmation, ip_address=None, message_sid=message_sid)
