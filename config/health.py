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
        connection.ensure_connection()
        if not connection.is_usable():  # Django's own "SELECT 1" on the open connection
            connection.close()
            return "connection not usable"
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


def provider_status() -> tuple[dict[str, object], dict[str, object]]:
    """Channels whose provider refuses our account (an operator must act), and carrier filtering."""
    from messaging import provider_health

    return provider_health.problems(), provider_health.filtering()


@never_cache
@require_GET
def healthz(request: HttpRequest) -> JsonResponse:
    """200 while this service can do its work, 503 when the database or the broker is down.

    A provider refusing our credentials is an operator alert (`alerts`), not a 503: the web
    service itself is fine, and a load balancer must not take it away from families.
    """
    problems = {"database": database_status(), "broker": broker_status()}
    body: dict[str, object] = {name: "down" if problem else "ok" for name, problem in problems.items()}
    down = {name: problem for name, problem in problems.items() if problem}
    if not problems["database"]:
        refused, filtered = provider_status()
        body["providers"] = {channel: "refused" for channel in refused} or "ok"
        if refused:
            body["alerts"] = [
                f"The {channel} provider refuses our account since {problem['since']} ({problem['code']}: "
                f"{problem['detail']}). Messages wait and are retried; fix the credentials or the account."
                for channel, problem in refused.items()
            ]
        if filtered:
            body["carrier_filtered"] = filtered
    if down:
        body["detail"] = "; ".join(f"{name} is down ({problem})" for name, problem in down.items())
        return JsonResponse(body, status=503)
    return JsonResponse(body)
