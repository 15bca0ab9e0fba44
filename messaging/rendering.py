"""What a message says: template contexts, tip messages, the email layout, signed links."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from zoneinfo import ZoneInfo

import phonenumbers
from anyascii import anyascii
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import dateformat, translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from caregiver.formats import clock
from caregiver.models import Appointment, Caregiver, Clinic
from caregiver.selectors import address_of
from caregiver.tokens import email_confirm_token, preferences_token, ride_token, unsubscribe_token
from content.models import MessageTemplate, Tip
from content.services import message_render
from content.validation import GSM7_BASIC, GSM7_EXTENDED, SMS_NAME_MAX, TemplateRenderError, sms_fold, sms_words

from . import discretion, feedback
from .timing import zone_of

SMS_PREFIX = "Alongside: "
# A sign-up code in a confirmation message: masked for staff, and in the outbox once the message
# is done with, so the only lasting copy of a code is its HMAC on the ChannelConfirmation.
SIGN_UP_CODE = re.compile(r"\b\d{6}\b")


def redact_codes(text: str) -> str:
    return SIGN_UP_CODE.sub("••••••", text)


# A link in a message. Its path segments and query values of TOKEN_LENGTH characters or more are
# secrets (a confirmation, preferences, ride, unsubscribe, alert or calendar link): whoever holds
# one acts as the caregiver, so staff, who read messages, never see them.
LINK = re.compile(r"https?://[^\s\"'<>]+")
TOKEN_LENGTH = 16
MASK = "••••"


def mask_links(text: str) -> str:
    """`text` with the secret part of every link masked: what staff may read of a message
    (the outbox, the family timeline, the texts page, the admin, the staff API)."""

    def mask(match: re.Match) -> str:
        scheme, _, rest = match.group(0).partition("://")
        rest, hash_, fragment = rest.partition("#")
        rest, question, query = rest.partition("?")
        host, *segments = rest.split("/")
        path = "/".join([host, *(MASK if len(s) >= TOKEN_LENGTH else s for s in segments)])
        pairs = [p.partition("=") for p in query.split("&")] if query else []
        query = "&".join(k + eq + (MASK if len(v) >= TOKEN_LENGTH else v) for k, eq, v in pairs)
        return f"{scheme}://{path}{question}{query}{hash_ and '#'}{MASK if len(fragment) >= TOKEN_LENGTH else fragment}"

    return LINK.sub(mask, text) if text else text


@dataclass(frozen=True)
class Body:
    text: str
    subject: str = ""
    html: str = ""


def unsubscribe_url(caregiver: Caregiver) -> str:
    token = unsubscribe_token(caregiver.pk, email=caregiver.email)
    return settings.PUBLIC_BASE_URL + reverse("messaging:unsubscribe", args=[token])


def preferences_url(caregiver: Caregiver, *, channel: str) -> str:
    """The preferences link in a message on `channel`: it opens only while that message's address
    is the caregiver's, confirmed."""
    token = preferences_token(caregiver.pk, address=address_of(caregiver, channel))
    return settings.PUBLIC_BASE_URL + reverse("portal:preferences", args=[token])


def ride_url(caregiver: Caregiver, appointment: Appointment) -> str:
    """A reminder email's one-click ride link (the page asks to confirm: mail scanners open links)."""
    token = ride_token(caregiver.pk, appointment_id=appointment.pk, email=caregiver.email)
    return settings.PUBLIC_BASE_URL + reverse("portal:ride", args=[token])


def email_confirm_url(confirmation_id: int) -> str:
    return settings.PUBLIC_BASE_URL + reverse("portal:email-confirm", args=[email_confirm_token(confirmation_id)])


def national_phone(number: str) -> str:
    """A number as people in the clinic's country write it; as received when it is no phone number
    (a text's sender is whatever the carrier put there: a short code, "0", an alphanumeric name)."""
    if not number:
        return ""
    try:
        parsed = phonenumbers.parse(number, settings.PHONE_DEFAULT_REGION)
    except phonenumbers.NumberParseException:
        return number
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


