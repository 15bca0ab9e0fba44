"""Forged and replayed Twilio webhooks, against both endpoints: every one is a 403 that changes nothing.

Each request below starts from a real, validly signed one (a STOP text; a status callback that
says the number is unsubscribed, which opts the caregiver out) and breaks one thing. The signed
originals are accepted, so a 403 is the signature check at work, not a broken route.
tests/messaging/test_webhooks.py already covers three cells (marked below); they are not repeated.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import pytest
from twilio.request_validator import RequestValidator

from caregiver import selectors
from messaging.models import InboundMessage, OutboundMessage
from tests.factories import OutboundMessageFactory

pytestmark = pytest.mark.django_db
TOKEN = "webhook-signature-test-token"
PUBLIC = "https://alongside.example.org"
INBOUND = "/webhooks/twilio/inbound/"
STATUS = "/webhooks/twilio/status/"


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.TWILIO_AUTH_TOKEN = TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC


@pytest.fixture
def sent(caregiver):
    return OutboundMessageFactory(caregiver=caregiver, status="sent", provider_id="SM" + "a" * 32)


@dataclass
class Request:
    path: str  # with its query string
    params: dict[str, str]
    signature: str | None


def signed(path: str, params: dict[str, str], *, url: str | None = None, token: str = TOKEN) -> Request:
    return Request(path, params, RequestValidator(token).compute_signature(url or PUBLIC + path, params))


def stop_text(caregiver, sent) -> Request:
    params = {"MessageSid": "SM" + "b" * 32, "From": caregiver.phone, "To": "+12025550199", "Body": "STOP"}
    return signed(INBOUND, params)


def unsubscribed_callback(caregiver, sent) -> Request:
    params = {"MessageSid": sent.provider_id, "MessageStatus": "undelivered", "ErrorCode": "21610"}
    return signed(f"{STATUS}?m={sent.pk}", params)


ORIGINALS = {INBOUND: stop_text, STATUS: unsubscribed_callback}
OTHER = {INBOUND: STATUS, STATUS: INBOUND}


def post(client, request: Request):
    headers = {} if request.signature is None else {"HTTP_X_TWILIO_SIGNATURE": request.signature}
    return client.post(request.path, request.params, **headers)


def _other_query(request: Request, sent) -> Request:
    # The same signature, the path's query string changed (another message id, or one added).
    base, _, query = request.path.partition("?")
    path = f"{base}?m={sent.pk + 1}" if query else f"{base}?m={sent.pk}"
    return Request(path, request.params, request.signature)


def _tampered(request: Request) -> Request:
    field = "Body" if "Body" in request.params else "MessageStatus"
    return Request(
        request.path, {**request.params, field: "delivered" if field != "Body" else "START"}, request.signature
    )


# name -> how to break a validly signed request (the request, the message it is about)
FORGERIES: dict[str, Callable[[Request, OutboundMessage], Request]] = {
    "no signature": lambda r, m: Request(r.path, r.params, None),
    "empty signature": lambda r, m: Request(r.path, r.params, ""),
    "signed with another auth token": lambda r, m: signed(r.path, r.params, token="not-the-token"),
    "signed for the other webhook": lambda r, m: Request(
        r.path, r.params, signed(OTHER[r.path.partition("?")[0]], r.params).signature
    ),
    "replayed with another query string": lambda r, m: _other_query(r, m),
    "a signed field changed": lambda r, m: _tampered(r),
    "a field added after signing": lambda r, m: Request(r.path, {**r.params, "NumMedia": "1"}, r.signature),
    "a second value for a signed field": lambda r, m: Request(
        r.path, {key: [value, "x"] if key == "MessageSid" else value for key, value in r.params.items()}, r.signature
    ),
    "signed for the Host header, not the public URL": lambda r, m: signed(
        r.path, r.params, url="http://testserver" + r.path
    ),
    "signed for http, the public URL is https": lambda r, m: signed(
        r.path, r.params, url=PUBLIC.replace("https", "http") + r.path
    ),
}
# Cells tests/messaging/test_webhooks.py already has (inbound: missing, wrong token, status URL's signature).
COVERED = {
    (INBOUND, "no signature"),
    (INBOUND, "signed with another auth token"),
    (INBOUND, "signed for the other webhook"),
}
CELLS = [(path, name) for path in ORIGINALS for name in FORGERIES if (path, name) not in COVERED]


def effects(caregiver, sent) -> tuple:
    sent.refresh_from_db()
    return (
        selectors.caregiver_consent(caregiver=caregiver),
        InboundMessage.objects.count(),
        sent.status,
        OutboundMessage.objects.count(),
    )


@pytest.mark.parametrize("path", ORIGINALS)
def test_the_signed_originals_are_accepted_and_act(client, caregiver, sent, path):
    """The control: without it, a 403 below could be a broken route."""
    response = post(client, ORIGINALS[path](caregiver, sent))
    assert response.status_code in (200, 204)
    assert selectors.caregiver_consent(caregiver=caregiver)["sms"] is False


@pytest.mark.parametrize(("path", "forgery"), CELLS, ids=[f"{p.split('/')[3]}-{n}" for p, n in CELLS])
def test_a_forged_or_replayed_webhook_is_a_403_and_changes_nothing(client, caregiver, sent, path, forgery):
    request = FORGERIES[forgery](ORIGINALS[path](caregiver, sent), sent)
    before = effects(caregiver, sent)
    response = post(client, request)
    assert response.status_code == 403
    assert effects(caregiver, sent) == before


@pytest.mark.parametrize("path", ORIGINALS)
def test_without_an_auth_token_configured_every_webhook_is_refused(client, caregiver, sent, settings, path):
    settings.TWILIO_AUTH_TOKEN = ""
    original = ORIGINALS[path](caregiver, sent)
    # Signed with the empty token an unconfigured server would otherwise check against.
    request = signed(original.path, original.params, token="")
    before = effects(caregiver, sent)
    assert post(client, request).status_code == 403
    assert effects(caregiver, sent) == before


@pytest.mark.parametrize("path", ORIGINALS)
def test_webhooks_answer_only_post(client, caregiver, sent, path):
    request = ORIGINALS[path](caregiver, sent)
    headers = {"HTTP_X_TWILIO_SIGNATURE": request.signature}
    assert client.get(request.path, request.params, **headers).status_code == 405
