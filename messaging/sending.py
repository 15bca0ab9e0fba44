"""Sending one message, Zulip-style: lock the row, re-check everything, mark it `sending`,
commit; call the provider outside any transaction; record what happened after.
"""

from __future__ import annotations

import logging
import random
import time
from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.urls import reverse
from django.utils import timezone

from caregiver import services as caregiver_services
from caregiver.models import Appointment, Caregiver, ConsentRecord
from caregiver.selectors import caregiver_consent

from . import locks, rendering, timing
from .models import OutboundMessage
from .providers import PermanentError, TransientError, sms_provider
from .providers.email import email_send
from .providers.twilio import INVALID_NUMBER, UNSUBSCRIBED

logger = logging.getLogger(__name__)
Status = OutboundMessage.Status
Kind = OutboundMessage.Kind
# A rate-limit wait this short is slept off in the worker; a longer one goes back to the table.
MAX_INLINE_WAIT = 1.0


# --- Checks at send time ----------------------------------------------------------------------


def _consent_problem(message: OutboundMessage, now: datetime) -> str:
    """Why this message may not go to this caregiver now ('' when it may)."""
    if message.kind == Kind.ALERT:
        return ""  # to clinic staff, about a caregiver: their consent is not the question
    caregiver = message.caregiver
    consent = caregiver_consent(caregiver=caregiver).get(message.channel)
    if consent is False or caregiver.status == Caregiver.Status.OPTED_OUT:
        return "opted_out"
    if message.channel == "sms" and (not caregiver.phone or caregiver.sms_blocked_reason):
        return "undeliverable"
    if message.channel == "email" and not caregiver.email:
        return "undeliverable"
    if message.kind in (Kind.CONFIRMATION, Kind.REPLY):
        return ""  # they asked for it: a code, a welcome, an answer
    if caregiver.status == Caregiver.Status.PAUSED and (caregiver.paused_until is None or caregiver.paused_until > now):
        return "paused"
    if caregiver.status == Caregiver.Status.PENDING or consent is not True:
        return "no_consent"
    return ""


def _reminder_problem(message: OutboundMessage) -> str:
    if message.kind != Kind.REMINDER:
        return ""
    appointment = message.appointment
    if appointment is None or appointment.status == Appointment.Status.CANCELLED:
        return "appointment_cancelled"
    if not message.dedupe_key.endswith(f":{int(appointment.starts_at.timestamp())}"):
        return "rescheduled"
    if message.rule is not None and message.rule.skip_if_ride_arranged and appointment.ride_arranged:
        return "ride_arranged"
    return ""


def _over_cap(message: OutboundMessage) -> bool:
    if message.kind not in OutboundMessage.CAPPED_KINDS:
        return False
    zone = timing.zone_of(message.caregiver)
    day = message.send_at.astimezone(zone).date()
    start = datetime.combine(day, datetime.min.time(), tzinfo=zone)
    went_out = (
        OutboundMessage.objects.filter(
            caregiver=message.caregiver,
            channel=message.channel,
            kind__in=OutboundMessage.CAPPED_KINDS,
            status__in=OutboundMessage.OUT,
            sent_at__gte=start,
            sent_at__lt=start + timedelta(days=1),
        )
        .exclude(pk=message.pk)
        .count()
    )
    return went_out >= settings.DAILY_MESSAGE_CAP


def _suppress(message: OutboundMessage, reason: str, now: datetime) -> None:
    message.status = Status.CANCELLED if reason in ("appointment_cancelled", "rescheduled") else Status.SUPPRESSED
    message.status_reason = reason
    message.lease_expires_at = None
    message.save(update_fields=["status", "status_reason", "lease_expires_at", "updated_at"])


# --- The send ---------------------------------------------------------------------------------


