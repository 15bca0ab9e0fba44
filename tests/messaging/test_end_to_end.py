"""The whole pipeline with real parts: PostgreSQL, Redis, a Celery worker process, the twilio
library and a local Twilio-compatible server. Nothing lost, nothing doubled.

Faults (a worker killed mid-batch, Redis or PostgreSQL restarted, a failing Twilio, two beats)
are in tests/reliability/."""

import time
from datetime import timedelta

import pytest
from django.utils import timezone
from twilio.request_validator import RequestValidator

from messaging.models import CrisisAlert, OutboundMessage
from messaging.tasks import dispatch_task, escalate_task
from tests.factories import CareLinkFactory, ConsentRecordFactory, OnCallContactFactory, OutboundMessageFactory
from tests.messaging.worker import Worker, sms_worker_env

pytestmark = [pytest.mark.postgres, pytest.mark.redis, pytest.mark.django_db(transaction=True)]
TOKEN = "e2e-auth-token"


@pytest.fixture
def worker_env(fake_twilio, settings, content):
    settings.TWILIO_AUTH_TOKEN = fake_twilio.auth_token
    return sms_worker_env(fake_twilio, settings, lease_seconds=12)


@pytest.fixture
def worker(worker_env):
    running = Worker(env=worker_env).start()
    yield running
    running.stop()


def confirmations(count: int) -> list[OutboundMessage]:
    """Messages due now that no quiet hour or cap can hold back (so the test runs at any hour)."""
    link = CareLinkFactory()
    ConsentRecordFactory(caregiver=link.caregiver, channel="sms")
    return [
        OutboundMessageFactory(
            caregiver=link.caregiver, kind="confirmation", status="scheduled", send_at=timezone.now()
        )
        for _ in range(count)
    ]


def drain(until, *, timeout: float = 60, tick: float = 0.5) -> None:
    """Run dispatcher ticks (as beat would) until `until()` holds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        dispatch_task()
        if until():
            return
        time.sleep(tick)
    raise AssertionError("the pipeline did not finish in time")


def statuses() -> dict[str, int]:
    from collections import Counter

    return dict(Counter(OutboundMessage.objects.values_list("status", flat=True)))


def test_due_messages_go_out_once_and_delivery_callbacks_land(client, worker, fake_twilio, settings):
    messages = confirmations(20)
    drain(lambda: statuses() == {"sent": 20})
    assert len(fake_twilio.messages) == 20
    assert fake_twilio.duplicates() == []
    assert all(r["auth_ok"] for r in fake_twilio.requests)

    message = OutboundMessage.objects.get(pk=messages[0].pk)
    url = f"{settings.PUBLIC_BASE_URL}/webhooks/twilio/status/?m={message.pk}"
    params = {"MessageSid": message.provider_id, "MessageStatus": "delivered"}
    signature = RequestValidator(fake_twilio.auth_token).compute_signature(url, params)
    assert (
        client.post(f"/webhooks/twilio/status/?m={message.pk}", params, HTTP_X_TWILIO_SIGNATURE=signature).status_code
        == 204
    )
    message.refresh_from_db()
    assert message.status == "delivered"


def test_stop_by_text_cancels_what_was_pending_through_the_worker(client, worker, fake_twilio, settings):
    (message,) = confirmations(1)
    caregiver = message.caregiver
    later = OutboundMessageFactory(caregiver=caregiver, status="scheduled", send_at=timezone.now() + timedelta(hours=3))
    params = {
        "MessageSid": "SMstop",
        "From": caregiver.phone,
        "To": caregiver.clinic.twilio_from_number,
        "Body": "STOP",
    }
    url = f"{settings.PUBLIC_BASE_URL}/webhooks/twilio/inbound/"
    signature = RequestValidator(fake_twilio.auth_token).compute_signature(url, params)
    reply = client.post("/webhooks/twilio/inbound/", params, HTTP_X_TWILIO_SIGNATURE=signature).content.decode()
    assert reply.count("<Message>") == 1
    # Held back in the same transaction as the opt-out, whatever the re-plan and the broker do.
    drain(lambda: OutboundMessage.objects.get(pk=later.pk).status in ("cancelled", "suppressed"))
    drain(lambda: OutboundMessage.objects.get(pk=message.pk).status in ("cancelled", "suppressed"))
    assert fake_twilio.sent_to(caregiver.phone) == []


ACK_SECONDS = 3


@pytest.fixture
def escalating_worker(worker_env, settings):
    """A worker whose crisis alerts wait ACK_SECONDS for an acknowledgement, not ten minutes."""
    settings.CRISIS_ACK_MINUTES = ACK_SECONDS / 60
    running = Worker(env={**worker_env, "CRISIS_ACK_MINUTES": str(ACK_SECONDS / 60)}).start()
    yield running
    running.stop()


def test_a_crisis_text_reaches_the_on_call_contacts_in_turn_until_one_acknowledges(
    client, escalating_worker, fake_twilio, settings
):
    link = CareLinkFactory()
    ConsentRecordFactory(caregiver=link.caregiver, channel="sms")
    clinic = link.caregiver.clinic
    first = OnCallContactFactory(clinic=clinic, position=0, email="")
    second = OnCallContactFactory(clinic=clinic, position=1, email="")
    third = OnCallContactFactory(clinic=clinic, position=2, email="")
    params = {"MessageSid": "SMdanger", "From": link.caregiver.phone, "To": clinic.twilio_from_number,
              "Body": "my wife is on the bridge and wont come down"}  # fmt: skip
    url = f"{settings.PUBLIC_BASE_URL}/webhooks/twilio/inbound/"
    signature = RequestValidator(fake_twilio.auth_token).compute_signature(url, params)
    reply = client.post("/webhooks/twilio/inbound/", params, HTTP_X_TWILIO_SIGNATURE=signature).content.decode()
    assert "988" in reply
    opened = time.monotonic()
    drain(lambda: len(fake_twilio.sent_to(first.phone)) == 1)
    assert fake_twilio.sent_to(second.phone) == []

    # Beat's escalation tick, run by the worker: nothing until the wait is over, then the next contact.
    def escalated_to(contact) -> bool:
        escalate_task.delay()
        dispatch_task()
        return len(fake_twilio.sent_to(contact.phone)) == 1

    drain(lambda: escalated_to(second), timeout=30)
    assert time.monotonic() - opened >= ACK_SECONDS
    ack = fake_twilio.sent_to(second.phone)[0]["body"]
    path = ack[ack.index("/alerts/") :].split()[0]
    assert "I'm on it" in client.get(path).content.decode()
    client.post(path)
    alert = CrisisAlert.objects.get()
    assert (alert.status, alert.acknowledged_by_name) == ("acknowledged", f"{second.name} (from the alert link)")
    time.sleep(ACK_SECONDS + 1)
    escalate_task.delay()
    drain(lambda: True)
    time.sleep(2)
    assert fake_twilio.sent_to(third.phone) == []
    assert fake_twilio.duplicates() == []
