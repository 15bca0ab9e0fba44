"""Ten weeks of past activity at the demo clinic, for the staff dashboard (`make run` runs it after
seed_demo): families whose course has ended, their messages and what became of them, a few
opt-outs, texts in, an acknowledged crisis alert, rides home, email bounces and tip answers.

The families are archived (course ended), so nothing more is planned or sent for them. Safe to run
again: it does nothing once the history is there.
"""

from __future__ import annotations

import os
from datetime import timedelta

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from django.utils import timezone

from caregiver.management.commands.seed_demo import DEMO_SLUG
from caregiver.models import Appointment, Caregiver, CareLink, Clinic, ConsentRecord, LovedOne
from content.models import Tip
from messaging.inbound import inbound_receive
from messaging.models import CrisisAlert, EmailEvent, InboundMessage, OutboundMessage, SavedReply, TipResponse

PREFIX = "demo-history:"
NAMES = ["Avery", "Blake", "Cameron", "Devon", "Emerson", "Finley", "Harper", "Jesse", "Kendall", "Logan"]
WEEKS = 10
# What became of each message, in turn: mostly delivered, some held back or failed.
OUTCOMES = [("delivered", "", "")] * 9 + [
    ("suppressed", "quiet_hours", ""),
    ("sent", "", ""),
    ("delivered", "", ""),
    ("failed", "", "30007"),
    ("suppressed", "daily_cap", ""),
    ("delivered", "", ""),
    ("cancelled", "appointment_cancelled", ""),
    ("undelivered", "", "30006"),
    ("suppressed", "stale", ""),
]


