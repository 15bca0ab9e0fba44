"""The caregivers' pages in Spanish: the browser's language (or the switch) on the public sign-up
pages, the caregiver's own language on every page that knows them, and English on staff pages
whatever the browser asks."""

from datetime import timedelta

import pytest
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import timezone, translation

from caregiver import services
from caregiver.consent import CURRENT_WEB_BY_LANGUAGE, consent_text
from caregiver.models import Caregiver, ChannelConfirmation, ConsentRecord
from caregiver.selectors import caregiver_consent
from caregiver.tokens import email_confirm_token, preferences_token, ride_token, unsubscribe_token
from content.models import Tip
from messaging import feedback
from tests import factories
from tests.portal.conftest import outbox_code, text

# Real commits: confirmations are sent from on-commit hooks, as in production.
pytestmark = pytest.mark.django_db(transaction=True)

SPANISH_BROWSER = {"HTTP_ACCEPT_LANGUAGE": "es-MX,es;q=0.9,en;q=0.5"}
ENGLISH_BROWSER = {"HTTP_ACCEPT_LANGUAGE": "en-US,en;q=0.9"}
FORM = {
    "name": "Lucía Fernández",
    "phone": "(202) 555-0143",
    "email": "",
    "channels": "sms",
    "loved_one": "Mateo",
    "relationship": "parent",
    "time_zone": "America/Chicago",
    "consent": "on",
}


def html_lang(response) -> str:
    page = response.content.decode()
    return page[page.index("<html lang=") :].split('"')[1]


# --- Sign-up: the browser's language, the switch ----------------------------------------------


def test_a_spanish_browser_signs_up_in_spanish_and_agrees_to_the_spanish_consent(client, clinic_with_content):
    start = client.get("/join/", **SPANISH_BROWSER)
    assert "Inscríbase en Alongside" in text(start)
    assert "Código de la clínica" in text(start)
    assert (html_lang(start), start["Content-Language"]) == ("es", "es")
    page = client.get("/join/RIVER234/", **SPANISH_BROWSER)
    shown = text(page)
    assert "Acompañe a alguien durante su tratamiento" in shown
    assert "¿Cómo quiere recibir los mensajes?" in shown
    assert "Madre o padre" in shown  # the relationship choices, in Spanish
    # The Spanish consent text, word for word, with its keywords.
    spanish = consent_text(clinic=clinic_with_content, version=CURRENT_WEB_BY_LANGUAGE["es"])
    assert spanish in shown
    assert "Responda PARAR para cancelar, AYUDA para ayuda." in shown
    assert "Reply STOP" not in shown

    response = client.post("/join/RIVER234/", FORM, **SPANISH_BROWSER)
    assert response["Location"] == "/join/RIVER234/confirm/"
    caregiver = Caregiver.objects.get(phone="+12025550143")
    assert caregiver.language == "es"
    assert caregiver.confirmations.get().consent_text_version == "web-es-2026-12"
    # Their pages are theirs now: Spanish, whatever this browser says next.
    confirm = client.get("/join/RIVER234/confirm/", **ENGLISH_BROWSER)
    assert "Confirme que es usted" in text(confirm)
    assert "Enviamos un código de 6 dígitos por mensaje de texto al •••-•••-0143" in text(confirm)
    wrong = "000000" if outbox_code(caregiver) != "000000" else "111111"
    response = client.post("/join/RIVER234/confirm/", {"code": wrong, "action": "confirm"}, **ENGLISH_BROWSER)
    assert "Ese código no es correcto. Le quedan 4 intentos." in text(response)
    response = client.post("/join/RIVER234/confirm/", {"code": outbox_code(caregiver), "action": "confirm"})
    assert response["Location"] == "/join/RIVER234/done/"
    record = caregiver.consent_records.get()
    assert (record.action, record.consent_text_version, record.language) == ("opt_in", "web-es-2026-12", "es")
    done = text(client.get("/join/RIVER234/done/", **ENGLISH_BROWSER))
    assert "Lucía Fernández, su inscripción está lista" in done
    assert "Para cancelar, responda PARAR a cualquier mensaje de texto." in done


def test_an_english_browser_signs_up_in_english(client, clinic_with_content):
    page = client.get("/join/RIVER234/", **ENGLISH_BROWSER)
    assert "Support someone through treatment" in text(page)
    assert html_lang(page) == "en"
    client.post("/join/RIVER234/", FORM, **ENGLISH_BROWSER)
    caregiver = Caregiver.objects.get(phone="+12025550143")
    assert caregiver.language == "en"
    client.post("/join/RIVER234/confirm/", {"code": outbox_code(caregiver), "action": "confirm"})
    record = caregiver.consent_records.get()
    assert (record.consent_text_version, record.language) == ("web-2026-11", "en")


