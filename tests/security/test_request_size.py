"""Request bodies: anything larger than the biggest form we take is refused before it is read."""

import json

import pytest
from django.conf import settings
from django.test import Client

from caregiver.models import Caregiver
from tests.config.test_settings import PRODUCTION_SECRETS, _settings

pytestmark = pytest.mark.django_db


def test_a_huge_anonymous_post_to_a_public_page_is_a_413_before_it_is_read(clinic):
    """A 200 MB multipart upload was streamed to a temp file: Django's form limit leaves files out."""
    # It claims 200 MB: the answer comes from the length alone (a body this size never arrives).
    response = Client().generic(
        "POST", f"/join/{clinic.enrollment_code}/", b"name=x", content_type="application/x-www-form-urlencoded",
        CONTENT_LENGTH=str(200 * 1024 * 1024),
    )  # fmt: skip
    assert response.status_code == 413
    assert "at most 2.5 MB of form or JSON data" in response.content.decode()
    assert not Caregiver.objects.exists()


def test_a_body_just_over_the_limit_is_refused_and_one_under_it_is_read(clinic):
    over = "name=" + "x" * settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    assert Client().post(f"/join/{clinic.enrollment_code}/", over, content_type="application/x-www-form-urlencoded"
                         ).status_code == 413  # fmt: skip
    under = "name=" + "x" * 1000
    response = Client().post(
        f"/join/{clinic.enrollment_code}/", under, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code == 400  # read, and its fields checked


def test_the_api_says_so_in_json(staff_user):
    from tests.clients import token_client

    body = json.dumps({"first_name": "x" * (settings.DATA_UPLOAD_MAX_MEMORY_SIZE + 10)})
    response = token_client(staff_user).post("/api/v1/families/", body, content_type="application/json")
    assert response.status_code == 413
    assert "at most 2.5 MB of form or JSON data" in response.json()["detail"]


def test_what_is_accepted_stays_in_memory_in_production_too():
    run = _settings(
        "config.settings.production",
        "[s.DATA_UPLOAD_MAX_MEMORY_SIZE, s.FILE_UPLOAD_MAX_MEMORY_SIZE, s.MIDDLEWARE[0]]",
        **PRODUCTION_SECRETS,
    )
    assert run.returncode == 0, run.stderr
    limit, in_memory, first = json.loads(run.stdout)
    assert in_memory >= limit  # an upload we accept never goes to a temp file
    assert first == "config.middleware.RequestSizeLimitMiddleware"


def test_a_csv_file_of_megabytes_is_a_413_that_says_how_big_a_file_may_be(staff_user, clinic):
    from django.core.files.uploadedfile import SimpleUploadedFile

    client = Client()
    client.force_login(staff_user)
    big = SimpleUploadedFile("big.csv", b"family,loved_one\n" + b"A,Alex\n" * 500_000)
    response = client.post("/staff/import/", {"file": big, "clinic": clinic.pk})
    assert response.status_code == 413
    assert "a CSV file may be at most 1 MB" in response.content.decode()
