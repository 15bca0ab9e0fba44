"""Who is asking, behind a reverse proxy: config.middleware.TrustedProxyMiddleware.

gunicorn sees only the proxy's address. Before, every per-address limit was one limit for the
whole service: 20 failed sign-ins from anyone locked every staff member out, and 20 sign-ups an
hour filled the service. Only a proxy in TRUSTED_PROXY_IPS may name the client now.
"""

from __future__ import annotations

import pytest
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse
from django.test import Client
from hypothesis import given
from hypothesis import strategies as st

from config.middleware import TrustedProxyMiddleware, forwarded_client
from tests.security.test_rate_limits import PASSWORD

PROXY = "10.0.0.5"


@pytest.fixture
def behind_proxy(settings):
    settings.TRUSTED_PROXY_IPS = ["10.0.0.0/8", "fd00::/8"]
    return settings


def via_proxy(path: str, data: dict, *, client_ip: str, forwarded_for: str | None = None):
    return Client().post(
        path, data, REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR=forwarded_for or client_ip, HTTP_X_FORWARDED_PROTO="https"
    )


def seen(**meta) -> HttpRequest:
    request = HttpRequest()
    request.META.update(meta)
    TrustedProxyMiddleware(lambda r: HttpResponse())(request)
    return request


def test_behind_our_proxy_one_clients_wrong_passwords_do_not_lock_out_another(staff_user, behind_proxy):
    behind_proxy.STAFF_AUTH_FAILURES_PER_IP = 20
    for n in range(21):
        via_proxy("/staff/login/", {"username": f"guess{n}", "password": "x"}, client_ip="198.51.100.7")
    assert (
        via_proxy("/staff/login/", {"username": "dana", "password": PASSWORD}, client_ip="198.51.100.7").status_code
        == 429
    )
    signed_in = via_proxy("/staff/login/", {"username": "dana", "password": PASSWORD}, client_ip="203.0.113.9")
    assert signed_in["Location"] == "/staff/"


def test_a_client_cannot_name_another_address_through_the_proxy(staff_user, behind_proxy):
    behind_proxy.STAFF_AUTH_FAILURES_PER_IP = 3
    # nginx appends the address it saw: whatever the client wrote to the left is not believed.
    for n in range(3):
        via_proxy(
            "/staff/login/", {"username": f"g{n}", "password": "x"},
            client_ip="", forwarded_for=f"192.0.2.{n}, 198.51.100.7",
        )  # fmt: skip
    assert (
        via_proxy("/staff/login/", {"username": "dana", "password": PASSWORD}, client_ip="198.51.100.7").status_code
        == 429
    )


def test_a_peer_that_is_not_our_proxy_cannot_claim_an_address_or_https(behind_proxy):
    request = seen(REMOTE_ADDR="203.0.113.50", HTTP_X_FORWARDED_FOR="192.0.2.1", HTTP_X_FORWARDED_PROTO="https")
    assert request.META["REMOTE_ADDR"] == "203.0.113.50"
    assert "HTTP_X_FORWARDED_FOR" not in request.META
    assert "HTTP_X_FORWARDED_PROTO" not in request.META


def test_without_trusted_proxies_forwarded_headers_are_ignored(settings):
    settings.TRUSTED_PROXY_IPS = []
    request = seen(REMOTE_ADDR="127.0.0.1", HTTP_X_FORWARDED_FOR="192.0.2.1", HTTP_FORWARDED="for=192.0.2.1")
    assert request.META["REMOTE_ADDR"] == "127.0.0.1"
    assert "HTTP_FORWARDED" not in request.META


def test_our_proxy_may_say_https(behind_proxy):
    behind_proxy.SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    ours = seen(REMOTE_ADDR=PROXY, HTTP_X_FORWARDED_FOR="198.51.100.7", HTTP_X_FORWARDED_PROTO="https")
    theirs = seen(REMOTE_ADDR="198.51.100.8", HTTP_X_FORWARDED_PROTO="https")
    assert ours.is_secure()
    assert not theirs.is_secure()
    assert ours.META["REMOTE_ADDR"] == "198.51.100.7"


def test_a_chain_of_our_proxies_is_walked_back_to_the_client():
    trusted = ["10.0.0.0/8", "fd00::/8"]
    assert forwarded_client(peer=PROXY, forwarded_for="1.2.3.4, 198.51.100.7, 10.1.1.1", trusted_proxies=trusted) == (
        "198.51.100.7"
    )
    assert forwarded_client(peer="fd00::1", forwarded_for="2001:db8::5", trusted_proxies=trusted) == "2001:db8::5"
    # A proxy that forwarded nothing, or garbage: the proxy itself, never a made-up address.
    assert forwarded_client(peer=PROXY, forwarded_for="", trusted_proxies=trusted) == PROXY
    assert forwarded_client(peer=PROXY, forwarded_for="not-an-ip", trusted_proxies=trusted) == PROXY
    # Proxies that write the client's port (found by the outside tester: all were counted as the proxy).
    assert forwarded_client(peer=PROXY, forwarded_for="198.51.100.7:443", trusted_proxies=trusted) == "198.51.100.7"
    assert forwarded_client(peer=PROXY, forwarded_for="[2001:db8:9:9::1]:443", trusted_proxies=trusted) == (
        "2001:db8:9:9::1"
    )


@given(
    written=st.lists(st.ip_addresses().map(str), max_size=4),
    client=st.ip_addresses(v=4).filter(lambda ip: not ip.is_private).map(str),
)
def test_whatever_a_client_writes_the_address_our_proxy_saw_wins(written, client):
    chain = ", ".join([*written, client])
    assert forwarded_client(peer=PROXY, forwarded_for=chain, trusted_proxies=["10.0.0.0/8"]) == client


def test_a_malformed_trusted_proxy_setting_stops_the_start(monkeypatch):
    import importlib

    import config.settings.base as base

    monkeypatch.setenv("TRUSTED_PROXY_IPS", "10.0.0.0/8,nginx")
    with pytest.raises(ImproperlyConfigured, match="'nginx' is not an address"):
        importlib.reload(base)
    monkeypatch.delenv("TRUSTED_PROXY_IPS")
    importlib.reload(base)
