"""Settings as a newcomer and an operator meet them, checked in a fresh interpreter each time."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from celery import current_app

ROOT = Path(__file__).resolve().parents[2]


def _settings(module: str, expressions: str, **env: str) -> subprocess.CompletedProcess:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_"))}
    clean.update(env, DJANGO_SETTINGS_MODULE=module)
    code = (
        "import json, django\nfrom django.conf import settings as s\ndjango.setup()\n"
        f"print(json.dumps({expressions}, default=str))"
    )
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, env=clean, capture_output=True, text=True, timeout=60, check=False
    )


def test_without_database_url_the_service_uses_sqlite_in_wal_mode():
    run = _settings("config.settings.local", "s.DATABASES['default']")
    assert run.returncode == 0, run.stderr
    database = json.loads(run.stdout)
    assert database["ENGINE"] == "django.db.backends.sqlite3"
    assert "journal_mode=WAL" in database["OPTIONS"]["init_command"]
    assert database["OPTIONS"]["timeout"] >= 5


def test_without_redis_celery_falls_back_to_a_filesystem_queue_and_says_so():
    run = _settings("config.settings.local", "s.CELERY_BROKER_URL", REDIS_URL="redis://127.0.0.1:9/0")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == "filesystem://"
    assert "Celery broker: filesystem queue" in run.stderr
    assert "is not reachable" in run.stderr


def test_production_refuses_to_start_without_its_secrets():
    run = _settings("config.settings.production", "s.DEBUG")
    assert run.returncode != 0
    assert "Set the DJANGO_SECRET_KEY environment variable" in run.stderr


PRODUCTION_SECRETS = {
    "DJANGO_SECRET_KEY": "x" * 60,
    "DJANGO_ALLOWED_HOSTS": "alongside.example.org",
    "PUBLIC_BASE_URL": "https://alongside.example.org",
    "DATABASE_URL": "postgres://u:p@db.example.org:5432/alongside",
    "REDIS_URL": "redis://cache.example.org:6379/0",
    "TWILIO_ACCOUNT_SID": "AC" + "0" * 32,
    "TWILIO_AUTH_TOKEN": "t" * 32,
    "EMAIL_URL": "smtp+tls://user:pw@smtp.example.org:587",
    "DEFAULT_FROM_EMAIL": "hello@alongside.example.org",
    "OPERATOR_EMAILS": "ops@alongside.example.org",
    "ANYMAIL_WEBHOOK_SECRET": "provider:" + "w" * 32,
}


def test_production_starts_with_every_secret_given():
    run = _settings(
        "config.settings.production",
        "[s.DEBUG, s.SMS_BACKEND, s.SESSION_COOKIE_SECURE, s.EMAIL_HOST]",
        **PRODUCTION_SECRETS,
    )
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == [False, "twilio", True, "smtp.example.org"]


@pytest.mark.parametrize("missing", PRODUCTION_SECRETS)
def test_production_refuses_to_start_without_any_one_of_its_secrets(missing):
    given = {name: value for name, value in PRODUCTION_SECRETS.items() if name != missing}
    run = _settings("config.settings.production", "s.DEBUG", **given)
    assert run.returncode != 0
    assert f"Set the {missing} environment variable" in run.stderr


def test_celery_speaks_json_and_limits_every_task():
    conf = current_app.conf
    assert conf.task_serializer == "json"
    assert conf.accept_content == ["json"]
    assert conf.task_time_limit
    assert conf.task_soft_time_limit < conf.task_time_limit
    assert conf.task_acks_late is True


def test_production_names_its_cache_and_broker_and_never_probes_for_them():
    """Before, base.py asked Redis at import: a Redis down while production started left every rate
    limit in per-process memory for the life of the process (20 workers, 20 separate limits)."""
    unreachable = {**PRODUCTION_SECRETS, "REDIS_URL": "redis://127.0.0.1:9/0"}
    run = _settings("config.settings.production", "[s.CACHES['default'], s.CELERY_BROKER_URL]", **unreachable)
    assert run.returncode == 0, run.stderr
    cache, broker = json.loads(run.stdout)
    assert cache["BACKEND"] == "config.cache.DegradingRedisCache"
    assert cache["LOCATION"] == broker == "redis://127.0.0.1:9/0"


def test_production_refuses_a_broker_that_is_not_redis():
    run = _settings("config.settings.production", "s.DEBUG", **PRODUCTION_SECRETS, CELERY_BROKER_URL="filesystem://")
    assert run.returncode != 0
    assert "CELERY_BROKER_URL must be a redis:// or rediss:// URL in production" in run.stderr


def test_the_tests_take_redis_from_the_environment_without_asking_it():
    run = _settings("config.settings.test", "s.CACHES['default']['LOCATION']", REDIS_URL="redis://127.0.0.1:9/3")
    assert run.returncode == 0, run.stderr
    assert json.loads(run.stdout) == "redis://127.0.0.1:9/3"
