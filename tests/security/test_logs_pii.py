"""Security finding 7: no phone number, email address or secret link in the logs, in the error
texts stored on messages and caregivers, or in the rate-limit keys kept in Redis.

The journey runs through the handlers settings.LOGGING configured (their streams swapped for a
buffer), so what is checked is the line an operator would read, not a record before its filters.
"""

from __future__ import annotations

import io
import logging
import re
from datetime import timedelta
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.core import mail
from django.core.cache import cache
from django.core.servers.basehttp import WSGIRequestHandler
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.urls.converters import SlugConverter, StringConverter
from django.utils import timezone

from caregiver.models import Caregiver
from config.redact import PiiMaskFilter, pii_mask
from messaging import dispatch, sending
from messaging.models import OutboundMessage
from messaging.services import welcome_enqueue
from tests.portal.conftest import outbox_code

PHONE_TYPED = "(202) 555-0187"
PHONE = "+12025550187"
EMAIL = "jordan.rivera@example.org"
IP = "203.0.113.77"
SIGNUP = {
    "name": "Jordan Rivera", "phone": PHONE_TYPED, "email": EMAIL, "channels": "both", "loved_one": "Alex",
    "relationship": "partner", "time_zone": "America/Chicago", "consent": "on",
}  # fmt: skip


@pytest.fixture
def log_lines():
    """What every configured handler writes (root's, runserver's django.server), as one text."""
    buffer = io.StringIO()
    loggers = [
        logging.getLogger(),
        *(lg for lg in logging.root.manager.loggerDict.values() if isinstance(lg, logging.Logger)),
    ]
    swapped = {
        handler: handler.setStream(buffer)
        for logger in loggers
        for handler in logger.handlers
        if isinstance(handler, logging.StreamHandler) and not type(handler).__module__.startswith("_pytest")
    }
    yield buffer.getvalue
    for handler, stream in swapped.items():
        handler.setStream(stream)


def runserver_line(path: str, status: int, method: str = "GET") -> None:
    """Log a request as `manage.py runserver` (`make run`) does, through its own request handler."""
    handler = WSGIRequestHandler.__new__(WSGIRequestHandler)
    handler.request, handler.requestline = None, f"{method} {path} HTTP/1.1"
    handler.log_request(status, 1234)


def send_due() -> dict[int, str]:
    return sending.messages_send(message_ids=dispatch.due_claim(now=timezone.now(), batch_size=50))


def link_in(text: str, prefix: str) -> str:
    return re.search(rf"{re.escape(prefix)}[^/\s\"<>]+/", text).group()


@pytest.mark.redis
@pytest.mark.django_db(transaction=True)
def test_a_whole_journey_leaves_no_phone_email_or_secret_link_anywhere(
    content, clinic, staff_user, fake_twilio, waking_hours, log_lines, caplog
):
    browser = Client(REMOTE_ADDR=IP)

    def visit(method: str, path: str, data: dict | None = None, *, client: Client = browser):
        response = getattr(client, method.lower())(path, data or {})
        runserver_line(path, response.status_code, method)
        return response

    # Signs up by text and email, types the code, opens the preferences link from the done page.
    assert visit("POST", f"/join/{clinic.enrollment_code}/", SIGNUP).status_code == 302
    caregiver = Caregiver.objects.get(phone=PHONE)
    code = outbox_code(caregiver)  # before it goes: a sent code is forgotten
    send_due()
    visit("POST", f"/join/{clinic.enrollment_code}/confirm/", {"code": code, "action": "confirm"})
    done = visit("GET", f"/join/{clinic.enrollment_code}/done/")
    preferences = link_in(done.content.decode(), "/p/")
    assert visit("GET", preferences).status_code == 200
    forged = preferences[:-4] + "xyz/"
    assert visit("GET", forged).status_code == 404  # Django logs "Not Found: <path>"

    # Confirms the email from the link in it; the welcome email carries the unsubscribe link.
    confirm = link_in(mail.outbox[0].body, "/email/confirm/")
    assert visit("GET", confirm).status_code == 200
    assert visit("POST", confirm).status_code == 200

    # The welcome text cannot reach the number: Twilio says it is not a valid one, naming it.
    fake_twilio.reject(PHONE, 21211)
    welcome_enqueue(caregiver_id=caregiver.pk)  # the worker's task once a channel is confirmed
    outcomes = send_due()
    assert "failed:21211" in outcomes.values()
    unsubscribe = link_in(mail.outbox[-1].body, "/unsubscribe/")
    assert visit("GET", unsubscribe).status_code == 200
    assert visit("POST", unsubscribe).status_code == 200

    # Staff look the family up by the number, as typed, and by the email.
    staff = Client(REMOTE_ADDR="198.51.100.4")
    staff.force_login(staff_user)
    for term in (PHONE_TYPED, PHONE, EMAIL):
        assert visit("GET", f"/staff/?{urlencode({'q': term})}", client=staff).status_code == 200

    secrets = [PHONE, PHONE[2:], "202) 555-0187", "202-555-0187", EMAIL, "jordan.rivera%40example.org"]
    secrets += [link.split("/")[-2] for link in (preferences, forged, confirm, unsubscribe)]
    # It all happened, and was logged.
    caregiver.refresh_from_db()
    assert caregiver.sms_blocked_reason.startswith("Twilio 21211")
    written = log_lines()

    for secret in secrets:
        assert secret not in written, secret
        assert secret not in caplog.text, secret
        for record in caplog.records:
            assert secret not in record.getMessage(), (secret, record.name)
        for error in OutboundMessage.objects.filter(caregiver=caregiver).values_list("last_error", flat=True):
            assert secret not in error, secret
        assert secret not in caregiver.sms_blocked_reason, secret
    # What was logged is still there, masked: the failure, the pages, the 404, the searches.
    assert "(21211): Twilio 400 (21211): Unable to create record: The 'To' number +1******0187 is not" in written
    assert '"GET /p/[token]/ HTTP/1.1" 200' in written
    assert "Not Found: /p/[token]/" in written
    assert '"GET /staff/?q=[masked] HTTP/1.1" 200' in written

    # This test's keys (its own cache prefix), and any written without the cache's prefix.
    prefix = settings.CACHES["default"]["KEY_PREFIX"]
    keys = [key.decode() for key in cache._cache.get_client().scan_iter(count=1000)]
    keys = [key for key in keys if key.startswith(f"{prefix}:") or not key.startswith("test-")]
    assert any(":rl:confirm-address:" in key for key in keys)  # the limits did count, under hashed names
    for raw in (PHONE, PHONE[2:], EMAIL, IP):
        assert not [key for key in keys if raw in key], raw


