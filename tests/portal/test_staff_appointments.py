"""Staff keep a past, duplicate or overlapping appointment only on purpose; the course planner keeps
the first day chosen and steps around the clinic's closure days."""

from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.core.exceptions import ValidationError

from caregiver import services
from caregiver.models import ClinicClosure
from tests import factories
from tests.portal.conftest import text

pytestmark = pytest.mark.django_db
NY = ZoneInfo("America/New_York")
NOW = datetime(2027, 3, 10, 12, 0, tzinfo=NY)  # a Wednesday


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.fixture
def family(clinic):
    loved_one = factories.LovedOneFactory(clinic=clinic, first_name="Alex")
    factories.CareLinkFactory(caregiver=factories.CaregiverFactory(clinic=clinic), loved_one=loved_one)
    return loved_one


def at(day: str, hour: int, minute: int = 0) -> datetime:
    return datetime.fromisoformat(day).replace(hour=hour, minute=minute, tzinfo=NY)


def add(staff_client, family, day: str, at_: str, *, keep: bool = False, minutes: int = 60):
    data = {"new-day": day, "new-at": at_, "new-kind": "infusion", "new-duration_minutes": str(minutes)}
    if keep:
        data["new-confirm"] = "on"
    return staff_client.post(f"/staff/families/{family.pk}/", data)


# --- Warnings ----------------------------------------------------------------------------------------


def test_a_past_appointment_is_refused_until_staff_tick_keep_anyway(staff_client, family):
    response = add(staff_client, family, "2027-03-01", "10:00")
    assert response.status_code == 400
    page = text(response)
    assert "Mon Mar 1, 2027 10:00 AM is in the past." in page
    assert "Keep anyway" in page
    assert family.appointments.count() == 0
    response = add(staff_client, family, "2027-03-01", "10:00", keep=True)
    assert response.status_code == 302
    assert family.appointments.count() == 1


def test_a_second_appointment_at_the_same_time_is_called_a_duplicate(staff_client, family):
    factories.AppointmentFactory(loved_one=family, starts_at=at("2027-03-15", 10))
    response = add(staff_client, family, "2027-03-15", "10:00")
    assert response.status_code == 400
    assert "Alex already has an appointment at Mon Mar 15, 2027 10:00 AM." in text(response)
    assert family.appointments.count() == 1


def test_an_overlapping_appointment_names_the_one_it_overlaps(staff_client, family):
    factories.AppointmentFactory(loved_one=family, starts_at=at("2027-03-15", 10), duration_minutes=90)
    response = add(staff_client, family, "2027-03-15", "11:00")
    assert "It overlaps Alex's appointment at Mon Mar 15, 2027 10:00 AM (90 minutes)." in text(response)
    assert add(staff_client, family, "2027-03-15", "11:30").status_code == 302  # right after it ends


def test_an_appointment_on_a_closure_day_is_kept_only_on_purpose(staff_client, family, clinic):
    ClinicClosure.objects.create(clinic=clinic, day=date(2027, 3, 15), note="Staff training")
    response = add(staff_client, family, "2027-03-15", "10:00")
    assert response.status_code == 400
    assert "The clinic is closed on Mon Mar 15, 2027 (Staff training)." in text(response)
    assert family.appointments.count() == 0
    assert add(staff_client, family, "2027-03-15", "10:00", keep=True).status_code == 302
    assert add(staff_client, family, "2027-03-16", "10:00").status_code == 302  # the day after is open


def test_a_cancelled_appointment_at_the_same_time_is_no_conflict(staff_client, family):
    factories.AppointmentFactory(loved_one=family, starts_at=at("2027-03-15", 10), status="cancelled")
    assert add(staff_client, family, "2027-03-15", "10:00").status_code == 302


