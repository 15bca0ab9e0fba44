"""What a clinic's settings may hold, from the outside tester's second round.

Clinic names reach texts (when the clinic has no SMS name), emails and pages: a web address or a
tag in one would be a link a phone or a mail program makes for us. Two clinics on one sender number
would read each other's caregivers' texts. On-call phones are paged by text: they must be mobiles
in a country the clinic texts.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command

from caregiver.models import Clinic, OnCallContact
from tests import factories


@pytest.mark.parametrize(
    "name", ["[Confirm here](https://evil.example)", "<b>X</b> Care", "Care www.evil.com", "Lakeside Care bit.ly"]
)
def test_a_clinic_name_cannot_carry_a_link_or_a_tag(db, name):
    clinic = factories.ClinicFactory.build(name=name, slug="x")
    with pytest.raises(ValidationError) as error:
        clinic.full_clean()
    assert "name" in error.value.message_dict


@pytest.mark.parametrize("name", ["St. John's Wellness", "Lakeside Health & Care", "Dr. Kim, M.D. Clinic"])
def test_ordinary_clinic_names_pass(db, name):
    factories.ClinicFactory.build(name=name, slug="x", twilio_from_number="").full_clean()


def test_two_clinics_cannot_send_from_one_number(db):
    factories.ClinicFactory(twilio_from_number="+13125550197")
    with pytest.raises(CommandError, match="Another clinic already sends from this number"):
        call_command(
            "create_clinic", "--name", "Second", "--time-zone", "America/Chicago",
            "--contact-phone", "+1 312 555 0100", "--contact-email", "front@second.example",
            "--twilio-from-number", "+1 312 555 0197",
        )  # fmt: skip
    assert not Clinic.objects.filter(name="Second").exists()
    # Clinics without a number of their own (a Messaging Service) are many.
    factories.ClinicFactory(twilio_from_number="")
    factories.ClinicFactory(twilio_from_number="").full_clean()


@pytest.mark.parametrize(
    ("phone", "problem"),
    [("+19005550199", "premium-rate"), ("+18005550199", "toll-free"), ("+33612345678", "France")],
)
def test_an_on_call_phone_is_a_mobile_in_a_country_the_clinic_texts(db, phone, problem):
    clinic = factories.ClinicFactory()
    contact = OnCallContact(clinic=clinic, name="Robin", phone=phone)
    with pytest.raises(ValidationError, match=problem) as error:
        contact.full_clean()
    assert "phone" in error.value.message_dict
    OnCallContact(clinic=clinic, name="Robin", phone="+13125550166").full_clean()