def _claim_for_send(message_id: int, now: datetime) -> OutboundMessage | str:
    """Lock the row and decide. Returns the message, now `sending`, or why it was not sent."""
    with transaction.atomic():
        message = (
            OutboundMessage.objects.select_for_update(skip_locked=True, of=("self",))
            .select_related("caregiver__clinic", "appointment__loved_one__clinic", "rule")
            .filter(pk=message_id)
            .first()
        )
        if message is None:
            return "locked"  # another worker has it, or it is gone
        if message.status != Status.QUEUED:
            return f"skipped:{message.status}"
        if message.not_after and now > message.not_after:
            _suppress(message, "stale", now)
            return "suppressed:stale"
        reason = _consent_problem(message, now) or _reminder_problem(message)
        if reason:
            _suppress(message, reason, now)
            return f"suppressed:{reason}"
        if message.kind in OutboundMessage.CAPPED_KINDS and not timing.is_allowed(message.caregiver, now):
            later = timing.next_allowed(message.caregiver, now) if message.kind == Kind.TIP else None
            if later is not None and (message.not_after is None or later < message.not_after):
                message.status, message.send_at, message.lease_expires_at = Status.SCHEDULED, later, None
                message.save(update_fields=["status", "send_at", "lease_expires_at", "updated_at"])
                return "deferred:quiet_hours"
            _suppress(message, "quiet_hours", now)
            return "suppressed:quiet_hours"
        if _over_cap(message):
            _suppress(message, "daily_cap", now)
            return "suppressed:daily_cap"
        if message.kind != Kind.ALERT:
            message.to = message.caregiver.phone if message.channel == "sms" else message.caregiver.email
        message.status = Status.SENDING
        message.attempts += 1
        message.attempt_started_at = now
        message.lease_expires_at = now + timedelta(seconds=settings.DISPATCH_LEASE_SECONDS)
        message.save(update_fields=["to", "status", "attempts", "attempt_started_at", "lease_expires_at", "updated_at"])
        return message


def status_callback_url(message: OutboundMessage) -> str:
    # Our id rides in the URL, so a callback that beats our own bookkeeping still finds its row.
    return f"{settings.PUBLIC_BASE_URL}{reverse('messaging:twilio-status')}?m={message.pk}"


def _sender(message: OutboundMessage) -> tuple[str, str]:
    clinic = message.caregiver.clinic
    return clinic.twilio_from_number, clinic.twilio_messaging_service_sid


def _provider_send(message: OutboundMessage) -> str:
    if message.channel == "sms":
        provider = sms_provider()
        from_number, service_sid = _sender(message)
        if message.needs_reconcile:
            found = provider.find_sent(
                to=message.to, from_number=from_number, body=message.body, since=message.attempt_started_at
            )
            if found:
                return found
        return provider.send(
            to=message.to,
            body=message.body,
            from_number=from_number,
            messaging_service_sid=service_sid,
            status_callback=status_callback_url(message),
        )
    return email_send(
        to=message.to,
        subject=message.subject or message.body[:60],
        text=message.body,
        html=message.html,
        unsubscribe_url=rendering.unsubscribe_url(message.caregiver) if message.kind != Kind.ALERT else "",
        # Same id on every attempt, so a duplicate after an ambiguous failure is recognisable.
        message_id=f"<outbox-{message.pk}@{settings.EMAIL_MESSAGE_ID_DOMAIN}>",
    )


def _wait_for_token(message: OutboundMessage) -> float:
    """Take a send token for the clinic's SMS sender; returns seconds still to wait (0: go)."""
    if message.channel != "sms":
        return 0.0
    clinic = message.caregiver.clinic
    sender = clinic.twilio_messaging_service_sid or clinic.twilio_from_number or f"clinic-{clinic.pk}"
    wait = locks.sender_take_token(sender, rate=clinic.sms_mps or settings.SMS_SENDER_MPS)
    if 0 < wait <= MAX_INLINE_WAIT:
        time.sleep(wait)
        wait = locks.sender_take_token(sender, rate=clinic.sms_mps or settings.SMS_SENDER_MPS)
    return wait


