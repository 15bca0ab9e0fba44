"""A Twilio-compatible Messages API on 127.0.0.1, so tests and benchmarks exercise the real client over HTTP.

Point the real ``twilio`` library at it by replacing the API domain's base URL::

    from twilio.rest import Client
    from twilio.http.http_client import TwilioHttpClient

    with FakeTwilio() as fake:
        client = Client(fake.account_sid, fake.auth_token, http_client=TwilioHttpClient(timeout=2))
        client.api.base_url = fake.base_url  # every /2010-04-01 request now goes to the fake
        msg = client.messages.create(to="+12025550143", from_="+12025550199", body="hi", status_callback="http://x/cb")
        assert fake.sent_to("+12025550143")[0]["sid"] == msg.sid

Pass ``environment={}`` to ``Client`` if TWILIO_EDGE / TWILIO_REGION may be set: the client would otherwise
rewrite the "127.0.0.1" host as if it were "api.<edge>.<region>.twilio.com".

In tests use the ``fake_twilio`` / ``twilio_client`` fixtures (tests/fakes/fixtures.py). What the client does
with the fake's answers: an error status raises ``TwilioRestException`` (``.status``, ``.code``, ``.msg``) from
create/fetch, but a failed *list* page raises plain ``TwilioException``; a client-side timeout is not wrapped
at all (``requests.exceptions.ReadTimeout``). ``date_sent_after=`` goes out as ``DateSent>`` formatted with
``strftime("%Y-%m-%dT%H:%M:%SZ")`` and the offset dropped, so pass UTC datetimes.

Implemented (Python stdlib only): POST/GET ``Messages.json`` and GET ``Messages/{Sid}.json`` with Twilio's
error JSON, plus scripted faults (``fail_next``, ``timeout_next``, ``reject``, ``set_random_failures``) for
retry and reconciliation tests, and a slow answer (``set_latency``).
Standalone: ``python -m tests.fakes.twilio_server --port 8765``.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import contextlib
import copy
import json
import math
import random
import re
import secrets
import socket
import sys
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from email.utils import format_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlencode, urlsplit

DEFAULT_ACCOUNT_SID = "AC" + "a" * 32
DEFAULT_AUTH_TOKEN = "fake-auth-token"
API_VERSION = "2010-04-01"

_MESSAGES_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages\.json$")
_MESSAGE_PATH = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Messages/(?P<sid>[^/]+)\.json$")
_E164 = re.compile(r"^\+[1-9]\d{6,14}$")

# The GSM 03.38 alphabet decides whether a body costs 7-bit (160/153 per segment) or UCS-2 (70/67) segments.
_GSM_BASIC = set(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿"
    "abcdefghijklmnopqrstuvwxyzäöñüà"
)
_GSM_EXTENDED = set("^{}\\[~]|€\f")

_REJECTION_MESSAGES = {
    21610: "Attempt to send to unsubscribed recipient",
    21211: "The 'To' number {to} is not a valid phone number.",
    21614: "'To' number is not a valid mobile number",
}
_FAILURE_DEFAULTS = {
    429: (20429, "Too Many Requests"),
    500: (20500, "An internal server error has occurred"),
    503: (20503, "Service Unavailable"),
}

Form = dict[str, str | list[str]]


@dataclass(frozen=True)
class _Reply:
    status: int
    payload: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class _Timeout:
    accept: bool
    delay: float


def _error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> _Reply:
    """Twilio's legacy error body, which the client turns into TwilioRestException(status, code, message)."""
    payload = {"code": code, "message": message, "more_info": f"https://www.twilio.com/docs/errors/{code}"}
    return _Reply(status, payload | {"status": status}, headers or {})


def _field(form: Form, name: str) -> str:
    """The last value sent for a form field ("" when absent)."""
    value = form.get(name, "")
    return value[-1] if isinstance(value, list) else value


