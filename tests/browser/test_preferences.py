"""A caregiver opens the preferences link from an email, on a phone, and changes what they get."""

from urllib.parse import urlparse

import pytest

from caregiver.models import Caregiver
from caregiver.tokens import preferences_token
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def test_a_caregiver_changes_frequency_then_pauses_for_a_week(phone_page, content, eager_celery, screenshot):
    caregiver = factories.CaregiverFactory(name="Sam Rivera", email="sam@example.com", channels="both")
    for channel in ("sms", "email"):
        factories.ConsentRecordFactory(caregiver=caregiver, channel=channel)
    page = phone_page
    page.goto(f"/p/{preferences_token(caregiver.pk, address=caregiver.phone)}/")
    page.get_by_label("How often would you like tips?").select_option("weekly")
    page.get_by_label("Email", exact=True).uncheck()
    page.get_by_label("Also text me safety tips").check()
    screenshot(page, "preferences")
    page.get_by_role("button", name="Save preferences").click()
    page.get_by_text("Your preferences are saved. You will get no more email.").wait_for()
    page.get_by_role("button", name="Get my calendar link").click()
    page.get_by_role("button", name="Make a new link (the old one stops working)").wait_for()
    feed = page.get_by_label("Your calendar link").input_value()
    served = page.request.get(urlparse(feed).path)
    assert (served.status, served.headers["content-type"]) == (200, "text/calendar; charset=utf-8")
    assert page.get_by_role("link", name="Add to my calendar").get_attribute("href").startswith("webcal://")
    page.get_by_label("Pause all messages for").select_option("7")
    page.get_by_role("button", name="Pause messages").click()
    page.get_by_text("Paused until").wait_for()
    caregiver.refresh_from_db()
    assert (caregiver.tip_frequency, caregiver.channels, caregiver.status) == ("weekly", "sms", Caregiver.Status.PAUSED)
    assert caregiver.safety_tips_sms


@pytest.fixture(params=["phone_page", "page"], ids=["390px", "desktop"])
def any_page(request):
    """The same page on a phone and on a desktop."""
    return request.getfixturevalue(request.param)


def test_only_a_confirmed_channel_shows_as_on_and_the_other_is_confirmed_on_request(
    any_page, content, eager_celery, screenshot
):
    caregiver = factories.CaregiverFactory(name="Sam Rivera", email="sam@example.com", channels="both")
    factories.ConsentRecordFactory(caregiver=caregiver, channel="sms")  # the email was never confirmed
    page = any_page
    page.goto(f"/p/{preferences_token(caregiver.pk, address=caregiver.phone)}/")
    assert page.get_by_label("Text messages", exact=True).is_checked()
    email = page.get_by_label("Email", exact=True)
    assert not email.is_checked()
    assert email.is_disabled()
    assert page.get_by_text("s•••@example.com is not confirmed yet, so we send no email there.").is_visible()
    screenshot(page, "preferences-confirm" + ("" if page.viewport_size["width"] < 500 else "-desktop"))
    page.get_by_role("button", name="Save preferences").click()
    page.get_by_text("Your preferences are saved.").wait_for()
    assert not caregiver.messages.filter(kind="confirmation").exists()  # saving asks nothing
    page.get_by_role("button", name="Email me a confirmation link").click()
    page.get_by_text("We sent you an email. Open the link in it to start email.").wait_for()
    assert caregiver.messages.filter(kind="confirmation", channel="email").count() == 1


def test_quiet_hours_that_leave_no_day_or_hide_the_tip_time_are_refused_next_to_the_field(any_page, content):
    caregiver = factories.CaregiverFactory(name="Sam Rivera", channels="sms")
    factories.ConsentRecordFactory(caregiver=caregiver, channel="sms")
    page = any_page
    page.goto(f"/p/{preferences_token(caregiver.pk, address=caregiver.phone)}/")
    page.get_by_label("Quiet hours start").fill("00:00")
    page.get_by_label("Quiet hours end").fill("23:59")
    page.get_by_role("button", name="Save preferences").click()
    error = page.locator("#id_quiet_end_error")
    assert "leave no time between 8 AM and 9 PM for messages" in error.inner_text()
    assert error.is_visible()
    page.get_by_label("Quiet hours start").fill("21:00")
    page.get_by_label("Quiet hours end").fill("08:00")
    page.get_by_label("Preferred time for tips").fill("07:00")
    page.get_by_role("button", name="Save preferences").click()
    assert "7:00 AM is inside your quiet hours" in page.locator("#id_tip_time_error").inner_text()
    caregiver.refresh_from_db()
    assert (f"{caregiver.quiet_start:%H:%M}", f"{caregiver.quiet_end:%H:%M}", f"{caregiver.tip_time:%H:%M}") == (
        "21:00", "08:00", "10:00",
    )  # fmt: skip