def _first_name(name: str) -> str:
    return (name.split() or [name])[0]


def language_of(caregiver: Caregiver | None) -> str:
    """The language a caregiver reads us in (settings.LANGUAGES); English for nobody in particular."""
    codes = {code for code, _ in settings.LANGUAGES}
    return caregiver.language if caregiver is not None and caregiver.language in codes else "en"


def base_context(
    caregiver: Caregiver | None, clinic: Clinic, loved_one_name: str = "", *, language: str = ""
) -> dict[str, str]:
    """What every template may use. Without a caregiver (a text from an unknown number) their name is blank.

    Names are made safe for a lock screen here, whatever was typed (messaging.discretion): a name
    that would reveal treatment or health is left out. Texts name the clinic by its SMS name
    (`clinic_sms_name`); emails by its name. `language` (the caregiver's unless given: staff alerts
    are English) is carried in the context, and every message rendered from it is in it."""
    allowed = discretion.clinic_allowed(clinic)
    first = _first_name(caregiver.name) if caregiver else ""
    language = language or language_of(caregiver)
    with translation.override(language):
        anyone = _("your loved one")
        clinic_sms_name = discretion.clinic_sms_name(clinic)
    return {
        "caregiver": discretion.safe_name(first, fallback="", allowed=allowed),
        "loved_one": discretion.safe_name(loved_one_name, fallback="", allowed=allowed) or anyone,
        "clinic": clinic.name,
        "clinic_sms_name": clinic_sms_name,
        "clinic_phone": national_phone(clinic.contact_phone),
        "clinic_email": clinic.contact_email,
        "language": language,
    }


# How a time's zone is named to a caregiver who lives in another one ("10:00 AM Eastern").
ZONE_NAMES = {
    "America/New_York": "Eastern", "America/Detroit": "Eastern", "America/Indiana/Indianapolis": "Eastern",
    "America/Kentucky/Louisville": "Eastern", "America/Toronto": "Eastern",
    "America/Chicago": "Central", "America/Indiana/Knox": "Central", "America/Menominee": "Central",
    "America/Winnipeg": "Central",
    "America/Denver": "Mountain", "America/Boise": "Mountain", "America/Edmonton": "Mountain",
    "America/Phoenix": "Arizona",
    "America/Los_Angeles": "Pacific", "America/Vancouver": "Pacific",
    "America/Anchorage": "Alaska", "Pacific/Honolulu": "Hawaii", "America/Puerto_Rico": "Atlantic",
    "Europe/London": "UK",
}  # fmt: skip


# …and in Spanish, after the time: "10:00 a. m. hora del Este".
ZONE_NAMES_ES = {
    "Eastern": "hora del Este", "Central": "hora del Centro", "Mountain": "hora de la Montaña",
    "Arizona": "hora de Arizona", "Pacific": "hora del Pacífico", "Alaska": "hora de Alaska",
    "Hawaii": "hora de Hawái", "Atlantic": "hora del Atlántico", "UK": "hora del Reino Unido",
}  # fmt: skip


def zone_name(zone: ZoneInfo, moment: datetime) -> str:
    name = ZONE_NAMES.get(zone.key)
    spanish = translation.get_language() == "es"
    if name:
        return ZONE_NAMES_ES[name] if spanish else name
    abbreviation = moment.astimezone(zone).tzname() or ""
    if abbreviation.isalpha():
        return abbreviation
    place = zone.key.rsplit("/", 1)[-1].replace("_", " ")
    return f"hora de {place}" if spanish else f"{place} time"


def clinic_clock(moment: datetime, *, clinic: Clinic, caregiver: Caregiver | None) -> str:
    """A time as the clinic's clock shows it, with its zone named when the caregiver's clock would
    show another hour: appointments are kept in clinic time, and a caregiver in Chicago told
    "9:00 AM" for a 10:00 AM Eastern appointment would be an hour out in their head."""
    zone = ZoneInfo(clinic.time_zone)
    local = moment.astimezone(zone)
    if caregiver is None or moment.astimezone(zone_of(caregiver)).utcoffset() == local.utcoffset():
        return clock(local)
    return f"{clock(local)} {zone_name(zone, moment)}"


