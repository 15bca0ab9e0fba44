"""Clients the tests share."""

from rest_framework.test import APIClient

from portal.models import StaffApiToken


def token_client(user, *, name: str = "test") -> APIClient:
    """A staff API client authenticated as `user` with a new token, as a clinic's script would be."""
    _, key = StaffApiToken.objects.create_key(name=name, user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {key}")
    return client
