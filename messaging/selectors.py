"""Reads of the outbox and inbound texts for clinic staff, scoped like caregiver.selectors."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Case, Exists, OuterRef, Q, QuerySet, Subquery, When
from django.db.models.functions import Coalesce

from caregiver.models import LovedOne
from caregiver.selectors import caregivers_with_consent, clinics_for_user

from .models import Conversation, CrisisAlert, InboundMessage, OutboundMessage, ReminderRule
from .planning import PreviewItem, course_preview
from .rendering import mask_links, redact_codes, template_problem


def messages_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[OutboundMessage]:
    """Every outbox row of the user's clinics' caregivers, and their alerts (staff sent them)."""
    clinics = clinics_for_user(user=user).values("id")
    return OutboundMessage.objects.filter(Q(caregiver__clinic__in=clinics) | Q(clinic__in=clinics)).select_related(
        "caregiver", "appointment"
    )


def crisis_alerts_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[CrisisAlert]:
    """Crisis alerts of the user's clinics, open ones first, newest first."""
    return (
        CrisisAlert.objects.filter(clinic__in=clinics_for_user(user=user).values("id"))
        .select_related("clinic", "caregiver", "inbound", "acknowledged_by", "closed_by")
        .order_by(Case(When(status=CrisisAlert.Status.OPEN, then=0), default=1), "-opened_at", "-id")
    )


def crisis_alert_for_link(*, alert_id: int) -> CrisisAlert | None:
    """The alert a signed acknowledgement link names (the link itself is the permission)."""
    return CrisisAlert.objects.select_related("clinic", "caregiver", "inbound").filter(pk=alert_id).first()


def open_alert_count(*, user: AbstractBaseUser | AnonymousUser) -> int:
    return CrisisAlert.objects.filter(
        clinic__in=clinics_for_user(user=user).values("id"), status=CrisisAlert.Status.OPEN
    ).count()


def inbound_for_user(*, user: AbstractBaseUser | AnonymousUser, show: str = "") -> QuerySet[InboundMessage]:
    """Texts to the user's clinics, newest first. `show`: "unknown" (numbers we don't know),
    "review" (might be opt-outs), "crisis", or everything."""
    texts = InboundMessage.objects.filter(clinic__in=clinics_for_user(user=user).values("id")).select_related(
        "caregiver", "clinic"
    )
    if show == "unknown":
        texts = texts.filter(caregiver__isnull=True)
    elif show == "review":
        texts = texts.filter(action=InboundMessage.Action.REVIEW)
    elif show == "crisis":
        texts = texts.filter(action=InboundMessage.Action.CRISIS)
    return texts.order_by("-received_at", "-id")


def family_messages(*, loved_one: LovedOne) -> QuerySet[OutboundMessage]:
    """Messages to the loved one's caregivers: tips and replies, and reminders of *their* appointments."""
    return (
        OutboundMessage.objects.filter(caregiver__links__loved_one=loved_one)
        .filter(Q(appointment__isnull=True) | Q(appointment__loved_one=loved_one))
        .select_related("caregiver", "appointment", "tip")
        .distinct()
    )


def message_text_for_staff(message: OutboundMessage, *, field: str = "") -> str:
    """What staff see of a message (its subject or text, or `field`): never a sign-up code nor a
    link's secret (with either they could confirm, opt in or out for the caregiver)."""
    text = getattr(message, field) if field else (message.subject or message.body)
    return mask_links(redact_codes(text) if message.kind == OutboundMessage.Kind.CONFIRMATION else text)


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    direction: str  # "out" or "in"
    caregiver: str
    channel: str
    kind: str
    status: str
    reason: str
    text: str
    crisis: bool = False
    detail: str = ""  # for a message held back for discretion: what it would have shown

    @property
    def reason_text(self) -> str:
        if self.reason == "discretion":
            return self.detail or "held back: it would reveal treatment on a lock screen"
        return self.reason.replace("_", " ")

    @property
    def css(self) -> str:
        return "crisis" if self.crisis else f"status-{self.status}"


