"""GET /healthz: can we reach the database and the Celery broker? For load balancers and humans."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from config.operator import operator_alerts


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


# A message due this long ago and still not claimed means nothing is dispatching: the worker or
# beat is stuck or gone (a tick claims what is due every DISPATCH_INTERVAL_SECONDS).
OUTBOX_LATE = timedelta(minutes=2)


def outbox_late() -> tuple[int, datetime] | None:
    """(how many, the oldest due time) of the messages due over OUTBOX_LATE ago and still waiting;
    None when the outbox is keeping up. Over the partial index of scheduled rows (`outbox_due`)."""
    from messaging.models import OutboundMessage

    late = OutboundMessage.objects.filter(
        status=OutboundMessage.Status.SCHEDULED, send_at__lte=timezone.now() - OUTBOX_LATE
    )
    oldest = late.order_by("send_at").values_list("send_at", flat=True).first()
    return (late[:1000].count(), oldest) if oldest else None


def provider_status() -> tuple[dict[str, object], dict[str, object]]:
    """Channels whose provider refuses our account (an operator must act), and carrier filtering."""
    from messaging import provider_health

    return provider_health.problems(), provider_health.filtering()


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """200 while this service can do its work, 503 when the database or the broker is down.

    A provider refusing our credentials, or an outbox that nothing is sending from (a stuck worker
    or beat), is an operator alert (`alerts`, `providers`, `outbox`), not a 503: the web service
    itself is fine, and a load balancer must not take it away from families. `?strict=1` (for a
    monitor that reads only status codes) answers 503 for those too.
    """
    problems = {"database": database_status(), "broker": broker_status()}
    body: dict[str, object] = {name: "down" if problem else "ok" for name, problem in problems.items()}
    down = {name: problem for name, problem in problems.items() if problem}
    if not problems["database"]:
        alerts = []
        refused, filtered = provider_status()
        body["providers"] = {channel: "refused" for channel in refused} or "ok"
        alerts += [
            f"The {channel} provider refuses our account since {problem['since']} ({problem['code']}: "
            f"{problem['detail']}). Messages wait and are retried; fix the credentials or the account."
            for channel, problem in refused.items()
        ]
        alerts += operator_alerts()  # a sign-up cap reached, say (config.operator)
        late = outbox_late()
        body["outbox"] = "late" if late else "ok"
        if late:
            count, oldest = late
            how_many = "Over 1,000 messages" if count >= 1000 else f"{count} message{'s' if count != 1 else ''}"
            alerts.append(
                f"{how_many} due since {oldest.isoformat()} not sent yet: are the Celery worker and beat running "
                "(and the broker up)?"
            )
        if alerts:
            body["alerts"] = alerts
        if filtered:
            body["carrier_filtered"] = filtered
    if down:
        body["detail"] = "; ".join(f"{name} is down ({problem})" for name, problem in down.items())
        return JsonResponse(body, status=503)
    if "alerts" in body and request.GET.get("strict"):
        # For monitors that only see status codes: any operator alert is a 503 here.
        return JsonResponse(body, status=503)
    return JsonResponse(body)
