"""Time and delivery: the outbox, the reminder rules, and every inbound text.

The database is the source of truth for every message we will ever send. Celery only executes:
a beat job claims what is due from this table; nothing about the future lives in the broker.
"""

from __future__ import annotations

from datetime import time

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, transaction
from django.db.models import Q
from django.utils import timezone

from caregiver.models import Appointment, Caregiver, Clinic, plan_mark
from content.models import Tip


class ReminderRule(models.Model):
    """When to remind caregivers of an appointment, in RapidPro's terms: an offset from an anchor.

    `offset_amount` `offset_unit` from the appointment's start, end or expected pick-up, optionally
    moved to a fixed local time on that day ("18:00 the evening before" = start, -1 day, 18:00).
    Evaluated in each caregiver's own time zone, so 18:00 stays 18:00 across DST.
    """

    class Anchor(models.TextChoices):
        START = "start", "Appointment start"
        END = "end", "Appointment end"
        PICKUP = "pickup", "Expected pick-up (end + observation)"
        HOME = "home", "Likely home (pick-up + the clinic's travel time)"

    class Unit(models.TextChoices):
        MINUTES = "minutes", "minutes"
        HOURS = "hours", "hours"
        DAYS = "days", "days"

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="reminder_rules")
    key = models.SlugField(max_length=40)
    name = models.CharField(max_length=100)
    anchor = models.CharField(max_length=6, choices=Anchor.choices, default=Anchor.START)
    offset_amount = models.IntegerField(help_text="Negative: before the anchor; positive: after.")
    offset_unit = models.CharField(max_length=7, choices=Unit.choices, default=Unit.HOURS)
    local_time = models.TimeField(null=True, blank=True, help_text="Send at this local time on that day.")
    appointment_kinds = models.JSONField(default=list, help_text='e.g. ["infusion", "booster"]')
    template_key = models.SlugField(max_length=60, help_text="A message template in content/library.")
    stale_after_minutes = models.PositiveIntegerField(
        default=240, help_text="Past send time plus this, the reminder is dropped, not sent late."
    )
    skip_if_ride_arranged = models.BooleanField(default=False)
    position = models.PositiveSmallIntegerField(default=0, help_text="Lower keeps its place under the daily cap.")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["clinic", "position", "key"]
        constraints = [models.UniqueConstraint(fields=["clinic", "key"], name="unique_rule_per_clinic")]

    def __str__(self) -> str:
        return f"{self.name} ({self.clinic})"

    def save(self, *args, **kwargs) -> None:
        with transaction.atomic():
            super().save(*args, **kwargs)
            plan_mark(Caregiver.objects.filter(clinic_id=self.clinic_id))

    def delete(self, *args, **kwargs):
        with transaction.atomic():
            plan_mark(Caregiver.objects.filter(clinic_id=self.clinic_id))
            return super().delete(*args, **kwargs)

    def clean(self) -> None:
        # A key with no template, or one that needs words a reminder cannot give (a sign-up code),
        # would make every reminder of this rule fail to render: refuse it here, in words.
        if not self.template_key:
            return
        from .rendering import template_problem  # rendering imports this module

        problem = template_problem(key=self.template_key)
        if problem:
            raise ValidationError({"template_key": problem})


