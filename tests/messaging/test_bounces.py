"""The email provider's bounce and complaint events, posted as the providers post them to
django-anymail's tracking webhook: a dead or complaining address is blocked, staff see why, and
nothing more is emailed to it until the address changes."""

import base64
import json
from datetime import UTC, datetime

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from caregiver import services
from caregiver.models import Caregiver
from messaging import sending
from messaging.models import EmailEvent, OutboundMessage
from tests import factories

pytestmark = pytest.mark.django_db
SECRET = "anymail-test:webhook-secret"  # config.settings.test
POSTMARK = "/anymail/postmark/tracking/"
SENDGRID = "/anymail/sendgrid/tracking/"


def auth(secret: str = SECRET) -> dict[str, str]:
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(secret.encode()).decode()}


def post(client, url, payload, secret=SECRET):
    return client.post(url, data=json.dumps(payload), content_type="application/json", **auth(secret))


# Postmark's bounce webhook, as its documentation shows it (Type "HardBounce", TypeCode 1).
def postmark_bounce(email, *, id=4323372036854775807, type="HardBounce", at="2026-12-03T16:33:54.9070259Z"):
    return {
        "RecordType": "Bounce", "MessageStream": "outbound", "ID": id, "Type": type, "TypeCode": 1,
        "Name": "Hard bounce", "Tag": "", "MessageID": "883953f4-6105-42a2-a16a-77a8eac79483",
        "Metadata": {}, "ServerID": 23,
        "Description": "The server was unable to deliver your message (ex: unknown user, mailbox not found).",
        "Details": f"smtp;550 5.1.1 The email account that you tried to reach does not exist: {email}",
        "Email": email, "From": "hello@alongside.example.org", "BouncedAt": at, "DumpAvailable": True,
        "Inactive": True, "CanActivate": True, "Subject": "Today's tip from Alongside",
    }  # fmt: skip


def postmark_complaint(email):
    return {
        "RecordType": "SpamComplaint", "MessageStream": "outbound", "ID": 42, "Type": "SpamComplaint",
        "TypeCode": 512, "Name": "Spam complaint", "Tag": "", "MessageID": "00000000-0000-0000-0000-000000000000",
        "Metadata": {}, "ServerID": 1234, "Description": "", "Details": "Test spam complaint details",
        "Email": email, "From": "hello@alongside.example.org", "BouncedAt": "2026-12-03T16:33:54Z",
        "DumpAvailable": True, "Inactive": True, "CanActivate": False, "Subject": "Today's tip from Alongside",
    }  # fmt: skip


# SendGrid's event webhook posts a batch, as in its documentation's example.
def sendgrid_batch(email, *, smtp_id="<14c5d75ce93.dfd.64b469@ismtpd-555>"):
    common = {"email": email, "timestamp": 1796313600, "smtp-id": smtp_id, "category": "tip"}
    return [
        {**common, "event": "processed", "sg_event_id": "rbtnWrG1DVDGGGFHFyun0A==", "sg_message_id": "14c5.0"},
        {**common, "event": "deferred", "sg_event_id": "t7LEShmowp86DTdUW8M-GQ==", "response": "400 try again later",
         "attempt": "5"},
        {**common, "event": "delivered", "sg_event_id": "rWVYmVk90MjZJ9iohOBa3w==", "response": "250 OK"},
        {**common, "event": "bounce", "sg_event_id": "6g4ZI7SA-xmRDv57GoPIPw==", "type": "bounce",
         "reason": "550 5.1.1 unknown recipient", "status": "5.1.1"},
        {**common, "event": "dropped", "sg_event_id": "zmzJhfJgAfUSOW80yEbPyw==", "reason": "Bounced Address",
         "status": "5.0.0"},
    ]  # fmt: skip


@pytest.fixture
def emailed(content):
    """A caregiver who confirmed email, at a clinic in New York."""
    link = factories.CareLinkFactory(
        caregiver__channels="email", caregiver__email="jordan.rivers@example.org", loved_one__first_name="Alex"
    )
    factories.ConsentRecordFactory(caregiver=link.caregiver, channel="email", address=link.caregiver.email)
    return link.caregiver


def fresh(caregiver: Caregiver) -> Caregiver:
    caregiver.refresh_from_db()
    return caregiver


