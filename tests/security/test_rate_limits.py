"""Limits on what one person, number or address can make us do, tried from the outside.

SMS pumping (codes sent to one number, or from one connection), guessing staff passwords and API
tokens, and flooding the APIs. Each limit is set low in the test; the defaults are in
config/settings/base.py and docs/reliability.md.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from rest_framework.test import APIClient
from rest_framework.views import APIView

from caregiver import services
from caregiver.models import Caregiver
from content.api import ApiKeyThrottle
from messaging.models import OutboundMessage
from portal.api import StaffApiThrottle
from tests import factories
from tests.clients import token_client
from tests.portal.conftest import text

PASSWORD = "a-long-test-password"  # the staff_user fixture's
SIGNUP = {
    "name": "Jordan Rivera", "phone": "(202) 555-0143", "email": "", "channels": "sms", "loved_one": "Alex",
    "relationship": "partner", "time_zone": "America/Chicago", "consent": "on",
}  # fmt: skip


def sign_up(client, clinic, ip: str, **changes):
    return client.post(f"/join/{clinic.enrollment_code}/", {**SIGNUP, **changes}, REMOTE_ADDR=ip)


def codes_sent() -> int:
    return OutboundMessage.objects.filter(kind="confirmation", channel="sms").count()


# --- Sign-up codes: SMS pumping ------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_codes_to_one_number_are_limited_across_clinics_and_connections(content, settings):
    settings.CONFIRMATIONS_PER_ADDRESS_PER_HOUR = 2
    clinics = [factories.ClinicFactory() for _ in range(3)]
    answers = [sign_up(Client(), clinic, ip=f"198.51.100.{n}").status_code for n, clinic in enumerate(clinics)]
    assert answers == [302, 302, 429]
    assert codes_sent() == 2
    # The refused sign-up left nothing behind to confirm later.
    assert not Caregiver.objects.filter(clinic=clinics[2]).exists()


@pytest.mark.django_db(transaction=True)
def test_codes_from_one_connection_are_limited_across_numbers(content, settings, clinic):
    settings.CONFIRMATIONS_PER_IP_PER_HOUR = 2
    answers = [sign_up(Client(), clinic, ip="198.51.100.7", phone=f"(202) 555-01{n}5") for n in range(3)]
    assert [a.status_code for a in answers] == [302, 302, 429]
    assert "too many confirmations from your connection" in text(answers[2])
    assert codes_sent() == 2


@pytest.mark.django_db(transaction=True)
def test_a_forwarded_for_header_does_not_make_a_new_address(content, settings, clinic):
    settings.SIGNUPS_PER_IP_PER_HOUR = 2
    answers = [
        Client()
        .post(
            f"/join/{clinic.enrollment_code}/",
            {**SIGNUP, "phone": f"(202) 555-01{n}6"},
            REMOTE_ADDR="198.51.100.8",
            HTTP_X_FORWARDED_FOR=f"203.0.113.{n}",
        )
        .status_code
        for n in range(3)
    ]
    assert answers == [302, 302, 429]


@pytest.mark.django_db(transaction=True)
def test_sign_ups_are_allowed_again_when_the_hour_is_over(content, settings, clinic):
    settings.SIGNUPS_PER_IP_PER_HOUR = 1
    start = datetime(2026, 11, 2, 15, 0, 5, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        assert sign_up(Client(), clinic, ip="198.51.100.9").status_code == 302
        assert sign_up(Client(), clinic, ip="198.51.100.9", phone="(202) 555-0147").status_code == 429
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        assert sign_up(Client(), clinic, ip="198.51.100.9", phone="(202) 555-0147").status_code == 302


def test_staff_invitations_have_a_limit_of_their_own_per_clinic(staff_user, clinic, settings):
    """A stranger pressing "send a new code" on the public page must not stop a clinic enrolling a
    family, and one clinic's invitations tell another nothing; staff still cannot pump one number."""
    settings.CONFIRMATIONS_PER_ADDRESS_PER_HOUR = 1
    assert sign_up(Client(), clinic, ip="198.51.100.7", phone="(202) 555-0150").status_code == 302
    second = factories.ClinicFactory()
    factories.StaffMembershipFactory(user=staff_user, clinic=second)
    api = token_client(staff_user)
    family = {"first_name": "Morgan", "caregivers": [{"name": "Sam", "phone": "202-555-0150", "channels": "sms"}]}
    assert api.post("/api/v1/families/", {**family, "clinic": clinic.pk}, format="json").status_code == 201
    assert api.post("/api/v1/families/", {**family, "clinic": second.pk}, format="json").status_code == 201
    caregiver = second.caregivers.get()
    with pytest.raises(services.RateLimited, match="too many codes to this number"):
        services.caregiver_invite(caregiver=caregiver, by=staff_user)


