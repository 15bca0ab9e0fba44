"""GET /healthz: can we reach the database and the Celery broker? For load balancers and humans."""

from __future__ import annotations

from pathlib import Path

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET


def database_status() -> str | None:
    """None when the database answers, else a short reason."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    except Exception as exc:  # noqa: BLE001 - any failure means "down"; the reason is reported
        return type(exc).__name__
    return None


def broker_status() -> str | None:
    url: str = settings.CELERY_BROKER_URL
    if url.startswith("filesystem://"):
        options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
        folder = Path(options.get("data_folder_in", settings.CELERY_FILESYSTEM_DIR / "queue"))
        try:
            folder.mkdir(parents=True, exist_ok=True)
            probe = folder / ".healthz"
            probe.write_text("ok")
            probe.unlink()
        except OSError as exc:
            return f"{type(exc).__name__}: cannot write {folder}"
        return None
    try:
        redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping()
    except redis.RedisError as exc:
        return type(exc).__name__
    return None


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    problems = {"database": database_status(), "broker": broker_status()}
    body: dict[str, object] = {name: "down" if problem else "ok" for name, problem in problems.items()}
    down = {name: problem for name, problem in problems.items() if problem}
    if down:
        body["detail"] = "; ".join(f"{name} is down ({problem})" for name, problem in down.items())
        return JsonResponse(body, status=503)
    return JsonResponse(body)
