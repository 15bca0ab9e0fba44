"""A month for 200 caregivers in five time zones, across every DST change of spring 2027, with
appointments moved and cancelled, pauses and STOPs. The planner, the dispatcher and the sending
code run step by step on a simulated clock, in this process, with the console SMS backend.

What a caregiver would notice is checked against the clock and their own settings, computed here
independently of messaging/timing.py: nothing in quiet hours, nothing after STOP or during a
pause, no reminder for a cancelled or moved appointment, and every reminder that was due, on time.
"""

from __future__ import annotations

import itertools
import logging
import random
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.conf import settings
from django.db import transaction
from django.db.models import Min
from django.utils import timezone
from twilio.request_validator import RequestValidator

from caregiver import services
from caregiver.models import Appointment, Caregiver
from caregiver.validators import local_to_utc
from config.celery import app
from messaging import dispatch, planning, sending
from messaging.dispatch import task_chunks
from messaging.models import OutboundMessage
from tests.factories import ClinicFactory
from tests.reliability.conftest import families

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]

# US clocks go forward on 14 March 2027, the UK and the EU on 28 March, Sydney goes back on 4 April.
ZONES = ["America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Berlin", "Australia/Sydney"]
START = datetime(2027, 3, 8, tzinfo=UTC)  # a Monday
END = datetime(2027, 4, 8, tzinfo=UTC)
STEP = timedelta(minutes=10)  # a dispatcher tick
PLAN_EVERY = timedelta(hours=12)  # a planner tick, 48 hours ahead each time (re-plans on change are immediate)
# Four kinds of caregiver per clinic, ten of each: (quiet start, quiet end, tip frequency, tip time, lives elsewhere)
KINDS = [
    (time(21, 0), time(8, 0), "daily", time(10, 0), False),
    (time(20, 0), time(9, 0), "three_weekly", time(9, 0), False),
    (time(13, 0), time(15, 0), "weekly", time(13, 30), False),  # a nap: quiet in the afternoon
    (time(21, 0), time(8, 0), "paused", time(10, 0), True),  # lives in the next zone along
]
PER_KIND = 10
# Half the families start a course of infusions on one of these Mondays; the others come for boosters.
COURSE_STARTS = [date(2027, 3, 15), date(2027, 3, 22), date(2027, 3, 29)]
RESCHEDULES, CANCELLATIONS, PAUSES, STOPS = 40, 30, 20, 15
RULES = ["ride-two-days-before", "evening-before", "expected-end", "next-morning"]


