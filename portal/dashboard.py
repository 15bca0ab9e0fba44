"""Reads for the staff dashboard (/staff/dashboard/ and GET /api/v1/dashboard/): each figure of one
clinic, week by week, aggregated in the database.

Weeks start on Monday at 00:00 in the clinic's time zone, so a week across a DST change is 167 or
169 hours long and still one row. A period is whole weeks: from the Monday of the first day asked
to the end of the Sunday of the last. Every figure is one or two grouped queries over the period's
rows, whatever the clinic has stored; the page and the API make the same queries.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import cached_property
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Avg, Case, Count, DurationField, ExpressionWrapper, F, Max, Q, Value, When
from django.db.models.functions import TruncWeek

from caregiver.models import Appointment, Caregiver, Clinic, ConsentRecord
from caregiver.selectors import clinics_for_user
from messaging.models import CrisisAlert, EmailEvent, InboundMessage, OutboundMessage, TipResponse
from messaging.providers.twilio import CARRIER_FILTERED, INVALID_NUMBER

# Programs commonly watch a weekly opt-out rate above this (the line on the chart).
OPT_OUT_WATCH_PERCENT = 1.5
# Numbers a text will not reach: the send-time refusals, and "unknown handset" from a status callback.
UNREACHABLE_CODES = frozenset({*INVALID_NUMBER, "30005"})
# A tip needs this many answers before its share is ranked with the others (2 of 2 is not 100 %).
TIP_MIN_ANSWERS = 5
RIDE_AHEAD = timedelta(hours=24)

S = OutboundMessage.Status
HELD_BACK = (S.SUPPRESSED, S.CANCELLED)
STILL_TO_GO = (S.SCHEDULED, S.QUEUED, S.SENDING)


@dataclass(frozen=True)
class Period:
    """Whole weeks in a clinic's zone: `first` and `last` are Mondays."""

    first: date
    last: date
    time_zone: str

    @classmethod
    def covering(cls, *, start: date, end: date, time_zone: str) -> Period:
        return cls(
            first=start - timedelta(days=start.weekday()), last=end - timedelta(days=end.weekday()), time_zone=time_zone
        )

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.time_zone)

    @property
    def weeks(self) -> list[date]:
        return [self.first + timedelta(weeks=n) for n in range((self.last - self.first).days // 7 + 1)]

    @property
    def starts(self) -> datetime:
        return datetime.combine(self.first, time.min, tzinfo=self.zone)

    @property
    def ends(self) -> datetime:
        return datetime.combine(self.last + timedelta(days=7), time.min, tzinfo=self.zone)

    @property
    def sunday(self) -> date:
        return self.last + timedelta(days=6)

    def between(self, field_name: str) -> Q:
        return Q(**{f"{field_name}__gte": self.starts, f"{field_name}__lt": self.ends})

    def week(self, field_name: str) -> TruncWeek:
        return TruncWeek(field_name, tzinfo=self.zone)

    def monday(self, value: datetime | date) -> date:
        if isinstance(value, datetime):
            return (value.astimezone(self.zone) if value.tzinfo else value).date()
        return value


@dataclass(frozen=True)
class Column:
    key: str
    label: str
    kind: str = "count"  # count, percent, minutes, week, text


@dataclass
class Figure:
    """One chart's numbers: a row per week (or per tip), in the columns the table and the CSV show."""

    key: str
    title: str
    definition: str
    columns: list[Column]
    rows: list[dict]
    # What the chart draws: (column key, css class) stacked as bars, or one rate as a line.
    bars: list[tuple[str, str]] = field(default_factory=list)
    line: str = ""
    reference: float | None = None
    reference_label: str = ""

    @property
    def labels(self) -> list[str]:
        return [c.label for c in self.columns]

    def cells(self) -> list[list]:
        return [[row.get(c.key) for c in self.columns] for row in self.rows]


def dashboard_clinics(*, user: AbstractBaseUser | AnonymousUser) -> list[Clinic]:
    """The clinics whose dashboard the user may see, by name (one query)."""
    return list(clinics_for_user(user=user).order_by("name", "pk"))


def dashboard_clinic(*, clinics: list[Clinic], raw: str | None) -> Clinic | None:
    """The clinic `?clinic=` names among the user's (the first when not given); None: not one of theirs."""
    if not raw:
        return clinics[0] if clinics else None
    return next((c for c in clinics if str(c.pk) == raw), None)


def _percent(part: int | None, whole: int | None) -> float | None:
    return round(100 * part / whole, 1) if whole else None


def _share(found: dict, *, part: str, whole: str) -> dict:
    """A week's count, the part of it, and the part as a percentage of it."""
    return {
        whole: found.get(whole, 0),
        part: found.get(part, 0),
        "rate": _percent(found.get(part, 0), found.get(whole, 0)),
    }


def _minutes(duration: timedelta | None) -> float | None:
    return round(duration.total_seconds() / 60, 1) if duration is not None else None


WEEK = Column("week", "Week of (Monday)", "week")


class _Reads:
    """The queries, each made at most once per page however many figures use it."""

    def __init__(self, *, clinic: Clinic, period: Period, now: datetime):
        self.clinic, self.period, self.now = clinic, period, now

    def _by_week(self, rows, field_name: str = "week") -> dict[date, dict]:
        return {self.period.monday(row[field_name]): row for row in rows}

    def _table(self, found: dict[date, dict], build: Callable[[dict], dict]) -> list[dict]:
        return [{"week": week, **build(found.get(week, {}))} for week in self.period.weeks]

    @cached_property
    def outbox(self) -> list[dict]:
        """Messages to the clinic's caregivers due in the period, grouped by week, status, reason,
        channel and kind of error (one query)."""
        problem = Case(
            When(error_code=CARRIER_FILTERED, then=Value("filtered")),
            When(error_code__in=UNREACHABLE_CODES, then=Value("unreachable")),
            default=Value(""),
        )
        return list(
            OutboundMessage.objects.filter(self.period.between("send_at"), caregiver__clinic=self.clinic)
            .exclude(kind=OutboundMessage.Kind.ALERT)
            .annotate(week=self.period.week("send_at"), problem=problem)
            .values("week", "status", "status_reason", "channel", "problem")
            .annotate(n=Count("id"))
            .order_by()
        )

    def outbox_weeks(self) -> dict[date, list[dict]]:
        weeks: dict[date, list[dict]] = {}
        for row in self.outbox:
            weeks.setdefault(self.period.monday(row["week"]), []).append(row)
        return weeks

    def outcomes(self) -> Figure:
        weeks = self.outbox_weeks()

        def count(week: date, statuses) -> int:
            return sum(r["n"] for r in weeks.get(week, []) if r["status"] in statuses)

        rows = []
        for week in self.period.weeks:
            row = {
                "week": week,
                "delivered": count(week, (S.DELIVERED,)),
                "sent": count(week, (S.SENT,)),
                "failed": count(week, (S.FAILED, S.UNDELIVERED)),
                "held_back": count(week, HELD_BACK),
                "to_go": count(week, STILL_TO_GO),
            }
            row["total"] = sum(v for k, v in row.items() if k != "week")
            rows.append(row)
        return Figure(
            key="messages",
            title="Messages per week, by outcome",
            definition=(
                "Every message to the clinic's caregivers (tips, reminders, confirmations, notices, replies; not "
                "staff alerts), in the week it was due. Sent: the provider took it and has not reported delivery "
                "(email never does). Failed: failed or undelivered. Held back: not sent, for a reason in the next "
                "chart. Still to go: not yet sent."
            ),
            columns=[
                WEEK,
                Column("delivered", "Delivered"),
                Column("sent", "Sent, no report"),
                Column("failed", "Failed"),
                Column("held_back", "Held back"),
                Column("to_go", "Still to go"),
                Column("total", "All"),
            ],
            rows=rows,
            bars=[
                ("delivered", "s-ok"),
                ("sent", "s-sent"),
                ("failed", "s-bad"),
                ("held_back", "s-held"),
                ("to_go", "s-pending"),
            ],
        )

    def held_back(self) -> Figure:
        weeks = self.outbox_weeks()
        reasons: dict[str, int] = {}
        for row in self.outbox:
            if row["status"] in HELD_BACK:
                reason = row["status_reason"] or row["status"]
                reasons[reason] = reasons.get(reason, 0) + row["n"]
        order = sorted(reasons, key=lambda r: (-reasons[r], r))
        rows = []
        for week in self.period.weeks:
            row: dict = {"week": week, **dict.fromkeys(order, 0)}
            for found in weeks.get(week, []):
                if found["status"] in HELD_BACK:
                    row[found["status_reason"] or found["status"]] += found["n"]
            rows.append(row)
        return Figure(
            key="held-back",
            title="Held back, by reason",
            definition=(
                "Messages that were not sent, in the week they were due, by the reason recorded: opted out, no "
                "consent, paused, quiet hours, the daily cap, too late to be useful (stale), the ride already "
                "arranged, the appointment cancelled or moved, replaced (superseded), the family archived."
            ),
            columns=[WEEK, *(Column(r, r.replace("_", " ").capitalize()) for r in order)],
            rows=rows,
            bars=[(r, f"s{n % 8}") for n, r in enumerate(order)],
        )

    @cached_property
    def messaged(self) -> dict[date, dict]:
        """Distinct caregivers a message went out to, per week (one query)."""
        return self._by_week(
            OutboundMessage.objects.filter(
                self.period.between("send_at"), caregiver__clinic=self.clinic, status__in=OutboundMessage.OUT
            )
            .exclude(kind=OutboundMessage.Kind.ALERT)
            .annotate(week=self.period.week("send_at"))
            .values("week")
            .annotate(caregivers=Count("caregiver", distinct=True))
            .order_by()
        )

    def opt_outs(self) -> Figure:
        found = self._by_week(
            ConsentRecord.objects.filter(
                self.period.between("created_at"), caregiver__clinic=self.clinic, action=ConsentRecord.Action.OPT_OUT
            )
            .annotate(week=self.period.week("created_at"))
            .values("week")
            .annotate(opted_out=Count("caregiver", distinct=True))
            .order_by()
        )
        rows = []
        for week in self.period.weeks:
            messaged = self.messaged.get(week, {}).get("caregivers", 0)
            opted_out = found.get(week, {}).get("opted_out", 0)
            rows.append(
                {"week": week, "messaged": messaged, "opted_out": opted_out, "rate": _percent(opted_out, messaged)}
            )
        return Figure(
            key="opt-outs",
            title="Opt-out rate per week",
            definition=(
                "Caregivers who opted out of at least one channel that week (STOP, an opt-out in other words, the "
                "preferences page or staff), divided by the caregivers a message went out to that week. The line "
                f"marks {OPT_OUT_WATCH_PERCENT} %, a rate many programs watch."
            ),
            columns=[
                WEEK,
                Column("messaged", "Caregivers messaged"),
                Column("opted_out", "Opted out"),
                Column("rate", "Opt-out rate", "percent"),
            ],
            rows=rows,
            line="rate",
            reference=OPT_OUT_WATCH_PERCENT,
            reference_label=f"{OPT_OUT_WATCH_PERCENT} %",
        )

    def confirmations(self) -> Figure:
        opted_in = Q(consent_records__action=ConsentRecord.Action.OPT_IN)
        found = self._by_week(
            Caregiver.objects.filter(self.period.between("created_at"), clinic=self.clinic)
            .annotate(week=self.period.week("created_at"))
            .values("week")
            .annotate(added=Count("id", distinct=True), confirmed=Count("id", filter=opted_in, distinct=True))
            .order_by()
        )
        rows = self._table(found, lambda r: _share(r, part="confirmed", whole="added"))
        return Figure(
            key="confirmations",
            title="New caregivers who confirmed",
            definition=(
                "Caregivers added that week (signed up, or enrolled by staff) who have since confirmed at least one "
                "channel: typed the code, replied YES, clicked the email link, or were opted in by staff. Still-"
                "unconfirmed sign-ups are deleted after 7 days, so the last week's share is still moving."
            ),
            columns=[
                WEEK,
                Column("added", "New caregivers"),
                Column("confirmed", "Confirmed"),
                Column("rate", "Confirmation rate", "percent"),
            ],
            rows=rows,
            line="rate",
        )

    def replies(self) -> Figure:
        found = self._by_week(
            InboundMessage.objects.filter(self.period.between("received_at"), clinic=self.clinic)
            .annotate(week=self.period.week("received_at"))
            .values("week")
            .annotate(
                caregivers=Count("id", filter=Q(caregiver__isnull=False)),
                unknown=Count("id", filter=Q(caregiver__isnull=True)),
            )
            .order_by()
        )
        staff = self._by_week(
            OutboundMessage.objects.filter(
                self.period.between("send_at"),
                clinic=self.clinic,
                kind=OutboundMessage.Kind.REPLY,
                sent_by__isnull=False,
            )
            .annotate(week=self.period.week("send_at"))
            .values("week")
            .annotate(n=Count("id"))
            .order_by()
        )
        rows = [
            {**row, "staff": staff.get(row["week"], {}).get("n", 0)}
            for row in self._table(
                found, lambda r: {"caregivers": r.get("caregivers", 0), "unknown": r.get("unknown", 0)}
            )
        ]
        return Figure(
            key="replies",
            title="Texts in, and staff replies, per week",
            definition=(
                "Texts to the clinic's number from its caregivers and from numbers we don't know (every text, "
                "keywords included), and the replies staff wrote in the inbox."
            ),
            columns=[
                WEEK,
                Column("caregivers", "From caregivers"),
                Column("unknown", "From unknown numbers"),
                Column("staff", "Staff replies"),
            ],
            rows=rows,
            bars=[("caregivers", "s-ok"), ("unknown", "s-sent")],
        )

    def crisis(self) -> Figure:
        waited = ExpressionWrapper(F("acknowledged_at") - F("opened_at"), output_field=DurationField())
        acknowledged = Q(acknowledged_at__isnull=False)
        found = self._by_week(
            CrisisAlert.objects.filter(self.period.between("opened_at"), clinic=self.clinic)
            .annotate(week=self.period.week("opened_at"), waited=waited)
            .values("week")
            .annotate(
                alerts=Count("id"),
                help=Count("id", filter=Q(severity=CrisisAlert.Severity.HELP)),
                acknowledged=Count("id", filter=acknowledged),
                average=Avg("waited", filter=acknowledged),
                longest=Max("waited", filter=acknowledged),
            )
            .order_by()
        )

        def build(r: dict) -> dict:
            alerts, acknowledged_count = r.get("alerts", 0), r.get("acknowledged", 0)
            return {
                "alerts": alerts,
                "help": r.get("help", 0),
                "acknowledged": acknowledged_count,
                "waiting": alerts - acknowledged_count,
                "average_minutes": _minutes(r.get("average")),
                "longest_minutes": _minutes(r.get("longest")),
            }

        return Figure(
            key="crisis",
            title="Crisis alerts and time to acknowledge",
            definition=(
                "Alerts opened that week (a text that may mean danger, or a bare HELP), how many a person has "
                "acknowledged, how many still wait, and the average and longest minutes from the text to the "
                "acknowledgement."
            ),
            columns=[
                WEEK,
                Column("alerts", "Alerts"),
                Column("help", "Of which HELP"),
                Column("acknowledged", "Acknowledged"),
                Column("waiting", "Not acknowledged"),
                Column("average_minutes", "Average minutes to acknowledge", "minutes"),
                Column("longest_minutes", "Longest minutes to acknowledge", "minutes"),
            ],
            rows=self._table(found, build),
            bars=[("acknowledged", "s-ok"), ("waiting", "s-bad")],
        )

    def rides(self) -> Figure:
        ahead = Q(ride_arranged_at__isnull=False, ride_arranged_at__lte=F("starts_at") - RIDE_AHEAD)
        found = self._by_week(
            Appointment.objects.filter(
                self.period.between("starts_at"),
                loved_one__clinic=self.clinic,
                kind__in=Appointment.TREATMENT_KINDS,
                starts_at__lte=self.now + RIDE_AHEAD,  # later ones still have time
            )
            .exclude(status=Appointment.Status.CANCELLED)
            .annotate(week=self.period.week("starts_at"))
            .values("week")
            .annotate(sessions=Count("id"), ahead=Count("id", filter=ahead))
            .order_by()
        )
        rows = self._table(found, lambda r: _share(r, part="ahead", whole="sessions"))
        return Figure(
            key="rides",
            title="Rides home confirmed a day ahead",
            definition=(
                "Treatment sessions (infusion, injection, esketamine, booster; not cancelled) that week whose ride "
                "home was confirmed at least 24 hours before the start, by a caregiver or staff. Sessions more than "
                "a day away are not counted yet."
            ),
            columns=[
                WEEK,
                Column("sessions", "Treatment sessions"),
                Column("ahead", "Ride confirmed 24 h ahead"),
                Column("rate", "Share", "percent"),
            ],
            rows=rows,
            line="rate",
        )

    def deliverability(self) -> Figure:
        weeks = self.outbox_weeks()
        email = self._by_week(
            EmailEvent.objects.filter(self.period.between("occurred_at"), clinic=self.clinic)
            .annotate(week=self.period.week("occurred_at"))
            .values("week")
            .annotate(
                bounced=Count("id", filter=Q(kind=EmailEvent.Kind.BOUNCED)),
                complained=Count("id", filter=Q(kind=EmailEvent.Kind.COMPLAINED)),
                rejected=Count("id", filter=Q(kind=EmailEvent.Kind.REJECTED)),
            )
            .order_by()
        )
        went = (*OutboundMessage.OUT, S.FAILED)
        rows = []
        for week in self.period.weeks:
            found = weeks.get(week, [])
            sms = [r for r in found if r["channel"] == OutboundMessage.Channel.SMS]
            events = email.get(week, {})
            row = {
                "week": week,
                "sms": sum(r["n"] for r in sms if r["status"] in went),
                "filtered": sum(r["n"] for r in sms if r["problem"] == "filtered"),
                "unreachable": sum(r["n"] for r in sms if r["problem"] == "unreachable"),
                "email": sum(
                    r["n"] for r in found if r["channel"] == OutboundMessage.Channel.EMAIL and r["status"] in went
                ),
                "bounced": events.get("bounced", 0),
                "complained": events.get("complained", 0),
                "rejected": events.get("rejected", 0),
            }
            row["sms_rate"] = _percent(row["filtered"] + row["unreachable"], row["sms"])
            rows.append(row)
        return Figure(
            key="deliverability",
            title="Deliverability problems",
            definition=(
                "Texts the provider took or refused that week, and those a carrier filtered as spam (Twilio 30007) "
                "or that could not reach the number (not a valid mobile, a landline, unreachable: 21211, 21408, "
                "21612, 21614, 30005, 30006); emails sent, and the provider's bounces, spam complaints and "
                "refusals (by when they happened)."
            ),
            columns=[
                WEEK,
                Column("sms", "Texts sent"),
                Column("filtered", "Carrier filtered"),
                Column("unreachable", "Invalid or unreachable number"),
                Column("sms_rate", "Texts with a problem", "percent"),
                Column("email", "Emails sent"),
                Column("bounced", "Bounced"),
                Column("complained", "Marked as spam"),
                Column("rejected", "Refused"),
            ],
            rows=rows,
            bars=[
                ("filtered", "s-bad"),
                ("unreachable", "s-held"),
                ("bounced", "s-sent"),
                ("complained", "s5"),
                ("rejected", "s6"),
            ],
        )

    def tips(self) -> Figure:
        answers = list(
            TipResponse.objects.filter(self.period.between("responded_at"), clinic=self.clinic)
            .values("tip_id", "tip__slug", "tip__title")
            .annotate(
                helpful=Count("id", filter=Q(value=TipResponse.Value.HELPFUL)),
                not_for_me=Count("id", filter=Q(value=TipResponse.Value.NOT_FOR_ME)),
            )
            .order_by()
        )
        sent = dict(
            OutboundMessage.objects.filter(
                self.period.between("send_at"),
                caregiver__clinic=self.clinic,
                kind=OutboundMessage.Kind.TIP,
                status__in=OutboundMessage.OUT,
                tip_id__in=[a["tip_id"] for a in answers],
            )
            .values("tip_id")
            .annotate(n=Count("id"))
            .order_by()
            .values_list("tip_id", "n")
        )
        rows = []
        for a in answers:
            answered = a["helpful"] + a["not_for_me"]
            rows.append(
                {
                    "tip": a["tip__title"],
                    "slug": a["tip__slug"],
                    "sent": sent.get(a["tip_id"], 0),
                    "answers": answered,
                    "helpful": a["helpful"],
                    "not_for_me": a["not_for_me"],
                    "helpful_rate": _percent(a["helpful"], answered),
                }
            )
        rows.sort(key=lambda r: (r["answers"] < TIP_MIN_ANSWERS, -(r["helpful_rate"] or 0), -r["answers"], r["slug"]))
        for rank, row in enumerate(rows, start=1):
            row["rank"] = rank
        return Figure(
            key="tips",
            title="Tips ranked by “Was this helpful?”",
            definition=(
                "Answers given in the period to “Was this helpful?”, per tip: the share that said helpful. Tips "
                f"with fewer than {TIP_MIN_ANSWERS} answers come after the others, whatever their share. Sent: "
                "that tip's messages that went out in the period."
            ),
            columns=[
                Column("rank", "Rank"),
                Column("tip", "Tip", "text"),
                Column("slug", "Slug", "text"),
                Column("sent", "Sent"),
                Column("answers", "Answers"),
                Column("helpful", "Helpful"),
                Column("not_for_me", "Not for me"),
                Column("helpful_rate", "Helpful share", "percent"),
            ],
            rows=rows,
        )


FIGURES: dict[str, Callable[[_Reads], Figure]] = {
    "messages": _Reads.outcomes,
    "held-back": _Reads.held_back,
    "opt-outs": _Reads.opt_outs,
    "confirmations": _Reads.confirmations,
    "replies": _Reads.replies,
    "crisis": _Reads.crisis,
    "rides": _Reads.rides,
    "deliverability": _Reads.deliverability,
    "tips": _Reads.tips,
}


def dashboard_figures(*, clinic: Clinic, period: Period, now: datetime, only: str | None = None) -> dict[str, Figure]:
    """Every figure of the dashboard (or only the one named), in page order. About a dozen queries
    for all of them, whatever the size of the clinic or the period."""
    reads = _Reads(clinic=clinic, period=period, now=now)
    names = [only] if only else list(FIGURES)
    return {name: FIGURES[name](reads) for name in names}
