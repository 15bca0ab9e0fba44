"""Two-factor sign-in for staff: a clinic that requires it, setting an authenticator app up, the code
at each sign-in, wrong codes, and everyone it must not touch (other clinics, API tokens)."""

from __future__ import annotations

import io
import re
from base64 import b32decode
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.test import Client
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from tests import factories
from tests.clients import token_client
from tests.portal.conftest import text

PASSWORD = "a-long-test-password"  # the staff_user fixture's
START = datetime(2026, 11, 2, 15, 0, 5, tzinfo=UTC)  # 5 s into a 15-minute sign-in limit window


@pytest.fixture(autouse=True)
def frozen_clock():
    """Codes depend on the clock: it stands still unless a test moves it."""
    with time_machine.travel(START, tick=False) as traveller:
        yield traveller


@pytest.fixture
def requiring_clinic(clinic):
    clinic.staff_two_factor_required = True
    clinic.save()
    return clinic


def log_in(client: Client, *, next_url: str = "", username: str = "dana", path: str = "/staff/login/"):
    data = {"username": username, "password": PASSWORD}
    if next_url:
        data["next"] = next_url
    return client.post(path, data)


def code_for(device: TOTPDevice) -> str:
    """What the staff member's authenticator app shows now."""
    device.refresh_from_db()
    return f"{totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits):06d}"


def a_wrong_code(device: TOTPDevice) -> str:
    right = int(code_for(device))
    return f"{(right + 500_000) % 1_000_000:06d}"


def secret_on(page_html: str) -> bytes:
    """The setup key as the page shows it, read as an authenticator app would."""
    shown = re.search(r'<p class="secret"><code>([A-Z2-7 ]+)</code>', page_html).group(1)
    return b32decode(shown.replace(" ", ""))


def where(response) -> str:
    return response["Location"]


# --- A clinic that requires it --------------------------------------------------------------------------


def test_the_password_alone_reaches_no_staff_page_admin_or_session_api(requiring_clinic, staff_user):
    staff_user.is_staff = True
    staff_user.save()
    client = Client()
    assert where(log_in(client)) == "/staff/two-factor/setup/"
    assert where(client.get("/staff/")) == "/staff/two-factor/setup/"
    assert where(client.get("/staff/tomorrow/")) == "/staff/two-factor/setup/?next=%2Fstaff%2Ftomorrow%2F"
    assert where(client.get("/admin/")) == "/staff/two-factor/setup/?next=%2Fadmin%2F"
    assert where(client.get("/admin/caregiver/clinic/")).startswith("/staff/two-factor/setup/")
    api = client.get("/api/v1/families/")
    assert api.status_code == 403
    assert "set up an authenticator app at /staff/two-factor/setup/" in api.json()["detail"]


def test_setting_up_the_app_with_its_first_code_signs_in_and_returns_to_the_page(requiring_clinic, staff_user):
    client = Client()
    setup = client.get(where(log_in(client, next_url="/staff/tomorrow/")))
    page = text(setup)
    assert f"{requiring_clinic.name} asks staff to confirm each sign-in" in page
    key = secret_on(setup.content.decode())
    # The QR code carries the same secret, for the app to scan.
    device = TOTPDevice.objects.get(user=staff_user)
    assert device.bin_key == key
    assert not device.confirmed

    done = client.post(setup.request["PATH_INFO"] + "?next=%2Fstaff%2Ftomorrow%2F", {"code": f"{totp(key):06d}"})
    assert where(done) == "/staff/tomorrow/"
    back = client.get("/staff/tomorrow/")
    assert back.status_code == 200
    assert "Two-factor sign-in is on. Each time you sign in, enter the code your app shows." in text(back)
    assert "On Each sign-in asks for your password" in text(client.get("/staff/account/"))
    assert client.get("/api/v1/families/").status_code == 200
    device.refresh_from_db()
    assert device.confirmed


def test_reloading_the_setup_page_keeps_the_key_already_scanned(requiring_clinic, staff_user):
    client = Client()
    log_in(client)
    first = secret_on(client.get("/staff/two-factor/setup/").content.decode())
    again = secret_on(client.get("/staff/two-factor/setup/").content.decode())
    assert first == again
    assert TOTPDevice.objects.filter(user=staff_user).count() == 1


def test_someone_with_only_the_password_cannot_read_the_key_the_owner_will_scan(requiring_clinic, staff_user):
    """Found by the outside tester: every session saw the same pending key, so a password thief who
    opened the setup page first held the owner's second factor once the owner turned it on."""
    thief, owner = Client(), Client()
    log_in(thief)
    stolen = secret_on(thief.get("/staff/two-factor/setup/").content.decode())
    log_in(owner)
    key = secret_on(owner.get("/staff/two-factor/setup/").content.decode())
    assert key != stolen
    assert where(owner.post("/staff/two-factor/setup/", {"code": f"{totp(key):06d}"})) == "/staff/"
    # Only the owner's app was kept.
    assert TOTPDevice.objects.filter(user=staff_user).count() == 1
    assert TOTPDevice.objects.get(user=staff_user).confirmed


