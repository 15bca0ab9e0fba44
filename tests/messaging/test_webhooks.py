"""Twilio's webhooks, signed as Twilio signs them, answered in TwiML."""

import time
from functools import partial
from urllib.parse import urlencode

import psycopg
import pytest
from django.db import close_old_connections, connection
from django.utils import timezone
from twilio.request_validator import RequestValidator

from caregiver import selectors
from messaging.models import CrisisAlert, InboundMessage, OutboundMessage
from tests.factories import AppointmentFactory, CareLinkFactory, OutboundMessageFactory
from tests.messaging.texting import BASE, TOKEN, post, text

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("twilio_token")]


# --- Signatures ---------------------------------------------------------------------------------


def test_a_missing_signature_is_refused(client, caregiver):
    response = client.post("/webhooks/twilio/inbound/", {"MessageSid": "SM1", "From": caregiver.phone, "To": "+1"})
    assert response.status_code == 403
    assert not InboundMessage.objects.exists()


def test_a_wrong_signature_is_refused(client, caregiver):
    params = {"MessageSid": "SM1", "From": caregiver.phone, "To": caregiver.clinic.twilio_from_number, "Body": "STOP"}
    assert post(client, "/webhooks/twilio/inbound/", params, token="not-the-token").status_code == 403
    assert selectors.caregiver_consent(caregiver=caregiver)["sms"] is True


def test_a_signature_made_for_another_url_is_refused(client, caregiver):
    params = {"MessageSid": "SM1", "From": caregiver.phone, "To": caregiver.clinic.twilio_from_number, "Body": "STOP"}
    response = post(client, "/webhooks/twilio/inbound/", params, signed_url=BASE + "/webhooks/twilio/status/")
    assert response.status_code == 403


def test_signatures_are_checked_against_the_public_url_behind_a_proxy(client, caregiver, settings):
    settings.PUBLIC_BASE_URL = "https://alongside.example.org"
    params = {"MessageSid": "SM9", "From": caregiver.phone, "To": caregiver.clinic.twilio_from_number, "Body": "hi"}
    signed = "https://alongside.example.org/webhooks/twilio/inbound/"
    assert post(client, "/webhooks/twilio/inbound/", params, signed_url=signed).status_code == 200


def test_missing_fields_are_a_400_saying_which(client):
    response = post(client, "/webhooks/twilio/inbound/", {"Body": "hi"})
    assert response.status_code == 400
    assert "MessageSid, From, To" in response.content.decode()


# --- Keywords -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "word", ["STOP", "stop", " Stop. ", "UNSUBSCRIBE", "cancel", "End", "QUIT", "revoke", "optout", "STOPALL"]
)
def test_stop_words_opt_out_with_one_confirmation(client, caregiver, word):
    response = text(client, caregiver, word)
    assert response["Content-Type"] == "application/xml"
    assert "unsubscribed" in response.content.decode().lower()
    assert selectors.caregiver_consent(caregiver=caregiver)["sms"] is False
    assert InboundMessage.objects.get().action == "opt_out"


def test_stop_cancels_pending_messages_and_later_sends_are_suppressed(
    client, caregiver, django_capture_on_commit_callbacks
):
    pending = OutboundMessageFactory(caregiver=caregiver, status="scheduled", send_at=timezone.now())
    from config.celery import app

    app.conf.task_always_eager = True
    try:
        with django_capture_on_commit_callbacks(execute=True):
            text(client, caregiver, "STOP")
    finally:
        app.conf.task_always_eager = False
    pending.refresh_from_db()
    assert (pending.status, pending.status_reason) == ("cancelled", "opted_out")


def test_start_opts_back_in(client, caregiver):
    text(client, caregiver, "STOP")
    response = text(client, caregiver, "start")
    assert selectors.caregiver_consent(caregiver=caregiver)["sms"] is True
    assert "STOP" in response.content.decode()


def test_help_gives_the_clinic_number_and_988_and_alerts_staff(client, caregiver):
    body = text(client, caregiver, "help").content.decode()
    assert "988" in body
    assert "(202) 555-0100" in body
    alerts = OutboundMessage.objects.filter(kind="alert")
    assert set(alerts.values_list("to", flat=True)) == {caregiver.clinic.contact_email}


