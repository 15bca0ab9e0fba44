"""Tips that follow the course: the first three weeks of a new caregiver's messages, day by day,
each checked against where the family is on that day."""

from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.utils import timezone
from hypothesis import given
from hypothesis import strategies as st

from caregiver import services
from caregiver.validators import local_to_utc
from messaging import planning
from messaging.models import OutboundMessage
from messaging.planning import Course
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)
NY = ZoneInfo("America/New_York")
GENERAL = {"what-to-say", "what-not-to-say", "everyday-help", "caring-for-yourself"}
# The first series: six sessions over three weeks (Mon/Wed/Fri, with a gap over the holiday).
SESSIONS = ["2026-12-14 10:00", "2026-12-16 10:00", "2026-12-18 10:00", "2026-12-21 10:00", "2026-12-23 10:00",
            "2026-12-28 10:00"]  # fmt: skip


def _new_caregiver(*, channels="sms", **fields):
    clinic = factories.ClinicFactory(time_zone="America/New_York")
    loved_one = factories.LovedOneFactory(clinic=clinic, first_name="Alex")
    caregiver = factories.CaregiverFactory(
        clinic=clinic, time_zone="America/New_York", channels=channels, tip_frequency="daily", **fields
    )
    factories.CareLinkFactory(caregiver=caregiver, loved_one=loved_one)
    for channel in ("sms", "email"):
        if channels in (channel, "both"):
            factories.ConsentRecordFactory(caregiver=caregiver, channel=channel)
    return caregiver, loved_one


def _live(caregiver, days: int, start: date):
    """Plan each morning for `days` days, as the beat would, and mark what was due as sent."""
    for offset in range(days):
        morning = datetime.combine(start + timedelta(days=offset), datetime.min.time(), tzinfo=NY) + timedelta(hours=7)
        with time_machine.travel(morning, tick=False):
            planning.plan_due(now=timezone.now())
        OutboundMessage.objects.filter(
            caregiver=caregiver, status="scheduled", send_at__lt=morning + timedelta(days=1)
        ).update(status="sent", sent_at=morning)


def _course_days(caregiver, sessions: list[str]) -> Course:
    starts = [(local_to_utc(datetime.fromisoformat(s), time_zone="America/New_York"), "infusion") for s in sessions]
    return planning.course_of(caregiver=caregiver, sessions=starts)


def _tip_lines(caregiver) -> list[tuple[date, str, OutboundMessage]]:
    rows = (
        OutboundMessage.objects.filter(caregiver=caregiver, tip__isnull=False, status="sent")
        .select_related("tip__category", "rule")
        .order_by("send_at")
    )
    return [(m.send_at.astimezone(NY).date(), "check-in" if m.rule else "tip", m) for m in rows]


def test_the_first_three_weeks_follow_the_course(content, capsys):
    caregiver, loved_one = _new_caregiver()
    for start in SESSIONS:
        services.appointment_create(
            loved_one=loved_one, starts_at=local_to_utc(datetime.fromisoformat(start), time_zone="America/New_York")
        )
    _live(caregiver, 21, date(2026, 12, 7))
    course = _course_days(caregiver, SESSIONS)
    lines = _tip_lines(caregiver)
    everything = OutboundMessage.objects.filter(caregiver=caregiver, status="sent").order_by("send_at")
    shown = "\n".join(
        f"{m.send_at.astimezone(NY):%a %b %d %H:%M}  {m.kind:8} {(m.rule.key if m.rule else m.tip.category.slug):22} "
        f"{m.body[:70]}"
        for m in everything.select_related("rule", "tip__category")
    )
    print(shown)  # the three weeks, in order (pytest -s shows them)

    # The first tips are the essentials, what to say first.
    tips = [m for _, what, m in lines if what == "tip"]
    assert tips[0].tip.category.slug == "what-to-say"
    assert "essentials" in tips[0].tip.tags
    # The ride-home essential comes before the first session.
    ride = [m for m in tips if m.tip.category.slug == "appointment-day" and "essentials" in m.tip.tags]
    assert ride, shown
    assert ride[0].send_at.astimezone(NY).date() < date(2026, 12, 14), shown
    for day, what, message in lines:
        category = message.tip.category.slug
        if what == "check-in":
            assert category != "warning-signs", shown
            continue
        if category == "appointment-day":
            assert course.session_within(day, before=0, after=2), (day, message.tip.slug)
        elif category == "after-treatment":
            assert course.session_within(day, before=1, after=0), (day, message.tip.slug)
        elif category == "course":
            phases = {"first-series", "after-series", "maintenance"} & set(message.tip.tags)
            assert not phases or course.phase(day) in phases, (day, message.tip.slug, course.phase(day))
        else:
            # A text-only caregiver who did not ask for safety tips by text gets none by text.
            assert category in GENERAL, (day, message.tip.slug)
    # Before any session, nothing about the evening after one.
    before = [m for d, _, m in lines if d < date(2026, 12, 13)]
    assert all(m.tip.category.slug != "after-treatment" for m in before)


