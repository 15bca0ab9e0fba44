"""The SMS and email providers, behind one small interface.

A provider either returns the id it gave the message, or raises:
- TransientError: try again later (timeouts, 5xx, 429, our account refused). `ambiguous` means
  the request may have reached the provider, so we must ask it what it has before sending again.
- PermanentError: this message will never go (unsubscribed, invalid or landline number...).
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from django.conf import settings


class TransientError(Exception):
    """`account_refused`: the provider refuses our credentials or account, so every message would
    fail the same way until an operator acts: retried, and raised as an operator alert."""

    def __init__(
        self,
        message: str,
        *,
        code: str = "",
        ambiguous: bool = False,
        retry_after: float | None = None,
        account_refused: bool = False,
    ):
        super().__init__(message)
        self.code = code
        self.ambiguous = ambiguous
        self.retry_after = retry_after
        self.account_refused = account_refused


class PermanentError(Exception):
    def __init__(self, message: str, *, code: str = ""):
        super().__init__(message)
        self.code = code


class SmsProvider(Protocol):
    def send(
        self,
        *,
        to: str,
        body: str,
        from_number: str,
        messaging_service_sid: str,
        status_callback: str,
        validity_seconds: int | None = None,
    ) -> str: ...

    def find_sent(self, *, to: str, from_number: str, body: str, since: datetime) -> str | None: ...


def sms_provider() -> SmsProvider:
    if settings.SMS_BACKEND == "twilio":
        from .twilio import twilio_provider

        return twilio_provider()
    if settings.SMS_BACKEND == "console":
        from .console import ConsoleSms

        return ConsoleSms()
    raise ValueError(f"SMS_BACKEND must be 'twilio' or 'console', not {settings.SMS_BACKEND!r}")
