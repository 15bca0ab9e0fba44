"""Every staff page with a table, and the home and unsubscribe pages, on a 390 px phone: nothing
makes the page itself scroll sideways (a wide table scrolls inside its own box)."""

from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth import get_user_model
from django.utils import timezone

from caregiver.tokens import unsubscribe_token
from caregiver.validators import local_to_utc
from messaging.inbound import inbound_receive
from messaging.models import Conversation, CrisisAlert
from tests import factories

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WIDE_CSV = (
    "family,loved_one,caregiver_name,caregiver_phone,caregiver_email,relationship,channels,appointment,kind\n"
    "F1,Alex,Jordan Alexander-Featherstonehaugh,202-555-0181,jordan.alexander.featherstonehaugh@example.com,"
    "partner,both,2027-01-05 10:00,infusion\n"
    "F2,Blair,Kim,,kim@example.com,friend,email,,\n"
)


@pytest.fixture
def clinic(content, settings):
    settings.PUBLIC_BASE_URL = "http://testserver"
    clinic = factories.ClinicFactory(name="Riverside Wellness and Recovery Center", time_zone="America/New_York")
    user = get_user_model().objects.create_user(username="dana", password="a-long-test-password", first_name="Dana")
    factories.StaffMembershipFactory(user=user, clinic=clinic)
    link = factories.CareLinkFactory(
        caregiver__clinic=clinic, caregiver__name="Casey Montgomery-Riverside",
        caregiver__email="casey.montgomery.riverside@long-example-domain.example", loved_one__first_name="Alexandria",
    )  # fmt: skip
    factories.ConsentRecordFactory(caregiver=link.caregiver, channel="sms")
    # Tomorrow on the clinic's clock (at 00:30 UTC, New York's tomorrow is UTC's today).
    tomorrow = timezone.localdate(timezone=ZoneInfo(clinic.time_zone)) + timedelta(days=1)
    starts_at = local_to_utc(datetime.combine(tomorrow, time(10, 0)), time_zone=clinic.time_zone)
    factories.AppointmentFactory(loved_one=link.loved_one, starts_at=starts_at)
    inbound_receive(
        message_sid="SM" + "c" * 32, from_number=link.caregiver.phone, to_number=clinic.twilio_from_number,
        body="alex gave away his guitar today and said he wont need it where hes going. im scared",
    )  # fmt: skip
    inbound_receive(
        message_sid="SM" + "d" * 32, from_number="+14155550123", to_number=clinic.twilio_from_number,
        body="hi is this the clinic? my mom gets infusions there on Tuesdays-and-Thursdays-every-week-since-March",
    )  # fmt: skip
    return clinic


def fits(page) -> bool:
    # A mobile browser widens its layout viewport to fit what overflows, so window.innerWidth can
    # grow with the page: compare with the screen's width as set.
    width = page.viewport_size["width"]
    return page.evaluate("(width) => document.documentElement.scrollWidth <= Math.min(window.innerWidth, width)", width)


def test_no_staff_table_page_scrolls_sideways_on_a_phone(phone_page, clinic, tmp_path, screenshot):
    page = phone_page
    page.goto("/staff/login/")
    page.get_by_label("Username").fill("dana")
    page.get_by_label("Password").fill("a-long-test-password")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/staff/")
    family = clinic.loved_ones.get()
    alert = CrisisAlert.objects.get()
    pages = {
        "families": "/staff/",
        "family": f"/staff/families/{family.pk}/",
        "tomorrow": "/staff/tomorrow/",
        "alerts": "/staff/alerts/",
        "alert": f"/staff/alerts/{alert.pk}/",
        "texts": "/staff/texts/?show=all",
    }
    wide = []
    for name, url in pages.items():
        page.goto(url)
        assert page.locator("main table").count() >= 1, f"{name} shows no table to check"
        if not fits(page):
            wide.append(name)
    screenshot(page, "staff-texts-phone")
    # The inbox and a conversation have no table, and long unbroken words in texts.
    for conversation in Conversation.objects.all():
        for url in ("/staff/inbox/?show=all", f"/staff/inbox/{conversation.pk}/"):
            page.goto(url)
            if not fits(page):
                wide.append(url)
    # A table a page adds without a .table-scroll box (a new page, say) fits by default too.
    page.evaluate(
        """() => { const table = document.createElement('table');
        table.innerHTML = '<tr>' + '<td>column-with-a-long-unbreakable-value</td>'.repeat(6) + '</tr>';
        document.querySelector('main').append(table); }"""
    )
    if not fits(page):
        wide.append("a table without a wrapper")

    # The CSV preview's table.
    upload = tmp_path / "families.csv"
    upload.write_text(WIDE_CSV)
    page.goto("/staff/import/")
    page.locator("input[type=file]").set_input_files(str(upload))
    page.get_by_role("button", name="Check the file").click()
    page.locator("main table").first.wait_for()
    if not fits(page):
        wide.append("import preview")

    # The course planner's table of sessions.
    page.goto(f"/staff/families/{family.pk}/course/")
    page.get_by_label("First infusion").fill((timezone.now() + timedelta(days=7)).date().isoformat())
    page.get_by_label("Time", exact=True).fill("10:00")
    page.get_by_role("button", name="Show the sessions").click()
    page.locator("main table").first.wait_for()
    if not fits(page):
        wide.append("course")
    assert wide == []


def test_the_home_and_unsubscribe_pages_look_like_the_rest(phone_page, page, clinic, screenshot):
    caregiver = clinic.caregivers.get()
    for browser_page, suffix in ((phone_page, "-phone"), (page, "")):
        browser_page.goto("/")
        assert browser_page.locator("header.top .brand").inner_text() == "Alongside"
        assert browser_page.get_by_role("link", name="Sign up to support someone").is_visible()
        assert fits(browser_page)
        screenshot(browser_page, f"home{suffix}")
        browser_page.goto(f"/unsubscribe/{unsubscribe_token(caregiver.pk, email=caregiver.email)}/")
        assert browser_page.locator("header.top .brand").is_visible()
        assert browser_page.get_by_role("button", name="Unsubscribe").is_visible()
        assert fits(browser_page)
        screenshot(browser_page, f"unsubscribe{suffix}")
