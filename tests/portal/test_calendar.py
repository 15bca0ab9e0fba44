"""A caregiver's private calendar feed, read as a calendar app reads it: parsed with icalendar."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from icalendar import Calendar

from caregiver import services
from caregiver.selectors import caregiver_for_calendar
from content.validation import discreet_violations
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

NOW = datetime(2026, 12, 1, 17, 0, tzinfo=UTC)  # noon in New York
TUESDAY_10AM_NY = datetime(2026, 12, 8, 15, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def clock():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def chris():
    clinic = factories.ClinicFactory(
        name="Lakeside Health", time_zone="America/New_York", contact_phone="+12025550100", observation_minutes=60
    )
    return factories.LovedOneFactory(clinic=clinic, first_name="Chris")


@pytest.fixture
def caregiver(chris):
    caregiver = factories.CaregiverFactory(clinic=chris.clinic, email="sam@example.com")
    factories.CareLinkFactory(caregiver=caregiver, loved_one=chris)
    factories.ConsentRecordFactory(caregiver=caregiver, channel="sms")
    return caregiver


def feed_url(caregiver) -> str:
    return f"/calendar/{services.caregiver_calendar_create(caregiver=caregiver)}.ics"


def events_of(response) -> dict[str, object]:
    """The feed's events by UID, as a calendar app parses them."""
    assert response.status_code == 200
    return {str(event["UID"]): event for event in Calendar.from_ical(response.content).events}


def uid(appointment) -> str:
    return f"appointment-{appointment.pk}@alongside"


def test_each_appointment_runs_from_its_start_to_the_expected_pick_up(client, caregiver, chris):
    appointment = factories.AppointmentFactory(loved_one=chris, starts_at=TUESDAY_10AM_NY, duration_minutes=60)
    response = client.get(feed_url(caregiver))
    event = events_of(response)[uid(appointment)]
    # 60 minutes, then the clinic's 60 minutes of observation.
    assert (event.start, event.end) == (TUESDAY_10AM_NY, TUESDAY_10AM_NY + timedelta(hours=2))
    assert event.start.tzinfo is not None
    assert str(event["STATUS"]) == "CONFIRMED"
    assert str(event["SUMMARY"]) == "Chris: appointment, pick-up around 12:00 PM"
    assert str(event["LOCATION"]) == "Lakeside Health"
    description = str(event["DESCRIPTION"])
    assert "Pick-up around 12:00 PM EST (Tuesday, December 8)" in description
    assert "(202) 555-0100" in description
    assert "Chris should not drive for the rest of the day." in description


def test_the_feed_is_a_private_uncached_calendar_no_search_engine_lists(client, caregiver):
    response = client.get(feed_url(caregiver))
    assert response["Content-Type"] == "text/calendar; charset=utf-8"
    assert response["Cache-Control"] == "private, max-age=300"
    assert "noindex" in response["X-Robots-Tag"]
    assert Calendar.from_ical(response.content)["X-WR-CALNAME"] == "Alongside"


def test_esketamine_is_observed_two_hours_and_means_no_driving_until_the_next_day(client, caregiver, chris):
    appointment = factories.AppointmentFactory(loved_one=chris, starts_at=TUESDAY_10AM_NY, kind="esketamine")
    event = events_of(client.get(feed_url(caregiver)))[uid(appointment)]
    assert event.end == TUESDAY_10AM_NY + timedelta(hours=3)  # at least 120 minutes, whatever the clinic says
    assert str(event["SUMMARY"]) == "Chris: appointment, pick-up around 1:00 PM"
    assert "Chris should not drive until the next day, after a night's sleep." in str(event["DESCRIPTION"])


def test_an_assessment_says_when_it_ends_and_nothing_about_driving(client, caregiver, chris):
    appointment = factories.AppointmentFactory(loved_one=chris, starts_at=TUESDAY_10AM_NY, kind="assessment")
    event = events_of(client.get(feed_url(caregiver)))[uid(appointment)]
    assert event.end == TUESDAY_10AM_NY + timedelta(hours=1)
    assert str(event["SUMMARY"]) == "Chris: appointment, ends around 11:00 AM"
    assert "drive" not in str(event["DESCRIPTION"])


@pytest.mark.parametrize("kind", ["infusion", "injection", "esketamine", "booster", "assessment", "other"])
def test_no_event_names_the_treatment_or_a_diagnosis(client, caregiver, chris, kind):
    appointment = factories.AppointmentFactory(loved_one=chris, starts_at=TUESDAY_10AM_NY, kind=kind)
    event = events_of(client.get(feed_url(caregiver)))[uid(appointment)]
    for field in ("SUMMARY", "DESCRIPTION", "LOCATION"):
        assert discreet_violations(str(event[field])) == [], field


def test_a_clinic_whose_name_names_the_treatment_is_left_out_of_the_location(client, caregiver, chris):
    chris.clinic.name = "Ketamine Wellness of Lakeside"
    chris.clinic.save()
    appointment = factories.AppointmentFactory(loved_one=chris, starts_at=TUESDAY_10AM_NY)
    event = events_of(client.get(feed_url(caregiver)))[uid(appointment)]
    assert "LOCATION" not in event
    assert "Ketamine" not in client.get(feed_url(caregiver)).content.decode()


