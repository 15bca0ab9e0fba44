from datetime import UTC, datetime, time
from zoneinfo import ZoneInfo

import pytest

from messaging.timing import allowed_windows

NY = ZoneInfo("America/New_York")


def spans(quiet_start, quiet_end):
    windows = allowed_windows(datetime(2026, 12, 1).date(), zone=NY, quiet_start=quiet_start, quiet_end=quiet_end)
    return [(a.time(), b.time()) for a, b in windows]


def test_default_quiet_hours_leave_eight_to_nine():
    assert spans(time(21), time(8)) == [(time(8), time(21))]


def test_a_caregiver_cannot_widen_the_day_past_eight_to_nine():
    assert spans(time(23), time(6)) == [(time(8), time(21))]


def test_a_caregiver_can_narrow_it():
    assert spans(time(20), time(9, 30)) == [(time(9, 30), time(20))]


def test_quiet_hours_inside_the_day_split_it():
    assert spans(time(13), time(15)) == [(time(8), time(13)), (time(15), time(21))]


@pytest.mark.parametrize("zone", ["America/New_York", "Europe/London", "Australia/Sydney", "America/Phoenix"])
def test_windows_are_local_wall_clock_on_dst_days(zone):
    # Each of these dates is a DST change in one of the zones; 08:00 stays 08:00 local.
    for day in (datetime(2026, 3, 8), datetime(2026, 3, 29), datetime(2026, 10, 4), datetime(2026, 11, 1)):
        ((start, end),) = allowed_windows(day.date(), zone=ZoneInfo(zone), quiet_start=time(21), quiet_end=time(8))
        assert (start.hour, end.hour) == (8, 21)
        assert start.utcoffset() is not None
        assert start.astimezone(UTC).tzinfo is UTC