def snap(moment: datetime) -> datetime:
    """The first dispatcher tick at or after `moment`."""
    ticks = -(-(moment - START) // STEP)
    return START + ticks * STEP


@dataclass
class Month:
    """What happened, as the test arranged it: the truth the outbox is checked against."""

    starts: dict[int, list[tuple[datetime, datetime]]] = field(default_factory=dict)  # appointment: [(from, start)]
    cancelled: dict[int, datetime] = field(default_factory=dict)
    paused: dict[int, tuple[datetime, datetime]] = field(default_factory=dict)
    stopped: dict[int, datetime] = field(default_factory=dict)
    events: list[tuple[datetime, str, int, object]] = field(default_factory=list)


def build(rng: random.Random) -> Month:
    month = Month()
    for index, zone in enumerate(ZONES):
        clinic = ClinicFactory(time_zone=zone, twilio_from_number=f"+1202555019{index}")
        for quiet_start, quiet_end, frequency, tip_time, elsewhere in KINDS:
            home = ZONES[(index + 1) % len(ZONES)] if elsewhere else zone
            fields = {"quiet_start": quiet_start, "quiet_end": quiet_end, "tip_frequency": frequency}
            for n, (_, loved_one) in enumerate(
                families(PER_KIND, clinic=clinic, time_zone=home, tip_time=tip_time, **fields)
            ):
                at = rng.choice([time(8, 30), time(9, 0), time(10, 0), time(11, 30), time(13, 0), time(14, 0)])
                if n % 2 == 0:  # an induction course: Monday, Wednesday, Friday, Monday
                    first, kind = rng.choice(COURSE_STARTS), "infusion"
                    days = [first + timedelta(days=offset) for offset in (0, 2, 4, 7)]
                else:  # maintenance: two boosters, a fortnight apart
                    first, kind = date(2027, 3, 10) + timedelta(days=rng.randint(0, 13)), "booster"
                    days = [first, first + timedelta(days=14)]
                for day in days:
                    starts_at = local_to_utc(datetime.combine(day, at), time_zone=zone)
                    appointment = Appointment.objects.create(
                        loved_one=loved_one, starts_at=starts_at, kind=kind, duration_minutes=rng.choice([60, 90, 120])
                    )
                    month.starts[appointment.pk] = [(START, starts_at)]
    appointments = list(Appointment.objects.all())
    rng.shuffle(appointments)
    for appointment in appointments[:RESCHEDULES]:
        when = snap(appointment.starts_at - timedelta(hours=rng.randint(20, 70)))
        moved = appointment.starts_at + rng.choice([timedelta(days=1), timedelta(hours=3), -timedelta(hours=2)])
        month.events.append((max(when, START + STEP), "reschedule", appointment.pk, moved))
    for appointment in appointments[RESCHEDULES : RESCHEDULES + CANCELLATIONS]:
        when = snap(appointment.starts_at - timedelta(hours=rng.randint(6, 60)))
        month.events.append((max(when, START + STEP), "cancel", appointment.pk, None))
    people = list(Caregiver.objects.all())
    rng.shuffle(people)
    for caregiver in people[:PAUSES]:
        when = snap(START + timedelta(days=3) + timedelta(minutes=rng.randint(0, 18 * 24 * 60)))
        month.events.append((when, "pause", caregiver.pk, rng.randint(2, 5)))
    for caregiver in people[PAUSES : PAUSES + STOPS]:
        when = snap(START + timedelta(days=4) + timedelta(minutes=rng.randint(0, 20 * 24 * 60)))
        month.events.append((when, "stop", caregiver.pk, None))
    month.events.sort(key=lambda event: (event[0], event[1], event[2]))
    return month


def text_stop(client, caregiver: Caregiver, when: datetime) -> None:
    """The caregiver texts STOP: Twilio calls our signed inbound webhook."""
    params = {
        "MessageSid": f"SMstop{caregiver.pk}",
        "From": caregiver.phone,
        "To": caregiver.clinic.twilio_from_number,
        "Body": "STOP",
    }
    url = f"{settings.PUBLIC_BASE_URL}/webhooks/twilio/inbound/"
    signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(url, params)
    reply = client.post("/webhooks/twilio/inbound/", params, HTTP_X_TWILIO_SIGNATURE=signature)
    assert reply.status_code == 200
    assert reply.content.decode().count("<Message>") == 1


def happen(event: tuple[datetime, str, int, object], month: Month, client) -> None:
    when, what, pk, detail = event
    # As a web request would: the service's transaction commits, then messaging re-plans.
    with transaction.atomic():
        if what == "reschedule":
            appointment = Appointment.objects.get(pk=pk)
            if appointment.status == Appointment.Status.SCHEDULED and appointment.starts_at > when:
                services.appointment_reschedule(appointment=appointment, starts_at=detail)
                month.starts[pk].append((when, detail))
        elif what == "cancel":
            services.appointment_cancel(appointment=Appointment.objects.get(pk=pk))
            month.cancelled[pk] = when
        elif what == "pause":
            caregiver = Caregiver.objects.get(pk=pk)
            services.caregiver_pause_days(caregiver=caregiver, days=detail)
            month.paused[pk] = (when, caregiver.paused_until)
    if what == "stop":
        text_stop(client, Caregiver.objects.select_related("clinic").get(pk=pk), when)
        month.stopped[pk] = when


def send_now(ids: list[int]) -> None:
    # What the workers do with the dispatcher's claim, one task's batch after another.
    for chunk in task_chunks(ids):
        sending.messages_send(message_ids=chunk)


@pytest.fixture
def replans_in_process():
    """Re-plans enqueued on commit run at once, as a worker would run them moments later."""
    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def live(month: Month, client) -> Counter:
    """Run the month tick by tick. A tick at which nothing is due, planned or happening would do
    nothing (sends finish within their tick, so no lease is ever outstanding): it is skipped."""
    events = iter(month.events)
    upcoming = next(events, None)
    next_plan = START
    ticks = Counter()
    with time_machine.travel(START, tick=False) as clock:
        moment = START
        while moment < END:
            clock.move_to(moment)
            while upcoming is not None and upcoming[0] <= moment:
                happen(upcoming, month, client)
                upcoming = next(events, None)
            if moment >= next_plan:
                planning.plan_due(now=moment)
                next_plan += PLAN_EVERY
                ticks["planner"] += 1
            dispatch.dispatch_due(now=moment, batch_size=500, max_per_tick=5000, enqueue=send_now)
            ticks["dispatcher"] += 1
            due = OutboundMessage.objects.filter(status="scheduled").aggregate(first=Min("send_at"))["first"]
            moment = max(moment + STEP, min(snap(due or END), next_plan, upcoming[0] if upcoming else END))
    return ticks


# --- What a caregiver would notice, computed without messaging/timing.py -------------------------


def allowed(caregiver: Caregiver, moment: datetime) -> bool:
    local = moment.astimezone(ZoneInfo(caregiver.time_zone)).time()
    if not time(8, 0) <= local < time(21, 0):
        return False
    start, end = caregiver.quiet_start, caregiver.quiet_end
    if start == end:
        return True
    if start > end:  # overnight
        return end <= local < start
    return not start <= local < end


def fires_at(rule: str, appointment: Appointment, starts_at: datetime, caregiver: Caregiver) -> datetime:
    zone = ZoneInfo(caregiver.time_zone)
    day = starts_at.astimezone(zone).date()
    at = {
        "ride-two-days-before": lambda: datetime.combine(day - timedelta(days=2), time(12, 0), tzinfo=zone),
        "evening-before": lambda: datetime.combine(day - timedelta(days=1), time(18, 0), tzinfo=zone),
        # Likely home: the end, the clinic's 60 minutes of observation, 45 minutes to get home.
        "expected-end": lambda: starts_at + timedelta(minutes=appointment.duration_minutes + 60 + 45),
        "next-morning": lambda: datetime.combine(day + timedelta(days=1), time(9, 0), tzinfo=zone),
    }[rule]()
    return at.astimezone(UTC)


def version_at(month: Month, appointment_id: int, moment: datetime) -> datetime:
    """The appointment's start as it stood at `moment`."""
    return [start for since, start in month.starts[appointment_id] if since <= moment][-1]


class Phones(logging.Handler):
    """What the console SMS backend "sent", and when on the simulated clock: the phones' side."""

    def __init__(self):
        super().__init__(level=logging.INFO)
        self.received: list[tuple[str, str, str, datetime]] = []

    def emit(self, record: logging.LogRecord) -> None:
        sid, to, _, body = record.args
        self.received.append((sid, to, body, timezone.now()))


@pytest.fixture
def phones(settings):
    """The console SMS backend (what is sent is logged, not posted: a month of it over HTTP to
    the fake Twilio takes minutes), with a listener on its log."""
    settings.SMS_BACKEND = "console"
    settings.TWILIO_AUTH_TOKEN = "simulated-month-token"  # the inbound webhook checks signatures with it
    logger = logging.getLogger("messaging.sms")
    handler, level, propagate = Phones(), logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
    yield handler
    logger.removeHandler(handler)
    logger.setLevel(level)
    logger.propagate = propagate


def due_reminders(month: Month, people: dict[int, Caregiver]):
    """(dedupe key, when it was due, caregiver) for every reminder that should have reached someone:
    its appointment stood at that time then and was not cancelled, its caregiver had not texted
    STOP and was not paused (nor in the planner tick after a pause ended), inside the month."""
    links = defaultdict(list)
    for caregiver in people.values():
        for loved_one_id in caregiver.loved_ones.values_list("pk", flat=True):
            links[loved_one_id].append(caregiver)
    for appointment in Appointment.objects.all():
        for since, starts_at in month.starts[appointment.pk]:
            for caregiver, rule in itertools.product(links[appointment.loved_one_id], RULES):
                due = fires_at(rule, appointment, starts_at, caregiver)
                pause = month.paused.get(caregiver.pk)
                if (
                    version_at(month, appointment.pk, due) != starts_at  # moved before it was due
                    or due < since + STEP  # a move made it due at once: planned late, on purpose
                    or due >= month.cancelled.get(appointment.pk, END)
                    or due >= month.stopped.get(caregiver.pk, END)
                    or (pause and pause[0] <= due < pause[1] + PLAN_EVERY + STEP)
                    or not START + timedelta(days=2) <= due < END - STEP
                ):
                    continue
                key = f"reminder:{appointment.pk}:{rule}:{caregiver.pk}:sms:{int(starts_at.timestamp())}"
                yield key, due, caregiver


def test_a_month_of_messages_goes_out_right_across_dst(client, phones, content, replans_in_process):
    rng = random.Random(2027)
    with time_machine.travel(START - timedelta(days=1), tick=False):
        month = build(rng)
    ticks = live(month, client)

    people = {c.pk: c for c in Caregiver.objects.all()}
    rows = list(OutboundMessage.objects.select_related("rule", "appointment"))
    went = [m for m in rows if m.status == "sent"]
    # A reply to STOP goes back in the webhook's answer (TwiML), not through the provider.
    replies = [m for m in went if m.provider_id.startswith("twiml:")]
    went = [m for m in went if m not in replies]
    capped = [m for m in went if m.kind in ("tip", "reminder")]
    figures = {
        "ticks": dict(ticks),
        "planned": len(rows),
        "sent": len(went),
        "replies to STOP": len(replies),
        "by kind": dict(Counter(m.kind for m in went)),
        "held back": dict(Counter(f"{m.status}:{m.status_reason}" for m in rows if m.status != "sent")),
    }
    print(f"\nFAULTS month: {figures}")

    # What the phones got is what the outbox says went out, when it says, once each.
    assert len(phones.received) == len(went)
    assert set(phones.received) == {(m.provider_id, m.to, m.body, m.sent_at) for m in went}
    assert {m.status for m in rows} <= {"sent", "scheduled", "cancelled", "suppressed"}
    assert not [m for m in rows if m.status == "scheduled" and m.send_at < END - STEP]

    # Nothing in quiet hours, in the caregiver's own zone and by their own settings.
    assert [m for m in capped if not allowed(people[m.caregiver_id], m.sent_at)] == []
    # Nothing after STOP, nothing during a pause.
    assert [m for m in went if m.caregiver_id in month.stopped and m.sent_at >= month.stopped[m.caregiver_id]] == []
    paused = month.paused
    assert [
        m
        for m in capped
        if m.caregiver_id in paused and paused[m.caregiver_id][0] <= m.sent_at < paused[m.caregiver_id][1]
    ] == []
    # No reminder for a cancelled appointment, nor for the old time of a moved one.
    reminders = [m for m in went if m.kind == "reminder"]
    for m in reminders:
        assert not (m.appointment_id in month.cancelled and m.sent_at >= month.cancelled[m.appointment_id]), m
        stood = version_at(month, m.appointment_id, m.sent_at)
        assert m.dedupe_key.endswith(f":{int(stood.timestamp())}"), m

    # Every reminder that was due went out on time (within one dispatcher tick), or, when its
    # moment fell in the caregiver's quiet hours, earlier or later that day, or not at all.
    sent_by_key = {m.dedupe_key: m for m in reminders}
    by_key = {m.dedupe_key: m for m in rows}
    day_counts = Counter(
        (m.caregiver_id, m.sent_at.astimezone(ZoneInfo(people[m.caregiver_id].time_zone)).date()) for m in capped
    )
    checked = Counter()
    for key, due, caregiver in due_reminders(month, people):
        sent, row = sent_by_key.get(key), by_key.get(key)
        zone = ZoneInfo(caregiver.time_zone)
        if row is not None and row.status_reason == "daily_cap":
            # Only when three tips and reminders already went to them that local day.
            same_day = [
                (m.dedupe_key, m.status, m.status_reason, m.send_at)
                for m in rows
                if m.caregiver_id == caregiver.pk and m.send_at.astimezone(zone).date() == due.astimezone(zone).date()
            ]
            assert day_counts[(caregiver.pk, due.astimezone(zone).date())] >= settings.DAILY_MESSAGE_CAP, (
                key,
                same_day,
            )
            checked["dropped: daily cap"] += 1
        elif allowed(caregiver, due):
            assert sent is not None, (key, due, row and (row.status, row.status_reason), caregiver.time_zone)
            assert timedelta(0) <= sent.sent_at - due < STEP, (key, due, sent.sent_at)
            checked["on time"] += 1
            if due.astimezone(zone).utcoffset() != (due - timedelta(days=1)).astimezone(zone).utcoffset():
                checked[f"DST day in {caregiver.time_zone}"] += 1
        elif sent is not None:
            # Moved out of quiet hours, but never to another day ("the next morning" stays the
            # next morning); later only while it is still in time (its not_after).
            assert sent.sent_at.astimezone(zone).date() == due.astimezone(zone).date(), (key, due, sent.sent_at)
            assert row.not_after is None or sent.sent_at <= row.not_after, (key, due, sent.sent_at)
            checked["moved earlier" if sent.sent_at <= due else "moved later"] += 1
        else:
            assert row is not None, (key, due, caregiver.time_zone)
            assert row.status_reason == "quiet_hours", (key, row)
            checked["dropped: quiet hours"] += 1
    print(f"FAULTS month reminders: {dict(checked)}")
    assert checked["on time"] > 1500
    # Reminders on the day a clock changed, in every zone, were among them.
    assert {zone for zone in ZONES if checked[f"DST day in {zone}"]} == set(ZONES)
