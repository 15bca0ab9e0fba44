"""A caregiver signs up on a phone and confirms with the code that reached the Twilio-compatible server."""

import re

import pytest

from caregiver.models import Caregiver
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def clinic(content, fake_twilio, eager_celery):
    return factories.ClinicFactory(name="Riverside Clinic", enrollment_code="RIVER234")


def code_sent_to(fake_twilio, number: str) -> str:
    [message] = fake_twilio.sent_to(number)
    return re.search(r"\b(\d{6})\b", message["body"]).group(1)


def test_a_caregiver_signs_up_and_confirms_with_the_texted_code(phone_page, clinic, fake_twilio, screenshot):
    page = phone_page
    page.goto("/join/")
    page.get_by_label("Clinic code").fill("river234")
    page.get_by_role("button", name="Continue").click()
    page.wait_for_url("**/join/RIVER234/")
    # The browser's zone (Chicago here) is guessed for them.
    assert page.get_by_label("Time zone").input_value() == "America/Chicago"
    page.get_by_label("Your name").fill("Jordan Rivera")
    page.get_by_label("Mobile number").fill("2025550143")
    page.get_by_label("First name of the person you support").fill("Alex")
    page.get_by_label("You are their…").select_option("partner")
    screenshot(page, "join")
    page.get_by_role("button", name="Sign up").click()
    # Without the consent box ticked, nothing happens but an error next to it.
    assert page.get_by_text("Tick the box to agree").is_visible()
    page.get_by_label("I agree to receive these messages").check()
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url("**/join/RIVER234/confirm/")
    assert page.get_by_text("•••-•••-0143").is_visible()

    code = code_sent_to(fake_twilio, "+12025550143")
    page.get_by_label("6-digit code").fill("000000" if code != "000000" else "111111")
    page.get_by_role("button", name="Confirm").click()
    assert page.get_by_text("That code is not right. You have 4 tries left.").is_visible()
    screenshot(page, "join-code")
    page.get_by_label("6-digit code").fill(code)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/join/RIVER234/done/")
    assert page.get_by_role("heading", name="You're signed up, Jordan Rivera").is_visible()
    screenshot(page, "join-done")

    caregiver = Caregiver.objects.get(phone="+12025550143")
    assert caregiver.status == Caregiver.Status.ACTIVE
    assert caregiver.time_zone == "America/Chicago"
    # Until that moment, the code was the only text that number got.
    assert [body.startswith("Alongside: Your code is") for body in fake_twilio.bodies()] == [True]


def test_a_malformed_number_is_explained_next_to_the_field(phone_page, clinic):
    page = phone_page
    page.goto("/join/RIVER234/")
    page.get_by_label("Your name").fill("Jordan")
    page.get_by_label("Mobile number").fill("555-12")
    page.get_by_label("First name of the person you support").fill("Alex")
    page.get_by_label("I agree to receive these messages").check()
    page.get_by_role("button", name="Sign up").click()
    error = page.locator("#id_phone_error")
    assert "has too few digits" in error.inner_text()
    assert Caregiver.objects.count() == 0


@pytest.fixture(params=["phone_page", "page"], ids=["390px", "desktop"])
def any_page(request):
    """The same journey on a phone and on a desktop."""
    return request.getfixturevalue(request.param)


def fill_sign_up(page, *, name: str, number: str, loved_one: str = "Alex") -> None:
    page.goto("/join/RIVER234/")
    page.get_by_label("Your name").fill(name)
    page.get_by_label("Mobile number").fill(number)
    page.get_by_label("First name of the person you support").fill(loved_one)
    page.get_by_label("I agree to receive these messages").check()
    page.get_by_role("button", name="Sign up").click()
    page.wait_for_url("**/join/RIVER234/confirm/")


def codes_sent_to(fake_twilio, number: str) -> list[str]:
    return [re.search(r"\b(\d{6})\b", m["body"]).group(1) for m in fake_twilio.sent_to(number) if "code" in m["body"]]


def test_signing_up_again_while_pending_gets_a_new_code_and_the_done_page_says_how_to_change_things(
    any_page, clinic, fake_twilio, screenshot
):
    page = any_page
    fill_sign_up(page, name="Jordan Rivera", number="2025550143")
    page.context.clear_cookies()  # they closed the tab without typing the code, and come back later
    fill_sign_up(page, name="Jordan Rivera", number="2025550143", loved_one="Alexis")
    assert page.get_by_text("We texted a 6-digit code to •••-•••-0143").is_visible()
    _first, second = codes_sent_to(fake_twilio, "+12025550143")
    page.get_by_label("6-digit code").fill(second)
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/join/RIVER234/done/")
    assert page.get_by_text("reply PREFS to any of our texts for a link").is_visible()
    assert page.get_by_role("link", name="(202) 555-0100").get_attribute("href") == "tel:+12025550100"
    screenshot(page, "join-done-prefs" + ("" if page.viewport_size["width"] < 500 else "-desktop"))
    page.get_by_role("link", name="your preferences").click()
    page.get_by_role("heading", name="Your Alongside messages").wait_for()
    caregiver = Caregiver.objects.get(phone="+12025550143")
    assert caregiver.loved_ones.get().first_name == "Alexis"


def test_signing_up_a_confirmed_number_looks_the_same_and_its_owner_is_told(any_page, clinic, fake_twilio):
    owner = factories.CaregiverFactory(clinic=clinic, name="Secret Person", phone="+12025550143")
    factories.ConsentRecordFactory(caregiver=owner, channel="sms")
    page = any_page
    fill_sign_up(page, name="Someone Else", number="2025550143")
    assert page.get_by_text("We texted a 6-digit code to •••-•••-0143").is_visible()
    page.get_by_label("6-digit code").fill("123456")
    page.get_by_role("button", name="Confirm").click()
    assert page.get_by_text("That code is not right. You have 4 tries left.").is_visible()
    [told] = fake_twilio.sent_to("+12025550143")
    assert "already signed up, so nothing changed" in told["body"]
    assert Caregiver.objects.get(phone="+12025550143") == owner


def test_only_the_newest_code_works_after_asking_for_new_ones(any_page, clinic, fake_twilio):
    page = any_page
    fill_sign_up(page, name="Jordan Rivera", number="2025550143")
    for _ in range(2):
        page.get_by_role("button", name="Send a new code").click()
        page.get_by_text("The old one no longer works.").wait_for()
    codes = codes_sent_to(fake_twilio, "+12025550143")
    assert len(codes) == 3
    if codes[0] != codes[-1]:
        page.get_by_label("6-digit code").fill(codes[0])
        page.get_by_role("button", name="Confirm").click()
        assert page.get_by_text("That code is not right.").is_visible()
    page.get_by_label("6-digit code").fill(codes[-1])
    page.get_by_role("button", name="Confirm").click()
    page.wait_for_url("**/join/RIVER234/done/")