def test_a_crisis_text_gets_988_at_once_and_alerts_every_staff_member(client, caregiver, staff_user):
    staff_user.email = "dana@clinic.example"
    staff_user.save()
    staff_user.memberships.update(clinic=caregiver.clinic)
    body = text(client, caregiver, "I'm scared, she said she wants to die").content.decode()
    assert "call or text 988" in body
    assert InboundMessage.objects.get().action == "crisis"
    # A clinic with no on-call contacts has everyone told at once.
    alert = CrisisAlert.objects.get()
    assert (alert.status, alert.caregiver, alert.next_escalation_at) == ("open", caregiver, None)
    alerts = OutboundMessage.objects.filter(kind="alert", status="scheduled", crisis_alert=alert)
    assert set(alerts.values_list("to", flat=True)) == {caregiver.clinic.contact_email, "dana@clinic.example"}
    assert all("she wants to die" in a.body for a in alerts)
    assert all(a.subject == "Urgent: a text may mean someone is in danger" for a in alerts)


def test_ride_marks_the_next_treatment_and_confirms_its_day(client, caregiver):
    loved_one = caregiver.loved_ones.get()
    appointment = AppointmentFactory(loved_one=loved_one)
    body = text(client, caregiver, "ride").content.decode()
    appointment.refresh_from_db()
    assert appointment.ride_arranged
    assert appointment.ride_arranged_by_caregiver == caregiver
    assert "Alex" in body


def test_ride_without_an_upcoming_appointment_says_so(client, caregiver):
    body = text(client, caregiver, "RIDE").content.decode()
    assert InboundMessage.objects.get().action == "ride_not_found"
    assert "(202) 555-0100" in body


def test_other_texts_are_kept_for_staff_and_get_the_auto_reply_once_a_day(client, caregiver):
    first = text(client, caregiver, "Thanks, this was helpful").content.decode()
    assert "aren't watched around the clock" in first
    assert "(202) 555-0100" in first
    assert "911" in first
    assert "988" in first
    second = text(client, caregiver, "see you tuesday")
    assert second.content.decode().endswith("<Response></Response>")
    assert list(InboundMessage.objects.order_by("id").values_list("action", "auto_replied")) == [
        ("stored", True),
        ("stored", False),
    ]


def test_a_repeated_delivery_is_harmless(client, caregiver):
    first = text(client, caregiver, "STOP", sid="SMrepeat")
    second = text(client, caregiver, "STOP", sid="SMrepeat")
    assert first.content == second.content
    assert InboundMessage.objects.count() == 1
    assert caregiver.consent_records.filter(action="opt_out").count() == 1
    assert OutboundMessage.objects.filter(kind="reply").count() == 1


def test_texts_from_unknown_numbers_are_kept(client, caregiver):
    params = {"MessageSid": "SMx", "From": "+14155550123", "To": caregiver.clinic.twilio_from_number, "Body": "STOP"}
    assert post(client, "/webhooks/twilio/inbound/", params).status_code == 200
    assert InboundMessage.objects.get().action == "unknown_sender"


# --- Status callbacks ----------------------------------------------------------------------------


def callback(client, message, status, sid="SMabc", **extra):
    path = f"/webhooks/twilio/status/?m={message.pk}"
    return post(client, path, {"MessageSid": sid, "MessageStatus": status, **extra})


def test_a_delivery_callback_marks_the_message_delivered(client, caregiver):
    message = OutboundMessageFactory(caregiver=caregiver, status="sent", provider_id="SMabc")
    assert callback(client, message, "delivered").status_code == 204
    message.refresh_from_db()
    assert message.status == "delivered"
    assert message.delivered_at is not None


def test_callbacks_never_move_a_message_backwards(client, caregiver):
    message = OutboundMessageFactory(caregiver=caregiver, status="sent", provider_id="SMabc")
    callback(client, message, "delivered")
    callback(client, message, "sent")
    callback(client, message, "queued")
    message.refresh_from_db()
    assert message.status == "delivered"


def test_a_callback_before_we_recorded_the_send_still_lands(client, caregiver):
    message = OutboundMessageFactory(caregiver=caregiver, status="sending", provider_id="")
    callback(client, message, "delivered", sid="SMearly")
    message.refresh_from_db()
    assert (message.status, message.provider_id) == ("delivered", "SMearly")


def test_a_callback_for_another_sid_is_ignored(client, caregiver):
    message = OutboundMessageFactory(caregiver=caregiver, status="sent", provider_id="SMabc")
    callback(client, message, "failed", sid="SMother")
    message.refresh_from_db()
    assert message.status == "sent"


