"""Staff sessions end after STAFF_IDLE_TIMEOUT_MINUTES without a request; caregivers' pages never notice."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client

from caregiver.tokens import preferences_token
from tests.portal.conftest import text

PASSWORD = "a-long-test-password"  # the staff_user fixture's
START = datetime(2026, 11, 2, 15, 0, 5, tzinfo=UTC)
SIGNED_OUT = "You were signed out after 30 minutes without activity. Sign in again to carry on."


@pytest.fixture
def clock():
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def signed_in(staff_user, clock) -> Client:
    client = Client()
    client.post("/staff/login/", {"username": "dana", "password": PASSWORD})
    assert client.get("/staff/").status_code == 200
    return client


def test_29_minutes_without_activity_keeps_the_session(signed_in, clock):
    clock.shift(timedelta(minutes=29))
    assert signed_in.get("/staff/tomorrow/").status_code == 200


def test_31_minutes_without_activity_signs_out_with_a_message_and_comes_back(signed_in, clock):
    clock.shift(timedelta(minutes=31))
    response = signed_in.get("/staff/tomorrow/")
    assert response["Location"] == "/staff/login/?next=/staff/tomorrow/"
    login = signed_in.get(response["Location"])
    assert SIGNED_OUT in text(login)
    # Signed out for real: the staff API on that session is refused too.
    assert signed_in.get("/api/v1/families/").status_code == 401
    again = signed_in.post(response["Location"], {"username": "dana", "password": PASSWORD})
    assert again["Location"] == "/staff/tomorrow/"
    assert signed_in.get("/staff/tomorrow/").status_code == 200


def test_each_request_starts_the_30_minutes_again(signed_in, clock):
    for _ in range(6):  # three hours, a request every 25 minutes
        clock.shift(timedelta(minutes=25))
        assert signed_in.get("/staff/").status_code == 200


def test_the_admin_and_the_session_api_time_out_too(staff_user, signed_in, clock):
    staff_user.is_staff = True
    staff_user.save()
    clock.shift(timedelta(minutes=31))
    assert signed_in.get("/admin/")["Location"] == "/staff/login/?next=/admin/"

    api = Client()
    api.force_login(staff_user)
    assert api.get("/api/v1/families/").status_code == 200
    clock.shift(timedelta(minutes=31))
    assert api.get("/api/v1/families/").status_code == 401  # signed out: as if never signed in


def test_a_form_sent_after_the_timeout_comes_back_to_its_page_not_the_post(signed_in, clock):
    clock.shift(timedelta(minutes=31))
    response = signed_in.post(
        "/staff/closures/", {"day": "2026-12-24", "note": "Holiday"}, HTTP_REFERER="http://testserver/staff/closures/"
    )
    assert response["Location"] == "/staff/login/?next=/staff/closures/"


def test_the_timeout_is_a_setting(signed_in, clock, settings):
    settings.STAFF_IDLE_TIMEOUT_MINUTES = 5
    clock.shift(timedelta(minutes=7))
    response = signed_in.get("/staff/", follow=True)
    assert "You were signed out after 5 minutes without activity." in text(response)


def test_caregiver_pages_are_not_touched(signed_in, clock, caregiver, clinic):
    """A caregiver's link works the same whoever's browser it is opened in, and signs nobody out."""
    clock.shift(timedelta(minutes=31))
    assert signed_in.get(f"/p/{preferences_token(caregiver.pk, address=caregiver.phone)}/").status_code == 200
    assert signed_in.get(f"/join/{clinic.enrollment_code}/").status_code == 200
    assert SIGNED_OUT not in text(signed_in.get("/join/"))
