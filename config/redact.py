"""What is never written down in the clear: phone numbers, email addresses, the secret part of a
link (preferences, unsubscribe, email confirmation, ride, tip answer, on-call alert, calendar feed) and what
staff searched for (security finding 7: a log kept for months must not open anyone's preferences).

`pii_mask` is the one rule. It runs on every log line (`PiiMaskFilter` on the handlers in
settings.LOGGING, the Celery worker and beat included, and gunicorn's access log, config/access_log.py)
and on a provider's error text before it is stored (`OutboundMessage.last_error`,
`Caregiver.sms_blocked_reason`), which staff read and backups keep.
"""

from __future__ import annotations

import logging
import re
import unicodedata
from urllib.parse import unquote

# A path whose segment after these prefixes is a secret (portal/urls.py, messaging/urls.py). The
# prefix must begin the path (or follow a scheme and host), so /staff/alerts/5/ stays readable; any
# case and doubled slashes count (Django serves //p/<token>/ and a misspelt /P/<token>/ is still a
# valid token in the log), and everything after the prefix up to the query is masked.
# tests/security/test_logs_pii.py walks the URLconf: a new route with a secret must be added here.
_SECRET_PATH = re.compile(
    r"(?i)(?<![\w/.%-])(?P<prefix>(?:https?://[^/\s\"'<>]+)?/+(?:p|unsubscribe|email/+confirm|ride|tip|alerts|calendar)/+(?:\s|%20)*)"
    r"(?P<secret>[^?#\s\"'<>]+)"
)
# Search boxes (staff families, the admin's lists) and anything named like a secret in a query.
_SEARCH_QUERY = re.compile(
    r"(?i)(?:(?<=[?&])|^)(?P<name>q|search|token|key|sig|signature|code|phone|email)=[^&#\s\"']*"
)
_EMAIL = re.compile(
    r"(?P<first>[A-Za-z0-9_+-])[A-Za-z0-9._%+-]*(?P<at>@|%40)(?P<domain>[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,})"
)
# E.164 and international forms (+1 312 555 0100, %2B13125550100), and North American national
# ones ((312) 555-0143, 312.555.0143, 3125550143). Never inside a word or a longer number, so
# Twilio SIDs, ids, dates and epoch seconds stay as they are.
_PHONE = re.compile(
    r"(?<![\w+*])(?:\+|%2B)\d(?:[ .()-]{0,2}\d){6,14}(?![\w*])"
    r"|(?<![\w+*])\(?[2-9]\d{2}\)?[ .-]{0,2}[2-9]\d{2}[ .-]?\d{4}(?![\w*])"
)


def _phone(match: re.Match[str]) -> str:
    digits = re.sub(r"\D", "", match.group().replace("%2B", "+"))
    if match.group().startswith(("+", "%2B")):
        return f"+{digits[0]}{'*' * (len(digits) - 5)}{digits[-4:]}"
    return f"{'*' * (len(digits) - 4)}{digits[-4:]}"


def _secret_path(match: re.Match[str]) -> str:
    secret = match["secret"]
    end = ".ics" if secret.lower().endswith(".ics") else "/" if secret.endswith("/") else ""
    return f"{match['prefix']}[token]{end}"


def _mask(text: str) -> str:
    text = _SECRET_PATH.sub(_secret_path, text)
    text = _SEARCH_QUERY.sub(r"\g<name>=[masked]", text)
    text = _EMAIL.sub(r"\g<first>***@\g<domain>", text)
    return _PHONE.sub(_phone, text)


def pii_mask(text: str) -> str:
    """`text` with secrets in links, search terms, email addresses and phone numbers masked:
    /p/[token]/, ?q=[masked], j***@example.org, +1******0143. Masking masked text changes nothing.

    A line that hides one only when read as a browser would (percent-encoded, %2B1%20202…, or in
    full-width digits) is logged as read that way, masked; any other line is left as it was.
    """
    if not text:
        return text
    masked = _mask(text)
    decoded = unicodedata.normalize("NFKC", unquote(masked))
    if decoded != masked and _mask(decoded) != decoded:
        return _mask(decoded)  # something hid behind the encoding: logged as read, masked
    return masked


class PiiMaskFilter(logging.Filter):
    """On a handler: the record's final message (and its traceback) masked by `pii_mask`.

    It rewrites the record itself, so every handler after it (pytest's caplog too) sees the masked
    text; a handler's filters run before its formatter, so the line written is the masked one."""

    _tracebacks = logging.Formatter()

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        masked = pii_mask(message)
        if masked != message or record.args:
            record.msg, record.args = masked, ()
        if record.exc_info and not record.exc_text:
            record.exc_text = self._tracebacks.formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = pii_mask(record.exc_text)
        if record.stack_info:
            record.stack_info = pii_mask(record.stack_info)
        return True