# --- Staff sign-in: guessing passwords --------------------------------------------------------------------


def log_in(username: str, password: str, *, ip: str = "192.0.2.1", path: str = "/staff/login/"):
    return Client().post(path, {"username": username, "password": password}, REMOTE_ADDR=ip)


@time_machine.travel(datetime(2026, 11, 2, 15, 0, 5, tzinfo=UTC), tick=False)  # 5 s into a 15-minute window
def test_five_wrong_passwords_lock_the_username_even_against_the_right_one(staff_user, settings):
    settings.STAFF_LOGIN_FAILURES_PER_USERNAME = 5
    assert [log_in("dana", "wrong").status_code for _ in range(5)] == [200] * 5
    response = log_in("dana", PASSWORD)
    assert response.status_code == 429
    assert "Too many failed sign-ins. Try again in 15 minutes." in text(response)
    assert response["Retry-After"] == "895"
    assert "_auth_user_id" not in response.wsgi_request.session


def test_fewer_failures_than_the_limit_do_not_lock_anyone_out(staff_user, settings):
    settings.STAFF_LOGIN_FAILURES_PER_USERNAME = 5
    for _ in range(4):
        log_in("dana", "wrong")
    assert log_in("dana", PASSWORD)["Location"] == "/staff/"


def test_a_locked_account_and_a_made_up_one_get_the_same_answer(staff_user, settings):
    settings.STAFF_LOGIN_FAILURES_PER_USERNAME = 3
    answers = {}
    for username in ("dana", "nobody-by-this-name"):
        wrong = [log_in(username, "wrong", ip="192.0.2.2") for _ in range(3)]
        locked = log_in(username, "wrong", ip="192.0.2.2")
        answers[username] = [(r.status_code, text(r)) for r in (*wrong, locked)]
    assert answers["dana"] == answers["nobody-by-this-name"]
    assert answers["dana"][-1][0] == 429


def test_a_stranger_guessing_a_username_cannot_lock_its_owner_out(staff_user, settings):
    settings.STAFF_LOGIN_FAILURES_PER_USERNAME = 3
    for _ in range(3):
        log_in("Dana ", "wrong", ip="198.51.100.66")  # however it is typed
    # The guesser's address is locked for that username, even with the right password...
    assert log_in("dana", PASSWORD, ip="198.51.100.66").status_code == 429
    # ...and Dana, at her own desk, signs in.
    assert log_in("dana", PASSWORD, ip="192.0.2.20")["Location"] == "/staff/"


def test_one_address_guessing_many_usernames_is_stopped_without_locking_them_out_elsewhere(staff_user, settings):
    settings.STAFF_AUTH_FAILURES_PER_IP = 4
    for n in range(4):
        log_in(f"guess{n}", "wrong", ip="192.0.2.30")
    assert log_in("dana", PASSWORD, ip="192.0.2.30").status_code == 429
    assert log_in("dana", PASSWORD, ip="192.0.2.31")["Location"] == "/staff/"


