"""A local SMTP server (aiosmtpd) that records what arrives, so mail tests go through Django's real SMTP backend.

In tests use the ``smtp_server`` fixture (tests/fakes/fixtures.py), which also points the EMAIL_* settings here::

    def test_reminder_email(smtp_server):
        send_mail("Subject", "Body", "from@example.org", ["to@example.org"])
        [message] = smtp_server.wait_for(1)  # an email.message.EmailMessage
"""

from __future__ import annotations

import asyncio
import email
import email.policy
import logging
import threading
import time
from email.message import EmailMessage
from types import TracebackType
from typing import cast

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, Envelope, Session


class _FreePortController(Controller):
    """Binds port 0 and reads back the port the OS chose: aiosmtpd 1.4 has no port=0 support of its own.

    Binding inside the server avoids the race of probing for a free port and binding it later.
    """

    async def _create_server(self) -> asyncio.AbstractServer:  # type: ignore[override]
        server = await self.loop.create_server(self._factory_invoker, host=self.hostname, port=0)
        self.port = server.sockets[0].getsockname()[1]
        return server


class _Recorder:
    """The aiosmtpd handler: parses each message and hands it to the FakeSMTP."""

    def __init__(self, sink: FakeSMTP):
        self.sink = sink

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        # original_content is the raw bytes (envelope.content too, as decode_data is off), and typed as bytes.
        raw = envelope.original_content or b""
        message = cast(EmailMessage, email.message_from_bytes(raw, policy=email.policy.default))
        self.sink._record(message, str(envelope.mail_from), list(envelope.rcpt_tos))
        return "250 Message accepted for delivery"


class FakeSMTP:
    """An SMTP server on 127.0.0.1 and a free port; keeps every message it accepts."""

    host = "127.0.0.1"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._messages: list[EmailMessage] = []
        self._envelopes: list[tuple[str, list[str]]] = []
        self._controller: _FreePortController | None = None

    def start(self) -> FakeSMTP:
        """Serve from aiosmtpd's background thread."""
        if self._controller is not None:
            raise RuntimeError("FakeSMTP is already running")
        # aiosmtpd narrates every SMTP command at INFO on "mail.log", and the project's root logger shows INFO;
        # the fake's own chatter is noise (as FakeTwilio's access log is), so only its warnings remain.
        logging.getLogger("mail.log").setLevel(logging.WARNING)
        # A fixed server_hostname skips socket.getfqdn(), which can stall on DNS.
        controller = _FreePortController(_Recorder(self), hostname=self.host, server_hostname="localhost")
        controller.start()
        self._controller = controller
        return self

    def stop(self) -> None:
        """Stop the server thread and close its event loop and port."""
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def __enter__(self) -> FakeSMTP:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._controller is None:
            raise RuntimeError("FakeSMTP is not running")
        return self._controller.port

    @property
    def messages(self) -> list[EmailMessage]:
        """Messages received, oldest first."""
        with self._lock:
            return list(self._messages)

    @property
    def envelopes(self) -> list[tuple[str, list[str]]]:
        """(MAIL FROM, RCPT TOs) of each message: who really got it, Bcc included."""
        with self._lock:
            return list(self._envelopes)

    def clear(self) -> None:
        with self._lock:
            self._messages.clear()
            self._envelopes.clear()

    def wait_for(self, count: int, timeout: float = 5) -> list[EmailMessage]:
        """All messages once at least ``count`` have arrived; AssertionError if they don't within ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            messages = self.messages
            if len(messages) >= count:
                return messages
            if time.monotonic() >= deadline:
                raise AssertionError(f"expected {count} message(s) within {timeout}s, {len(messages)} arrived")
            time.sleep(0.01)

    def _record(self, message: EmailMessage, mail_from: str, rcpt_tos: list[str]) -> None:
        with self._lock:
            self._messages.append(message)
            self._envelopes.append((mail_from, rcpt_tos))
