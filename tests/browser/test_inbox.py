"""A caregiver's text reaches the inbox through the signed webhook; a coordinator takes it, answers
it and marks it handled, and the answer reaches the local Twilio-compatible server. At phone and
desktop width."""

import pytest
import requests
from django.contrib.auth import get_user_model
from twilio.request_validator import RequestValidator

from messaging.models import Conversation, OutboundMessage
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def clinic(content, settings, live_server, fake_twilio, eager_celery):
    settings.PUBLIC_BASE_URL = live_server.url
    clinic = factories.ClinicFactory(name="Riverside Clinic", sms_name="Riverside", time_zone="America/New_York")
    user = get_user_model().objects.create_user(username="dana", password="a-long-test-password", first_name="Dana")
    factories.StaffMembershipFactory(user=user, clinic=clinic)
    link = factories.CareLinkFactory(caregiver__clinic=clinic, caregiver__name="Casey Rivera", loved_one__clinic=clinic)
    factories.ConsentRecordFactory(caregiver=link.caregiver, channel="sms")
    return clinic


def text_in(live_server, settings, *, sender: str, to: str, body: str, sid: str) -> None:
    """Post a text to our webhook exactly as Twilio does: form-encoded and signed."""
    url = f"{live_server.url}/webhooks/twilio/inbound/"
    form = {"MessageSid": sid, "From": sender, "To": to, "Body": body}
    signature = RequestValidator(settings.TWILIO_AUTH_TOKEN).compute_signature(url, form)
    response = requests.post(url, data=form, headers={"X-Twilio-Signature": signature}, timeout=10)
    assert response.status_code == 200


def sign_in(page):
    page.goto("/staff/login/")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill("a-long-test-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/staff/")


@pytest.mark.parametrize("width", ["desktop", "phone"])
def test_a_text_is_taken_answered_and_handled(request, width, clinic, live_server, settings, fake_twilio, screenshot):
    casey = clinic.caregivers.get()
    text_in(live_server, settings, sender=casey.phone, to=clinic.twilio_from_number, sid="SM" + "e" * 32,
            body="hey its casey, what time do we need to be there thurs?? and can i wait inside w him")  # fmt: skip
    text_in(live_server, settings, sender="+14155550123", to=clinic.twilio_from_number, sid="SM" + "f" * 32,
            body="hi is this the clinic? my mom goes there")  # fmt: skip
    page = request.getfixturevalue("phone_page" if width == "phone" else "page")
    sign_in(page)
    page.get_by_role("link", name="Inbox 2").click()
    page.get_by_text("can i wait inside").wait_for()
    screenshot(page, f"staff-inbox{'-on-a-phone' if width == 'phone' else ''}")

    page.get_by_role("link", name="Casey Rivera").click()
    page.get_by_label("Assign to").select_option(label="Dana (you)")
    page.get_by_role("button", name="Assign").click()
    page.get_by_text("It's yours.").wait_for()
    page.get_by_label("Your reply").fill("Hi Casey, 10:15 on Thursday. Yes, you can wait in our lounge. See you then!")
    screenshot(page, f"staff-conversation{'-on-a-phone' if width == 'phone' else ''}")
    page.get_by_role("button", name="Send and mark handled").click()
    page.get_by_text("Your reply is on its way by text message").wait_for()

    sent = fake_twilio.sent_to(casey.phone)
    assert [m["body"] for m in sent if "lounge" in m["body"]] == [
        "Riverside (Alongside): Hi Casey, 10:15 on Thursday. Yes, you can wait in our lounge. See you then!"
    ]
    reply = OutboundMessage.objects.get(kind="reply", sent_by__isnull=False)
    assert reply.status == "sent"
    assert Conversation.objects.get(caregiver=casey).status == "handled"
    page.get_by_role("link", name="Inbox 1").wait_for()  # the stranger's text still waits
    page.goto(f"/staff/inbox/{reply.conversation_id}/")
    page.locator("li.bubble.us", has_text="lounge").get_by_text("Sent").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
