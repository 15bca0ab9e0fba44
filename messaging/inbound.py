"""What people text us, and the answer each text gets.

Every text gets a safe answer, whoever sent it and whatever the reading rules make of it
(messaging.reading):
- danger: the crisis reply at once (911 first for a medical emergency) and a CrisisAlert for the
  clinic, whether or not we know the number;
- a keyword (STOP, START/YES, HELP, PREFS, RIDE, and their Spanish: PARAR, INICIO/SI, AYUDA, AJUSTES,
  LISTO; ESPAÑOL or ENGLISH to change language): its reply and what it asks;
- an opt-out in plain words: recorded like STOP, with the text as its source, confirmed once;
- a request for fewer or different messages, or a text that might be an opt-out: the preferences
  link and how to stop (the second also marked for staff to read);
- anything else: the auto-reply (not watched 24/7, the clinic's phone, 988 and 911), at most once
  per sender in the clinic's `auto_reply_hours`.
A repeated delivery of the same MessageSid gets the first delivery's answer and does nothing twice.

Answers are in the caregiver's language; to a number we don't know, in the language the text was
written in; a danger text written in Spanish is answered in Spanish whoever sent it (988's Spanish
line: call 988 and press 2, or text AYUDA to 988).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, OperationalError, transaction
from django.utils import timezone
from psycopg.errors import DeadlockDetected

from caregiver import services as caregiver_services
from caregiver.models import Appointment, Caregiver, Clinic, ConsentRecord
from caregiver.selectors import address_confirmed, caregiver_consent
from content.models import MessageTemplate
from content.validation import TemplateRenderError

from . import alerts, discretion, feedback, inbox, reading, rendering
from .models import CrisisAlert, InboundMessage, OutboundMessage
from .reading import (
    ENGLISH,
    HELP,
    NO_RIDE,
    OPT_IN,
    OPT_OUT,
    PREFERENCES,
    RIDE,
    SAFETY_OFF,
    SAFETY_ON,
    SPANISH,
    Reading,
    TextReading,
    affirmative,
    read_text,
)
from .reading import safety_off as reading_safety_off

logger = logging.getLogger(__name__)
Status = OutboundMessage.Status
Action = InboundMessage.Action
START_CONSENT_VERSION = "sms-keyword-start"
MAX_BODY = 1600  # Twilio's longest inbound text; anything past it is not a person's text
DEADLOCK_RETRIES = 2


@dataclass(frozen=True)
class InboundResult:
    action: str
    reply: str


# If a template is missing or broken, a safety reply must still go out, and an opt-out must still
# be recorded: these plain words stand in, and the error is logged.
FALLBACK_REPLIES = {
    "en": {
        "stop": "Alongside: You are unsubscribed and will get no more texts. Reply START to resubscribe.",
        "start": "Alongside: You are subscribed again. Reply STOP to opt out, HELP for help.",
        "help": "Alongside: For help call your clinic. In a crisis call or text 988, or call 911. Reply STOP to opt "
        "out.",
        "crisis": "Alongside: If anyone may be in danger, call or text 988 now, or call 911. We have told your clinic.",
        "emergency": "Alongside: Call 911 now if someone is not breathing, won't wake up or took too much. Or text "
        "988.",
        "auto-reply": "Alongside: Texts here aren't watched 24/7. In an emergency call 911, or call or text 988.",
        "auto-reply-stopped": "Alongside: You stopped our texts. Reply START to get them again. In an emergency "
        "call 911, or call or text 988.",
        "fewer-messages": "Alongside: Reply STOP to stop all texts, or call your clinic to change them.",
    },
    "es": {
        "stop": "Alongside: Ya no recibira mas mensajes. Responda INICIO para volver a recibirlos.",
        "start": "Alongside: Volvera a recibir mensajes. Responda PARAR para cancelar, AYUDA para ayuda.",
        "help": "Alongside: Para ayuda llame a su clinica. En una crisis llame al 988 y marque 2, o envie AYUDA al "
        "988. En una emergencia llame al 911. Responda PARAR para cancelar.",
        "crisis": "Alongside: Si alguien puede estar en peligro, llame al 988 y marque 2, o envie AYUDA al 988, o "
        "llame al 911. Le avisamos a su clinica.",
        "emergency": "Alongside: Llame al 911 ahora si alguien no respira, no despierta o tomo demasiado. O llame "
        "al 988 y marque 2.",
        "auto-reply": "Alongside: Nadie lee estos mensajes las 24 horas. En una emergencia llame al 911; en una "
        "crisis llame al 988 y marque 2, o envie AYUDA al 988.",
        "auto-reply-stopped": "Alongside: Usted dejo de recibir nuestros textos. Responda INICIO para recibirlos "
        "de nuevo. En una emergencia llame al 911; en una crisis llame al 988 y marque 2.",
        "fewer-messages": "Alongside: Responda PARAR para no recibir mas mensajes, o llame a su clinica para "
        "cambiarlos.",
    },
}
GOT_IT = {
    "en": "Alongside: Got it, thanks. Questions? Call your clinic. In an emergency call 911, or call or text 988.",
    "es": "Alongside: Recibido, gracias. ¿Preguntas? Llame a su clinica. En una emergencia llame al 911, o llame al "
    "988 y marque 2.",
}
# To a number no clinic of ours owns, we can tell nobody: the reply must not say we did.
NO_CLINIC_REPLIES = {
    "en": {
        "crisis": "Alongside: If anyone may be in danger, call or text 988 now, or call 911.",
        "emergency": "Alongside: Call 911 now if someone is not breathing, won't wake up or took too much. Or text "
        "988.",
        "auto-reply": "Alongside: Texts here aren't watched. In an emergency call 911, or call or text 988.",
    },
    "es": {
        "crisis": "Alongside: Si alguien puede estar en peligro, llame al 988 y marque 2, o envie AYUDA al 988, o "
        "llame al 911.",
        "emergency": "Alongside: Llame al 911 ahora si alguien no respira, no despierta o tomo demasiado. O llame "
        "al 988 y marque 2.",
        "auto-reply": "Alongside: Nadie lee estos mensajes. En una emergencia llame al 911; en una crisis llame al "
        "988 y marque 2.",
    },
}


def _reply(key: str, context: dict[str, str] | None, *, language: str) -> str:
    """The answer `key` in `language`: from its template, else (missing, broken, or naming what it
    must not) the built-in words, so that an answer always goes."""
    language = language if language in FALLBACK_REPLIES else "en"
    if context is None:
        return NO_CLINIC_REPLIES[language].get(key, "")
    try:
        text = rendering.template_body(key=key, channel="sms", context=context, caregiver=None, language=language).text
    except (MessageTemplate.DoesNotExist, TemplateRenderError):
        logger.exception("reply template %r could not be rendered; sending the built-in text", key)
        return FALLBACK_REPLIES[language].get(key, "")
    held = discretion.problem(text)
    if held:
        # An answer must still go, and the built-in words name nobody and nothing.
        logger.error("reply %r: %s; sending the built-in text", key, held)
        return FALLBACK_REPLIES[language].get(key, GOT_IT[language])
    return text


def reply_language(*, caregiver: Caregiver | None, reading: TextReading) -> str:
    """What an answer is written in: the caregiver's language; to a number we don't know, the
    text's; and Spanish to a Spanish keyword (PARAR, AYUDA), whoever sent it: their words say what
    they read best. (A danger text in the other language is answered in both: `_crisis_reply`.)"""
    if caregiver is None or (reading.language == "es" and reading.reading == Reading.KEYWORD):
        return reading.language
    return rendering.language_of(caregiver)


def _crisis_reply(
    key: str, *, reading: TextReading, clinic: Clinic | None, caregiver: Caregiver | None, language: str
) -> str:
    """The crisis answer in the reader's language, and again in the text's when it was written in
    the other one ("mi hijo se quiere matar" from someone who reads English): whoever holds the
    phone can act on it at once (in Spanish, 988's Spanish line: call 988 and press 2)."""
    answer = _reply(key, _context(clinic, caregiver, language), language=language)
    if caregiver is None or reading.language == language:
        return answer
    other = _reply(key, _context(clinic, caregiver, reading.language), language=reading.language)
    return f"{answer}\n\n{other}" if other and other != answer else answer


def inbound_receive(
    *, message_sid: str, from_number: str, to_number: str, body: str, messaging_service_sid: str = ""
) -> InboundResult:
    """Act on one inbound SMS, once: a repeated delivery of the same MessageSid gets the same reply.

    Two texts at the same moment from one family (both reply RIDE) each lock their caregiver and
    then mark the whole family for planning: PostgreSQL may stop one as a deadlock. Its transaction
    rolled back whole, so it is simply received again."""
    for attempt in range(DEADLOCK_RETRIES + 1):
        try:
            return _receive(
                message_sid=message_sid, from_number=from_number, to_number=to_number, body=body,
                messaging_service_sid=messaging_service_sid,
            )  # fmt: skip
        except OperationalError as exc:
            if attempt == DEADLOCK_RETRIES or not isinstance(exc.__cause__, DeadlockDetected):
                raise
            logger.warning("inbound %s met a deadlock; receiving it again", message_sid)
    raise AssertionError("unreachable")


def _receive(
    *, message_sid: str, from_number: str, to_number: str, body: str, messaging_service_sid: str
) -> InboundResult:
    body = (body or "")[:MAX_BODY]
    reading = read_text(body)
    now = timezone.now()
    with transaction.atomic():
        clinic = clinic_for_number(to_number=to_number, messaging_service_sid=messaging_service_sid, sender=from_number)
        caregiver = None
        if clinic is not None and from_number:
            caregiver = (
                Caregiver.objects.select_for_update(of=("self",))
                .select_related("clinic")
                .filter(clinic=clinic, phone=from_number)
                .first()
            )
        inbound = _store_once(
            message_sid=message_sid, from_number=from_number, to_number=to_number, body=body,
            clinic=clinic, caregiver=caregiver, reading=reading, now=now,
        )  # fmt: skip
        if inbound is None:
            return _earlier(message_sid)
        inbound.action, inbound.reply = _act(inbound, reading=reading, clinic=clinic, caregiver=caregiver, now=now)
        inbound.save(update_fields=["action", "reply", "auto_replied"])
        # Into the clinic's inbox, in the same transaction: a text that needs a person opens its
        # conversation, one the service answered in full (STOP, RIDE…) just joins the thread.
        inbox.conversation_text_add(
            inbound=inbound, needs_a_person=inbox.needs_a_person(action=inbound.action, reading=reading), now=now
        )
        if inbound.reply and caregiver is not None:
            _record_reply(caregiver, message_sid, inbound.reply, now)
    return InboundResult(action=inbound.action, reply=inbound.reply)


def clinic_for_number(*, to_number: str, messaging_service_sid: str, sender: str) -> Clinic | None:
    """The clinic a text was sent to: the one that owns the number texted, before any that shares a
    Messaging Service (where, of those, the one that knows the sender)."""
    for candidates in (
        Clinic.objects.filter(twilio_from_number=to_number) if to_number else Clinic.objects.none(),
        Clinic.objects.filter(twilio_messaging_service_sid=messaging_service_sid)
        if messaging_service_sid
        else Clinic.objects.none(),
    ):
        candidates = candidates.order_by("name", "pk")
        found = (candidates.filter(caregivers__phone=sender).first() if sender else None) or candidates.first()
        if found is not None:
            return found
    return None


def _store_once(
    *, message_sid: str, from_number: str, to_number: str, body: str, clinic: Clinic | None,
    caregiver: Caregiver | None, reading: TextReading, now: datetime,
) -> InboundMessage | None:  # fmt: skip
    """Keep the text; None if this MessageSid is stored already. A repeated delivery racing this
    one waits on the unique MessageSid until this transaction ends, then finds it here."""
    try:
        with transaction.atomic():
            return InboundMessage.objects.create(
                message_sid=message_sid, from_number=from_number, to_number=to_number, body=body, clinic=clinic,
                caregiver=caregiver, action=Action.STORED, reading=reading.rule or reading.reading, received_at=now,
            )  # fmt: skip
    except IntegrityError:
        return None


def _earlier(message_sid: str) -> InboundResult:
    """What we did the first time this text was delivered."""
    action, reply = InboundMessage.objects.filter(message_sid=message_sid).values_list("action", "reply").get()
    return InboundResult(action=action, reply=reply)


def _act(
    inbound: InboundMessage, *, reading: TextReading, clinic: Clinic | None, caregiver: Caregiver | None, now: datetime
) -> tuple[str, str]:
    """(action, reply) for one new text; does what it asks."""
    language = reply_language(caregiver=caregiver, reading=reading)
    context = _context(clinic, caregiver, language)
    if reading.danger or (reading.reading == Reading.KEYWORD and reading.keyword in HELP):
        # AYUDA is read as a keyword where HELP is read as danger: both are a call for help, alike.
        # Not an opt-out, even with "stop" in it ("stop. he swallowed a whole bottle"): the crisis
        # reply is the one reply, and the staff who follow up the alert can stop the texts.
        # A bare HELP from someone we know is answered, emailed to staff and listed, unpaged; from a
        # number we don't know nobody could be emailed about them, so it pages as any crisis does.
        bare_help = reading.keyword in HELP and caregiver is not None
        if clinic is not None:
            if bare_help:
                severity = CrisisAlert.Severity.HELP
            elif reading.reading == Reading.EMERGENCY:
                severity = CrisisAlert.Severity.EMERGENCY
            else:
                severity = CrisisAlert.Severity.DANGER
            alerts.crisis_alert_open(inbound=inbound, clinic=clinic, caregiver=caregiver, severity=severity, now=now)
        else:
            logger.error("a crisis text to %s, a number no clinic owns: replied, but nobody could be alerted",
                         inbound.to_number)  # fmt: skip
        if bare_help:
            # "help" alone: the HELP reply (the clinic's number, 988 and 911), an email to the staff and
            # an alert for someone to acknowledge, but no page: every message we send offers HELP.
            staff_alert(caregiver=caregiver, inbound=inbound, template_key="staff-help-alert")
            return Action.HELP, _reply("help", context, language=language)
        if reading.keyword in HELP:
            return Action.CRISIS, _reply("help", context, language=language)
        key = "emergency" if reading.reading == Reading.EMERGENCY else "crisis"
        return Action.CRISIS, _crisis_reply(key, reading=reading, clinic=clinic, caregiver=caregiver, language=language)
    if caregiver is None:
        return _from_stranger(inbound, reading=reading, clinic=clinic, context=context, now=now, language=language)
    keyword = reading.keyword if reading.reading == Reading.KEYWORD else ""
    if not keyword and address_confirmed(caregiver=caregiver, channel="sms") and reading_safety_off(inbound.body):
        # "Stop the safety texts" asks to stop those, not every text: SAFETY OFF.
        keyword = "SAFETYOFF"
    if keyword in OPT_OUT or (reading.reading == Reading.OPT_OUT and keyword not in SAFETY_OFF):
        # Confirmed once: a second opt-out, in any words, while already out gets no reply. A number
        # that never said yes (a staff invitation) is told too: it is the answer STOP expects.
        already_out = caregiver_consent(caregiver=caregiver).get("sms") is False
        _opt_out(caregiver, inbound)
        return Action.OPT_OUT, "" if already_out else _reply(
            "stop", _context(clinic, None, language), language=language
        )
    # "Yes please", "yep", "ok yes": to an open invitation to confirm this number, a yes. Nowhere
    # else: a loose yes never resubscribes someone who said stop.
    if (
        keyword not in OPT_IN
        and reading.reading != Reading.KEYWORD
        and affirmative(inbound.body)
        and caregiver_services.confirmation_reply_check(caregiver=caregiver, message_sid=inbound.message_sid)
    ):
        return Action.OPT_IN, ""
    if keyword in OPT_IN:
        # YES to a staff enrollment's invitation confirms it (with the consent text staff used);
        # otherwise START/YES is a plain opt-in. A first confirmation gets the welcome, sent on consent.
        confirmed = caregiver_services.confirmation_reply_check(caregiver=caregiver, message_sid=inbound.message_sid)
        if confirmed is not None:
            return Action.OPT_IN, ""
        caregiver_services.caregiver_opt_in(
            caregiver=caregiver, channel=ConsentRecord.Channel.SMS, source=ConsentRecord.Source.SMS,
            consent_text_version=START_CONSENT_VERSION, message_sid=inbound.message_sid,
        )  # fmt: skip
        return Action.OPT_IN, _reply("start", context, language=language)
    if keyword in SPANISH | ENGLISH:
        # ESPAÑOL / ENGLISH: everything from now on in that language (planned messages are re-planned
        # in it). Allowed before the number is confirmed: an invitation in the wrong language is
        # answered in the right one, and its SI confirms as a YES does.
        language = "es" if keyword in SPANISH else "en"
        caregiver_services.caregiver_update(caregiver=caregiver, language=language)
        if not address_confirmed(caregiver=caregiver, channel=ConsentRecord.Channel.SMS):
            # Waiting for its YES: the invitation again, in the language asked for (it asks for SI).
            return Action.PREFERENCES, _reply("enrollment-invite", _context(clinic, None, language), language=language)
        return Action.PREFERENCES, _reply("language-changed", _context(clinic, None, language), language=language)
    if not address_confirmed(caregiver=caregiver, channel=ConsentRecord.Channel.SMS):
        # This number has never said yes since the caregiver took it (a new number waiting for its
        # YES): it may stop, start or confirm, as above, and nothing else; and it hears nothing of
        # the family (no names, no appointment) until it is confirmed.
        plain = _context(clinic, None, language)
        if keyword in HELP:
            staff_alert(caregiver=caregiver, inbound=inbound, template_key="staff-help-alert")
            return Action.HELP, _reply("help", plain, language=language)
        return Action.STORED, _auto_reply(
            inbound, clinic=clinic, context=plain, now=now, language=language, caregiver=caregiver
        )
    if keyword in PREFERENCES:
        return Action.PREFERENCES, _reply("preferences-link", _with_preferences(context, caregiver), language=language)
    if keyword in HELP:
        staff_alert(caregiver=caregiver, inbound=inbound, template_key="staff-help-alert")
        return Action.HELP, _reply("help", context, language=language)
    if keyword in RIDE:
        appointment = _next_treatment(caregiver, now)
        if appointment is None:
            return Action.RIDE_NOT_FOUND, _reply("ride-no-appointment", context, language=language)
        caregiver_services.appointment_mark_ride_arranged(appointment=appointment, caregiver=caregiver)
        return Action.RIDE, _reply(
            "ride-confirmed", rendering.appointment_context(caregiver, appointment), language=language
        )
    if keyword in NO_RIDE:
        appointment = _next_treatment(caregiver, now, ride_arranged=True)
        if appointment is None:
            return Action.RIDE_NOT_FOUND, _reply("ride-undo-nothing", context, language=language)
        if appointment.ride_arranged_by_caregiver_id not in (None, caregiver.pk):
            # Someone else said they are driving: only they (or the clinic) can take it back.
            words = rendering.appointment_context(caregiver, appointment) | rendering.notice_context(
                caregiver, appointment
            )
            return Action.RIDE, _reply("ride-undo-not-yours", words, language=language)
        caregiver_services.appointment_unmark_ride(appointment=appointment, caregiver=caregiver)
        return Action.RIDE, _reply(
            "ride-undone", rendering.appointment_context(caregiver, appointment), language=language
        )
    if keyword in SAFETY_ON | SAFETY_OFF:
        caregiver_services.caregiver_update(caregiver=caregiver, safety_tips_sms=keyword in SAFETY_ON)
        return Action.PREFERENCES, _reply(
            "safety-on" if keyword in SAFETY_ON else "safety-off", context, language=language
        )
    if reading.reading == Reading.FEWER:
        return Action.PREFERENCES, _reply("fewer-messages", _with_preferences(context, caregiver), language=language)
    if reading.reading == Reading.MAYBE_OPT_OUT:
        # Not clearly an opt-out: staff read it, and the reply says how to stop or change the texts.
        return Action.REVIEW, _reply("fewer-messages", _with_preferences(context, caregiver), language=language)
    thanks = feedback.sms_answer(inbound=inbound, now=now)  # a 1 or 2 answering a tip (messaging/feedback.py)
    if thanks:
        return Action.TIP_RESPONSE, _reply(thanks, context, language=language) or feedback.THANKS_FALLBACK[thanks]
    return Action.STORED, _auto_reply(
        inbound, clinic=clinic, context=context, now=now, language=language, caregiver=caregiver
    )


def _from_stranger(
    inbound: InboundMessage, *, reading: TextReading, clinic: Clinic | None, context: dict[str, str] | None,
    now: datetime, language: str,
) -> tuple[str, str]:  # fmt: skip
    """A number we do not know: kept for staff. STOP asks nothing of us (the carrier handles it);
    anything else gets the auto-reply, so nobody is left without an answer."""
    if reading.opt_out or reading.keyword in OPT_OUT | OPT_IN:
        return Action.UNKNOWN_SENDER, ""
    return Action.UNKNOWN_SENDER, _auto_reply(inbound, clinic=clinic, context=context, now=now, language=language)


def _auto_reply(
    inbound: InboundMessage,
    *,
    clinic: Clinic | None,
    context: dict[str, str] | None,
    now: datetime,
    language: str,
    caregiver: Caregiver | None = None,
) -> str:
    """The auto-reply, unless this sender had one from this clinic within its window. A text the
    danger model does not read as plainly ordinary gets it again, window or not: if the readers
    missed a danger text, its sender still hears 988 and 911. A caregiver who stopped our texts
    hears how to start them again ("auto-reply-stopped"), with 988 and 911 as well."""
    if clinic is not None and _in_crisis(inbound, clinic):
        # Their family is in an open crisis ("no me abre la puerta!!", "q hago???"): every text
        # gets 988 and 911 again, whatever the window says; staff see it beside the alert.
        inbound.auto_replied = True
        return _reply("crisis", context, language=language)
    hours = clinic.auto_reply_hours if clinic is not None else 24
    recent = InboundMessage.objects.filter(
        from_number=inbound.from_number, clinic=clinic, auto_replied=True, received_at__gte=now - timedelta(hours=hours)
    ).exclude(pk=inbound.pk)
    if recent.exists() and not reading.worrying(inbound.body):
        return ""
    inbound.auto_replied = True
    stopped = caregiver is not None and caregiver_consent(caregiver=caregiver).get("sms") is False
    return _reply("auto-reply-stopped" if stopped else "auto-reply", context, language=language)


def _in_crisis(inbound: InboundMessage, clinic: Clinic) -> bool:
    """This number has an open danger or emergency alert at this clinic."""
    return (
        CrisisAlert.objects.filter(
            clinic=clinic, status=CrisisAlert.Status.OPEN, inbound__from_number=inbound.from_number
        )
        .exclude(severity=CrisisAlert.Severity.HELP)
        .exists()
    )


def _opt_out(caregiver: Caregiver, inbound: InboundMessage) -> None:
    """Record the SMS opt-out, with the text as its source, and hold back every text still waiting
    in the same transaction: nothing may go out while a re-plan is queued (or the broker is down)."""
    caregiver_services.caregiver_opt_out(
        caregiver=caregiver,
        channel=ConsentRecord.Channel.SMS,
        source=ConsentRecord.Source.SMS,
        message_sid=inbound.message_sid,
    )
    OutboundMessage.objects.filter(caregiver=caregiver, channel="sms", status__in=OutboundMessage.PENDING).exclude(
        kind=OutboundMessage.Kind.ALERT  # to on-call staff about this caregiver, not to the caregiver
    ).update(status=Status.CANCELLED, status_reason="opted_out", lease_expires_at=None, updated_at=timezone.now())


def _context(clinic: Clinic | None, caregiver: Caregiver | None, language: str) -> dict[str, str] | None:
    if clinic is None:
        return None
    names = _loved_one_names(caregiver) if caregiver else ""
    return rendering.base_context(caregiver, clinic, names, language=language)


def _with_preferences(context: dict[str, str] | None, caregiver: Caregiver) -> dict[str, str] | None:
    return (
        None if context is None else {**context, "preferences_url": rendering.preferences_url(caregiver, channel="sms")}
    )


def _record_reply(caregiver: Caregiver, inbound_sid: str, body: str, now: datetime) -> None:
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
    context = alerts.text_context(inbound=inbound, clinic=clinic, caregiver=caregiver)
    body = rendering.template_body(key=template_key, channel="email", context=context, caregiver=None)
    created = alerts.staff_emails_create(
        clinic=clinic, key=f"alert:{inbound.message_sid}", body=body, now=timezone.now(), caregiver=caregiver
    )
    if created:
        transaction.on_commit(lambda: dispatcher_wake(created))
    return len(created)


def _next_treatment(caregiver: Caregiver, now: datetime, *, ride_arranged: bool = False) -> Appointment | None:
    """The next treatment: what RIDE is about (a second RIDE changes nothing); with
    `ride_arranged`, the next whose ride is marked arranged, what NO RIDE takes back."""
    upcoming = Appointment.objects.filter(
        loved_one__links__caregiver=caregiver,
        status=Appointment.Status.SCHEDULED,
        kind__in=Appointment.TREATMENT_KINDS,
        starts_at__gt=now,
    )
    if ride_arranged:
        upcoming = upcoming.filter(ride_arranged_at__isnull=False)
    return upcoming.select_related("loved_one__clinic").order_by("starts_at").first()


def _loved_one_names(caregiver: Caregiver) -> str:
    """The names an answer may use: not an archived family's (after a bereavement, "If you or Rosa
    may be in danger" is the wrong thing to read)."""
    names = caregiver.loved_ones.filter(archived_at__isnull=True).order_by("first_name")
    return " and ".join(names.values_list("first_name", flat=True))


def dispatcher_wake(message_ids: list[int] | None = None, *, here: bool = False) -> None:
    """Ask a worker to dispatch now rather than at the next beat tick.

    `message_ids`: urgent messages (a crisis page, a code someone is waiting for). If the broker
    cannot take the task (Redis down), they are sent from this process, in a thread of their own,
    so that an on-call clinician is not told only when Redis returns, and the answer to the text
    that raised the alarm is not held up by the sending. `here`: send them from this process
    whatever the broker says (crisis pages: a worker that hangs must not hold one up either);
    whichever of this thread and a worker claims a message first sends it, once.
    """
    from .tasks import dispatch_task

    try:
        dispatch_task.delay()
    except Exception:
        if not message_ids:
            logger.exception("could not wake the dispatcher; the next beat tick will send the messages")
            return
        logger.exception(
            "could not wake the dispatcher: sending %s urgent messages from this process", len(message_ids)
        )
        here = True
    if here and message_ids:
        threading.Thread(target=_send_here, args=(list(message_ids),), name="urgent-send", daemon=True).start()


def _send_here(message_ids: list[int]) -> None:
    from django.db import connection

    from . import dispatch, sending

    try:
        claimed = dispatch.ids_claim(ids=message_ids, now=timezone.now())
        if claimed:
            logger.warning(
                "sent from the web process (the broker was down, or the message was too urgent to wait): %s",
                sending.messages_send(message_ids=claimed),
            )
    except Exception:
        logger.exception("urgent messages %s wait for the dispatcher", message_ids)
    finally:
        connection.close()  # this thread's own connection
