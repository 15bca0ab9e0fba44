"""The phone on the page (/dev/phone/): replies go through the real signed webhook; local only."""

from __future__ import annotations

import json
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest
import time_machine
from django.test import Client
from django.utils import timezone

from caregiver import services
from caregiver.models import Caregiver
from config.celery import app as celery_app
from messaging.models import CrisisAlert, OutboundMessage
from messaging.phone import family_next_send
from messaging.sending import due_send_here
from tests import factories
from tests.config.test_settings import PRODUCTION_SECRETS, _settings
from tests.portal.conftest import text

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def phone_on(settings, content):
    settings.DEV_PHONE = True
    settings.TWILIO_AUTH_TOKEN = "phone-test-token"
    # What a worker would do after the reply (the welcome) happens in the request, as in the browser tests.
    previous = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = previous


@pytest.fixture
def invited(phone_on, clinic):
    """Staff enrolled a text-only caregiver, who was asked to reply YES (the invite was sent)."""
    loved_one = services.loved_one_create(clinic=clinic, first_name="Alex")
    caregiver = services.caregiver_create(
        clinic=clinic, name="Morgan Lee", phone="(202) 555-0177", loved_one=loved_one, channels="sms"
    )
    services.caregiver_invite(caregiver=caregiver, by=None)
    # Invitations wait for waking hours: at night the page's button is what sends it (tested below).
    family_next_send(loved_one=loved_one, now=timezone.now())
    return caregiver


def reply(caregiver: Caregiver, body: str):
    return Client().post("/dev/phone/", {"caregiver": caregiver.pk, "body": body}, follow=True)


def test_a_staff_enrolled_texter_confirms_with_yes_and_sees_the_welcome(invited):
    page = text(Client().get(f"/dev/phone/?c={invited.pk}"))
    assert "Reply YES" in page
    page = text(reply(invited, "yes"))
    invited.refresh_from_db()
    assert invited.status == Caregiver.Status.ACTIVE
    assert "You sent: yes" in page
    welcome = OutboundMessage.objects.get(caregiver=invited, dedupe_key__startswith="welcome:", channel="sms")
    assert welcome.status == OutboundMessage.Status.SENT  # sent at once, not left for a worker
    assert " ".join(welcome.body.split()) in page


def test_stop_opts_out_and_the_answer_is_on_the_phone(invited):
    reply(invited, "YES")
    page = text(reply(invited, "STOP"))
    invited.refresh_from_db()
    assert invited.status == Caregiver.Status.OPTED_OUT
    assert "You sent: STOP" in page
    assert "unsubscribed" in page.lower()


def test_a_crisis_text_gets_988_and_opens_an_alert(invited):
    page = text(reply(invited, "I'm scared they might hurt themselves tonight"))
    assert CrisisAlert.objects.filter(caregiver=invited, status=CrisisAlert.Status.OPEN).exists()
    assert "988" in page.split("You sent: I'm scared they might hurt themselves tonight")[1]


def test_an_empty_text_is_refused_with_a_message(invited):
    page = text(reply(invited, "   "))
    assert "Type a text to send." in page
    assert not invited.inbound.exists()


def test_the_phone_signs_as_the_webhook_checks_and_says_when_it_cannot(invited, settings):
    # The signing URL is PUBLIC_BASE_URL's, as Twilio's is: a phone signing any other way is refused.
    settings.PUBLIC_BASE_URL = "http://somewhere-else.example"
    reply(invited, "YES")
    assert invited.inbound.count() == 1  # the same setting on both sides: accepted
    settings.TWILIO_AUTH_TOKEN = ""
    page = text(reply(invited, "HELP"))
    assert "TWILIO_AUTH_TOKEN is empty" in page
    assert invited.inbound.count() == 1


@time_machine.travel(datetime(2027, 3, 10, 11, 0, tzinfo=ZoneInfo("America/New_York")))  # a tip may go at 11 am
def test_send_next_brings_the_familys_next_message_forward(phone_on, clinic):
    link = factories.CareLinkFactory(
        caregiver__clinic=clinic, loved_one__clinic=clinic, caregiver__phone="+12025550143"
    )
    factories.ConsentRecordFactory(caregiver=link.caregiver, channel="sms")
    caregiver = link.caregiver
    Caregiver.objects.filter(pk=caregiver.pk).update(
        status=Caregiver.Status.ACTIVE, quiet_start="23:59", quiet_end="00:00"
    )
    before = OutboundMessage.objects.filter(caregiver=caregiver, status__in=OutboundMessage.OUT).count()
    page = text(
        Client().post(f"/dev/phone/families/{link.loved_one.pk}/send-next/", {"caregiver": caregiver.pk}, follow=True)
    )
    sent = OutboundMessage.objects.filter(caregiver=caregiver, status__in=OutboundMessage.OUT)
    assert sent.count() == before + 1
    assert "message(s) sent now" in page
    assert " ".join(sent.latest("sent_at").body.split()) in page


def test_the_phone_is_a_404_unless_local_settings_turn_it_on(settings, invited):
    settings.DEV_PHONE = False
    assert Client().get("/dev/phone/").status_code == 404
    assert reply(invited, "YES").status_code == 404
    family = invited.loved_ones.get()
    assert Client().post(f"/dev/phone/families/{family.pk}/send-next/").status_code == 404
    assert not invited.inbound.exists()


def test_only_local_settings_turn_the_phone_on_and_give_the_webhooks_a_token():
    local = _settings("config.settings.local", "[s.DEV_PHONE, bool(s.TWILIO_AUTH_TOKEN), s.SMS_BACKEND]")
    assert json.loads(local.stdout) == [True, True, "console"], local.stderr
    production = _settings(
        "config.settings.production",
        "s.DEV_PHONE",
        **PRODUCTION_SECRETS,
    )
    assert json.loads(production.stdout) is False, production.stderr


def test_an_invitation_enrolled_at_night_waits_on_the_phone_page_until_the_button_sends_it(phone_on, clinic):
    loved_one = services.loved_one_create(clinic=clinic, first_name="Alex")
    with time_machine.travel(datetime(2027, 3, 10, 22, 30, tzinfo=ZoneInfo("America/New_York")), tick=False):
        caregiver = services.caregiver_create(
            clinic=clinic, name="Morgan Lee", phone="(202) 555-0177", loved_one=loved_one, channels="sms"
        )
        services.caregiver_invite(caregiver=caregiver, by=None)
        due_send_here(now=timezone.now())
        page = text(Client().get(f"/dev/phone/?c={caregiver.pk}"))
        assert "Reply YES" not in page
        assert "Next text: the invitation to reply YES, due Thu 8:00 AM (their time)" in page
        Client().post(f"/dev/phone/families/{loved_one.pk}/send-next/", {"caregiver": caregiver.pk})
        assert "Reply YES" in text(Client().get(f"/dev/phone/?c={caregiver.pk}"))


def test_a_reply_as_someone_not_on_the_phone_is_sent_as_nobody(invited):
    """Found by the outside tester: a reply for a caregiver not among those listed went out as the
    first one listed, and confirmed them."""
    from messaging.models import InboundMessage

    page = text(Client().post("/dev/phone/", {"caregiver": "999999", "body": "YES"}, follow=True))
    assert "That number is not on this phone's list" in page
    assert not InboundMessage.objects.exists()
    invited.refresh_from_db()
    assert invited.status != Caregiver.Status.ACTIVE
