"""Discretion on the final words: no text and no email subject names a treatment, a drug or a
diagnosis, whatever the clinic is called and whatever staff typed."""

from datetime import datetime, timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.utils import timezone

from caregiver import services
from caregiver.models import Clinic, LovedOne
from caregiver.validators import local_to_utc
from content.models import MessageTemplate, Tip
from content.validation import TIP_SMS_FEEDBACK, discreet_violations
from messaging import planning, rendering, sending
from messaging.discretion import clinic_sms_name
from messaging.models import OutboundMessage
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)
REVEALING_CLINIC = "Lakeside Ketamine Infusion & Depression Center"


@pytest.fixture
def revealing(content):
    """A clinic whose name says what it treats, a loved one saved with a diagnosis in the name
    before names were checked, and a caregiver in Chicago (the clinic is in New York)."""
    clinic = factories.ClinicFactory(name=REVEALING_CLINIC, time_zone="America/New_York")
    loved_one = factories.LovedOneFactory(clinic=clinic)
    LovedOne.objects.filter(pk=loved_one.pk).update(first_name="Chris MDD")  # as an old release let it in
    loved_one.refresh_from_db()
    caregiver = factories.CaregiverFactory(clinic=clinic, time_zone="America/Chicago", channels="both",
                                           name="Depressed Dad")  # fmt: skip
    factories.CareLinkFactory(caregiver=caregiver, loved_one=loved_one)
    for channel in ("sms", "email"):
        factories.ConsentRecordFactory(caregiver=caregiver, channel=channel)
    appointment = factories.AppointmentFactory(loved_one=loved_one, kind="esketamine")
    return clinic, loved_one, caregiver, appointment


def _context(template: MessageTemplate, caregiver, appointment) -> dict[str, str]:
    real = rendering.appointment_context(caregiver, appointment) | rendering.notice_context(caregiver, appointment)
    return {**template.sample, **real}


def test_every_template_keeps_the_treatment_off_the_lock_screen(revealing):
    _, _, caregiver, appointment = revealing
    templates = list(MessageTemplate.objects.filter(active=True))
    assert len(templates) > 20
    for template in templates:
        context = _context(template, caregiver, appointment)
        sms = rendering.template_body(key=template.key, channel="sms", context=context, caregiver=caregiver)
        assert discreet_violations(sms.text) == [], (template.key, sms.text)
        if template.email_subject:
            email = rendering.template_body(key=template.key, channel="email", context=context, caregiver=caregiver)
            assert discreet_violations(email.subject) == [], (template.key, email.subject)


def test_every_tip_keeps_the_treatment_off_the_lock_screen(revealing):
    _, _, caregiver, _ = revealing
    tips = list(Tip.objects.filter(active=True).select_related("category"))
    assert len(tips) > 40
    for tip in tips:
        sms = rendering.tip_body(tip=tip, channel="sms", caregiver=caregiver)
        email = rendering.tip_body(tip=tip, channel="email", caregiver=caregiver)
        assert discreet_violations(sms.text) == [], (tip.slug, sms.text)
        assert discreet_violations(email.subject) == [], (tip.slug, email.subject)


def test_a_safety_tip_by_text_only_to_those_who_asked(revealing):
    _, _, caregiver, _ = revealing
    tip = Tip.objects.filter(category__slug="warning-signs", active=True).first()
    assert "in your email" in rendering.tip_body(tip=tip, channel="sms", caregiver=caregiver).text
    caregiver.safety_tips_sms = True
    assert rendering.tip_body(tip=tip, channel="sms", caregiver=caregiver).text.endswith(
        tip.sms_body + TIP_SMS_FEEDBACK
    )


def test_texts_name_the_clinic_by_a_name_that_reveals_nothing(revealing):
    clinic, *_ = revealing
    assert clinic_sms_name(clinic) == "your clinic"
    clinic.sms_name = "Lakeside Health"
    assert clinic_sms_name(clinic) == "Lakeside Health"


@pytest.mark.parametrize("name", ["Lakeside Ketamine", "Mind Infusions", "Depression Care", "IV Wellness"])
def test_an_sms_name_that_reveals_the_treatment_is_refused(clinic, name):
    clinic.sms_name = name
    with pytest.raises(ValidationError) as caught:
        clinic.full_clean()
    assert "sms_name" in caught.value.message_dict


@pytest.mark.parametrize(
    "name",
    ["Chris Johnson on ketamine for MDD", "Chris (depression)", "Sam 2", "Chris\nJohnson", "Dana-Lee O'Neil Smith",
     "Suicidal Sam", "<b>Chris</b>"],
)  # fmt: skip
def test_a_loved_one_named_with_more_than_a_name_is_refused(clinic, name):
    with pytest.raises(ValidationError):
        services.loved_one_create(clinic=clinic, first_name=name)


@pytest.mark.parametrize("name", ["Chris", "Mary-Kate", "O'Neil", "Zoë", "José Luis", "D’Arcy"])
def test_real_first_names_and_nicknames_are_accepted(clinic, name):
    assert services.loved_one_create(clinic=clinic, first_name=name).first_name == name


