"""A reminder email carries its appointment as an .ics: the same event the calendar feed serves."""

from datetime import UTC, datetime

import pytest
import time_machine
from icalendar import Calendar

from caregiver.calendar import appointment_event
from messaging import rendering, sending
from messaging.providers.email import email_send, outbox_attachments
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

NOON_NY = datetime(2026, 12, 8, 17, 0, tzinfo=UTC)  # inside everyone's allowed hours in New York
TOMORROW_10AM_NY = datetime(2026, 12, 9, 15, 0, tzinfo=UTC)


@pytest.fixture
def reminder():
    """A queued reminder email about Chris's appointment tomorrow, to a caregiver who opted in."""

    def make(**fields):
        link = factories.CareLinkFactory(loved_one__first_name="Chris", caregiver__channels="email")
        factories.ConsentRecordFactory(caregiver=link.caregiver, channel="email")
        appointment = factories.AppointmentFactory(loved_one=link.loved_one, starts_at=TOMORROW_10AM_NY)
        defaults = {
            "channel": "email", "kind": "reminder", "appointment": appointment,
            "subject": "Tomorrow: Chris's appointment", "body": "Plan the ride home.",
            "html": "<p>Plan the ride home.</p>",
            "dedupe_key": f"reminder:test:{appointment.pk}:{int(appointment.starts_at.timestamp())}",
        }  # fmt: skip
        return factories.OutboundMessageFactory(caregiver=link.caregiver, **{**defaults, **fields})

    return make


def ics_parts(email) -> list:
    return [part for part in email.walk() if part.get_content_type() == "text/calendar"]


def the_event(part):
    calendar = Calendar.from_ical(part.get_payload(decode=True))
    assert str(calendar["METHOD"]) == "PUBLISH"
    (event,) = calendar.events
    return event


def test_a_reminder_email_arrives_with_its_appointment_as_an_ics(smtp_server, reminder):
    message = reminder()
    with time_machine.travel(NOON_NY, tick=False):
        email_send(
            to=message.caregiver.email, subject=message.subject, text=message.body, html=message.html,
            unsubscribe_url=rendering.unsubscribe_url(message.caregiver), attachments=outbox_attachments(message),
        )  # fmt: skip
    (email,) = smtp_server.wait_for(1)
    (part,) = ics_parts(email)
    assert part.get_filename() == "appointment.ics"
    assert part.get_content_disposition() == "attachment"
    assert (part.get_param("method"), part.get_content_charset()) == ("PUBLISH", "utf-8")
    event = the_event(part)
    appointment = message.appointment
    assert str(event["UID"]) == f"appointment-{appointment.pk}@alongside"
    assert (event.start, event.end) == (appointment.starts_at, appointment.pickup_at)
    # The very event the calendar feed serves for it, so a calendar holding both sees one event.
    assert event.to_ical() == appointment_event(appointment).to_ical()
    # The text and HTML are still there, beside it.
    types = sorted(p.get_content_type() for p in email.walk() if not p.is_multipart())
    assert types == ["text/calendar", "text/html", "text/plain"]


def test_only_reminders_with_an_appointment_carry_one(reminder):
    assert len(outbox_attachments(reminder())) == 1
    assert outbox_attachments(reminder(kind="tip")) == []
    assert outbox_attachments(reminder(appointment=None)) == []
    assert outbox_attachments(factories.OutboundMessageFactory(kind="reminder", channel="sms")) == []


def test_a_reminder_sent_through_the_outbox_carries_the_ics(smtp_server, reminder):
    message = reminder()
    with time_machine.travel(NOON_NY, tick=False):
        assert sending.message_send(message_id=message.pk) == "sent"
    (email,) = smtp_server.wait_for(1)
    (part,) = ics_parts(email)
    assert str(the_event(part)["UID"]) == f"appointment-{message.appointment_id}@alongside"


def test_a_spanish_reader_s_reminder_carries_the_event_in_spanish(smtp_server, reminder):
    message = reminder()
    message.caregiver.language = "es"
    message.caregiver.save(update_fields=["language"])
    with time_machine.travel(NOON_NY, tick=False):
        assert sending.message_send(message_id=message.pk) == "sent"
    (email,) = smtp_server.wait_for(1)
    event = the_event(ics_parts(email)[0])
    assert str(event["SUMMARY"]).startswith("Chris: cita, recoger aprox.")
    # The same event the Spanish reader's feed serves.
    assert event.to_ical() == appointment_event(message.appointment, language="es").to_ical()
