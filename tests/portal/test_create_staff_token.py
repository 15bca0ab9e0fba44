from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient

from portal.models import StaffApiToken
from tests import factories


def create(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("create_staff_token", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


def test_prints_a_working_token_once_and_stores_only_its_hash(staff_user):
    out, _ = create("dana", "--name", "Riverside EHR sync")
    key = out.strip().splitlines()[-1]
    token = StaffApiToken.objects.get(name="Riverside EHR sync")
    assert token.user == staff_user
    assert key not in token.hashed_key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    assert client.get("/api/v1/families/").status_code == 200


def test_the_name_defaults_to_the_username(staff_user):
    create("dana")
    assert StaffApiToken.objects.get().name == "dana API token"


def test_an_unknown_user_gets_no_token(db):
    with pytest.raises(CommandError, match="no user called “nobody”"):
        create("nobody")
    assert not StaffApiToken.objects.exists()


def test_a_user_at_no_clinic_is_warned_that_the_token_will_be_refused(db):
    factories.UserFactory(username="lee")
    _, err = create("lee")
    assert "not a member of any clinic" in err


def test_a_deactivated_user_gets_no_token(staff_user):
    staff_user.is_active = False
    staff_user.save()
    with pytest.raises(CommandError, match="deactivated"):
        create("dana")