def test_rescheduling_onto_another_appointment_needs_keep_anyway(staff_client, family):
    factories.AppointmentFactory(loved_one=family, starts_at=at("2027-03-15", 10))
    moving = factories.AppointmentFactory(loved_one=family, starts_at=at("2027-03-17", 10))
    data = {"day": "2027-03-15", "at": "10:00", "duration_minutes": "60"}
    response = staff_client.post(f"/staff/appointments/{moving.pk}/reschedule/", data)
    assert response.status_code == 400
    assert "already has an appointment at Mon Mar 15, 2027 10:00 AM" in text(response)
    response = staff_client.post(f"/staff/appointments/{moving.pk}/reschedule/", {**data, "confirm": "on"})
    assert response.status_code == 302
    moving.refresh_from_db()
    assert moving.starts_at == at("2027-03-15", 10)


def test_rescheduling_only_the_length_of_an_appointment_does_not_warn_about_itself(staff_client, family):
    appointment = factories.AppointmentFactory(loved_one=family, starts_at=at("2027-03-15", 10))
    data = {"day": "2027-03-15", "at": "10:00", "duration_minutes": "90"}
    assert staff_client.post(f"/staff/appointments/{appointment.pk}/reschedule/", data).status_code == 302


def test_enrolling_with_two_appointments_at_the_same_time_asks_to_keep_them(staff_client, clinic):
    data = {
        "loved_one": "Robin", "clinic": str(clinic.pk),
        "caregivers-TOTAL_FORMS": "1", "caregivers-INITIAL_FORMS": "0",
        "caregivers-0-name": "Sam Lee", "caregivers-0-phone": "(202) 555-0143", "caregivers-0-email": "",
        "caregivers-0-relationship": "partner", "caregivers-0-channels": "sms",
        "appointments-TOTAL_FORMS": "2", "appointments-INITIAL_FORMS": "0",
        "appointments-0-day": "2027-03-15", "appointments-0-at": "10:00", "appointments-0-kind": "infusion",
        "appointments-0-duration_minutes": "60",
        "appointments-1-day": "2027-03-15", "appointments-1-at": "10:00", "appointments-1-kind": "infusion",
        "appointments-1-duration_minutes": "60",
    }  # fmt: skip
    response = staff_client.post("/staff/families/new/", data)
    assert response.status_code == 400
    page = text(response)
    assert "Robin already has an appointment at Mon Mar 15, 2027 10:00 AM." in page
    assert "Tick “Keep anyway”" in page
    response = staff_client.post("/staff/families/new/", {**data, "confirm": "on"})
    assert response.status_code == 302


def test_the_service_refuses_a_past_appointment_unless_confirmed(family):
    with pytest.raises(ValidationError) as caught:
        services.appointment_create(loved_one=family, starts_at=at("2027-03-01", 10), confirmed=False)
    assert "is in the past" in str(caught.value)


# --- The course planner ------------------------------------------------------------------------------


def pattern(first_day: str, **extra) -> dict:
    return {
        "pattern-first_day": first_day, "pattern-at": "10:00", "pattern-weekdays": ["0", "2", "4"],
        "pattern-sessions": "6", "pattern-maintenance_sessions": "0", "pattern-maintenance_every_weeks": "4",
        "pattern-duration_minutes": "60", "step": "pattern", **extra,
    }  # fmt: skip


def planned_days(response) -> list[date]:
    return [form.initial["day"] for form in response.context["sessions"]]


def test_the_first_day_chosen_is_the_first_session_even_off_the_pattern(staff_client, family):
    response = staff_client.post(f"/staff/families/{family.pk}/course/", pattern("2027-03-16"))  # a Tuesday
    days = planned_days(response)
    assert days[0] == date(2027, 3, 16)
    assert len(days) == 6
    assert [d.weekday() for d in days[1:]] == [2, 4, 0, 2, 4]


def test_a_session_on_a_closure_day_moves_to_the_next_open_day_and_says_why(staff_client, family, clinic):
    ClinicClosure.objects.create(clinic=clinic, day=date(2027, 3, 17), note="Staff training")
    response = staff_client.post(f"/staff/families/{family.pk}/course/", pattern("2027-03-15"))
    days = planned_days(response)
    assert date(2027, 3, 17) not in days
    assert days[:3] == [date(2027, 3, 15), date(2027, 3, 18), date(2027, 3, 19)]
    assert "Moved from Wed Mar 17: the clinic is closed (Staff training)." in text(response)


