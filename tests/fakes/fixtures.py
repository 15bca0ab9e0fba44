"""Pytest fixtures that run the fakes and point Django settings at them (registered in tests/conftest.py)."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest
from pytest_django import Settings
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from tests.fakes.smtp_server import FakeSMTP
from tests.fakes.twilio_server import FakeTwilio

TwilioClientFactory = Callable[..., Client]


@pytest.fixture
def fake_twilio(settings: Settings) -> Iterator[FakeTwilio]:
    """A running FakeTwilio, with the SMS settings sending real HTTP requests to it."""
    with FakeTwilio() as fake:
        settings.SMS_BACKEND = "twilio"
        settings.TWILIO_ACCOUNT_SID = fake.account_sid
        settings.TWILIO_AUTH_TOKEN = fake.auth_token
        settings.TWILIO_API_BASE_URL = fake.base_url
        yield fake


@pytest.fixture
def make_twilio_client(fake_twilio: FakeTwilio) -> Iterator[TwilioClientFactory]:
    """Builds real twilio Clients aimed at the fake (``timeout``, ``auth_token`` adjustable); closes their sessions."""
    http_clients: list[TwilioHttpClient] = []

    def make(*, timeout: float = 2.0, auth_token: str | None = None) -> Client:
        http_client = TwilioHttpClient(timeout=timeout)
        http_clients.append(http_client)
        # environment={} keeps TWILIO_EDGE / TWILIO_REGION from rewriting the 127.0.0.1 host.
        client = Client(
            fake_twilio.account_sid, auth_token or fake_twilio.auth_token, http_client=http_client, environment={}
        )
        client.api.base_url = fake_twilio.base_url
        return client

    yield make
    for http_client in http_clients:
        if http_client.session is not None:
            http_client.session.close()


@pytest.fixture
def twilio_client(make_twilio_client: TwilioClientFactory) -> Client:
    """A real twilio Client talking to ``fake_twilio``, for the fake's own tests."""
    return make_twilio_client()


@pytest.fixture
def smtp_server(settings: Settings) -> Iterator[FakeSMTP]:
    """A running FakeSMTP, with Django's real SMTP backend delivering to it."""
    with FakeSMTP() as server:
        settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
        settings.EMAIL_HOST = server.host
        settings.EMAIL_PORT = server.port
        settings.EMAIL_USE_TLS = False
        settings.EMAIL_USE_SSL = False
        settings.EMAIL_HOST_USER = ""
        settings.EMAIL_HOST_PASSWORD = ""
        settings.EMAIL_TIMEOUT = 5
        yield server