def num_segments(body: str) -> int:
    """How many SMS segments Twilio bills for ``body`` (GSM-7 when possible, else UCS-2)."""
    if all(char in _GSM_BASIC or char in _GSM_EXTENDED for char in body):
        units, single, multi = sum(2 if char in _GSM_EXTENDED else 1 for char in body), 160, 153
    else:
        units, single, multi = len(body.encode("utf-16-le")) // 2, 70, 67
    return 1 if units <= single else math.ceil(units / multi)


def _parse_date_filter(value: str) -> date | datetime:
    """A bare date compares by day; a timestamp (the client sends "%Y-%m-%dT%H:%M:%SZ") by second, in UTC."""
    if len(value) == 10:
        return date.fromisoformat(value)
    moment = datetime.fromisoformat(value)
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _date_matches(sent: datetime, operator: str, bound: date | datetime) -> bool:
    """Twilio's DateSent filters are inclusive: ``DateSent>`` means on or after, ``DateSent<`` on or before."""
    left: date | datetime = sent if isinstance(bound, datetime) else sent.date()
    if operator == ">":
        return left >= bound
    if operator == "<":
        return left <= bound
    return left == bound


class FakeTwilio:
    """A Twilio Messages API on a free local port, recording what it accepts and failing on cue."""

    def __init__(self, account_sid: str = DEFAULT_ACCOUNT_SID, auth_token: str = DEFAULT_AUTH_TOKEN, *, port: int = 0):
        self.account_sid = account_sid
        self.auth_token = auth_token
        self._port = port
        self._lock = threading.Lock()
        self._records: list[tuple[datetime, dict[str, Any]]] = []
        self._by_sid: dict[str, dict[str, Any]] = {}
        self._requests: list[dict[str, Any]] = []
        self._script: deque[_Reply | _Timeout] = deque()
        self._rejections: dict[str, int] = {}
        self._random_rates = (0.0, 0.0, 0.0)
        self._random_delay = 3.0
        self._rng = random.Random(0)
        self._latency = 0.0
        self._connections: dict[socket.socket, threading.Thread] = {}
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

    # Lifecycle

    def start(self) -> FakeTwilio:
        """Bind 127.0.0.1 and serve from a daemon thread."""
        if self._server is not None:
            raise RuntimeError("FakeTwilio is already running")
        self._stopping.clear()
        self._server = _Server(("127.0.0.1", self._port), _Handler, self)
        # A short poll interval lets stop() return within 50 ms rather than serve_forever's default 500 ms.
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, name="FakeTwilio", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving and drop kept-alive connections, so no thread or port outlives the fake."""
        if self._server is None or self._thread is None:
            return
        self._stopping.set()  # wakes handlers sleeping in a scripted timeout
        self._server.shutdown()
        self._server.server_close()
        self._thread.join()
        with self._lock:
            connections = list(self._connections.items())
        for sock, _ in connections:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
        for _, thread in connections:
            thread.join(timeout=5)
        self._server = None
        self._thread = None

    def __enter__(self) -> FakeTwilio:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        if self._server is None:
            raise RuntimeError("FakeTwilio is not running")
        return self._server.server_address[1]

    @property
    def base_url(self) -> str:
        """What to assign to ``client.api.base_url`` (or settings.TWILIO_API_BASE_URL)."""
        return f"http://127.0.0.1:{self.port}"

    # Inspection

    @property
    def messages(self) -> list[dict[str, Any]]:
        """Accepted message resources, oldest first (copies)."""
        with self._lock:
            return [copy.deepcopy(payload) for _, payload in self._records]

    @property
    def requests(self) -> list[dict[str, Any]]:
        """Every request: method, path, form (POST body or GET query), auth_ok, the status answered, when it
        arrived (``at``, time.monotonic(): gaps between retries, unaffected by time-machine), and how long its
        answer was held back (``delay``: a scripted timeout or latency)."""
        with self._lock:
            return copy.deepcopy(self._requests)

    def sent_to(self, number: str) -> list[dict[str, Any]]:
        """Accepted messages addressed to ``number``, oldest first."""
        return [message for message in self.messages if message["to"] == number]

    def bodies(self) -> list[str]:
        """Bodies of accepted messages, oldest first."""
        return [message["body"] for message in self.messages]

    def duplicates(self) -> list[tuple[str, str]]:
        """(to, body) pairs accepted more than once: what a retry after an ambiguous timeout produces."""
        counts = Counter((message["to"], message["body"]) for message in self.messages)
        return [pair for pair, count in counts.items() if count > 1]

    def clear(self) -> None:
        """Forget recorded messages and requests; scripted faults and rejections stay in force."""
        with self._lock:
            self._records.clear()
            self._by_sid.clear()
            self._requests.clear()

    # Scripted faults (POST Messages.json only)

    def fail_next(
        self,
        count: int = 1,
        *,
        status: int = 500,
        code: int | None = None,
        message: str | None = None,
        retry_after: float | None = None,
    ) -> None:
        """Answer the next ``count`` sends with ``status`` and nothing recorded (an outage or rate limit)."""
        default_code, default_message = _FAILURE_DEFAULTS.get(status, (status, f"HTTP {status}"))
        headers = {"Retry-After": f"{retry_after:g}"} if retry_after is not None else {}
        reply = _error(status, code or default_code, message or default_message, headers)
        with self._lock:
            self._script.extend([reply] * count)

    def timeout_next(self, count: int = 1, *, accept: bool = True, delay: float = 3.0) -> None:
        """Hold the next ``count`` sends for ``delay`` seconds, so a client with a shorter timeout gives up.

        ``accept=True`` records the message before the pause (Twilio got it: the ambiguous case);
        ``accept=False`` records nothing and finally answers 503.
        Faults from ``fail_next`` and ``timeout_next`` are used in the order they were scripted.
        """
        with self._lock:
            self._script.extend([_Timeout(accept, delay)] * count)

    def reject(self, to_number: str, code: int) -> None:
        """Answer every send to ``to_number`` with 400 and Twilio error ``code`` (e.g. 21610 unsubscribed)."""
        with self._lock:
            self._rejections[to_number] = code

    def set_random_failures(
        self,
        *,
        error_500: float = 0.0,
        error_429: float = 0.0,
        timeout: float = 0.0,
        timeout_delay: float = 3.0,
        seed: int = 0,
    ) -> None:
        """Fail each send independently with these probabilities; timeouts accept the message.

        The draws come from one seeded generator, so the same sequence of sends meets the same faults.
        """
        if error_500 + error_429 + timeout > 1:
            raise ValueError("failure probabilities add up to more than 1")
        with self._lock:
            self._random_rates = (error_500, error_429, timeout)
            self._random_delay = timeout_delay
            self._rng = random.Random(seed)

    def set_latency(self, seconds: float) -> None:
        """Answer every accepted send ``seconds`` late (recorded first): a slow Twilio, not a failing one.

        Keep it below the client's timeout, or it becomes an ambiguous timeout.
        """
        with self._lock:
            self._latency = seconds

    # Request handling (called from the handler threads)

    def _track(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections[connection] = threading.current_thread()
        if self._stopping.is_set():
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)

    def _untrack(self, connection: socket.socket) -> None:
        with self._lock:
            self._connections.pop(connection, None)

    def _handle(self, method: str, path: str, query: str, form: Form, authorization: str | None) -> _Reply:
        route = _MESSAGES_PATH.match(path) or _MESSAGE_PATH.match(path)
        auth_ok = route is not None and route["account"] == self.account_sid and self._credentials_ok(authorization)
        delay = 0.0
        if route is None:
            reply = _error(404, 20404, f"The requested resource {path} was not found")
        elif not auth_ok:
            reply = _error(401, 20003, "Authenticate")
        elif "sid" in route.groupdict():
            reply = self._fetch(path, route["sid"]) if method == "GET" else _error(405, 20004, "Method not allowed")
        elif method == "POST":
            reply, delay = self._create(form)
        else:
            reply = self._list(path, query, form)
        with self._lock:
            self._requests.append(
                {
                    "method": method,
                    "path": path,
                    "form": form,
                    "auth_ok": auth_ok,
                    "status": reply.status,
                    "at": time.monotonic(),
                    "delay": delay,
                }
            )
        if delay:
            self._stopping.wait(delay)
        return reply

    def _credentials_ok(self, authorization: str | None) -> bool:
        if not authorization or not authorization.startswith("Basic "):
            return False
        try:
            decoded = base64.b64decode(authorization[6:], validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return False
        return decoded == f"{self.account_sid}:{self.auth_token}"

    def _next_fault(self) -> _Reply | _Timeout | None:
        with self._lock:
            if self._script:
                return self._script.popleft()
            error_500, error_429, timeout = self._random_rates
            if not error_500 + error_429 + timeout:
                return None
            draw = self._rng.random()
        if draw < error_500:
            return _error(500, *_FAILURE_DEFAULTS[500])
        if draw < error_500 + error_429:
            return _error(429, *_FAILURE_DEFAULTS[429])
        if draw < error_500 + error_429 + timeout:
            return _Timeout(accept=True, delay=self._random_delay)
        return None

    def _create(self, form: Form) -> tuple[_Reply, float]:
        fault = self._next_fault()
        if isinstance(fault, _Reply):
            return fault, 0.0
        reply = self._invalid(form)
        if reply is None and fault is not None and not fault.accept:
            reply = _error(503, *_FAILURE_DEFAULTS[503])
        if reply is None:
            reply = _Reply(201, self._record(form))
        return reply, fault.delay if fault is not None else self._latency

    def _invalid(self, form: Form) -> _Reply | None:
        """The 400 Twilio would answer for this send, or None when it is acceptable."""
        to = _field(form, "To")
        if not to:
            return _error(400, 21604, "A 'To' phone number is required.")
        if not _field(form, "From") and not _field(form, "MessagingServiceSid"):
            return _error(400, 21603, "A 'From' or 'MessagingServiceSid' parameter is required to send a message.")
        if not _field(form, "Body"):
            return _error(400, 21602, "Message body is required.")
        if not _E164.match(to):
            return _error(400, 21211, _REJECTION_MESSAGES[21211].format(to=to))
        with self._lock:
            code = self._rejections.get(to)
        if code is not None:
            message = _REJECTION_MESSAGES.get(code, "Message rejected (error {code})")
            return _error(400, code, message.format(to=to, code=code))
        return None

    def _record(self, form: Form) -> dict[str, Any]:
        now = datetime.now(UTC).replace(microsecond=0)
        stamp = format_datetime(now)
        sid = "SM" + secrets.token_hex(16)
        body = _field(form, "Body")
        payload = {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": _field(form, "To"),
            "from": _field(form, "From") or None,
            "messaging_service_sid": _field(form, "MessagingServiceSid") or None,
            "body": body,
            "status": "queued",
            "num_segments": str(num_segments(body)),
            "num_media": "0",
            "direction": "outbound-api",
            "date_created": stamp,
            "date_updated": stamp,
            "date_sent": stamp,
            "price": None,
            "price_unit": "USD",
            "error_code": None,
            "error_message": None,
            "uri": f"/{API_VERSION}/Accounts/{self.account_sid}/Messages/{sid}.json",
            "api_version": API_VERSION,
            "subresource_uris": {},
        }
        with self._lock:
            self._records.append((now, payload))
            self._by_sid[sid] = payload
        return payload

    def _fetch(self, path: str, sid: str) -> _Reply:
        with self._lock:
            payload = self._by_sid.get(sid)
        if payload is None:
            return _error(404, 20404, f"The requested resource {path} was not found")
        return _Reply(200, payload)

    def _list(self, path: str, query: str, form: Form) -> _Reply:
        """One page of matching messages, newest first; ``Page`` / ``PageSize`` walk the pages."""
        try:
            page = int(_field(form, "Page") or 0)
            page_size = min(max(int(_field(form, "PageSize") or 50), 1), 1000)
            date_filters = [
                (operator, _parse_date_filter(_field(form, f"DateSent{operator}")))
                for operator in ("", ">", "<")
                if _field(form, f"DateSent{operator}")
            ]
        except ValueError as exc:
            return _error(400, 20001, f"Invalid list filter: {exc}")
        to, from_ = _field(form, "To"), _field(form, "From")
        with self._lock:
            records = list(reversed(self._records))
        matching = [
            payload
            for sent, payload in records
            if (not to or payload["to"] == to)
            and (not from_ or payload["from"] == from_)
            and all(_date_matches(sent, operator, bound) for operator, bound in date_filters)
        ]
        start = page * page_size
        messages = matching[start : start + page_size]
        filters = {key: value for key, value in form.items() if key not in {"Page", "PageSize", "PageToken"}}

        def page_uri(number: int) -> str:
            return f"{path}?{urlencode(filters | {'PageSize': page_size, 'Page': number}, doseq=True)}"

        return _Reply(
            200,
            {
                "messages": messages,
                "first_page_uri": page_uri(0),
                "next_page_uri": page_uri(page + 1) if start + page_size < len(matching) else None,
                "previous_page_uri": page_uri(page - 1) if page > 0 else None,
                "page": page,
                "page_size": page_size,
                "start": start,
                "end": start + len(messages) - 1,
                "uri": f"{path}?{query}" if query else path,
            },
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 1024

    def __init__(self, address: tuple[str, int], handler: type[BaseHTTPRequestHandler], fake: FakeTwilio):
        self.fake = fake
        super().__init__(address, handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Stay quiet about clients that hung up (say, after their own timeout); report anything else."""
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, so the client's requests.Session reuses connections
    disable_nagle_algorithm = True  # headers and body go out as two writes; don't let Nagle delay the second
    server: _Server

    def setup(self) -> None:
        super().setup()
        self.server.fake._track(self.connection)

    def finish(self) -> None:
        try:
            super().finish()
        finally:
            self.server.fake._untrack(self.connection)

    def log_message(self, format: str, *args: Any) -> None:
        """Silent: benchmarks push thousands of requests a second through here."""

    def do_GET(self) -> None:
        self._dispatch()

    def do_POST(self) -> None:
        self._dispatch()

    def _dispatch(self) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else ""
        parsed = parse_qs(raw if self.command == "POST" else url.query, keep_blank_values=True)
        form: Form = {key: values[0] if len(values) == 1 else values for key, values in parsed.items()}
        reply = self.server.fake._handle(self.command, url.path, url.query, form, self.headers.get("Authorization"))
        body = json.dumps(reply.payload).encode()
        self.send_response(reply.status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in reply.headers.items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def main(argv: list[str] | None = None) -> None:
    """Serve until Ctrl-C, for manual runs and benchmarks; prints the base URL on the first line."""
    parser = argparse.ArgumentParser(description="A local Twilio-compatible Messages API.")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port")
    parser.add_argument("--account-sid", default=DEFAULT_ACCOUNT_SID)
    parser.add_argument("--auth-token", default=DEFAULT_AUTH_TOKEN)
    parser.add_argument("--error-500", type=float, default=0.0, help="probability of a 500 per send")
    parser.add_argument("--error-429", type=float, default=0.0, help="probability of a 429 per send")
    parser.add_argument("--timeout", type=float, default=0.0, help="probability of a slow, accepted send")
    parser.add_argument("--timeout-delay", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    fake = FakeTwilio(args.account_sid, args.auth_token, port=args.port).start()
    fake.set_random_failures(
        error_500=args.error_500,
        error_429=args.error_429,
        timeout=args.timeout,
        timeout_delay=args.timeout_delay,
        seed=args.seed,
    )
    print(fake.base_url, flush=True)
    print(f"TWILIO_ACCOUNT_SID={fake.account_sid} TWILIO_AUTH_TOKEN={fake.auth_token}; Ctrl-C stops", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        pass
    finally:
        fake.stop()


if __name__ == "__main__":
    main()