def test_a_postmark_hard_bounce_blocks_the_address_with_a_reason_staff_can_read(client, emailed):
    response = post(client, POSTMARK, postmark_bounce("Jordan.Rivers@example.org"))
    assert response.status_code == 200
    caregiver = fresh(emailed)
    assert caregiver.email_blocked_reason.startswith("Bounced: The server was unable to deliver your message")
    assert caregiver.email_blocked_reason.endswith("(Postmark, Dec 3)")
    assert len(caregiver.email_blocked_reason) <= 120
    assert caregiver.email_blocked_at is not None
    event = EmailEvent.objects.get()
    assert (event.kind, event.caregiver, event.clinic) == ("bounced", caregiver, caregiver.clinic)
    assert event.occurred_at == datetime(2026, 12, 3, 16, 33, 54, 907025, tzinfo=UTC)


def test_a_spam_complaint_blocks_the_address(client, emailed):
    assert post(client, POSTMARK, postmark_complaint(emailed.email)).status_code == 200
    assert fresh(emailed).email_blocked_reason == "Marked as spam (Postmark, Dec 3)"
    assert EmailEvent.objects.get().kind == "complained"


def test_the_providers_words_are_stored_without_the_address(client, emailed):
    post(client, POSTMARK, postmark_bounce(emailed.email) | {"Description": f"Mailbox {emailed.email} is gone"})
    assert "jordan.rivers@" not in fresh(emailed).email_blocked_reason
    assert "j***@example.org" in fresh(emailed).email_blocked_reason


@pytest.mark.parametrize("kind", ["SoftBounce", "Transient", "DnsError"])
def test_a_soft_bounce_blocks_nothing(client, emailed, kind):
    assert post(client, POSTMARK, postmark_bounce(emailed.email, type=kind)).status_code == 200
    assert fresh(emailed).email_blocked_reason == ""
    assert not EmailEvent.objects.exists()


def test_a_webhook_delivered_twice_records_one_event(client, emailed):
    for _ in range(2):
        assert post(client, POSTMARK, postmark_bounce(emailed.email)).status_code == 200
    assert EmailEvent.objects.count() == 1


@pytest.mark.parametrize("secret", ["anymail-test:wrong", ""])
def test_a_wrong_or_missing_secret_is_refused_and_blocks_nothing(client, emailed, secret):
    if secret:
        response = post(client, POSTMARK, postmark_bounce(emailed.email), secret=secret)
    else:
        payload = json.dumps(postmark_bounce(emailed.email))
        response = client.post(POSTMARK, data=payload, content_type="application/json")
    assert response.status_code in (400, 403)
    assert fresh(emailed).email_blocked_reason == ""
    assert not EmailEvent.objects.exists()


def test_without_a_configured_secret_the_webhook_is_closed(client, emailed, settings):
    settings.ANYMAIL = {"WEBHOOK_SECRET": ""}
    response = client.post(POSTMARK, data=json.dumps(postmark_bounce(emailed.email)), content_type="application/json")
    assert response.status_code == 403
    assert fresh(emailed).email_blocked_reason == ""


@pytest.mark.parametrize("body", ["not json", "[]", '"a string"'])
def test_a_payload_that_cannot_be_read_is_a_400_not_a_500(client, emailed, body):
    response = client.post(POSTMARK, data=body, content_type="application/json", **auth())
    assert response.status_code == 400
    assert "could not be read" in response.content.decode()
    assert fresh(emailed).email_blocked_reason == ""


def test_an_event_that_names_no_address_records_nothing(client, emailed):
    response = client.post(POSTMARK, data='{"RecordType": "Bounce"}', content_type="application/json", **auth())
    assert response.status_code == 200
    assert not EmailEvent.objects.exists()


def test_a_sendgrid_batch_blocks_once_for_its_bounce_and_its_drop(client, emailed):
    assert post(client, SENDGRID, sendgrid_batch(emailed.email)).status_code == 200
    assert fresh(emailed).email_blocked_reason.startswith("Bounced: 550 5.1.1 unknown recipient (SendGrid, ")
    assert sorted(EmailEvent.objects.values_list("kind", flat=True)) == ["bounced", "rejected"]


def test_sendgrids_blocked_bounce_is_about_our_server_not_the_address(client, emailed):
    batch = [event | {"type": "blocked"} for event in sendgrid_batch(emailed.email) if event["event"] == "bounce"]
    assert post(client, SENDGRID, batch).status_code == 200
    assert fresh(emailed).email_blocked_reason == ""


