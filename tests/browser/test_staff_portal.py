"""A staff member logs in, enrolls a family, plans a course, reschedules, and sees the timeline change."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from caregiver.models import Appointment, LovedOne
from messaging.inbound import inbound_receive
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def staff(content, fake_twilio, eager_celery, settings):
    settings.PLAN_HORIZON_HOURS = 24 * 30  # plan the whole course, so the timeline shows its reminders
    clinic = factories.ClinicFactory(name="Riverside Clinic", time_zone="America/New_York")
    user = get_user_model().objects.create_user(username="dana", password="a-long-test-password", first_name="Dana")
    factories.StaffMembershipFactory(user=user, clinic=clinic)
    return clinic


def next_monday():
    today = timezone.now().date()
    return today + timedelta(days=7 - today.weekday())


def test_staff_enroll_plan_a_course_reschedule_and_watch_the_timeline(
    waking_hours, page, staff, fake_twilio, screenshot
):
    page.goto("/staff/")
    page.wait_for_url("**/staff/login/**")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill("a-long-test-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/staff/")

    # Enroll: a loved one and a caregiver, who is asked to confirm by text.
    page.get_by_role("link", name="Enroll a family").first.click()
    page.get_by_label("First name of the person in treatment").fill("Alex")
    page.locator("#id_caregivers-0-name").fill("Jordan Rivera")
    page.locator("#id_caregivers-0-phone").fill("(202) 555-0143")
    screenshot(page, "staff-enroll")
    page.get_by_role("button", name="Enroll family").click()
    page.get_by_text("Alex's family is enrolled").wait_for()
    [invite] = fake_twilio.sent_to("+12025550143")
    assert invite["body"].startswith("Alongside: Riverside Clinic signed you up")
    assert "Reply YES" in invite["body"]
    family = LovedOne.objects.get(first_name="Alex")
    # The caregiver replies YES from their phone: now messages may be planned for them.
    inbound_receive(
        message_sid="SM" + "a" * 32, from_number="+12025550143", to_number=staff.twilio_from_number, body="Yes"
    )

    # Plan a course: six infusions, Monday/Wednesday/Friday, reviewed before saving.
    page.get_by_role("link", name="Plan a course").click()
    page.get_by_label("First infusion").fill(next_monday().isoformat())
    page.get_by_label("Time", exact=True).fill("10:00")
    page.get_by_role("button", name="Show the sessions").click()
    page.get_by_role("button", name="Save 6 sessions").wait_for()
    screenshot(page, "staff-course")
    page.get_by_role("button", name="Save 6 sessions").click()
    page.get_by_text("Saved 6 appointments").wait_for()
    assert family.appointments.count() == 6
    # The welcome that followed YES, and the reminders planned for the course, are on the timeline.
    timeline = page.locator("ol.timeline")
    assert timeline.locator("li.status-scheduled").count() > 0
    assert timeline.locator("li.status-cancelled").count() == 0

    # Reschedule the first infusion an hour later: its reminders are re-planned.
    first = family.appointments.order_by("starts_at").first()
    page.locator(f"#appointment-{first.pk}").get_by_role("link", name="Reschedule").click()
    page.get_by_label("New time").fill("11:00")
    page.get_by_role("button", name="Reschedule").click()
    page.get_by_text("Rescheduled.").wait_for()
    first.refresh_from_db()
    assert f"{first.starts_at.astimezone(ZoneInfo('America/New_York')):%H:%M}" == "11:00"
    assert page.locator("li.status-cancelled").count() > 0
    assert "rescheduled" in page.locator("li.status-cancelled").first.inner_text()
    screenshot(page, "staff-family")

    # Cancel another: its reminders will not go.
    last = family.appointments.order_by("starts_at").last()
    page.once("dialog", lambda dialog: dialog.accept())
    page.locator(f"#appointment-{last.pk}").get_by_role("button", name="Cancel").click()
    page.get_by_text("Appointment cancelled.").wait_for()
    last.refresh_from_db()
    assert last.status == Appointment.Status.CANCELLED

    page.get_by_role("link", name="Families").first.click()
    page.get_by_text("Jordan Rivera").wait_for()
    screenshot(page, "staff-families")


def _sign_in(page) -> None:
    page.goto("/staff/login/")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill("a-long-test-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/staff/")


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_the_family_page_previews_every_message_of_the_course(request, content, eager_celery, screenshot, viewport):
    """With the planner's usual 48-hour horizon, the rest of a twelve-week course is on the family
    page as a preview: each message, when it will go, to whom, marked as not planned yet."""
    from caregiver import services
    from messaging import planning

    page = request.getfixturevalue("page" if viewport == "desktop" else "phone_page")
    clinic = factories.ClinicFactory(name="Riverside Clinic", time_zone="America/New_York")
    user = get_user_model().objects.create_user(username="dana", password="a-long-test-password", first_name="Dana")
    factories.StaffMembershipFactory(user=user, clinic=clinic)
    family = factories.LovedOneFactory(clinic=clinic, first_name="Alex")
    caregiver = factories.CaregiverFactory(clinic=clinic, name="Jordan Rivera", time_zone="America/Chicago")
    factories.CareLinkFactory(caregiver=caregiver, loved_one=family)
    factories.ConsentRecordFactory(caregiver=caregiver, channel="sms")
    start = timezone.now().replace(hour=15, minute=0, second=0, microsecond=0) + timedelta(days=1)
    for days in (0, 2, 4, 7, 9, 11, 39, 67):
        services.appointment_create(loved_one=family, starts_at=start + timedelta(days=days))
    planning.plan_due()

    _sign_in(page)
    page.goto(f"/staff/families/{family.pk}/")
    page.get_by_role("heading", name="Later in the course").wait_for()
    previews = page.locator("li.preview")
    assert previews.count() >= 20
    # A long course is folded under its count; one tap opens it.
    page.get_by_text("more messages to come").click()
    first = previews.first.inner_text()
    assert "Jordan Rivera" in first
    assert "Preview" in first
    assert "To Jordan Rivera · SMS" in previews.last.inner_text()
    screenshot(page, "staff-course-ahead" if viewport == "desktop" else "staff-course-ahead-phone")