# The defaults every clinic starts with, from the sources: ride home, the evening before, the
# evening after, a check-in the next morning.
DEFAULT_RULES = [
    {
        "key": "ride-two-days-before", "name": "Two days before: arrange the ride home",
        "anchor": "start", "offset_amount": -2, "offset_unit": "days", "local_time": time(12, 0),
        # Booked less than two days ahead, the family is still asked, at once, until the session.
        "template_key": "reminder-ride", "skip_if_ride_arranged": True, "position": 0, "stale_after_minutes": 2880,
    },
    {
        "key": "evening-before", "name": "The evening before: time and pick-up",
        "anchor": "start", "offset_amount": -1, "offset_unit": "days", "local_time": time(18, 0),
        "template_key": "reminder-evening-before", "position": 1, "stale_after_minutes": 150,
    },
    {
        "key": "expected-end", "name": "When they are likely home: what the rest of the day may bring",
        "anchor": "home", "offset_amount": 0, "offset_unit": "minutes", "local_time": None,
        "template_key": "reminder-expected-end", "position": 2, "stale_after_minutes": 180,
    },
    {
        "key": "next-morning", "name": "The next morning: a check-in idea",
        "anchor": "start", "offset_amount": 1, "offset_unit": "days", "local_time": time(9, 0),
        "template_key": "reminder-next-morning", "position": 3, "stale_after_minutes": 240,
    },
]  # fmt: skip
TREATMENT_KINDS = [kind.value for kind in Appointment.TREATMENT_KINDS]


