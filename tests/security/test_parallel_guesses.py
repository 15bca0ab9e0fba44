"""Guesses sent side by side: each is counted before it is checked.

The outside tester sent 39 wrong passwords and the right one at once: all 40 were checked (the
limit is 5), and the right one signed in. Checking first and counting after let every guess in
flight through. A guess is now counted before it is checked, and a right one taken back.
"""

from __future__ import annotations

import contextlib
import threading
from concurrent.futures import ThreadPoolExecutor

import pytest
from django.contrib.auth.backends import ModelBackend
from django.db import connections
from django.test import Client

from tests.security.test_rate_limits import PASSWORD

IN_FLIGHT = 12


class SlowBackend(ModelBackend):
    """Every password check waits for the others, so all that get this far are in flight together."""

    barrier: threading.Barrier
    checked: list[str] = []

    def authenticate(self, request, username=None, password=None, **kwargs):
        SlowBackend.checked.append(password)
        # Fewer than IN_FLIGHT ever get here when the limit stops the rest: the wait gives up.
        with contextlib.suppress(threading.BrokenBarrierError):
            SlowBackend.barrier.wait()
        return super().authenticate(request, username=username, password=password, **kwargs)


def _log_in(password: str) -> int:
    try:
        response = Client().post(
            "/staff/login/", {"username": "dana", "password": password}, REMOTE_ADDR="198.51.100.77"
        )
        return response.status_code
    finally:
        connections.close_all()


@pytest.mark.django_db(transaction=True)
def test_passwords_sent_side_by_side_are_limited_and_the_right_one_cannot_be_confirmed(staff_user, settings):
    settings.STAFF_LOGIN_FAILURES_PER_USERNAME = 5
    settings.AUTHENTICATION_BACKENDS = [f"{__name__}.SlowBackend"]
    SlowBackend.barrier = threading.Barrier(IN_FLIGHT, timeout=2)
    SlowBackend.checked = []
    guesses = [f"wrong-{n}" for n in range(IN_FLIGHT - 1)] + [PASSWORD]
    with ThreadPoolExecutor(max_workers=IN_FLIGHT) as pool:
        answers = dict(zip(guesses, pool.map(_log_in, guesses), strict=True))
    assert len(SlowBackend.checked) <= 5
    assert sum(status == 429 for status in answers.values()) >= IN_FLIGHT - 5
    if PASSWORD not in SlowBackend.checked:
        assert answers[PASSWORD] == 429


def test_a_right_password_is_taken_back_so_the_owner_keeps_every_try(staff_user, settings):
    settings.STAFF_LOGIN_FAILURES_PER_USERNAME = 3
    for _ in range(5):  # signing in again and again counts nothing
        assert Client().post("/staff/login/", {"username": "dana", "password": PASSWORD})["Location"] == "/staff/"
    for _ in range(2):
        Client().post("/staff/login/", {"username": "dana", "password": "wrong"})
    assert Client().post("/staff/login/", {"username": "dana", "password": PASSWORD})["Location"] == "/staff/"


@pytest.mark.django_db(transaction=True)
def test_clinic_code_guesses_are_counted_before_they_are_looked_up(clinic, settings):
    settings.JOIN_CODE_MISSES_PER_IP_PER_HOUR = 3
    guesser = Client(REMOTE_ADDR="198.51.100.78")
    assert [guesser.get(f"/join/WRONG{n}XYZ/").status_code for n in range(3)] == [404] * 3
    # Past the limit even the right code is refused: a guess cannot be confirmed.
    assert guesser.get(f"/join/{clinic.enrollment_code}/").status_code == 429
    # Right codes are taken back: a family opening its link again and again is never counted.
    family = Client(REMOTE_ADDR="198.51.100.79")
    assert {family.get(f"/join/{clinic.enrollment_code}/").status_code for _ in range(5)} == {200}


@pytest.mark.parametrize(
    ("first", "same_host", "elsewhere"),
    [
        ("2001:db8:77:77::1", "2001:db8:77:77:ffff::9", "2001:db8:77:78::1"),
        ("::ffff:198.51.100.80", "198.51.100.80", "198.51.100.81"),
    ],
)
def test_an_ipv6_host_counts_as_its_whole_64_network(clinic, settings, first, same_host, elsewhere):
    settings.JOIN_CODE_MISSES_PER_IP_PER_HOUR = 2
    assert Client(REMOTE_ADDR=first).get("/join/WRONG1XYZ/").status_code == 404
    assert Client(REMOTE_ADDR=first).get("/join/WRONG2XYZ/").status_code == 404
    # Another address of the same host (another of its /64's, or its IPv4 written as IPv6) is the same.
    assert Client(REMOTE_ADDR=same_host).get("/join/WRONG3XYZ/").status_code == 429
    assert Client(REMOTE_ADDR=elsewhere).get("/join/WRONG4XYZ/").status_code == 404