def _day(local: datetime) -> str:
    """Tuesday, Dec 8; in Spanish martes 8 de diciembre (the active language)."""
    if translation.get_language() == "es":
        return dateformat.format(local, r"l j \d\e F")  # Django's own Spanish day and month names
    return f"{local:%A, %b} {local.day}"


def clinic_day(moment: datetime, *, clinic: Clinic) -> str:
    return _day(moment.astimezone(ZoneInfo(clinic.time_zone)))


DRIVING = {
    "rest_of_day": gettext_lazy("no driving for the rest of the day"),
    "next_day": gettext_lazy("no driving until the next day, after a night's sleep"),
    "": "",
}


def _later_today(moment: datetime) -> str:
    """How a message sent at `moment` (local) speaks of what is left of the day."""
    if moment.hour < 12:
        return _("the rest of today")
    if moment.hour < 17:
        return _("this afternoon and evening")
    return _("this evening")


def appointment_context(caregiver: Caregiver, appointment: Appointment) -> dict[str, str]:
    """An appointment's words, in the caregiver's language."""
    clinic = appointment.loved_one.clinic
    with translation.override(language_of(caregiver)):
        context = {
            **base_context(caregiver, clinic, appointment.loved_one.first_name),
            "day": clinic_day(appointment.starts_at, clinic=clinic),
            "time": clinic_clock(appointment.starts_at, clinic=clinic, caregiver=caregiver),
            "pickup_time": clinic_clock(appointment.pickup_at, clinic=clinic, caregiver=caregiver),
            "observation_minutes": str(appointment.observation_minutes),
            "observation": _duration(appointment.observation_minutes),
            "driving": str(DRIVING[appointment.protocol.driving]),
            "later_today": _later_today(appointment.home_at.astimezone(zone_of(caregiver))),
            "ride_url": "",
        }
    if caregiver.email and appointment.protocol.observed and not appointment.ride_arranged:
        context["ride_url"] = ride_url(caregiver, appointment)
    return context


def notice_context(caregiver: Caregiver, appointment: Appointment) -> dict[str, str]:
    """What a notice adds to an appointment's words: where it moved from, and who is driving.
    (A cancelled appointment keeps its time: `day` and `time` say which one it was.)"""
    clinic = appointment.loved_one.clinic
    context = {"old_day": "", "old_time": "", "driver": ""}
    with translation.override(language_of(caregiver)):
        if appointment.moved_from is not None:
            old = appointment.moved_from.astimezone(ZoneInfo(clinic.time_zone))
            context |= {
                "old_day": _day(old),
                "old_time": clinic_clock(appointment.moved_from, clinic=clinic, caregiver=caregiver),
            }
        driver = appointment.ride_arranged_by_caregiver
        if driver is not None:
            context["driver"] = discretion.safe_name(
                _first_name(driver.name), fallback="", allowed=discretion.clinic_allowed(clinic)
            ) or _("Another family member")
    # Noted by staff (the family told them by phone): "the ride home is arranged", by nobody named;
    # "the clinic has it covered" would read as the clinic driving.
    return context


