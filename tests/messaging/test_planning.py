"""The planner: reminders at the right local times, tips that rotate, quiet hours and caps."""

from datetime import UTC, datetime, time, timedelta

import pytest
import time_machine
from django.db import transaction
from django.utils import timezone

from caregiver import services
from messaging import planning
from messaging.models import OutboundMessage, ReminderRule
from tests.messaging.conftest import local

pytestmark = pytest.mark.django_db(transaction=True)


def plan(now: str):
    with time_machine.travel(now, tick=False):
        return planning.plan_due(now=timezone.now())


def reminders(caregiver, rule_key=None):
    rows = (
        OutboundMessage.objects.filter(caregiver=caregiver, kind="reminder").select_related("rule").order_by("send_at")
    )
    return [m for m in rows if rule_key is None or m.rule.key == rule_key]


@pytest.mark.parametrize("zone", ["America/New_York", "America/Los_Angeles", "Europe/London", "Australia/Sydney"])
def test_reminders_land_at_their_local_times(family, infusion, zone):
    caregiver, loved_one = family(zone)
    infusion(loved_one, "2026-12-09 10:00", duration=90)  # a Wednesday
    for now in ("2026-12-06 12:00Z", "2026-12-08 12:00Z", "2026-12-09 12:00Z"):
        plan(now)
    got = {m.rule.key: local(m.send_at, zone) for m in reminders(caregiver)}
    assert got == {
        "ride-two-days-before": datetime(2026, 12, 7, 12, 0),
        "evening-before": datetime(2026, 12, 8, 18, 0),
        "expected-end": datetime(2026, 12, 9, 13, 15),  # 10:00 + 90 min + 60 min observation + 45 min home
        "next-morning": datetime(2026, 12, 10, 9, 0),
    }


@pytest.mark.parametrize(
    ("zone", "appointment", "now"),
    [
        ("America/New_York", "2026-11-02 10:00", "2026-11-01 06:00Z"),  # US clocks went back on Nov 1
        ("Europe/Berlin", "2026-10-26 10:00", "2026-10-25 06:00Z"),  # EU clocks went back on Oct 25
        ("Australia/Sydney", "2026-10-05 10:00", "2026-10-04 01:00Z"),  # Sydney went forward on Oct 4
    ],
)
def test_the_evening_before_stays_at_six_across_dst(family, infusion, zone, appointment, now):
    caregiver, loved_one = family(zone)
    infusion(loved_one, appointment)
    plan(now)
    (reminder,) = reminders(caregiver, "evening-before")
    assert local(reminder.send_at, zone).time() == time(18, 0)


def test_planning_twice_creates_nothing_new(family, infusion):
    _, loved_one = family()
    infusion(loved_one, "2026-12-09 10:00")
    first = plan("2026-12-08 12:00Z")
    second = plan("2026-12-08 12:01Z")
    assert first["created"] > 0
    assert second["created"] == 0
    assert OutboundMessage.objects.count() == first["created"]


def test_a_reminder_in_quiet_hours_moves_earlier(family, infusion):
    caregiver, loved_one = family(quiet_start=time(17, 0), quiet_end=time(8, 0))
    infusion(loved_one, "2026-12-09 10:00")
    plan("2026-12-08 12:00Z")
    (reminder,) = reminders(caregiver, "evening-before")
    assert local(reminder.send_at, "America/New_York") == datetime(2026, 12, 8, 16, 50)
    assert reminder.status == "scheduled"


def test_after_treatment_advice_that_would_fall_in_quiet_hours_before_the_treatment_is_suppressed(family, infusion):
    caregiver, loved_one = family(quiet_start=time(18, 0))
    infusion(loved_one, "2026-12-09 18:30", duration=60)  # pick-up 20:30, quiet from 18:00
    plan("2026-12-09 12:00Z")
    (reminder,) = reminders(caregiver, "expected-end")
    assert reminder.status == "suppressed"
    assert reminder.status_reason == "quiet_hours"


def test_no_reminders_for_a_caregiver_who_has_not_confirmed(family, infusion):
    caregiver, loved_one = family(status="pending")
    infusion(loved_one, "2026-12-09 10:00")
    plan("2026-12-08 12:00Z")
    assert reminders(caregiver) == []


