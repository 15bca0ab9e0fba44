"""Prints each SMS instead of sending it: `make run` without Twilio credentials.

The outbox row is the record: it is marked sent with a `console-…` provider id.
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime

logger = logging.getLogger("messaging.sms")


class ConsoleSms:
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
        sid = f"console-{uuid.uuid4().hex[:24]}"
        logger.info("SMS %s to %s from %s: %s", sid, to, from_number or messaging_service_sid or "-", body)
        return sid

    def find_sent(self, *, to: str, from_number: str, body: str, since: datetime) -> str | None:
        return None  # nothing was ever sent anywhere, so a retry cannot duplicate anything
