"""Secrets we hand out are stored only as hashes: a copy of the database lets nobody in.

Tip API keys and staff tokens (djangorestframework-api-key: SHA-512 of a 32-character random
secret, shown once) and sign-up codes (an HMAC keyed with SECRET_KEY: a 6-digit code has only a
million values, so an unkeyed hash could be reversed by trying them all).
"""

from __future__ import annotations

import hashlib
import hmac

import pytest
from django.contrib.auth import get_user_model
from django.test import Client
from django.urls import reverse
from rest_framework_api_key.models import APIKey

from caregiver.models import ChannelConfirmation
from portal.models import StaffApiToken
from tests.portal.conftest import outbox_code


def stored(row) -> str:
    """Every column of the row as the database holds it."""
    return repr(type(row).objects.filter(pk=row.pk).values().get())


@pytest.mark.parametrize(
    "make",
    [
        lambda user: APIKey.objects.create_key(name="clinic website"),
        lambda user: StaffApiToken.objects.create_key(name="ehr sync", user=user),
    ],
    ids=["tip API key", "staff API token"],
)
def test_keys_are_stored_as_hashes_of_their_secret(staff_user, make):
    row, key = make(staff_user)
    prefix, _, secret = key.partition(".")
    assert len(secret) >= 32
    assert secret not in stored(row)
    assert row.hashed_key == "sha512$$" + hashlib.sha512(key.encode()).hexdigest()
    # The prefix alone (which the admin shows) opens nothing.
    assert not row.is_valid(prefix + "." + "0" * len(secret))
    assert row.is_valid(key)


def test_the_admin_never_shows_a_key(db):
    # (djangorestframework-api-key makes a key's primary key "<prefix>.<hash>", so the hash is in
    # admin URLs: harmless for a SHA-512 of 190 random bits, but the key itself must never be.)
    operator = get_user_model().objects.create_superuser(username="op", password="a-long-test-password")
    client = Client()
    client.force_login(operator)
    for row, key in (
        APIKey.objects.create_key(name="clinic website"),
        StaffApiToken.objects.create_key(name="ehr sync", user=operator),
    ):
        meta = type(row)._meta
        for view in ("changelist", "change"):
            url = reverse(f"admin:{meta.app_label}_{meta.model_name}_{view}", args=[row.pk] if view == "change" else [])
            page = client.get(url)
            assert page.status_code == 200
            assert key.partition(".")[2] not in page.content.decode(), url


@pytest.mark.django_db(transaction=True)
def test_a_sign_up_code_is_stored_only_as_a_keyed_hash(content, clinic, settings):
    client = Client()
    client.post(
        f"/join/{clinic.enrollment_code}/",
        {"name": "Jordan", "phone": "(202) 555-0143", "email": "", "channels": "sms", "loved_one": "Alex",
         "relationship": "partner", "time_zone": "America/Chicago", "consent": "on"},
    )  # fmt: skip
    confirmation = ChannelConfirmation.objects.get()
    code = outbox_code(confirmation.caregiver)
    assert code not in stored(confirmation)
    message = f"confirm:{confirmation.caregiver_id}:{code}".encode()
    # Keyed with SECRET_KEY: without it, trying all million codes finds nothing.
    assert confirmation.code_hash == hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()
    for unkeyed in (hashlib.sha256(code.encode()), hashlib.sha256(message), hmac.new(b"", message, hashlib.sha256)):
        assert confirmation.code_hash != unkeyed.hexdigest()
