"""Planning: what each caregiver should get, reconciled with the outbox one caregiver at a time.

`caregiver_plan_sync` is the only writer of planned rows (reminders and tips). It locks the
caregiver, computes the rows they should have up to the horizon as plain data
(`desired_messages`, from timing.py), applies the daily cap once over those and what is already
going or gone (`cap_apply`: reminders first, then tips), and diffs the result against the stored
rows by dedupe key: it creates what is missing, rewrites unsent rows whose inputs changed, cancels
unsent rows no longer wanted, and leaves everything else as it was.

Who is synced: a change marks the caregiver (`Caregiver.plan_dirty`, set in the change's own
transaction by the models' save(), see caregiver.models.plan_mark), and the beat tick
(`plan_tick`) takes the marked caregivers, and those whose plan ends short of the horizon, in
batches under a lease with SKIP LOCKED, and fans them out to workers (`plan_batch_task`). The
tick's cost follows what changed or is due, never how many caregivers are stored.

Isolation: a template that will not render skips that rule's rows for that caregiver, and a sync
that raises is rolled back; either way the problem is recorded on the caregiver
(`plan_problem`, shown on the staff family page and in the admin) and every other caregiver is
planned as usual. A failed sync is retried after PLAN_RETRY_MINUTES.

The same pure function previews a whole course, past the horizon (`course_preview`).
"""

from __future__ import annotations

import copy
import hashlib
import json
import logging
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Max, Q
from django.utils import timezone

from caregiver import services as caregiver_services
from caregiver.models import Appointment, Caregiver, Clinic
from caregiver.selectors import caregiver_send_problem, caregivers_with_consent, consent_of
from caregiver.tokens import address_fingerprint
from content.models import MessageTemplate, Tip
from content.validation import CRISIS_CATEGORY, TemplateRenderError

from . import discretion, rendering, timing
from .models import DEFAULT_RULES, TREATMENT_KINDS, OutboundMessage, ReminderRule

logger = logging.getLogger(__name__)
Status = OutboundMessage.Status
Kind = OutboundMessage.Kind
TIP_STALE_AFTER = timedelta(hours=6)
CHECK_IN_RULE = "next-morning"
# The rows the planner writes: it owns them from planning until they are claimed.
PLANNED_KINDS = (Kind.TIP, Kind.REMINDER, Kind.NOTICE)
# Rows a sync may rewrite: nothing has gone out for them, and no worker holds them.
REWRITABLE = (Status.SCHEDULED, Status.CANCELLED, Status.SUPPRESSED)
# Rows that will never go out; any other row a sync does not hold counts against the cap.
DROPPED = (Status.CANCELLED, Status.SUPPRESSED, Status.FAILED)
# Rules reach a few days either side of an appointment (two days before, the next morning).
RULE_REACH = timedelta(days=3)


def reminder_rules_seed(*, clinic: Clinic) -> int:
    """Give a clinic the default reminder rules it does not have yet."""
    created = 0
    for position, rule in enumerate(DEFAULT_RULES):
        _, made = ReminderRule.objects.get_or_create(
            clinic=clinic,
            key=rule["key"],
            defaults={**rule, "position": position, "appointment_kinds": TREATMENT_KINDS},
        )
        created += made
    return created


@dataclass
class Desired:
    """One row a caregiver should have: plain data, before the cap, the tip and the words."""

    dedupe_key: str
    channel: str
    kind: str
    send_at: datetime
    not_after: datetime | None
    priority: int
    local_date: date
    appointment: Appointment | None = None
    rule: ReminderRule | None = None
    # "quiet_hours" or "daily_cap": kept as a suppressed row, so staff see why it did not go.
    status_reason: str = ""
    # Its time has passed (planned late): it goes at once, whatever `send_at` a stored row has.
    late: bool = False
    tip: Tip | None = None
    # For a notice: "moved", "cancelled" or "ride" (its template is notice-<this>).
    notice: str = ""

    @property
    def wants_tip(self) -> bool:
        return self.kind == Kind.TIP or (self.rule is not None and self.rule.key == CHECK_IN_RULE)


# --- Who may get what -------------------------------------------------------------------------


def planned_channels(caregiver: Caregiver) -> list[str]:
    """Channels the caregiver asked for, confirmed at their current address, and that can reach them.

    `caregiver` must carry the `sms_consent` / `email_consent` annotations (caregivers_with_consent).
    """
    if caregiver.status != Caregiver.Status.ACTIVE:
        return []
    wanted = [channel for channel, wants in (("sms", caregiver.wants_sms), ("email", caregiver.wants_email)) if wants]
    return [channel for channel in wanted if not _send_problem(caregiver, channel)]


def _send_problem(caregiver: Caregiver, channel: str) -> str:
    return caregiver_send_problem(
        caregiver=caregiver, channel=channel, opted_in=consent_of(caregiver, channel), now=timezone.now()
    )


# --- The rows a caregiver should have: pure -------------------------------------------------------


def reminder_key(appointment: Appointment, rule: ReminderRule, caregiver: Caregiver, channel: str) -> str:
    # The start time is part of the key: a moved appointment gets fresh reminders, and one that
    # already went out for the old time can never block them.
    return f"reminder:{appointment.pk}:{rule.key}:{caregiver.pk}:{channel}:{int(appointment.starts_at.timestamp())}"


def tip_key(caregiver: Caregiver, day: date, channel: str) -> str:
    return f"tip:{caregiver.pk}:{day.isoformat()}:{channel}"


