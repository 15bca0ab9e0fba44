"""When a caregiver may be messaged, and what a rule's offset means, in their own time zone.

Everything stored is UTC; everything decided here is decided in local wall-clock time, so
"18:00 the evening before" is 18:00 on both sides of a DST change.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from caregiver.models import Appointment, Caregiver
from caregiver.validators import EARLIEST, LATEST

from .models import ReminderRule

# Whatever a caregiver sets, nothing is sent before 08:00 or from 21:00 local: caregiver.validators
# holds the two, so the rule on quiet hours people may set counts the same day.
# A message moved to the end of a window is planned this long before it, so that a few minutes of
# dispatch delay cannot push it into quiet hours.
END_MARGIN = timedelta(minutes=10)


def zone_of(caregiver: Caregiver) -> ZoneInfo:
    return ZoneInfo(caregiver.time_zone)


def _at(day: date, moment: time, zone: ZoneInfo) -> datetime:
    return datetime.combine(day, moment, tzinfo=zone)


def allowed_windows(
    day: date, *, zone: ZoneInfo, quiet_start: time, quiet_end: time
) -> list[tuple[datetime, datetime]]:
    """The local intervals of `day` in which messages may go out: 08:00–21:00 minus quiet hours."""
    if quiet_start == quiet_end:  # no quiet hours of their own
        spans = [(EARLIEST, LATEST)]
    elif quiet_start > quiet_end:  # wraps midnight, e.g. 21:00–08:00: awake from end to start
        spans = [(max(quiet_end, EARLIEST), min(quiet_start, LATEST))]
    else:  # within the day, e.g. a 13:00–15:00 nap
        spans = [(EARLIEST, min(quiet_start, LATEST)), (max(quiet_end, EARLIEST), LATEST)]
    return [(_at(day, start, zone), _at(day, end, zone)) for start, end in spans if start < end]


def _windows(caregiver: Caregiver, day: date) -> list[tuple[datetime, datetime]]:
    return allowed_windows(
        day, zone=zone_of(caregiver), quiet_start=caregiver.quiet_start, quiet_end=caregiver.quiet_end
    )


def is_allowed(caregiver: Caregiver, moment: datetime) -> bool:
    local = moment.astimezone(zone_of(caregiver))
    return any(start <= local < end for start, end in _windows(caregiver, local.date()))


def window_end(caregiver: Caregiver, moment: datetime) -> datetime | None:
    """When the window of allowed hours that `moment` falls in closes (None: `moment` is in quiet hours)."""
    local = moment.astimezone(zone_of(caregiver))
    return next((end for start, end in _windows(caregiver, local.date()) if start <= local < end), None)


def next_allowed(caregiver: Caregiver, moment: datetime) -> datetime | None:
    """The earliest moment at or after `moment` outside quiet hours (None if there is none soon)."""
    local = moment.astimezone(zone_of(caregiver))
    for days in range(3):
        for start, end in _windows(caregiver, local.date() + timedelta(days=days)):
            if local < end - END_MARGIN:
                return max(local, start)
    return None


def latest_allowed_before(caregiver: Caregiver, moment: datetime) -> datetime | None:
    """The latest moment at or before `moment` outside quiet hours, keeping END_MARGIN."""
    local = moment.astimezone(zone_of(caregiver))
    for days in range(2):
        for start, end in reversed(_windows(caregiver, local.date() - timedelta(days=days))):
            last = end - END_MARGIN
            if start <= local < last:
                return local
            if last <= local and start <= last:
                return last
    return None


def local_day(caregiver: Caregiver, moment: datetime) -> date:
    return moment.astimezone(zone_of(caregiver)).date()


def rule_send_at(rule: ReminderRule, appointment: Appointment, zone: ZoneInfo) -> datetime:
    """When `rule` fires for `appointment`, for someone living in `zone`."""
    anchor = {
        ReminderRule.Anchor.START: appointment.starts_at,
        ReminderRule.Anchor.END: appointment.ends_at,
        ReminderRule.Anchor.PICKUP: appointment.pickup_at,
        ReminderRule.Anchor.HOME: appointment.home_at,
    }[rule.anchor]
    local = anchor.astimezone(zone)
    if rule.offset_unit == ReminderRule.Unit.DAYS:
        # Calendar days on the wall clock: "one day before" at 10:00 is 10:00, DST or not.
        shifted = datetime.combine(local.date() + timedelta(days=rule.offset_amount), local.time(), tzinfo=zone)
    else:
        unit = {ReminderRule.Unit.MINUTES: "minutes", ReminderRule.Unit.HOURS: "hours"}[rule.offset_unit]
        shifted = (anchor + timedelta(**{unit: rule.offset_amount})).astimezone(zone)
    if rule.local_time is not None:
        shifted = datetime.combine(shifted.date(), rule.local_time, tzinfo=zone)
    # Round-trip through UTC so a wall time in a DST gap lands on a real instant.
    return shifted.astimezone(ZoneInfo("UTC"))
