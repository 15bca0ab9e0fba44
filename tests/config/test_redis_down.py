"""With Redis down, pages and APIs still answer: the limits lapse (config/cache.py), never a 500.

The cache here points at a port where nothing listens, as it would during a Redis outage."""

import logging
import uuid

import pytest
from rest_framework.test import APIClient
from rest_framework_api_key.models import APIKey

from content.services import library_load
from messaging import locks

DEAD_REDIS = "redis://127.0.0.1:9/0"  # the discard port: connections are refused at once


@pytest.fixture
def redis_down(settings):
    settings.CACHES = {
        "default": {
            "BACKEND": "config.cache.DegradingRedisCache",
            "LOCATION": DEAD_REDIS,
            "KEY_PREFIX": f"down-{uuid.uuid4().hex[:8]}",  # each test counts from zero
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    settings.REDIS_URL = DEAD_REDIS


def test_the_staff_login_answers_and_still_checks_the_password(client, staff_user, redis_down):
    response = client.post("/staff/login/", {"username": staff_user.username, "password": "wrong"})
    assert response.status_code == 200
    assert "password" in response.content.decode().lower()


def test_a_sign_up_goes_through_its_limits_and_says_what_is_wrong(client, clinic, redis_down):
    assert client.get(f"/join/{clinic.enrollment_code}/").status_code == 200
    response = client.post(f"/join/{clinic.enrollment_code}/", {"name": "Dana", "phone": "not a number"})
    assert response.status_code == 400  # the form again, with its errors: the limit lapsed, the page did not fail
    assert "number" in response.content.decode()


def test_the_tip_api_answers_without_its_page_cache_or_throttle(db, redis_down, caplog, monkeypatch):
    monkeypatch.setattr("config.cache._last_warning", 0.0)  # the warning is said once per 30 s
    library_load()
    _, key = APIKey.objects.create_key(name="clinic website")
    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Api-Key {key}")
    with caplog.at_level(logging.WARNING):
        first, second = api.get("/api/v1/tips/"), api.get("/api/v1/tips/")
    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json() == second.json()
    assert "Redis is unreachable" in caplog.text


def test_the_staff_api_answers(staff_user, redis_down):
    api = APIClient()
    api.force_login(staff_user)
    assert api.get("/api/v1/families/").status_code == 200


@pytest.mark.redis
def test_the_sms_rate_keeps_going_per_process_without_redis(settings, redis_down):
    settings.CELERY_BROKER_URL = DEAD_REDIS  # Redis is the broker, and it is down
    assert locks.senders_take_tokens({"clinic-1": (3, 1.0)}) == {"clinic-1": 1}
    assert locks.sender_take_token("clinic-2", rate=1.0) == 0.0


def test_the_login_limit_still_holds_in_each_process_while_redis_is_down(client, staff_user, redis_down, settings):
    answers = [
        client.post("/staff/login/", {"username": staff_user.username, "password": f"guess-{n}"}).status_code
        for n in range(settings.STAFF_LOGIN_FAILURES_PER_USERNAME + 1)
    ]
    assert answers[-1] == 429
    assert set(answers[:-1]) == {200}


def test_sign_up_codes_to_one_number_are_still_limited_while_redis_is_down(db, clinic, redis_down, settings):
    from caregiver import services
    from caregiver.models import Caregiver

    caregiver = services.caregiver_create(clinic=clinic, name="Dana", phone="+12025550138")
    tries = settings.CONFIRMATIONS_PER_ADDRESS_PER_HOUR + 1
    refused = 0
    for _ in range(tries):
        try:
            services.confirmation_start(caregiver=caregiver, channel="sms", source="web", consent_text_version="v1")
        except services.RateLimited:
            refused += 1
    assert refused == 1
    assert Caregiver.objects.get(pk=caregiver.pk).confirmations.count() == tries - 1


def test_the_login_limit_counts_across_the_threads_of_a_process(client, staff_user, redis_down, settings):
    """runserver and gthread serve each request on a thread of its own, each with its own cache object."""
    import threading

    def guess(n: int, answers: list[int]) -> None:
        from django.test import Client

        answers.append(
            Client().post("/staff/login/", {"username": staff_user.username, "password": f"g{n}"}).status_code
        )

    answers: list[int] = []
    for n in range(settings.STAFF_LOGIN_FAILURES_PER_USERNAME + 1):
        thread = threading.Thread(target=guess, args=(n, answers))
        thread.start()
        thread.join()
    assert answers[-1] == 429