def _reminders(
    *, appointment: Appointment, caregiver: Caregiver, channels: list[str], rules: Iterable[ReminderRule], now, until
) -> list[Desired]:
    if appointment.status != Appointment.Status.SCHEDULED:
        return []
    zone = timing.zone_of(caregiver)
    found = []
    for rule in rules:
        if not rule.active or appointment.kind not in rule.appointment_kinds:
            continue
        if rule.skip_if_ride_arranged and appointment.ride_arranged:
            continue
        send_at = timing.rule_send_at(rule, appointment, zone)
        stale = send_at + timedelta(minutes=rule.stale_after_minutes)
        fires_before = send_at < appointment.starts_at
        not_after = min(stale, appointment.starts_at) if fires_before else stale
        # Advice about the evening after a treatment is no use before the treatment has begun.
        earliest = now if fires_before else max(now, appointment.starts_at)
        if rule.anchor in (ReminderRule.Anchor.PICKUP, ReminderRule.Anchor.HOME):
            # Nor, moved out of quiet hours, before pick-up: the caregiver would be driving.
            earliest = max(earliest, appointment.pickup_at)
        reason = ""
        late = send_at < now
        # Planned late (a new appointment, a late change): it would go out now, so judge now.
        if late:
            send_at = now
        if not timing.is_allowed(caregiver, send_at):
            moved = _out_of_quiet_hours(caregiver, send_at, earliest=earliest, not_after=not_after)
            if moved is not None:
                send_at = moved
                late = late or moved < now
            else:
                reason = "quiet_hours"
        if send_at > until or not_after <= now:
            continue
        for channel in channels:
            found.append(
                Desired(
                    dedupe_key=reminder_key(appointment, rule, caregiver, channel),
                    channel=channel,
                    kind=Kind.REMINDER,
                    send_at=send_at,
                    not_after=not_after,
                    priority=rule.position,
                    local_date=timing.local_day(caregiver, send_at),
                    appointment=appointment,
                    rule=rule,
                    status_reason=reason,
                    late=late,
                )
            )
    return found


def _out_of_quiet_hours(
    caregiver: Caregiver, send_at: datetime, *, earliest: datetime, not_after: datetime
) -> datetime | None:
    """Where a reminder that falls in quiet hours goes instead: earlier the same local day if that
    is still useful, else later the same day if still in time; None if neither (it is held back).
    Never another day: "the next morning" must not arrive the evening before."""
    day = timing.local_day(caregiver, send_at)
    earlier = timing.latest_allowed_before(caregiver, send_at)
    if (
        earlier is not None
        and timing.local_day(caregiver, earlier) == day
        and earliest - timedelta(minutes=1) <= earlier
    ):
        return earlier if earlier < not_after else None
    later = timing.next_allowed(caregiver, send_at)
    if later is not None and timing.local_day(caregiver, later) == day and earliest <= later < not_after:
        return later
    return None


# A change is told for this long after it is made (while it still matters): a caregiver linked
# to the family later is not told of old changes.
NOTICE_REACH = timedelta(days=2)


def notice_key(appointment: Appointment, notice: str, caregiver: Caregiver, channel: str, at: datetime) -> str:
    # The time of the change is part of the key: a second change makes a fresh notice, and the
    # first, if it has not gone yet, is no longer wanted (it is cancelled as superseded).
    return f"notice:{notice}:{appointment.pk}:{caregiver.pk}:{channel}:{int(at.timestamp())}"


def _notices(*, appointment: Appointment, caregiver: Caregiver, channels: list[str], now, until) -> list[Desired]:
    """What to tell the family of a change: a moved or cancelled appointment (told to every
    caregiver), and a ride home arranged by one of them (told to the others)."""
    wanted: list[tuple[str, datetime, datetime]] = []  # (notice, changed at, no use after)
    changed = appointment.changed_at
    if changed is not None and now - NOTICE_REACH <= changed:
        if appointment.status == Appointment.Status.CANCELLED:
            wanted.append(("cancelled", changed, appointment.starts_at))
        elif appointment.status == Appointment.Status.SCHEDULED and appointment.moved_from is not None:
            wanted.append(("moved", changed, max(appointment.moved_from, appointment.starts_at)))
    ride_at = appointment.ride_arranged_at
    if (
        ride_at is not None
        and now - NOTICE_REACH <= ride_at
        and appointment.status == Appointment.Status.SCHEDULED
        and appointment.ride_arranged_by_caregiver_id != caregiver.pk
    ):
        wanted.append(("ride", ride_at, appointment.starts_at))
    found = []
    for notice, at, no_use_after in wanted:
        if no_use_after <= max(now, at):
            continue  # told after the appointment's time: no use to anyone
        send_at = timing.next_allowed(caregiver, at)
        reason = ""
        if send_at is None or send_at >= no_use_after:
            send_at, reason = at, "quiet_hours"
        if send_at > until:
            continue
        for channel in channels:
            found.append(
                Desired(
                    dedupe_key=notice_key(appointment, notice, caregiver, channel, at),
                    channel=channel, kind=Kind.NOTICE, send_at=send_at, not_after=no_use_after, priority=-1,
                    local_date=timing.local_day(caregiver, send_at), appointment=appointment, status_reason=reason,
                    late=send_at < now, notice=notice,
                )
            )  # fmt: skip
    return found


TIP_DAYS = {
    Caregiver.Frequency.DAILY: {0, 1, 2, 3, 4, 5, 6},
    Caregiver.Frequency.THREE_A_WEEK: {0, 2, 4},  # Monday, Wednesday, Friday
    Caregiver.Frequency.WEEKLY: {0},
    Caregiver.Frequency.PAUSED: set(),
}


