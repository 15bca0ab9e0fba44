"""A caregiver who reads Spanish: a week of texts and emails, the answers to their texts, and the
switch between languages, all in Spanish, without an English word (tests/english_words.py)."""

import re

import pytest
import time_machine
from django.utils import timezone

from caregiver import selectors
from caregiver.models import Caregiver
from content.validation import GSM7_BASIC, GSM7_EXTENDED
from messaging import planning
from messaging import services as messaging_services
from messaging.models import CrisisAlert, InboundMessage, OutboundMessage
from tests import factories
from tests.english_words import english_words
from tests.messaging.texting import text, text_from

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("twilio_token")]


def plan(now: str):
    with time_machine.travel(now, tick=False):
        return planning.plan_due(now=timezone.now())


def reply_of(response) -> str:
    found = re.search(r"<Message>(.*)</Message>", response.content.decode(), re.S)
    return found.group(1) if found else ""


def gsm7(text: str) -> bool:
    return all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text)


@pytest.fixture
def lucia(family):
    caregiver, loved_one = family("America/Chicago", channels="both", language="es", name="Lucía Hernández")
    Caregiver.objects.filter(pk=caregiver.pk).update(tip_frequency="daily")
    caregiver.refresh_from_db()
    return caregiver, loved_one


def test_a_week_of_texts_and_emails_is_all_in_spanish(lucia, infusion):
    caregiver, loved_one = lucia
    infusion(loved_one, "2026-12-09 10:00", duration=90)  # a Wednesday, clinic and caregiver in Chicago
    for day in range(5, 12):
        plan(f"2026-12-{day:02d} 12:00Z")
    messages = list(OutboundMessage.objects.filter(caregiver=caregiver).exclude(status="cancelled"))
    kinds = {m.kind for m in messages}
    assert {"tip", "reminder"} <= kinds
    for message in messages:
        words = f"{message.subject}\n{message.body}"
        assert english_words(words) == [], (message.kind, words)
        if message.channel == "sms":
            assert gsm7(message.body), message.body  # folded: no accent makes a text UCS-2
        else:
            assert english_words(re.sub(r"<[^>]+>", " ", message.html)) == [], message.html
    texts = " ".join(m.body for m in messages if m.channel == "sms").lower()
    assert "miércoles 9 de diciembre" in texts  # Django's Spanish day and month; é is GSM-7, so it stays
    assert "10:00 a. m." in texts


def test_a_tip_by_text_asks_for_its_answer_in_spanish_and_a_1_is_heard(client, lucia):
    caregiver, _ = lucia
    plan("2026-12-07 12:00Z")
    tip = OutboundMessage.objects.filter(caregiver=caregiver, kind="tip", channel="sms").order_by("send_at").first()
    assert tip.body.endswith("Responda 1 si le sirve, 2 si no.")
    assert tip.tip.language == "es"
    OutboundMessage.objects.filter(pk=tip.pk).update(status="sent", sent_at=timezone.now(), to=caregiver.phone)
    answer = reply_of(text(client, caregiver, "1"))
    assert answer
    assert english_words(answer) == []
    assert InboundMessage.objects.get().action == "tip_response"


@pytest.mark.parametrize("word", ["PARAR", "parar", "Alto", "CANCELAR", "baja", "FIN", "ya no me manden mensajes"])
def test_spanish_opt_outs_are_honoured_and_confirmed_in_spanish(client, lucia, word):
    caregiver, _ = lucia
    answer = reply_of(text(client, caregiver, word))
    assert selectors.caregiver_consent(caregiver=caregiver)["sms"] is False
    assert answer
    assert english_words(answer) == [], answer


@pytest.mark.parametrize(
    ("word", "action"),
    [("AYUDA", "help"), ("AJUSTES", "preferences"), ("LISTO", "ride_not_found"), ("hola, gracias", "stored")],
)
def test_spanish_keywords_are_answered_in_spanish(client, lucia, word, action):
    caregiver, _ = lucia
    answer = reply_of(text(client, caregiver, word))
    assert InboundMessage.objects.get().action == action
    assert answer
    assert english_words(answer) == [], answer


