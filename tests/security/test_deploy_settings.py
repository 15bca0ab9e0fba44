"""`manage.py check --deploy` against production settings, as an operator would run it.

Each run is a fresh interpreter with only the environment given here (nothing from this test
run's own settings). The weakened runs show that the check would notice: a passing deploy check
is not just a check that looks at nothing.
"""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def production_env(**changes: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_", "REDIS_", "CELERY_"))}
    env.update(
        DJANGO_SECRET_KEY=secrets.token_urlsafe(48),  # 64 random characters
        DJANGO_ALLOWED_HOSTS="alongside.example.org",
        PUBLIC_BASE_URL="https://alongside.example.org",
        DATABASE_URL="postgres://alongside:pw@db.example.org:5432/alongside",
        REDIS_URL="redis://cache.example.org:6379/0",
        TWILIO_ACCOUNT_SID="AC" + secrets.token_hex(16),
        TWILIO_AUTH_TOKEN=secrets.token_hex(16),
        EMAIL_URL="smtp+tls://alongside:pw@smtp.example.org:587",
        DEFAULT_FROM_EMAIL="Alongside <hello@alongside.example.org>",
        OPERATOR_EMAILS="ops@alongside.example.org",
        ANYMAIL_WEBHOOK_SECRET="provider:" + secrets.token_hex(16),
        TRUSTED_PROXY_IPS="10.0.0.0/8",
    )
    env.update(changes)
    return env


def deploy_check(**changes: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING",
         "--settings=config.settings.production"],
        cwd=ROOT, env=production_env(**changes), capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_deploy_check_passes_with_nothing_silenced():
    run = deploy_check()
    assert run.returncode == 0, run.stdout + run.stderr
    assert "System check identified no issues (0 silenced)." in run.stdout


@pytest.mark.parametrize(
    ("changes", "warning"),
    [
        ({"DJANGO_SECRET_KEY": "x" * 60}, "security.W009"),  # long, but not random
        ({"DJANGO_SECURE_SSL_REDIRECT": "false"}, "security.W008"),
        ({"DJANGO_SECURE_HSTS_SECONDS": "0"}, "security.W004"),
        ({"TRUSTED_PROXY_IPS": ""}, "portal.W001"),  # behind a proxy: a redirect loop, one shared address
    ],
    ids=["weak secret key", "no https redirect", "no hsts", "no trusted proxy"],
)
def test_the_deploy_check_notices_a_weakened_setting(changes, warning):
    run = deploy_check(**changes)
    assert run.returncode != 0
    assert warning in run.stderr + run.stdout


def test_debug_cannot_be_switched_on_in_production():
    code = "import django; from django.conf import settings as s; django.setup(); print(s.DEBUG)"
    run = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=production_env(DJANGO_DEBUG="true", DJANGO_SETTINGS_MODULE="config.settings.production"),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False"
