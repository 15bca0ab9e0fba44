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