def _duration(minutes: int) -> str:
    """90 → "an hour and a half"; 120 → "2 hours"; 45 → "45 minutes" (in the active language)."""
    if minutes % 60 == 0 and minutes >= 60:
        return _("an hour") if minutes == 60 else _("%(hours)s hours") % {"hours": minutes // 60}
    if minutes == 90:
        return _("an hour and a half")
    return _("%(minutes)s minutes") % {"minutes": minutes}


def email_html(*, caregiver: Caregiver | None, subject: str, body_html: str) -> str:
    """The email layout around a message, in the active language (template_body and tip_body set it)."""
    return render_to_string(
        "messaging/email.html",
        {
            "subject": subject,
            "body_html": body_html,
            "unsubscribe_url": unsubscribe_url(caregiver) if caregiver else "",
            "preferences_url": preferences_url(caregiver, channel="email") if caregiver else "",
        },
    )


def email_text(*, caregiver: Caregiver | None, body: str) -> str:
    if caregiver is None:
        return body
    # In Spanish, 988's Spanish line too (locale/es): call 988 and press 2, or text AYUDA to 988.
    crisis = _("In a crisis, call or text 988 (US), or call 911 in an emergency.")
    change = _("Change how often you hear from us, or pause")
    stop = _("Stop these emails")
    return (
        f"{body}\n\n--\n{crisis}\n"
        f"{change}: {preferences_url(caregiver, channel='email')}\n"
        f"{stop}: {unsubscribe_url(caregiver)}\n"
    )


# Names people and staff type, and what an SMS says where one has no GSM-7 spelling at all (in the
# language the text is rendered in: sms_context runs under it).
SMS_NAMES = {"caregiver": "", "loved_one": gettext_lazy("your loved one"), "clinic": discretion.CLINIC_FALLBACK}
_EMOJI_NAME = re.compile(r":[a-z0-9_+-]+:")  # anyascii spells 🌻 as :sunflower:
_NO_NAME = "\ue000"  # a private-use character: no name keeps one after sms_name
_NAME_GAP_BEFORE_PUNCTUATION = re.compile(r",?\s*\ue000(?=[.,!?])")
_NAME_GAP = re.compile(r"\s*\ue000")


def sms_name(name: str) -> str:
    """A name in the GSM-7 alphabet: as written when it already is, else transliterated (Zoë → Zoe).

    One character outside GSM-7 makes a carrier send the whole text as UCS-2, 67 characters a
    segment instead of 153: a loved one called Zoë would turn a 2-segment invite into 4. Emails keep
    names as written. Returns "" when nothing of the name survives (an emoji, say).
    """
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in name):
        return name
    spelt = _EMOJI_NAME.sub(" ", anyascii(name))
    # anyascii keeps control characters and ASCII that GSM-7 lacks (`): spaces instead.
    spelt = "".join(ch if ch.isprintable() and (ch in GSM7_BASIC or ch in GSM7_EXTENDED) else " " for ch in spelt)
    folded = " ".join(spelt.split()).strip(" '-.")
    return folded if any(ch.isalnum() for ch in folded) else ""


def sms_person(name: str) -> str:
    """A person's name as a text gives it: in GSM-7 (sms_name) and at most SMS_NAME_MAX characters,
    the length the library's templates are checked with (content.validation), so that no name makes
    a text run a segment longer. A longer name keeps its first words that fit ("Mary Ann
    Montgomery-Smith" → "Mary Ann"), or is cut when one word alone is longer."""
    name = sms_name(name)
    if len(name) <= SMS_NAME_MAX:
        return name
    kept = ""
    for word in name.split():
        if len(f"{kept} {word}".strip()) > SMS_NAME_MAX:
            break
        kept = f"{kept} {word}".strip()
    return kept or name[:SMS_NAME_MAX].strip(" '-.")


def sms_context(context: dict[str, str]) -> dict[str, str]:
    if "clinic_sms_name" in context:
        context = {**context, "clinic": context["clinic_sms_name"]}
    spell = {"caregiver": sms_person, "loved_one": sms_person, "clinic": sms_name}
    names = {key: spell[key](context[key]) or str(fallback) for key, fallback in SMS_NAMES.items() if key in context}
    return {**context, **names}


