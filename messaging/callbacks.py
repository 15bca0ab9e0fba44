"""What the provider tells us about what we sent: status callbacks, moved forward only."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import psycopg
from django.db import InterfaceError, OperationalError, connection
from django.utils import timezone

from caregiver import services as caregiver_services
from caregiver.models import ConsentRecord

from . import provider_health
from .models import OutboundMessage
from .providers.twilio import CARRIER_FILTERED

logger = logging.getLogger(__name__)
Status = OutboundMessage.Status

CALLBACK_STATUS = {
    "sent": Status.SENT,
    "delivered": Status.DELIVERED,
    "undelivered": Status.UNDELIVERED,
    "failed": Status.FAILED,
    "read": Status.DELIVERED,
}


def status_callback_record(*, message_id: int | None, message_sid: str, status: str, error_code: str = "") -> str:
    """Move a message forward per the provider's callback. Out-of-order and repeated callbacks are harmless.

    One conditional UPDATE in the usual case (_move_forward); the row is read only when that
    changed nothing, to say why, or to act on an opt-out error.
    """
    target = CALLBACK_STATUS.get(status.lower())
    if target is None:
        return "ignored"  # queued, accepted, sending: nothing we do not know already
    if not message_id and not message_sid:
        return "unknown"  # nothing to find the message by
    now = timezone.now()
    moved = _move_forward(message_id=message_id, message_sid=message_sid, target=target, error_code=error_code, now=now)
    if moved and error_code == CARRIER_FILTERED:
        provider_health.filtered(channel="sms")
    if moved and error_code != "21610":
        return "updated"
    rows = (
        OutboundMessage.objects.filter(pk=message_id)
        if message_id
        else OutboundMessage.objects.filter(provider_id=message_sid)
    )
    message = rows.only("provider_id", "kind", "caregiver_id").order_by("pk").first()
    if message is None or (message.provider_id and message_sid and message.provider_id != message_sid):
        return "unknown"
    if not moved:
        # Already this far or further; a callback that beat our record of the send still leaves its SID.
        OutboundMessage.objects.filter(pk=message.pk, provider_id="").update(provider_id=message_sid, sent_at=now)
    if error_code == "21610" and message.kind != OutboundMessage.Kind.ALERT:
        caregiver_services.caregiver_opt_out(
            caregiver=message.caregiver, channel=ConsentRecord.Channel.SMS, source=ConsentRecord.Source.SMS
        )
    return "updated" if moved else "unchanged"


def _move_forward(*, message_id: int | None, message_sid: str, target: str, error_code: str, now: datetime) -> bool:
    """One UPDATE: the status moves only to a higher rank (or out of sending), and only on the
    message whose SID matches, or that has none yet (the callback beat our record of the send:
    then it leaves the SID and the send time). True if it moved."""
    rank = OutboundMessage.RANK[target]
    allowed_from = [s for s, r in OutboundMessage.RANK.items() if r < rank] + [Status.SENDING]
    params = {"target": target, "now": connection.ops.adapt_datetimefield_value(now), "sid": message_sid}
    sets = [
        "status = %(target)s", "updated_at = %(now)s", "lease_expires_at = NULL",
        "provider_id = CASE WHEN provider_id = '' THEN %(sid)s ELSE provider_id END",
        "sent_at = CASE WHEN provider_id = '' THEN %(now)s ELSE sent_at END",
    ]  # fmt: skip
    if target == Status.DELIVERED:
        sets.append("delivered_at = %(now)s")
    if error_code:
        sets.append("error_code = %(error_code)s")
        params["error_code"] = error_code
    where = ["status IN ({})".format(", ".join(f"%(from_{n})s" for n in range(len(allowed_from))))]
    params.update({f"from_{n}": status for n, status in enumerate(allowed_from)})
    if message_id:
        where.append("id = %(id)s")
        params["id"] = message_id
        if message_sid:
            where.append("provider_id IN (%(sid)s, '')")
    else:
        where.append("provider_id = %(sid)s")
    sql = f"UPDATE {OutboundMessage._meta.db_table} SET {', '.join(sets)} WHERE {' AND '.join(where)}"  # noqa: S608
    return _execute(sql, params, one_row=False) > 0


def _execute(sql: str, params: dict[str, object], *, one_row: bool) -> Any:
    """Run one of the webhooks' statements: its first row if `one_row`, else its row count.

    On PostgreSQL each is prepared once per connection: planning them costs the server more than
    running them, and Django's cursors bind parameters on the client, so nothing would ever be
    prepared. Outside a transaction the connection's health check is a retry instead: Django's
    (CONN_HEALTH_CHECKS) costs a round trip to the server before the statement, and every statement
    here may safely run twice (an insert that does nothing on conflict, an update that only moves a
    status forward), so it goes straight out and, should the connection prove dead (the server
    restarted, a proxy dropped it), goes again once on a new one.
    """
    if connection.vendor != "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchone() if one_row else cursor.rowcount
    # In a transaction (the keyword path) Django checked the connection as the transaction began.
    retry = not connection.in_atomic_block
    if retry:
        connection.health_check_done = True
    attempts = 2 if retry else 1
    while True:
        attempts -= 1
        connection.ensure_connection()
        try:
            with connection.wrap_database_errors, psycopg.Cursor(connection.connection) as cursor:
                cursor.execute(sql, params, prepare=True)
                return cursor.fetchone() if one_row else cursor.rowcount
        except (OperationalError, InterfaceError):
            if not attempts or connection.is_usable():
                raise
            logger.warning("the database connection was lost; running the statement again on a new one")
            connection.close()
