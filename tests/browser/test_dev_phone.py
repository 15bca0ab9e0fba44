"""A newcomer on the phone page: confirms with YES, texts STOP, then a crisis text, and reads each answer."""

import pytest
from django.utils import timezone

from caregiver import services
from caregiver.models import Caregiver
from messaging.models import CrisisAlert
from messaging.sending import due_send_here
from tests import factories
from tests.english_words import english_words

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def morgan(waking_hours, content, eager_celery, settings):
    """A friend the staff enrolled for texts only: the invitation to reply YES is on their phone."""
    settings.DEV_PHONE = True
    settings.TWILIO_AUTH_TOKEN = "browser-phone-token"
    clinic = factories.ClinicFactory(name="Riverside Wellness", time_zone="America/New_York")
    loved_one = services.loved_one_create(clinic=clinic, first_name="Alex")
    caregiver = services.caregiver_create(
        clinic=clinic, name="Morgan Lee", phone="(202) 555-0177", loved_one=loved_one, channels="sms"
    )
    services.caregiver_invite(caregiver=caregiver, by=None)
    due_send_here(now=timezone.now())
    return caregiver


def no_sideways_scroll(page) -> bool:
    return page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")


@pytest.mark.parametrize("width", ["phone", "desktop"])
def test_reply_yes_stop_and_a_crisis_text_on_the_phone_page(request, width, morgan, screenshot):
    page = request.getfixturevalue("phone_page" if width == "phone" else "page")
    page.goto("/dev/phone/")
    bubbles = page.locator("ol.bubbles li.bubble")
    assert "Reply YES to start" in bubbles.last.inner_text()

    page.locator("form.quick-replies").get_by_role("button", name="YES", exact=True).click()
    page.locator("li.bubble.them", has_text="Welcome, Morgan").last.wait_for()
    assert " ".join(page.locator("li.bubble.me").last.inner_text().split()).startswith("You sent: YES")
    morgan.refresh_from_db()
    assert morgan.status == Caregiver.Status.ACTIVE

    page.get_by_label("Text message").fill("STOP")
    page.get_by_role("button", name="Send", exact=True).click()
    page.locator("li.bubble.them", has_text="unsubscribed").last.wait_for()

    page.get_by_label("Text message").fill("I'm scared they might hurt themselves tonight")
    page.get_by_role("button", name="Send", exact=True).click()
    answer = page.locator("li.bubble.them").last
    answer.wait_for()
    assert "988" in answer.inner_text()
    assert CrisisAlert.objects.filter(caregiver=morgan).count() == 1
    assert no_sideways_scroll(page)
    screenshot(page, "dev-phone" if width == "desktop" else "dev-phone-on-a-phone")


@pytest.fixture
def rosa(waking_hours, content, eager_celery, settings):
    """A mother the staff enrolled as reading Spanish: her invitation, in Spanish, is on her phone."""
    settings.DEV_PHONE = True
    settings.TWILIO_AUTH_TOKEN = "browser-phone-token"
    clinic = factories.ClinicFactory(name="Riverside Wellness", time_zone="America/New_York")
    loved_one = services.loved_one_create(clinic=clinic, first_name="Alex")
    caregiver = services.caregiver_create(
        clinic=clinic, name="Rosa Díaz", phone="(202) 555-0178", loved_one=loved_one, channels="sms", language="es"
    )
    services.caregiver_invite(caregiver=caregiver, by=None)
    due_send_here(now=timezone.now())
    return caregiver


def test_a_spanish_reader_confirms_asks_for_help_and_is_answered_in_spanish_on_the_phone_page(
    phone_page, rosa, screenshot
):
    page = phone_page
    page.goto("/dev/phone/")
    assert "Responda SI para empezar" in page.locator("ol.bubbles li.bubble .text").last.inner_text()

    def send(words: str, answer: str) -> str:
        page.get_by_label("Text message").fill(words)
        page.get_by_role("button", name="Send", exact=True).click()
        page.locator("li.bubble.them", has_text=answer).last.wait_for()
        # The words of the text, not the phone page's own (English) time stamp.
        return page.locator("li.bubble.them", has_text=answer).last.locator(".text").inner_text()

    welcome = send("Sí", "Rosa")
    assert english_words(welcome) == []
    rosa.refresh_from_db()
    assert rosa.status == Caregiver.Status.ACTIVE
    assert english_words(send("AYUDA", "988")) == []
    crisis = send("mi hijo dice q ya no quiere vivir, q hago", "marque 2")
    assert english_words(crisis) == []
    assert CrisisAlert.objects.filter(caregiver=rosa, severity="danger").count() == 1  # and AYUDA a help one
    assert english_words(send("ya no me manden mensajes porfa", "INICIO")) == []
    assert no_sideways_scroll(page)
    screenshot(page, "dev-phone-es-on-a-phone")