def template_body(
    *, key: str, channel: str, context: dict[str, str], caregiver: Caregiver | None, language: str = ""
) -> Body:
    """A message template's words on `channel`, in `language` (else the context's, else the
    caregiver's). A text is sent folded to GSM-7 (content.validation.sms_fold)."""
    language = language or context.get("language") or language_of(caregiver)
    with translation.override(language):
        if channel == "sms":
            names = sms_context(context)
            if names.get("caregiver") != "":
                return Body(text=sms_fold(message_render(key=key, context=names, language=language).sms))
            # With no name to give, "Welcome, {{ caregiver }}." reads "Welcome." and "Hi {{ caregiver }}," "Hi,".
            text = message_render(key=key, context={**names, "caregiver": _NO_NAME}, language=language).sms
            return Body(text=sms_fold(_NAME_GAP.sub("", _NAME_GAP_BEFORE_PUNCTUATION.sub("", text))))
        rendered = message_render(key=key, context=context, language=language)
        subject = rendered.email_subject or rendered.sms
        return Body(
            text=email_text(caregiver=caregiver, body=rendered.email_text or rendered.sms),
            subject=subject,
            html=email_html(
                caregiver=caregiver, subject=subject, body_html=rendered.email_html or f"<p>{rendered.sms}</p>"
            ),
        )


TIP_SUBJECT = gettext_lazy("Today's tip from Alongside")


def tip_subject(tip: Tip, caregiver: Caregiver) -> str:
    """A tip's title, unless it would say too much on a lock screen ("…suicide seriously")."""
    if discretion.problem(tip.title, allowed=discretion.clinic_allowed(caregiver.clinic)):
        with translation.override(language_of(caregiver)):
            return str(TIP_SUBJECT)
    return tip.title


def tip_body(*, tip: Tip, channel: str, caregiver: Caregiver, feedback_key: str = "") -> Body:
    """A tip's words. A tip by text asks "Reply 1 if this helped, 2 if not."; with `feedback_key`
    (the outbox row's dedupe key), an email ends with the two "Was this helpful?" links."""
    if channel == "sms":
        if discretion.is_safety_tip(tip) and not caregiver.safety_tips_sms:
            # They did not ask for safety tips by text: the text says where to find it, no more.
            context = base_context(caregiver, caregiver.clinic)
            return template_body(key="tip-in-email", channel="sms", context=context, caregiver=caregiver)
        # The tip's own language's question: a tip planned before a change of language is re-planned.
        return Body(text=sms_fold(SMS_PREFIX + tip.sms_body + sms_words(tip.language).feedback))
    subject = tip_subject(tip, caregiver)
    text, html = f"{tip.title}\n\n{tip.email_text}", tip.email_html
    with translation.override(tip.language):
        if feedback_key:
            text = f"{text}\n\n{feedback.feedback_text(feedback_key)}"
            html += feedback.feedback_html(feedback_key)
        return Body(
            text=email_text(caregiver=caregiver, body=text),
            subject=subject,
            html=email_html(caregiver=caregiver, subject=subject, body_html=html),
        )


# The words a reminder template may use: an appointment's context, and the tip a check-in carries.
REMINDER_WORDS = (
    "caregiver", "loved_one", "clinic", "clinic_sms_name", "clinic_phone", "clinic_email", "day", "time",
    "pickup_time", "observation_minutes", "observation", "driving", "later_today", "ride_url",
    "tip_sms", "tip_title", "tip_email",
)  # fmt: skip
REMINDER_PREFIX = "reminder-"


def reminder_templates() -> list[str]:
    return sorted(
        MessageTemplate.objects.filter(key__startswith=REMINDER_PREFIX, active=True)
        .values_list("key", flat=True)
        .distinct()
    )


def template_problem(*, key: str) -> str:
    """Why a reminder rule cannot use the template `key`, in words for the admin ('' when it can)."""
    known = reminder_templates()
    if key not in known:
        choose = f"Choose one of: {', '.join(known) or 'none loaded'}."
        if MessageTemplate.objects.filter(key=key, active=True).exists():
            return f"'{key}' is a message template, but not a reminder (they start with '{REMINDER_PREFIX}'). {choose}"
        return f"There is no reminder template called '{key}'. {choose}"
    try:
        message_render(key=key, context=dict.fromkeys(REMINDER_WORDS, "x"))
    except TemplateRenderError as exc:
        return f"The template '{key}' needs words a reminder does not have ({exc})."
    return ""
