"""What a caregiver changes on their own preferences page (reached by a signed link)."""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from .. import selectors
from ..consent import current_web
from ..models import Caregiver, ChannelConfirmation, ConsentRecord
from .confirmations import confirmation_start
from .core import caregiver_opt_in, caregiver_opt_out, caregiver_pause, caregiver_resume, caregiver_update

SOURCE = ConsentRecord.Source.WEB
# What saving says about a channel switched off or back on. Lazy: the page says it in the language
# it is shown in next, which is the new one when the same save changed the language.
SWITCHED_OFF = {"sms": _("You will get no more text messages."), "email": _("You will get no more email.")}
SWITCHED_ON = {"sms": _("Text messages are back on."), "email": _("Email is back on.")}


def _no_channel_message() -> str:
    return gettext("Choose text messages, email or both. To get nothing at all, use “Stop everything”.")


@transaction.atomic
def caregiver_preferences_save(
    *,
    caregiver: Caregiver,
    sms: bool,
    email: bool,
    ip_address: str | None,
    safety_tips_sms: bool | None = None,
    language: str | None = None,
    **preferences: object,
) -> list[str]:
    """Save channels and preferences; every channel switched on or off is a consent record.

    Only a channel whose address is confirmed can be switched here: off is an opt-out, back on an
    opt-in at once. A channel never confirmed keeps what it was (wanted or not) and is never sent
    a confirmation by saving: that takes `caregiver_channel_confirm_request`, a button of its own.
    `safety_tips_sms`: safety tips by text as well as email (None: the page did not ask, so it is
    left as it is). `language`: what their pages and messages are written in (one of
    settings.LANGUAGES; None leaves it). A channel switched back on records the web consent text
    of the language the page was shown in (theirs before this save). Returns what happened, in
    words (lazy: shown in the language of the next page), for the page to show.
    """
    if language is not None:
        if language not in dict(settings.LANGUAGES):
            raise ValidationError({"language": gettext("Choose English or Spanish.")})
        preferences["language"] = language
    shown_in = caregiver.language
    said: list[str] = []
    consent = selectors.caregiver_consent(caregiver=caregiver)
    # Confirmed before at the address it has now (a new one is confirmed afresh).
    confirmed = {
        channel for channel in ("sms", "email") if selectors.address_confirmed(caregiver=caregiver, channel=channel)
    }
    asked = {"sms": sms, "email": email}
    current = {"sms": caregiver.wants_sms, "email": caregiver.wants_email}
    wanted = {
        channel: (asked[channel] if channel in confirmed else current[channel])
        and bool(selectors.address_of(caregiver, channel))
        for channel in ("sms", "email")
    }
    if not any(asked[channel] for channel in confirmed):
        raise ValidationError(_no_channel_message())
    if safety_tips_sms is not None:
        preferences["safety_tips_sms"] = safety_tips_sms
    caregiver_update(caregiver=caregiver, channels=_channels(wanted), **preferences)
    for channel in sorted(confirmed):
        if not asked[channel] and consent.get(channel) is True:
            caregiver_opt_out(caregiver=caregiver, channel=channel, source=SOURCE, ip_address=ip_address)
            said.append(SWITCHED_OFF[channel])
        elif asked[channel] and consent.get(channel) is not True:
            caregiver_opt_in(
                caregiver=caregiver, channel=channel, source=SOURCE, consent_text_version=current_web(shown_in),
                ip_address=ip_address, language=shown_in,
            )  # fmt: skip
            said.append(SWITCHED_ON[channel])
    return said


def _channels(wanted: dict[str, bool]) -> str:
    if wanted["sms"] and wanted["email"]:
        return Caregiver.Channels.BOTH
    return Caregiver.Channels.EMAIL if wanted["email"] and not wanted["sms"] else Caregiver.Channels.SMS


@transaction.atomic
def caregiver_channel_confirm_request(*, caregiver: Caregiver, channel: str, ip_address: str | None) -> str:
    """The caregiver asks, from their preferences page, to confirm a number or email they have not
    confirmed yet: a text to reply YES to, or an emailed link. The only way that page sends one.

    Raises ValidationError if there is nothing to confirm, RateLimited if asked too often.
    """
    if channel not in ("sms", "email"):
        raise ValidationError({"channel": gettext("Choose text messages or email to confirm.")})
    if not selectors.address_of(caregiver, channel):
        if channel == "sms":
            missing = gettext("There is no mobile number to confirm. Call your clinic to add one.")
        else:
            missing = gettext("There is no email address to confirm. Call your clinic to add one.")
        raise ValidationError({channel: missing})
    if selectors.address_confirmed(caregiver=caregiver, channel=channel):
        if channel == "sms":
            already = gettext("Your text messages are confirmed already: tick the box and save to get them.")
        else:
            already = gettext("Your email is confirmed already: tick the box and save to get it.")
        raise ValidationError({channel: already})
    confirmation_start(
        caregiver=caregiver, channel=channel, source=SOURCE, consent_text_version=current_web(caregiver.language),
        ip_address=ip_address, method=ChannelConfirmation.Method.REPLY if channel == "sms" else None,
    )  # fmt: skip
    wanted = {"sms": caregiver.wants_sms, "email": caregiver.wants_email, channel: True}
    caregiver_update(caregiver=caregiver, channels=_channels(wanted))
    if channel == "sms":
        # Translators: YES is the keyword to text back; in Spanish, SI (messaging.inbound's keywords).
        return gettext("We sent you a text. Reply YES to it to start text messages.")
    return gettext("We sent you an email. Open the link in it to start email.")


@transaction.atomic
def caregiver_pause_days(*, caregiver: Caregiver, days: int) -> Caregiver:
    return caregiver_pause(caregiver=caregiver, until=timezone.now() + timedelta(days=days))


@transaction.atomic
def caregiver_stop_everything(*, caregiver: Caregiver, ip_address: str | None) -> int:
    """Opt out of every channel at once. Always allowed; the next START or link turns it back on."""
    stopped = 0
    for channel in (ConsentRecord.Channel.SMS, ConsentRecord.Channel.EMAIL):
        address = caregiver.phone if channel == "sms" else caregiver.email
        if address and selectors.caregiver_consent(caregiver=caregiver).get(channel) is not False:
            caregiver_opt_out(caregiver=caregiver, channel=channel, source=SOURCE, ip_address=ip_address)
            stopped += 1
    # Pending confirmations die too: "stop everything" means nothing, not even a code.
    caregiver.confirmations.filter(confirmed_at__isnull=True).update(expires_at=timezone.now())
    return stopped


__all__ = [
    "caregiver_channel_confirm_request",
    "caregiver_pause_days",
    "caregiver_preferences_save",
    "caregiver_resume",
    "caregiver_stop_everything",
]
