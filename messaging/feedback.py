"""Was this helpful? A caregiver's answer to one tip they got: helpful, or not for me.

- **Email**: every tip email ends with two signed links, "Yes, it helped" and "Not for me"
  (`feedback_url`, 30 days). The links are made when the planner renders the email, before its
  outbox row exists, so they name the row by its `dedupe_key` (unique, and fixed for the row's
  life) rather than its id. One click records the answer and shows a page that offers the other.
  Mail scanners open links: a click is recorded as it comes, the latest answer wins (so the
  person's own click after a scan stands), and a scanner that opens both links within
  SCANNER_SECONDS of each other leaves no answer: the second page asks which they meant.
- **Text**: every tip by text ends "Reply 1 if this helped, 2 if not." (content.validation
  .TIP_SMS_FEEDBACK). A reply of just 1 or 2 ("1.", " 2!") within REPLY_HOURS of that text answers
  the latest one (`sms_answer`); a danger or an opt-out is read before it, and a 1 or 2 with no tip
  to answer gets the usual auto-reply.

One `TipResponse` per tip message: a second answer changes it (`tip_response_record`).
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy

from content.validation import SMS_WORDS, sms_fold

from .models import InboundMessage, OutboundMessage, TipResponse

Value = TipResponse.Value
Status = OutboundMessage.Status
FEEDBACK_SALT = "alongside.tip-feedback"
FEEDBACK_MAX_AGE = 30 * 86400
REPLY_HOURS = 24
SCANNER_SECONDS = 120
# What a tip's email may have been answered from: it went out (or was going out) to the person.
ANSWERABLE = (Status.SENDING, Status.SENT, Status.DELIVERED)
ANSWERS = {"1": Value.HELPFUL, "2": Value.NOT_FOR_ME}
# A reply that is only a 1 or a 2, as people type it: "1", " 2 ", "1.", "#2", "2!!", "1)", the
# keycap emoji 1️⃣, or a digit with an emoji after it ("1 👍"). Not "12", "1 thanks" or "one".
REPLY = re.compile(r"\s*#?\s*([12])\s*[^\w\s]*\s*")
_KEYCAP = str.maketrans("", "", "\ufe0f\u20e3")  # 1️⃣ is "1", a variation selector and a keycap
THANKS = {Value.HELPFUL: "tip-thanks-helpful", Value.NOT_FOR_ME: "tip-thanks-not-for-me"}
# If a thank-you template is missing or broken: words that name nothing.
THANKS_FALLBACK = {
    "tip-thanks-helpful": "Alongside: Thanks, glad that one helped.",
    "tip-thanks-not-for-me": "Alongside: Thanks for telling us.",
}
# What the links say: nothing about what the tip was about, or what the care is.
LINK_WORDS = {Value.HELPFUL: gettext_lazy("Yes, it helped"), Value.NOT_FOR_ME: gettext_lazy("Not for me")}
# A tip text that asked "was this helpful?", in any language (as sent: folded to GSM-7).
_ASKED = Q()
for _words in SMS_WORDS.values():
    _ASKED |= Q(body__endswith=sms_fold(_words.feedback))


# --- The links --------------------------------------------------------------------------------


def feedback_token(*, dedupe_key: str, value: str) -> str:
    return signing.dumps({"k": dedupe_key, "v": value}, salt=FEEDBACK_SALT, compress=True)


def feedback_link(token: str) -> tuple[str, str] | None:
    """(dedupe key, answer) of a link; None if it was tampered with, is over 30 days old or says
    something that is not an answer."""
    try:
        data = signing.loads(token, salt=FEEDBACK_SALT, max_age=FEEDBACK_MAX_AGE)
        key, value = str(data["k"]), str(data["v"])
    except (signing.BadSignature, KeyError, TypeError, ValueError, AttributeError):
        return None
    return (key, value) if value in Value.values else None


def feedback_url(*, dedupe_key: str, value: str) -> str:
    token = feedback_token(dedupe_key=dedupe_key, value=value)
    return settings.PUBLIC_BASE_URL + reverse("portal:tip-feedback", args=[token])


def feedback_text(dedupe_key: str) -> str:
    """What a tip email's plain-text part ends with."""
    links = (f"{LINK_WORDS[value]}: {feedback_url(dedupe_key=dedupe_key, value=value)}" for value in Value.values)
    return _("Was this helpful?") + "\n" + "\n".join(links)