def family_timeline(*, loved_one: LovedOne, limit: int = 300) -> list[TimelineEntry]:
    """Everything planned, sent, delivered, failed or suppressed, and every reply, newest first.

    Planned messages sort by when they will go; the rest by when they went (or were decided).
    """
    entries: list[TimelineEntry] = []
    for message in family_messages(loved_one=loved_one).order_by("-send_at")[:limit]:
        at = message.sent_at or message.send_at
        if message.status in (OutboundMessage.Status.SUPPRESSED, OutboundMessage.Status.CANCELLED):
            at = message.send_at
        entries.append(
            TimelineEntry(
                at=at,
                direction="out",
                caregiver=message.to if message.kind == OutboundMessage.Kind.ALERT else message.caregiver.name,
                channel=message.channel,
                kind=message.get_kind_display(),
                status=message.status,
                reason=message.status_reason or message.error_code,
                text=message_text_for_staff(message),
                detail=message.last_error if message.status_reason == "discretion" else "",
            )
        )
    inbound = (
        InboundMessage.objects.filter(caregiver__links__loved_one=loved_one)
        .select_related("caregiver")
        .order_by("-received_at")[:limit]
    )
    for text in inbound:
        entries.append(
            TimelineEntry(
                at=text.received_at,
                direction="in",
                caregiver=text.caregiver.name if text.caregiver else text.from_number,
                channel="sms",
                kind="Reply from caregiver",
                status=text.action,
                reason=text.get_action_display(),
                text=mask_links(text.body),
                crisis=text.action == InboundMessage.Action.CRISIS,
            )
        )
    for alert in CrisisAlert.objects.filter(caregiver__links__loved_one=loved_one).order_by("-opened_at")[:limit]:
        entries.append(
            TimelineEntry(
                at=alert.opened_at,
                direction="alert",
                caregiver=alert.caregiver.name if alert.caregiver else "",
                channel="",
                kind="Crisis alert",
                status=alert.status,
                reason=alert_state_text(alert),
                text=alert.close_note,
                crisis=alert.status == CrisisAlert.Status.OPEN,
            )
        )
    entries.sort(key=lambda entry: entry.at, reverse=True)
    return entries[:limit]


def alert_state_text(alert: CrisisAlert) -> str:
    """Where an alert stands, in words staff read at a glance."""
    if alert.status == CrisisAlert.Status.OPEN:
        return "Open: nobody has acknowledged it yet"
    who = alert.acknowledged_by_name or "someone"
    text = f"Acknowledged by {who}"
    if alert.status == CrisisAlert.Status.CLOSED:
        closer = (alert.closed_by.get_full_name() or alert.closed_by.get_username()) if alert.closed_by else "someone"
        text += f"; closed by {closer}"
    return text


def family_preview(*, loved_one: LovedOne, now: datetime) -> list[PreviewItem]:
    """What the rest of the loved one's course will bring each caregiver beyond what is planned
    (the planner looks PLAN_HORIZON_HOURS ahead), soonest first: the plan's own pure function."""
    items: list[PreviewItem] = []
    for caregiver in caregivers_with_consent(loved_one.caregivers.select_related("clinic")):
        items += [
            replace(item, text=mask_links(item.text))
            for item in course_preview(caregiver=caregiver, now=now, loved_one_id=loved_one.pk)
        ]
    return sorted(items, key=lambda item: (item.send_at, item.caregiver.name, item.channel))


