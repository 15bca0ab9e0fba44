from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.core.exceptions import ValidationError

from caregiver import services
from caregiver.models import Appointment
from caregiver.signals import appointment_changed
from caregiver.validators import local_to_utc
from tests.factories import AppointmentFactory, CaregiverFactory, LovedOneFactory

NEW_YORK = ZoneInfo("America/New_York")


@pytest.mark.parametrize(
    ("local", "zone", "utc"),
    [
        # US clocks go back on 2026-11-01: the same 10:00 is 14:00 UTC before and 15:00 UTC after.
        (datetime(2026, 10, 30, 10, 0), "America/New_York", datetime(2026, 10, 30, 14, 0, tzinfo=UTC)),
        (datetime(2026, 11, 2, 10, 0), "America/New_York", datetime(2026, 11, 2, 15, 0, tzinfo=UTC)),
        # Europe changed a week earlier (2026-10-25).
        (datetime(2026, 10, 23, 10, 0), "Europe/London", datetime(2026, 10, 23, 9, 0, tzinfo=UTC)),
        (datetime(2026, 10, 26, 10, 0), "Europe/London", datetime(2026, 10, 26, 10, 0, tzinfo=UTC)),
        # Arizona keeps no daylight saving time at all.
        (datetime(2026, 11, 2, 10, 0), "America/Phoenix", datetime(2026, 11, 2, 17, 0, tzinfo=UTC)),
    ],
)
def test_local_clinic_times_become_the_right_utc_across_dst(local, zone, utc):
    assert local_to_utc(local, time_zone=zone) == utc


def test_a_time_skipped_by_the_clocks_is_refused_with_a_reason():
    with pytest.raises(ValidationError, match="does not exist in America/New_York"):
        local_to_utc(datetime(2026, 3, 8, 2, 30), time_zone="America/New_York")


def test_a_time_that_happens_twice_means_the_first():
    assert local_to_utc(datetime(2026, 11, 1, 1, 30), time_zone="America/New_York") == datetime(
        2026, 11, 1, 5, 30, tzinfo=UTC
    )


def test_a_weekly_course_keeps_its_local_hour_across_the_change(db):
    loved_one = LovedOneFactory(clinic__time_zone="America/New_York")
    for day in (26, 28, 30):
        services.appointment_create(
            loved_one=loved_one, starts_at=local_to_utc(datetime(2026, 10, day, 10), time_zone="America/New_York")
        )
    for day in (2, 4):
        services.appointment_create(
            loved_one=loved_one, starts_at=local_to_utc(datetime(2026, 11, day, 10), time_zone="America/New_York")
        )
    local_hours = {a.starts_at.astimezone(NEW_YORK).hour for a in Appointment.objects.all()}
    assert local_hours == {10}


def test_naive_times_are_refused(db):
    with pytest.raises(ValidationError, match="with its time zone"):
        services.appointment_create(loved_one=LovedOneFactory(), starts_at=datetime(2026, 12, 1, 10))


def test_pickup_is_the_end_plus_the_clinic_observation_for_a_treatment(db):
    appointment = AppointmentFactory(
        starts_at=datetime(2026, 12, 1, 15, tzinfo=UTC), duration_minutes=90, loved_one__clinic__observation_minutes=60
    )
    assert appointment.pickup_at == datetime(2026, 12, 1, 17, 30, tzinfo=UTC)
    appointment.kind = Appointment.Kind.ASSESSMENT
    assert appointment.pickup_at == appointment.ends_at


def test_rescheduling_forgets_the_ride_and_announces_after_commit(db, django_capture_on_commit_callbacks):
    appointment = AppointmentFactory()
    services.appointment_mark_ride_arranged(appointment=appointment, caregiver=CaregiverFactory())
    heard = []

    def listener(**kwargs):
        heard.append((kwargs["appointment_id"], kwargs["change"]))

    appointment_changed.connect(listener)
    try:
        with django_capture_on_commit_callbacks(execute=False) as callbacks:
            services.appointment_reschedule(
                appointment=appointment, starts_at=appointment.starts_at + timedelta(days=1)
            )
        assert heard == [], "nothing is announced before the transaction commits"
        for callback in callbacks:
            callback()
    finally:
        appointment_changed.disconnect(listener)
    appointment.refresh_from_db()
    assert not appointment.ride_arranged
    assert heard == [(appointment.pk, "rescheduled")]


def test_cancelled_appointments_cannot_be_rescheduled(db):
    appointment = services.appointment_cancel(appointment=AppointmentFactory())
    with pytest.raises(ValidationError, match="cancelled appointment cannot be rescheduled"):
        services.appointment_reschedule(appointment=appointment, starts_at=appointment.starts_at)
