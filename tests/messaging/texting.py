"""Texts posted to our webhook as Twilio posts them: signed, form-encoded, answered in TwiML."""

from itertools import count

from twilio.request_validator import RequestValidator

TOKEN = "webhook-test-token"
BASE = "http://localhost:8000"
INBOUND = "/webhooks/twilio/inbound/"
sids = count(1)


def post(client, path, params, *, token=TOKEN, signed_url=None):
    signature = RequestValidator(token).compute_signature(signed_url or BASE + path, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature)


def text_from(client, *, sender: str, to: str, body: str, sid: str | None = None, **extra):
    params = {"MessageSid": sid or f"SM{next(sids):032d}", "From": sender, "To": to, "Body": body, **extra}
    return post(client, INBOUND, params)


def text(client, caregiver, body, sid=None):
    return text_from(client, sender=caregiver.phone, to=caregiver.clinic.twilio_from_number, body=body, sid=sid)