def test_the_ride_reminder_is_skipped_once_a_ride_is_arranged(family, infusion):
    caregiver, loved_one = family()
    appointment = infusion(loved_one, "2026-12-09 10:00")
    services.appointment_mark_ride_arranged(appointment=appointment, caregiver=caregiver)
    plan("2026-12-07 06:00Z")
    assert reminders(caregiver, "ride-two-days-before") == []


def test_assessments_get_no_treatment_reminders(family, infusion):
    caregiver, loved_one = family()
    infusion(loved_one, "2026-12-09 10:00", kind="assessment")
    plan("2026-12-08 12:00Z")
    assert reminders(caregiver) == []


# --- Re-planning on change --------------------------------------------------------------------


def replanned(action):
    """Run a caregiver service as a web request would: the re-plan happens on commit."""
    with transaction.atomic():
        action()


@pytest.fixture
def eager():
    """The receivers enqueue re-plan tasks on commit; run them in-process here (a real worker in e2e)."""
    from config.celery import app

    app.conf.task_always_eager = True
    yield
    app.conf.task_always_eager = False


def test_rescheduling_moves_pending_reminders_at_once(family, infusion, eager):
    caregiver, loved_one = family()
    with time_machine.travel("2026-12-06 12:00Z", tick=False):
        appointment = infusion(loved_one, "2026-12-09 10:00")
        planning.plan_due(now=timezone.now())
        old = reminders(caregiver, "ride-two-days-before")[0]
        replanned(
            lambda: services.appointment_reschedule(
                appointment=appointment, starts_at=appointment.starts_at - timedelta(days=1)
            )
        )
    old.refresh_from_db()
    assert (old.status, old.status_reason) == ("cancelled", "rescheduled")
    fresh = [m for m in reminders(caregiver, "ride-two-days-before") if m.status == "scheduled"]
    assert [local(m.send_at, "America/New_York") for m in fresh] == [datetime(2026, 12, 6, 12, 0)]


def test_cancelling_an_appointment_cancels_its_reminders(family, infusion, eager):
    caregiver, loved_one = family()
    with time_machine.travel("2026-12-07 06:00Z", tick=False):
        appointment = infusion(loved_one, "2026-12-09 10:00")
        planning.plan_due(now=timezone.now())
        replanned(lambda: services.appointment_cancel(appointment=appointment))
    statuses = {(m.status, m.status_reason) for m in reminders(caregiver)}
    assert statuses == {("cancelled", "appointment_cancelled")}


def test_opting_out_cancels_everything_pending(family, infusion, eager):
    caregiver, loved_one = family()
    caregiver.tip_frequency = "daily"
    caregiver.save()
    with time_machine.travel("2026-12-07 06:00Z", tick=False):
        infusion(loved_one, "2026-12-09 10:00")
        planning.plan_due(now=timezone.now())
        assert OutboundMessage.objects.filter(status="scheduled").exists()
        replanned(lambda: services.caregiver_opt_out(caregiver=caregiver, channel="sms", source="sms"))
    assert not OutboundMessage.objects.filter(status="scheduled").exists()
    assert set(OutboundMessage.objects.values_list("status_reason", flat=True)) == {"opted_out"}


def test_a_new_time_zone_replans_to_the_new_local_time(family, infusion, eager):
    caregiver, loved_one = family()
    with time_machine.travel("2026-12-07 06:00Z", tick=False):
        infusion(loved_one, "2026-12-09 10:00")
        planning.plan_due(now=timezone.now())
        replanned(lambda: services.caregiver_update(caregiver=caregiver, time_zone="America/Los_Angeles"))
    (reminder,) = [m for m in reminders(caregiver, "evening-before") if m.status == "scheduled"]
    assert local(reminder.send_at, "America/Los_Angeles") == datetime(2026, 12, 8, 18, 0)


# --- Tips ----------------------------------------------------------------------------------------


def test_tips_go_at_the_preferred_local_time_on_the_right_days(family):
    caregiver, _ = family(tip_time=time(19, 30))
    caregiver.tip_frequency = "three_weekly"
    caregiver.save()
    for day in range(7, 14):
        plan(f"2026-12-{day:02d} 05:00Z")
    tips = OutboundMessage.objects.filter(caregiver=caregiver, kind="tip").order_by("send_at")
    sent_at = [local(m.send_at, "America/New_York") for m in tips]
    assert [d.strftime("%a %d %H:%M") for d in sent_at][:3] == ["Mon 07 19:30", "Wed 09 19:30", "Fri 11 19:30"]


