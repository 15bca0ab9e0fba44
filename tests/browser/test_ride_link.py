"""An email-only caregiver confirms the ride home from the link in a reminder email, on a phone,
and the family's other caregiver is told who is driving; staff see it on the tomorrow page."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.utils import timezone

from caregiver.models import Appointment
from caregiver.tokens import ride_token
from messaging import planning
from messaging.models import OutboundMessage
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


def test_the_ride_link_confirms_and_undoes_the_ride(phone_page, page, content, eager_celery, screenshot, staff_user):
    loved_one = factories.LovedOneFactory(first_name="Alex")
    factories.StaffMembershipFactory(user=staff_user, clinic=loved_one.clinic)
    jordan = factories.CaregiverFactory(clinic=loved_one.clinic, name="Jordan Rivera", channels="email")
    sam = factories.CaregiverFactory(clinic=loved_one.clinic, name="Sam Rivera", channels="sms")
    for caregiver, channel in ((jordan, "email"), (sam, "sms")):
        factories.CareLinkFactory(caregiver=caregiver, loved_one=loved_one)
        factories.ConsentRecordFactory(caregiver=caregiver, channel=channel)
    zone = ZoneInfo(loved_one.clinic.time_zone)
    tomorrow = timezone.now().astimezone(zone).date() + timedelta(days=1)
    starts_at = datetime.combine(tomorrow, time(10, 0), tzinfo=zone)
    appointment = factories.AppointmentFactory(loved_one=loved_one, starts_at=starts_at)
    phone_page.goto(f"/ride/{ride_token(jordan.pk, appointment_id=appointment.pk, email=jordan.email)}/")
    phone_page.get_by_text("Nobody has said the ride home is arranged yet.").wait_for()
    screenshot(phone_page, "ride-link")
    phone_page.get_by_role("button", name="Yes, the ride home is arranged").click()
    phone_page.get_by_text("Thank you: the ride home is noted").wait_for()
    appointment.refresh_from_db()
    assert appointment.ride_arranged_by_caregiver == jordan
    planning.plan_due(caregiver_id=sam.pk)
    (notice,) = OutboundMessage.objects.filter(caregiver=sam, kind="notice")
    assert notice.body.startswith("Alongside: Jordan has the ride home for Alex")

    page.goto("/staff/login/")
    page.get_by_label("Username").fill(staff_user.username)
    page.get_by_label("Password").fill("a-long-test-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/staff/")
    page.get_by_role("link", name="Tomorrow").click()
    page.get_by_text("by Jordan Rivera").wait_for()
    screenshot(page, "staff-tomorrow")

    phone_page.get_by_role("button", name="The ride isn't arranged after all").click()
    phone_page.get_by_text("Noted: the ride home is not arranged yet.").wait_for()
    assert not Appointment.objects.get(pk=appointment.pk).ride_arranged
