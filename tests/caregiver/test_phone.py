import pytest
from django.core.exceptions import ValidationError

from caregiver import services
from caregiver.validators import phone_to_e164


@pytest.mark.parametrize(
    ("typed", "stored"),
    [
        ("(202) 555-0143", "+12025550143"),
        ("202.555.0143", "+12025550143"),
        ("+1 202 555 0143", "+12025550143"),
        ("1-202-555-0143", "+12025550143"),
        (" +61 491 570 156 ", "+61491570156"),
    ],
)
def test_numbers_are_stored_in_e164(typed, stored):
    assert phone_to_e164(typed) == stored


@pytest.mark.parametrize(
    ("typed", "says"),
    [
        ("", "Enter a phone number."),
        ("call me", "is not a phone number"),
        ("555-01", "too few digits"),
        ("+1 202 555 0143 2222 3333", "too many digits"),
        ("+999 123 456 789", "unknown country code"),
        ("(555) 555-0100", "not a valid phone number in United States"),
    ],
)
def test_bad_numbers_are_refused_with_a_reason(typed, says):
    with pytest.raises(ValidationError) as excinfo:
        phone_to_e164(typed)
    assert says in excinfo.value.messages[0]


def test_enrolling_a_caregiver_normalises_their_number(clinic):
    caregiver = services.caregiver_create(clinic=clinic, name="Sam", phone="(202) 555-0143")
    caregiver.refresh_from_db()
    assert caregiver.phone == "+12025550143"


def test_a_bad_number_is_reported_on_the_phone_field(clinic):
    with pytest.raises(ValidationError) as excinfo:
        services.caregiver_create(clinic=clinic, name="Sam", phone="555-01")
    assert "too few digits" in excinfo.value.message_dict["phone"][0]


def test_a_number_enrolled_twice_at_one_clinic_is_refused_without_naming_anyone(clinic):
    services.caregiver_create(clinic=clinic, name="Sam Rivera", phone="+12025550143")
    with pytest.raises(ValidationError) as excinfo:
        services.caregiver_create(clinic=clinic, name="Someone Else", phone="202-555-0143")
    message = " ".join(excinfo.value.messages)
    assert "already enrolled at this clinic" in message
    assert "Sam" not in message


def test_the_same_number_may_enroll_at_another_clinic(clinic, other_clinic):
    services.caregiver_create(clinic=clinic, name="Sam", phone="+12025550143")
    services.caregiver_create(clinic=other_clinic, name="Sam", phone="+12025550143")


def test_sms_without_a_number_is_refused(clinic):
    with pytest.raises(ValidationError) as excinfo:
        services.caregiver_create(clinic=clinic, name="Sam", email="sam@example.com", channels="sms")
    assert excinfo.value.message_dict["phone"] == ["Text messages need a mobile number."]


def test_email_addresses_are_unique_per_clinic_whatever_the_case(clinic):
    services.caregiver_create(clinic=clinic, name="Sam", email="Sam@Example.com", channels="email")
    with pytest.raises(ValidationError, match="email address is already enrolled"):
        services.caregiver_create(clinic=clinic, name="Sam again", email="sam@example.COM", channels="email")


def test_a_new_caregiver_takes_the_clinic_time_zone_and_waits_for_confirmation(clinic):
    caregiver = services.caregiver_create(clinic=clinic, name="Sam", phone="+12025550143")
    assert caregiver.time_zone == clinic.time_zone
    assert caregiver.status == "pending"


@pytest.mark.parametrize(
    ("typed", "kind"),
    [("1-900-555-0142", "premium-rate"), ("(888) 555-0142", "toll-free"), ("+1 800 555 0199", "toll-free")],
)
def test_a_premium_rate_or_toll_free_number_is_refused_for_texts(typed, kind):
    with pytest.raises(ValidationError, match=kind):
        phone_to_e164(typed, require_mobile=True)