# --- The rule, and every place it applies --------------------------------------------------------


def test_phones_emails_secret_links_and_searches_are_masked_and_the_rest_left_alone():
    line = (
        "to +12025550187 or (202) 555-0143 or +44 20 7946 0958, Jordan.Rivera@Example.org; "
        "GET https://care.example/p/.eJyrVk:1tXyZ:ab_c/ /unsubscribe/abc:def/ /calendar/Zq9x.ics "
        "/staff/?q=%2B12025550187&show=waiting /staff/alerts/5/ SM0123456789abcdef0123456789abcdef 2026-12-08 17:00:00"
    )
    assert pii_mask(line) == (
        "to +1******0187 or ******0143 or +4*******0958, J***@Example.org; "
        "GET https://care.example/p/[token]/ /unsubscribe/[token]/ /calendar/[token].ics "
        "/staff/?q=[masked]&show=waiting /staff/alerts/5/ SM0123456789abcdef0123456789abcdef 2026-12-08 17:00:00"
    )
    assert pii_mask(pii_mask(line)) == pii_mask(line)


@pytest.mark.parametrize(
    ("line", "masked"),
    [
        # Found by the outside tester: Django serves these, and the token in them is valid.
        ('"GET //p/eyJjIjoyOTIs:1xZ:abc/ HTTP/1.1" 200', '"GET //p/[token]/ HTTP/1.1" 200'),
        ('"GET ///calendar/Zq9x.ics HTTP/1.1" 200', '"GET ///calendar/[token].ics HTTP/1.1" 200'),
        ("GET /P/abc:def/", "GET /P/[token]/"),
        ("GET /p/%20abc:def/", "GET /p/%20[token]/"),
        ("Not Found: /p/ eyJabc:def/", "Not Found: /p/ [token]/"),
        ("GET /p/[token]/eyJabc:def/", "GET /p/[token]/"),
        ("GET /x/?token=eyJabc:def&a=1", "GET /x/?token=[masked]&a=1"),
        ("GET /staff/?phone=(202)%20555-0160", "GET /staff/?phone=[masked]"),
        ("GET /a?n=%2B1%20202%20555%200160", "GET /a?n=+1******0160"),
        ("from em2%2540example.com", "from e***@example.com"),
        ("call ２０２ ５５５ ０１６０", "call ******0160"),
        # And what must stay as it was.
        ("GET /static/portal/site.css 100%", "GET /static/portal/site.css 100%"),
        ("GET /staff/alerts/5/?page=2", "GET /staff/alerts/5/?page=2"),
    ],
)
def test_secrets_in_unusual_spellings_are_masked_too(line, masked):
    assert pii_mask(line) == masked
    assert pii_mask(masked) == masked


