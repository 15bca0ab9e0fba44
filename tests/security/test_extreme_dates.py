"""Dates at the ends of the calendar get a clear error, never a 500.

The outside tester found `?to=9999-12-31` on the staff API and `?day=9999-12-31` (or 0001-01-01)
on the tomorrow page raised OverflowError: a day added, or a time zone's offset taken away, left
the calendar.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError

from caregiver.validators import local_to_utc
from tests.clients import token_client

FAR = ["9999-12-31", "0001-01-01", "1899-12-31", "2100-01-01"]


@pytest.mark.parametrize("day", FAR)
@pytest.mark.parametrize("name", ["to", "from"])
def test_the_api_answers_a_day_off_the_calendar_with_a_400(staff_user, day, name):
    response = token_client(staff_user).get("/api/v1/appointments/", {name: day})
    assert response.status_code == 400
    assert "Give a date in the years 2000 to 2099." in str(response.json())


@pytest.mark.parametrize("moment", ["9999-12-31T23:59:59Z", "0001-01-01T00:00:00+05:00"])
def test_the_api_answers_a_moment_off_the_calendar_with_a_400(staff_user, moment):
    api = token_client(staff_user)
    assert api.get("/api/v1/appointments/", {"to": moment}).status_code == 400
    family = {"first_name": "Morgan", "appointments": [{"starts_at": moment, "kind": "infusion"}]}
    assert api.post("/api/v1/families/", family, format="json").status_code == 400


@pytest.mark.parametrize("day", FAR)
def test_the_tomorrow_page_says_so_and_shows_tomorrow(client, staff_user, day):
    client.force_login(staff_user)
    page = client.get("/staff/tomorrow/", {"day": day})
    assert page.status_code == 200
    assert "Give a day in the years 2000 to 2099; showing tomorrow." in page.content.decode()


@pytest.mark.parametrize("day", FAR)
def test_a_local_time_off_the_calendar_is_refused_before_it_is_converted(day):
    from datetime import date, datetime, time

    with pytest.raises(ValidationError, match="years 2000 to 2099"):
        local_to_utc(datetime.combine(date.fromisoformat(day), time(23, 30)), time_zone="America/Chicago")