def family_course(*, loved_one: LovedOne, now: datetime) -> list[dict]:
    """Every message still to come for the loved one's caregivers: planned rows as they stand, and
    the preview of the rest of the course, soonest first (the staff API's course endpoint)."""
    planned = family_messages(loved_one=loved_one).filter(
        send_at__gte=now, status__in=[*OutboundMessage.PENDING, OutboundMessage.Status.SUPPRESSED]
    )
    items = [
        {
            "id": m.pk, "preview": False, "caregiver": m.caregiver_id, "channel": m.channel, "kind": m.kind,
            "status": m.status, "status_reason": m.status_reason, "send_at": m.send_at,
            "appointment": m.appointment_id, "text": message_text_for_staff(m),
        }
        for m in planned.order_by("send_at", "id")
    ]  # fmt: skip
    items += [
        {
            "id": None, "preview": True, "caregiver": p.caregiver.pk, "channel": p.channel, "kind": p.kind,
            "status": "preview", "status_reason": p.status_reason, "send_at": p.send_at,
            "appointment": p.appointment_id, "text": p.text,
        }
        for p in family_preview(loved_one=loved_one, now=now)
    ]  # fmt: skip
    return sorted(items, key=lambda item: (item["send_at"], item["preview"], item["caregiver"], item["channel"]))


def clinic_rule_problems(*, clinic_id: int) -> list[tuple[ReminderRule, str]]:
    """The clinic's active reminder rules that cannot be written, and why: every caregiver of the
    clinic misses those reminders until the rule is fixed, whether or not they were planned since."""
    rules = ReminderRule.objects.filter(clinic_id=clinic_id, active=True).order_by("position")
    return [(rule, problem) for rule in rules if (problem := template_problem(key=rule.template_key))]


# --- The inbox ---------------------------------------------------------------------------------------

INBOX_FILTERS = {
    "": "Needs a reply",
    "mine": "Mine",
    "unassigned": "Nobody has it",
    "crisis": "Crisis",
    "unknown": "Unknown numbers",
    "handled": "Handled",
    "all": "All",
}


def conversations_for_user(*, user: AbstractBaseUser | AnonymousUser, show: str = "") -> QuerySet[Conversation]:
    """The inbox: conversations of the user's clinics, newest first, each with its latest text and
    whether a crisis alert on it is still open or unclosed. `show`: a key of INBOX_FILTERS."""
    rows = Conversation.objects.filter(clinic__in=clinics_for_user(user=user).values("id"))
    latest = InboundMessage.objects.filter(conversation=OuterRef("pk")).order_by("-received_at", "-id")
    unclosed = CrisisAlert.objects.filter(inbound__conversation=OuterRef("pk")).exclude(
        status=CrisisAlert.Status.CLOSED
    )
    rows = rows.annotate(
        latest_text=Subquery(latest.values("body")[:1]),
        latest_action=Subquery(latest.values("action")[:1]),
        crisis=Exists(unclosed),
    ).select_related("clinic", "caregiver", "assigned_to")
    Status = Conversation.Status
    waiting = [Status.OPEN, Status.ASSIGNED]
    if show == "mine":
        rows = rows.filter(assigned_to=user, status__in=waiting)
    elif show == "unassigned":
        rows = rows.filter(status=Status.OPEN)
    elif show == "crisis":
        rows = rows.filter(crisis=True)
    elif show == "unknown":
        rows = rows.filter(caregiver__isnull=True)
    elif show == "handled":
        rows = rows.filter(status=Status.HANDLED)
    elif show != "all":
        rows = rows.filter(status__in=waiting)
    # Newest text first: a reply staff send does not move a conversation above those still waiting.
    return rows.order_by(Coalesce("last_inbound_at", "last_message_at").desc(), "-id")


def inbox_waiting_count(*, user: AbstractBaseUser | AnonymousUser) -> int:
    """Conversations of the user's clinics that still need a reply (open or assigned)."""
    return Conversation.objects.filter(
        clinic__in=clinics_for_user(user=user).values("id"),
        status__in=[Conversation.Status.OPEN, Conversation.Status.ASSIGNED],
    ).count()


def conversation_alerts(*, conversation: Conversation, limit: int = 5) -> QuerySet[CrisisAlert]:
    """The crisis alerts its texts opened, newest first."""
    return CrisisAlert.objects.filter(inbound__conversation=conversation).order_by("-opened_at", "-id")[:limit]


