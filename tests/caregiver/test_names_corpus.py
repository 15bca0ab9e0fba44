"""The loved one's name check against names people really type (bench/names_bench.py)."""

import pytest
from django.core.exceptions import ValidationError

from bench.names_bench import measure
from caregiver import services
from caregiver.validators import validate_loved_one_name, validate_person_name, validate_sms_name
from tests import factories


def test_every_real_name_is_accepted_and_more_than_a_name_refused():
    result = measure()
    assert result["wrongly_refused"] == []
    assert result["wrongly_accepted"] == []
    assert result["accepted"][1] >= 140
    assert result["refused"][1] >= 70


@pytest.mark.parametrize("typed", ["Mary  Smith", "Ana\u00a0 Núñez", " Morgan   O'Leary "])
def test_two_spaces_typed_between_names_are_one_never_an_error(typed):
    """Found by an outside tester: "Mary  Smith" was refused, and a browser shows the two spaces
    as one, so the error could not be seen."""
    validate_person_name(typed)


@pytest.mark.django_db
def test_a_name_typed_with_two_spaces_is_stored_with_one():
    clinic = factories.ClinicFactory()
    caregiver = services.caregiver_create(clinic=clinic, name="Mary  Smith", phone="+12025550143")
    assert caregiver.name == "Mary Smith"


@pytest.mark.parametrize("typed", ["Bo www.evil.co", "bit.ly", "Dee evil.co", "Kay evil.co", "Sam WWW.X.CO"])
def test_a_web_address_in_a_name_is_refused_as_it_would_be_a_link_in_texts(typed):
    """Found by an outside tester: "Bo www.evil.co" went into an invitation as a link."""
    for validate in (validate_loved_one_name, validate_person_name):
        with pytest.raises(ValidationError, match="web addresses"):
            validate(typed)
    with pytest.raises(ValidationError, match="web addresses"):
        validate_sms_name(typed.replace(" ", ""))


@pytest.mark.parametrize("typed", ["J.R.", "A.J. Smith", "St. John", "Jr."])
def test_initials_and_abbreviations_are_not_web_addresses(typed):
    validate_loved_one_name(typed)
    validate_person_name(typed)
