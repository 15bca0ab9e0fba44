"""Dates at the ends of the calendar get a clear error, never a 500.

The outside tester found `?to=9999-12-31` on the staff API and `?day=9999-12-31` (or 0001-01-01)
on the tomorrow page raised OverflowError: a day added, or a time zone's offset taken away, left
the calendar.
"""

from __future__ import annotations

import pytest

from tests import factories
from tests.clients import token_client

FAR = ["9999-12-31", "0001-01-01", "1899-12-31", "2100-01-01"]


@pytest.mark.parametrize("day", FAR)
@pytest.mark.parametrize("name", ["to", "from"])
def test_a_day_off_the_calendar_on_the_api_means_no_limit(staff_user, day, name):
    factories.AppointmentFactory(loved_one__clinic=staff_user.memberships.get().clinic)
    response = token_client(staff_user).get("/api/v1/appointments/", {name: day})
    assert response.status_code == 200
    far_future = day > "2026"
    # Up to the end of time: everything. From the beginning of time: everything. The other way: nothing.
    assert len(response.json()["results"]) == (1 if far_future == (name == "to") else 0)


@pytest.mark.parametrize("day", FAR)
def test_the_tomorrow_page_says_so_and_shows_tomorrow(client, staff_user, day):
    client.force_login(staff_user)
    page = client.get("/staff/tomorrow/", {"day": day})
    assert page.status_code == 200
    assert "Give a day in the years 2000 to 2099; showing tomorrow." in page.content.decode()
