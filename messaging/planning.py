"""Planning: turn appointments, reminder rules and tip preferences into outbox rows.

The planner looks PLAN_HORIZON_HOURS (48) ahead and upserts on each row's dedupe key, so running
it again creates nothing. Quiet hours and the daily cap are applied here and again at send time.
A change (appointment moved or cancelled, caregiver paused, opted out, new time zone) re-plans
that caregiver's or appointment's pending rows at once: `caregiver_replan`, `appointment_replan`.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Count, Max, Q

from caregiver import services as caregiver_services
from caregiver.models import Appointment, Caregiver, CareLink, Clinic, ConsentRecord
from caregiver.selectors import caregivers_with_consent
from content.models import Tip

from . import rendering, timing
from .models import DEFAULT_RULES, TREATMENT_KINDS, OutboundMessage, ReminderRule

logger = logging.getLogger(__name__)
Status = OutboundMessage.Status
TIP_STALE_AFTER = timedelta(hours=6)
CHECK_IN_RULE = "next-morning"
# Rows a re-plan may rewrite: nothing has gone out for them yet.
REWRITABLE = (Status.SCHEDULED, Status.CANCELLED, Status.SUPPRESSED)


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
class Candidate:
    dedupe_key: str
    caregiver: Caregiver
    channel: str
    kind: str
    send_at: datetime
    not_after: datetime | None
    priority: int
    appointment: Appointment | None = None
    rule: ReminderRule | None = None
    tip: Tip | None = None
    status_reason: str = ""
    local_date: date = field(init=False)

    def __post_init__(self) -> None:
        self.local_date = timing.local_day(self.caregiver, self.send_at)


# --- Who may get what -------------------------------------------------------------------------


def planned_channels(caregiver: Caregiver) -> list[str]:
    """Channels the caregiver asked for, confirmed, and that can reach them.

    `caregiver` must carry the `sms_consent` / `email_consent` annotations.
    """
    if caregiver.status != Caregiver.Status.ACTIVE:
        return []
    opted_in = ConsentRecord.Action.OPT_IN
    channels = []
    if (
        caregiver.wants_sms
        and caregiver.phone
        and not caregiver.sms_blocked_reason
        and caregiver.sms_consent == opted_in
    ):
        channels.append("sms")
    if caregiver.wants_email and caregiver.email and caregiver.email_consent == opted_in:
        channels.append("email")
    return channels


# --- Reminders --------------------------------------------------------------------------------


def reminder_key(appointment: Appointment, rule: ReminderRule, caregiver: Caregiver, channel: str) -> str:
    # The start time is part of the key: a moved appointment gets fresh reminders, and one that
    # already went out for the old time can never block them.
    return f"reminder:{appointment.pk}:{rule.key}:{caregiver.pk}:{channel}:{int(appointment.starts_at.timestamp())}"


def reminder_candidates(
    *, appointment: Appointment, caregiver: Caregiver, rules: Iterable[ReminderRule], now: datetime, until: datetime
) -> list[Candidate]:
    channels = planned_channels(caregiver)
    if appointment.status != Appointment.Status.SCHEDULED or not channels:
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
        reason = ""
        # Planned late (a new appointment, a late change): it would go out now, so judge now.
        if send_at < now:
            send_at = now
        if not timing.is_allowed(caregiver, send_at):
            moved = timing.latest_allowed_before(caregiver, send_at)
            if moved is not None and earliest - timedelta(minutes=1) <= moved < not_after:
                send_at = moved
            else:
                reason = "quiet_hours"
        if send_at > until or not_after <= now:
            continue
        for channel in channels:
            found.append(
                Candidate(
                    dedupe_key=reminder_key(appointment, rule, caregiver, channel),
                    caregiver=caregiver,
                    channel=channel,
                    kind=OutboundMessage.Kind.REMINDER,
                    send_at=send_at,
                    not_after=not_after,
                    priority=rule.position,
                    appointment=appointment,
                    rule=rule,
                    status_reason=reason,
                )
            )
    return found


# --- Tips -------------------------------------------------------------------------------------

TIP_DAYS = {
    Caregiver.Frequency.DAILY: {0, 1, 2, 3, 4, 5, 6},
    Caregiver.Frequency.THREE_A_WEEK: {0, 2, 4},  # Monday, Wednesday, Friday
    Caregiver.Frequency.WEEKLY: {0},
    Caregiver.Frequency.PAUSED: set(),
}


def tip_candidates(*, caregiver: Caregiver, now: datetime, until: datetime) -> list[Candidate]:
    channels = planned_channels(caregiver)
    days = TIP_DAYS[caregiver.tip_frequency]
    if not channels or not days:
        return []
    zone = timing.zone_of(caregiver)
    today = now.astimezone(zone).date()
    found = []
    for offset in range(3):
        day = today + timedelta(days=offset)
        if day.weekday() not in days:
            continue
        wanted = datetime.combine(day, caregiver.tip_time, tzinfo=zone)
        send_at = timing.next_allowed(caregiver, wanted)
        # A tip that cannot go on its day is skipped, not squeezed into the next one.
        if send_at is None or send_at.astimezone(zone).date() != day or not now <= send_at <= until:
            continue
        for channel in channels:
            found.append(
                Candidate(
                    dedupe_key=f"tip:{caregiver.pk}:{day.isoformat()}:{channel}",
                    caregiver=caregiver,
                    channel=channel,
                    kind=OutboundMessage.Kind.TIP,
                    send_at=send_at,
                    not_after=send_at + TIP_STALE_AFTER,
                    priority=100,
                )
            )
    return found


def _tip_library(*, language: str, check_in: bool) -> list[Tip]:
    tips = Tip.objects.filter(active=True, language=language).select_related("category")
    if check_in:
        tips = tips.filter(Q(category__slug="what-to-say") | Q(tags__icontains='"check-in"'))
    return list(tips)


def _tip_history(caregiver_ids: Iterable[int]) -> dict[int, list[dict]]:
    """Per caregiver, each tip they were given or will be: how many times, and the latest send_at."""
    history: dict[int, list[dict]] = defaultdict(list)
    rows = (
        OutboundMessage.objects.filter(caregiver_id__in=list(caregiver_ids), tip__isnull=False)
        .exclude(status__in=[Status.CANCELLED, Status.SUPPRESSED, Status.FAILED])
        .values("caregiver_id", "tip_id")
        .annotate(times=Count("id"), last=Max("send_at"))
    )
    for row in rows:
        history[row["caregiver_id"]].append(row)
    return history


def tips_choose(
    *,
    caregiver: Caregiver,
    count: int,
    check_in: bool = False,
    library: list[Tip] | None = None,
    history: list[dict] | None = None,
) -> list[Tip]:
    """The next `count` tips for a caregiver: none repeats before they have had every active tip,
    and each pick prefers the category they heard from least recently.

    `library` (the active tips to choose from) and `history` (the caregiver's, from `_tip_history`)
    are loaded here unless given: the planner loads them once for every caregiver of a tick.
    """
    tips = library if library is not None else _tip_library(language=caregiver.language, check_in=check_in)
    if not tips:
        return []
    if history is None:
        history = _tip_history([caregiver.pk])[caregiver.pk]
    times = Counter({row["tip_id"]: row["times"] for row in history})
    # Larger means heard more recently; a category never heard sorts first.
    category_of = {t.pk: t.category_id for t in tips}
    recency: dict[int, float] = {}
    for row in history:
        category = category_of.get(row["tip_id"])
        if category is not None:
            recency[category] = max(recency.get(category, float("-inf")), row["last"].timestamp())
    chosen: list[Tip] = []
    for turn in range(count):
        fewest = min(times[t.pk] for t in tips)
        pool = [t for t in tips if times[t.pk] == fewest]
        # Same caregiver, same order; different caregivers, different orders.
        pick = min(
            pool,
            key=lambda t: (
                recency.get(t.category_id, float("-inf")),
                hashlib.blake2b(f"{caregiver.pk}:{t.slug}".encode(), digest_size=4).hexdigest(),
            ),
        )
        chosen.append(pick)
        times[pick.pk] += 1
        recency[pick.category_id] = 1e18 + turn
    return chosen


# --- Turning candidates into rows -------------------------------------------------------------


def _daily_counts(caregiver_ids: set[int], start: datetime, end: datetime) -> Counter:
    """(caregiver, channel, local date) → capped messages already planned or sent."""
    rows = OutboundMessage.objects.filter(
        caregiver_id__in=caregiver_ids,
        kind__in=OutboundMessage.CAPPED_KINDS,
        send_at__gte=start,
        send_at__lt=end,
        status__in=[Status.SCHEDULED, Status.QUEUED, *OutboundMessage.OUT],
    ).select_related("caregiver")
    return Counter((m.caregiver_id, m.channel, timing.local_day(m.caregiver, m.send_at)) for m in rows)


def _apply_cap(candidates: list[Candidate], counts: Counter) -> list[Candidate]:
    """Reminders keep their place by rule position; tips only go where there is room."""
    kept = []
    for candidate in sorted(candidates, key=lambda c: (c.caregiver.pk, c.local_date, c.priority, c.send_at)):
        slot = (candidate.caregiver.pk, candidate.channel, candidate.local_date)
        if candidate.status_reason:
            kept.append(candidate)
            continue
        if counts[slot] >= settings.DAILY_MESSAGE_CAP:
            if candidate.kind == OutboundMessage.Kind.TIP:
                continue
            candidate.status_reason = "daily_cap"
        else:
            counts[slot] += 1
        kept.append(candidate)
    return kept


def _attach_tips(candidates: list[Candidate]) -> None:
    """Choose tips for new tip rows and check-in reminders: one tip per caregiver and day, shared by channels."""
    wanted: dict[tuple[int, date, bool], list[Candidate]] = defaultdict(list)
    for c in candidates:
        if c.kind == OutboundMessage.Kind.TIP or (c.rule is not None and c.rule.key == CHECK_IN_RULE):
            wanted[(c.caregiver.pk, c.local_date, c.kind != OutboundMessage.Kind.TIP)].append(c)
    by_caregiver: dict[tuple[int, bool], list[tuple[date, list[Candidate]]]] = defaultdict(list)
    for (caregiver_id, day, check_in), group in wanted.items():
        by_caregiver[(caregiver_id, check_in)].append((day, group))
    # Two queries for the whole tick, not two per caregiver: a month of planning spent most of its time here.
    history = _tip_history({caregiver_id for caregiver_id, _ in by_caregiver})
    libraries: dict[tuple[str, bool], list[Tip]] = {}
    for (caregiver_id, check_in), days in by_caregiver.items():
        caregiver = days[0][1][0].caregiver
        library = libraries.get((caregiver.language, check_in))
        if library is None:
            library = libraries[(caregiver.language, check_in)] = _tip_library(
                language=caregiver.language, check_in=check_in
            )
        tips = tips_choose(
            caregiver=caregiver, count=len(days), check_in=check_in, library=library, history=history[caregiver_id]
        )
        for (_, group), tip in zip(sorted(days, key=lambda d: d[0]), tips, strict=False):
            for c in group:
                c.tip = tip


def _row(candidate: Candidate) -> OutboundMessage | None:
    caregiver = candidate.caregiver
    if candidate.kind == OutboundMessage.Kind.TIP:
        if candidate.tip is None:
            return None
        body = rendering.tip_body(tip=candidate.tip, channel=candidate.channel, caregiver=caregiver)
    else:
        context = rendering.appointment_context(caregiver, candidate.appointment)
        if candidate.tip is not None:
            context |= {
                "tip_sms": candidate.tip.sms_body,
                "tip_title": candidate.tip.title,
                "tip_email": candidate.tip.email_markdown,
            }
        elif candidate.rule.key == CHECK_IN_RULE:
            return None
        body = rendering.template_body(
            key=candidate.rule.template_key, channel=candidate.channel, context=context, caregiver=caregiver
        )
    return OutboundMessage(
        caregiver=caregiver,
        channel=candidate.channel,
        kind=candidate.kind,
        body=body.text,
        subject=body.subject,
        html=body.html,
        tip=candidate.tip,
        appointment=candidate.appointment,
        rule=candidate.rule,
        dedupe_key=candidate.dedupe_key,
        send_at=candidate.send_at,
        not_after=candidate.not_after,
        status=Status.SUPPRESSED if candidate.status_reason else Status.SCHEDULED,
        status_reason=candidate.status_reason,
    )


def _existing(keys: list[str]) -> dict[str, OutboundMessage]:
    found = {}
    for start in range(0, len(keys), 1000):
        chunk = keys[start : start + 1000]
        found |= {
            m.dedupe_key: m
            for m in OutboundMessage.objects.filter(dedupe_key__in=chunk).only("id", "dedupe_key", "status")
        }
    return found


def _load_caregivers(queryset) -> list[Caregiver]:
    return list(caregivers_with_consent(queryset.select_related("clinic")))


def _rules_by_clinic(clinic_ids: set[int]) -> dict[int, list[ReminderRule]]:
    rules: dict[int, list[ReminderRule]] = defaultdict(list)
    for rule in ReminderRule.objects.filter(clinic_id__in=clinic_ids, active=True).order_by("position"):
        rules[rule.clinic_id].append(rule)
    return rules


def _candidates(
    *, appointments: list[Appointment], caregivers: list[Caregiver], now: datetime, until: datetime, tips: bool
) -> list[Candidate]:
    by_id = {c.pk: c for c in caregivers}
    links = CareLink.objects.filter(loved_one__in={a.loved_one_id for a in appointments}, caregiver__in=by_id)
    supporters: dict[int, list[Caregiver]] = defaultdict(list)
    for loved_one_id, caregiver_id in links.values_list("loved_one_id", "caregiver_id"):
        supporters[loved_one_id].append(by_id[caregiver_id])
    rules = _rules_by_clinic({a.loved_one.clinic_id for a in appointments})
    found: list[Candidate] = []
    for appointment in appointments:
        for caregiver in supporters[appointment.loved_one_id]:
            found += reminder_candidates(
                appointment=appointment,
                caregiver=caregiver,
                rules=rules[appointment.loved_one.clinic_id],
                now=now,
                until=until,
            )
    if tips:
        for caregiver in caregivers:
            found += tip_candidates(caregiver=caregiver, now=now, until=until)
    return found


def _appointments_near(now: datetime, until: datetime, **filters) -> list[Appointment]:
    # Rules reach a few days either side of an appointment (two days before, the next morning).
    return list(
        Appointment.objects.filter(
            status=Appointment.Status.SCHEDULED,
            starts_at__gte=now - timedelta(days=3),
            starts_at__lt=until + timedelta(days=3),
            **filters,
        ).select_related("loved_one__clinic")
    )


def _materialise(new: list[Candidate], now: datetime, until: datetime) -> list[OutboundMessage]:
    counts = _daily_counts({c.caregiver.pk for c in new}, now - timedelta(days=1), until + timedelta(days=1))
    kept = _apply_cap(new, counts)
    _attach_tips(kept)
    return [row for row in map(_row, kept) if row is not None]


def pauses_end(*, now: datetime) -> int:
    """Resume the caregivers whose pause is over.

    Nothing else ends a pause, and the planner plans for active caregivers only: without this, a
    caregiver who paused for three days heard nothing ever again. Resuming announces the change,
    which re-plans the rows cancelled when they paused.
    """
    ended = Caregiver.objects.filter(status=Caregiver.Status.PAUSED, paused_until__lte=now)
    resumed = 0
    for caregiver in ended:
        caregiver_services.caregiver_resume(caregiver=caregiver)
        resumed += 1
    return resumed


def plan_window(*, now: datetime) -> dict[str, int]:
    """Create the rows for the next PLAN_HORIZON_HOURS that do not exist yet. Idempotent."""
    resumed = pauses_end(now=now)
    until = now + timedelta(hours=settings.PLAN_HORIZON_HOURS)
    appointments = _appointments_near(now, until)
    caregivers = _load_caregivers(Caregiver.objects.filter(status=Caregiver.Status.ACTIVE))
    candidates = _candidates(appointments=appointments, caregivers=caregivers, now=now, until=until, tips=True)
    existing = _existing([c.dedupe_key for c in candidates])
    new = [c for c in candidates if c.dedupe_key not in existing]
    rows = _materialise(new, now, until)
    OutboundMessage.objects.bulk_create(rows, ignore_conflicts=True, batch_size=500)
    return {"candidates": len(candidates), "created": len(rows), "resumed": resumed}


@transaction.atomic
def _replan(
    *, caregivers: list[Caregiver], appointments: list[Appointment], scope: Q, reason: str, tips: bool, now: datetime
) -> dict[str, int]:
    until = now + timedelta(hours=settings.PLAN_HORIZON_HOURS)
    candidates = _candidates(appointments=appointments, caregivers=caregivers, now=now, until=until, tips=tips)
    wanted = {c.dedupe_key: c for c in candidates}
    pending = list(OutboundMessage.objects.select_for_update().filter(scope, status=Status.SCHEDULED))
    cancelled = [m.pk for m in pending if m.dedupe_key not in wanted]
    OutboundMessage.objects.filter(pk__in=cancelled, status=Status.SCHEDULED).update(
        status=Status.CANCELLED, status_reason=reason, updated_at=now
    )
    existing = _existing(list(wanted))
    rewrite = {key: m for key, m in existing.items() if m.status in REWRITABLE}
    fresh = [c for key, c in wanted.items() if key not in existing or key in rewrite]
    rows = _materialise(fresh, now, until)
    updated = 0
    for row in rows:
        if row.dedupe_key in rewrite:
            current = rewrite[row.dedupe_key]
            fields = ["body", "subject", "html", "tip", "send_at", "not_after", "status", "status_reason"]
            for name in fields:
                setattr(current, name, getattr(row, name))
            current.save(update_fields=[*fields, "updated_at"])
            updated += 1
    OutboundMessage.objects.bulk_create([r for r in rows if r.dedupe_key not in rewrite], ignore_conflicts=True)
    return {"cancelled": len(cancelled), "updated": updated, "created": len(rows) - updated}


def appointment_replan(*, appointment_id: int, now: datetime) -> dict[str, int]:
    """An appointment changed: cancel what no longer fits, plan what does."""
    appointment = Appointment.objects.select_related("loved_one__clinic").filter(pk=appointment_id).first()
    if appointment is None:
        return {"missing": 1}
    caregivers = _load_caregivers(Caregiver.objects.filter(links__loved_one=appointment.loved_one_id))
    reason = {
        Appointment.Status.CANCELLED: "appointment_cancelled",
        Appointment.Status.COMPLETED: "appointment_completed",
    }.get(appointment.status, "rescheduled")
    if appointment.ride_arranged and appointment.status == Appointment.Status.SCHEDULED:
        reason = "ride_arranged"
    return _replan(
        caregivers=caregivers,
        appointments=[appointment],
        scope=Q(appointment_id=appointment.pk),
        reason=reason,
        tips=False,
        now=now,
    )


def caregiver_replan(*, caregiver_id: int, now: datetime) -> dict[str, int]:
    """A caregiver changed (paused, opted out, new preferences or time zone): re-plan their rows."""
    caregiver = _load_caregivers(Caregiver.objects.filter(pk=caregiver_id))
    if not caregiver:
        return {"missing": 1}
    until = now + timedelta(hours=settings.PLAN_HORIZON_HOURS)
    appointments = _appointments_near(now, until, loved_one__links__caregiver_id=caregiver_id)
    reason = {
        Caregiver.Status.OPTED_OUT: "opted_out",
        Caregiver.Status.PAUSED: "paused",
        Caregiver.Status.PENDING: "no_consent",
    }.get(caregiver[0].status, "replanned")
    return _replan(
        caregivers=caregiver,
        appointments=appointments,
        scope=Q(caregiver_id=caregiver_id, kind__in=OutboundMessage.CAPPED_KINDS),
        reason=reason,
        tips=True,
        now=now,
    )
