"""Every operation in /api/schema/, fuzzed by Schemathesis: valid and invalid data, never a 5xx.

The tip API is called with a valid API key and the staff API with a staff token, so requests get
past authentication and reach the code that parses them. Writes (enroll, reschedule, cancel,
PATCH) run against a throwaway clinic. Half of the generated ids are swapped for a real one of the
right kind, so detail and write operations also run on rows that exist, with generated bodies.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
import schemathesis
from django.core.handlers.wsgi import WSGIHandler
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from django.utils import timezone
from django.utils.dateparse import parse_datetime
from hypothesis import HealthCheck, settings
from rest_framework_api_key.models import APIKey
from schemathesis.specs.openapi.checks import positive_data_acceptance

from messaging.models import Conversation
from portal.models import StaffApiToken
from tests import factories

# Generated examples per operation and mode; 16 operations stay well under two minutes.
EXAMPLES = 40

# Loaded at collection, through the app itself (pytest-django has set Django up by then); serving
# the schema needs no database. (schemathesis.pytest.from_fixture fails on pytest 9.2: it sets
# node._nodeid, which pytest no longer has.)
schema = schemathesis.openapi.from_wsgi("/api/schema/?format=json", WSGIHandler())
schema.config.generation.update(
    modes=["positive", "negative"],
    max_examples=EXAMPLES,
    deterministic=True,
    # Authorization is ours to send: a generated one would only ever test the 401.
    with_security_parameters=False,
)


@pytest.fixture(autouse=True)
def keep_the_test_connection():
    """Django's test Client does this too: the end of a request must not close the test's transaction."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@pytest.fixture
def throwaway(content, settings):
    """A clinic with a staff member, one family (caregiver, appointment, message), and both credentials."""
    # Throttles have tests of their own; here a 429 would only hide what the input does.
    settings.API_KEY_THROTTLE_RATE = settings.STAFF_API_THROTTLE_RATE = "100000/min"
    membership = factories.StaffMembershipFactory(clinic__time_zone="America/Chicago")
    clinic, user = membership.clinic, membership.user
    loved_one = factories.LovedOneFactory(clinic=clinic, first_name="Sam")
    caregiver = factories.CaregiverFactory(clinic=clinic)
    factories.CareLinkFactory(caregiver=caregiver, loved_one=loved_one)
    factories.ConsentRecordFactory(caregiver=caregiver)
    appointment = factories.AppointmentFactory(loved_one=loved_one)
    message = factories.OutboundMessageFactory(caregiver=caregiver, kind="reminder", appointment=appointment)
    conversation = Conversation.objects.create(
        clinic=clinic, caregiver=caregiver, phone=caregiver.phone, status="open", last_message_at=timezone.now()
    )
    _, staff_token = StaffApiToken.objects.create_key(name="fuzz", user=user)
    _, api_key = APIKey.objects.create_key(name="fuzz")
    return {
        "ids": {
            "clinics": clinic.pk,
            "families": loved_one.pk,
            "caregivers": caregiver.pk,
            "appointments": appointment.pk,
            "messages": message.pk,
            "conversations": conversation.pk,
        },
        "tip": "say-how-are-you",
        "headers": {"/api/v1/tips": f"Api-Key {api_key}", "/api/v1/categories": f"Api-Key {api_key}"},
        "staff": f"Token {staff_token}",
    }


def _swapped(value: object) -> bool:
    """Two in three valid ids (an invalid one is left, so a negative case stays negative)."""
    return isinstance(value, int) and not isinstance(value, bool) and 1 <= value < 2**63 and value % 3 != 2


def _aim_at_real_rows(case, throwaway) -> None:
    """Swap most generated ids (and every other slug) for one that exists, keeping the generated rest."""
    params = case.path_parameters or {}
    ids = throwaway["ids"]
    raw = params.get("id")  # a string of digits: the path allows [0-9]{1,18}
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) <= 18 and int(raw) % 3 != 2:
        params["id"] = str(ids[case.path.split("/")[3]])
    if isinstance(params.get("slug"), str) and len(params["slug"]) % 2 == 0:
        params["slug"] = throwaway["tip"]
    if isinstance(case.body, dict):
        for field, resource in (("clinic", "clinics"), ("loved_one", "families")):
            if _swapped(case.body.get(field)):
                case.body[field] = ids[resource]
        _make_plausible(case.body)


def _make_plausible(data: object) -> None:
    """Random text is never a real phone number or a time in the next 20 years: for every other such
    field (of the right type, so an invalid body stays invalid) put one that is, so writes get saved."""
    if isinstance(data, list):
        for item in data:
            _make_plausible(item)
    if not isinstance(data, dict):
        return
    for field, value in data.items():
        if field == "duration_minutes" and _swapped(value):
            data[field] = 30 + value % 100
            continue
        if not isinstance(value, str) or not value or len(value) % 2:  # "" may be the negative case's point
            _make_plausible(value)
            continue
        number = len(value) % 100
        if field == "phone":
            data[field] = f"+1202555{100 + number:04d}"
        elif field == "email":
            data[field] = f"fuzz{number}@example.com"
        elif field == "time_zone":
            data[field] = "America/Chicago"
        elif field == "starts_at" and _is_date_time(value):
            data[field] = (timezone.now() + timedelta(days=3 + number, minutes=number)).isoformat()


def _is_date_time(value: str) -> bool:
    try:
        return parse_datetime(value) is not None
    except ValueError:  # well formed, but no such time (minute 60)
        return False


def _authorization(case, throwaway) -> str:
    for prefix, header in throwaway["headers"].items():
        if case.path.startswith(prefix):
            return header
    return throwaway["staff"]


@pytest.mark.postgres
@pytest.mark.django_db
@schema.parametrize()
@settings(
    max_examples=EXAMPLES,
    derandomize=True,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    database=None,
)
def test_the_api_never_fails_and_answers_as_documented(case, throwaway):
    _aim_at_real_rows(case, throwaway)
    # The schema cannot say which phone numbers, times, languages or categories exist: for writes and
    # the tip filters, a 400 naming the field is the right answer to data that only looks valid.
    # The dashboard's dates are bounded (2020 to a year ahead, two years at most): a 400 that says so.
    judged_by_content = case.method != "GET" or case.path in (
        "/api/v1/tips/",
        "/api/v1/categories/",
        "/api/v1/dashboard/",
    )
    excluded = [positive_data_acceptance] if judged_by_content else []
    case.call_and_validate(headers={"Authorization": _authorization(case, throwaway)}, excluded_checks=excluded)
