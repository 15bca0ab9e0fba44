"""What the email provider tells us about addresses: hard bounces, spam complaints and refusals.

Email goes out over SMTP (messaging/providers/email.py); the provider behind the relay (Postmark,
SendGrid, Mailgun…) reports what happened to it on django-anymail's tracking webhook,
`/anymail/<provider>/tracking/`, which checks HTTP basic auth against `ANYMAIL["WEBHOOK_SECRET"]`.
Anymail turns each provider's payload into one `AnymailTrackingEvent`; `on_tracking` reads it:

- `bounced` (a hard bounce: the mailbox does not exist), `complained` (marked as spam) and
  `rejected` (the provider will not send to an address on its suppression list) block email to
  every caregiver with that address, at any clinic (`caregiver_block_email`), until their address
  changes. What is still waiting for them is held at send time as `undeliverable`.
- Anything else, a soft bounce above all (`deferred`, and the providers' own soft kinds below),
  changes nothing: a full mailbox today is not a dead one.

Each event is recorded once (`EmailEvent.event_id`): a webhook delivered twice blocks once.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from collections.abc import Callable
from datetime import datetime, timedelta

from anymail.exceptions import AnymailConfigurationError
from anymail.signals import AnymailTrackingEvent, EventType, RejectReason, tracking
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import IntegrityError, transaction
from django.dispatch import receiver
from django.http import HttpRequest, HttpResponse
from django.urls import URLPattern
from django.utils import timezone

from caregiver import services as caregiver_services
from caregiver.models import Caregiver
from config.redact import pii_mask

from .models import EmailEvent, OutboundMessage

logger = logging.getLogger(__name__)
Kind = EmailEvent.Kind

# Bounces a provider reports as `bounced` that are not about the address: Postmark's soft bounce
# (a full mailbox, "might also receive HardBounce later") and a virus found in the message;
# SendGrid's "blocked" (the receiving server refused our sending IP for now, not the mailbox).
SOFT_BOUNCES = {"Postmark": ("Type", {"SoftBounce", "VirusNotification"}), "SendGrid": ("type", {"blocked"})}
# Refusals that are about the address (on the provider's suppression list for a bounce, a
# complaint or an unsubscribe, or not an address at all). Others ("blocked" by policy, Postmark's
# DMARCPolicy or Unconfirmed) are about our sending setup: an operator's problem, not the caregiver's.
ADDRESS_REFUSALS = {RejectReason.INVALID, RejectReason.BOUNCED, RejectReason.SPAM, RejectReason.UNSUBSCRIBED}
PROVIDER_SUPPRESSED = {"Postmark": ("Type", {"ManuallyDeactivated"})}
OUR_MESSAGE_ID = re.compile(r"<?outbox-(\d+)@")
# A message sent to the address at most this long before the event is taken to be the one it is about.
MESSAGE_LOOKBACK = timedelta(days=3)


def blocking_kind(event: AnymailTrackingEvent, esp_name: str) -> str:
    """The EmailEvent kind this event blocks its address with, or '' when it blocks nothing."""
    raw = event.esp_event if isinstance(event.esp_event, dict) else {}

    def provider_says(table: dict[str, tuple[str, set[str]]]) -> bool:
        field, values = table.get(esp_name, ("", set()))
        return bool(field) and raw.get(field) in values

    if event.event_type == EventType.BOUNCED:
        return "" if provider_says(SOFT_BOUNCES) else Kind.BOUNCED
    if event.event_type == EventType.COMPLAINED:
        return Kind.COMPLAINED
    about_the_address = event.reject_reason in ADDRESS_REFUSALS or provider_says(PROVIDER_SUPPRESSED)
    return Kind.REJECTED if event.event_type == EventType.REJECTED and about_the_address else ""


def event_key(event: AnymailTrackingEvent, esp_name: str) -> str:
    """The provider's id for the event, or, when it gives none, a hash of what it sent: the same
    delivery twice has the same key either way."""
    if event.event_id:
        return f"{esp_name}:{event.event_id}"[:200]
    raw = json.dumps(event.esp_event, sort_keys=True, default=str)
    return f"{esp_name}:sha256:{hashlib.sha256(raw.encode()).hexdigest()}"


def block_reason(*, kind: str, event: AnymailTrackingEvent, esp_name: str, when: datetime) -> str:
    """What staff read: "Bounced: mailbox does not exist (Postmark, Dec 3)", the address masked."""
    label = {Kind.BOUNCED: "Bounced", Kind.COMPLAINED: "Marked as spam", Kind.REJECTED: "Refused by the provider"}
    detail = " ".join(str(event.description or event.mta_response or event.reject_reason or "").split())
    suffix = f" ({esp_name}, {when:%b} {when.day})"
    head = f"{label[kind]}: {pii_mask(detail)}" if detail and kind == Kind.BOUNCED else label[kind]
    room = 120 - len(suffix)
    return (head if len(head) <= room else head[: room - 1].rstrip() + "…") + suffix


def _message_for(caregiver: Caregiver, event: AnymailTrackingEvent, when: datetime) -> OutboundMessage | None:
    """The email the event is about: ours by its Message-ID when the provider passes it back
    (<outbox-ID@…>, SendGrid's smtp-id), else the last one sent to the address before the event."""
    emails = OutboundMessage.objects.filter(caregiver=caregiver, channel=OutboundMessage.Channel.EMAIL)
    found = OUR_MESSAGE_ID.search(str(event.message_id or ""))
    if found:
        return emails.filter(pk=int(found.group(1))).first()
    return (
        emails.filter(to__iexact=caregiver.email, sent_at__lte=when, sent_at__gte=when - MESSAGE_LOOKBACK)
        .order_by("-sent_at")
        .first()
    )


@transaction.atomic
def email_event_record(*, event: AnymailTrackingEvent, esp_name: str, now: datetime) -> list[EmailEvent]:
    """Record one provider event and block the address it names; returns the events recorded
    (one per caregiver with the address, none for an event already recorded or one that blocks nothing)."""
    kind = blocking_kind(event, esp_name)
    recipient = (event.recipient or "").strip()
    if not kind or not recipient:
        return []
    key = event_key(event, esp_name)
    when = event.timestamp or now
    # Not a caregiver who took the address after the event (it was about its earlier owner).
    caregivers = list(
        Caregiver.objects.select_for_update()
        .filter(email__iexact=recipient)
        .exclude(email="")
        .exclude(email_since__gt=when)
        .order_by("pk")
    )
    description = pii_mask(" ".join(str(event.description or event.mta_response or "").split()))[:200]
    recorded = []
    for caregiver in caregivers or [None]:
        # One event per caregiver (the same address at two clinics: each clinic's staff see theirs),
        # keyed by the provider's id, so a second delivery records and blocks nothing.
        event_id = key if caregiver is None else f"{key[:180]}#{caregiver.pk}"
        try:
            with transaction.atomic():
                recorded.append(
                    EmailEvent.objects.create(
                        event_id=event_id, kind=kind, caregiver=caregiver,
                        clinic=caregiver.clinic if caregiver else None,
                        message=_message_for(caregiver, event, when) if caregiver else None,
                        description=description, occurred_at=when,
                    )
                )  # fmt: skip
        except IntegrityError:
            continue  # delivered before: recorded and blocked then
        if caregiver is not None and not caregiver.email_blocked_reason:
            # Blocked already (the bounce, then the provider's refusal to send again): the first reason stands.
            caregiver_services.caregiver_block_email(
                caregiver=caregiver, reason=block_reason(kind=kind, event=event, esp_name=esp_name, when=when)
            )
    if not caregivers:
        logger.info("%s %s for an address no caregiver has (%s)", esp_name, kind, pii_mask(recipient))
    return recorded


@receiver(tracking, dispatch_uid="messaging.bounces.on_tracking")
def on_tracking(sender, *, event: AnymailTrackingEvent, esp_name: str, **kwargs) -> None:
    email_event_record(event=event, esp_name=esp_name, now=timezone.now())


# --- The webhook's doors ----------------------------------------------------------------------


def _guarded(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """Anymail's view, refusing every call while no secret is set (anymail itself would only warn
    and let anyone in), and answering a payload it cannot read with a 400 that says so, not a 500
    (a 500 asks the provider to send it again, forever). A database that is down is still a 500:
    then the provider should send it again."""

    @functools.wraps(view)
    def guarded(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not settings.ANYMAIL.get("WEBHOOK_SECRET"):
            return HttpResponse("Email webhooks are off: ANYMAIL_WEBHOOK_SECRET is not set.", status=403,
                                content_type="text/plain")  # fmt: skip
        try:
            return view(request, *args, **kwargs)
        except (AnymailConfigurationError, ImproperlyConfigured) as exc:
            logger.error("email webhook %s is not set up: %s", request.path, exc)
            return HttpResponse(f"This webhook is not set up for this provider: {exc}", status=400,
                                content_type="text/plain")  # fmt: skip
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            logger.warning("email webhook %s: unreadable payload (%s)", request.path, type(exc).__name__)
            return HttpResponse("The payload could not be read as this provider's tracking events.",
                                status=400, content_type="text/plain")  # fmt: skip

    return guarded


def tracking_urls() -> list[URLPattern]:
    """Anymail's tracking webhooks (one per provider; we read no inbound email), each guarded."""
    from anymail import urls

    return [
        URLPattern(pattern.pattern, _guarded(pattern.callback), pattern.default_args, pattern.name)
        for pattern in urls.urlpatterns
        if isinstance(pattern, URLPattern) and (pattern.name or "").endswith("_tracking_webhook")
    ]