def test_a_danger_text_in_spanish_gets_988_in_spanish_and_an_alert(client, lucia):
    caregiver, _ = lucia
    answer = reply_of(text(client, caregiver, "mi sobrino dice q ya no quiere vivir, no se q hacer"))
    for words in ("988", "marque 2", "AYUDA", "911"):
        assert words in answer
    assert english_words(answer) == []
    assert CrisisAlert.objects.filter(caregiver=caregiver).exists()


def test_a_danger_text_in_spanish_from_an_english_reader_is_answered_in_both_languages(client, family):
    caregiver, _ = family()
    answer = reply_of(text(client, caregiver, "mi hermano se quiere matar"))
    english, spanish = answer.split("\n\n")
    assert "call or text 988" in english  # their language first: 988's English line
    assert "marque 2" in spanish  # then the words they wrote in


def test_ayuda_is_a_call_for_help_as_help_is_an_alert_for_staff(client, lucia):
    caregiver, _ = lucia
    text(client, caregiver, "AYUDA")
    assert CrisisAlert.objects.get(caregiver=caregiver).severity == "help"


def test_the_crisis_alert_tells_whoever_calls_back_that_the_family_reads_spanish(client, lucia):
    caregiver, _ = lucia
    factories.OnCallContactFactory(clinic=caregiver.clinic)
    text(client, caregiver, "mi sobrino se quiere quitar la vida")
    # The email names them (and their language); the text names nobody, its link's page does.
    emails = OutboundMessage.objects.filter(kind="alert", channel="email")
    assert emails
    assert all("reads Spanish: call back in Spanish" in m.body for m in emails)


def test_a_stranger_writing_spanish_is_answered_in_spanish(client, clinic, content):
    answer = reply_of(text_from(client, sender="+12025550999", to=clinic.twilio_from_number, body="hola quien es?"))
    assert answer
    assert english_words(answer) == [], answer


def test_espanol_switches_everything_to_spanish_and_english_switches_back(client, family, infusion):
    caregiver, loved_one = family("America/New_York")
    infusion(loved_one, "2026-12-09 10:00")
    plan("2026-12-07 12:00Z")
    answer = reply_of(text(client, caregiver, "Español"))
    caregiver.refresh_from_db()
    assert caregiver.language == "es"
    assert english_words(answer) == []
    plan("2026-12-07 12:05Z")
    pending = OutboundMessage.objects.filter(caregiver=caregiver, status="scheduled")
    assert pending
    assert [m.body for m in pending if english_words(m.body)] == []
    answer = reply_of(text(client, caregiver, "ENGLISH"))
    caregiver.refresh_from_db()
    assert caregiver.language == "en"
    assert "English" in answer


def test_an_invitation_can_be_answered_espanol_then_si(client, clinic, content):
    caregiver = factories.CaregiverFactory(clinic=clinic, channels="sms")
    from caregiver import services

    services.caregiver_invite(caregiver=caregiver, by=None)
    answer = reply_of(text(client, caregiver, "ESPAÑOL"))
    assert english_words(answer) == []
    assert "SI" in answer
    text(client, caregiver, "Sí")
    assert selectors.caregiver_consent(caregiver=caregiver)["sms"] is True
    assert messaging_services.welcome_enqueue(caregiver_id=caregiver.pk) == 1
    welcome = OutboundMessage.objects.get(caregiver=caregiver, dedupe_key__startswith="welcome:")
    assert english_words(welcome.body) == []


def test_a_worrying_spanish_text_the_rules_miss_is_answered_with_988_inside_the_once_a_day_window(client, lucia):
    caregiver, _ = lucia
    assert "988" in reply_of(text(client, caregiver, "hola, gracias"))
    assert reply_of(text(client, caregiver, "gracias otra vez")) == ""  # the window: once a day
    again = reply_of(text(client, caregiver, "vendio su carro y nos dio el dinero, ya no explica nada"))
    assert "988" in again
    assert "911" in again
