"""What a caregiver changes on their own preferences page (reached by a signed link)."""

from __future__ import annotations

from datetime import timedelta

from django.db import transaction
from django.utils import timezone

from .. import selectors
from ..consent import CURRENT_WEB
from ..models import Caregiver, ChannelConfirmation, ConsentRecord
from .confirmations import confirmation_start
from .core import caregiver_opt_in, caregiver_opt_out, caregiver_pause, caregiver_resume, caregiver_update

SOURCE = ConsentRecord.Source.WEB


@transaction.atomic
def caregiver_preferences_save(
    *,
    caregiver: Caregiver,
    sms: bool,
    email: bool,
    ip_address: str | None,
    safety_tips_sms: bool | None = None,
    **preferences: object,
) -> list[str]:
    """Save channels and preferences; every channel switched on or off is a consent record.

    A channel switched back on that was confirmed before is opted in again at once; one never
    confirmed gets a confirmation (a YES text or an email link) first. `safety_tips_sms`: safety
    tips by text as well as email (None: the page did not ask, so it is left as it is). Returns
    what happened, in words, for the page to show.
    """
    said: list[str] = []
    consent = selectors.caregiver_consent(caregiver=caregiver)
    wanted = {"sms": sms and bool(caregiver.phone), "email": email and bool(caregiver.email)}
    channels = (
        Caregiver.Channels.BOTH
        if wanted["sms"] and wanted["email"]
        else Caregiver.Channels.SMS
        if wanted["sms"]
        else Caregiver.Channels.EMAIL
    )
    if safety_tips_sms is not None:
        preferences["safety_tips_sms"] = safety_tips_sms
    caregiver_update(caregiver=caregiver, channels=channels, **preferences)
    # Confirmed before at the address it has now (a new one is confirmed afresh).
    confirmed_before = {
        channel for channel in ("sms", "email") if selectors.address_confirmed(caregiver=caregiver, channel=channel)
    }
    for channel, on in wanted.items():
        label = "text messages" if channel == "sms" else "email"
        if not on and consent.get(channel) is True:
            caregiver_opt_out(caregiver=caregiver, channel=channel, source=SOURCE, ip_address=ip_address)
            said.append(f"You will get no more {label}.")
        elif on and consent.get(channel) is not True:
            if channel in confirmed_before:
                caregiver_opt_in(
                    caregiver=caregiver, channel=channel, source=SOURCE, consent_text_version=CURRENT_WEB,
                    ip_address=ip_address,
                )  # fmt: skip
                said.append(f"{label.capitalize()} are back on.")
            else:
                # No code page here: a text is confirmed by replying YES, an email by its link.
                confirmation_start(
                    caregiver=caregiver, channel=channel, source=SOURCE, consent_text_version=CURRENT_WEB,
                    ip_address=ip_address, method=ChannelConfirmation.Method.REPLY if channel == "sms" else None,
                )  # fmt: skip
                how = "reply YES to the text we just sent" if channel == "sms" else "open the link we just emailed"
                said.append(f"To start {label}, {how}.")
    return said


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


__all__ = ["caregiver_pause_days", "caregiver_preferences_save", "caregiver_resume", "caregiver_stop_everything"]
