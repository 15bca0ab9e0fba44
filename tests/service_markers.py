"""`@pytest.mark.postgres`, `redis` and `browser`: a test that needs a real service or program.

Without the service a developer's run skips such a test and says why; in CI (CI=true) the
same test fails, so a missing service can never turn a red build green.
"""

from __future__ import annotations

import os
import socket
from urllib.parse import urlparse

import pytest


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def _accepts_connections(url: str, default_port: int) -> bool:
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "localhost", parsed.port or default_port), timeout=1):
            return True
    except OSError:
        return False


def postgres_problem() -> str | None:
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://", "pgsql://")):
        return "needs PostgreSQL: set DATABASE_URL=postgres://..."
    if not _accepts_connections(url, 5432):
        return f"needs PostgreSQL, but nothing answers at {urlparse(url).hostname}:{urlparse(url).port or 5432}"
    return None


def redis_problem() -> str | None:
    url = os.environ.get("REDIS_URL", "redis://localhost:6379/0")
    if not _accepts_connections(url, 6379):
        return f"needs Redis, but nothing answers at {urlparse(url).hostname}:{urlparse(url).port or 6379}"
    return None


CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")


def browser_problem() -> str | None:
    if not os.access(CHROMIUM, os.X_OK):
        return f"needs Chromium at {CHROMIUM}: apt-get install chromium (or set CHROMIUM_PATH)"
    try:
        import playwright  # noqa: F401
    except ImportError:
        return "needs Playwright for Python: make install"
    return None


_CHECKS = {"postgres": postgres_problem, "redis": redis_problem, "browser": browser_problem}


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item: pytest.Item) -> None:
    for name, check in _CHECKS.items():
        if item.get_closest_marker(name) is None:
            continue
        problem = check()
        if problem is None:
            continue
        if in_ci():
            pytest.fail(f"{problem} (CI=true: a missing service is a failure)", pytrace=False)
        pytest.skip(f"{problem} (runs in CI)")
