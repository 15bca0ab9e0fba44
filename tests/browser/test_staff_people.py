"""A staff member corrects a caregiver's number, then archives the family (a bereavement), on a
phone and at a desk."""

import pytest
from django.contrib.auth import get_user_model

from caregiver.models import Caregiver, LovedOne
from messaging.models import OutboundMessage
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def alex(content, fake_twilio, eager_celery):
    clinic = factories.ClinicFactory(name="Riverside Clinic", time_zone="America/New_York")
    user = get_user_model().objects.create_user(username="dana", password="a-long-test-password", first_name="Dana")
    factories.StaffMembershipFactory(user=user, clinic=clinic)
    loved_one = factories.LovedOneFactory(clinic=clinic, first_name="Alex")
    jordan = factories.CaregiverFactory(clinic=clinic, name="Jordan Rivera", phone="+12025550143")
    factories.CareLinkFactory(caregiver=jordan, loved_one=loved_one)
    factories.ConsentRecordFactory(caregiver=jordan, channel="sms")
    factories.AppointmentFactory(loved_one=loved_one)
    return loved_one


def fits(page) -> bool:
    """Nothing sticks out sideways: the page scrolls only up and down."""
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("window", ["phone_page", "page"])
def test_staff_fix_a_caregivers_number_then_archive_the_family(
    waking_hours, request, window, alex, fake_twilio, screenshot
):
    page = request.getfixturevalue(window)
    size = "phone" if window == "phone_page" else "desktop"
    page.goto("/staff/login/")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill("a-long-test-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/staff/")
    page.get_by_role("link", name="Alex", exact=True).click()

    # The number was typed wrong at enrollment: staff correct it, and the new one is asked to say YES.
    page.get_by_role("link", name="Edit Jordan Rivera").click()
    page.get_by_label("Mobile number").fill("(202) 555-0177")
    assert fits(page)
    screenshot(page, f"staff-caregiver-edit-{size}")
    page.get_by_role("button", name="Save").click()
    page.get_by_text("Saved Jordan Rivera's details").wait_for()
    assert page.get_by_text("Waiting for confirmation").is_visible()
    [invite] = fake_twilio.sent_to("+12025550177")
    assert "Reply YES" in invite["body"]
    assert fake_twilio.sent_to("+12025550143") == []

    # Then a bereavement: everything stops, and nothing is sent to say so.
    page.get_by_role("link", name="Archive or stop everything").click()
    page.get_by_role("button", name="Archive and stop everything").click()
    page.get_by_text("Choose why the family is archived.").wait_for()
    page.get_by_label("Bereavement").check()
    assert fits(page)
    screenshot(page, f"staff-family-archive-{size}")
    page.get_by_role("button", name="Archive and stop everything").click()
    page.get_by_text("Alex's family is archived.").wait_for()
    assert page.get_by_text("Archived").first.is_visible()
    assert fits(page)
    screenshot(page, f"staff-family-archived-{size}")
    assert Caregiver.objects.get(name="Jordan Rivera").status == Caregiver.Status.ARCHIVED
    assert not OutboundMessage.objects.filter(kind="notice").exists()
    assert len(fake_twilio.sent_to("+12025550177")) == 1  # only the invitation, sent before

    # Gone from the list, found under Archived.
    page.get_by_role("link", name="Families", exact=True).click()
    assert page.get_by_role("link", name="Alex", exact=True).count() == 0
    page.get_by_role("link", name="Archived (1)").click()
    page.get_by_text("Archived: Bereavement").wait_for()
    assert fits(page)
    screenshot(page, f"staff-families-archived-{size}")
    assert LovedOne.objects.get().archived_reason == "bereavement"