def _tips(
    *, caregiver: Caregiver, channels: list[str], now: datetime, until: datetime, planned: frozenset[str]
) -> list[Desired]:
    days = TIP_DAYS[caregiver.tip_frequency]
    if not days:
        return []
    zone = timing.zone_of(caregiver)
    day, last = now.astimezone(zone).date(), until.astimezone(zone).date()
    found = []
    while day <= last:
        if day.weekday() in days:
            wanted = datetime.combine(day, caregiver.tip_time, tzinfo=zone)
            send_at = timing.next_allowed(caregiver, wanted)
            # A tip that cannot go on its day is skipped, not squeezed into the next one.
            if send_at is not None and send_at.astimezone(zone).date() == day and send_at <= until:
                for channel in channels:
                    key = tip_key(caregiver, day, channel)
                    late = send_at < now
                    # A tip whose time has passed is not planned afresh (it would arrive hours off
                    # the time they chose), but one planned in time and not yet sent still goes.
                    if late and (key not in planned or now >= send_at + TIP_STALE_AFTER):
                        continue
                    found.append(
                        Desired(
                            dedupe_key=key,
                            channel=channel,
                            kind=Kind.TIP,
                            send_at=send_at,
                            not_after=send_at + TIP_STALE_AFTER,
                            priority=100,
                            local_date=day,
                            late=late,
                        )
                    )
        day += timedelta(days=1)
    return found


def desired_messages(
    *,
    caregiver: Caregiver,
    appointments: Iterable[Appointment],
    rules: dict[int, list[ReminderRule]],
    now: datetime,
    until: datetime,
    planned: frozenset[str] = frozenset(),
) -> list[Desired]:
    """Every reminder and tip `caregiver` should have from `now` to `until`, before the daily cap.

    Pure: the caregiver (with consent annotations), their loved ones' appointments, the clinics'
    rules and the keys already planned in, rows out. The same inputs give the same rows, in the
    same order.
    """
    channels = planned_channels(caregiver)
    if not channels:
        return []
    found: list[Desired] = []
    for appointment in sorted(appointments, key=lambda a: (a.starts_at, a.pk)):
        found += _reminders(
            appointment=appointment,
            caregiver=caregiver,
            channels=channels,
            rules=rules.get(appointment.loved_one.clinic_id, []),
            now=now,
            until=until,
        )
        found += _notices(appointment=appointment, caregiver=caregiver, channels=channels, now=now, until=until)
    found = _one_check_in_a_day(found)
    return found + _tips(caregiver=caregiver, channels=channels, now=now, until=until, planned=planned)


def _one_check_in_a_day(rows: list[Desired]) -> list[Desired]:
    """Two sessions on one day (a morning and an afternoon one) make one check-in the next
    morning, not two identical texts: the first appointment's."""
    seen: set[tuple[date, str]] = set()
    kept = []
    for row in rows:
        if row.rule is not None and row.rule.key == CHECK_IN_RULE:
            if (row.local_date, row.channel) in seen:
                continue
            seen.add((row.local_date, row.channel))
        kept.append(row)
    return kept


def cap_apply(desired: list[Desired], *, committed: Counter, cap: int) -> list[Desired]:
    """The daily cap, applied once: per channel and local day, what has gone out or is going
    (`committed`, keyed by (channel, local date)) plus what is planned stays within `cap`.

    Reminders take their places first, by rule position, then tips. A reminder over the cap is
    kept as suppressed (`daily_cap`), so staff see it; a tip over the cap is dropped. Pure.
    """
    counts = Counter(committed)
    kept = []
    order = sorted(desired, key=lambda d: (d.local_date, d.kind != Kind.REMINDER, d.priority, d.send_at))
    for row in order:
        if row.status_reason or row.kind not in OutboundMessage.CAPPED_KINDS:
            kept.append(row)
            continue
        slot = (row.channel, row.local_date)
        if counts[slot] >= cap:
            if row.kind == Kind.TIP:
                continue
            row.status_reason = "daily_cap"
        else:
            counts[slot] += 1
        kept.append(row)
    return kept


# --- Tips: which one ------------------------------------------------------------------------------


def tip_library(*, language: str, check_in: bool) -> list[Tip]:
    tips = Tip.objects.filter(active=True, language=language).select_related("category")
    if check_in:
        # A check-in is a gentle morning text: the tips tagged for it (their length is checked with
        # the check-in's words in front), never a warning sign.
        tips = tips.filter(tags__icontains='"check-in"').exclude(category__slug=CRISIS_CATEGORY)
    return list(tips.order_by("pk"))


def tip_history(caregiver_ids: Iterable[int]) -> dict[int, list[dict]]:
    """Per caregiver, each tip they were given or will be: how many times, and the latest send_at.
    By slug, which is the same in every language: a tip read in English is not new in Spanish."""
    history: dict[int, list[dict]] = defaultdict(list)
    rows = (
        OutboundMessage.objects.filter(caregiver_id__in=list(caregiver_ids), tip__isnull=False)
        .exclude(status__in=[Status.CANCELLED, Status.SUPPRESSED, Status.FAILED])
        .values("caregiver_id", slug=F("tip__slug"))
        .annotate(times=Count("id"), last=Max("send_at"))
    )
    for row in rows:
        history[row["caregiver_id"]].append(row)
    return history


# --- Tips that follow the course ----------------------------------------------------------------

FIRST_SERIES_SESSIONS = 6  # the first phase: about six sessions in two to three weeks
PHASES = ("first-series", "after-series", "maintenance")
ESSENTIALS = "essentials"


@dataclass(frozen=True)
class Course:
    """Where a family is in its treatment, for choosing tips: the local dates of its treatment
    sessions (scheduled or done, not cancelled), each with whether it is a booster. Pure data."""

    sessions: tuple[tuple[date, bool], ...] = ()

    def session_within(self, day: date, *, before: int, after: int) -> bool:
        """A session from `before` days before `day` to `after` days after it."""
        return any(-before <= (session - day).days <= after for session, _ in self.sessions)

    def phase(self, day: date) -> str:
        """ "none" (no sessions at all), "first-series", "after-series" or "maintenance" on `day`.

        Maintenance once a booster has happened (within two months), or when the next session is a
        booster within two weeks after the first series; the first series while fewer than six
        sessions are done and one is near (or none is done yet); after it, the weeks between."""
        if not self.sessions:
            return "none"
        done = [session for session, booster in self.sessions if session < day and not booster]
        upcoming = [(session, booster) for session, booster in self.sessions if session >= day]
        boosted = any(booster and 0 < (day - session).days <= 62 for session, booster in self.sessions)
        next_booster = bool(upcoming) and upcoming[0][1] and (upcoming[0][0] - day).days <= 14
        if boosted or (next_booster and len(done) >= FIRST_SERIES_SESSIONS):
            return "maintenance"
        near = [session for session, booster in upcoming if not booster]
        if len(done) < FIRST_SERIES_SESSIONS and (
            (near and (near[0] - day).days <= 21) or (done and (day - done[-1]).days <= 7) or not done
        ):
            return "first-series"
        return "after-series"