def test_a_21610_callback_opts_the_caregiver_out(client, caregiver):
    message = OutboundMessageFactory(caregiver=caregiver, status="sent", provider_id="SMabc")
    callback(client, message, "undelivered", ErrorCode="21610")
    assert selectors.caregiver_consent(caregiver=caregiver)["sms"] is False


def test_a_callback_with_a_bad_message_id_is_a_400(client):
    response = post(client, "/webhooks/twilio/status/?m=abc", {"MessageSid": "SM1", "MessageStatus": "sent"})
    assert response.status_code == 400


def test_stop_still_works_and_answers_if_the_reply_template_is_missing(client, caregiver):
    from content.models import MessageTemplate

    MessageTemplate.objects.filter(key="stop").delete()
    body = text(client, caregiver, "STOP").content.decode()
    assert "unsubscribed" in body
    assert selectors.caregiver_consent(caregiver=caregiver)["sms"] is False


def test_a_crisis_text_from_an_unknown_number_still_gets_988(client, caregiver):
    params = {"MessageSid": "SMunknown", "From": "+14155550123", "To": caregiver.clinic.twilio_from_number,
              "Body": "my brother talks about suicide"}  # fmt: skip
    body = post(client, "/webhooks/twilio/inbound/", params).content.decode()
    assert "call or text 988" in body
    assert f"We've let {caregiver.clinic.name} know" in body
    assert InboundMessage.objects.get().action == "crisis"
    alert = CrisisAlert.objects.get()
    assert (alert.clinic, alert.caregiver, alert.status) == (caregiver.clinic, None, "open")
    assert OutboundMessage.objects.filter(crisis_alert=alert, to=caregiver.clinic.contact_email).exists()


# --- Exactly once, and the fast path for plain answers -------------------------------------------


def test_a_repeated_plain_text_is_stored_once(client, caregiver):
    first = text(client, caregiver, "Thanks, see you Tuesday", sid="SMplain")
    second = text(client, caregiver, "Thanks, see you Tuesday", sid="SMplain")
    assert first.content == second.content
    stored = InboundMessage.objects.get()
    assert (stored.action, stored.caregiver, stored.clinic) == ("stored", caregiver, caregiver.clinic)
    assert OutboundMessage.objects.get().kind == "reply"  # the one auto-reply, for the timeline


def test_a_repeated_crisis_text_alerts_staff_once(client, caregiver):
    first = text(client, caregiver, "she said she wants to die", sid="SMcrisis")
    second = text(client, caregiver, "she said she wants to die", sid="SMcrisis")
    assert first.content == second.content
    assert "988" in second.content.decode()
    assert InboundMessage.objects.count() == 1
    assert OutboundMessage.objects.filter(kind="alert").count() == 1
    assert OutboundMessage.objects.filter(kind="reply").count() == 1


def test_a_form_posted_as_twilio_posts_it_is_checked_and_read(client, caregiver):
    params = {"MessageSid": "SMform", "From": caregiver.phone, "To": caregiver.clinic.twilio_from_number,
              "Body": "We're at the clinic now 🙏 & all good", "NumMedia": "0", "FromZip": ""}  # fmt: skip
    signature = RequestValidator(TOKEN).compute_signature(BASE + "/webhooks/twilio/inbound/", params)
    body = urlencode(params)
    post_form = partial(client.post, "/webhooks/twilio/inbound/", content_type="application/x-www-form-urlencoded")
    assert post_form(body.replace("all+good", "all+bad"), HTTP_X_TWILIO_SIGNATURE=signature).status_code == 403
    assert post_form(body, HTTP_X_TWILIO_SIGNATURE=signature).status_code == 200
    assert InboundMessage.objects.get().body == "We're at the clinic now 🙏 & all good"


def test_a_signature_over_the_url_with_its_port_is_accepted(client, caregiver, settings):
    settings.PUBLIC_BASE_URL = "https://alongside.example.org"
    params = {"MessageSid": "SMport", "From": caregiver.phone, "To": caregiver.clinic.twilio_from_number, "Body": "ok"}
    signed = "https://alongside.example.org:443/webhooks/twilio/inbound/"
    assert post(client, "/webhooks/twilio/inbound/", params, signed_url=signed).status_code == 200