def test_a_tip_time_in_quiet_hours_moves_to_the_next_allowed_time(family):
    caregiver, _ = family(tip_time=time(7, 0))
    caregiver.tip_frequency = "daily"
    caregiver.save()
    plan("2026-12-07 05:00Z")
    first = OutboundMessage.objects.filter(caregiver=caregiver, kind="tip").order_by("send_at").first()
    assert local(first.send_at, "America/New_York").time() == time(8, 0)


def test_no_tip_repeats_before_every_tip_was_sent_and_categories_mix(family, content):
    caregiver, _ = family()
    caregiver.tip_frequency = "daily"
    caregiver.save()
    from content.models import Tip

    # No appointments: only the general tips fit (the rest follow a course; tests/messaging/test_course_tips.py).
    # An English reader gets the English tips (each slug once; the Spanish ones are the same tips).
    general = Tip.objects.filter(active=True, category__slug__in=GENERAL, language="en")
    total = general.count()
    essentials = general.filter(tags__icontains='"essentials"').count()
    start = datetime(2026, 12, 1, 5, tzinfo=UTC)
    for day in range(total + 3):
        with time_machine.travel(start + timedelta(days=day), tick=False):
            planning.plan_due(now=timezone.now())
    tips = list(
        OutboundMessage.objects.filter(caregiver=caregiver, kind="tip")
        .order_by("send_at")
        .select_related("tip__category")
    )
    first_round = [m.tip_id for m in tips[:total]]
    assert len(set(first_round)) == total
    assert all("essentials" in m.tip.tags for m in tips[:essentials])
    categories = [m.tip.category.slug for m in tips[essentials : essentials + 4]]
    assert len(set(categories)) == 4, categories


GENERAL = ["what-to-say", "what-not-to-say", "everyday-help", "caring-for-yourself"]


def test_the_daily_cap_keeps_reminders_and_drops_tips(family, infusion, settings):
    settings.DAILY_MESSAGE_CAP = 1
    caregiver, loved_one = family(tip_time=time(9, 0))
    caregiver.tip_frequency = "daily"
    caregiver.save()
    infusion(loved_one, "2026-12-09 10:00")
    plan("2026-12-08 05:00Z")
    day = [
        m for m in OutboundMessage.objects.filter(caregiver=caregiver) if local(m.send_at, "America/New_York").day == 8
    ]
    # The ride request, booked a day ahead, goes at once and takes the day's one place; the evening
    # before is kept, held back by the cap where staff see it; no tip.
    assert [(m.kind, m.status, m.status_reason) for m in day] == [
        ("reminder", "scheduled", ""),
        ("reminder", "suppressed", "daily_cap"),
    ]


def test_default_rules_are_seeded_for_every_new_clinic(db):
    from tests.factories import ClinicFactory

    clinic = ClinicFactory()
    assert list(ReminderRule.objects.filter(clinic=clinic).values_list("key", flat=True)) == [
        "ride-two-days-before", "evening-before", "expected-end", "next-morning",
    ]  # fmt: skip


def test_confirming_a_channel_sends_one_welcome_on_it(family, eager):
    from caregiver.models import Caregiver

    caregiver, _ = family(status="pending", channels="both")
    replanned(
        lambda: services.caregiver_opt_in(caregiver=caregiver, channel="sms", source="web", consent_text_version="v1")
    )
    replanned(
        lambda: services.caregiver_opt_in(caregiver=caregiver, channel="sms", source="web", consent_text_version="v1")
    )
    welcome = OutboundMessage.objects.get(dedupe_key=f"welcome:{caregiver.pk}:sms")
    assert welcome.kind == "confirmation"
    assert "STOP to opt out" in welcome.body
    assert Caregiver.objects.get(pk=caregiver.pk).status == "active"
    assert (
        OutboundMessage.objects.filter(dedupe_key__startswith="welcome:").count() == 2
    )  # sms, and email from the fixture
