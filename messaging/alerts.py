"""Crisis alerts: opened by a text that may mean someone is in danger, told to the clinic's on-call
contacts one after another until a person acknowledges, closed with a note.

The lifecycle is drawn on messaging.models.CrisisAlert; each arrow is one function here. Every
notification is an outbox row (kind ALERT, tied to the alert), so it is sent, retried and shown
like any other message; the escalation tick is a beat job over an index of what is due.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.urls import reverse

from caregiver.models import AuditEvent, Caregiver, Clinic, OnCallContact
from caregiver.services import audit_record

from . import rendering
from .models import CrisisAlert, InboundMessage, OutboundMessage

logger = logging.getLogger(__name__)
Status = CrisisAlert.Status
ACK_SALT = "alongside.crisis-ack"
ACK_LINK_DAYS = 7
ESCALATE_BATCH = 100


# --- Acknowledgement links ------------------------------------------------------------------------


def ack_token(*, alert_id: int, contact_id: int | None) -> str:
    """A link for one contact to acknowledge one alert: who clicked is who is recorded."""
    return signing.dumps({"a": alert_id, "c": contact_id or 0}, salt=ACK_SALT, compress=True)


def ack_token_read(token: str) -> tuple[int, int | None] | None:
    """(alert id, on-call contact id or None) from a link, or None if it is forged, too old, or
    was sent to a contact since removed from the clinic's on-call list."""
    try:
        data = signing.loads(token, salt=ACK_SALT, max_age=ACK_LINK_DAYS * 86400)
        alert_id, contact_id = int(data["a"]), int(data["c"]) or None
    except (signing.BadSignature, KeyError, TypeError, ValueError):
        return None
    on_call = OnCallContact.objects.filter(pk=contact_id, clinic__crisis_alerts=alert_id)
    if contact_id is not None and not on_call.exists():
        return None
    return alert_id, contact_id


def ack_url(*, alert_id: int, contact_id: int | None) -> str:
    token = ack_token(alert_id=alert_id, contact_id=contact_id)
    return settings.PUBLIC_BASE_URL + reverse("portal:alert-ack", args=[token])


# --- Who is told --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recipient:
    channel: str  # "sms" or "email"
    address: str
    contact_id: int | None = None


def _contact_recipients(contact: OnCallContact) -> list[Recipient]:
    found = []
    if contact.phone:
        found.append(Recipient("sms", contact.phone, contact.pk))
    if contact.email:
        found.append(Recipient("email", contact.email, contact.pk))
    return found


def recipients(*, clinic: Clinic, contacts: list[OnCallContact], level: int) -> list[Recipient]:
    """Level k < len(contacts): the k-th on-call contact. Past them: everyone, once each."""
    if level < len(contacts):
        return _contact_recipients(contacts[level])
    everyone = [r for contact in contacts for r in _contact_recipients(contact)]
    everyone += [Recipient("email", address) for address in staff_addresses(clinic)]
    seen: set[tuple[str, str]] = set()
    unique = []
    for recipient in everyone:
        key = (recipient.channel, recipient.address.lower())
        if key not in seen:
            seen.add(key)
            unique.append(recipient)
    return unique


