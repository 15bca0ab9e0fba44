"""Appointments as iCalendar events: one builder for the caregiver's feed and for reminder emails,
so a calendar that got an event from both sees the same event (same UID, same words) twice.

What a calendar shows can be read on a lock screen or by whoever the calendar is shared with, so an
event names the loved one and says "appointment": never a treatment, drug or diagnosis.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import phonenumbers
from django.conf import settings
from django.utils import translation
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from icalendar import Calendar, Event, vDuration

from content.validation import discreet_violations

from .formats import clock, long_day
from .models import Appointment, Clinic

PRODID = "-//Alongside//Appointments//EN"
# SEQUENCE counts seconds from here: it grows with every revision and stays far inside the
# 32-bit integer iCalendar allows (epoch seconds would run out in 2038).
SEQUENCE_EPOCH = datetime(2024, 1, 1, tzinfo=UTC)
# How often a subscribed calendar should fetch the feed again (clients that honour it).
REFRESH = timedelta(hours=1)

DRIVING = {
    "rest_of_day": gettext_lazy("%(name)s should not drive for the rest of the day."),
    "next_day": gettext_lazy("%(name)s should not drive until the next day, after a night's sleep."),
}


def appointment_uid(appointment: Appointment) -> str:
    return f"appointment-{appointment.pk}@alongside"


def _phone(number: str) -> str:
    if not number:
        return ""
    parsed = phonenumbers.parse(number, settings.PHONE_DEFAULT_REGION)
    local = phonenumbers.region_code_for_number(parsed) == settings.PHONE_DEFAULT_REGION
    style = phonenumbers.PhoneNumberFormat.NATIONAL if local else phonenumbers.PhoneNumberFormat.INTERNATIONAL
    return phonenumbers.format_number(parsed, style)


def _name(appointment: Appointment) -> str:
    # Names are checked when typed (validate_loved_one_name); an older row is checked again here,
    # as everything that reaches a lock screen is.
    name = appointment.loved_one.first_name
    return _("Your loved one") if discreet_violations(name) else name


def _location(clinic: Clinic) -> str:
    return "" if discreet_violations(clinic.name) else clinic.name


def _revised(appointment: Appointment) -> datetime:
    # The event's words and times come from the appointment, the loved one's name and the clinic
    # (name, phone, observation time): a change to any of them is a new revision of the event.
    loved_one = appointment.loved_one
    return max(appointment.updated_at, loved_one.updated_at, loved_one.clinic.updated_at)


def appointment_summary(appointment: Appointment) -> str:
    """What calendars show, in the clinic's time and the active language: "Chris: appointment,
    pick-up around 12:30 PM"."""
    name = _name(appointment)
    if appointment.status == Appointment.Status.CANCELLED:
        # For calendar apps that keep a cancelled event (struck through) rather than remove it.
        return _("%(name)s: appointment cancelled") % {"name": name}
    zone = ZoneInfo(appointment.loved_one.clinic.time_zone)
    pickup = clock(appointment.pickup_at.astimezone(zone))
    if appointment.protocol.observed:
        return _("%(name)s: appointment, pick-up around %(time)s") % {"name": name, "time": pickup}
    return _("%(name)s: appointment, ends around %(time)s") % {"name": name, "time": pickup}


def appointment_description(appointment: Appointment) -> str:
    clinic = appointment.loved_one.clinic
    zone = ZoneInfo(clinic.time_zone)
    pickup = appointment.pickup_at.astimezone(zone)
    when = {"time": clock(pickup), "zone": f"{pickup:%Z}", "day": long_day(pickup)}
    if appointment.status == Appointment.Status.CANCELLED:
        lines = [_("This appointment was cancelled.")]
    elif appointment.protocol.observed:
        lines = [_("Pick-up around %(time)s %(zone)s (%(day)s), at the clinic.") % when]
        driving = DRIVING.get(appointment.protocol.driving)
        if driving:
            lines.append(str(driving) % {"name": _name(appointment)})
    else:
        lines = [_("Ends around %(time)s %(zone)s (%(day)s).") % when]
    phone = _phone(clinic.contact_phone)
    if phone:
        lines.append(_("The clinic's phone: %(phone)s") % {"phone": phone})
    return "\n".join(lines)


def appointment_event(appointment: Appointment, *, language: str = "en") -> Event:
    """The appointment as a VEVENT: from its start to the expected pick-up, in UTC, its words in
    `language` (the caregiver's).

    Stable UID per appointment, so a rescheduled one moves and a cancelled one (STATUS:CANCELLED)
    is removed, in the feed and from an emailed .ics alike. Nothing here depends on the clock: the
    same appointment in the same language always gives the same event.
    """
    with translation.override(language):
        return _event(appointment)


def _event(appointment: Appointment) -> Event:
    revised = _revised(appointment).astimezone(UTC)
    cancelled = appointment.status == Appointment.Status.CANCELLED
    return Event.new(
        uid=appointment_uid(appointment),
        start=appointment.starts_at.astimezone(UTC),
        end=appointment.pickup_at.astimezone(UTC),
        stamp=revised,
        last_modified=revised,
        sequence=int((revised - SEQUENCE_EPOCH).total_seconds()),
        summary=appointment_summary(appointment),
        description=appointment_description(appointment),
        location=_location(appointment.loved_one.clinic) or None,
        status="CANCELLED" if cancelled else "CONFIRMED",
        # A shared calendar shows others "busy", not the event, where the app honours it.
        classification="PRIVATE",
    )


def calendar_of(events: Iterable[Event], *, method: str | None = None, name: str | None = None) -> bytes:
    """A VCALENDAR holding `events`, as bytes to serve or attach.

    `method`: "PUBLISH" for an emailed .ics; none for a subscribed feed. `name`: the calendar's
    name in the caregiver's list of calendars (a feed); it sets how often to fetch it again too.
    """
    calendar = Calendar()
    calendar.add("version", "2.0")
    calendar.add("prodid", PRODID)
    calendar.add("calscale", "GREGORIAN")
    if method:
        calendar.add("method", method)
    if name:
        calendar.add("name", name)
        calendar.add("x-wr-calname", name)
        calendar.add("refresh-interval", REFRESH, parameters={"VALUE": "DURATION"})
        calendar.add("x-published-ttl", vDuration(REFRESH))
    for event in events:
        calendar.add_component(event)
    return calendar.to_ical()