def course_of(*, caregiver: Caregiver, sessions: Iterable[tuple[datetime, str]]) -> Course:
    """The course from (start, kind) pairs of the caregiver's loved ones' treatments."""
    dates = {(timing.local_day(caregiver, start), kind == Appointment.Kind.BOOSTER) for start, kind in sessions}
    return Course(sessions=tuple(sorted(dates)))


def tip_fits(tip: Tip, day: date, *, course: Course, safety_ok: bool) -> bool:
    """Whether `tip` is right for `day`: appointment-day tips in the two days before a session,
    after-treatment tips on a session day or the day after, course tips in their phase, and none
    of those to a family without sessions; a warning-signs tip only where it may go (`safety_ok`)."""
    category = tip.category.slug
    if category == "appointment-day":
        return course.session_within(day, before=0, after=2)
    if category == "after-treatment":
        return course.session_within(day, before=1, after=0)
    if category == "course":
        phase = course.phase(day)
        phases = set(PHASES) & set(tip.tags)
        return phase != "none" and (not phases or phase in phases)
    if category == CRISIS_CATEGORY:
        return safety_ok
    return True


def safety_tips_ok(caregiver: Caregiver, channels: Iterable[str]) -> bool:
    """Warning-sign tips go by email, or by text to those who asked for them by text. (A caregiver
    with both gets the tip by email and a text that says only that it is in their email.)"""
    channels = set(channels)
    return "email" in channels or ("sms" in channels and caregiver.safety_tips_sms)


def _pick(pool: list[Tip], *, caregiver: Caregiver, times: Counter[str], recency: dict[int, float]) -> Tip:
    """The next tip from `pool`: first the essentials a new caregiver has not had, in order; then
    none again before they have had every tip that fits, preferring the category they heard from
    least recently."""
    essentials = [t for t in pool if ESSENTIALS in t.tags and times[t.slug] == 0]
    if essentials:
        return min(essentials, key=lambda t: (t.category.position, t.pk))
    fewest = min(times[t.slug] for t in pool)
    return min(
        (t for t in pool if times[t.slug] == fewest),
        key=lambda t: (
            recency.get(t.category_id, float("-inf")),
            # Same caregiver, same order; different caregivers, different orders.
            hashlib.blake2b(f"{caregiver.pk}:{t.slug}".encode(), digest_size=4).hexdigest(),
        ),
    )


class Library:
    """Rules, templates and tips, read once for a batch of syncs rather than once per caregiver."""

    def __init__(self) -> None:
        self._rules: dict[int, list[ReminderRule]] = {}
        self._tips: dict[tuple[str, bool], list[Tip]] = {}
        self._templates: dict[tuple[str, str], MessageTemplate | None] = {}

    def rules(self, clinic_ids: Iterable[int]) -> dict[int, list[ReminderRule]]:
        missing = set(clinic_ids) - set(self._rules)
        if missing:
            for clinic_id in missing:
                self._rules[clinic_id] = []
            for rule in ReminderRule.objects.filter(clinic_id__in=missing, active=True).order_by("position", "key"):
                self._rules[rule.clinic_id].append(rule)
        return self._rules

    def tips(self, *, language: str, check_in: bool) -> list[Tip]:
        if (language, check_in) not in self._tips:
            self._tips[(language, check_in)] = tip_library(language=language, check_in=check_in)
        return self._tips[(language, check_in)]

    def template(self, key: str, language: str) -> MessageTemplate | None:
        if (key, language) not in self._templates:
            self._templates[(key, language)] = MessageTemplate.objects.filter(
                key=key, language=language, active=True
            ).first()
        return self._templates[(key, language)]


def _tips_attach(
    rows: list[Desired], *, caregiver: Caregiver, stored: dict[str, OutboundMessage], library: Library, course: Course
):
    """Give each tip row and check-in reminder its tip: the one it already has while that tip is
    still active and still fits the day (a re-plan never reshuffles), else the next that fits,
    one tip per day shared by the day's channels."""
    history: list[dict] | None = None
    channels = {row.channel for row in rows}
    safety_ok = safety_tips_ok(caregiver, channels)
    # What this plan already carries: a tip day or a check-in takes another tip where one fits (a
    # small pool, such as the five check-in tips or a course day's, could otherwise repeat one).
    in_plan: set[str] = set()
    for check_in in (False, True):
        active = {t.pk: t for t in library.tips(language=caregiver.language, check_in=check_in)}
        days: dict[date, list[Desired]] = defaultdict(list)
        for row in rows:
            if row.wants_tip and (row.kind != Kind.TIP) == check_in:
                days[row.local_date].append(row)
        new_days = []
        for day, group in sorted(days.items()):
            kept = next(
                (
                    tip
                    for r in group
                    if (m := stored.get(r.dedupe_key))
                    and (tip := active.get(m.tip_id)) is not None
                    and (check_in or tip_fits(tip, day, course=course, safety_ok=safety_ok))
                ),
                None,
            )
            if kept is None:
                new_days.append((day, group))
            else:
                in_plan.add(kept.slug)
            for row in group:
                row.tip = kept
        if not new_days:
            continue
        if history is None:
            history = tip_history([caregiver.pk])[caregiver.pk]
        times: Counter[str] = Counter()
        recency: dict[int, float] = {}
        category_of = {t.slug: t.category_id for t in library.tips(language=caregiver.language, check_in=False)}
        for row in history:
            times[row["slug"]] += row["times"]
            category = category_of.get(row["slug"])
            if category is not None:
                recency[category] = max(recency.get(category, float("-inf")), row["last"].timestamp())
        for turn, (day, group) in enumerate(new_days):
            pool = [t for t in active.values() if check_in or tip_fits(t, day, course=course, safety_ok=safety_ok)]
            if not pool:
                continue  # nothing fits the day (an empty library): no tip that day
            pool = [t for t in pool if t.slug not in in_plan] or pool
            tip = _pick(pool, caregiver=caregiver, times=times, recency=recency)
            in_plan.add(tip.slug)
            for row in group:
                row.tip = tip
            # One rotation for tips and check-ins: what a check-in carries is not a tip again soon.
            times[tip.slug] += 1
            recency[tip.category_id] = 1e18 + turn
            history = [*history, {"slug": tip.slug, "times": 1, "last": group[0].send_at}]