def staff_addresses(clinic: Clinic) -> list[str]:
    """The clinic's contact address and its active staff members' emails, once each."""
    staff = (
        get_user_model()
        .objects.filter(memberships__clinic=clinic, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    return sorted(address for address in {clinic.contact_email, *staff} if address)


def staff_emails_create(*, clinic: Clinic, key: str, body: rendering.Body, now: datetime, **about: object) -> list[int]:
    """One email alert to each of `staff_addresses(clinic)`, once per `key` and address (a repeat
    makes nothing); `about`: the caregiver or appointment it concerns. The ids of the new rows."""
    created = []
    for address in staff_addresses(clinic):
        row, made = OutboundMessage.objects.get_or_create(
            dedupe_key=f"{key}:{address}",
            defaults={
                "clinic": clinic, "channel": "email", "kind": OutboundMessage.Kind.ALERT, "to": address,
                "body": body.text, "subject": body.subject, "html": body.html, "send_at": now, **about,
            },
        )  # fmt: skip
        if made:
            created.append(row.pk)
    return created


def _last_level(contacts: list[OnCallContact]) -> int:
    """The level at which everyone is told; with no on-call contacts, that is the first."""
    return len(contacts)


def _contacts(clinic: Clinic) -> list[OnCallContact]:
    return list(OnCallContact.objects.filter(clinic=clinic).order_by("position", "id"))


# --- The arrows -------------------------------------------------------------------------------------


def crisis_alert_open(
    *, inbound: InboundMessage, clinic: Clinic, caregiver: Caregiver | None, severity: str, now: datetime
) -> CrisisAlert:
    """Open an alert for a danger text and tell the first on-call contact (everyone, if the clinic
    has none); a `help` alert tells nobody here. One alert per text: a repeated delivery finds the
    one already open.

    A person who texts again while an alert about them is still open (twenty texts in two minutes,
    from a frightened family) gets an alert per text, for staff to read, but the phones are not
    paged again: the open alert is already paging and escalating, and its page shows the person's
    later texts (`crisis_alerts_same_person`). An emergency after a danger alert pages."""
    alert, created = CrisisAlert.objects.get_or_create(
        inbound=inbound,
        defaults={"clinic": clinic, "caregiver": caregiver, "severity": severity, "opened_at": now},
    )
    if created and severity == CrisisAlert.Severity.HELP:
        # HELP is on every message we send: the texter already has 988 and 911 in the HELP reply, so
        # the staff are emailed (the caller does) and nobody on call is paged.
        return alert
    if created and _already_paging(alert):
        return alert
    if created:
        contacts = _contacts(clinic)
        _notify(alert, contacts=contacts, now=now)
        if alert.level < _last_level(contacts):
            alert.next_escalation_at = now + timedelta(minutes=settings.CRISIS_ACK_MINUTES)
            alert.save(update_fields=["next_escalation_at"])
    return alert


def _same_sender(alert: CrisisAlert):
    """The clinic's other alerts about the person this one is about (a caregiver, or a number we
    do not know), as a queryset."""
    others = CrisisAlert.objects.filter(clinic_id=alert.clinic_id).exclude(pk=alert.pk)
    if alert.caregiver_id is not None:
        return others.filter(caregiver_id=alert.caregiver_id)
    return others.filter(caregiver__isnull=True, inbound__from_number=alert.inbound.from_number)


def crisis_alerts_same_person(alert: CrisisAlert) -> list[CrisisAlert]:
    """The person's other open alerts (not HELP), oldest first: shown on an alert's page, so that
    whoever says "I'm on it" has read every text it covers."""
    if alert.severity == CrisisAlert.Severity.HELP:
        return []
    return list(
        _same_sender(alert)
        .filter(status=Status.OPEN)
        .exclude(severity=CrisisAlert.Severity.HELP)
        .select_related("inbound")
        .order_by("opened_at", "id")
    )


def _already_paging(alert: CrisisAlert) -> bool:
    """An open danger or emergency alert about the same person, at least as grave as this one."""
    graver = [CrisisAlert.Severity.EMERGENCY]
    if alert.severity == CrisisAlert.Severity.DANGER:
        graver.append(CrisisAlert.Severity.DANGER)
    return _same_sender(alert).filter(status=Status.OPEN, severity__in=graver).exists()


def crisis_alerts_escalate(*, now: datetime) -> dict[str, int]:
    """Tell the next contact about every open alert nobody acknowledged in time (beat job)."""
    escalated = 0
    with transaction.atomic():
        due = list(
            CrisisAlert.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(status=Status.OPEN, next_escalation_at__lte=now)
            .select_related("clinic", "caregiver", "inbound")
            .order_by("next_escalation_at")[:ESCALATE_BATCH]
        )
        for alert in due:
            # Re-checked under the lock: an acknowledgement that committed since the query above
            # leaves the row acknowledged, and the constraint would refuse a further step anyway.
            contacts = _contacts(alert.clinic)
            alert.level = min(alert.level + 1, _last_level(contacts))
            _notify(alert, contacts=contacts, now=now)
            more = alert.level < _last_level(contacts)
            alert.next_escalation_at = now + timedelta(minutes=settings.CRISIS_ACK_MINUTES) if more else None
            alert.save(update_fields=["level", "next_escalation_at"])
            escalated += 1
    return {"escalated": escalated}


def crisis_alert_acknowledge(
    *,
    alert_id: int,
    now: datetime,
    by: AbstractBaseUser | None = None,
    contact_id: int | None = None,
    also: Iterable[int] = (),
) -> CrisisAlert:
    """Someone is on it: escalation stops. `also`: the person's other open alerts the page showed
    (crisis_alerts_same_person), acknowledged with it; none that was not shown. A text of theirs
    that is left open and has paged nobody (it came while the page was open) pages now, so that no
    text is covered by an acknowledgement given before it was read. Acknowledging twice keeps the
    first person's name."""
    with transaction.atomic():
        alert = CrisisAlert.objects.select_for_update(of=("self",)).select_related("clinic", "inbound").get(pk=alert_id)
        if alert.status != Status.OPEN:
            return alert
        shown = {a.pk for a in crisis_alerts_same_person(alert)} & {int(pk) for pk in also}
        # Locked, then read again: someone else may have acknowledged one of them meanwhile.
        locked = CrisisAlert.objects.select_for_update(of=("self",)).select_related("clinic")
        for other in locked.filter(pk__in=shown, status=Status.OPEN):
            _acknowledge_one(other, now=now, by=by, contact_id=contact_id)
        _acknowledge_one(alert, now=now, by=by, contact_id=contact_id)
        unread = [a for a in crisis_alerts_same_person(alert) if not a.notifications.exists()]
        if unread:
            # The graver first: an emergency among them pages before a danger text.
            first = min(unread, key=lambda a: (a.severity != CrisisAlert.Severity.EMERGENCY, a.opened_at, a.pk))
            contacts = _contacts(first.clinic)
            _notify(first, contacts=contacts, now=now)
            if first.level < _last_level(contacts):
                first.next_escalation_at = now + timedelta(minutes=settings.CRISIS_ACK_MINUTES)
                first.save(update_fields=["next_escalation_at"])
    return alert


def _acknowledge_one(alert: CrisisAlert, *, now: datetime, by: AbstractBaseUser | None, contact_id: int | None) -> None:
    """Acknowledge one locked, open alert (inside the caller's transaction)."""
    name = ""
    if by is not None:
        name = by.get_full_name() or by.get_username()
    elif contact_id is not None:
        contact = OnCallContact.objects.filter(pk=contact_id, clinic=alert.clinic).first()
        name = f"{contact.name} (from the alert link)" if contact else "Someone with the alert link"
    alert.status, alert.acknowledged_at, alert.next_escalation_at = Status.ACKNOWLEDGED, now, None
    alert.acknowledged_by, alert.acknowledged_by_name = by, name[:150]
    alert.save(
        update_fields=["status", "acknowledged_at", "next_escalation_at", "acknowledged_by", "acknowledged_by_name"]
    )
    # Notifications still waiting (a quiet moment in the outbox) are no longer needed.
    OutboundMessage.objects.filter(crisis_alert=alert, status__in=OutboundMessage.PENDING).update(
        status=OutboundMessage.Status.CANCELLED, status_reason="acknowledged", updated_at=now
    )
    audit_record(by=by, action=AuditEvent.Action.ALERT_ACKNOWLEDGE, target=alert.caregiver or alert.clinic)


def crisis_alert_close(*, alert_id: int, by: AbstractBaseUser, note: str, now: datetime) -> CrisisAlert:
    """Closed with a note of what was done; an open alert is acknowledged by the same act."""
    note = note.strip()
    if not note:
        raise ValidationError({"note": "Say what was done (for example: called the caregiver, all safe)."})
    alert = crisis_alert_acknowledge(alert_id=alert_id, now=now, by=by)
    with transaction.atomic():
        alert = CrisisAlert.objects.select_for_update(of=("self",)).select_related("clinic").get(pk=alert_id)
        if alert.status == Status.CLOSED:
            return alert
        alert.status, alert.closed_at, alert.closed_by, alert.close_note = Status.CLOSED, now, by, note[:2000]
        alert.save(update_fields=["status", "closed_at", "closed_by", "close_note"])
        audit_record(
            by=by,
            action=AuditEvent.Action.ALERT_CLOSE,
            target=alert.caregiver or alert.clinic,
            changes={"note": alert.close_note[:200]},
        )
    return alert


# --- Notifications ------------------------------------------------------------------------------


def _notify(alert: CrisisAlert, *, contacts: list[OnCallContact], now: datetime) -> int:
    """Outbox rows telling this level's recipients; the dispatcher is woken after commit."""
    created: list[int] = []
    for recipient in recipients(clinic=alert.clinic, contacts=contacts, level=alert.level):
        body = _alert_body(alert, recipient=recipient, everyone=alert.level >= _last_level(contacts))
        row, made = OutboundMessage.objects.get_or_create(
            dedupe_key=f"crisis:{alert.pk}:{alert.level}:{recipient.channel}:{recipient.address.lower()}",
            defaults={
                "caregiver": alert.caregiver, "clinic": alert.clinic, "crisis_alert": alert,
                "channel": recipient.channel, "kind": OutboundMessage.Kind.ALERT, "to": recipient.address,
                "body": body.text, "subject": body.subject, "html": body.html, "send_at": now,
            },
        )  # fmt: skip
        if made:
            created.append(row.pk)
    if created:
        from .inbound import dispatcher_wake

        # Sent from this process at once, and by the dispatcher if it gets there first: a stuck
        # worker or a broker outage must not keep a crisis page waiting.
        transaction.on_commit(lambda: dispatcher_wake(created, here=True))
    return len(created)


# Anything a mail program would make a link of: a scheme, "www.", or a dotted name ending in a
# lowercase word of letters (evil.example, bit.ly/x). Initials and numbers ("J.R.", "3.5 mg") are not.
_LINKISH = re.compile(r"(?i:https?://|www\.)\S+|\b[\w-]+(?:\.[\w-]+)*\.[a-z]{2,24}\b(?:/\S*)?")


def links_defanged(text: str) -> str:
    """A caregiver's words quoted to staff, with any address in them made unclickable, as security
    teams quote phishing: https[:]//evil[.]example/x. Staff can still read it; no mail program
    links it, so a text cannot put a look-alike of our "Say you're on it" link in front of on-call."""
    return _LINKISH.sub(lambda m: m.group().replace("://", "[:]//").replace(".", "[.]"), text).translate(
        {ord("<"): "‹", ord(">"): "›"}
    )


def text_context(*, inbound: InboundMessage, clinic: Clinic, caregiver: Caregiver | None) -> dict[str, str]:
    """What an email to staff says about a text: who sent it, for whom, when, what, and where to look."""
    received = inbound.received_at.astimezone(ZoneInfo(clinic.time_zone))
    if caregiver is not None:
        loved_ones = ", ".join(caregiver.loved_ones.order_by("first_name").values_list("first_name", flat=True))
        family = caregiver.loved_ones.order_by("pk").values_list("pk", flat=True).first()
        # The number the text came from, not the caregiver's number now: that is the one to call back.
        who, phone = caregiver.name, rendering.national_phone(inbound.from_number)
        if caregiver.language != "en":
            # Whoever calls back should know before they dial.
            who = f"{who} (reads {caregiver.get_language_display()}: call back in {caregiver.get_language_display()})"
        page = f"{settings.PUBLIC_BASE_URL}{reverse('portal:family', args=[family])}" if family else ""
    else:
        loved_ones, who, phone = "not known", "A number we don't know", rendering.national_phone(inbound.from_number)
        page = ""
    return {
        **rendering.base_context(caregiver, clinic, loved_ones, language="en"),  # to staff, who read English
        "caregiver_full_name": who,
        "caregiver_phone": phone,
        "received_at": f"{received:%b} {received.day}, {received:%I:%M %p}".replace(" 0", " "),
        # One line, so a blank line in what they wrote cannot break the quote it is shown in.
        # As written but for any address in it (links_defanged); message_render escapes it for the
        # HTML email as well.
        "message_text": links_defanged(" ".join(inbound.body.split())[:320]),
        "family_url": page or f"{settings.PUBLIC_BASE_URL}{reverse('portal:alerts')}",
    }


def _alert_body(alert: CrisisAlert, *, recipient: Recipient, everyone: bool) -> rendering.Body:
    context = {
        **text_context(inbound=alert.inbound, clinic=alert.clinic, caregiver=alert.caregiver),
        "ack_url": ack_url(alert_id=alert.pk, contact_id=recipient.contact_id),
        "severity": {"emergency": "Medical emergency", "help": "Asked for help"}.get(alert.severity, "Possible danger"),
        "escalation": (
            "Nobody has acknowledged this alert yet, so it has gone to everyone on the list."
            if everyone and alert.level > 0
            else "If nobody acknowledges it, the next person on call will be alerted."
            if not everyone
            else "Everyone on the clinic's list has this alert."
        ),
    }
    return rendering.template_body(key="staff-crisis-alert", channel=recipient.channel, context=context, caregiver=None)
