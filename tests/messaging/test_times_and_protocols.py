"""Times people can trust, and each kind of treatment with its own protocol."""

from datetime import datetime

import pytest
import time_machine
from django.utils import timezone

from caregiver.models import Clinic
from messaging import planning
from messaging.models import OutboundMessage
from tests.messaging.conftest import local

pytestmark = pytest.mark.django_db(transaction=True)


def plan(now: str):
    with time_machine.travel(now, tick=False):
        return planning.plan_due(now=timezone.now())


def reminder(caregiver, rule_key, channel="sms"):
    return OutboundMessage.objects.get(caregiver=caregiver, rule__key=rule_key, channel=channel)


def test_a_caregiver_in_another_zone_is_told_the_clinic_time_and_its_zone(family, infusion):
    caregiver, loved_one = family("America/Chicago")
    Clinic.objects.filter(pk=loved_one.clinic_id).update(time_zone="America/New_York")
    loved_one.clinic.refresh_from_db()
    infusion(loved_one, "2026-12-09 10:00")
    plan("2026-12-08 12:00Z")
    body = reminder(caregiver, "evening-before").body
    assert "tomorrow at 10:00 AM Eastern" in body
    assert "9:00 AM" not in body
    assert "12:00 PM Eastern" in body  # pick-up: 10:00 + 60 min + 60 min observation


def test_a_caregiver_in_the_clinics_zone_is_not_told_the_zone(family, infusion):
    caregiver, loved_one = family("America/New_York")
    infusion(loved_one, "2026-12-09 10:00")
    plan("2026-12-08 12:00Z")
    body = reminder(caregiver, "evening-before").body
    assert "tomorrow at 10:00 AM." in body
    assert "Eastern" not in body


def test_the_after_session_message_comes_when_they_are_likely_home(family, infusion):
    caregiver, loved_one = family("America/New_York")
    infusion(loved_one, "2026-12-09 10:00", duration=90)
    plan("2026-12-09 12:00Z")
    message = reminder(caregiver, "expected-end")
    # 10:00 + 90 min + 60 min observation = 12:30 pick-up; home 45 minutes later.
    assert local(message.send_at, "America/New_York") == datetime(2026, 12, 9, 13, 15)
    assert "For this afternoon and evening" in message.body
    assert "this evening" not in message.body.replace("afternoon and evening", "")


def test_an_evening_session_says_this_evening(family, infusion):
    caregiver, loved_one = family("America/New_York")
    infusion(loved_one, "2026-12-09 15:00")
    plan("2026-12-09 14:00Z")
    assert "For this evening" in reminder(caregiver, "expected-end").body


def test_esketamine_needs_two_hours_and_no_driving_until_the_next_day(family, infusion):
    caregiver, loved_one = family("America/New_York", channels="both")
    appointment = infusion(loved_one, "2026-12-09 10:00", duration=30, kind="esketamine")
    assert appointment.observation_minutes == 120  # the clinic says 60; the label needs at least 120
    plan("2026-12-07 12:00Z")
    ride = reminder(caregiver, "ride-two-days-before")
    assert "pick-up around 12:30 PM" in ride.body  # 10:00 + 30 min + 2 hours
    email = reminder(caregiver, "ride-two-days-before", channel="email")
    assert "no driving until the next day, after a night's sleep" in email.body
    assert "2 hours of observation" in email.body
    for word in ("esketamine", "spravato", "nasal"):
        assert word not in ride.body.lower()


@pytest.mark.parametrize("kind", ["infusion", "injection", "booster"])
def test_other_treatments_use_the_clinics_observation_time(family, infusion, kind):
    caregiver, loved_one = family("America/New_York", channels="email")
    Clinic.objects.filter(pk=loved_one.clinic_id).update(observation_minutes=90)
    loved_one.clinic.refresh_from_db()
    appointment = infusion(loved_one, "2026-12-09 10:00", duration=60, kind=kind)
    assert appointment.observation_minutes == 90
    plan("2026-12-08 12:00Z")
    email = reminder(caregiver, "evening-before", channel="email")
    assert "an hour and a half of observation" in email.body
    assert "no driving for the rest of the day" in email.body


def test_an_assessment_brings_no_ride_reminders(family, infusion):
    caregiver, loved_one = family("America/New_York")
    infusion(loved_one, "2026-12-09 10:00", kind="assessment")
    plan("2026-12-07 12:00Z")
    assert not OutboundMessage.objects.filter(caregiver=caregiver, kind="reminder").exists()
