"""FakeSMTP receives what Django's real SMTP backend sends, headers and alternatives intact."""

from __future__ import annotations

import socket
import threading

import pytest
from django.core.mail import EmailMultiAlternatives, send_mail
from pytest_django import Settings

from tests.fakes.smtp_server import FakeSMTP


def test_send_mail_arrives_through_djangos_smtp_backend(smtp_server: FakeSMTP) -> None:
    sent = send_mail("Your visit", "See you Tuesday.", "clinic@example.org", ["dana@example.org"])

    [message] = smtp_server.wait_for(1)
    assert sent == 1
    assert (message["Subject"], message["From"], message["To"]) == (
        "Your visit",
        "clinic@example.org",
        "dana@example.org",
    )
    assert message.get_content().strip() == "See you Tuesday."
    assert smtp_server.envelopes == [("clinic@example.org", ["dana@example.org"])]


def test_html_alternative_and_list_unsubscribe_header_arrive(smtp_server: FakeSMTP) -> None:
    unsubscribe = "<https://example.org/unsubscribe/abc>, <mailto:unsubscribe@example.org>"
    email = EmailMultiAlternatives(
        "Weekly tip",
        "Drink water.",
        "tips@example.org",
        ["dana@example.org"],
        bcc=["audit@example.org"],
        headers={"List-Unsubscribe": unsubscribe, "List-Unsubscribe-Post": "List-Unsubscribe=One-Click"},
    )
    email.attach_alternative("<p>Drink <b>water</b>.</p>", "text/html")
    email.send()

    [message] = smtp_server.wait_for(1)
    assert message.get_content_type() == "multipart/alternative"
    plain = message.get_body(("plain",))
    html = message.get_body(("html",))
    assert plain is not None
    assert html is not None
    assert plain.get_content().strip() == "Drink water."
    assert html.get_content().strip() == "<p>Drink <b>water</b>.</p>"
    assert message["List-Unsubscribe"] == unsubscribe
    assert message["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    assert "Bcc" not in message
    assert smtp_server.envelopes == [("tips@example.org", ["dana@example.org", "audit@example.org"])]


def test_wait_for_says_how_many_arrived_when_too_few() -> None:
    with FakeSMTP() as server, pytest.raises(AssertionError, match=r"expected 1 message.*, 0 arrived"):
        server.wait_for(1, timeout=0.1)


def test_clear_forgets_received_mail(smtp_server: FakeSMTP) -> None:
    send_mail("One", "Body", "a@example.org", ["b@example.org"])
    smtp_server.wait_for(1)

    smtp_server.clear()

    assert smtp_server.messages == []
    assert smtp_server.envelopes == []


def test_smtp_server_fixture_points_django_at_it(smtp_server: FakeSMTP, settings: Settings) -> None:
    assert settings.EMAIL_BACKEND == "django.core.mail.backends.smtp.EmailBackend"
    assert (smtp_server.host, smtp_server.port) == (settings.EMAIL_HOST, settings.EMAIL_PORT)


def test_stop_frees_the_port_and_the_thread() -> None:
    threads_before = set(threading.enumerate())
    server = FakeSMTP().start()
    port = server.port

    server.stop()

    assert set(threading.enumerate()) <= threads_before
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection((FakeSMTP.host, port), timeout=1).close()
