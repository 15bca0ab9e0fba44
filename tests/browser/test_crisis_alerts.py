"""A crisis text reaches staff: the count in the navigation, the Alerts page, "I'm on it", a
closing note; an on-call contact acknowledges from the link on a phone; the Texts page shows a
number we don't know."""

import pytest
from django.contrib.auth import get_user_model

from messaging import alerts
from messaging.inbound import inbound_receive
from messaging.models import CrisisAlert, OutboundMessage
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def clinic(content, settings):
    settings.PUBLIC_BASE_URL = "http://testserver"
    clinic = factories.ClinicFactory(name="Riverside Clinic", time_zone="America/New_York")
    user = get_user_model().objects.create_user(username="dana", password="a-long-test-password", first_name="Dana")
    factories.StaffMembershipFactory(user=user, clinic=clinic)
    factories.OnCallContactFactory(clinic=clinic, position=0, name="Riley", phone="+12025550180")
    link = factories.CareLinkFactory(
        caregiver__clinic=clinic, caregiver__name="Casey Rivera", loved_one__first_name="Alex"
    )
    factories.ConsentRecordFactory(caregiver=link.caregiver, channel="sms")
    inbound_receive(
        message_sid="SM" + "c" * 32, from_number=link.caregiver.phone, to_number=clinic.twilio_from_number,
        body="alex gave away his guitar today and said he wont need it where hes going. im scared",
    )  # fmt: skip
    inbound_receive(
        message_sid="SM" + "d" * 32, from_number="+14155550123", to_number=clinic.twilio_from_number,
        body="hi is this the clinic? my mom gets infusions there",
    )  # fmt: skip
    return clinic


def sign_in(page):
    page.goto("/staff/login/")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill("a-long-test-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/staff/")


def test_staff_see_the_alert_take_it_and_close_it_with_a_note(page, clinic, screenshot):
    sign_in(page)
    page.get_by_role("link", name="Alerts 1 open").click()
    page.get_by_text("wont need it where hes going").wait_for()
    screenshot(page, "staff-alerts")
    page.get_by_role("link", name="See the alert").click()
    page.get_by_text("Open: nobody has acknowledged it yet").wait_for()
    page.get_by_role("button", name="I'm on it").click()
    page.get_by_text("Acknowledged: nobody else will be alerted").wait_for()
    page.get_by_label("What was done").fill("Called Casey; Alex is with family tonight and has a plan.")
    screenshot(page, "staff-alert")
    page.get_by_role("button", name="Close the alert").click()
    page.get_by_text("The alert is closed, with your note.").wait_for()
    assert CrisisAlert.objects.get().status == "closed"
    assert page.get_by_role("link", name="Alerts 1 open").count() == 0

    page.get_by_role("link", name="Inbox").click()
    page.get_by_role("link", name="Every text, as a log").click()
    page.get_by_role("link", name="Unknown numbers").click()
    page.get_by_text("hi is this the clinic?").wait_for()
    assert page.get_by_text("guitar").count() == 0
    screenshot(page, "staff-texts")


def test_the_on_call_contact_acknowledges_from_the_link_on_a_phone(phone_page, clinic, screenshot):
    sms = OutboundMessage.objects.get(crisis_alert__isnull=False, channel="sms")
    assert "Casey" not in sms.body
    path = sms.body[sms.body.index("/alerts/") :].split()[0]
    phone_page.goto(path)
    phone_page.get_by_text("wont need it where hes going").wait_for()
    screenshot(phone_page, "alert-link")
    phone_page.get_by_role("button", name="I'm on it").click()
    phone_page.get_by_text("Acknowledged by Riley").wait_for()
    alert = CrisisAlert.objects.get()
    assert alert.status == "acknowledged"
    assert alerts.ack_token_read(path.split("/")[2]) == (alert.pk, alert.clinic.on_call.get().pk)
