"""With the broker down, a crisis page still reaches the on-call clinician within seconds: the web
process that read the text sends it itself (messaging.inbound.dispatcher_wake)."""

import time

import pytest

from config.celery import app
from messaging.inbound import inbound_receive
from messaging.models import CrisisAlert, OutboundMessage
from tests.factories import OnCallContactFactory
from tests.reliability.conftest import _forget_redis_connections

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True)]
DEAD_REDIS = "redis://127.0.0.1:9/0"  # nothing listens: Redis is down


@pytest.fixture
def broker_down(settings):
    before = app.conf.broker_url
    settings.CELERY_BROKER_URL = settings.REDIS_URL = app.conf.broker_url = DEAD_REDIS
    _forget_redis_connections()
    yield
    app.conf.broker_url = before
    _forget_redis_connections()


def test_a_crisis_page_goes_out_while_the_broker_is_down(caregiver, fake_twilio, broker_down):
    contact = OnCallContactFactory(clinic=caregiver.clinic, position=0, name="Riley")
    started = time.monotonic()
    result = inbound_receive(
        message_sid="SM" + "7" * 32, from_number=caregiver.phone, to_number=caregiver.clinic.twilio_from_number,
        body="i cant do this anymore i want to end it all",
    )  # fmt: skip
    assert "988" in result.reply
    deadline = started + 20
    while time.monotonic() < deadline and not fake_twilio.sent_to(contact.phone):
        time.sleep(0.2)
    (page,) = fake_twilio.sent_to(contact.phone)
    assert time.monotonic() - started < 20
    alert = CrisisAlert.objects.get()
    sent = OutboundMessage.objects.get(crisis_alert=alert, channel="sms")
    assert (sent.status, sent.provider_id) == ("sent", page["sid"])


def test_a_crisis_page_goes_out_while_no_worker_is_running(caregiver, fake_twilio, settings):
    """The broker is up but nothing takes its tasks (a hung or stopped worker): the page still goes."""
    from config.celery import app

    app.control.purge()
    contact = OnCallContactFactory(clinic=caregiver.clinic, position=0, name="Riley")
    inbound_receive(
        message_sid="SM" + "8" * 32, from_number=caregiver.phone, to_number=caregiver.clinic.twilio_from_number,
        body="my mom is not breathing and wont wake up",
    )  # fmt: skip
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and not fake_twilio.sent_to(contact.phone):
        time.sleep(0.2)
    assert len(fake_twilio.sent_to(contact.phone)) == 1
    app.control.purge()  # the dispatch task nobody took
