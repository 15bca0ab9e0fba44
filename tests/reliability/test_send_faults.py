"""Failures at the send path, with a real worker: a poison message among good ones, Twilio refusing
our credentials, and a caregiver's new number. Nothing stuck, nothing lost, nothing to the wrong place."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from caregiver import selectors, services
from caregiver.models import Caregiver
from messaging.inbound import inbound_receive
from messaging.models import OutboundMessage
from tests.factories import CareLinkFactory, ConsentRecordFactory, OutboundMessageFactory
from tests.reliability.conftest import assert_each_sent_exactly_once, drain, due_messages, statuses

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def test_a_poison_message_fails_alone_and_its_batch_mates_go_at_once(
    worker_env, fake_twilio, celery_processes, settings
):
    settings.SEND_MAX_ATTEMPTS = 2
    good = due_messages(30)
    someone = OutboundMessage.objects.get(pk=good[0]).caregiver
    # A newline in an email subject: the mail library refuses it, whatever the provider would say.
    poison = OutboundMessageFactory(
        caregiver=someone, channel="email", kind="confirmation", status="scheduled", send_at=timezone.now(),
        subject="Your code\nBcc: everyone@example.com",
    )  # fmt: skip
    env = worker_env | {"SEND_MAX_ATTEMPTS": "2", "SEND_RETRY_BASE_SECONDS": "0.2"}
    celery_processes.worker(env)
    drain(lambda: statuses() == {"sent": 30, "failed": 1}, timeout=90, tick=0.5)
    poison.refresh_from_db()
    assert (poison.status, poison.attempts, poison.error_code) == ("failed", 2, "error")
    assert "BadHeaderError" in poison.last_error
    # Its batch-mates went on the first attempt: none waited for a lease to expire.
    assert set(OutboundMessage.objects.filter(pk__in=good).values_list("attempts", "needs_reconcile")) == {(1, False)}
    OutboundMessage.objects.filter(pk=poison.pk).delete()
    assert_each_sent_exactly_once(fake_twilio, 30)


def test_twilio_refusing_our_credentials_keeps_every_message_until_they_are_fixed(
    worker_env, fake_twilio, celery_processes, client
):
    ids = due_messages(20)
    rotated = celery_processes.worker(worker_env | {"TWILIO_AUTH_TOKEN": "rotated-and-not-updated"})
    drain(lambda: not OutboundMessage.objects.filter(attempts=0).exists(), timeout=60)
    rows = OutboundMessage.objects.filter(pk__in=ids)
    assert set(rows.values_list("status", "error_code")) == {("scheduled", "20003")}
    health = client.get("/healthz").json()
    assert health["providers"] == {"sms": "refused"}
    assert "20003" in health["alerts"][0]
    assert fake_twilio.messages == []

    # The operator fixes the credentials and restarts the worker; the retries go out, once each.
    rotated.stop()
    celery_processes.worker(worker_env)
    rows.update(send_at=timezone.now())  # rather than wait out the backoff
    drain(lambda: statuses() == {"sent": 20}, timeout=90)
    assert_each_sent_exactly_once(fake_twilio, 20)
    assert client.get("/healthz").json()["providers"] == "ok"


def _zone_at_midday() -> str:
    """A time zone where it is now early afternoon, so tips are not held back by quiet hours."""
    zones = ("America/New_York", "America/Los_Angeles", "Pacific/Honolulu", "Asia/Tokyo", "Europe/London",
             "Asia/Kolkata", "Australia/Sydney", "America/Sao_Paulo", "Asia/Dubai", "Pacific/Auckland")  # fmt: skip
    for zone in zones:
        if 11 <= datetime.now(ZoneInfo(zone)).hour < 18:
            return zone
    raise AssertionError("no listed zone is at midday")  # 10 zones cover the clock


def test_a_new_number_gets_only_its_invitation_until_it_says_yes(
    worker_env, fake_twilio, celery_processes, staff_user, clinic, content
):
    link = CareLinkFactory(
        caregiver__clinic=clinic, caregiver__status=Caregiver.Status.ACTIVE, caregiver__time_zone=_zone_at_midday(),
        loved_one__clinic=clinic,
    )  # fmt: skip
    caregiver = link.caregiver
    old = caregiver.phone
    ConsentRecordFactory(caregiver=caregiver, channel="sms")
    tip = OutboundMessageFactory(caregiver=caregiver, kind="tip", status="scheduled", send_at=timezone.now())
    services.caregiver_update(caregiver=caregiver, phone="+14155550187", by=staff_user)
    celery_processes.worker(worker_env)

    drain(lambda: fake_twilio.sent_to("+14155550187") and tip_done(tip), timeout=60)
    (invitation,) = fake_twilio.sent_to("+14155550187")
    assert "YES" in invitation["body"]
    assert fake_twilio.sent_to(old) == []
    tip.refresh_from_db()
    assert (tip.status, tip.status_reason) in {("suppressed", "no_consent"), ("cancelled", "no_consent")}

    inbound_receive(
        message_sid="SM" + "9" * 32, from_number="+14155550187", to_number=clinic.twilio_from_number, body="Yes!"
    )
    caregiver.refresh_from_db()
    assert caregiver.status == Caregiver.Status.ACTIVE
    assert selectors.caregiver_consent(caregiver=caregiver) == {"sms": True}
    assert selectors.caregiver_send_problem(caregiver=caregiver, channel="sms", opted_in=True, now=timezone.now()) == ""
    (record,) = caregiver.consent_records.filter(address="+14155550187")
    assert (record.action, record.source) == ("opt_in", "sms")
    assert fake_twilio.sent_to(old) == []


def tip_done(message: OutboundMessage) -> bool:
    message.refresh_from_db()
    return message.status not in ("scheduled", "queued", "sending")
