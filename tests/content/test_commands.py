from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey


def test_create_api_key_prints_a_working_key_once_and_stores_only_its_hash(db, library):
    out = StringIO()
    call_command("create_api_key", "Riverside website", stdout=out)
    key = out.getvalue().strip().splitlines()[-1]
    stored = APIKey.objects.get(name="Riverside website")
    assert key not in stored.hashed_key
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    assert client.get("/api/v1/tips/").status_code == 200


def test_create_api_key_needs_a_name(db):
    with pytest.raises(CommandError, match="name"):
        call_command("create_api_key", "  ")
