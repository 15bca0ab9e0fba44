"""A staff member of a clinic that requires two-factor sign-in sets an authenticator app up, then signs
in with its code on a phone."""

from base64 import b32decode
from datetime import timedelta

import pytest
import time_machine
from django.contrib.auth import get_user_model
from django.utils import timezone
from django_otp.oath import totp

from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def clinic_requiring_it(db):
    clinic = factories.ClinicFactory(name="Riverside Clinic", staff_two_factor_required=True)
    user = get_user_model().objects.create_user(username="dana", password="a-long-test-password", first_name="Dana")
    factories.StaffMembershipFactory(user=user, clinic=clinic)
    return clinic


def sign_in_with_password(page, goto: str = "/staff/") -> None:
    page.goto(goto)
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill("a-long-test-password")
    page.get_by_role("button", name="Sign in").click()


def fits(page) -> bool:
    width = page.viewport_size["width"]
    return page.evaluate("(width) => document.documentElement.scrollWidth <= Math.min(window.innerWidth, width)", width)


def test_setting_up_an_app_then_signing_in_with_its_code(clinic_requiring_it, page, phone_page, screenshot):
    # At a desk: the password, then the setup page with its QR code and key.
    sign_in_with_password(page, "/staff/tomorrow/")
    page.wait_for_url("**/staff/two-factor/setup/?next=%2Fstaff%2Ftomorrow%2F")
    page.get_by_role("heading", name="Set up two-factor sign-in").wait_for()
    assert page.get_by_role("img", name="QR code for your authenticator app").is_visible()
    assert page.get_by_role("link", name="Families").count() == 0  # nothing to reach until it is done
    screenshot(page, "staff-two-factor-setup")
    page.set_viewport_size({"width": 390, "height": 844})
    assert fits(page)
    screenshot(page, "staff-two-factor-setup-phone")
    page.set_viewport_size({"width": 1100, "height": 900})

    # The app, given the key the page shows, makes the code that turns it on.
    key = b32decode(page.locator(".secret code").inner_text().replace(" ", ""))
    page.get_by_label("6-digit code").fill(f"{totp(key):06d}")
    page.get_by_role("button", name="Turn on two-factor sign-in").click()
    page.wait_for_url("**/staff/tomorrow/")
    page.get_by_text("Two-factor sign-in is on.").wait_for()
    page.get_by_role("link", name="Dana").click()
    page.get_by_text("Each sign-in asks for your password, then the code from your authenticator app.").wait_for()
    screenshot(page, "staff-account")

    # Later, on a phone: the password, then a code. A mistyped one is explained; the right one lets her in.
    with time_machine.travel(timezone.now() + timedelta(seconds=60), tick=True):  # the next code, not the one used
        sign_in_with_password(phone_page)
        phone_page.wait_for_url("**/staff/two-factor/code/")
        phone_page.get_by_label("6-digit code").fill(f"{(totp(key) + 1) % 1_000_000:06d}")
        phone_page.get_by_role("button", name="Continue").click()
        phone_page.get_by_text("That code didn't work.").wait_for()
        assert fits(phone_page)
        screenshot(phone_page, "staff-two-factor-code-phone")
        phone_page.wait_for_timeout(1100)  # django-otp makes a device wait a second after a wrong code
        phone_page.get_by_label("6-digit code").fill(f"{totp(key):06d}")
        phone_page.get_by_role("button", name="Continue").click()
        phone_page.wait_for_url("**/staff/")
        phone_page.get_by_role("heading", name="Families").wait_for()
