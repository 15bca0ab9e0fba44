"""The staff dashboard with the demo's history (`make run`'s data), on a phone and on a desktop:
every chart drawn under the Content-Security-Policy (the fixtures fail the test on a violation),
nothing makes the page scroll sideways, and each chart's CSV downloads."""

import pytest
from django.core.management import call_command

from .test_phone_width import fits

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def demo(content, settings):
    call_command("seed_demo", stdout=None)
    call_command("seed_demo_history")


def sign_in(page) -> None:
    page.goto("/staff/login/")
    page.get_by_label("Username").fill("demo-staff")
    page.get_by_label("Password").fill("alongside-demo")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url("**/staff/")


def test_the_dashboard_draws_its_charts_on_a_phone_and_a_desktop(phone_page, page, demo, screenshot):
    for browser_page, name in ((phone_page, "staff-dashboard-phone"), (page, "staff-dashboard")):
        sign_in(browser_page)
        browser_page.get_by_role("link", name="Dashboard").click()
        browser_page.wait_for_url("**/staff/dashboard/")
        charts = browser_page.locator("svg.chart[role=img]")
        assert charts.count() == 8
        box = charts.first.bounding_box()
        assert box["width"] > 200
        assert box["height"] > 100
        assert browser_page.locator("svg.chart rect").count() > 10  # the history's bars
        assert browser_page.locator("svg.chart .reference").count() == 1  # the 1.5 % line
        assert fits(browser_page)
        screenshot(browser_page, name)
    with page.expect_download() as download:
        page.locator("#opt-outs").get_by_role("link", name="Download the numbers (CSV)").click()
    assert download.value.suggested_filename.startswith("demo-clinic-opt-outs-")