def test_the_switch_changes_the_language_of_this_page_and_the_next(client, clinic_with_content):
    english = client.get("/join/RIVER234/", **ENGLISH_BROWSER)
    page = english.content.decode()
    # Plain links to this same page, each language named in itself; no script, no form.
    assert '<a href="?lang=es" lang="es" hreflang="es">Español</a>' in page
    assert '<strong lang="en" aria-current="true">English</strong>' in page
    spanish = client.get("/join/RIVER234/?lang=es", **ENGLISH_BROWSER)
    assert "Acompañe a alguien durante su tratamiento" in text(spanish)
    assert spanish.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    assert '<a href="?lang=en" lang="en" hreflang="en">English</a>' in spanish.content.decode()
    # Remembered: the next page (and the sign-up it posts) is Spanish too, whatever the browser says.
    assert "Inscríbase en Alongside" in text(client.get("/join/", **ENGLISH_BROWSER))
    client.post("/join/RIVER234/", FORM, **ENGLISH_BROWSER)
    assert Caregiver.objects.get(phone="+12025550143").language == "es"
    # And back.
    assert "Sign up for Alongside" in text(client.get("/join/?lang=en", **SPANISH_BROWSER))
    assert "Sign up for Alongside" in text(client.get("/join/", **SPANISH_BROWSER))
    # A language we do not have changes nothing.
    assert "Sign up for Alongside" in text(client.get("/join/?lang=fr"))


def test_sign_up_errors_are_in_spanish(client, clinic_with_content):
    bad = {**FORM, "name": "", "phone": "555-12", "consent": ""}
    response = client.post("/join/RIVER234/", bad, **SPANISH_BROWSER)
    assert response.status_code == 400
    page = text(response)
    assert "Revise los 3 campos marcados abajo." in page
    assert "Este campo es obligatorio." in page
    assert "“555-12” tiene muy pocos dígitos para ser un número de teléfono." in page
    assert "Marque la casilla para aceptar; si no, no podemos enviarle nada." in page
    assert Caregiver.objects.count() == 0
    email_only = {**FORM, "channels": "email", "email": "not an address"}
    page = text(client.post("/join/RIVER234/", email_only, **SPANISH_BROWSER))
    assert "Escriba un correo electrónico válido." in page
    page = text(client.post("/join/", {"code": "nope"}, **SPANISH_BROWSER))
    assert "No reconocemos ese código." in page


def test_a_taken_number_signed_up_in_spanish_looks_like_any_spanish_sign_up(client, clinic_with_content):
    owner = factories.CaregiverFactory(clinic=clinic_with_content, phone="+12025550143")
    factories.ConsentRecordFactory(caregiver=owner, channel="sms")
    client.post("/join/RIVER234/", FORM, **SPANISH_BROWSER)
    page = text(client.get("/join/RIVER234/confirm/", **ENGLISH_BROWSER))
    assert "Enviamos un código de 6 dígitos por mensaje de texto al •••-•••-0143" in page
    owner.refresh_from_db()
    assert owner.language == "en"  # someone else's sign-up changes nothing of theirs


def test_the_sign_up_service_refuses_a_language_we_do_not_have(clinic_with_content):
    with pytest.raises(ValidationError) as refused:
        services.caregiver_sign_up(
            clinic=clinic_with_content, name="Sam", phone="(202) 555-0143", email="", channels="sms",
            loved_one_name="Alex", relationship="partner", time_zone="America/Chicago", ip_address=None,
            language="fr",
        )  # fmt: skip
    assert "language" in refused.value.message_dict


# --- Staff pages: English whatever the browser says -------------------------------------------


def test_staff_pages_the_admin_and_the_api_stay_english_for_a_spanish_browser(client, staff_client, clinic):
    login = client.get("/staff/login/?lang=es", **SPANISH_BROWSER)
    assert html_lang(login) == "en"
    assert login["Content-Language"] == "en"
    assert "Skip to content" in text(login)
    families = staff_client.get("/staff/", **SPANISH_BROWSER)
    assert "Families" in text(families)
    assert "Ir al contenido" not in text(families)
    # Django's admin and DRF have Spanish of their own: not used here.
    assert "Log in" in text(client.get("/admin/login/", **SPANISH_BROWSER))
    api = client.get("/api/v1/tips/", **SPANISH_BROWSER)
    assert (api.status_code, api["Content-Language"]) == (401, "en")
    # The request's language does not linger in the thread after the page.
    assert translation.get_language() == "en"