def test_the_lock_ends_with_its_window(staff_user, settings):
    settings.STAFF_LOGIN_FAILURES_PER_USERNAME = 2
    start = datetime(2026, 11, 2, 15, 0, 5, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        log_in("dana", "wrong")
        log_in("dana", "wrong")
        assert log_in("dana", PASSWORD).status_code == 429
    with time_machine.travel(start + timedelta(seconds=settings.STAFF_AUTH_FAILURE_WINDOW_SECONDS), tick=False):
        assert log_in("dana", PASSWORD)["Location"] == "/staff/"


def test_the_admin_login_counts_and_obeys_the_same_limits(staff_user, settings):
    settings.STAFF_LOGIN_FAILURES_PER_USERNAME = 3
    staff_user.is_staff = True
    staff_user.save()
    for _ in range(3):
        assert log_in("dana", "wrong", path="/admin/login/").status_code == 200
    admin = log_in("dana", PASSWORD, path="/admin/login/")
    assert admin.status_code == 429
    assert "Too many failed sign-ins" in text(admin)
    assert log_in("dana", PASSWORD).status_code == 429


def test_a_coordinator_at_the_admin_door_with_the_right_password_is_not_counted(staff_user, settings):
    """Found by the outside tester: the admin refuses clinic staff (not is_staff) with "enter the
    correct username and password", and five right passwords there locked them out of /staff/."""
    settings.STAFF_LOGIN_FAILURES_PER_USERNAME = 3
    for _ in range(5):
        assert log_in("dana", PASSWORD, path="/admin/login/").status_code == 200
    assert log_in("dana", PASSWORD)["Location"] == "/staff/"


# --- Staff API: throttles and guessed tokens ----------------------------------------------------------------


def test_each_staff_token_is_throttled_with_retry_after(staff_user, settings):
    settings.STAFF_API_THROTTLE_RATE = "3/min"
    start = datetime(2026, 11, 2, 15, 0, 5, tzinfo=UTC)
    with time_machine.travel(start, tick=False):
        busy = token_client(staff_user)
        assert [busy.get("/api/v1/families/").status_code for _ in range(3)] == [200] * 3
        throttled = busy.get("/api/v1/appointments/")
        assert throttled.status_code == 429
        assert 0 < int(throttled["Retry-After"]) <= 60
        # Another system's token, and the person on their own session, have budgets of their own.
        assert token_client(staff_user).get("/api/v1/families/").status_code == 200
        session = APIClient()
        session.force_login(staff_user)
        assert session.get("/api/v1/families/").status_code == 200
    with time_machine.travel(start + timedelta(minutes=1), tick=False):
        assert busy.get("/api/v1/families/").status_code == 200


def test_an_address_sending_bad_tokens_is_refused_but_a_valid_token_from_it_still_works(staff_user, settings):
    settings.STAFF_AUTH_FAILURES_PER_IP = 3
    guesser = APIClient()
    guesser.credentials(HTTP_AUTHORIZATION="Token abcdefgh.0123456789abcdef0123456789abcdef")
    assert [guesser.get("/api/v1/families/", REMOTE_ADDR="192.0.2.40").status_code for _ in range(3)] == [401] * 3
    refused = guesser.get("/api/v1/families/", REMOTE_ADDR="192.0.2.40")
    assert refused.status_code == 429
    assert 0 < int(refused["Retry-After"]) <= settings.STAFF_AUTH_FAILURE_WINDOW_SECONDS
    # Someone else's guesses from the same (shared) address never stop a valid token.
    good = token_client(staff_user)
    assert good.get("/api/v1/families/", REMOTE_ADDR="192.0.2.40").status_code == 200
    assert good.get("/api/v1/families/", REMOTE_ADDR="192.0.2.41").status_code == 200
    # Tokens and passwords share the address's budget.
    assert log_in("dana", PASSWORD, ip="192.0.2.40").status_code == 429


# --- Every API view has a throttle ---------------------------------------------------------------------------

# Public, no data, and cheap: the OpenAPI schema (about 40 ms to build) and its docs page.
UNTHROTTLED = {"schema", "api-docs"}


def _api_views(patterns, namespace: str = ""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _api_views(
                pattern.url_patterns, namespace + (f"{pattern.namespace}:" if pattern.namespace else "")
            )
        elif isinstance(pattern, URLPattern):
            view = getattr(pattern.callback, "cls", None)
            if isinstance(view, type) and issubclass(view, APIView):
                yield namespace + (pattern.name or str(pattern.pattern)), view


def test_every_api_view_is_throttled():
    views = dict(_api_views(get_resolver().url_patterns))
    assert views, "found the API views"
    unthrottled = {name for name, view in views.items() if not view.throttle_classes} - UNTHROTTLED
    assert unthrottled == set()
    # The tip API counts per key; the staff API per token (or staff member).
    assert ApiKeyThrottle in views["tip-list"].throttle_classes
    assert StaffApiThrottle in views["staff-family-list"].throttle_classes


def test_every_staff_operation_documents_its_429(client, db):
    paths = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()["paths"]
    staff = {
        f"{method.upper()} {path}": operation
        for path, operations in paths.items()
        if not path.startswith(("/api/v1/tips", "/api/v1/categories"))
        for method, operation in operations.items()
    }
    assert staff, "found the staff operations"
    assert [name for name, operation in staff.items() if "429" not in operation["responses"]] == []


# --- Guessing clinic codes ------------------------------------------------------------------------


def test_guessing_clinic_codes_is_stopped_per_connection(clinic, settings):
    settings.JOIN_CODE_MISSES_PER_IP_PER_HOUR = 3
    guesser = Client(REMOTE_ADDR="198.51.100.20")
    assert guesser.post("/join/", {"code": "AAAA1111"}).status_code == 400
    assert guesser.get("/join/BBBB2222/").status_code == 404
    assert guesser.post("/join/", {"code": "CCCC3333"}).status_code == 400
    # Out of guesses: even the right code is refused for the hour, with a reason.
    for response in (
        guesser.post("/join/", {"code": clinic.enrollment_code}),
        guesser.get(f"/join/{clinic.enrollment_code}/"),
    ):
        assert response.status_code == 429
        assert "Too many wrong clinic codes from this connection" in text(response)
    # Someone else, on another connection, signs up as usual.
    assert Client(REMOTE_ADDR="198.51.100.21").get(f"/join/{clinic.enrollment_code}/").status_code == 200
