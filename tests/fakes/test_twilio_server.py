"""FakeTwilio answers the real twilio library the way Twilio does, including on cue failures."""

from __future__ import annotations

import contextlib
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
import requests
from pytest_django import Settings
from twilio.base.exceptions import TwilioRestException
from twilio.http.http_client import TwilioHttpClient
from twilio.rest import Client

from tests.fakes.fixtures import TwilioClientFactory
from tests.fakes.twilio_server import DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, FakeTwilio, num_segments

TO = "+12025550143"
OTHER = "+12025550144"
FROM = "+12025550199"


@contextlib.contextmanager
def real_client(base_url: str) -> Iterator[Client]:
    """A twilio Client (default fake credentials) for tests that run their own fake; closes its connections."""
    http_client = TwilioHttpClient(timeout=2)
    client = Client(DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN, http_client=http_client, environment={})
    client.api.base_url = base_url
    try:
        yield client
    finally:
        if http_client.session is not None:
            http_client.session.close()


def send(client: Client, to: str = TO, body: str = "hi", **kwargs: str) -> str:
    return client.messages.create(to=to, from_=FROM, body=body, **kwargs).sid


def raw_post(fake: FakeTwilio, form: dict[str, str]) -> requests.Response:
    """A hand-built send, for what the twilio client hides (response headers)."""
    url = f"{fake.base_url}/2010-04-01/Accounts/{fake.account_sid}/Messages.json"
    return requests.post(url, data=form, auth=(fake.account_sid, fake.auth_token), timeout=2)


def test_create_round_trips_through_the_real_client(fake_twilio: FakeTwilio, twilio_client: Client) -> None:
    msg = twilio_client.messages.create(to=TO, from_=FROM, body="hi", status_callback="http://x/cb")

    assert msg.sid.startswith("SM")
    assert len(msg.sid) == 34
    assert (msg.status, msg.to, msg.from_, msg.body, msg.num_segments) == ("queued", TO, FROM, "hi", "1")
    assert msg.direction == "outbound-api"
    assert msg.date_created is not None
    assert abs(datetime.now(UTC) - msg.date_created) < timedelta(seconds=5)
    assert (msg.price, msg.error_code) == (None, None)
    [recorded] = fake_twilio.messages
    assert recorded["sid"] == msg.sid
    [request] = fake_twilio.requests
    assert (request["method"], request["auth_ok"], request["status"]) == ("POST", True, 201)
    assert {key: request["form"][key] for key in ("To", "From", "Body", "StatusCallback")} == {
        "To": TO,
        "From": FROM,
        "Body": "hi",
        "StatusCallback": "http://x/cb",
    }


def test_messaging_service_sid_stands_in_for_from(fake_twilio: FakeTwilio, twilio_client: Client) -> None:
    service = "MG" + "b" * 32
    msg = twilio_client.messages.create(to=TO, messaging_service_sid=service, body="hi")

    assert (msg.messaging_service_sid, msg.from_) == (service, None)


def test_wrong_auth_token_is_refused_with_401(fake_twilio: FakeTwilio, make_twilio_client: TwilioClientFactory) -> None:
    client = make_twilio_client(auth_token="wrong")

    with pytest.raises(TwilioRestException) as caught:
        send(client)

    assert (caught.value.status, caught.value.code) == (401, 20003)
    assert fake_twilio.messages == []
    assert fake_twilio.requests[0]["auth_ok"] is False


@pytest.mark.parametrize(
    ("kwargs", "code", "text"),
    [
        ({"to": TO, "from_": FROM}, 21602, "Message body is required"),
        ({"to": TO, "body": "hi"}, 21603, "'From' or 'MessagingServiceSid'"),
        ({"to": "", "from_": FROM, "body": "hi"}, 21604, "'To' phone number is required"),
        ({"to": "2025550143", "from_": FROM, "body": "hi"}, 21211, "not a valid phone number"),
    ],
)
def test_incomplete_or_invalid_send_is_refused_with_400(
    fake_twilio: FakeTwilio, twilio_client: Client, kwargs: dict[str, str], code: int, text: str
) -> None:
    with pytest.raises(TwilioRestException) as caught:
        twilio_client.messages.create(**kwargs)

    assert (caught.value.status, caught.value.code) == (400, code)
    assert text in caught.value.msg
    assert fake_twilio.messages == []


