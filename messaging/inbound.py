"""What caregivers text us, and what the provider tells us about what we sent."""

from __future__ import annotations

import logging
import re
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import IntegrityError, transaction
from django.utils import timezone

from caregiver import services as caregiver_services
from caregiver.models import Appointment, Caregiver, Clinic, ConsentRecord
from content.models import MessageTemplate
from content.validation import TemplateRenderError

from . import rendering
from .models import InboundMessage, OutboundMessage

logger = logging.getLogger(__name__)
Status = OutboundMessage.Status

OPT_OUT = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
OPT_IN = {"START", "YES", "UNSTOP"}
HELP = {"HELP", "INFO"}
PREFERENCES = {"PREFS", "PREFERENCES", "SETTINGS", "CHANGE"}
RIDE = {"RIDE"}
START_CONSENT_VERSION = "sms-keyword-start"

# Words that may mean someone is in danger. Deliberately broad: a false alarm costs a staff
# member a minute; a missed one could cost far more.
CRISIS = re.compile(
    r"suicid|kill (my|him|her|them)sel|end (it all|my life|his life|her life|their life)|(want|wants|wanna) to die"
    r"|better off dead|no reason to live|(don'?t|doesn'?t|do not|does not) want to (live|be here)"
    r"|hurt(ing)? (my|him|her|them)sel|self[- ]?harm|overdos|took (all|too many) (the |of (my|his|her|their) )?pills"
    r"|can'?t go on|not safe|in danger|emergency|\b911\b|\b988\b",
    re.IGNORECASE,
)


def keyword_of(body: str) -> str:
    """The single keyword a text is, if it is one: case, spaces and trailing punctuation ignored."""
    word = re.sub(r"[\s.!?,;:'\"-]+", "", body or "").upper()
    return word if word.isalpha() and len(word) <= 12 else ""


def signals_crisis(body: str) -> bool:
    return bool(CRISIS.search(body or ""))


@dataclass(frozen=True)
class InboundResult:
    action: str
    reply: str


def _clinic_for(to_number: str, messaging_service_sid: str) -> Clinic | None:
    if messaging_service_sid:
        clinic = Clinic.objects.filter(twilio_messaging_service_sid=messaging_service_sid).first()
        if clinic:
            return clinic
    return Clinic.objects.filter(twilio_from_number=to_number).first()


def _record_reply(caregiver: Caregiver, inbound_sid: str, body: str, now) -> None:
    """The TwiML reply goes out with the webhook response; keep it in the outbox for the timeline."""
    OutboundMessage.objects.get_or_create(
        dedupe_key=f"reply:{inbound_sid}",
        defaults={
            "caregiver": caregiver, "channel": "sms", "kind": OutboundMessage.Kind.REPLY, "to": caregiver.phone,
            "body": body, "send_at": now, "status": Status.SENT, "sent_at": now, "provider_id": f"twiml:{inbound_sid}",
        },
    )  # fmt: skip


def staff_alert(*, caregiver: Caregiver, inbound: InboundMessage, template_key: str) -> int:
    """Email every staff member of the caregiver's clinic (and its contact address), now."""
    clinic = caregiver.clinic
    addresses = {clinic.contact_email} | set(
        get_user_model()
        .objects.filter(memberships__clinic=clinic, is_active=True)
        .exclude(email="")
        .values_list("email", flat=True)
    )
    received = inbound.received_at.astimezone(ZoneInfo(clinic.time_zone))
    context = {
        **rendering.base_context(
            caregiver, clinic, ", ".join(caregiver.loved_ones.values_list("first_name", flat=True))
        ),
        "caregiver_full_name": caregiver.name,
        "caregiver_phone": rendering.national_phone(caregiver.phone),
        "received_at": f"{received:%b} {received.day}, {received:%I:%M %p}".replace(" 0", " "),
        # One line, so a blank line in what they wrote cannot break the quote it is shown in.
        "message_text": " ".join(inbound.body.split())[:320],
        "family_url": f"{settings.PUBLIC_BASE_URL}/staff/families/{_family_id(caregiver)}/",
    }
    body = rendering.template_body(key=template_key, channel="email", context=context, caregiver=None)
    now = timezone.now()
    created = 0
    for address in sorted(a for a in addresses if a):
        _, made = OutboundMessage.objects.get_or_create(
            dedupe_key=f"alert:{inbound.message_sid}:{address}",
            defaults={
                "caregiver": caregiver, "channel": "email", "kind": OutboundMessage.Kind.ALERT, "to": address,
                "body": body.text, "subject": body.subject, "html": body.html, "send_at": now,
            },
        )  # fmt: skip
        created += made
    return created


