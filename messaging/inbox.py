"""The staff inbox: every text to a clinic, threaded by who sent it, and the replies staff write.

A conversation's lifecycle is drawn on messaging.models.Conversation; each arrow is one function
here. A reply is an outbox row like any other (kind `reply`): the dispatcher sends it, the send-time
checks hold it back from anyone who said stop since it was written, and its delivery status comes
back on it. Replies are not tips or reminders, so the daily cap and quiet hours do not hold them
(someone is answering a text just received); discretion applies to every word.
"""

from __future__ import annotations

import re
import uuid
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction

from caregiver.models import AuditEvent, Caregiver, Clinic
from caregiver.selectors import address_of, caregiver_consent, caregiver_send_problem
from caregiver.services import audit_record
from caregiver.validators import validate_one_line
from content.validation import discreet_violations, sms_size

from . import discretion, rendering
from .models import Conversation, InboundMessage, OutboundMessage, SavedReply
from .reading import OPT_IN, OPT_OUT, TextReading, read_text

Status = Conversation.Status
Action = InboundMessage.Action

# Texts the service answered in full need nobody: they join the thread and leave its state alone.
# Anything else (a question, a crisis, a possible opt-out, a number we don't know) opens it.
ANSWERED_IN_FULL = frozenset(
    {Action.OPT_OUT, Action.OPT_IN, Action.PREFERENCES, Action.RIDE, Action.RIDE_NOT_FOUND, Action.TIP_RESPONSE}
)
_THE_TEAM = {"en": "The team", "es": "El equipo"}  # who signs a reply from staff with no name to give
REPLY_MAX_SEGMENTS = 4  # a person's answer may run longer than our two-segment templates, not much
REPLY_MAX_CHARS = 2000  # an email reply
# Tabs and line breaks are a person's; other control characters are not (and break some phones).
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# How far back a number's own words are read for its last STOP or START.
_STOP_LOOKBACK = 50


# --- Threading the texts ---------------------------------------------------------------------------


def _conversation_for(*, clinic: Clinic, caregiver: Caregiver | None, phone: str, now: datetime) -> Conversation:
    """The conversation, locked, made if this is the first text (or the first reply)."""
    if caregiver is not None:
        found, _ = Conversation.objects.get_or_create(
            clinic=clinic, caregiver=caregiver, defaults={"phone": phone, "last_message_at": now}
        )
    else:
        found, _ = Conversation.objects.get_or_create(
            clinic=clinic, caregiver=None, phone=phone, defaults={"last_message_at": now}
        )
    return Conversation.objects.select_for_update(of=("self",)).get(pk=found.pk)


def conversation_text_add(*, inbound: InboundMessage, needs_a_person: bool, now: datetime) -> Conversation | None:
    """Thread one text into its conversation (inside the transaction that acted on it). A text that
    needs a person opens a handled conversation again, with its assignee if it had one."""
    if inbound.clinic_id is None:
        return None  # to a number no clinic owns: nobody's inbox
    conversation = _conversation_for(
        clinic=inbound.clinic, caregiver=inbound.caregiver, phone=inbound.from_number, now=now
    )
    conversation.last_message_at = conversation.last_inbound_at = now
    conversation.phone = inbound.from_number
    fields = ["last_message_at", "last_inbound_at", "phone", "updated_at"]
    if needs_a_person and conversation.status == Status.HANDLED:
        conversation.status = Status.ASSIGNED if conversation.assigned_to_id else Status.OPEN
        conversation.handled_at = conversation.handled_by = None
        fields += ["status", "handled_at", "handled_by"]
    conversation.save(update_fields=fields)
    InboundMessage.objects.filter(pk=inbound.pk).update(conversation=conversation)
    inbound.conversation = conversation
    return conversation


def needs_a_person(*, action: str, reading: TextReading) -> bool:
    """Whether a text, once answered, still needs someone at the clinic to read it (`reading`: how
    the inbound path read it). A number we don't know texting STOP or START asked nothing of us
    (the carrier handles it)."""
    if action in ANSWERED_IN_FULL:
        return False
    if action == Action.UNKNOWN_SENDER:
        return not (reading.opt_out or reading.keyword in OPT_OUT | OPT_IN)
    return True


def conversation_start(*, clinic: Clinic, caregiver: Caregiver, now: datetime) -> Conversation:
    """A conversation staff begin (an email-only caregiver never texts): handled until someone writes."""
    with transaction.atomic():
        return _conversation_for(clinic=clinic, caregiver=caregiver, phone=caregiver.phone, now=now)