def inbox_pinned_alerts(*, user: AbstractBaseUser | AnonymousUser) -> list[CrisisAlert]:
    """Crisis alerts not yet closed, open ones first: pinned above the inbox until someone closes them."""
    return list(crisis_alerts_for_user(user=user).exclude(status=CrisisAlert.Status.CLOSED)[:20])


# Why a message was held back or cancelled, in a coordinator's words.
REASON_WORDS = {
    "opted_out": "they opted out", "no_consent": "not confirmed yet", "paused": "they paused messages",
    "quiet_hours": "it was due in their quiet hours", "daily_cap": "the day's limit was reached",
    "stale": "too late to be useful", "ride_arranged": "the ride home was arranged",
    "appointment_cancelled": "the appointment was cancelled", "rescheduled": "the appointment moved",
    "superseded": "a newer one replaced it", "family_archived": "the family was archived",
    "undeliverable": "their number or email cannot be reached", "address_changed": "their number or email changed",
    "discretion": "it would have shown the treatment on a lock screen",
}  # fmt: skip


@dataclass(frozen=True)
class ThreadEntry:
    at: datetime
    incoming: bool
    text: str
    channel: str = "sms"
    status: str = ""
    status_label: str = ""
    reason: str = ""
    kind: str = ""
    by: str = ""  # the staff member who wrote a reply
    action: str = ""  # what we did about an incoming text
    crisis: bool = False

    @property
    def reason_text(self) -> str:
        return REASON_WORDS.get(self.reason, self.reason.replace("_", " "))


THREAD_LIMIT = 200


def conversation_thread(*, conversation: Conversation, limit: int = THREAD_LIMIT) -> list[ThreadEntry]:
    """The whole exchange with this person, oldest first (the latest `limit` entries): their texts,
    and everything we sent them (tips, reminders, automatic answers, staff replies), with status.
    What is only planned (a tip for tomorrow) is not shown: the thread is what happened."""
    texts = conversation.texts.order_by("-received_at", "-id")[:limit]
    entries = [
        ThreadEntry(
            at=text.received_at,
            incoming=True,
            text=mask_links(text.body),
            action=text.get_action_display(),
            crisis=text.action == InboundMessage.Action.CRISIS,
        )
        for text in texts
    ]
    if conversation.caregiver_id is not None:
        sent = OutboundMessage.objects.filter(caregiver_id=conversation.caregiver_id).exclude(
            kind=OutboundMessage.Kind.ALERT
        )
    else:
        sent = OutboundMessage.objects.filter(conversation=conversation)
        # What the service answered a number we don't know went back with the webhook's response
        # and is kept on the text itself.
        entries += [
            ThreadEntry(
                at=text.received_at,
                incoming=False,
                text=mask_links(text.reply),
                kind="Automatic answer",
                status="sent",
                status_label="Sent",
            )
            for text in texts
            if text.reply
        ]
    planned = Q(status=OutboundMessage.Status.SCHEDULED) & ~Q(kind=OutboundMessage.Kind.REPLY)
    for message in sent.exclude(planned).select_related("sent_by").order_by("-send_at", "-id")[:limit]:
        entries.append(
            ThreadEntry(
                # A staff reply stands where it was written: replies sent back to back may reach
                # the provider in another order, the thread keeps the writer's.
                at=message.send_at if message.sent_by_id else (message.sent_at or message.send_at),
                incoming=False,
                channel=message.channel,
                text=message_text_for_staff(
                    message, field="body" if message.kind == OutboundMessage.Kind.REPLY else ""
                ),
                status=message.status,
                status_label=message.get_status_display(),
                reason=message.status_reason,
                kind="Automatic answer"
                if message.kind == OutboundMessage.Kind.REPLY and not message.sent_by_id
                else message.get_kind_display(),
                by=(message.sent_by.get_full_name() or message.sent_by.get_username()) if message.sent_by else "",
            )
        )
    entries.sort(key=lambda entry: (entry.at, not entry.incoming))
    return entries[-limit:]