class OutboundMessage(models.Model):
    """One message to one address on one channel, planned, sent at most once.

    Lifecycle (one function in messaging/ owns each arrow; callbacks only move forward):

        scheduled ─claim─▶ queued ─lock─▶ sending ─provider accepted─▶ sent ─callback─▶ delivered
            ▲                 │              │                              ├─callback─▶ undelivered
            │                 │              │                              └─callback─▶ failed
            └─transient or unforeseen error ─┤   (backoff; retried, the attempt counted)
                                             ├─permanent error, or any error at SEND_MAX_ATTEMPTS─▶ failed
                                             └─lease expired at SEND_MAX_ATTEMPTS (worker lost)─▶ failed
        scheduled/queued ─▶ cancelled   (appointment moved or cancelled, caregiver paused or changed)
        scheduled/queued/sending ─▶ suppressed, with `status_reason`: opted_out, no_consent, paused,
                                    quiet_hours, daily_cap, stale, ride_arranged, appointment_cancelled,
                                    superseded (a sign-up code or invitation replaced, expired or confirmed),
                                    family_archived (staff archived the family: a course ended, a bereavement)

    A lease (`lease_expires_at`) marks a queued or sending row as taken; a worker that dies leaves
    an expired lease, and the dispatcher puts the row back (reconciling with the provider first
    when a request may already have reached it: `needs_reconcile`).
    """

    class Channel(models.TextChoices):
        SMS = "sms", "SMS"
        EMAIL = "email", "Email"

    class Kind(models.TextChoices):
        TIP = "tip", "Tip"
        REMINDER = "reminder", "Reminder"
        CONFIRMATION = "confirmation", "Confirmation"
        REPLY = "reply", "Reply"
        ALERT = "alert", "Staff alert"
        NOTICE = "notice", "Notice"  # an appointment moved or cancelled, who is driving

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        QUEUED = "queued", "Queued"
        SENDING = "sending", "Sending"
        SENT = "sent", "Sent"
        DELIVERED = "delivered", "Delivered"
        UNDELIVERED = "undelivered", "Undelivered"
        FAILED = "failed", "Failed"
        CANCELLED = "cancelled", "Cancelled"
        SUPPRESSED = "suppressed", "Suppressed"

    PENDING = (Status.SCHEDULED, Status.QUEUED)
    IN_FLIGHT = (Status.QUEUED, Status.SENDING)
    # Statuses that count as "went out" for daily caps and tip rotation.
    OUT = (Status.SENDING, Status.SENT, Status.DELIVERED, Status.UNDELIVERED)
    # Provider callbacks may arrive in any order; a status never moves to a lower rank.
    RANK = {Status.SENT: 1, Status.DELIVERED: 2, Status.UNDELIVERED: 2, Status.FAILED: 2}
    # Messages the daily cap applies to; replies, confirmations and alerts always go.
    CAPPED_KINDS = (Kind.TIP, Kind.REMINDER)
    # Messages that wait for the caregiver's allowed hours; the rest answer something just done.
    TIMED_KINDS = (Kind.TIP, Kind.REMINDER, Kind.NOTICE)

    # Alerts to clinic staff name their clinic, and a caregiver when the alert is about one (a crisis
    # text from an unknown number is about nobody we know).
    caregiver = models.ForeignKey(Caregiver, null=True, blank=True, on_delete=models.PROTECT, related_name="messages")
    clinic = models.ForeignKey(Clinic, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    crisis_alert = models.ForeignKey(
        "CrisisAlert", null=True, blank=True, on_delete=models.PROTECT, related_name="notifications"
    )
    # A reply a staff member wrote in the inbox: the conversation it answers and who wrote it. A
    # reply to a number we don't know has no caregiver, only its conversation (and clinic).
    conversation = models.ForeignKey(
        "Conversation", null=True, blank=True, on_delete=models.PROTECT, related_name="replies"
    )
    sent_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=5, choices=Channel.choices)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    to = models.CharField(max_length=254, blank=True, help_text="Address used; for caregivers, filled at send time.")
    body = models.TextField(help_text="SMS text, or the email's plain-text part.")
    subject = models.CharField(max_length=200, blank=True)
    html = models.TextField(blank=True)
    tip = models.ForeignKey(Tip, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    appointment = models.ForeignKey(
        Appointment, null=True, blank=True, on_delete=models.SET_NULL, related_name="messages"
    )
    rule = models.ForeignKey(ReminderRule, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    dedupe_key = models.CharField(max_length=200, unique=True)
    plan_digest = models.CharField(
        max_length=32, blank=True, help_text="What the planner rendered this row from: unchanged inputs, no rewrite."
    )
    send_at = models.DateTimeField()
    not_after = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.SCHEDULED)
    status_reason = models.CharField(max_length=40, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    lease_expires_at = models.DateTimeField(null=True, blank=True)
    needs_reconcile = models.BooleanField(default=False)
    attempt_started_at = models.DateTimeField(null=True, blank=True)
    provider_id = models.CharField(max_length=200, blank=True, db_index=True)
    last_error = models.TextField(blank=True)
    error_code = models.CharField(max_length=20, blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["send_at", "id"]
        indexes = [
            # The dispatcher's only question: what is due? Small, because sent rows leave it.
            models.Index(fields=["send_at"], condition=Q(status="scheduled"), name="outbox_due"),
            models.Index(
                fields=["lease_expires_at"], condition=Q(status__in=["queued", "sending"]), name="outbox_leased"
            ),
            models.Index(fields=["caregiver", "send_at"], name="outbox_caregiver_time"),
            # The dashboard's weeks: a range of send times, so its cost follows the range asked for,
            # not the size of the whole outbox.
            models.Index(fields=["send_at"], name="outbox_send_at"),
            models.Index(fields=["appointment", "status"], name="outbox_appointment"),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(caregiver__isnull=False)
                | Q(kind="alert", clinic__isnull=False)
                | Q(kind="reply", clinic__isnull=False, conversation__isnull=False),
                name="outbox_to_a_caregiver_a_clinic_alert_or_a_conversation",
            ),
        ]

    def __str__(self) -> str:
        when = f"{self.send_at:%Y-%m-%d %H:%M}"
        return f"{self.get_kind_display()} {self.channel} to {self.caregiver or self.to} at {when} ({self.status})"

    def reminder_problem(self) -> str:
        """Why this reminder no longer fits its appointment ('' when it does, or it is no reminder).

        The one definition, used by the plan sync (why it cancels a row) and at send time."""
        if self.kind != self.Kind.REMINDER:
            return ""
        appointment = self.appointment
        if appointment is None or appointment.status == Appointment.Status.CANCELLED:
            return "appointment_cancelled"
        if not self.dedupe_key.endswith(f":{int(appointment.starts_at.timestamp())}"):
            return "rescheduled"
        if self.rule is not None and self.rule.skip_if_ride_arranged and appointment.ride_arranged:
            return "ride_arranged"
        return ""

    @property
    def fixed_address(self) -> bool:
        """`to` was set when the row was made and is sent to as it is: an alert to clinic staff, or a
        staff reply to a number we don't know. Every other row goes to the caregiver's address at
        send time (a number changed meanwhile is not texted the old one's words)."""
        return self.kind == self.Kind.ALERT or self.caregiver_id is None

    @property
    def sender_clinic(self) -> Clinic:
        """The clinic whose number and rate an SMS goes out with."""
        return self.clinic if self.clinic_id else self.caregiver.clinic


class Conversation(models.Model):
    """One person's texts with one clinic, for staff to read and answer: a row of the inbox.

        open ─assign─▶ assigned ─handle─▶ handled
          └──────────────handle──────────────▶ handled
        handled ─a new text that needs a person─▶ open        (assigned keeps its assignee)
        handled ─reopen─▶ open

    One per caregiver and clinic, or, for a number we don't know, one per number and clinic. Texts
    the service answered in full (STOP, YES, RIDE, PREFS…) join the thread but need nobody; any
    other text, a crisis and a possible opt-out open it (messaging/inbox.py). `last_message_at`
    orders the inbox, newest first.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ASSIGNED = "assigned", "Assigned"
        HANDLED = "handled", "Handled"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="conversations")
    # A sign-up nobody confirmed is deleted with its conversation (its texts stay, unthreaded).
    caregiver = models.ForeignKey(
        Caregiver, null=True, blank=True, on_delete=models.CASCADE, related_name="conversations"
    )
    phone = models.CharField(max_length=20, blank=True, help_text="The number that last texted.")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.HANDLED)
    assigned_to = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="conversations"
    )
    last_message_at = models.DateTimeField(db_index=True)
    last_inbound_at = models.DateTimeField(null=True, blank=True)
    handled_at = models.DateTimeField(null=True, blank=True)
    handled_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-last_message_at", "-id"]
        indexes = [models.Index(fields=["clinic", "status", "-last_message_at"], name="inbox_clinic_status")]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=["open", "assigned", "handled"]), name="inbox_status"),
            models.CheckConstraint(
                condition=~Q(status="assigned") | Q(assigned_to__isnull=False), name="inbox_assigned_to_someone"
            ),
            models.CheckConstraint(
                condition=Q(caregiver__isnull=False) | ~Q(phone=""), name="inbox_a_caregiver_or_a_number"
            ),
            models.UniqueConstraint(
                fields=["clinic", "caregiver"], condition=Q(caregiver__isnull=False), name="inbox_one_per_caregiver"
            ),
            models.UniqueConstraint(
                fields=["clinic", "phone"], condition=Q(caregiver__isnull=True), name="inbox_one_per_unknown_number"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.caregiver or self.phone} at {self.clinic} ({self.get_status_display()})"


class SavedReply(models.Model):
    """A reply a clinic's staff send often, ready to insert and edit before sending."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="saved_replies")
    title = models.CharField(max_length=60)
    body = models.TextField(max_length=640)
    position = models.PositiveSmallIntegerField(default=0)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["clinic", "position", "title", "id"]
        verbose_name_plural = "saved replies"
        constraints = [models.UniqueConstraint(fields=["clinic", "title"], name="saved_reply_title_per_clinic")]

    def __str__(self) -> str:
        return self.title


class TipResponse(models.Model):
    """A caregiver's answer to "Was this helpful?" about one tip they got: one per message, the
    latest answer kept (a second click or reply changes it)."""

    class Value(models.TextChoices):
        HELPFUL = "helpful", "Helpful"
        NOT_FOR_ME = "not_for_me", "Not for me"

    message = models.OneToOneField(OutboundMessage, on_delete=models.CASCADE, related_name="tip_response")
    tip = models.ForeignKey(Tip, on_delete=models.CASCADE, related_name="responses")
    caregiver = models.ForeignKey(Caregiver, on_delete=models.CASCADE, related_name="tip_responses")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="tip_responses")
    value = models.CharField(max_length=10, choices=Value.choices)
    channel = models.CharField(max_length=5, choices=OutboundMessage.Channel.choices)
    responded_at = models.DateTimeField()

    class Meta:
        ordering = ["-responded_at", "-id"]
        indexes = [models.Index(fields=["clinic", "responded_at"], name="tip_response_clinic_time")]
        constraints = [
            models.CheckConstraint(condition=Q(value__in=["helpful", "not_for_me"]), name="tip_response_value")
        ]

    def __str__(self) -> str:
        return f"{self.get_value_display()}: {self.tip} ({self.caregiver})"


class EmailEvent(models.Model):
    """What the email provider told us about an address (django-anymail's tracking webhook): a
    hard bounce or a spam complaint blocks the address until the caregiver's email changes.
    `event_id` is the provider's, so a webhook delivered twice records one event."""

    class Kind(models.TextChoices):
        BOUNCED = "bounced", "Bounced"
        COMPLAINED = "complained", "Marked as spam"
        REJECTED = "rejected", "Refused by the provider"

    event_id = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=12, choices=Kind.choices)
    caregiver = models.ForeignKey(
        Caregiver, null=True, blank=True, on_delete=models.SET_NULL, related_name="email_events"
    )
    clinic = models.ForeignKey(Clinic, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    message = models.ForeignKey(OutboundMessage, null=True, blank=True, on_delete=models.SET_NULL, related_name="+")
    description = models.CharField(max_length=200, blank=True)
    occurred_at = models.DateTimeField()
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        indexes = [models.Index(fields=["clinic", "occurred_at"], name="email_event_clinic_time")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} at {self.occurred_at:%Y-%m-%d %H:%M}"


class InboundMessage(models.Model):
    """Every text a caregiver (or anyone) sent us, with what we did about it.

    Every text gets a safe answer: a keyword its reply, danger the crisis reply (911 first for a
    medical emergency) and a CrisisAlert, and anything else at least the auto-reply (not watched
    24/7, the clinic's phone, 988 and 911), once per sender per clinic's `auto_reply_hours`.
    """

    class Action(models.TextChoices):
        OPT_OUT = "opt_out", "Opted out"
        OPT_IN = "opt_in", "Opted in (YES or START)"
        HELP = "help", "Sent help (clinic phone, 988, 911)"
        PREFERENCES = "preferences", "Preferences: link sent, or safety texts on or off"
        RIDE = "ride", "Marked ride arranged"
        RIDE_NOT_FOUND = "ride_not_found", "RIDE, but no upcoming appointment"
        CRISIS = "crisis", "Crisis resources sent, staff alerted"
        REVIEW = "review", "May be an opt-out: for staff to read"
        STORED = "stored", "Kept for clinic staff"
        UNKNOWN_SENDER = "unknown_sender", "From a number we do not know"
        TIP_RESPONSE = "tip_response", "Answered “Was this helpful?”"

    message_sid = models.CharField(max_length=64, unique=True)
    from_number = models.CharField(max_length=20)
    to_number = models.CharField(max_length=20)
    body = models.TextField()
    clinic = models.ForeignKey(Clinic, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound")
    caregiver = models.ForeignKey(Caregiver, null=True, blank=True, on_delete=models.SET_NULL, related_name="inbound")
    action = models.CharField(max_length=16, choices=Action.choices)
    reading = models.CharField(max_length=40, blank=True, help_text="The reading rule that matched, if any.")
    reply = models.TextField(blank=True)
    auto_replied = models.BooleanField(default=False, help_text="The reply was the once-a-day auto-reply.")
    conversation = models.ForeignKey(
        Conversation, null=True, blank=True, on_delete=models.SET_NULL, related_name="texts"
    )
    # The moment the webhook took it: the same `now` as the answer it got, so a thread shows the
    # text before its answer.
    received_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        indexes = [models.Index(fields=["from_number", "received_at"], name="inbound_sender_time")]

    def __str__(self) -> str:
        return f"From {self.from_number}: {self.body[:40]} ({self.action})"


class CrisisAlert(models.Model):
    """A text that may mean someone is in danger, until a person has dealt with it.

        open ─acknowledge─▶ acknowledged ─close (with a note)─▶ closed
          └─────────────────close (with a note)───────────────▶ closed

    While open it escalates (messaging/alerts.py): at `level` 0 the clinic's first on-call contact is
    told at once; each CRISIS_ACK_MINUTES without an acknowledgement tells the next, and after the
    last, everyone (every on-call contact, the clinic's staff and its contact address). One alert per
    inbound text, so a repeated delivery of the text makes no second alert.

    A bare HELP (the keyword every message offers) opens a `help` alert: the texter gets the HELP
    reply (the clinic's phone, 988 and 911) at once, and the clinic's staff an email; it waits in
    the alerts list to be acknowledged like any other, but pages nobody and does not escalate.
    """

    class Status(models.TextChoices):
        OPEN = "open", "Open"
        ACKNOWLEDGED = "acknowledged", "Acknowledged"
        CLOSED = "closed", "Closed"

    class Severity(models.TextChoices):
        EMERGENCY = "emergency", "Medical emergency"
        DANGER = "danger", "Danger"
        HELP = "help", "Asked for help"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="crisis_alerts")
    caregiver = models.ForeignKey(
        Caregiver, null=True, blank=True, on_delete=models.SET_NULL, related_name="crisis_alerts"
    )
    inbound = models.OneToOneField(InboundMessage, on_delete=models.PROTECT, related_name="crisis_alert")
    severity = models.CharField(max_length=10, choices=Severity.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.OPEN)
    level = models.PositiveSmallIntegerField(default=0, help_text="How far the alert has escalated.")
    next_escalation_at = models.DateTimeField(null=True, blank=True)
    opened_at = models.DateTimeField()
    acknowledged_at = models.DateTimeField(null=True, blank=True)
    acknowledged_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    acknowledged_by_name = models.CharField(max_length=150, blank=True)
    closed_at = models.DateTimeField(null=True, blank=True)
    closed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    close_note = models.TextField(blank=True)

    class Meta:
        ordering = ["-opened_at", "-id"]
        indexes = [
            # The escalation tick's only question: which open alerts are due a next step?
            models.Index(fields=["next_escalation_at"], condition=Q(status="open"), name="crisis_escalation_due"),
            models.Index(fields=["clinic", "status"], name="crisis_clinic_status"),
        ]
        constraints = [
            models.CheckConstraint(condition=Q(status__in=["open", "acknowledged", "closed"]), name="crisis_status"),
            models.CheckConstraint(
                condition=Q(status="open") | Q(acknowledged_at__isnull=False, next_escalation_at__isnull=True),
                name="crisis_acknowledged_stops_escalating",
            ),
            models.CheckConstraint(
                condition=~Q(status="closed") | (Q(closed_at__isnull=False) & ~Q(close_note="")),
                name="crisis_closed_with_a_note",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_severity_display()} alert at {self.clinic} ({self.get_status_display()})"


class ProviderHealth(models.Model):
    """What a provider told us about our account, one row per channel, for /healthz and the log.

    `failing_since` is set when the provider refuses our credentials or account (Twilio 401,
    20003, a suspended account): every message would fail, so they are retried, not dropped, and an
    operator must act. It is cleared by the next message the provider accepts. `filtered` counts
    messages carriers filtered as spam (Twilio 30007), which only a change of wording or sender fixes.
    """

    channel = models.CharField(max_length=5, primary_key=True)
    failing_since = models.DateTimeField(null=True, blank=True)
    code = models.CharField(max_length=20, blank=True)
    detail = models.CharField(max_length=300, blank=True)
    filtered = models.PositiveIntegerField(default=0)
    filtered_last_at = models.DateTimeField(null=True, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "provider health"

    def __str__(self) -> str:
        return f"{self.channel}: {'failing since ' + str(self.failing_since) if self.failing_since else 'ok'}"