# --- The arrows -------------------------------------------------------------------------------------


def _target(conversation: Conversation) -> Caregiver | Clinic:
    return conversation.caregiver or conversation.clinic


def _locked(conversation_id: int) -> Conversation:
    return (
        Conversation.objects.select_for_update(of=("self",))
        .select_related("clinic", "caregiver", "assigned_to")
        .get(pk=conversation_id)
    )


def clinic_staff(*, clinic: Clinic):
    """Who a conversation can be given to: the clinic's active staff."""
    return get_user_model().objects.filter(memberships__clinic=clinic, is_active=True).distinct().order_by("username")


def _name(user: AbstractBaseUser) -> str:
    return user.get_full_name() or user.get_username()


@transaction.atomic
def conversation_assign(
    *, conversation_id: int, to: AbstractBaseUser | None, by: AbstractBaseUser, now: datetime
) -> Conversation:
    """Give the conversation to a staff member of its clinic (None: back to everyone, open)."""
    conversation = _locked(conversation_id)
    if to is not None and not clinic_staff(clinic=conversation.clinic).filter(pk=to.pk).exists():
        raise ValidationError({"assigned_to": "Choose someone on this clinic's staff."})
    before = _name(conversation.assigned_to) if conversation.assigned_to else ""
    conversation.assigned_to = to
    if conversation.status != Status.HANDLED or to is not None:
        conversation.status = Status.ASSIGNED if to is not None else Status.OPEN
        conversation.handled_at = conversation.handled_by = None
    conversation.save(update_fields=["assigned_to", "status", "handled_at", "handled_by", "updated_at"])
    audit_record(
        by=by, action=AuditEvent.Action.INBOX_ASSIGN, target=_target(conversation),
        changes={"assigned_to": [before, _name(to) if to else ""], "conversation": conversation.pk},
    )  # fmt: skip
    return conversation


def conversation_handle(*, conversation_id: int, by: AbstractBaseUser, now: datetime) -> Conversation:
    """Done: nothing more is owed. A new text that needs a person opens it again."""
    return _handled_set(conversation_id=conversation_id, handled=True, by=by, now=now)


def conversation_reopen(*, conversation_id: int, by: AbstractBaseUser, now: datetime) -> Conversation:
    """Open again, with its assignee if it had one."""
    return _handled_set(conversation_id=conversation_id, handled=False, by=by, now=now)


@transaction.atomic
def _handled_set(*, conversation_id: int, handled: bool, by: AbstractBaseUser, now: datetime) -> Conversation:
    conversation = _locked(conversation_id)
    if (conversation.status == Status.HANDLED) == handled:
        return conversation  # already so: nothing to record
    if handled:
        conversation.status, conversation.handled_at, conversation.handled_by = Status.HANDLED, now, by
    else:
        conversation.status = Status.ASSIGNED if conversation.assigned_to_id else Status.OPEN
        conversation.handled_at = conversation.handled_by = None
    conversation.save(update_fields=["status", "handled_at", "handled_by", "updated_at"])
    audit_record(
        by=by, action=AuditEvent.Action.INBOX_HANDLE if handled else AuditEvent.Action.INBOX_REOPEN,
        target=_target(conversation), changes={"conversation": conversation.pk},
    )  # fmt: skip
    return conversation


# --- Replies ----------------------------------------------------------------------------------------


def number_stopped(*, clinic: Clinic | None, phone: str) -> bool:
    """Whether a number we don't know last told this clinic STOP (in any words), rather than START."""
    if clinic is None or not phone:
        return False
    recent = InboundMessage.objects.filter(clinic=clinic, from_number=phone).order_by("-received_at", "-id")
    for body in recent.values_list("body", flat=True)[:_STOP_LOOKBACK]:
        reading = read_text(body)
        if reading.keyword in OPT_IN:
            return False
        if reading.opt_out or reading.keyword in OPT_OUT:
            return True
    return False


