"""Appointments for families already here, from a spreadsheet's CSV: the preview with its flagged
rows, "Keep anyway", and the import, at phone and desktop width."""

from datetime import timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
NY = ZoneInfo("America/New_York")


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_staff_preview_an_appointment_file_keep_a_flagged_row_and_import_it(request, content, screenshot, viewport):
    page = request.getfixturevalue("page" if viewport == "desktop" else "phone_page")
    clinic = factories.ClinicFactory(name="Riverside Clinic", time_zone="America/New_York")
    user = get_user_model().objects.create_user(username="dana", password="a-long-test-password")
    factories.StaffMembershipFactory(user=user, clinic=clinic)
    alex = factories.LovedOneFactory(clinic=clinic, first_name="Alex")
    factories.CareLinkFactory(
        caregiver=factories.CaregiverFactory(clinic=clinic, name="Sam Lee", phone="+12025550143"), loved_one=alex
    )
    day = (timezone.now().astimezone(NY) + timedelta(days=7)).date()
    factories.AppointmentFactory(
        loved_one=alex, starts_at=timezone.datetime(day.year, day.month, day.day, 14, 30, tzinfo=NY)
    )
    csv = (
        "\ufeffLoved One,Caregiver Phone,Appointment,Kind,Duration\n"
        f"Alex,(202) 555-0143,{day.month}/{day.day}/{day.year} 2:30 PM,infusion,90\n"  # the one Alex has
        f"Alex,(202) 555-0143,{day.month}/{day.day + 0}/{day.year} 6:00 PM,booster,60\n"
        f"Alex,(202) 555-0143,{(day + timedelta(days=2)):%Y-%m-%d} 14:30,infusion,90\n"
    )

    page.goto("/staff/login/")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill("a-long-test-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/staff/")
    page.goto("/staff/import/")
    page.get_by_role("link", name="import appointments").click()
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": "appointments.csv", "mimeType": "text/csv", "buffer": csv.encode()}]
    )
    page.get_by_role("button", name="Check the file").click()
    status = page.get_by_role("status")
    status.wait_for()
    assert "The file is valid: 3 appointments for 1 family." in status.inner_text()
    assert "1 row needs a second look" in status.inner_text()
    flagged = page.locator("tr.row-warnings")
    assert flagged.count() == 1
    assert "Alex already has an appointment at" in flagged.inner_text()
    # The page never scrolls sideways; the table does, inside its own box.
    assert page.evaluate("document.documentElement.scrollWidth") <= page.viewport_size["width"]
    screenshot(page, f"staff-import-appointments-{viewport}")

    page.get_by_role("button", name="Import 3 rows").click()
    assert "Nothing was saved: tick “Keep anyway”" in page.get_by_role("status").inner_text()
    assert alex.appointments.count() == 1
    page.get_by_label("Keep anyway: import the flagged appointments as they are").check()
    page.get_by_role("button", name="Import 3 rows").click()
    page.wait_for_url("**/staff/")
    assert "Imported 3 appointments for 1 family. Reminders are planned for each." in page.inner_text("body")
    assert alex.appointments.count() == 4