# --- Words ---------------------------------------------------------------------------------------


def _inputs(row: Desired, caregiver: Caregiver, library: Library) -> tuple[str, dict[str, str], str] | None:
    """What `row` is rendered from: (template key or "tip", context, version); None if it cannot be."""
    if row.kind == Kind.TIP:
        if row.tip is None:
            return None
        # A safety tip's text depends on whether they asked for safety tips by text. `asks`: the
        # words that ask "was this helpful?" (a tip planned before they were added is rewritten).
        context = {"tip": str(row.tip.pk), "safety_sms": str(caregiver.safety_tips_sms), "asks": "helpful-1"}
        return "tip", context, row.tip.updated_at.isoformat()
    context = rendering.appointment_context(caregiver, row.appointment)
    if row.kind == Kind.NOTICE:
        key = f"notice-{row.notice}"
        template = library.template(key, caregiver.language)
        return (
            key,
            context | rendering.notice_context(caregiver, row.appointment),
            template.updated_at.isoformat() if template else "missing",
        )
    if row.rule.key == CHECK_IN_RULE:
        if row.tip is None:
            return None
        context |= {"tip_sms": row.tip.sms_body, "tip_title": row.tip.title, "tip_email": row.tip.email_markdown}
    template = library.template(row.rule.template_key, caregiver.language)
    version = template.updated_at.isoformat() if template else "missing"
    return row.rule.template_key, context, version


def _digest(row: Desired, inputs: tuple[str, dict[str, str], str], caregiver: Caregiver) -> str:
    """A row's fingerprint: same inputs, same digest, so an unchanged row is never re-rendered or
    rewritten (its email links carry a signing time, so comparing rendered words would not do)."""
    key, context, version = inputs
    if context.get("ride_url"):
        # The link carries its signing time: what it depends on is the address it was sent to.
        context = {**context, "ride_url": address_fingerprint(caregiver.email)}
    # What the clinic lets texts say, and its SMS name, decide what is held back.
    clinic = caregiver.clinic
    shown = [sorted(discretion.clinic_allowed(clinic)), discretion.clinic_sms_name(clinic)]
    payload = json.dumps(
        [row.kind, row.channel, key, version, context, caregiver.pk, caregiver.language, shown], sort_keys=True
    )
    return hashlib.blake2b(payload.encode(), digest_size=16).hexdigest()


def _discretion_problem(row: Desired, body: rendering.Body, caregiver: Caregiver) -> str:
    """Why this row's final words may not be sent ('' when they may): a text, or an email's
    subject, that would show a treatment, drug or diagnosis on a lock screen."""
    clinic = caregiver.clinic
    if row.channel == "sms":
        return discretion.problem(
            body.text, allowed=discretion.allowed_for(clinic=clinic, caregiver=caregiver, tip=row.tip)
        )
    return discretion.problem(body.subject, allowed=discretion.clinic_allowed(clinic))


def _render(row: Desired, inputs: tuple[str, dict[str, str], str], caregiver: Caregiver) -> rendering.Body:
    key, context, _ = inputs
    if key == "tip":
        return rendering.tip_body(tip=row.tip, channel=row.channel, caregiver=caregiver, feedback_key=row.dedupe_key)
    return rendering.template_body(key=key, channel=row.channel, context=context, caregiver=caregiver)


# --- The sync ------------------------------------------------------------------------------------


@dataclass
class SyncResult:
    created: int = 0
    updated: int = 0
    cancelled: int = 0
    unchanged: int = 0
    problem: str = ""
    missing: bool = False

    def as_dict(self) -> dict[str, int]:
        return {
            "created": self.created, "updated": self.updated, "cancelled": self.cancelled,
            "unchanged": self.unchanged, "problems": int(bool(self.problem)),
        }  # fmt: skip


def _cancel_reason(message: OutboundMessage, caregiver: Caregiver, channels: list[str]) -> str:
    """Why a planned row is no longer wanted, in the words staff read on the timeline."""
    by_status = {
        Caregiver.Status.OPTED_OUT: "opted_out",
        Caregiver.Status.PAUSED: "paused",
        Caregiver.Status.PENDING: "no_consent",
        Caregiver.Status.ARCHIVED: "family_archived",
    }
    if caregiver.status in by_status:
        return by_status[caregiver.status]
    if message.channel not in channels:
        # Said stop, cannot be reached, or a new address not confirmed yet; else they turned it off.
        return _send_problem(caregiver, message.channel) or "channel_off"
    if message.kind == Kind.NOTICE:
        return "superseded"  # a later change, or the ride taken back, before it went
    appointment = message.appointment if message.kind == Kind.REMINDER else None
    if appointment is not None and appointment.status == Appointment.Status.COMPLETED:
        return "appointment_completed"
    return message.reminder_problem() or "replanned"


