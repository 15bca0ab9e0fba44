import pytest


@pytest.mark.redis
def test_healthy_service_says_ok(client, settings, db):
    import os

    settings.CELERY_BROKER_URL = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
    response = client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"database": "ok", "broker": "ok", "providers": "ok", "outbox": "ok"}


def test_an_unreachable_broker_is_a_503_naming_it(client, settings, db):
    settings.CELERY_BROKER_URL = "redis://127.0.0.1:9/0"  # the discard port: nothing listens
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["database"] == "ok"
    assert body["broker"] == "down"
    assert body["detail"].startswith("broker is down")


def test_the_filesystem_broker_is_healthy_when_its_folder_is_writable(client, settings, db, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path / "queue")}
    assert client.get("/healthz").json() == {"database": "ok", "broker": "ok", "providers": "ok", "outbox": "ok"}


def test_health_is_not_cached_and_only_answers_get(client, db, settings, tmp_path):
    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path)}
    response = client.get("/healthz")
    assert "no-cache" in response["Cache-Control"]
    assert client.post("/healthz").status_code == 405


def test_a_stuck_outbox_is_an_alert_naming_what_to_check(client, db, settings, tmp_path):
    from datetime import timedelta

    from django.utils import timezone

    from tests.factories import OutboundMessageFactory

    settings.CELERY_BROKER_URL = "filesystem://"
    settings.CELERY_BROKER_TRANSPORT_OPTIONS = {"data_folder_in": str(tmp_path / "queue")}
    OutboundMessageFactory(status="scheduled", send_at=timezone.now() - timedelta(minutes=1))
    assert client.get("/healthz").json()["outbox"] == "ok"  # due, but a tick may simply not have run yet
    OutboundMessageFactory(status="scheduled", send_at=timezone.now() - timedelta(minutes=20))
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["outbox"] == "late"
    assert "1 message due since" in body["alerts"][0]
    assert "worker and beat" in body["alerts"][0]
    assert client.get("/healthz?strict=1").status_code == 503  # for monitors that read only the status