def reply_channels(*, conversation: Conversation, now: datetime) -> dict[str, str]:
    """{channel: why a reply cannot go on it ('' when it can)}, texts first.

    A reply goes only where the person can be reached and has not said stop: by text to a number
    that texted us or said yes to texts, by email to an address that said yes. The same rule is
    checked again at send time (messaging.sending), so a STOP that arrives meanwhile still wins."""
    caregiver = conversation.caregiver
    if caregiver is None:
        stopped = number_stopped(clinic=conversation.clinic, phone=conversation.phone)
        return {"sms": "This number texted STOP: it gets no more texts from us." if stopped else ""}
    consent = caregiver_consent(caregiver=caregiver)
    found = {}
    for channel in ("sms", "email"):
        if not address_of(caregiver, channel):
            continue
        problem = caregiver_send_problem(
            caregiver=caregiver, channel=channel, opted_in=consent.get(channel), now=now, asked_for=True
        )
        texted_us = (
            channel == "sms" and conversation.last_inbound_at is not None and conversation.phone == caregiver.phone
        )
        if not problem and consent.get(channel) is not True and not texted_us:
            problem = "no_consent"
        found[channel] = _CHANNEL_PROBLEMS.get(problem, problem).format(
            name=caregiver.name, what="texts" if channel == "sms" else "email"
        )
    return found


_CHANNEL_PROBLEMS = {
    "opted_out": "{name} opted out of {what}: nothing more goes to them this way.",
    "undeliverable": "{name}'s {what} cannot be delivered (see the family page).",
    "no_consent": "{name} has not said yes to {what} yet.",
}


def _revealing(text: str, *, clinic: Clinic, verb: str = "Not sent") -> str:
    """Why staff's words may not go ('' when they may), naming the words as they typed them: a
    text shows on a lock screen."""
    named = discreet_violations(text, allowed=discretion.clinic_allowed(clinic))
    if not named:
        return ""
    # The reader also joins neighbouring words ("her depresion" and "depresion"): name the shortest.
    words = [word for word in named if not any(other != word and other in word for other in named)]
    shown = ", ".join(f"“{word}”" for word in words[:3])
    return (
        f"{verb}: {shown} would show the treatment, a medicine or a diagnosis on a lock screen. "
        "Say “treatment” or “appointment” instead."
    )


def _clean_text(text: str) -> str:
    text = _CONTROL.sub("", (text or "").replace("\r\n", "\n")).strip()
    if not text:
        raise ValidationError({"text": "Write a reply first."})
    return text


def reply_render(*, conversation: Conversation, text: str, channel: str, by: AbstractBaseUser) -> rendering.Body:
    """The reply as it will leave, or a ValidationError that says what to change."""
    clinic = conversation.clinic
    context = {
        **rendering.base_context(conversation.caregiver, clinic),
        "reply_text": text,
        "staff_name": discretion.safe_name(
            _name(by),
            fallback=_THE_TEAM[rendering.language_of(conversation.caregiver)],
            allowed=discretion.clinic_allowed(clinic),
        ),
    }
    body = rendering.template_body(
        key="staff-reply", channel=channel, context=context, caregiver=conversation.caregiver
    )
    shown = body.text if channel == "sms" else body.subject
    held = _revealing(f"{shown}\n{text}", clinic=clinic)
    if held:
        raise ValidationError({"text": held})
    if channel == "sms":
        size = sms_size(body.text)
        if size.segments > REPLY_MAX_SEGMENTS:
            raise ValidationError(
                {"text": f"Too long for a text: {size.segments} parts, at most {REPLY_MAX_SEGMENTS}. Shorten it."}
            )
    elif len(text) > REPLY_MAX_CHARS:
        raise ValidationError({"text": f"Too long: {len(text)} characters, at most {REPLY_MAX_CHARS}."})
    return body