def _appointments(caregiver_id: int, now: datetime, until: datetime) -> list[Appointment]:
    """The appointments reminders reach from `now` to `until`, and any changed lately (their notices)."""
    near = Q(status=Appointment.Status.SCHEDULED, starts_at__gte=now - RULE_REACH, starts_at__lt=until + RULE_REACH)
    changed = Q(changed_at__gte=now - NOTICE_REACH) | Q(ride_arranged_at__gte=now - NOTICE_REACH)
    return list(
        Appointment.objects.filter(near | changed, loved_one__links__caregiver_id=caregiver_id)
        .select_related("loved_one__clinic", "ride_arranged_by_caregiver")
        .distinct()
    )


def _course(caregiver: Caregiver) -> Course:
    """Every treatment session of the caregiver's loved ones, but cancelled ones: where they are."""
    sessions = (
        Appointment.objects.filter(loved_one__links__caregiver_id=caregiver.pk, kind__in=Appointment.TREATMENT_KINDS)
        .exclude(status=Appointment.Status.CANCELLED)
        .values_list("starts_at", "kind")
    )
    return course_of(caregiver=caregiver, sessions=sessions)


def horizon(now: datetime) -> datetime:
    return now + timedelta(hours=settings.PLAN_HORIZON_HOURS)


def caregiver_plan_sync(*, caregiver_id: int, now: datetime, library: Library | None = None) -> SyncResult:
    """Reconcile one caregiver's planned reminders and tips with what they should have now.

    Idempotent: syncing twice changes nothing, and a change that does not touch a row leaves it
    as it was (same `updated_at`). Clears the caregiver's `plan_dirty` mark and records how far
    they are planned (`planned_until`) and any problem.
    """
    library = library or Library()
    with transaction.atomic():
        caregiver = (
            caregivers_with_consent(Caregiver.objects.select_for_update(of=("self",)).select_related("clinic"))
            .filter(pk=caregiver_id)
            .first()
        )
        if caregiver is None:
            return SyncResult(missing=True)
        # Rows since yesterday: enough to count a local day that began before `now`. And rows
        # still in their time (a ride request stays useful for two days): the plan would want them
        # again, planned late, and must find them rather than count them twice against the cap.
        rows = OutboundMessage.objects.filter(
            Q(send_at__gte=now - timedelta(days=1)) | Q(not_after__gt=now),
            caregiver_id=caregiver_id,
            kind__in=PLANNED_KINDS,
        )
        # Locked, so a dispatcher claim (SKIP LOCKED) passes them by until this commits; a row it
        # claimed first is no longer rewritable, so it is neither rewritten nor cancelled here,
        # and it counts against the cap.
        stored = list(rows.select_for_update())
        locked = {m.pk for m in stored if m.status in REWRITABLE}
        stored_by_key = {m.dedupe_key: m for m in stored}
        pending_until = max((m.send_at for m in stored if m.status == Status.SCHEDULED), default=now)
        until = max(horizon(now), pending_until)
        appointments = _appointments(caregiver_id, now, until)
        rules = library.rules({a.loved_one.clinic_id for a in appointments})
        desired = desired_messages(
            caregiver=caregiver,
            appointments=appointments,
            rules=rules,
            now=now,
            until=until,
            planned=frozenset(m.dedupe_key for m in stored if m.status == Status.SCHEDULED),
        )
        committed = Counter(
            (m.channel, timing.local_day(caregiver, m.send_at))
            for m in stored
            if m.pk not in locked and m.status not in DROPPED and m.kind in OutboundMessage.CAPPED_KINDS
        )
        # Rows already going or gone stay as they are; the rest share what the cap leaves.
        open_rows = [
            d for d in desired if d.dedupe_key not in stored_by_key or stored_by_key[d.dedupe_key].pk in locked
        ]
        wanted = cap_apply(open_rows, committed=committed, cap=settings.DAILY_MESSAGE_CAP)
        _tips_attach(wanted, caregiver=caregiver, stored=stored_by_key, library=library, course=_course(caregiver))
        result = _reconcile(caregiver, wanted, stored_by_key, locked, now=now, library=library)
        Caregiver.objects.filter(pk=caregiver_id).update(
            plan_dirty=False,
            planned_until=until,
            plan_lease_until=None,
            plan_problem=result.problem[:300],
            plan_problem_at=now if result.problem else None,
        )
    return result