def test_the_csv_import_refuses_a_diagnosis_in_the_name(clinic, staff_user):
    raw = b"family,loved_one,caregiver_name,caregiver_phone\nf1,Chris on ketamine,Dana Rivera,+12025550143\n"
    result = services.family_import(clinic=clinic, result=services.family_import_read(raw), commit=True, by=staff_user)
    assert not result.ok
    assert any("loved_one" in error for error in result.rows[0]["errors"])
    assert not LovedOne.objects.filter(clinic=clinic).exists()


def test_a_text_that_would_reveal_is_held_where_staff_can_see_it(revealing, settings):
    _, loved_one, caregiver, _ = revealing
    template = MessageTemplate.objects.get(key="reminder-evening-before", language="en")
    template.sms = "Alongside: {{ loved_one }}'s ketamine session is tomorrow at {{ time }}."
    template.save()  # an edit in the admin, past the file's checks
    factories.AppointmentFactory(
        loved_one=loved_one, starts_at=local_to_utc(datetime(2026, 12, 9, 14, 0), time_zone="America/New_York")
    )
    with time_machine.travel("2026-12-08 17:00Z", tick=False):
        planning.plan_due(now=timezone.now())
    held = OutboundMessage.objects.get(caregiver=caregiver, rule__key="evening-before", channel="sms")
    assert held.status == "suppressed"
    assert held.status_reason == "discretion"
    assert "ketamine" in held.last_error
    from messaging.selectors import family_timeline

    assert any(e.reason == "discretion" for e in family_timeline(loved_one=loved_one))


def test_a_text_that_reveals_is_held_at_send_whatever_was_planned(due):
    message = due(body="Alongside: remember the infusion tomorrow", kind="tip")
    outcome = sending.messages_send(message_ids=[message.pk])
    message.refresh_from_db()
    assert outcome[message.pk] == "suppressed:discretion"
    assert message.status == "suppressed"
    assert "infusion" in message.last_error


def test_an_email_subject_that_reveals_is_held_at_send(due):
    message = due(channel="email", subject="Your ketamine session", body="...", kind="tip")
    sending.messages_send(message_ids=[message.pk])
    message.refresh_from_db()
    assert (message.status, message.status_reason) == ("suppressed", "discretion")


@time_machine.travel("2026-12-08 17:00Z")  # a tip goes in waking hours: noon in New York, whenever the suite runs
def test_with_discreet_mode_off_the_words_the_clinic_chose_may_go(due):
    message = due(body="Alongside: your ketamine session is tomorrow", kind="tip")
    clinic = message.caregiver.clinic
    Clinic.objects.filter(pk=clinic.pk).update(discreet_mode=False, allowed_words=["ketamine"])
    outcome = sending.messages_send(message_ids=[message.pk])
    assert outcome[message.pk] == "sent"
    other = due(body="Alongside: your infusion is tomorrow", kind="tip", send_at=timezone.now() - timedelta(seconds=1))
    Clinic.objects.filter(pk=other.caregiver.clinic_id).update(discreet_mode=False, allowed_words=["ketamine"])
    assert sending.messages_send(message_ids=[other.pk])[other.pk] == "suppressed:discretion"


def test_allowed_words_must_be_on_the_list(clinic):
    clinic.allowed_words = ["ketamine", "rainbows"]
    with pytest.raises(ValidationError) as caught:
        clinic.full_clean()
    assert "rainbows" in str(caught.value)


def test_a_page_to_on_call_staff_is_never_held_back(due):
    message = due(body="Alongside alert: a text to Lakeside Ketamine may mean someone is in danger", kind="alert")
    assert sending.messages_send(message_ids=[message.pk])[message.pk] == "sent"


def test_with_discreet_mode_off_the_sms_name_may_use_the_allowed_words(clinic):
    clinic.sms_name = "Lakeside Ketamine"
    clinic.discreet_mode, clinic.allowed_words = False, ["ketamine"]
    clinic.full_clean()
    assert clinic_sms_name(clinic) == "Lakeside Ketamine"
    clinic.discreet_mode = True
    with pytest.raises(ValidationError):
        clinic.full_clean()


@pytest.mark.parametrize(
    "name",
    ["Kate (on ketamine)", "Ketamine Kate", "Dr Spravato", "Kétamine Dee", "[Reset your password](http://evil.example/)",
     "<b>x</b>", "Sui-cide Sam"],
)  # fmt: skip
def test_a_caregiver_named_with_more_than_a_name_is_refused(clinic, name):
    with pytest.raises(ValidationError):
        services.caregiver_create(clinic=clinic, name=name, phone="+12025550143")


@pytest.mark.parametrize("name", ["Sam Rivera", "Mary-Kate O'Neil", "José Luis García", "Dr. Lee", "Sam Rivera Jr."])
def test_real_caregiver_names_are_accepted(clinic, name):
    assert services.caregiver_create(clinic=clinic, name=name, phone="+12025550143").name == name