def test_a_family_without_appointments_gets_only_general_tips(content):
    caregiver, _ = _new_caregiver()
    _live(caregiver, 14, date(2026, 12, 7))
    categories = {m.tip.category.slug for _, _, m in _tip_lines(caregiver)}
    assert categories
    assert categories <= GENERAL


def test_safety_tips_go_by_email_and_by_text_only_when_asked(content):
    by_email, _ = _new_caregiver(channels="email")
    asked, _ = _new_caregiver(channels="sms", safety_tips_sms=True)
    _live(by_email, 40, date(2026, 12, 7))
    _live(asked, 40, date(2026, 12, 7))
    assert any(m.tip.category.slug == "warning-signs" for _, _, m in _tip_lines(by_email))
    texted = [m for _, _, m in _tip_lines(asked) if m.tip.category.slug == "warning-signs"]
    assert texted
    assert all(m.body.startswith("Alongside: ") and m.tip.sms_body in m.body for m in texted)


@given(
    st.lists(st.tuples(st.integers(0, 90), st.booleans()), max_size=14),
    st.integers(-10, 100),
)
def test_phase_rules(sessions, day):
    start = date(2027, 1, 1)
    course = Course(sessions=tuple(sorted({(start + timedelta(days=d), b) for d, b in sessions})))
    phase = course.phase(start + timedelta(days=day))
    done = {d for d, b in sessions if d < day and not b}
    if not sessions:
        assert phase == "none"
    elif any(b and 0 < day - d <= 62 for d, b in sessions):
        assert phase == "maintenance"  # a booster has happened
    elif not any(b for _, b in sessions) and len(done) >= planning.FIRST_SERIES_SESSIONS:
        assert phase == "after-series"  # six sessions done, no booster planned
    elif len(done) < planning.FIRST_SERIES_SESSIONS and any(not b and abs(d - day) <= 2 for d, b in sessions):
        assert phase == "first-series"  # in the middle of the first sessions
    else:
        assert phase in ("first-series", "after-series", "maintenance")


def test_a_booster_planned_after_the_first_series_is_not_maintenance_yet(content):
    # The demo course: six sessions over two weeks, then a booster every two weeks.
    days = [0, 2, 4, 7, 9, 11]
    course = Course(
        sessions=(
            *tuple((date(2027, 1, 4) + timedelta(days=d), False) for d in days),
            (date(2027, 1, 29), True),
            (date(2027, 2, 12), True),
        )
    )
    assert course.phase(date(2027, 1, 5)) == "first-series"
    assert course.phase(date(2027, 1, 15)) == "first-series"  # a week after the sixth
    assert course.phase(date(2027, 1, 20)) == "maintenance"  # the first booster is within two weeks
    assert course.phase(date(2027, 2, 1)) == "maintenance"