def test_a_text_to_a_clinics_own_number_goes_to_it_before_a_shared_messaging_service(client, caregiver, other_clinic):
    other_clinic.twilio_messaging_service_sid = "MG" + "a" * 32
    other_clinic.save()
    CareLinkFactory(caregiver__clinic=other_clinic, caregiver__phone=caregiver.phone)
    params = {"MessageSid": "SMservice", "From": caregiver.phone, "To": caregiver.clinic.twilio_from_number,
              "Body": "STOP", "MessagingServiceSid": other_clinic.twilio_messaging_service_sid}  # fmt: skip
    assert post(client, "/webhooks/twilio/inbound/", params).status_code == 200
    stored = InboundMessage.objects.get()
    assert (stored.clinic, stored.caregiver, stored.action) == (caregiver.clinic, caregiver, "opt_out")


def test_a_text_to_a_shared_messaging_service_goes_to_the_clinic_that_knows_the_sender(client, caregiver, other_clinic):
    service = "MG" + "b" * 32
    for clinic in (caregiver.clinic, other_clinic):
        clinic.twilio_messaging_service_sid = service
        clinic.save()
    someone = CareLinkFactory(caregiver__clinic=other_clinic, caregiver__phone="+14155550188").caregiver
    params = {"MessageSid": "SMshared", "From": someone.phone, "To": "+14155550999", "Body": "thanks",
              "MessagingServiceSid": service}  # fmt: skip
    assert post(client, "/webhooks/twilio/inbound/", params).status_code == 200
    stored = InboundMessage.objects.get()
    assert (stored.clinic, stored.caregiver) == (other_clinic, someone)


def test_a_text_from_an_unknown_number_to_an_unknown_clinic_is_kept(client):
    params = {"MessageSid": "SMnobody", "From": "+14155550123", "To": "+14155550999", "Body": "hello?"}
    assert post(client, "/webhooks/twilio/inbound/", params).status_code == 200
    stored = InboundMessage.objects.get()
    assert (stored.action, stored.clinic, stored.caregiver) == ("unknown_sender", None, None)


def test_a_callback_without_a_message_id_is_matched_by_its_sid(client, caregiver):
    message = OutboundMessageFactory(caregiver=caregiver, status="sent", provider_id="SMbysid")
    response = post(client, "/webhooks/twilio/status/", {"MessageSid": "SMbysid", "MessageStatus": "delivered"})
    assert response.status_code == 204
    message.refresh_from_db()
    assert (message.status, message.lease_expires_at) == ("delivered", None)


def test_a_late_sent_callback_leaves_a_delivered_message_delivered_but_records_its_sid(client, caregiver):
    message = OutboundMessageFactory(caregiver=caregiver, status="delivered", provider_id="")
    callback(client, message, "sent", sid="SMlate")
    message.refresh_from_db()
    assert (message.status, message.provider_id) == ("delivered", "SMlate")
    assert message.sent_at is not None


def test_a_failure_callback_records_its_error_code(client, caregiver):
    message = OutboundMessageFactory(caregiver=caregiver, status="sent", provider_id="SMabc")
    callback(client, message, "undelivered", ErrorCode="30003")
    message.refresh_from_db()
    assert (message.status, message.error_code, message.delivered_at) == ("undelivered", "30003", None)


# --- A lost database connection ----------------------------------------------------------------


def connection_lost():
    """The server ends this process's connection, as a restart or a proxy's idle timeout would, and
    a request starts as the server starts one (Django's request_started handler)."""
    connection.ensure_connection()
    pid = connection.connection.info.backend_pid
    params = connection.settings_dict
    with psycopg.connect(
        dbname=params["NAME"], host=params["HOST"], port=params["PORT"] or None, user=params["USER"],
        password=params["PASSWORD"], autocommit=True,
    ) as admin:  # fmt: skip
        admin.execute("SELECT pg_terminate_backend(%s)", [pid])
        for _ in range(100):
            if admin.execute("SELECT count(*) FROM pg_stat_activity WHERE pid = %s", [pid]).fetchone()[0] == 0:
                break
            time.sleep(0.05)
    close_old_connections()


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("body", ["Thanks, see you Tuesday", "I want to die"])
def test_a_text_after_the_database_connection_was_lost_is_kept(client, caregiver, body):
    connection_lost()
    response = text(client, caregiver, body)
    assert response.status_code == 200
    assert InboundMessage.objects.get().body == body


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_callback_after_the_database_connection_was_lost_lands(client, caregiver):
    message = OutboundMessageFactory(caregiver=caregiver, status="sent", provider_id="SMabc")
    connection_lost()
    assert callback(client, message, "delivered").status_code == 204
    message.refresh_from_db()
    assert message.status == "delivered"