def test_a_cancelled_appointment_stays_in_the_feed_as_cancelled_so_calendars_remove_it(client, caregiver, chris):
    appointment = factories.AppointmentFactory(loved_one=chris, starts_at=TUESDAY_10AM_NY)
    url = feed_url(caregiver)
    assert str(events_of(client.get(url))[uid(appointment)]["STATUS"]) == "CONFIRMED"
    services.appointment_cancel(appointment=appointment)
    event = events_of(client.get(url))[uid(appointment)]
    assert str(event["STATUS"]) == "CANCELLED"
    assert str(event["SUMMARY"]) == "Chris: appointment cancelled"
    assert "drive" not in str(event["DESCRIPTION"])


def test_a_rescheduled_appointment_keeps_its_uid_and_gets_a_higher_sequence(client, caregiver, chris, clock):
    appointment = factories.AppointmentFactory(loved_one=chris, starts_at=TUESDAY_10AM_NY)
    url = feed_url(caregiver)
    before = events_of(client.get(url))[uid(appointment)]
    clock.shift(timedelta(minutes=5))
    services.appointment_reschedule(appointment=appointment, starts_at=TUESDAY_10AM_NY + timedelta(days=1))
    after = events_of(client.get(url))[uid(appointment)]
    assert after.start == TUESDAY_10AM_NY + timedelta(days=1)
    assert int(after["SEQUENCE"]) > int(before["SEQUENCE"])
    assert after["LAST-MODIFIED"].dt > before["LAST-MODIFIED"].dt


def test_the_feed_reaches_back_thirty_days(client, caregiver, chris):
    recent = factories.AppointmentFactory(loved_one=chris, starts_at=NOW - timedelta(days=29))
    old = factories.AppointmentFactory(loved_one=chris, starts_at=NOW - timedelta(days=31))
    events = events_of(client.get(feed_url(caregiver)))
    assert uid(recent) in events
    assert uid(old) not in events


def test_a_caregiver_sees_only_their_own_loved_ones(client, caregiver, chris):
    ours = factories.AppointmentFactory(loved_one=chris, starts_at=TUESDAY_10AM_NY)
    # Another family at the same clinic, and one at another clinic.
    neighbour = factories.CareLinkFactory(caregiver__clinic=chris.clinic, loved_one__first_name="Robin")
    theirs = factories.AppointmentFactory(loved_one=neighbour.loved_one, starts_at=TUESDAY_10AM_NY)
    elsewhere = factories.AppointmentFactory(starts_at=TUESDAY_10AM_NY)
    events = events_of(client.get(feed_url(caregiver)))
    assert set(events) == {uid(ours)}
    assert uid(theirs) in events_of(client.get(feed_url(neighbour.caregiver)))
    assert uid(elsewhere) not in events_of(client.get(feed_url(neighbour.caregiver)))


def test_a_new_link_revokes_the_old_one(client, caregiver):
    old = feed_url(caregiver)
    assert client.get(old).status_code == 200
    secret = services.caregiver_calendar_reset(caregiver=caregiver)
    assert client.get(old).status_code == 404
    assert client.get(f"/calendar/{secret}.ics").status_code == 200


def test_asking_for_the_link_again_keeps_the_one_already_given(caregiver):
    first = services.caregiver_calendar_create(caregiver=caregiver)
    assert len(first) == 43
    assert services.caregiver_calendar_create(caregiver=caregiver) == first


def test_unknown_and_blank_secrets_open_nothing(client, caregiver):
    assert client.get("/calendar/" + "x" * 43 + ".ics").status_code == 404
    assert client.get("/calendar/.ics").status_code == 404
    # Caregivers who never asked for a link have a blank secret: blank must not find them.
    assert caregiver.calendar_secret == ""
    assert caregiver_for_calendar(secret="") is None


def test_a_caregiver_who_stopped_everything_has_no_feed(client, caregiver):
    url = feed_url(caregiver)
    services.caregiver_stop_everything(caregiver=caregiver, ip_address=None)
    assert client.get(url).status_code == 404


def test_a_spanish_reader_s_feed_is_in_spanish_with_the_same_event_ids(client, caregiver, chris):
    caregiver.language = "es"
    caregiver.save(update_fields=["language"])
    appointment = factories.AppointmentFactory(loved_one=chris, starts_at=TUESDAY_10AM_NY, duration_minutes=60)
    cancelled = factories.AppointmentFactory(
        loved_one=chris, starts_at=TUESDAY_10AM_NY + timedelta(days=7), status="cancelled"
    )
    events = events_of(client.get(feed_url(caregiver)))
    event = events[uid(appointment)]
    assert str(event["SUMMARY"]) == "Chris: cita, recoger aprox. 12:00 p. m."
    description = str(event["DESCRIPTION"])
    assert "Hora aproximada para recoger: 12:00 p. m. EST (martes 8 de diciembre), en la clínica." in description
    assert "Chris no debe manejar por el resto del día." in description
    assert "Teléfono de la clínica: (202) 555-0100" in description
    assert str(events[uid(cancelled)]["SUMMARY"]) == "Chris: cita cancelada"
    for english in ("appointment", "Pick-up", "drive", "phone", "Tuesday", "December", "PM"):
        assert english not in str(event["SUMMARY"]) + description
