"""What caregivers text us, and what the provider tells us about what we sent."""

from __future__ import annotations

import logging
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import InterfaceError, OperationalError, connection, transaction
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
KEYWORDS = OPT_OUT | OPT_IN | HELP | PREFERENCES | RIDE
START_CONSENT_VERSION = "sms-keyword-start"

# Words that may mean someone is in danger. Deliberately broad: a false alarm costs a staff
# member a minute; a missed one could cost far more.
CRISIS = re.compile(
    r"suicid|kill (my|him|her|them) ?sel|end (it all|my life|his life|her life|their life)|(want|wants) to die"
    r"|wanna die|better off dead|no reason to live|(don'?t|doesn'?t|do not|does not) want to (live|be here)"
    r"|hurt(ing)? (my|him|her|them) ?sel|self[- ]?harm|overdos|took (all|too many) (the |of (my|his|her|their) )?pills"
    r"|can'?t go on|not safe|in danger|emergency|\b911\b|\b988\b",
    re.IGNORECASE,
)


# What phones put in texts: curly apostrophes, full-width letters (NFKC folds them), zero-width spaces.
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "\u00b4": "'", "`": "'"})
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060\ufeff]")


def _plain(body: str) -> str:
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", body or "")).translate(_APOSTROPHES)
    return " ".join(text.split())


def keyword_of(body: str) -> str:
    """The single keyword a text is, if it is one: case, spaces, punctuation and emoji ignored."""
    word = "".join(ch for ch in _plain(body) if ch.isalnum()).upper()
    return word if word.isalpha() and len(word) <= 12 else ""


def signals_crisis(body: str) -> bool:
    return bool(CRISIS.search(_plain(body)))


@dataclass(frozen=True)
class InboundResult:
    action: str
    reply: str


# Who texted whom, and the text stored, in one statement, unless its MessageSid is stored already:
# the clinic by its Messaging Service if it has one, else by the number texted; the caregiver at
# that clinic with the sender's number (`phone <> ''` lets it use unique_phone_per_clinic, a
# partial index). ON CONFLICT DO NOTHING (PostgreSQL and SQLite) makes a repeated delivery, even
# one racing this one, a no-op: no savepoint, no error, no second row.
_STORE_ONCE = f"""
INSERT INTO {InboundMessage._meta.db_table}
    (message_sid, from_number, to_number, body, clinic_id, caregiver_id, action, reply, received_at)
SELECT %(sid)s, %(from)s, %(to)s, %(body)s, sender.clinic_id, sender.caregiver_id,
       CASE WHEN sender.caregiver_id IS NULL THEN %(unknown_action)s ELSE %(action)s END, '', %(now)s
FROM (SELECT 1) AS one LEFT JOIN (
    SELECT clinic.id AS clinic_id, (
        SELECT caregiver.id FROM {Caregiver._meta.db_table} AS caregiver
        WHERE caregiver.clinic_id = clinic.id AND caregiver.phone = %(from)s AND caregiver.phone <> '' LIMIT 1
    ) AS caregiver_id
    FROM {Clinic._meta.db_table} AS clinic
    WHERE clinic.twilio_from_number = %(to)s
       OR (%(service)s <> '' AND clinic.twilio_messaging_service_sid = %(service)s)
    ORDER BY clinic.twilio_messaging_service_sid = %(service)s DESC, clinic.name
    LIMIT 1
) AS sender ON true
WHERE true
ON CONFLICT (message_sid) DO NOTHING
RETURNING id, clinic_id, caregiver_id, action
"""  # noqa: S608 - table names from the models; every value is a parameter


def _store_once(inbound: InboundMessage, *, messaging_service_sid: str, action: str) -> bool:
    """Store `inbound` with its clinic and caregiver filled in; False if this MessageSid was stored
    already. `action` is what a known caregiver's text is stored as; unknown senders' are marked so."""
    params = {
        "sid": inbound.message_sid, "from": inbound.from_number, "to": inbound.to_number, "body": inbound.body,
        "service": messaging_service_sid, "action": action, "unknown_action": InboundMessage.Action.UNKNOWN_SENDER,
        "now": connection.ops.adapt_datetimefield_value(inbound.received_at),
    }  # fmt: skip
    row = _execute(_STORE_ONCE, params, one_row=True)
    if row is None:
        return False
    inbound.pk, inbound.clinic_id, inbound.caregiver_id, inbound.action = row
    inbound._state.adding, inbound._state.db = False, connection.alias
    return True


