"""What the send path does when something goes wrong: a poison message, an account Twilio
refuses, codes nobody listed, a worker lost at every attempt, settings that cannot work together.
Through the real twilio library to the local Twilio-compatible server, and real SMTP."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.core.management import call_command
from django.core.management.base import SystemCheckError

from messaging import callbacks, dispatch, sending
from messaging.models import OutboundMessage, ProviderHealth

pytestmark = pytest.mark.django_db(transaction=True)
NOON_NY = "2026-12-08 17:00Z"


def send_batch(messages, at=NOON_NY):
    with time_machine.travel(at, tick=False):
        return sending.messages_send(message_ids=[m.pk for m in messages])


def refreshed(message):
    message.refresh_from_db()
    return message


# --- A poison message -------------------------------------------------------------------------


def test_a_poison_message_is_recorded_and_the_rest_of_its_batch_still_goes(fake_twilio, smtp_server, due):
    first = due()
    # A newline in a subject (typed by someone, or a template bug): the mail library refuses the header.
    poison = due(channel="email", kind="confirmation", subject="Hello\nBcc: everyone@example.com")
    last = due()
    outcomes = send_batch([first, poison, last])
    assert outcomes == {first.pk: "sent", poison.pk: "retry:error", last.pk: "sent"}
    assert len(fake_twilio.messages) == 2
    poison = refreshed(poison)
    assert (poison.status, poison.attempts, poison.error_code) == ("scheduled", 1, "error")
    assert "BadHeaderError" in poison.last_error
    assert poison.send_at > datetime(2026, 12, 8, 17, tzinfo=UTC)  # backed off, not at once


def test_a_poison_message_fails_for_good_at_the_last_attempt(smtp_server, due, settings):
    poison = due(channel="email", kind="confirmation", subject="Hi\r\nX: y", attempts=settings.SEND_MAX_ATTEMPTS - 1)
    assert send_batch([poison]) == {poison.pk: "failed:error"}
    poison = refreshed(poison)
    assert (poison.status, poison.attempts) == ("failed", settings.SEND_MAX_ATTEMPTS)
    assert poison.last_error.startswith(f"gave up after {settings.SEND_MAX_ATTEMPTS} attempts")


def test_a_row_whose_worker_died_at_every_attempt_fails_instead_of_coming_back(due, settings):
    now = datetime(2026, 12, 8, 17, tzinfo=UTC)
    expired = now - timedelta(seconds=1)
    lost = due(status="sending", attempts=settings.SEND_MAX_ATTEMPTS, lease_expires_at=expired)
    again = due(status="sending", attempts=2, lease_expires_at=expired)
    assert dispatch.leases_recover(now=now) == 2  # both taken back: one to fail, one to retry
    lost, again = refreshed(lost), refreshed(again)
    assert (lost.status, lost.error_code) == ("failed", "worker_lost")
    assert (again.status, again.needs_reconcile) == ("scheduled", True)


# --- What Twilio says -------------------------------------------------------------------------


def test_twilio_refusing_our_credentials_keeps_every_message_and_raises_an_operator_alert(
    fake_twilio, due, settings, client, caplog
):
    settings.TWILIO_AUTH_TOKEN = "rotated-and-not-updated"
    messages = [due() for _ in range(3)]
    outcomes = send_batch(messages)
    assert set(outcomes.values()) == {"retry:20003"}
    assert [refreshed(m).status for m in messages] == ["scheduled"] * 3
    assert "OPERATOR ALERT" in caplog.text
    health = client.get("/healthz").json()
    assert health["providers"] == {"sms": "refused"}
    assert "20003" in health["alerts"][0]

    settings.TWILIO_AUTH_TOKEN = fake_twilio.auth_token
    OutboundMessage.objects.update(status="queued")  # the next tick claims them again
    assert set(send_batch(messages).values()) == {"sent"}
    assert client.get("/healthz").json()["providers"] == "ok"
    assert ProviderHealth.objects.get(channel="sms").failing_since is None


def test_a_twilio_code_nobody_listed_is_retried_not_dropped(fake_twilio, due):
    message = due()
    fake_twilio.fail_next(status=400, code=21999, message="Something new")
    assert send_batch([message]) == {message.pk: "retry:21999"}
    assert refreshed(message).status == "scheduled"


@pytest.mark.parametrize("code", ["21211", "21614", "30006"])
def test_an_unreachable_number_fails_for_good_and_stops_texts_to_it(fake_twilio, due, code):
    message = due()
    fake_twilio.fail_next(status=400, code=int(code), message="Unreachable")
    assert send_batch([message]) == {message.pk: f"failed:{code}"}
    assert refreshed(message).caregiver.sms_blocked_reason.startswith(f"Twilio {code}")


def test_carrier_filtering_is_counted_for_the_operator(due, client):
    message = due(status="sent", provider_id="SM" + "f" * 32)
    callbacks.status_callback_record(
        message_id=message.pk, message_sid=message.provider_id, status="undelivered", error_code="30007"
    )
    assert refreshed(message).status == "undelivered"
    filtered = client.get("/healthz").json()["carrier_filtered"]
    assert filtered["sms"]["count"] == 1


# --- ValidityPeriod: never delivered late into the night ------------------------------------------


def test_a_tip_may_wait_in_twilios_queue_only_until_the_caregivers_evening(fake_twilio, due):
    tip = due(kind="tip")
    assert send_batch([tip], at="2026-12-09 01:00Z") == {tip.pk: "sent"}  # 20:00 in New York, quiet at 21:00
    request = next(r for r in fake_twilio.requests if r["method"] == "POST")
    assert request["form"]["ValidityPeriod"] == "3600"


def test_a_message_may_wait_only_until_it_stops_being_useful(fake_twilio, due):
    tip = due(kind="tip", not_after=datetime(2026, 12, 8, 17, 20, tzinfo=UTC))
    assert send_batch([tip]) == {tip.pk: "sent"}
    request = next(r for r in fake_twilio.requests if r["method"] == "POST")
    assert request["form"]["ValidityPeriod"] == str(20 * 60)


def test_a_reply_keeps_twilios_default_validity(fake_twilio, due):
    reply = due(kind="reply")
    assert send_batch([reply]) == {reply.pk: "sent"}
    request = next(r for r in fake_twilio.requests if r["method"] == "POST")
    assert "ValidityPeriod" not in request["form"]


# --- Settings that only work together --------------------------------------------------------------


def test_the_check_refuses_a_lease_shorter_than_the_time_limit(settings):
    settings.DISPATCH_LEASE_SECONDS = 60  # the hard time limit is 60 s: a batch could outlive its lease
    with pytest.raises(SystemCheckError, match=r"messaging\.E002"):
        call_command("check")


def test_the_check_refuses_timeouts_that_leave_a_batch_no_time(settings):
    settings.TWILIO_TIMEOUT = 30  # one send could take a minute: longer than the soft limit
    with pytest.raises(SystemCheckError, match=r"messaging\.E001"):
        call_command("check")


def test_the_default_settings_pass_the_check_and_stop_a_batch_well_before_its_soft_limit(settings):
    call_command("check")
    assert 0 < sending.batch_deadline_seconds() < settings.CELERY_TASK_SOFT_TIME_LIMIT


# --- Sign-up codes a newer one replaced ---------------------------------------------------------


def test_only_the_newest_sign_up_code_is_sent_after_a_backlog(fake_twilio, db, clinic, content):
    from caregiver import services

    caregiver = services.caregiver_create(clinic=clinic, name="Dana", phone="+12025550138")
    for _ in range(3):  # "send a new code", three times, while nothing was being sent (a broker outage)
        services.confirmation_start(caregiver=caregiver, channel="sms", source="web", consent_text_version="v1")
    codes = list(OutboundMessage.objects.filter(caregiver=caregiver, kind="confirmation").order_by("pk"))
    assert len(codes) == 3
    OutboundMessage.objects.update(status="queued")
    outcomes = sending.messages_send(message_ids=[m.pk for m in codes])
    assert [outcomes[m.pk] for m in codes] == ["suppressed:superseded", "suppressed:superseded", "sent"]
    assert len(fake_twilio.sent_to("+12025550138")) == 1


def test_a_new_code_cancels_every_older_code_still_waiting_and_masks_it(db, clinic, content):
    from caregiver import services

    caregiver = services.caregiver_create(clinic=clinic, name="Dana", phone="+12025550138")
    for _ in range(4):  # "send a new code", four times, before any went out
        services.confirmation_start(caregiver=caregiver, channel="sms", source="web", consent_text_version="v1")
    codes = list(OutboundMessage.objects.filter(caregiver=caregiver, kind="confirmation").order_by("pk"))
    assert [(m.status, m.status_reason) for m in codes] == [("cancelled", "superseded")] * 3 + [("scheduled", "")]
    assert all("••••••" in m.body for m in codes[:3])
    assert "••••••" not in codes[3].body


def test_an_old_code_a_worker_already_holds_is_not_sent_after_a_new_one_was_asked_for(fake_twilio, db, clinic, content):
    from caregiver import services

    caregiver = services.caregiver_create(clinic=clinic, name="Dana", phone="+12025550138")
    services.confirmation_start(caregiver=caregiver, channel="sms", source="web", consent_text_version="v1")
    old = OutboundMessage.objects.get(caregiver=caregiver, kind="confirmation")
    OutboundMessage.objects.filter(pk=old.pk).update(status="queued")
    claimed, _ = sending._claim_batch([old.pk], datetime.now(UTC))  # a worker has it, waiting for a send token
    services.confirmation_start(caregiver=caregiver, channel="sms", source="web", consent_text_version="v1")
    outcome = sending._send_claimed(claimed[0], [], sending.Counter())
    assert outcome == "suppressed:superseded"
    assert fake_twilio.sent_to("+12025550138") == []
    assert "••••••" in refreshed(old).body
