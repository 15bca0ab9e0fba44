"""Every kind of page, in Chromium, under the Content-Security-Policy: nothing on them is refused.

The `page` fixture fails a test whose pages broke the policy (tests/browser/conftest.py), so
these tests only have to visit the pages and check that what the scripts do still happens.
"""

from datetime import timedelta

import pytest
from django.contrib import admin
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from caregiver import services
from caregiver.models import Appointment
from caregiver.tokens import preferences_token
from tests import factories

from .conftest import csp_checked_page

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def family(content, eager_celery):
    clinic = factories.ClinicFactory(name="Riverside Clinic", time_zone="America/New_York", enrollment_code="RIVER234")
    user = get_user_model().objects.create_superuser(username="dana", password="a-long-test-password")
    factories.StaffMembershipFactory(user=user, clinic=clinic)
    loved_one = factories.LovedOneFactory(clinic=clinic, first_name="Alex")
    caregiver = factories.CaregiverFactory(clinic=clinic, name="Jordan Rivera", email="jordan@example.com")
    factories.CareLinkFactory(caregiver=caregiver, loved_one=loved_one)
    factories.ConsentRecordFactory(caregiver=caregiver, channel="sms")
    services.appointment_create(loved_one=loved_one, starts_at=timezone.now() + timedelta(days=3))
    return loved_one


def sign_in(page, path: str = "/staff/login/") -> None:
    page.goto(path)
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill("a-long-test-password")
    page.locator("form [type=submit]").click()
    page.wait_for_load_state()


def test_public_pages_and_the_browsers_time_zone_guess(phone_page, family):
    page = phone_page
    page.goto("/")
    page.get_by_role("heading", name="Alongside").wait_for()
    page.goto("/join/")
    page.goto("/join/RIVER234/")
    # site.js, not an inline script, chooses the browser's zone (Chicago in phone_page).
    assert page.get_by_label("Time zone").input_value() == "America/Chicago"
    caregiver = family.caregivers.get()
    page.goto(f"/p/{preferences_token(caregiver.pk, address=caregiver.phone)}/")
    page.get_by_role("button", name="Save preferences").wait_for()


def test_staff_pages_and_a_confirm_before_cancelling(page, family):
    sign_in(page)
    for name in ("families", "enroll", "import", "import-appointments", "sign-ups", "tomorrow", "closures", "alerts"):
        page.goto(reverse(f"portal:{name}"))
        assert page.locator("h1").count() == 1, name
    page.goto(reverse("portal:texts"))
    page.goto(reverse("portal:families"))
    assert "1 family" in page.locator("table caption").inner_text()

    # The cancel button asks first (site.js reads the form's data-confirm): saying no keeps it.
    appointment = family.appointments.get()
    page.goto(reverse("portal:family", kwargs={"pk": family.pk}))
    asked = []
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.dismiss()))
    page.locator(f"#appointment-{appointment.pk}").get_by_role("button", name="Cancel").click()
    page.wait_for_load_state()
    assert asked == ["Cancel this appointment? Its reminders will not be sent."]
    appointment.refresh_from_db()
    assert appointment.status == Appointment.Status.SCHEDULED

    # An archived family's page has the restore button, which asks too.
    services.family_archive(loved_one=family, reason="course_ended", by=get_user_model().objects.get())
    page.goto(reverse("portal:family", kwargs={"pk": family.pk}))
    page.once("dialog", lambda dialog: (asked.append(dialog.message), dialog.accept()))
    page.get_by_role("button", name="Restore the family").click()
    page.wait_for_url(f"**{reverse('portal:family', kwargs={'pk': family.pk})}")
    assert asked[-1].startswith("Restore this family?")
    family.refresh_from_db()
    assert family.archived_at is None


def test_the_admin(page, family):
    sign_in(page, "/admin/login/")
    page.get_by_role("heading", name="Site administration").wait_for()
    for model in admin.site._registry:
        meta = model._meta
        page.goto(reverse(f"admin:{meta.app_label}_{meta.model_name}_changelist"))
        assert page.locator("#content").count() == 1, meta.label
    # A change form with the admin's own scripts (date and time shortcuts, related-object links).
    appointment = family.appointments.get()
    page.goto(reverse("admin:caregiver_appointment_change", args=[appointment.pk]))
    page.locator(".datetimeshortcuts").first.wait_for()
    page.goto(reverse("admin:caregiver_clinic_change", args=[family.clinic.pk]))
    page.locator("#clinic_form").wait_for()


def test_the_api_docs_render_and_answer(page, db):
    """Swagger UI under its page's policy (config/urls.py): it draws, opens an operation, tries it."""
    page.goto("/api/docs/")
    page.locator(".opblock").first.wait_for()
    assert page.locator(".opblock").count() > 3
    page.locator(".opblock-summary").first.click()
    page.get_by_role("button", name="Try it out").first.click()
    page.get_by_role("button", name="Execute").first.click()
    page.locator(".live-responses-table").first.wait_for()
    page.get_by_role("button", name="Authorize").first.click()
    page.locator(".modal-ux").wait_for()


def test_the_phone_page(page, family, settings):
    settings.DEV_PHONE = True
    page.goto("/dev/phone/")
    page.get_by_role("heading", name="The phone").wait_for()


def test_a_refused_inline_script_fails_the_test(chromium, live_server, db):
    """The check the other tests rely on: an inline script the policy refuses is reported."""
    refused = pytest.raises(pytest.fail.Exception, match="Content Security Policy")
    with refused, csp_checked_page(chromium, base_url=live_server.url) as page:
        page.goto("/")
        page.evaluate(
            "() => { const s = document.createElement('script'); s.textContent = 'window.ran = 1';"
            " document.body.append(s); }"
        )
        assert page.evaluate("window.ran") is None