def _reconcile(
    caregiver: Caregiver,
    wanted: list[Desired],
    stored: dict[str, OutboundMessage],
    locked: set[int],
    *,
    now: datetime,
    library: Library,
) -> SyncResult:
    result = SyncResult()
    problems: list[str] = []
    create: list[OutboundMessage] = []
    keep: set[str] = set()
    for row in wanted:
        current = stored.get(row.dedupe_key)
        try:
            inputs = _inputs(row, caregiver, library)
            if inputs is None:
                continue  # no tip to give (an empty library): nothing to send
            digest = _digest(row, inputs, caregiver)
            held = ""
            if current is not None and current.plan_digest == digest:
                body = None  # the same inputs make the same words: not rendered or checked again
                if current.status_reason == discretion.HELD:
                    row.status_reason, held = discretion.HELD, current.last_error
            else:
                body = _render(row, inputs, caregiver)
                held = _discretion_problem(row, body, caregiver)
                if held:
                    row.status_reason = discretion.HELD
            status = Status.SUPPRESSED if row.status_reason else Status.SCHEDULED
            # A late row keeps the time it was first due: it is due either way, and a sync a
            # minute later must not move it again.
            send_at = current.send_at if row.late and current is not None and current.send_at <= now else row.send_at
            fields = {
                "send_at": send_at, "not_after": row.not_after, "status": status,
                "status_reason": row.status_reason, "tip_id": row.tip.pk if row.tip else None, "plan_digest": digest,
            }  # fmt: skip
            if held or (current is not None and current.status_reason == discretion.HELD):
                fields["last_error"] = held  # what it would have shown, for staff
            if current is not None and all(getattr(current, name) == value for name, value in fields.items()):
                keep.add(row.dedupe_key)
                result.unchanged += 1
                continue
        except Exception as exc:  # a template or a caregiver's data: this row, not the whole plan
            problem = _problem_text(row, exc)
            if isinstance(exc, MessageTemplate.DoesNotExist | TemplateRenderError):
                logger.warning("caregiver %s: %s", caregiver.pk, problem)
            else:
                logger.exception("could not plan %s for caregiver %s", row.dedupe_key, caregiver.pk)
            problems.append(problem)
            if current is not None:
                keep.add(row.dedupe_key)  # whatever it said before still stands
            continue
        keep.add(row.dedupe_key)
        words = {} if body is None else {"body": body.text, "subject": body.subject, "html": body.html}
        if current is None:
            create.append(
                OutboundMessage(
                    caregiver=caregiver, channel=row.channel, kind=row.kind, appointment=row.appointment,
                    rule=row.rule, dedupe_key=row.dedupe_key, **fields, **words,
                )
            )  # fmt: skip
        else:
            changed = {**fields, **words}
            OutboundMessage.objects.filter(pk=current.pk, status__in=REWRITABLE).update(**changed, updated_at=now)
            result.updated += 1
    OutboundMessage.objects.bulk_create(create, ignore_conflicts=True)
    result.created = len(create)
    channels = planned_channels(caregiver)
    for message in stored.values():
        if message.dedupe_key in keep or message.status != Status.SCHEDULED or message.pk not in locked:
            continue
        if message.not_after is not None and message.not_after <= now:
            continue  # past its time: the dispatcher marks it stale
        OutboundMessage.objects.filter(pk=message.pk, status=Status.SCHEDULED).update(
            status=Status.CANCELLED, status_reason=_cancel_reason(message, caregiver, channels), updated_at=now
        )
        result.cancelled += 1
    result.problem = "; ".join(dict.fromkeys(problems))
    return result


def _problem_text(row: Desired, exc: Exception) -> str:
    """What went wrong with a row, in words staff can pass on to whoever fixes it."""
    if row.rule is None:
        return f"Tips could not be written ({type(exc).__name__}: {exc})."
    where = f'The reminder "{row.rule.name}" was not planned'
    if isinstance(exc, MessageTemplate.DoesNotExist):
        return f"{where}: its rule names a message template, '{row.rule.template_key}', that does not exist."
    return f"{where}: its template '{row.rule.template_key}' could not be written ({type(exc).__name__}: {exc})."


def caregiver_plan_failed(*, caregiver_id: int, now: datetime, problem: str) -> None:
    """A sync raised and was rolled back: say so where staff and the admin look, and retry later."""
    Caregiver.objects.filter(pk=caregiver_id).update(
        plan_problem=problem[:300],
        plan_problem_at=now,
        plan_lease_until=now + timedelta(minutes=settings.PLAN_RETRY_MINUTES),
    )


def caregivers_plan(*, caregiver_ids: Iterable[int], now: Callable[[], datetime] = timezone.now) -> dict[str, int]:
    """Sync each caregiver in turn, each in its own transaction: one that fails is recorded and
    retried later, and the others are planned as usual."""
    library = Library()
    totals: Counter[str] = Counter()
    for caregiver_id in caregiver_ids:
        moment = now()
        try:
            result = caregiver_plan_sync(caregiver_id=caregiver_id, now=moment, library=library)
        except Exception as exc:  # a bug or bad data: this caregiver, not the batch
            logger.exception("planning failed for caregiver %s", caregiver_id)
            caregiver_plan_failed(caregiver_id=caregiver_id, now=moment, problem=f"{type(exc).__name__}: {exc}")
            totals["failed"] += 1
            continue
        totals.update(result.as_dict())
        totals["synced"] += 1
    return dict(totals)


# --- The tick --------------------------------------------------------------------------------------


def pauses_end(*, now: datetime) -> int:
    """Resume the caregivers whose pause is over (which marks them for planning).

    Nothing else ends a pause, and the planner plans for active caregivers only: without this, a
    caregiver who paused for three days heard nothing ever again.
    """
    resumed = 0
    for caregiver in Caregiver.objects.filter(status=Caregiver.Status.PAUSED, paused_until__lte=now):
        caregiver_services.caregiver_resume(caregiver=caregiver)
        resumed += 1
    return resumed


def caregivers_due_claim(*, now: datetime, limit: int) -> list[int]:
    """Take up to `limit` caregivers that need planning, under a lease of PLAN_LEASE_SECONDS:
    first those marked dirty, then active ones whose plan ends short of the horizon by more than
    PLAN_REFRESH_HOURS. SKIP LOCKED passes over caregivers being synced or claimed right now.
    Both questions are answered by a partial index, so the cost follows the answer."""
    free = Q(plan_lease_until__isnull=True) | Q(plan_lease_until__lt=now)
    short = horizon(now) - timedelta(hours=settings.PLAN_REFRESH_HOURS)
    with transaction.atomic():
        ids = list(
            Caregiver.objects.select_for_update(skip_locked=True)
            .filter(free, plan_dirty=True)
            .order_by()
            .values_list("id", flat=True)[:limit]
        )
        if len(ids) < limit:
            ids += list(
                Caregiver.objects.select_for_update(skip_locked=True)
                .filter(free, status=Caregiver.Status.ACTIVE, planned_until__lt=short, plan_dirty=False)
                .order_by("planned_until")
                .values_list("id", flat=True)[: limit - len(ids)]
            )
        if ids:
            Caregiver.objects.filter(pk__in=ids).update(
                plan_lease_until=now + timedelta(seconds=settings.PLAN_LEASE_SECONDS)
            )
    return ids