def test_staff_see_each_caregivers_language_and_can_change_it(staff_client, clinic, content):
    loved_one = factories.LovedOneFactory(clinic=clinic, first_name="Mateo")
    spanish = factories.CaregiverFactory(clinic=clinic, name="Lucía Fernández", language="es")
    english = factories.CaregiverFactory(clinic=clinic, name="Sam Rivera")
    for caregiver in (spanish, english):
        factories.CareLinkFactory(caregiver=caregiver, loved_one=loved_one)
    badge = '<span class="badge language"'
    families = staff_client.get("/staff/").content.decode()
    assert families.count(badge) == 1
    assert ">Spanish</span>" in families
    family = staff_client.get(f"/staff/families/{loved_one.pk}/").content.decode()
    assert family.count(badge) == 1
    edit = staff_client.get(f"/staff/caregivers/{english.pk}/edit/").content.decode()
    assert '<option value="en" selected>English</option>' in edit
    assert '<option value="es">Spanish</option>' in edit
    form = {"name": "Sam Rivera", "phone": english.phone, "email": english.email, "channels": "sms", "language": "es"}
    staff_client.post(f"/staff/caregivers/{english.pk}/edit/", form)
    english.refresh_from_db()
    assert english.language == "es"


# --- Pages that know the caregiver: their language --------------------------------------------


@pytest.fixture
def lucia(content):
    caregiver = factories.CaregiverFactory(
        name="Lucía Fernández", email="lucia@example.com", channels="sms", language="es"
    )
    factories.ConsentRecordFactory(caregiver=caregiver, channel="sms")
    return caregiver


def prefs_url(caregiver) -> str:
    return f"/p/{preferences_token(caregiver.pk, address=caregiver.phone)}/"


SAVE = {
    "action": "save", "sms": "on", "tip_frequency": "weekly", "tip_time": "17:30",
    "quiet_start": "22:00", "quiet_end": "07:30", "time_zone": "America/Denver",
}  # fmt: skip


def test_preferences_are_in_the_caregivers_language_whatever_the_browser(client, lucia):
    response = client.get(prefs_url(lucia), **ENGLISH_BROWSER)
    page = text(response)
    assert (html_lang(response), response["Content-Language"]) == ("es", "es")
    assert "Sus mensajes de Alongside" in page
    assert "¿Con qué frecuencia quiere recibir consejos?" in page
    assert "Tres veces por semana" in page
    assert "Guardar preferencias" in page
    assert "Language / Idioma" in page  # said in both, for someone who cannot read the page
    assert '<option value="es" selected>Español</option>' in response.content.decode()
    # The page's language is theirs, not the switch's.
    assert "Sus mensajes de Alongside" in text(client.get(prefs_url(lucia) + "?lang=en"))


def test_preference_errors_are_in_spanish(client, lucia):
    response = client.post(prefs_url(lucia), {**SAVE, "language": "es", "quiet_start": "10:00", "quiet_end": "19:00"})
    assert response.status_code == 400
    assert (
        "Las horas de silencio de 10:00 a. m. a 7:00 p. m. dejan solo 4 horas para mensajes entre las 8 a. m. y "
        "las 9 p. m."
    ) in text(response)
    response = client.post(prefs_url(lucia), {**SAVE, "language": "es", "tip_time": "23:00"})
    assert "11:00 p. m. está dentro de sus horas de silencio (de 10:00 p. m. a 7:30 a. m.)." in text(response)
    response = client.post(prefs_url(lucia), {**SAVE, "language": "es", "sms": ""})
    assert "Elija mensajes de texto, correo electrónico o ambos." in text(response)


def test_changing_the_language_on_preferences_shows_the_page_in_the_new_one(client, lucia):
    response = client.post(prefs_url(lucia), {**SAVE, "language": "en"}, follow=True, **SPANISH_BROWSER)
    page = text(response)
    assert "Your preferences are saved." in page
    assert "Your Alongside messages" in page
    lucia.refresh_from_db()
    assert (lucia.language, lucia.tip_frequency) == ("en", "weekly")
    response = client.post(prefs_url(lucia), {**SAVE, "language": "es"}, follow=True, **ENGLISH_BROWSER)
    assert "Sus preferencias están guardadas." in text(response)
    assert "Sus mensajes de Alongside" in text(response)
    lucia.refresh_from_db()
    assert lucia.language == "es"
    # A language we do not have is refused next to the field, in the page's language.
    response = client.post(prefs_url(lucia), {**SAVE, "language": "fr"})
    assert response.status_code == 400
    assert "Elija una opción válida. fr no es una de las opciones disponibles." in text(response)


