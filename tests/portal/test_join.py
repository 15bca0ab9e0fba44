"""A caregiver signs themselves up at /join/<code>/ and confirms with a code or a link."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from caregiver.consent import CURRENT_WEB, consent_text
from caregiver.models import Caregiver, ChannelConfirmation, ConsentRecord
from caregiver.tokens import email_confirm_token
from messaging.models import OutboundMessage
from messaging.planning import plan_due
from tests import factories
from tests.portal.conftest import outbox_code, text

# Real commits: confirmations are sent from on-commit hooks, as in production.
pytestmark = pytest.mark.django_db(transaction=True)

FORM = {
    "name": "Jordan Rivera",
    "phone": "(202) 555-0143",
    "email": "",
    "channels": "sms",
    "loved_one": "Alex",
    "relationship": "partner",
    "time_zone": "America/Chicago",
    "consent": "on",
}


def sign_up(client, clinic, **changes):
    return client.post(f"/join/{clinic.enrollment_code}/", {**FORM, **changes})


def test_join_asks_for_the_code_and_a_wrong_one_says_so(client, clinic_with_content):
    assert "Clinic code" in text(client.get("/join/"))
    response = client.post("/join/", {"code": "nope"})
    assert response.status_code == 400
    assert "We don't know that code" in text(response)
    response = client.post("/join/", {"code": "river 234"})
    assert response["Location"] == "/join/RIVER234/"


def test_an_unknown_clinic_code_is_a_404(client, db):
    assert client.get("/join/NOSUCH99/").status_code == 404


def test_the_form_shows_the_exact_consent_text_and_an_unchecked_box(client, clinic_with_content):
    response = client.get("/join/RIVER234/")
    page = text(response)
    assert consent_text(clinic=clinic_with_content, version=CURRENT_WEB) in page
    assert "Msg & data rates may apply" in page
    assert "Reply STOP to opt out, HELP for help" in page
    page = response.content.decode()
    checkbox = page[page.index('name="consent"') - 80 : page.index('name="consent"') + 80]
    assert "checked" not in checkbox


def test_signing_up_by_sms_sends_only_a_code_until_confirmed(client, clinic_with_content):
    response = sign_up(client, clinic_with_content)
    assert response.status_code == 302
    assert response["Location"] == "/join/RIVER234/confirm/"
    caregiver = Caregiver.objects.get(phone="+12025550143")
    assert caregiver.status == Caregiver.Status.PENDING
    assert caregiver.time_zone == "America/Chicago"
    assert caregiver.loved_ones.get().first_name == "Alex"
    [message] = caregiver.messages.all()
    assert message.kind == OutboundMessage.Kind.CONFIRMATION
    assert "Your code is" in message.body
    # The code is stored only as a hash.
    confirmation = caregiver.confirmations.get()
    assert outbox_code(caregiver) not in confirmation.code_hash
    # Even with an appointment tomorrow, the planner sends a pending caregiver nothing.
    factories.AppointmentFactory(loved_one=caregiver.loved_ones.get(), starts_at=timezone.now() + timedelta(days=1))
    plan_due(now=timezone.now())
    assert caregiver.messages.count() == 1


def test_the_right_code_confirms_and_records_the_consent_text_version(client, clinic_with_content):
    sign_up(client, clinic_with_content)
    caregiver = Caregiver.objects.get(phone="+12025550143")
    page = text(client.get("/join/RIVER234/confirm/"))
    assert "•••-•••-0143" in page
    response = client.post("/join/RIVER234/confirm/", {"code": outbox_code(caregiver), "action": "confirm"})
    assert response["Location"] == "/join/RIVER234/done/"
    caregiver.refresh_from_db()
    assert caregiver.status == Caregiver.Status.ACTIVE
    record = caregiver.consent_records.get()
    assert (record.channel, record.action, record.consent_text_version) == ("sms", "opt_in", CURRENT_WEB)
    assert record.ip_address == "127.0.0.1"
    assert "welcome text is on its way" in text(client.get("/join/RIVER234/done/"))


def test_a_wrong_code_says_how_many_tries_are_left_and_five_lock_it(client, clinic_with_content):
    sign_up(client, clinic_with_content)
    caregiver = Caregiver.objects.get(phone="+12025550143")
    right = outbox_code(caregiver)
    wrong = "000000" if right != "000000" else "111111"
    response = client.post("/join/RIVER234/confirm/", {"code": wrong})
    assert response.status_code == 400
    assert "You have 4 tries left" in text(response)
    for _ in range(4):
        response = client.post("/join/RIVER234/confirm/", {"code": wrong})
    assert "that was the last try" in text(response)
    response = client.post("/join/RIVER234/confirm/", {"code": right})
    assert "Too many wrong tries. Send a new code." in text(response)
    assert caregiver.consent_records.count() == 0


def test_a_code_expires_after_ten_minutes(client, clinic_with_content):
    sign_up(client, clinic_with_content)
    caregiver = Caregiver.objects.get(phone="+12025550143")
    with time_machine.travel(timezone.now() + timedelta(minutes=11)):
        response = client.post("/join/RIVER234/confirm/", {"code": outbox_code(caregiver)})
    assert "This code has expired" in text(response)


def test_a_new_code_replaces_the_old_one(client, clinic_with_content):
    sign_up(client, clinic_with_content)
    caregiver = Caregiver.objects.get(phone="+12025550143")
    old = outbox_code(caregiver)
    client.post("/join/RIVER234/confirm/", {"action": "resend"})
    new = outbox_code(caregiver)
    assert caregiver.messages.filter(kind="confirmation").count() == 2
    if old != new:
        assert "not right" in text(client.post("/join/RIVER234/confirm/", {"code": old}))
    assert client.post("/join/RIVER234/confirm/", {"code": new})["Location"] == "/join/RIVER234/done/"


def test_codes_to_one_number_are_rate_limited(client, clinic_with_content, settings):
    settings.CONFIRMATIONS_PER_ADDRESS_PER_HOUR = 2
    sign_up(client, clinic_with_content)
    client.post("/join/RIVER234/confirm/", {"action": "resend"})
    response = client.post("/join/RIVER234/confirm/", {"action": "resend"})
    assert response.status_code == 429
    assert "too many codes to this number" in text(response)
    assert OutboundMessage.objects.filter(kind="confirmation").count() == 2


def test_sign_ups_from_one_address_are_rate_limited(client, clinic_with_content, settings):
    settings.SIGNUPS_PER_IP_PER_HOUR = 2
    sign_up(client, clinic_with_content, phone="(202) 555-0141")
    sign_up(client, clinic_with_content, phone="(202) 555-0142")
    response = sign_up(client, clinic_with_content, phone="(202) 555-0144")
    assert response.status_code == 429
    assert "Too many sign-ups from this connection" in text(response)
    assert Caregiver.objects.count() == 2


@pytest.mark.parametrize(
    ("changes", "field_error"),
    [
        ({"phone": "555-12"}, "has too few digits"),
        ({"phone": "call me"}, "is not a phone number"),
        ({"phone": ""}, "Enter a mobile number for text messages"),
        ({"channels": "email"}, "Enter an email address for emails"),
        ({"consent": ""}, "Tick the box to agree"),
        ({"loved_one": ""}, "This field is required"),
        ({"time_zone": "Mars/Olympus"}, "Select a valid choice"),
    ],
)
def test_bad_input_is_explained_next_to_the_field(client, clinic_with_content, changes, field_error):
    response = sign_up(client, clinic_with_content, **changes)
    assert response.status_code == 400
    assert field_error in text(response)
    assert Caregiver.objects.count() == 0


def test_an_enrolled_number_is_refused_without_saying_who_enrolled_it(client, clinic_with_content):
    factories.CaregiverFactory(clinic=clinic_with_content, name="Secret Person", phone="+12025550143")
    response = sign_up(client, clinic_with_content)
    page = text(response)
    assert response.status_code == 400
    assert "already enrolled at this clinic" in page
    assert "Secret Person" not in page


def test_signing_up_by_email_sends_a_link_that_confirms_on_a_button_press(client, clinic_with_content):
    sign_up(client, clinic_with_content, channels="email", phone="", email="Jordan@Example.com")
    caregiver = Caregiver.objects.get(email="jordan@example.com")
    [message] = caregiver.messages.all()
    assert message.channel == "email"
    confirmation = caregiver.confirmations.get()
    link = f"/email/confirm/{email_confirm_token(confirmation.pk)}/"
    assert link in message.body
    # Opening the link (a mail scanner might) confirms nothing.
    assert "Yes, confirm my email" in text(client.get(link))
    assert caregiver.consent_records.count() == 0
    assert "is confirmed" in text(client.post(link))
    record = caregiver.consent_records.get()
    assert (record.channel, record.source, record.consent_text_version) == ("email", "email", CURRENT_WEB)
    assert "already confirmed" in text(client.get(link))


def test_a_tampered_or_old_email_link_is_refused(client, clinic_with_content):
    assert client.get("/email/confirm/not-a-token/").status_code == 404
    sign_up(client, clinic_with_content, channels="email", phone="", email="jordan@example.com")
    confirmation = ChannelConfirmation.objects.get()
    link = f"/email/confirm/{email_confirm_token(confirmation.pk)}/"
    with time_machine.travel(timezone.now() + timedelta(days=4)):
        assert client.get(link).status_code == 404
    assert ConsentRecord.objects.count() == 0


def test_the_confirm_page_needs_the_sign_up_session(client, clinic_with_content):
    response = client.get("/join/RIVER234/confirm/")
    assert response["Location"] == "/join/RIVER234/"