@pytest.mark.parametrize(
    ("code", "text"),
    [
        (21610, "Attempt to send to unsubscribed recipient"),
        (21211, f"The 'To' number {TO} is not a valid phone number."),
        (21614, "'To' number is not a valid mobile number"),
    ],
)
def test_rejected_number_gets_that_twilio_error(
    fake_twilio: FakeTwilio, twilio_client: Client, code: int, text: str
) -> None:
    fake_twilio.reject(TO, code)

    with pytest.raises(TwilioRestException) as caught:
        send(twilio_client)
    send(twilio_client, to=OTHER)

    assert (caught.value.status, caught.value.code) == (400, code)
    assert text in caught.value.msg
    assert [message["to"] for message in fake_twilio.messages] == [OTHER]


def test_rate_limit_fails_once_with_retry_after_then_sends(fake_twilio: FakeTwilio, twilio_client: Client) -> None:
    fake_twilio.fail_next(status=429, retry_after=2)

    with pytest.raises(TwilioRestException) as caught:
        send(twilio_client)
    send(twilio_client)

    assert (caught.value.status, caught.value.code) == (429, 20429)
    assert len(fake_twilio.messages) == 1
    assert [request["status"] for request in fake_twilio.requests] == [429, 201]


def test_scripted_failure_carries_retry_after_header(fake_twilio: FakeTwilio) -> None:
    fake_twilio.fail_next(status=503, retry_after=2, message="Down for maintenance")

    response = raw_post(fake_twilio, {"To": TO, "From": FROM, "Body": "hi"})

    assert response.status_code == 503
    assert response.headers["Retry-After"] == "2"
    assert response.json() == {
        "code": 20503,
        "message": "Down for maintenance",
        "more_info": "https://www.twilio.com/docs/errors/20503",
        "status": 503,
    }


def test_fail_next_count_covers_that_many_sends(fake_twilio: FakeTwilio, twilio_client: Client) -> None:
    fake_twilio.fail_next(2, status=500)

    statuses = []
    for _ in range(3):
        try:
            send(twilio_client)
            statuses.append(201)
        except TwilioRestException as exc:
            statuses.append(exc.status)

    assert statuses == [500, 500, 201]
    assert len(fake_twilio.messages) == 1


def test_accepted_timeout_records_the_message_the_client_gave_up_on(
    fake_twilio: FakeTwilio, make_twilio_client: TwilioClientFactory
) -> None:
    client = make_twilio_client(timeout=0.5)
    fake_twilio.timeout_next(accept=True, delay=1.5)

    with pytest.raises(requests.exceptions.ReadTimeout):
        send(client, body="ambiguous")
    send(client, body="ambiguous")  # the naive retry

    assert fake_twilio.bodies() == ["ambiguous", "ambiguous"]
    assert fake_twilio.duplicates() == [(TO, "ambiguous")]


def test_latency_answers_late_but_records_the_message_at_once(
    fake_twilio: FakeTwilio, make_twilio_client: TwilioClientFactory
) -> None:
    client = make_twilio_client(timeout=5)
    fake_twilio.set_latency(1.5)
    with ThreadPoolExecutor(max_workers=1) as pool:
        pending = pool.submit(send, client, body="slow")
        # Recorded before the answer: what a worker killed while waiting leaves at Twilio.
        deadline = datetime.now(UTC) + timedelta(seconds=2)
        while not fake_twilio.messages and datetime.now(UTC) < deadline:
            threading.Event().wait(0.01)
        assert fake_twilio.bodies() == ["slow"]
        assert not pending.done()
        assert pending.result() == fake_twilio.messages[0]["sid"]


def test_unaccepted_timeout_records_nothing(fake_twilio: FakeTwilio, make_twilio_client: TwilioClientFactory) -> None:
    client = make_twilio_client(timeout=0.5)
    fake_twilio.timeout_next(accept=False, delay=1.5)

    with pytest.raises(requests.exceptions.Timeout):
        send(client)

    assert fake_twilio.messages == []


def test_list_filters_by_recipient_sender_and_date_sent(fake_twilio: FakeTwilio, twilio_client: Client) -> None:
    earlier = datetime.now(UTC) - timedelta(minutes=1)
    first, _, last = send(twilio_client, body="one"), send(twilio_client, to=OTHER), send(twilio_client, body="two")

    to_recipient = twilio_client.messages.list(to=TO, from_=FROM, date_sent_after=earlier, limit=20)
    from_nobody = twilio_client.messages.list(from_="+12025550100")
    tomorrow = twilio_client.messages.list(date_sent_after=datetime.now(UTC) + timedelta(days=1))
    before_today = twilio_client.messages.list(date_sent_before=earlier)

    assert [message.sid for message in to_recipient] == [last, first]  # newest first
    assert from_nobody == tomorrow == before_today == []
    assert fake_twilio.requests[-4]["form"]["DateSent>"] == earlier.strftime("%Y-%m-%dT%H:%M:%SZ")