def _next_treatment(caregiver: Caregiver, now) -> Appointment | None:
    return (
        Appointment.objects.filter(
            loved_one__links__caregiver=caregiver,
            status=Appointment.Status.SCHEDULED,
            kind__in=Appointment.TREATMENT_KINDS,
            starts_at__gt=now,
        )
        .select_related("loved_one__clinic")
        .order_by("starts_at")
        .first()
    )


# If a template is missing or broken, a safety reply must still go out, and an opt-out must still
# be recorded: these plain words stand in, and the error is logged.
FALLBACK_REPLIES = {
    "stop": "Alongside: You are unsubscribed and will get no more texts. Reply START to resubscribe.",
    "start": "Alongside: You are subscribed again. Reply STOP to opt out, HELP for help.",
    "help": "Alongside: For help call your clinic. In a crisis call or text 988, or call 911. Reply STOP to opt out.",
    "crisis": "Alongside: If anyone may be in danger, call or text 988 now, or call 911. We have told your clinic.",
}


def _reply(key: str, context: dict[str, str]) -> str:
    try:
        return rendering.template_body(key=key, channel="sms", context=context, caregiver=None).text
    except (MessageTemplate.DoesNotExist, TemplateRenderError):
        logger.exception("reply template %r could not be rendered; sending the built-in text", key)
        return FALLBACK_REPLIES.get(key, "")


@transaction.atomic
def inbound_receive(
    *, message_sid: str, from_number: str, to_number: str, body: str, messaging_service_sid: str = ""
) -> InboundResult:
    """Act on one inbound SMS, once: a repeated delivery of the same MessageSid gets the same reply."""
    existing = InboundMessage.objects.filter(message_sid=message_sid).first()
    if existing is not None:
        return InboundResult(action=existing.action, reply=existing.reply)
    now = timezone.now()
    clinic = _clinic_for(to_number, messaging_service_sid)
    caregiver = (
        Caregiver.objects.select_related("clinic").filter(clinic=clinic, phone=from_number).first() if clinic else None
    )
    inbound = InboundMessage(
        message_sid=message_sid, from_number=from_number, to_number=to_number, body=body[:1600],
        clinic=clinic, caregiver=caregiver,
    )  # fmt: skip
    if caregiver is None:
        inbound.action = InboundMessage.Action.UNKNOWN_SENDER
        if clinic and signals_crisis(body):
            # We cannot alert about someone we do not know, but we can still point them to help.
            inbound.reply = _reply("crisis", rendering.base_context(None, clinic, "someone"))
        return _save(inbound)
    context = rendering.base_context(caregiver, caregiver.clinic, _loved_one_names(caregiver))
    keyword = keyword_of(body)
    if keyword in OPT_OUT:
        caregiver_services.caregiver_opt_out(
            caregiver=caregiver,
            channel=ConsentRecord.Channel.SMS,
            source=ConsentRecord.Source.SMS,
            message_sid=message_sid,
        )
        inbound.action, inbound.reply = InboundMessage.Action.OPT_OUT, _reply("stop", context)
    elif keyword in OPT_IN:
        # YES to a staff enrollment's invitation confirms it (with the consent text staff used);
        # otherwise START/YES is a plain opt-in.
        confirmed = caregiver_services.confirmation_reply_check(caregiver=caregiver, message_sid=message_sid)
        if confirmed is None:
            caregiver_services.caregiver_opt_in(
                caregiver=caregiver,
                channel=ConsentRecord.Channel.SMS,
                source=ConsentRecord.Source.SMS,
                consent_text_version=START_CONSENT_VERSION,
                message_sid=message_sid,
            )
        # A first confirmation gets the welcome (sent on consent), not "subscribed again".
        inbound.action = InboundMessage.Action.OPT_IN
        inbound.reply = "" if confirmed is not None else _reply("start", context)
    elif keyword in PREFERENCES:
        inbound.action = InboundMessage.Action.PREFERENCES
        inbound.reply = _reply("preferences-link", {**context, "preferences_url": rendering.preferences_url(caregiver)})
    elif keyword in HELP:
        inbound.action, inbound.reply = InboundMessage.Action.HELP, _reply("help", context)
    elif keyword in RIDE:
        appointment = _next_treatment(caregiver, now)
        if appointment is None:
            inbound.action, inbound.reply = InboundMessage.Action.RIDE_NOT_FOUND, _reply("ride-no-appointment", context)
        else:
            caregiver_services.appointment_mark_ride_arranged(appointment=appointment, caregiver=caregiver)
            inbound.action = InboundMessage.Action.RIDE
            inbound.reply = _reply("ride-confirmed", rendering.appointment_context(caregiver, appointment))
    elif signals_crisis(body):
        inbound.action, inbound.reply = InboundMessage.Action.CRISIS, _reply("crisis", context)
    else:
        inbound.action = InboundMessage.Action.STORED
    inbound = _save(inbound)
    if inbound.action in (InboundMessage.Action.CRISIS, InboundMessage.Action.HELP):
        key = "staff-crisis-alert" if inbound.action == InboundMessage.Action.CRISIS else "staff-help-alert"
        staff_alert(caregiver=caregiver, inbound=inbound, template_key=key)
        transaction.on_commit(dispatcher_wake)
    if inbound.reply:
        _record_reply(caregiver, message_sid, inbound.reply, now)
    return InboundResult(action=inbound.action, reply=inbound.reply)


