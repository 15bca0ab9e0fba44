"""SMS through the real `twilio` library (pointed elsewhere by TWILIO_API_BASE_URL in tests)."""

from __future__ import annotations

import threading
import urllib.request
from datetime import UTC, datetime, timedelta

import requests
from django.conf import settings
from twilio.base.exceptions import TwilioException, TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from . import PermanentError, TransientError

# Twilio's answers, by error code (https://www.twilio.com/docs/api/errors). Only these fail a
# message for good; any other refusal is retried with backoff and fails at SEND_MAX_ATTEMPTS, so
# a code nobody listed costs a few retries, never a reminder.
UNSUBSCRIBED = "21610"  # the person texted STOP to the carrier
# After these a message will never go to this number: texts to it stop until the number changes.
INVALID_NUMBER = {
    "21211",  # not a valid phone number
    "21612",  # cannot route to this number
    "21614",  # not a mobile number (a landline)
    "21408",  # the number's region is not enabled for the account
    "30006",  # a landline, or unreachable
}
# This message can never go, whatever the number (too long, empty): a bug to fix, not a retry.
BAD_MESSAGE = {"21602", "21617", "21619"}
PERMANENT = {UNSUBSCRIBED, *INVALID_NUMBER, *BAD_MESSAGE}
# Our credentials or account were refused: every message would fail the same way until an
# operator fixes it (rotated token, suspended account, a sender we do not own). Kept and
# retried, never dropped, and raised as an alert on /healthz and in the log.
AUTH_FAILURES = {
    "401",  # no Twilio code, plain HTTP 401
    "403",
    "20003",  # authentication failed
    "20005",  # account not active
    "20008",  # test credentials used for a real request
    "20404",  # the account or messaging service does not exist
    "21606",  # the From number is not one of ours, or cannot send SMS
    "21608",  # a trial account texting an unverified number
    "30002",  # account suspended
}
# Twilio keeps a message queued at most this long (its default and maximum ValidityPeriod).
MAX_VALIDITY_SECONDS = 36_000
# A carrier filtered the message as spam (arrives in a status callback): counted on /healthz.
CARRIER_FILTERED = "30007"


class _RetryAfterClient(TwilioHttpClient):
    """Keeps each thread's last Retry-After header: TwilioRestException does not carry headers."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.retry_after = threading.local()
        if not urllib.request.getproxies():
            # No proxy configured: stop requests re-reading the environment (and ~/.netrc) on
            # every request, about a sixth of a send's CPU (profiled). With a proxy, keep its rules.
            self.session.trust_env = False

    def request(self, *args, **kwargs):
        response = super().request(*args, **kwargs)
        self.retry_after.value = (response.headers or {}).get("Retry-After")
        return response

    def last_retry_after(self) -> float | None:
        try:
            return float(getattr(self.retry_after, "value", None) or "")
        except ValueError:
            return None


class TwilioSms:
    def __init__(self, *, account_sid: str, auth_token: str, base_url: str, timeout: float):
        # One client per thread (see twilio_provider): its requests.Session keeps connections open.
        # With a base URL of our own, TWILIO_EDGE/TWILIO_REGION from the environment must not rewrite it.
        environment = {} if base_url else None
        self.client = Client(
            account_sid, auth_token, http_client=_RetryAfterClient(timeout=timeout), environment=environment
        )
        if base_url:
            self.client.api.base_url = base_url.rstrip("/")

    def send(
        self,
        *,
        to: str,
        body: str,
        from_number: str,
        messaging_service_sid: str,
        status_callback: str,
        validity_seconds: int | None = None,
    ) -> str:
        """Create the message at Twilio. `validity_seconds`: how long it may wait in Twilio's queue
        before Twilio drops it (30036) rather than deliver it late (1 to MAX_VALIDITY_SECONDS)."""
        sender = {"messaging_service_sid": messaging_service_sid} if messaging_service_sid else {"from_": from_number}
        if validity_seconds is not None:
            sender["validity_period"] = max(1, min(MAX_VALIDITY_SECONDS, int(validity_seconds)))
        try:
            message = self.client.messages.create(to=to, body=body, status_callback=status_callback or None, **sender)
        except TwilioRestException as exc:
            raise _classify(exc, retry_after=self.client.http_client.last_retry_after()) from exc
        except requests.exceptions.ConnectTimeout as exc:
            raise TransientError(f"could not connect to Twilio: {exc}", code="connect_timeout") from exc
        except (requests.exceptions.Timeout, requests.exceptions.ConnectionError) as exc:
            # The request may have reached Twilio: the message may exist. Reconcile before resending.
            raise TransientError(f"no answer from Twilio: {exc}", code="timeout", ambiguous=True) from exc
        return message.sid

    def find_sent(self, *, to: str, from_number: str, body: str, since: datetime) -> str | None:
        """Twilio's POST is not idempotent: after a timeout we ask Twilio what it has before resending."""
        try:
            # Every page, not the newest 50: a number can get more than that in the window (a
            # worker killed mid-batch leaves a whole batch to reconcile), and a miss means a duplicate.
            found = self.client.messages.stream(
                to=to,
                from_=from_number or None,
                date_sent_after=(since - timedelta(minutes=10)).astimezone(UTC),
                page_size=200,
            )
            for message in found:
                if message.body == body:
                    return message.sid
        except (TwilioException, requests.exceptions.RequestException) as exc:
            raise TransientError(f"could not list messages to reconcile: {exc}", code="reconcile") from exc
        return None


def _classify(exc: TwilioRestException, *, retry_after: float | None) -> Exception:
    code = str(exc.code or exc.status)
    text = f"Twilio {exc.status} ({code}): {exc.msg}"
    if code in PERMANENT:
        return PermanentError(text, code=code)
    if exc.status in (401, 403) and code not in AUTH_FAILURES:
        code = str(exc.status)  # refused our credentials with a code we do not know: still an account problem
    return TransientError(text, code=code, retry_after=retry_after, account_refused=code in AUTH_FAILURES)


_per_thread = threading.local()


def twilio_provider() -> TwilioSms:
    """This thread's client. requests.Session is not thread-safe, and a shared pool of 10
    connections makes a worker with more threads open a new TCP connection per message."""
    key = (
        settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN, settings.TWILIO_API_BASE_URL, settings.TWILIO_TIMEOUT
    )  # fmt: skip
    cached = getattr(_per_thread, "provider", None)
    if cached is None or cached[0] != key:
        account_sid, auth_token, base_url, timeout = key
        cached = _per_thread.provider = (
            key, TwilioSms(account_sid=account_sid, auth_token=auth_token, base_url=base_url, timeout=timeout)
        )  # fmt: skip
    return cached[1]