def test_stream_walks_every_page(fake_twilio: FakeTwilio, twilio_client: Client) -> None:
    sids = [send(twilio_client, body=str(number)) for number in range(5)]

    streamed = [message.sid for message in twilio_client.messages.stream(page_size=2)]

    assert streamed == sids[::-1]
    assert sum(request["method"] == "GET" for request in fake_twilio.requests) == 3


def test_fetch_by_sid_and_unknown_sid_is_404(fake_twilio: FakeTwilio, twilio_client: Client) -> None:
    sid = send(twilio_client, body="find me")

    assert twilio_client.messages(sid).fetch().body == "find me"
    with pytest.raises(TwilioRestException) as caught:
        twilio_client.messages("SM" + "0" * 32).fetch()
    assert (caught.value.status, caught.value.code) == (404, 20404)


def test_inspection_helpers_and_clear(fake_twilio: FakeTwilio, twilio_client: Client) -> None:
    send(twilio_client, body="a")
    send(twilio_client, to=OTHER, body="a")
    send(twilio_client, body="b")
    send(twilio_client, body="a")

    assert [message["body"] for message in fake_twilio.sent_to(TO)] == ["a", "b", "a"]
    assert fake_twilio.bodies() == ["a", "a", "b", "a"]
    assert fake_twilio.duplicates() == [(TO, "a")]
    fake_twilio.clear()
    assert fake_twilio.messages == fake_twilio.requests == []


def test_random_failures_repeat_with_the_same_seed() -> None:
    def statuses(seed: int) -> list[int]:
        with FakeTwilio() as fake, real_client(fake.base_url) as client:
            fake.set_random_failures(error_500=0.3, error_429=0.2, seed=seed)
            for _ in range(30):
                with contextlib.suppress(TwilioRestException):
                    send(client)
            return [request["status"] for request in fake.requests]

    first = statuses(seed=7)

    assert first == statuses(seed=7)
    assert first != statuses(seed=8)
    assert {500, 429, 201} <= set(first)


def test_concurrent_senders_are_all_recorded_once(
    fake_twilio: FakeTwilio, make_twilio_client: TwilioClientFactory
) -> None:
    clients = [make_twilio_client() for _ in range(8)]

    def send_batch(index: int) -> list[str]:
        return [send(clients[index], body=f"{index}-{number}") for number in range(25)]

    with ThreadPoolExecutor(max_workers=8) as pool:
        sids = [sid for batch in pool.map(send_batch, range(8)) for sid in batch]

    assert len(set(sids)) == 200
    assert len(fake_twilio.messages) == 200
    assert fake_twilio.duplicates() == []


@pytest.mark.parametrize(
    ("body", "segments"),
    [("a" * 160, 1), ("a" * 161, 2), ("€" * 80, 1), ("é" * 306, 2), ("ü" * 307, 3), ("🙂" * 35, 1), ("ą" * 71, 2)],
)
def test_num_segments_follows_gsm7_and_ucs2_limits(body: str, segments: int) -> None:
    assert num_segments(body) == segments


def test_stop_frees_the_port_and_the_threads() -> None:
    threads_before = set(threading.enumerate())
    fake = FakeTwilio().start()
    port = fake.port
    with real_client(fake.base_url) as client:
        send(client)  # leaves a kept-alive connection, served by its own thread

        fake.stop()

        assert set(threading.enumerate()) <= threads_before
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(("127.0.0.1", port), timeout=1).close()


def test_fake_twilio_fixture_points_settings_at_the_fake(fake_twilio: FakeTwilio, settings: Settings) -> None:
    assert settings.SMS_BACKEND == "twilio"
    assert fake_twilio.base_url == settings.TWILIO_API_BASE_URL
    assert (settings.TWILIO_ACCOUNT_SID, settings.TWILIO_AUTH_TOKEN) == (DEFAULT_ACCOUNT_SID, DEFAULT_AUTH_TOKEN)


def test_runs_standalone_until_interrupted() -> None:
    project = Path(__file__).resolve().parents[2]
    command = [sys.executable, "-m", "tests.fakes.twilio_server", "--port", "0"]
    with subprocess.Popen(command, cwd=project, stdout=subprocess.PIPE, text=True) as process:
        try:
            assert process.stdout is not None
            with real_client(process.stdout.readline().strip()) as client:
                send(client)
                assert len(client.messages.list()) == 1
        finally:
            process.send_signal(signal.SIGINT)
        assert process.wait(timeout=5) == 0
