"""SMS pumping: texts only to people's mobiles in the clinic's countries, and caps an hour.

The pentest sent 58 code texts to 55 country codes from 3 addresses, and one staff token sent 60
invitations, premium-rate numbers among them. Every number type and country was accepted, and
nothing capped a clinic or the service.
"""

from __future__ import annotations

import pytest
from django.core import mail
from django.core.exceptions import ValidationError
from django.test import Client

from caregiver import services
from tests import factories
from tests.clients import token_client
from tests.portal.conftest import text
from tests.security.test_rate_limits import codes_sent, sign_up

FAMILY = {"first_name": "Morgan", "caregivers": [{"name": "Sam", "phone": "", "channels": "sms"}]}


def enroll(api, clinic, phone: str):
    family = {**FAMILY, "clinic": clinic.pk, "caregivers": [{**FAMILY["caregivers"][0], "phone": phone}]}
    return api.post("/api/v1/families/", family, format="json")


@pytest.mark.parametrize(
    ("typed", "kind"),
    [
        ("+1 900 555 0123", "premium-rate"),
        ("(800) 555-0123", "toll-free"),
        ("+1 500 555 0006", "forwarding (personal)"),
        ("+44 56 1234 5678", "internet (VoIP)"),
    ],
)
@pytest.mark.django_db(transaction=True)
def test_numbers_that_are_not_a_persons_mobile_get_no_code(content, clinic, typed, kind):
    clinic.sms_countries = "US, GB"
    clinic.save()
    page = sign_up(Client(), clinic, ip="198.51.100.20", phone=typed)
    assert page.status_code == 400
    assert f"is {'an' if kind[0] in 'aeiou' else 'a'} {kind} number, not a person's mobile" in text(page)
    assert codes_sent() == 0


@pytest.mark.django_db(transaction=True)
def test_a_number_abroad_gets_no_code_unless_the_clinic_texts_that_country(content, clinic):
    page = sign_up(Client(), clinic, ip="198.51.100.21", phone="+33 6 12 34 56 78")
    assert page.status_code == 400
    assert "is a number in France: we can only text numbers in United States." in text(page)
    assert codes_sent() == 0
    clinic.sms_countries = "US, FR"
    clinic.save()
    assert sign_up(Client(), clinic, ip="198.51.100.21", phone="+33 6 12 34 56 78").status_code == 302
    assert codes_sent() == 1


def test_staff_cannot_enroll_or_move_a_caregiver_to_a_number_abroad(staff_user, clinic):
    api = token_client(staff_user)
    refused = enroll(api, clinic, "+52 55 1234 5678")
    assert refused.status_code == 400
    assert "Mexico" in str(refused.json())
    caregiver = factories.CaregiverFactory(clinic=clinic)
    with pytest.raises(ValidationError, match="United States"):
        services.caregiver_update(caregiver=caregiver, phone="+33 6 12 34 56 78", by=staff_user)


def test_a_clinic_abroad_is_not_told_the_united_states(db):
    canadian = factories.ClinicFactory(sms_countries="CA")
    with pytest.raises(ValidationError, match="in United States: we can only text numbers in Canada"):
        services.caregiver_create(clinic=canadian, name="Sam", phone="+1 202 555 0143")
    assert services.caregiver_create(clinic=canadian, name="Sam", phone="+1 416 555 0143").phone == "+14165550143"


@pytest.mark.parametrize("typed", ["", "U.S.", "US, XX"])
def test_a_clinic_country_list_is_checked(db, typed):
    clinic = factories.ClinicFactory.build(sms_countries=typed)
    with pytest.raises(ValidationError) as error:
        clinic.full_clean()
    assert "sms_countries" in error.value.message_dict


@pytest.mark.django_db(transaction=True)
def test_a_clinic_that_reaches_its_cap_is_stopped_and_the_operators_told_once(content, clinic, settings, client):
    settings.CONFIRMATIONS_PER_CLINIC_PER_HOUR = 3
    settings.ADMINS = [("ops", "ops@alongside.example.org")]
    answers = [sign_up(Client(), clinic, ip=f"198.51.100.{n}", phone=f"(202) 555-01{n}4") for n in range(5)]
    assert [a.status_code for a in answers] == [302, 302, 302, 429, 429]
    assert "We have sent too many text messages for this clinic this hour. Try again in" in text(answers[3])
    assert codes_sent() == 3
    alerts = [m for m in mail.outbox if m.to == ["ops@alongside.example.org"]]
    assert len(alerts) == 1
    assert alerts[0].subject == "[Alongside] Text message cap reached"
    assert f"Clinic id {clinic.pk} reached its cap of 3 sign-up codes" in alerts[0].body
    health = client.get("/healthz").json()["alerts"]
    assert any(f"Clinic id {clinic.pk} reached its cap" in alert for alert in health)
    # Nothing on the public /healthz names the clinic.
    assert clinic.name not in str(health)
    # Another clinic goes on.
    other = factories.ClinicFactory()
    assert sign_up(Client(), other, ip="198.51.100.60", phone="(202) 555-0160").status_code == 302


@pytest.mark.django_db(transaction=True)
def test_strangers_filling_the_sign_up_cap_do_not_stop_staff_who_have_a_cap_of_their_own(content, clinic, settings):
    settings.CONFIRMATIONS_PER_CLINIC_PER_HOUR = 2
    for n in range(3):
        sign_up(Client(), clinic, ip=f"198.51.100.{n}", phone=f"(202) 555-01{n}4")
    invited = [services.caregiver_create(clinic=clinic, name="Sam", phone=f"(202) 555-017{n}") for n in range(3)]
    services.caregiver_invite(caregiver=invited[0], by=None)
    services.caregiver_invite(caregiver=invited[1], by=None)
    # A leaked staff token pumping texts meets the staff cap.
    with pytest.raises(services.RateLimited, match="too many text messages for this clinic"):
        services.caregiver_invite(caregiver=invited[2], by=None)


@pytest.mark.django_db(transaction=True)
def test_emails_cost_nothing_and_never_fill_the_text_cap(content, clinic, settings):
    settings.CONFIRMATIONS_PER_CLINIC_PER_HOUR = 2
    for n in range(4):
        page = sign_up(Client(), clinic, ip=f"198.51.100.{n}", channels="email", phone="", email=f"f{n}@example.org")
        assert page.status_code == 302
    assert sign_up(Client(), clinic, ip="198.51.100.9", phone="(202) 555-0194").status_code == 302


@pytest.mark.django_db(transaction=True)
def test_the_whole_service_has_a_cap_across_clinics(content, settings):
    settings.CONFIRMATIONS_PER_HOUR = 2
    clinics = [factories.ClinicFactory() for _ in range(3)]
    answers = [
        sign_up(Client(), c, ip=f"198.51.100.{n}", phone=f"(202) 555-01{n}8").status_code for n, c in enumerate(clinics)
    ]
    assert answers == [302, 302, 429]
    assert codes_sent() == 2