def _earlier(message_sid: str) -> InboundResult:
    """What we did the first time this text was delivered."""
    action, reply = InboundMessage.objects.filter(message_sid=message_sid).values_list("action", "reply").get()
    return InboundResult(action=action, reply=reply)


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


def inbound_receive(
    *, message_sid: str, from_number: str, to_number: str, body: str, messaging_service_sid: str = ""
) -> InboundResult:
    """Act on one inbound SMS, once: a repeated delivery of the same MessageSid gets the same reply.

    Most texts are a plain answer ("thanks", "we're at the clinic"): no keyword and no crisis words,
    so nothing to do but keep them for staff, with no reply. That is one statement, outside any
    transaction; a keyword or a crisis takes the longer way.
    """
    inbound = InboundMessage(
        message_sid=message_sid, from_number=from_number, to_number=to_number, body=body[:1600],
        received_at=timezone.now(),
    )  # fmt: skip
    keyword = keyword_of(body)
    if keyword in KEYWORDS or signals_crisis(body):
        return _act(inbound, keyword=keyword, messaging_service_sid=messaging_service_sid)
    if not _store_once(inbound, messaging_service_sid=messaging_service_sid, action=InboundMessage.Action.STORED):
        return _earlier(message_sid)
    return InboundResult(action=inbound.action, reply="")


@transaction.atomic
def _act(inbound: InboundMessage, *, keyword: str, messaging_service_sid: str) -> InboundResult:
    """A keyword or a crisis: reply, and do what it asks (opt out, alert staff...)."""
    # Claim the MessageSid before acting: a repeated delivery racing this one waits on the row
    # until this transaction commits, then answers with what was done here; nothing is done twice.
    if not _store_once(inbound, messaging_service_sid=messaging_service_sid, action=""):
        return _earlier(inbound.message_sid)
    body, message_sid, now = inbound.body, inbound.message_sid, inbound.received_at
    if inbound.caregiver_id is None:
        if inbound.clinic_id and signals_crisis(body):
            # We cannot alert about someone we do not know, but we can still point them to help.
            inbound.reply = _reply("crisis", rendering.base_context(None, inbound.clinic, "someone"))
            inbound.save(update_fields=["reply"])
        return InboundResult(action=inbound.action, reply=inbound.reply)
    caregiver = Caregiver.objects.select_related("clinic").get(pk=inbound.caregiver_id)
    inbound.caregiver = caregiver

    def context() -> dict[str, str]:
        return rendering.base_context(caregiver, caregiver.clinic, _loved_one_names(caregiver))

    if keyword in OPT_OUT:
        caregiver_services.caregiver_opt_out(
            caregiver=caregiver,
            channel=ConsentRecord.Channel.SMS,
            source=ConsentRecord.Source.SMS,
            message_sid=message_sid,
        )
        inbound.action, inbound.reply = InboundMessage.Action.OPT_OUT, _reply("stop", context())
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
        inbound.reply = "" if confirmed is not None else _reply("start", context())
    elif keyword in PREFERENCES:
        inbound.action = InboundMessage.Action.PREFERENCES
        inbound.reply = _reply(
            "preferences-link", {**context(), "preferences_url": rendering.preferences_url(caregiver)}
        )
    elif keyword in HELP:
        inbound.action, inbound.reply = InboundMessage.Action.HELP, _reply("help", context())
    elif keyword in RIDE:
        appointment = _next_treatment(caregiver, now)
        if appointment is None:
            inbound.action = InboundMessage.Action.RIDE_NOT_FOUND
            inbound.reply = _reply("ride-no-appointment", context())
        else:
            caregiver_services.appointment_mark_ride_arranged(appointment=appointment, caregiver=caregiver)
            inbound.action = InboundMessage.Action.RIDE
            inbound.reply = _reply("ride-confirmed", rendering.appointment_context(caregiver, appointment))
    elif signals_crisis(body):
        inbound.action, inbound.reply = InboundMessage.Action.CRISIS, _reply("crisis", context())
    else:
        inbound.action = InboundMessage.Action.STORED
    inbound.save(update_fields=["action", "reply"])
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
    """Move a message forward per the provider's callback. Out-of-order and repeated callbacks are harmless.

    One conditional UPDATE in the usual case (_move_forward); the row is read only when that
    changed nothing, to say why, or to act on an opt-out error.
    """
    target = CALLBACK_STATUS.get(status.lower())
    if target is None:
        return "ignored"  # queued, accepted, sending: nothing we do not know already
    if not message_id and not message_sid:
        return "unknown"  # nothing to find the message by
    now = timezone.now()
    moved = _move_forward(message_id=message_id, message_sid=message_sid, target=target, error_code=error_code, now=now)
    if moved and error_code != "21610":
        return "updated"
    rows = (
        OutboundMessage.objects.filter(pk=message_id)
        if message_id
        else OutboundMessage.objects.filter(provider_id=message_sid)
    )
    message = rows.only("provider_id", "kind", "caregiver_id").order_by("pk").first()
    if message is None or (message.provider_id and message_sid and message.provider_id != message_sid):
        return "unknown"
    if not moved:
        # Already this far or further; a callback that beat our record of the send still leaves its SID.
        OutboundMessage.objects.filter(pk=message.pk, provider_id="").update(provider_id=message_sid, sent_at=now)
    if error_code == "21610" and message.kind != OutboundMessage.Kind.ALERT:
        caregiver_services.caregiver_opt_out(
            caregiver=message.caregiver, channel=ConsentRecord.Channel.SMS, source=ConsentRecord.Source.SMS
        )
    return "updated" if moved else "unchanged"


