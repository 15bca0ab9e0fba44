"""Messages sent because something just happened (a welcome, a confirmation), not on a schedule."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from caregiver.models import Caregiver
from caregiver.selectors import caregiver_consent

from . import rendering
from .models import OutboundMessage


def message_enqueue_now(
    *, caregiver: Caregiver, channel: str, kind: str, template_key: str, context: dict[str, str], dedupe_key: str
) -> OutboundMessage | None:
    """Put one message in the outbox, due now; the next dispatcher tick sends it. None if it exists."""
    body = rendering.template_body(key=template_key, channel=channel, context=context, caregiver=caregiver)
    message, created = OutboundMessage.objects.get_or_create(
        dedupe_key=dedupe_key,
        defaults={
            "caregiver": caregiver, "channel": channel, "kind": kind, "body": body.text,
            "subject": body.subject, "html": body.html, "send_at": timezone.now(),
        },
    )  # fmt: skip
    return message if created else None


@transaction.atomic
def welcome_enqueue(*, caregiver_id: int) -> int:
    """Once a channel is confirmed, one welcome on it: what comes next and how to stop."""
    caregiver = Caregiver.objects.select_related("clinic").filter(pk=caregiver_id).first()
    if caregiver is None or caregiver.status != Caregiver.Status.ACTIVE:
        return 0
    names = " and ".join(caregiver.loved_ones.order_by("first_name").values_list("first_name", flat=True))
    context = rendering.base_context(caregiver, caregiver.clinic, names)
    made = 0
    for channel, opted_in in caregiver_consent(caregiver=caregiver).items():
        if not opted_in:
            continue
        message = message_enqueue_now(
            caregiver=caregiver,
            channel=channel,
            kind=OutboundMessage.Kind.CONFIRMATION,
            template_key="welcome",
            context=context,
            dedupe_key=f"welcome:{caregiver.pk}:{channel}",
        )
        made += message is not None
    return made