class Command(BaseCommand):
    help = "Add ten weeks of past messages, replies, opt-outs, an alert and rides to the demo clinic (once)."

    def handle(self, *args, **options) -> None:
        module = os.environ.get("DJANGO_SETTINGS_MODULE", "")
        if not settings.DEBUG and not module.endswith((".local", ".test")):
            raise CommandError("seed_demo_history makes made-up families; it only runs in local settings.")
        clinic = Clinic.objects.filter(slug=DEMO_SLUG).first()
        if clinic is None:
            raise CommandError("Run seed_demo first: there is no demo clinic.")
        if OutboundMessage.objects.filter(dedupe_key__startswith=PREFIX).exists():
            self.stdout.write("Demo history already there.")
            return
        with transaction.atomic():
            count = self._history(clinic, now=timezone.now())
        self.stdout.write(self.style.SUCCESS(f"Demo history: {count} past messages for the dashboard."))
        self._inbox(clinic)

    def _inbox(self, clinic: Clinic) -> None:
        """Two texts waiting in the inbox (one from a number we don't know), and saved replies:
        received as the webhook receives them, so they are answered and threaded like any other."""
        for title, body in (
            ("We'll call you", "Thanks for your message. Someone from the clinic will call you today."),
            ("Ride home", "Please plan for someone to drive them home: no driving for the rest of the day."),
        ):
            SavedReply.objects.get_or_create(clinic=clinic, title=title, defaults={"body": body})
        texter = (
            Caregiver.objects.filter(clinic=clinic, status=Caregiver.Status.ACTIVE)
            .exclude(phone="")
            .order_by("pk")
            .first()
        )
        texts = [("+12025550166", "hi is this the clinic? my sister goes there, can i come with her next time")]
        if texter is not None:
            texts.insert(0, (texter.phone, "hey what time should we get there thurs? and can i wait inside w her"))
        for n, (sender, body) in enumerate(texts):
            inbound_receive(
                message_sid=f"SMdemoinbox{n:04d}", from_number=sender, to_number=clinic.twilio_from_number, body=body
            )

    def _history(self, clinic: Clinic, *, now) -> int:
        start = now - timedelta(weeks=WEEKS)
        tips = list(Tip.objects.filter(active=True).order_by("slug")[:12])
        families, people = [], []
        for n, name in enumerate(NAMES):
            family = LovedOne.objects.create(
                clinic=clinic, first_name=name, archived_at=now, archived_reason=LovedOne.ArchiveReason.COURSE_ENDED
            )
            person = Caregiver.objects.create(
                clinic=clinic,
                name=f"{name}'s partner",
                phone=f"+1202555{7100 + n:04d}",
                time_zone=clinic.time_zone,
                status=Caregiver.Status.ARCHIVED,
            )
            CareLink.objects.create(caregiver=person, loved_one=family, relationship=CareLink.Relationship.PARTNER)
            joined = start + timedelta(days=n * 6)
            Caregiver.objects.filter(pk=person.pk).update(created_at=joined, plan_dirty=False)
            if n % 4 != 3:  # most confirmed within the hour
                record = ConsentRecord.objects.create(caregiver=person, channel="sms", action="opt_in", source="web")
                ConsentRecord.objects.filter(pk=record.pk).update(created_at=joined + timedelta(minutes=20))
            families.append(family)
            people.append((person, joined))
        messages = []
        for n, (person, joined) in enumerate(people):
            day, index = joined + timedelta(days=1), 0
            while day < now - timedelta(days=1):
                status, reason, code = OUTCOMES[(n * 7 + index) % len(OUTCOMES)]
                tip = tips[(n + index) % len(tips)] if index % 2 == 0 and tips else None
                messages.append(
                    OutboundMessage(
                        caregiver=person,
                        channel="sms",
                        kind="tip" if tip else "reminder",
                        tip=tip,
                        body="Alongside: a past message (demo)",
                        dedupe_key=f"{PREFIX}{n}:{index}",
                        send_at=day,
                        status=status,
                        status_reason=reason,
                        error_code=code,
                        sent_at=day if status in ("sent", "delivered", "undelivered") else None,
                        delivered_at=day + timedelta(seconds=4) if status == "delivered" else None,
                    )
                )
                day, index = day + timedelta(days=2), index + 1
        OutboundMessage.objects.bulk_create(messages)
        sent_tips = [m for m in messages if m.tip_id and m.status == "delivered"]
        TipResponse.objects.bulk_create(
            TipResponse(
                message=m,
                tip_id=m.tip_id,
                caregiver=m.caregiver,
                clinic=clinic,
                channel="sms",
                value="not_for_me" if (m.tip_id + n) % 4 == 0 else "helpful",
                responded_at=m.send_at + timedelta(hours=2),
            )
            for n, m in enumerate(sent_tips[::2])
        )
        for n, (person, joined) in enumerate(people):
            text = InboundMessage.objects.create(
                message_sid=f"SMdemohistory{n:04d}",
                from_number=person.phone,
                to_number=clinic.twilio_from_number,
                body="Thank you, this helps." if n % 3 else "RIDE",
                clinic=clinic,
                caregiver=person,
                action=InboundMessage.Action.STORED if n % 3 else InboundMessage.Action.RIDE,
            )
            InboundMessage.objects.filter(pk=text.pk).update(received_at=joined + timedelta(days=3, hours=n))
            if n in (2, 7):  # two opt-outs
                record = ConsentRecord.objects.create(caregiver=person, channel="sms", action="opt_out", source="sms")
                ConsentRecord.objects.filter(pk=record.pk).update(created_at=joined + timedelta(days=12))
        person, joined = people[4]
        opened = joined + timedelta(days=5, hours=22)
        crisis_text = InboundMessage.objects.create(
            message_sid="SMdemohistorycrisis",
            from_number=person.phone,
            to_number=clinic.twilio_from_number,
            body="(a worrying text, demo)",
            clinic=clinic,
            caregiver=person,
            action=InboundMessage.Action.CRISIS,
        )
        InboundMessage.objects.filter(pk=crisis_text.pk).update(received_at=opened)
        CrisisAlert.objects.create(
            clinic=clinic,
            caregiver=person,
            inbound=crisis_text,
            severity=CrisisAlert.Severity.DANGER,
            status=CrisisAlert.Status.CLOSED,
            opened_at=opened,
            acknowledged_at=opened + timedelta(minutes=6),
            acknowledged_by_name="Dana (on call)",
            closed_at=opened + timedelta(hours=1),
            close_note="Called the caregiver; the patient is safe with family tonight. (demo)",
        )
        for n, family in enumerate(families):
            for session in range(3):
                starts = people[n][1] + timedelta(days=4 + session * 7, hours=14)
                if starts > now:
                    continue
                ahead = (n + session) % 3
                Appointment.objects.bulk_create(
                    [
                        Appointment(
                            loved_one=family,
                            starts_at=starts,
                            kind=Appointment.Kind.INFUSION,
                            status=Appointment.Status.COMPLETED,
                            ride_arranged_at=starts - timedelta(hours=(48, 30, 5)[ahead]) if session or n % 2 else None,
                        )
                    ]
                )
        EmailEvent.objects.bulk_create(
            EmailEvent(event_id=f"demo-history-{n}", kind=kind, clinic=clinic, occurred_at=start + timedelta(days=days))
            for n, (kind, days) in enumerate((("bounced", 20), ("complained", 45), ("bounced", 61)))
        )
        return len(messages)
