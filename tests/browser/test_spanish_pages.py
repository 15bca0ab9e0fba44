"""A Spanish-speaking caregiver, on a phone whose browser asks for Spanish, signs up and opens their
preferences: every page in Spanish, and the language kept as theirs."""

import re

import pytest

from caregiver.models import Caregiver
from tests import factories
from tests.browser.conftest import csp_checked_page

pytestmark = [pytest.mark.browser, pytest.mark.redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def clinic(content, fake_twilio, eager_celery):
    return factories.ClinicFactory(name="Riverside Clinic", enrollment_code="RIVER234")


@pytest.fixture
def spanish_phone(chromium, live_server):
    """A 390 px phone whose browser asks for Mexican Spanish (Accept-Language: es-MX)."""
    with csp_checked_page(
        chromium, base_url=live_server.url, viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True,
        timezone_id="America/Chicago", locale="es-MX",
    ) as page:  # fmt: skip
        yield page


def test_a_caregiver_signs_up_in_spanish_and_opens_their_preferences(spanish_phone, clinic, fake_twilio, screenshot):
    page = spanish_phone
    page.goto("/join/")
    page.get_by_role("heading", name="Inscríbase en Alongside").wait_for()
    # The switch: a link to this same page in the other language, and back.
    page.get_by_role("link", name="English").click()
    page.get_by_role("heading", name="Sign up for Alongside").wait_for()
    page.get_by_role("link", name="Español").click()
    page.get_by_role("heading", name="Inscríbase en Alongside").wait_for()

    page.get_by_label("Código de la clínica").fill("river234")
    page.get_by_role("button", name="Continuar").click()
    page.wait_for_url("**/join/RIVER234/")
    assert page.locator("html").get_attribute("lang") == "es"
    assert page.get_by_label("Zona horaria").input_value() == "America/Chicago"
    assert page.get_by_text("Responda PARAR para cancelar, AYUDA para ayuda.").is_visible()
    page.get_by_label("Su nombre").fill("Lucía Fernández")
    page.get_by_label("Número de celular").fill("2025550143")
    page.get_by_label("Nombre de la persona a quien apoya").fill("Mateo")
    page.get_by_label("Usted es su…").select_option("parent")
    screenshot(page, "es-signup")
    page.get_by_role("button", name="Inscribirse").click()
    assert page.get_by_text("Marque la casilla para aceptar").is_visible()
    page.get_by_label("Acepto recibir estos mensajes").check()
    page.get_by_role("button", name="Inscribirse").click()
    page.wait_for_url("**/join/RIVER234/confirm/")
    assert page.get_by_text("Enviamos un código de 6 dígitos por mensaje de texto al •••-•••-0143").is_visible()

    [message] = fake_twilio.sent_to("+12025550143")
    code = re.search(r"\b(\d{6})\b", message["body"]).group(1)
    page.get_by_label("Código de 6 dígitos").fill(code)
    page.get_by_role("button", name="Confirmar").click()
    page.wait_for_url("**/join/RIVER234/done/")
    page.get_by_role("heading", name="Lucía Fernández, su inscripción está lista").wait_for()
    caregiver = Caregiver.objects.get(phone="+12025550143")
    assert (caregiver.language, caregiver.status) == ("es", Caregiver.Status.ACTIVE)
    record = caregiver.consent_records.get()
    assert (record.consent_text_version, record.language) == ("web-es-2026-12", "es")

    page.get_by_role("link", name="sus preferencias").click()
    page.get_by_role("heading", name="Sus mensajes de Alongside").wait_for()
    page.get_by_label("¿Con qué frecuencia quiere recibir consejos?").select_option("weekly")
    assert page.get_by_label("Language / Idioma").input_value() == "es"
    screenshot(page, "es-preferences")
    page.get_by_role("button", name="Guardar preferencias").click()
    page.get_by_text("Sus preferencias están guardadas.").wait_for()
    caregiver.refresh_from_db()
    assert (caregiver.tip_frequency, caregiver.language) == ("weekly", "es")
