"""The phone on the page (`/dev/phone/`, local settings only): text as a caregiver would.

A reply goes through the real inbound webhook, signed as Twilio signs it, so what answers it is
what answers a real text (a wrong signature would be refused here too). The portal's view is a
404 unless settings.DEV_PHONE, which only the local settings turn on.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode
from uuid import uuid4

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet
from django.urls import reverse
from django.utils import timezone
from twilio.request_validator import RequestValidator

from caregiver.models import Caregiver, LovedOne

from . import planning, sending
from .inbound import MAX_BODY
from .models import InboundMessage, OutboundMessage


@dataclass(frozen=True)
class PhoneText:
    at: datetime
    from_us: bool  # True: a text the phone received; False: one its owner sent
    text: str


def phone_caregivers() -> QuerySet[Caregiver]:
    """Everyone with a mobile number, newest first (on a developer's machine: the demo's people
    and whoever signed up through /join/)."""
    return Caregiver.objects.exclude(phone="").select_related("clinic").order_by("-created_at", "-id")[:50]


def phone_conversation(*, caregiver: Caregiver) -> list[PhoneText]:
    """The texts on this caregiver's phone, oldest first: what the outbox sent there, what they
    texted us, and the webhook's immediate answer to each."""
    sent = OutboundMessage.objects.filter(channel=OutboundMessage.Channel.SMS, status__in=OutboundMessage.OUT).filter(
        Q(caregiver=caregiver) & (Q(to="") | Q(to=caregiver.phone)) | Q(caregiver=None, to=caregiver.phone)
    )
    # A webhook's immediate answer is kept in the outbox too (provider id twiml:<sid>): it is shown
    # once, right after the text it answers, from the inbound row.
    texts = [
        (m.sent_at or m.send_at, 0, PhoneText(at=m.sent_at or m.send_at, from_us=True, text=m.body))
        for m in sent.exclude(provider_id__startswith="twiml:")
    ]
    received = InboundMessage.objects.filter(from_number=caregiver.phone).filter(
        Q(clinic=caregiver.clinic) | Q(clinic=None)
    )
    for inbound in received:
        texts.append((inbound.received_at, 1, PhoneText(at=inbound.received_at, from_us=False, text=inbound.body)))
        if inbound.reply:
            texts.append((inbound.received_at, 2, PhoneText(at=inbound.received_at, from_us=True, text=inbound.reply)))
    return [text for _, _, text in sorted(texts, key=lambda entry: entry[:2])]


def phone_next_waiting(*, caregiver: Caregiver) -> OutboundMessage | None:
    """The next text planned for this phone and not yet due (an invitation waiting for the morning,
    tomorrow's reminder), so the page can say when it comes."""
    return (
        OutboundMessage.objects.filter(
            caregiver=caregiver, channel=OutboundMessage.Channel.SMS, status=OutboundMessage.Status.SCHEDULED
        )
        .order_by("send_at", "id")
        .first()
    )


def phone_text_send(*, caregiver: Caregiver, body: str, host: str) -> str:
    """Text `body` from the caregiver's phone to their clinic's number: POST it to the inbound
    webhook as Twilio would (form-encoded, signed with TWILIO_AUTH_TOKEN against PUBLIC_BASE_URL),
    then send in this process whatever it made due (a welcome, a crisis follow-up). Returns the
    webhook's immediate answer. `host`: the Host this page was asked for (it passed ALLOWED_HOSTS).
    """
    text = body.strip()
    if not text:
        raise ValidationError({"body": "Type a text to send."})
    if len(text) > MAX_BODY:
        raise ValidationError({"body": f"A text is at most {MAX_BODY} characters; this one has {len(text)}."})
    if not settings.TWILIO_AUTH_TOKEN:
        raise ValidationError("TWILIO_AUTH_TOKEN is empty, so the webhook refuses every text: set one.")
    clinic = caregiver.clinic
    form = {
        "MessageSid": f"SM{uuid4().hex}",
        "AccountSid": settings.TWILIO_ACCOUNT_SID or "AC" + "0" * 32,
        "From": caregiver.phone,
        "To": clinic.twilio_from_number,
        "Body": text,
        "NumMedia": "0",
    }
    if clinic.twilio_messaging_service_sid:
        form["MessagingServiceSid"] = clinic.twilio_messaging_service_sid
    from django.test import Client  # a developer's tool: not loaded unless the phone is used

    path = reverse("messaging:twilio-inbound")
    signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(settings.PUBLIC_BASE_URL + path, form)
    response = Client(HTTP_HOST=host, raise_request_exception=False).post(
        path, urlencode(form), content_type="application/x-www-form-urlencoded", HTTP_X_TWILIO_SIGNATURE=signature
    )
    if response.status_code != 200:
        raise ValidationError(
            f"The webhook answered {response.status_code}: {response.content.decode(errors='replace')[:200]}"
        )
    sending.due_send_here(now=timezone.now())
    return InboundMessage.objects.get(message_sid=form["MessageSid"]).reply


def family_next_send(*, loved_one: LovedOne, now: datetime) -> tuple[int, Counter[str]]:
    """Plan the family's caregivers, bring each one's next planned message forward to now and
    send what is due in this process, as `plan_now --send` does. For trying a course locally:
    the send-time checks (consent, quiet hours, caps) still apply."""
    ids = list(loved_one.caregivers.values_list("id", flat=True))
    for caregiver_id in ids:
        planning.plan_due(now=now, caregiver_id=caregiver_id)
    for caregiver_id in ids:
        upcoming = (
            OutboundMessage.objects.filter(caregiver_id=caregiver_id, status=OutboundMessage.Status.SCHEDULED)
            .order_by("send_at", "id")
            .first()
        )
        if upcoming is not None and upcoming.send_at > now:
            OutboundMessage.objects.filter(pk=upcoming.pk, status=OutboundMessage.Status.SCHEDULED).update(
                send_at=now, updated_at=now
            )
    return sending.due_send_here(now=now)