def test_a_wrong_code_at_setup_is_refused_with_a_clear_message(requiring_clinic, staff_user):
    client = Client()
    log_in(client)
    client.get("/staff/two-factor/setup/")
    device = TOTPDevice.objects.get(user=staff_user)
    response = client.post("/staff/two-factor/setup/", {"code": a_wrong_code(device)})
    assert response.status_code == 200
    assert "That code didn't work. Enter the 6-digit code your authenticator app shows now." in text(response)
    assert not TOTPDevice.objects.get(user=staff_user).confirmed
    assert where(client.get("/staff/")) == "/staff/two-factor/setup/"


def test_something_that_is_not_a_code_is_explained_and_not_counted(requiring_clinic, staff_user):
    client = Client()
    log_in(client)
    client.get("/staff/two-factor/setup/")
    response = client.post("/staff/two-factor/setup/", {"code": "12345"})
    assert "Enter the 6 digits your authenticator app shows" in text(response)
    assert TOTPDevice.objects.get(user=staff_user).throttling_failure_count == 0


# --- Staff with an app: a code at every sign-in -------------------------------------------------------------


def test_staff_with_an_app_enter_its_code_at_each_sign_in(clinic, staff_user, frozen_clock):
    device = factories.TOTPDeviceFactory(user=staff_user)  # set up by choice: the clinic does not require it
    client = Client()
    assert where(log_in(client, next_url="/staff/texts/")) == "/staff/two-factor/code/?next=%2Fstaff%2Ftexts%2F"
    assert where(client.get("/staff/")) == "/staff/two-factor/code/"
    assert "enter the code from your authenticator app" in client.get("/api/v1/families/").json()["detail"]
    page = client.get("/staff/two-factor/code/?next=%2Fstaff%2Ftexts%2F")
    assert "Enter your sign-in code" in text(page)

    signed_in = client.post("/staff/two-factor/code/", {"code": code_for(device), "next": "/staff/texts/"})
    assert where(signed_in) == "/staff/texts/"
    assert client.get("/staff/").status_code == 200

    # The next sign-in, from another browser, asks again; the code already used does not work twice.
    other = Client()
    log_in(other)
    assert "That code didn't work" in text(other.post("/staff/two-factor/code/", {"code": code_for(device)}))
    frozen_clock.shift(timedelta(seconds=30))
    assert where(other.post("/staff/two-factor/code/", {"code": code_for(device)})) == "/staff/"


def test_a_wrong_code_at_sign_in_is_refused_with_a_clear_message(requiring_clinic, staff_user):
    device = factories.TOTPDeviceFactory(user=staff_user)
    client = Client()
    log_in(client)
    response = client.post("/staff/two-factor/code/", {"code": a_wrong_code(device)})
    assert response.status_code == 200
    assert "That code didn't work. Enter the 6-digit code your authenticator app shows now." in text(response)
    assert where(client.get("/staff/")) == "/staff/two-factor/code/"


def test_a_code_right_after_a_wrong_one_waits_for_the_device(requiring_clinic, staff_user, frozen_clock):
    """django-otp's own throttle: 1, 2, 4 ... seconds after each wrong code in a row."""
    device = factories.TOTPDeviceFactory(user=staff_user)
    client = Client()
    log_in(client)
    client.post("/staff/two-factor/code/", {"code": a_wrong_code(device)})
    hurried = client.post("/staff/two-factor/code/", {"code": code_for(device)})
    assert hurried.status_code == 429
    assert "Too many wrong codes. Wait 1 second, then enter the code your app shows." in text(hurried)
    frozen_clock.shift(timedelta(seconds=2))
    assert where(client.post("/staff/two-factor/code/", {"code": code_for(device)})) == "/staff/"


def test_wrong_codes_count_with_wrong_passwords_and_lock_the_username(
    requiring_clinic, staff_user, settings, frozen_clock
):
    settings.STAFF_LOGIN_FAILURES_PER_USERNAME = 3
    device = factories.TOTPDeviceFactory(user=staff_user)
    client = Client()
    log_in(client)
    for _ in range(3):
        assert client.post("/staff/two-factor/code/", {"code": a_wrong_code(device)}).status_code == 200
        frozen_clock.shift(timedelta(seconds=10))  # past the device's own wait
    locked = client.post("/staff/two-factor/code/", {"code": code_for(device)})
    assert locked.status_code == 429
    assert "Too many wrong codes. Try again in 15 minutes." in text(locked)
    assert locked["Retry-After"]
    # The username is locked for passwords too, from anywhere, until the window ends.
    assert log_in(Client()).status_code == 429
    frozen_clock.shift(timedelta(minutes=15))
    assert where(client.post("/staff/two-factor/code/", {"code": code_for(device)})) == "/staff/"