def _move_forward(*, message_id: int | None, message_sid: str, target: str, error_code: str, now: datetime) -> bool:
    """One UPDATE: the status moves only to a higher rank (or out of sending), and only on the
    message whose SID matches, or that has none yet (the callback beat our record of the send:
    then it leaves the SID and the send time). True if it moved."""
    rank = OutboundMessage.RANK[target]
    allowed_from = [s for s, r in OutboundMessage.RANK.items() if r < rank] + [Status.SENDING]
    params = {"target": target, "now": connection.ops.adapt_datetimefield_value(now), "sid": message_sid}
    sets = [
        "status = %(target)s", "updated_at = %(now)s", "lease_expires_at = NULL",
        "provider_id = CASE WHEN provider_id = '' THEN %(sid)s ELSE provider_id END",
        "sent_at = CASE WHEN provider_id = '' THEN %(now)s ELSE sent_at END",
    ]  # fmt: skip
    if target == Status.DELIVERED:
        sets.append("delivered_at = %(now)s")
    if error_code:
        sets.append("error_code = %(error_code)s")
        params["error_code"] = error_code
    where = ["status IN ({})".format(", ".join(f"%(from_{n})s" for n in range(len(allowed_from))))]
    params.update({f"from_{n}": status for n, status in enumerate(allowed_from)})
    if message_id:
        where.append("id = %(id)s")
        params["id"] = message_id
        if message_sid:
            where.append("provider_id IN (%(sid)s, '')")
    else:
        where.append("provider_id = %(sid)s")
    sql = f"UPDATE {OutboundMessage._meta.db_table} SET {', '.join(sets)} WHERE {' AND '.join(where)}"  # noqa: S608
    return _execute(sql, params, one_row=False) > 0


def _execute(sql: str, params: dict[str, object], *, one_row: bool) -> Any:
    """Run one of the webhooks' statements: its first row if `one_row`, else its row count.

    On PostgreSQL each is prepared once per connection: planning them costs the server more than
    running them, and Django's cursors bind parameters on the client, so nothing would ever be
    prepared. Outside a transaction the connection's health check is a retry instead: Django's
    (CONN_HEALTH_CHECKS) costs a round trip to the server before the statement, and every statement
    here may safely run twice (an insert that does nothing on conflict, an update that only moves a
    status forward), so it goes straight out and, should the connection prove dead (the server
    restarted, a proxy dropped it), goes again once on a new one.
    """
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone() if one_row else cursor.rowcount
    # In a transaction (the keyword path) Django checked the connection as the transaction began.
    retry = not connection.in_atomic_block
    if retry:
        connection.health_check_done = True
    attempts = 2 if retry else 1
    while True:
        attempts -= 1
        connection.ensure_connection()
        try:
            with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
                cursor.execute(sql, params, prepare=True)
                return cursor.fetchone() if one_row else cursor.rowcount
        except (OperationalError, InterfaceError):
            if not attempts or connection.is_usable():
                raise
            logger.warning("the database connection was lost; running the statement again on a new one")
            connection.close()