def test_a_channel_switched_back_on_in_spanish_records_the_spanish_consent(client, lucia):
    lucia.channels = "both"
    lucia.save()
    factories.ConsentRecordFactory(caregiver=lucia, channel="email")
    client.post(prefs_url(lucia), {**SAVE, "language": "es", "email": ""})
    assert caregiver_consent(caregiver=lucia) == {"sms": True, "email": False}
    response = client.post(prefs_url(lucia), {**SAVE, "language": "es", "email": "on"}, follow=True)
    assert "Sus preferencias están guardadas. Los correos electrónicos están activados de nuevo." in text(response)
    record = lucia.consent_records.filter(channel="email").first()
    assert (record.action, record.consent_text_version, record.language) == ("opt_in", "web-es-2026-12", "es")


def test_the_email_link_page_is_in_the_caregivers_language(client, lucia):
    lucia.channels = "both"
    lucia.save()
    confirmation = services.confirmation_start(
        caregiver=lucia, channel="email", source="web", consent_text_version="web-es-2026-12"
    )
    path = f"/email/confirm/{email_confirm_token(confirmation.pk)}/"
    assert "¿Confirma" in text(client.get(path, **ENGLISH_BROWSER))
    page = text(client.post(path, **ENGLISH_BROWSER))
    assert "Gracias, su correo electrónico está confirmado." in page
    record = lucia.consent_records.get(channel="email")
    assert (record.consent_text_version, record.language) == ("web-es-2026-12", "es")
    assert ChannelConfirmation.objects.get(pk=confirmation.pk).confirmed_at is not None


def test_unsubscribe_ride_and_tip_pages_are_in_the_caregivers_language(client, lucia):
    lucia.channels = "both"
    lucia.save()
    factories.ConsentRecordFactory(caregiver=lucia, channel="email")
    unsubscribe = f"/unsubscribe/{unsubscribe_token(lucia.pk, email=lucia.email)}/"
    assert "¿Dejar de enviar todos los correos de Alongside a lucia@example.com?" in text(
        client.get(unsubscribe, **ENGLISH_BROWSER)
    )

    link = factories.CareLinkFactory(caregiver=lucia, loved_one__first_name="Mateo")
    appointment = factories.AppointmentFactory(loved_one=link.loved_one, starts_at=timezone.now() + timedelta(days=2))
    ride = f"/ride/{ride_token(lucia.pk, appointment_id=appointment.pk, email=lucia.email)}/"
    page = text(client.get(ride, **ENGLISH_BROWSER))
    assert "El transporte a casa" in page
    assert "Sí, el transporte a casa está organizado" in page
    response = client.post(ride, {"action": "arranged"}, follow=True, **ENGLISH_BROWSER)
    assert "Gracias: anotamos que el transporte a casa está organizado" in text(response)

    message = factories.OutboundMessageFactory(
        caregiver=lucia, channel="email", kind="tip", tip=Tip.objects.filter(active=True).first(), status="sent",
        to=lucia.email,
    )  # fmt: skip
    token = feedback.feedback_token(dedupe_key=message.dedupe_key, value="helpful")
    page = text(client.get(f"/tip/{token}/", **ENGLISH_BROWSER))
    assert "Nos dijo que este consejo le ayudó." in page
    assert "No es para mí" in page


def test_an_english_caregiver_keeps_english_pages_in_a_spanish_browser(client, content):
    caregiver = factories.CaregiverFactory(email="sam@example.com")
    factories.ConsentRecordFactory(caregiver=caregiver, channel="sms")
    assert "Your Alongside messages" in text(client.get(prefs_url(caregiver), **SPANISH_BROWSER))


def test_consent_records_keep_the_language_of_their_text(lucia):
    english = factories.CaregiverFactory(channels="both")
    record = services.caregiver_opt_in(
        caregiver=english, channel="email", source="web", consent_text_version=CURRENT_WEB_BY_LANGUAGE["es"]
    )
    assert record.language == "es"  # the version says which text was shown
    record = services.caregiver_opt_in(caregiver=english, channel="sms", source="staff", consent_text_version="v1")
    assert record.language == "en"  # a version of no known text: the caregiver's language
    record = services.caregiver_opt_in(caregiver=lucia, channel="sms", source="sms", consent_text_version="sms-start")
    assert record.language == "es"
    assert ConsentRecord.objects.filter(language="es").count() == 2