def test_a_password_cannot_replace_an_app_already_set_up(requiring_clinic, staff_user):
    device = factories.TOTPDeviceFactory(user=staff_user)
    client = Client()
    log_in(client)
    assert where(client.get("/staff/two-factor/setup/")) == "/staff/two-factor/code/"
    assert list(TOTPDevice.objects.filter(user=staff_user)) == [device]


def test_next_may_only_point_at_this_site(requiring_clinic, staff_user):
    device = factories.TOTPDeviceFactory(user=staff_user)
    client = Client()
    log_in(client)
    response = client.post("/staff/two-factor/code/", {"code": code_for(device), "next": "https://evil.example/"})
    assert where(response) == "/staff/"


# --- Everyone else -------------------------------------------------------------------------------------------


def test_a_clinic_that_does_not_require_it_is_unaffected(clinic, staff_user):
    client = Client()
    assert where(log_in(client, next_url="/staff/tomorrow/")) == "/staff/tomorrow/"
    assert client.get("/staff/").status_code == 200
    assert client.get("/api/v1/families/").status_code == 200
    account = text(client.get("/staff/account/"))
    assert "Off Your password alone signs you in" in account
    assert not TOTPDevice.objects.exists()


def test_a_member_of_two_clinics_needs_it_if_either_requires_it(clinic, staff_user):
    factories.StaffMembershipFactory(user=staff_user, clinic=factories.ClinicFactory(staff_two_factor_required=True))
    client = Client()
    assert where(log_in(client)) == "/staff/two-factor/setup/"


def test_turning_the_setting_on_asks_staff_already_signed_in(clinic, staff_user):
    client = Client()
    log_in(client)
    assert client.get("/staff/").status_code == 200
    clinic.staff_two_factor_required = True
    clinic.save()
    assert where(client.get("/staff/")) == "/staff/two-factor/setup/"


def test_staff_api_tokens_need_no_code(requiring_clinic, staff_user):
    factories.TOTPDeviceFactory(user=staff_user)
    assert token_client(staff_user).get("/api/v1/families/").status_code == 200


def test_staff_can_turn_it_on_themselves_and_see_it_is_on(clinic, staff_user):
    client = Client()
    log_in(client)
    account = client.get("/staff/account/")
    assert 'href="/staff/two-factor/setup/?next=/staff/account/"' in account.content.decode()
    setup = client.get("/staff/two-factor/setup/?next=/staff/account/")
    assert "You can confirm each sign-in with a code" in text(setup)
    key = secret_on(setup.content.decode())
    done = client.post("/staff/two-factor/setup/", {"code": f"{totp(key):06d}", "next": "/staff/account/"})
    assert where(done) == "/staff/account/"
    page = text(client.get("/staff/account/"))
    assert "Two-factor sign-in is on." in page  # the message
    assert "On Each sign-in asks for your password, then the code from your authenticator app." in page
    assert "Set up 2 November 2026" in page


# --- Operators ----------------------------------------------------------------------------------------------


def test_superusers_need_it_when_the_setting_says_so(db, settings):
    get_user_model().objects.create_superuser(username="operator", password=PASSWORD)
    settings.SUPERUSER_TWO_FACTOR_REQUIRED = True
    client = Client()
    assert where(log_in(client, username="operator", path="/admin/login/", next_url="/admin/")) == "/admin/"
    assert where(client.get("/admin/")) == "/staff/two-factor/setup/?next=%2Fadmin%2F"
    assert "Operator accounts confirm each sign-in" in text(client.get("/staff/two-factor/setup/"))

    settings.SUPERUSER_TWO_FACTOR_REQUIRED = False
    assert client.get("/admin/").status_code == 200


def test_a_reset_app_must_be_set_up_again(requiring_clinic, staff_user):
    device = factories.TOTPDeviceFactory(user=staff_user)
    client = Client()
    log_in(client)
    client.post("/staff/two-factor/code/", {"code": code_for(device)})
    assert client.get("/staff/").status_code == 200

    out = io.StringIO()
    call_command("reset_staff_two_factor", "dana", stdout=out)
    assert "Two-factor sign-in reset for dana" in out.getvalue()
    assert "asked to set up a new authenticator app" in out.getvalue()
    assert not TOTPDevice.objects.filter(user=staff_user).exists()
    # The session that entered a code on the lost phone's app counts for nothing now.
    assert where(client.get("/staff/")) == "/staff/two-factor/setup/"


def test_only_operators_see_or_delete_apps_in_the_admin(staff_user, db):
    device = factories.TOTPDeviceFactory(user=staff_user)
    operator = get_user_model().objects.create_superuser(username="operator", password=PASSWORD)
    client = Client()
    client.force_login(operator)
    page = client.get(f"/admin/otp_totp/totpdevice/{device.pk}/change/").content.decode()
    assert device.key not in page  # the secret is never shown, not even to an operator
    response = client.post(f"/admin/otp_totp/totpdevice/{device.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    assert not TOTPDevice.objects.filter(pk=device.pk).exists()