def test_the_event_names_the_email_it_is_about_by_our_message_id(client, emailed):
    tip = factories.OutboundMessageFactory(caregiver=emailed, channel="email", status="sent", to=emailed.email)
    post(client, SENDGRID, sendgrid_batch(emailed.email, smtp_id=f"<outbox-{tip.pk}@alongside.localhost>"))
    assert set(EmailEvent.objects.values_list("message_id", flat=True)) == {tip.pk}


def test_the_same_address_at_two_clinics_is_blocked_at_both(client, emailed):
    elsewhere = factories.CaregiverFactory(channels="email", email="JORDAN.RIVERS@example.org")
    post(client, POSTMARK, postmark_bounce(emailed.email))
    assert fresh(emailed).email_blocked_reason == fresh(elsewhere).email_blocked_reason != ""
    assert set(EmailEvent.objects.values_list("clinic_id", flat=True)) == {emailed.clinic_id, elsewhere.clinic_id}
    post(client, POSTMARK, postmark_bounce(emailed.email))
    assert EmailEvent.objects.count() == 2


def test_an_address_nobody_has_is_recorded_for_the_operator_and_blocks_nobody(client, emailed):
    assert post(client, POSTMARK, postmark_bounce("someone.else@example.org")).status_code == 200
    assert fresh(emailed).email_blocked_reason == ""
    assert EmailEvent.objects.get().caregiver is None


# --- What the block does ----------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_pending_tip_email_to_a_bounced_address_is_held_and_others_still_go(client, emailed):
    other = factories.CareLinkFactory(caregiver__channels="email").caregiver
    factories.ConsentRecordFactory(caregiver=other, channel="email", address=other.email)
    held = factories.OutboundMessageFactory(caregiver=emailed, channel="email", subject="A tip", html="<p>x</p>")
    going = factories.OutboundMessageFactory(caregiver=other, channel="email", subject="A tip", html="<p>x</p>")
    post(client, POSTMARK, postmark_bounce(emailed.email))
    with time_machine.travel("2026-12-08 17:00Z", tick=False):
        outcomes = sending.messages_send(message_ids=[held.pk, going.pk])
    assert outcomes == {held.pk: "suppressed:undeliverable", going.pk: "sent"}
    assert [message.to for message in mail.outbox] == [[other.email]]
    held.refresh_from_db()
    assert (held.status, held.status_reason) == (OutboundMessage.Status.SUPPRESSED, "undeliverable")


def test_a_new_address_clears_the_block(client, emailed):
    post(client, POSTMARK, postmark_bounce(emailed.email))
    services.caregiver_update(caregiver=fresh(emailed), email="jordan@example.net")
    caregiver = fresh(emailed)
    assert (caregiver.email_blocked_reason, caregiver.email_blocked_at) == ("", None)


def test_a_bounce_from_before_the_caregiver_took_the_address_blocks_nothing(client, emailed):
    Caregiver.objects.filter(pk=emailed.pk).update(email_since=timezone.now())
    post(client, POSTMARK, postmark_bounce(emailed.email, at="2020-01-01T00:00:00Z"))
    assert fresh(emailed).email_blocked_reason == ""


# --- Shown to staff ---------------------------------------------------------------------------


def test_staff_see_why_email_is_blocked_on_the_family_page_and_in_the_api(client, emailed):
    post(client, POSTMARK, postmark_complaint(emailed.email))
    user = factories.UserFactory()
    factories.StaffMembershipFactory(user=user, clinic=emailed.clinic)
    client.force_login(user)
    family = emailed.loved_ones.get()
    page = client.get(f"/staff/families/{family.pk}/").content.decode()
    assert "Email blocked: Marked as spam (Postmark, Dec 3)" in page
    api = client.get(f"/api/v1/caregivers/{emailed.pk}/").json()
    assert api["email_blocked_reason"] == "Marked as spam (Postmark, Dec 3)"


def test_staff_change_the_address_on_the_edit_page_and_the_block_is_gone(client, emailed):
    post(client, POSTMARK, postmark_bounce(emailed.email))
    user = factories.UserFactory()
    factories.StaffMembershipFactory(user=user, clinic=emailed.clinic)
    client.force_login(user)
    form = {"name": emailed.name, "phone": "", "email": "jordan@example.net", "channels": "email", "language": "en"}
    response = client.post(f"/staff/caregivers/{emailed.pk}/edit/", form, follow=True)
    assert "Saved" in response.content.decode()
    assert "Email blocked" not in response.content.decode()
    assert fresh(emailed).email_blocked_reason == ""
