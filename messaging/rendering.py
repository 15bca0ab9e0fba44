"""What a message says: template contexts, tip messages, the email layout, signed links."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

import phonenumbers
from anyascii import anyascii
from django.conf import settings
from django.template.loader import render_to_string
from django.urls import reverse

from caregiver.models import Appointment, Caregiver, Clinic
from caregiver.selectors import address_of
from caregiver.tokens import email_confirm_token, preferences_token, unsubscribe_token
from content.models import MessageTemplate, Tip
from content.services import message_render
from content.validation import GSM7_BASIC, GSM7_EXTENDED, TemplateRenderError

from .timing import zone_of

SMS_PREFIX = "Alongside: "
# A sign-up code in a confirmation message: masked for staff, and in the outbox once the message
# is done with, so the only lasting copy of a code is its HMAC on the ChannelConfirmation.
SIGN_UP_CODE = re.compile(r"\b\d{6}\b")


def redact_codes(text: str) -> str:
    return SIGN_UP_CODE.sub("••••••", text)


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


def email_confirm_url(confirmation_id: int) -> str:
    return settings.PUBLIC_BASE_URL + reverse("portal:email-confirm", args=[email_confirm_token(confirmation_id)])


def national_phone(number: str) -> str:
    if not number:
        return ""
    parsed = phonenumbers.parse(number, settings.PHONE_DEFAULT_REGION)
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.NATIONAL)


def _first_name(name: str) -> str:
    return (name.split() or [name])[0]


def base_context(caregiver: Caregiver | None, clinic: Clinic, loved_one_name: str = "") -> dict[str, str]:
    """What every template may use. Without a caregiver (a text from an unknown number) their name is blank."""
    return {
        "caregiver": _first_name(caregiver.name) if caregiver else "",
        "loved_one": loved_one_name or "your loved one",
        "clinic": clinic.name,
        "clinic_phone": national_phone(clinic.contact_phone),
        "clinic_email": clinic.contact_email,
    }


def _clock(moment: datetime) -> str:
    return moment.strftime("%I:%M %p").lstrip("0")


def appointment_context(caregiver: Caregiver, appointment: Appointment) -> dict[str, str]:
    zone = zone_of(caregiver)
    start = appointment.starts_at.astimezone(zone)
    clinic = appointment.loved_one.clinic
    return {
        **base_context(caregiver, clinic, appointment.loved_one.first_name),
        "day": f"{start:%A, %b} {start.day}",
        "time": _clock(start),
        "pickup_time": _clock(appointment.pickup_at.astimezone(zone)),
        "observation_minutes": str(clinic.observation_minutes),
    }


def email_html(*, caregiver: Caregiver | None, subject: str, body_html: str) -> str:
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
    return (
        f"{body}\n\n--\nIn a crisis, call or text 988 (US), or call 911 in an emergency.\n"
        f"Change how often you hear from us, or pause: {preferences_url(caregiver, channel='email')}\n"
        f"Stop these emails: {unsubscribe_url(caregiver)}\n"
    )


# Names people and staff type, and what an SMS says where one has no GSM-7 spelling at all.
SMS_NAMES = {"caregiver": "", "loved_one": "your loved one", "clinic": "your clinic"}
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


def sms_context(context: dict[str, str]) -> dict[str, str]:
    names = {key: sms_name(context[key]) or fallback for key, fallback in SMS_NAMES.items() if key in context}
    return {**context, **names}


def template_body(*, key: str, channel: str, context: dict[str, str], caregiver: Caregiver | None) -> Body:
    if channel == "sms":
        names = sms_context(context)
        if names.get("caregiver") != "":
            return Body(text=message_render(key=key, context=names).sms)
        # With no name to give, "Welcome, {{ caregiver }}." reads "Welcome." and "Hi {{ caregiver }}," "Hi,".
        text = message_render(key=key, context={**names, "caregiver": _NO_NAME}).sms
        return Body(text=_NAME_GAP.sub("", _NAME_GAP_BEFORE_PUNCTUATION.sub("", text)))
    rendered = message_render(key=key, context=context)
    subject = rendered.email_subject or rendered.sms
    return Body(
        text=email_text(caregiver=caregiver, body=rendered.email_text or rendered.sms),
        subject=subject,
        html=email_html(
            caregiver=caregiver, subject=subject, body_html=rendered.email_html or f"<p>{rendered.sms}</p>"
        ),
    )


def tip_body(*, tip: Tip, channel: str, caregiver: Caregiver) -> Body:
    if channel == "sms":
        return Body(text=SMS_PREFIX + tip.sms_body)
    return Body(
        text=email_text(caregiver=caregiver, body=f"{tip.title}\n\n{tip.email_text}"),
        subject=tip.title,
        html=email_html(caregiver=caregiver, subject=tip.title, body_html=tip.email_html),
    )


# The words a reminder template may use: an appointment's context, and the tip a check-in carries.
REMINDER_WORDS = (
    "caregiver", "loved_one", "clinic", "clinic_phone", "clinic_email", "day", "time", "pickup_time",
    "observation_minutes", "tip_sms", "tip_title", "tip_email",
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
