"""What the provider tells us about what we sent: status callbacks, moved forward only."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

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
    if error_code == "21610" and message.kind != OutboundMessage.Kind.ALERT and message.caregiver_id is not None:
        caregiver_services.caregiver_opt_out(
            caregiver=message.caregiver, channel=ConsentRecord.Channel.SMS, source=ConsentRecord.Source.SMS
        )
    return "updated" if moved else "unchanged"


def _move_forward(*, message_id: int | None, message_sid: str, target: str, error_code: str, now: datetime) -> bool:
    """The status moves only to a higher rank (or out of sending), and only on the message whose
    SID matches, or that has none yet (the callback beat our record of the send: then it leaves
    the SID and the send time). True if it moved.

    One plain UPDATE in the usual case (the row has its SID); a second only when that matched
    nothing. Safe to run twice (Twilio retries a callback it got no answer to): the second run
    finds the status already there and changes nothing.
    """
    rank = OutboundMessage.RANK[target]
    allowed_from = [s for s, r in OutboundMessage.RANK.items() if r < rank] + [Status.SENDING]
    rows = OutboundMessage.objects.filter(status__in=allowed_from)
    if message_id:
        rows = rows.filter(pk=message_id)
    changes: dict[str, Any] = {"status": target, "updated_at": now, "lease_expires_at": None}
    if target == Status.DELIVERED:
        changes["delivered_at"] = now
    if error_code:
        changes["error_code"] = error_code
    if not message_sid:
        return rows.update(**changes) > 0
    if rows.filter(provider_id=message_sid).update(**changes):
        return True
    # Our id rode in the callback's URL and the row has no SID yet: the callback beat our record.
    return bool(message_id) and rows.filter(provider_id="").update(**changes, provider_id=message_sid, sent_at=now) > 0