def test_a_closed_first_day_moves_too(staff_client, family, clinic):
    ClinicClosure.objects.create(clinic=clinic, day=date(2027, 3, 15), note="")
    days = planned_days(staff_client.post(f"/staff/families/{family.pk}/course/", pattern("2027-03-15")))
    assert days[0] == date(2027, 3, 16)


def test_another_clinics_closures_do_not_move_our_sessions(staff_client, family, other_clinic):
    ClinicClosure.objects.create(clinic=other_clinic, day=date(2027, 3, 17))
    days = planned_days(staff_client.post(f"/staff/families/{family.pk}/course/", pattern("2027-03-15")))
    assert date(2027, 3, 17) in days


def test_a_course_session_on_an_existing_appointment_is_flagged_until_kept(staff_client, family):
    factories.AppointmentFactory(loved_one=family, starts_at=at("2027-03-17", 10))
    data = {**pattern("2027-03-15"), "step": "save", "sessions-TOTAL_FORMS": "2", "sessions-INITIAL_FORMS": "0"}
    for index, day in enumerate(["2027-03-15", "2027-03-17"]):
        data |= {f"sessions-{index}-day": day, f"sessions-{index}-at": "10:00",
                 f"sessions-{index}-kind": "infusion", f"sessions-{index}-include": "on"}  # fmt: skip
    response = staff_client.post(f"/staff/families/{family.pk}/course/", data)
    assert response.status_code == 400
    assert "Alex already has an appointment at Wed Mar 17, 2027 10:00 AM." in text(response)
    assert family.appointments.count() == 1
    response = staff_client.post(f"/staff/families/{family.pk}/course/", {**data, "pattern-confirm": "on"})
    assert response.status_code == 302
    assert family.appointments.count() == 3


# --- Closure days, by staff -----------------------------------------------------------------------------


def test_staff_add_a_closure_day_and_the_planner_steps_around_it(staff_client, family, clinic):
    response = staff_client.post(
        "/staff/closures/", {"day": "2027-03-17", "note": "Staff training", "clinic": clinic.pk}
    )
    assert response.status_code == 302
    page = text(staff_client.get("/staff/closures/"))
    assert "Wed Mar 17, 2027Staff training" in page
    days = planned_days(staff_client.post(f"/staff/families/{family.pk}/course/", pattern("2027-03-15")))
    assert date(2027, 3, 17) not in days


def test_the_same_closure_day_twice_says_so(staff_client, clinic):
    ClinicClosure.objects.create(clinic=clinic, day=date(2027, 3, 17))
    response = staff_client.post("/staff/closures/", {"day": "2027-03-17", "clinic": clinic.pk})
    assert response.status_code == 400
    assert "Wed Mar 17, 2027 is already a closure day." in text(response)


def test_staff_remove_a_closure_day_but_not_another_clinics(staff_client, clinic, other_clinic):
    ours = ClinicClosure.objects.create(clinic=clinic, day=date(2027, 3, 17))
    theirs = ClinicClosure.objects.create(clinic=other_clinic, day=date(2027, 3, 18), note="Their holiday")
    assert "Their holiday" not in text(staff_client.get("/staff/closures/"))
    assert staff_client.post(f"/staff/closures/{theirs.pk}/remove/").status_code == 404
    assert staff_client.post(f"/staff/closures/{ours.pk}/remove/").status_code == 302
    assert list(ClinicClosure.objects.values_list("pk", flat=True)) == [theirs.pk]


def test_a_closure_day_that_has_passed_is_refused_with_a_reason(staff_client, clinic):
    """Found by an outside tester: a past day was accepted with no message, and never listed."""
    response = staff_client.post("/staff/closures/", {"day": "2027-03-09", "note": "Snow", "clinic": clinic.pk})
    assert response.status_code == 400
    assert "Tue Mar 9, 2027 has passed: give a day from today on." in text(response)
    assert not ClinicClosure.objects.exists()
    today = staff_client.post("/staff/closures/", {"day": "2027-03-10", "note": "Snow", "clinic": clinic.pk})
    assert today.status_code == 302