def _routes(patterns, prefix=""):
    for pattern in patterns:
        if isinstance(pattern, URLResolver):
            yield from _routes(pattern.url_patterns, prefix + str(pattern.pattern))
        elif isinstance(pattern, URLPattern):
            yield prefix + str(pattern.pattern), pattern


def test_every_route_that_carries_a_secret_is_masked():
    """A new link with a token in its path must be added to config/redact.py's rule (only the
    clinic's enrollment code, printed on the clinic's posters, is no secret)."""
    found = []
    for route, pattern in _routes(get_resolver().url_patterns):
        texts = [
            name
            for name, kind in pattern.pattern.converters.items()
            if isinstance(kind, StringConverter) and not isinstance(kind, SlugConverter)
        ]
        if route.startswith("admin/") or not [name for name in texts if name != "code"]:
            continue
        path = "/" + re.sub(r"<(?:\w+:)?(\w+)>", lambda m: "RIVER234" if m[1] == "code" else "Zq9xSECRET", route)
        found.append(path)
        assert "Zq9xSECRET" not in pii_mask(f'"GET {path}?x=1 HTTP/1.1" 200'), path
    assert len(found) >= 6  # preferences, unsubscribe, email confirmation, ride, alert, calendar


def test_the_root_and_runserver_handlers_mask_through_the_filter():
    handlers = [*logging.getLogger().handlers, *logging.getLogger("django.server").handlers]
    handlers = [h for h in handlers if not type(h).__module__.startswith("_pytest")]
    assert handlers
    for handler in handlers:
        assert any(isinstance(f, PiiMaskFilter) for f in handler.filters), handler
    assert settings.LOGGING["loggers"]["django"]["handlers"] == []  # Django's own handlers would bypass it


def test_a_traceback_is_masked_too(log_lines):
    try:
        raise ValueError(f"no such recipient {EMAIL}")
    except ValueError:
        logging.getLogger("messaging.sending").exception("message 1 attempt 1 failed unexpectedly")
    written = log_lines()
    assert "ValueError: no such recipient j***@example.org" in written
    assert EMAIL not in written


def test_the_worker_and_beat_keep_the_masking_handlers(settings):
    """Celery replaces the root logger's handlers unless something answers its setup_logging
    signal: config/celery.py does, with settings.LOGGING, at the worker's --loglevel."""
    from celery import signals

    root = logging.getLogger()
    level = root.level
    try:
        receivers = signals.setup_logging.send(
            sender=None, loglevel=logging.WARNING, logfile=None, format="", colorize=False
        )
        assert receivers
        assert root.level == logging.WARNING
        assert root.handlers
        assert all(any(isinstance(f, PiiMaskFilter) for f in h.filters) for h in root.handlers)
    finally:
        root.setLevel(level)


def test_gunicorn_access_lines_mask_the_path_query_and_referer():
    from gunicorn.config import Config

    from config.access_log import MaskedAccessLogger

    config = Config()
    config.set("accesslog", "-")
    logger = MaskedAccessLogger(config)
    buffer = io.StringIO()
    logger.access_log.handlers[0].setStream(buffer)
    token = "eyJhIjoiYiJ9:1tXyZ:Zq9xSECRET"
    environ = {
        "REQUEST_METHOD": "GET", "RAW_URI": f"/p/{token}/?q={EMAIL}", "PATH_INFO": f"/p/{token}/",
        "QUERY_STRING": f"q={EMAIL}", "SERVER_PROTOCOL": "HTTP/1.1", "REMOTE_ADDR": IP,
        "HTTP_REFERER": f"https://care.example/unsubscribe/{token}/", "HTTP_USER_AGENT": "Mozilla/5.0",
    }  # fmt: skip

    class Response:
        status, sent, headers = "200 OK", 1234, []

    class Request:
        headers = [("REFERER", environ["HTTP_REFERER"])]

    logger.access(Response(), Request(), environ, timedelta(milliseconds=12))
    line = buffer.getvalue()
    assert '"GET /p/[token]/?q=[masked] HTTP/1.1" 200 1234 "https://care.example/unsubscribe/[token]/"' in line
    assert token not in line
    assert EMAIL not in line
    assert IP in line  # who asked stays: the address is what an operator blocks


def test_the_production_web_server_uses_the_masked_access_log():
    from pathlib import Path

    root = Path(settings.BASE_DIR)
    for name in ("Dockerfile", "docker-compose.yml"):
        assert "--logger-class config.access_log.MaskedAccessLogger" in " ".join(
            (root / name).read_text().replace('", "', " ").split()
        ), name