def feedback_html(dedupe_key: str) -> str:
    """What a tip email's HTML body ends with (inline styles: mail apps keep no stylesheet)."""
    links = " &middot; ".join(
        f'<a href="{feedback_url(dedupe_key=dedupe_key, value=value)}" style="color:#1f5f8b;">{LINK_WORDS[value]}</a>'
        for value in Value.values
    )
    return f'<p style="margin:20px 0 0;color:#52606d;">{_("Was this helpful?")} {links}</p>'


def tip_message_for_link(*, dedupe_key: str) -> OutboundMessage | None:
    """The tip email a link was sent in, if it went out."""
    return (
        OutboundMessage.objects.select_related("tip", "caregiver__clinic")
        .filter(
            dedupe_key=dedupe_key,
            kind=OutboundMessage.Kind.TIP,
            channel=OutboundMessage.Channel.EMAIL,
            status__in=ANSWERABLE,
            tip__isnull=False,
            caregiver__isnull=False,
        )
        .first()
    )


# --- Recording --------------------------------------------------------------------------------


@transaction.atomic
def tip_response_record(*, message: OutboundMessage, value: str, now: datetime) -> TipResponse:
    """Record the caregiver's answer about the tip in `message`; a later answer replaces an earlier one."""
    if value not in Value.values:
        raise ValidationError({"value": f"Answer {' or '.join(Value.values)}."})
    if message.kind != OutboundMessage.Kind.TIP or message.tip_id is None or message.caregiver_id is None:
        raise ValidationError("Only a tip sent to a caregiver can be answered.")
    response, _ = TipResponse.objects.update_or_create(
        message=message,
        defaults={
            "tip_id": message.tip_id, "caregiver_id": message.caregiver_id,
            "clinic_id": message.caregiver.clinic_id, "value": value, "channel": message.channel,
            "responded_at": now,
        },
    )  # fmt: skip
    return response


@transaction.atomic
def link_answer(*, message: OutboundMessage, value: str, now: datetime) -> TipResponse | None:
    """A click on one of a tip email's links. None when it looks like a mail scanner opening both
    links in turn: the answer is taken back and the page asks which they meant."""
    earlier = TipResponse.objects.select_for_update().filter(message=message).first()
    if (
        earlier is not None
        and earlier.value != value
        and earlier.channel == OutboundMessage.Channel.EMAIL
        and now - earlier.responded_at < timedelta(seconds=SCANNER_SECONDS)
    ):
        earlier.delete()
        return None
    return tip_response_record(message=message, value=value, now=now)


def sms_answer(*, inbound: InboundMessage, now: datetime) -> str:
    """A 1 or a 2 answering a tip texted to this number within REPLY_HOURS: records it and returns
    the thank-you template's key; '' when the text is no such answer (it gets the usual reply)."""
    found = REPLY.fullmatch((inbound.body or "").translate(_KEYCAP))
    if not found or inbound.caregiver_id is None:
        return ""
    tip = (
        OutboundMessage.objects.select_related("caregiver")
        .filter(
            caregiver_id=inbound.caregiver_id,
            channel=OutboundMessage.Channel.SMS,
            kind=OutboundMessage.Kind.TIP,
            status__in=(Status.SENT, Status.DELIVERED),
            to=inbound.from_number,
            tip__isnull=False,
            sent_at__gte=now - timedelta(hours=REPLY_HOURS),
            sent_at__lte=now,
        )
        .filter(_ASKED)  # it asked: "today's tip is in your email" did not
        .order_by("-sent_at", "-pk")
        .first()
    )
    if tip is None:
        return ""
    value = ANSWERS[found.group(1)]
    tip_response_record(message=tip, value=value, now=now)
    return THANKS[value]