def conversation_reply(
    *, conversation_id: int, text: str, by: AbstractBaseUser, now: datetime, channel: str = "",
    key: str = "", handled: bool = False,
) -> OutboundMessage:  # fmt: skip
    """Send a staff member's reply through the outbox. `key` (from the form) makes a double submit
    one reply. The conversation becomes the writer's if nobody had it, or handled with `handled`."""
    from .inbound import dispatcher_wake

    text = _clean_text(text)
    with transaction.atomic():
        # The caregiver's row first, then the conversation: the order an inbound text takes them
        # in (a STOP arriving as the reply is written would otherwise deadlock with it).
        caregiver_id = Conversation.objects.filter(pk=conversation_id).values_list("caregiver_id", flat=True).get()
        if caregiver_id is not None:
            Caregiver.objects.select_for_update(of=("self",)).filter(pk=caregiver_id).first()
        conversation = _locked(conversation_id)
        dedupe_key = f"inbox:{conversation.pk}:{key or uuid.uuid4().hex}"[:200]
        earlier = OutboundMessage.objects.filter(dedupe_key=dedupe_key).first()
        if earlier is not None and text in earlier.body:
            return earlier  # the same form sent twice (a double click, a retry): one reply
        if earlier is not None:
            # An old form (the back button) with new words: a new reply, not a silent drop.
            dedupe_key = f"inbox:{conversation.pk}:{uuid.uuid4().hex}"
        channels = reply_channels(conversation=conversation, now=now)
        open_ = [name for name, problem in channels.items() if not problem]
        channel = channel or (open_[0] if open_ else next(iter(channels), "sms"))
        if channel not in channels:
            raise ValidationError({"channel": "There is no address for that: choose another way to reply."})
        if channels[channel]:
            raise ValidationError({"channel": channels[channel]})
        body = reply_render(conversation=conversation, text=text, channel=channel, by=by)
        caregiver = conversation.caregiver
        message = OutboundMessage.objects.create(
            caregiver=caregiver, clinic=conversation.clinic, conversation=conversation, sent_by=by,
            channel=channel, kind=OutboundMessage.Kind.REPLY,
            to=address_of(caregiver, channel) if caregiver else conversation.phone,
            body=body.text, subject=body.subject, html=body.html, send_at=now, dedupe_key=dedupe_key,
        )  # fmt: skip
        conversation.last_message_at = now
        if handled:
            conversation.status, conversation.handled_at, conversation.handled_by = Status.HANDLED, now, by
        elif conversation.status == Status.HANDLED:
            pass  # nothing was waiting (staff wrote first, or wrote again): their answer opens it
        elif conversation.status != Status.ASSIGNED or conversation.assigned_to_id is None:
            conversation.status, conversation.assigned_to = Status.ASSIGNED, by
            conversation.handled_at = conversation.handled_by = None
        conversation.save(
            update_fields=["last_message_at", "status", "assigned_to", "handled_at", "handled_by", "updated_at"]
        )
        audit_record(
            by=by, action=AuditEvent.Action.INBOX_REPLY, target=_target(conversation),
            changes={"channel": channel, "conversation": conversation.pk, "message": message.pk, "text": text[:200]},
        )  # fmt: skip
        transaction.on_commit(lambda: dispatcher_wake([message.pk]))
    return message


# --- Saved replies ----------------------------------------------------------------------------------


def _saved_clean(*, clinic: Clinic, title: str, body: str) -> tuple[str, str]:
    body = _CONTROL.sub("", (body or "").replace("\r\n", "\n")).strip()
    problems = {}
    try:
        validate_one_line(title or "")
    except ValidationError as exc:
        problems["title"] = exc.messages
    title = " ".join((title or "").split())
    if not title:
        problems["title"] = "Give it a short name staff will recognise."
    if not body:
        problems["body"] = "Write the reply."
    elif held := _revealing(body, clinic=clinic, verb="It could not be sent"):
        problems["body"] = held
    elif (size := sms_size(f"{discretion.clinic_sms_name(clinic)} (Alongside): {body}")).segments > REPLY_MAX_SEGMENTS:
        problems["body"] = f"Too long for a text: {size.segments} parts, at most {REPLY_MAX_SEGMENTS}. Shorten it."
    if problems:
        raise ValidationError(problems)
    return title[:60], body[:640]


@transaction.atomic
def saved_reply_save(
    *, clinic: Clinic, title: str, body: str, by: AbstractBaseUser, saved_reply: SavedReply | None = None
) -> SavedReply:
    """Add a saved reply to the clinic's list, or change one."""
    title, body = _saved_clean(clinic=clinic, title=title, body=body)
    same_title = SavedReply.objects.filter(clinic=clinic, title__iexact=title)
    if saved_reply is not None:
        same_title = same_title.exclude(pk=saved_reply.pk)
    if same_title.exists():
        raise ValidationError({"title": "The clinic has a saved reply with this name already."})
    if saved_reply is None:
        saved_reply = SavedReply(clinic=clinic, position=SavedReply.objects.filter(clinic=clinic).count())
    saved_reply.title, saved_reply.body = title, body
    saved_reply.save()
    audit_record(by=by, action=AuditEvent.Action.SAVED_REPLY, target=clinic, changes={"saved": title})
    return saved_reply


@transaction.atomic
def saved_reply_delete(*, saved_reply: SavedReply, by: AbstractBaseUser) -> None:
    audit_record(
        by=by, action=AuditEvent.Action.SAVED_REPLY, target=saved_reply.clinic, changes={"deleted": saved_reply.title}
    )
    saved_reply.delete()