def _family_id(caregiver: Caregiver) -> int | str:
    first = caregiver.loved_ones.order_by("pk").values_list("pk", flat=True).first()
    return first if first is not None else ""


def _loved_one_names(caregiver: Caregiver) -> str:
    return " and ".join(caregiver.loved_ones.order_by("first_name").values_list("first_name", flat=True))


def _save(inbound: InboundMessage) -> InboundMessage:
    try:
        with transaction.atomic():
            inbound.save()
    except IntegrityError:  # the same delivery, racing itself: the first one wins
        return InboundMessage.objects.get(message_sid=inbound.message_sid)
    return inbound


def dispatcher_wake() -> None:
    from .tasks import dispatch_task

    try:
        dispatch_task.delay()
    except Exception:
        logger.exception("could not wake the dispatcher; the next beat tick will send the alert")


# --- Status callbacks -------------------------------------------------------------------------

CALLBACK_STATUS = {
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "undelivered": Status.UNDELIVERED,
    "failed": Status.FAILED,
    "read": Status.DELIVERED,
}


def status_callback_record(*, message_id: int | None, message_sid: str, status: str, error_code: str = "") -> str:
    """Move a message forward per the provider's callback. Out-of-order and repeated callbacks are harmless."""
    target = CALLBACK_STATUS.get(status.lower())
    if target is None:
        return "ignored"  # queued, accepted, sending: nothing we do not know already
    rows = (
        OutboundMessage.objects.filter(pk=message_id)
        if message_id
        else OutboundMessage.objects.filter(provider_id=message_sid)
    )
    message = rows.select_related("caregiver").first()
    if message is None or (message.provider_id and message_sid and message.provider_id != message_sid):
        return "unknown"
    rank = OutboundMessage.RANK[target]
    allowed_from = [s for s, r in OutboundMessage.RANK.items() if r < rank] + [Status.SENDING]
    now = timezone.now()
    fields = {"status": target, "updated_at": now, "lease_expires_at": None}
    if target == Status.DELIVERED:
        fields["delivered_at"] = now
    if error_code:
        fields["error_code"] = error_code
    moved = OutboundMessage.objects.filter(pk=message.pk, status__in=allowed_from).update(**fields)
    OutboundMessage.objects.filter(pk=message.pk, provider_id="").update(provider_id=message_sid, sent_at=now)
    if error_code == "21610" and message.kind != OutboundMessage.Kind.ALERT:
        caregiver_services.caregiver_opt_out(
            caregiver=message.caregiver, channel=ConsentRecord.Channel.SMS, source=ConsentRecord.Source.SMS
        )
    return "updated" if moved else "unchanged"