def message_send(*, message_id: int) -> str:
    """Send one queued message at most once. Returns what happened, for the task's log."""
    now = timezone.now()
    claimed = _claim_for_send(message_id, now)
    if isinstance(claimed, str):
        return claimed
    message = claimed
    wait = _wait_for_token(message)
    if wait > 0:
        _record_later(message, delay=wait, error="", code="rate_limited", ambiguous=False, count_attempt=False)
        return "deferred:rate_limited"
    try:
        provider_id = _provider_send(message)
    except TransientError as exc:
        return _record_transient(message, exc)
    except PermanentError as exc:
        return _record_permanent(message, exc)
    _record_sent(message, provider_id)
    return "sent"


# --- Recording results ------------------------------------------------------------------------


def _record_sent(message: OutboundMessage, provider_id: str) -> None:
    now = timezone.now()
    moved = OutboundMessage.objects.filter(pk=message.pk, status=Status.SENDING).update(
        status=Status.SENT, provider_id=provider_id, sent_at=now, lease_expires_at=None,
        needs_reconcile=False, last_error="", error_code="", updated_at=now,
    )  # fmt: skip
    if not moved:
        # A status callback got there first and moved it further; keep that, fill in the id.
        OutboundMessage.objects.filter(pk=message.pk, provider_id="").update(provider_id=provider_id, sent_at=now)


def backoff_seconds(attempts: int, *, retry_after: float | None = None) -> float:
    """Exponential backoff with jitter (30 s, 60 s, 2 min, ... capped at an hour), at least Retry-After."""
    ceiling = min(3600.0, settings.SEND_RETRY_BASE_SECONDS * 2 ** max(0, attempts - 1))
    return max(retry_after or 0.0, random.uniform(ceiling / 2, ceiling))  # noqa: S311 - jitter, not security


def _record_later(
    message: OutboundMessage, *, delay: float, error: str, code: str, ambiguous: bool, count_attempt: bool = True
) -> str:
    now = timezone.now()
    send_at = now + timedelta(seconds=delay)
    fields = {
        "status": Status.SCHEDULED, "send_at": send_at, "lease_expires_at": None, "last_error": error[:2000],
        "error_code": code, "needs_reconcile": message.needs_reconcile or ambiguous, "updated_at": now,
    }  # fmt: skip
    if not count_attempt:
        fields["attempts"] = message.attempts - 1
    if message.not_after and send_at > message.not_after:
        fields.update(status=Status.SUPPRESSED, status_reason="stale")
    OutboundMessage.objects.filter(pk=message.pk, status=Status.SENDING).update(**fields)
    return f"retry:{code}" if fields["status"] == Status.SCHEDULED else "suppressed:stale"


def _record_transient(message: OutboundMessage, exc: TransientError) -> str:
    logger.warning("message %s attempt %s failed (%s): %s", message.pk, message.attempts, exc.code, exc)
    if message.attempts >= settings.SEND_MAX_ATTEMPTS:
        return _record_failed(message, f"gave up after {message.attempts} attempts: {exc}", exc.code)
    return _record_later(
        message,
        delay=backoff_seconds(message.attempts, retry_after=exc.retry_after),
        error=str(exc),
        code=exc.code,
        ambiguous=exc.ambiguous,
    )


def _record_failed(message: OutboundMessage, error: str, code: str) -> str:
    now = timezone.now()
    OutboundMessage.objects.filter(pk=message.pk, status=Status.SENDING).update(
        status=Status.FAILED, last_error=error[:2000], error_code=code, lease_expires_at=None, updated_at=now
    )
    return f"failed:{code}"


def _record_permanent(message: OutboundMessage, exc: PermanentError) -> str:
    logger.warning("message %s failed for good (%s): %s", message.pk, exc.code, exc)
    result = _record_failed(message, str(exc), exc.code)
    caregiver = message.caregiver
    if message.channel == "sms" and message.kind != Kind.ALERT:
        if exc.code == UNSUBSCRIBED:
            # The carrier says this number unsubscribed (STOP sent to the carrier): honour it everywhere.
            caregiver_services.caregiver_opt_out(
                caregiver=caregiver, channel=ConsentRecord.Channel.SMS, source=ConsentRecord.Source.SMS
            )
        elif exc.code in INVALID_NUMBER:
            caregiver_services.caregiver_block_sms(caregiver=caregiver, reason=f"Twilio {exc.code}: {exc}")
    return result