def plan_tick(*, now: datetime, enqueue: Callable[[list[int]], None]) -> dict[str, int]:
    """One planner tick: resume ended pauses, claim who needs planning, hand them to `enqueue` in
    batches of PLAN_TASK_SIZE. If publishing fails (the broker is down), the unpublished claims
    are let go at once and their marks stay: the next tick takes them again."""
    resumed = pauses_end(now=now)
    ids = caregivers_due_claim(now=now, limit=settings.PLAN_MAX_PER_TICK)
    size = settings.PLAN_TASK_SIZE
    for start in range(0, len(ids), size):
        try:
            enqueue(ids[start : start + size])
        except Exception:
            logger.exception("could not publish planning tasks; %s caregivers wait for the next tick", len(ids) - start)
            Caregiver.objects.filter(pk__in=ids[start:]).update(plan_lease_until=None)
            return {"claimed": start, "resumed": resumed, "unpublished": len(ids) - start}
    return {"claimed": len(ids), "resumed": resumed}


def appointment_caregiver_ids(*, appointment_id: int) -> list[int]:
    return list(Caregiver.objects.filter(links__loved_one__appointments=appointment_id).values_list("id", flat=True))


def plan_due(*, now: datetime | None = None, caregiver_id: int | None = None) -> dict[str, int]:
    """Plan synchronously, in this process: one caregiver (whatever their marks), or everyone the
    tick would take, until nobody is left. For operators (`manage.py plan_now`), demos and tests."""
    clock = (lambda: now) if now is not None else timezone.now
    totals: Counter[str] = Counter(dict.fromkeys(PLAN_TOTALS, 0))
    if caregiver_id is not None:
        totals.update(caregivers_plan(caregiver_ids=[caregiver_id], now=clock))
        return dict(totals)
    totals["resumed"] = pauses_end(now=clock())
    # Each claimed caregiver ends synced or leased for a retry, so the loop ends.
    while ids := caregivers_due_claim(now=clock(), limit=settings.PLAN_MAX_PER_TICK):
        totals.update(caregivers_plan(caregiver_ids=ids, now=clock))
    return dict(totals)


PLAN_TOTALS = ("synced", "created", "updated", "cancelled", "unchanged", "problems", "failed", "resumed")


# --- The whole course, ahead of the horizon ------------------------------------------------------


@dataclass(frozen=True)
class PreviewItem:
    caregiver: Caregiver
    send_at: datetime
    channel: str
    kind: str
    what: str
    text: str
    status_reason: str
    appointment_id: int | None
    dedupe_key: str = field(repr=False, default="")

    @property
    def reason_text(self) -> str:
        return {
            "daily_cap": "the day's limit is reached",
            "discretion": "it would reveal treatment on a lock screen",
            "quiet_hours": "quiet hours",
            "rule_problem": "its reminder rule has a problem",
        }.get(self.status_reason, self.status_reason.replace("_", " "))


def course_preview(*, caregiver: Caregiver, now: datetime, loved_one_id: int | None = None) -> list[PreviewItem]:
    """Every reminder and tip the caregiver's course will bring that is not planned yet (beyond
    the horizon), computed by the same function as the plan. `loved_one_id` keeps the reminders
    to that loved one's appointments. `caregiver` must carry the consent annotations. A paused
    caregiver's preview starts where the pause ends."""
    if caregiver.status == Caregiver.Status.PAUSED and caregiver.paused_until is not None:
        caregiver = copy.copy(caregiver)
        caregiver.status = Caregiver.Status.ACTIVE
        now = max(now, caregiver.paused_until)
    appointments = [
        a
        for a in Appointment.objects.filter(
            loved_one__links__caregiver_id=caregiver.pk, status=Appointment.Status.SCHEDULED, starts_at__gte=now
        ).select_related("loved_one__clinic")
        if loved_one_id is None or a.loved_one_id == loved_one_id
    ]
    if not appointments:
        return []
    until = max(a.starts_at for a in appointments) + RULE_REACH
    library = Library()
    rules = library.rules({a.loved_one.clinic_id for a in appointments})
    desired = desired_messages(caregiver=caregiver, appointments=appointments, rules=rules, now=now, until=until)
    # What is planned already is on the timeline as it stands; it takes its place under the cap.
    # A cancelled row is not (a pause cancels rows that its end brings back).
    planned = set(
        OutboundMessage.objects.filter(caregiver_id=caregiver.pk, dedupe_key__in=[d.dedupe_key for d in desired])
        .exclude(status=Status.CANCELLED)
        .values_list("dedupe_key", flat=True)
    )
    committed = Counter(
        (channel, timing.local_day(caregiver, send_at))
        for channel, send_at in OutboundMessage.objects.filter(
            caregiver_id=caregiver.pk, kind__in=OutboundMessage.CAPPED_KINDS, send_at__gte=now - timedelta(days=1)
        )
        .exclude(status__in=DROPPED)
        .values_list("channel", "send_at")
    )
    rows = cap_apply(
        [d for d in desired if d.dedupe_key not in planned], committed=committed, cap=settings.DAILY_MESSAGE_CAP
    )
    _tips_attach(rows, caregiver=caregiver, stored={}, library=library, course=_course(caregiver))
    items = []
    for row in rows:
        inputs = _inputs(row, caregiver, library)
        if inputs is None:
            continue
        reason = row.status_reason
        try:
            body = _render(row, inputs, caregiver)
        except Exception as exc:  # noqa: BLE001 - shown, not raised: the page must still open
            text, reason = _problem_text(row, exc), "rule_problem"
        else:
            text = body.subject or body.text
        items.append(
            PreviewItem(
                caregiver=caregiver, send_at=row.send_at, channel=row.channel, kind=row.kind,
                what=row.rule.name if row.rule else (row.tip.title if row.tip else "A tip"), text=text,
                status_reason=reason, appointment_id=row.appointment.pk if row.appointment else None,
                dedupe_key=row.dedupe_key,
            )
        )  # fmt: skip
    return sorted(items, key=lambda item: (item.send_at, item.dedupe_key))
