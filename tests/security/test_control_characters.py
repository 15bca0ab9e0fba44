"""Line breaks and control characters are refused at input, in every one-line field, before they
reach a page, an email subject (a newline there stopped a send: BadHeaderError) or a text."""

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError
from django.test import Client

from caregiver.models import ClinicClosure, OnCallContact
from tests.caregiver.test_clinic_commands import CLINIC, run
from tests.portal.conftest import text

pytestmark = pytest.mark.django_db
TYPED = ["Lake\nside", "Lake\rside", "Lake\tside", "Lake\x0bside", "Lake\u2028side", "Lake\x1bside"]


@pytest.mark.parametrize("typed", TYPED)
def test_a_clinic_name_with_a_line_break_is_refused_by_create_clinic(typed):
    args = list(CLINIC)
    args[args.index("--name") + 1] = typed
    with pytest.raises(CommandError, match="on one line"):
        run("create_clinic", *args)


@pytest.mark.parametrize("typed", TYPED)
def test_an_on_call_contacts_name_is_one_line(clinic, typed):
    with pytest.raises(ValidationError, match="on one line"):
        OnCallContact(clinic=clinic, name=typed.replace("Lake", "Dana"), phone="+12025550111").full_clean()


def test_a_closure_note_with_a_line_break_is_a_clear_error_on_the_page(staff_user, clinic):
    staff_client = Client()
    staff_client.force_login(staff_user)
    form = {"day": "2030-03-17", "note": "Staff\ntraining", "clinic": clinic.pk}
    response = staff_client.post("/staff/closures/", form)
    assert response.status_code == 400
    assert "on one line" in text(response)
    assert not ClinicClosure.objects.exists()
