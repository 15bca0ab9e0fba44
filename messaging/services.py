"""Messages sent because something just happened (a welcome, a confirmation), not on a schedule."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction
from django.utils import timezone

from caregiver.models import Caregiver, ChannelConfirmation, ConsentRecord
from caregiver.selectors import address_of, caregiver_consent
from caregiver.tokens import address_fingerprint

from . import rendering, timing
from .models import OutboundMessage


def message_enqueue_now(
    *,
    caregiver: Caregiver,
    channel: str,
    kind: str,
    template_key: str,
    context: dict[str, str],
    dedupe_key: str,
    to: str,
    send_at: datetime | None = None,
) -> OutboundMessage | None:
    """Put one message in the outbox, due now (or at `send_at`); the dispatcher sends it when due.
    None if it exists.

    `to`: the address it is for (the one being confirmed, the one just confirmed). If the caregiver's
    address changes before it goes, it is not sent to the new one (sending: `address_changed`).
    """
    body = rendering.template_body(key=template_key, channel=channel, context=context, caregiver=caregiver)
    message, created = OutboundMessage.objects.get_or_create(
        dedupe_key=dedupe_key,
        defaults={
            "caregiver": caregiver, "channel": channel, "kind": kind, "body": body.text, "to": to,
            "subject": body.subject, "html": body.html, "send_at": send_at or timezone.now(),
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
        # One welcome per address: a new number or email, once confirmed, is welcomed too.
        changed = caregiver.phone_since if channel == "sms" else caregiver.email_since
        key = f"welcome:{caregiver.pk}:{channel}"
        if changed is not None:
            key += f":{address_fingerprint(address_of(caregiver, channel))}"
        message = message_enqueue_now(
            caregiver=caregiver,
            channel=channel,
            kind=OutboundMessage.Kind.CONFIRMATION,
            template_key="welcome",
            context=context,
            dedupe_key=key,
            to=address_of(caregiver, channel),
        )
        made += message is not None
    return made


@transaction.atomic
def confirmation_send(*, confirmation_id: int, code: str) -> OutboundMessage | None:
    """Put a confirmation (an SMS code, a YES invitation or an email link) in the outbox, due now.

    The only message a pending caregiver can get. Its dedupe key is the confirmation, so a
    repeated signal sends nothing twice; a new request is a new confirmation.
    """
    confirmation = ChannelConfirmation.objects.select_related("caregiver__clinic").filter(pk=confirmation_id).first()
    if confirmation is None or confirmation.confirmed_at is not None:
        return None
    caregiver = confirmation.caregiver
    names = " and ".join(caregiver.loved_ones.order_by("first_name").values_list("first_name", flat=True))
    context = rendering.base_context(caregiver, caregiver.clinic, names)
    Method = ChannelConfirmation.Method
    if confirmation.method == Method.CODE:
        template_key, context["code"] = "confirmation-code", code
        send_at = None
    elif confirmation.method == Method.REPLY:
        template_key = "enrollment-invite"
        send_at = None
        if confirmation.source == ConsentRecord.Source.STAFF:
            # Nobody is waiting on a page for this one: staff enrolled them, perhaps late in the
            # evening. It goes in the caregiver's waking hours, not at 11 pm.
            send_at = timing.next_allowed(caregiver, timezone.now())
    else:
        template_key, context["confirm_url"] = "email-confirmation", rendering.email_confirm_url(confirmation.pk)
        send_at = None
    message = message_enqueue_now(
        caregiver=caregiver,
        channel=confirmation.channel,
        kind=OutboundMessage.Kind.CONFIRMATION,
        template_key=template_key,
        context=context,
        dedupe_key=f"confirm:{confirmation.pk}",
        to=confirmation.address,
        send_at=send_at,
    )
    if message is not None:
        confirmations_unsent_cancel(caregiver=caregiver, channel=confirmation.channel, keep=message)
    return message


def confirmations_unsent_cancel(*, caregiver: Caregiver, channel: str, keep: OutboundMessage) -> int:
    """Cancel the caregiver's older codes, invitations and links on `channel` that are not sent yet.

    Only the newest works, so an older one still waiting (behind the sender's rate limit, say) must
    never arrive after it. One a worker has claimed already is checked again just before it goes
    (sending: `superseded`). A cancelled code is masked at once, like a sent one.
    """
    now = timezone.now()
    older = list(
        OutboundMessage.objects.select_for_update()
        .filter(
            caregiver=caregiver,
            channel=channel,
            kind=OutboundMessage.Kind.CONFIRMATION,
            dedupe_key__startswith="confirm:",
            status=OutboundMessage.Status.SCHEDULED,
        )
        .exclude(pk=keep.pk)
    )
    for message in older:
        message.status, message.status_reason, message.updated_at = OutboundMessage.Status.CANCELLED, "superseded", now
        message.body, message.html = rendering.redact_codes(message.body), rendering.redact_codes(message.html)
    OutboundMessage.objects.bulk_update(older, ["status", "status_reason", "updated_at", "body", "html"])
    return len(older)


def already_signed_up_send(*, caregiver_id: int, channel: str) -> OutboundMessage | None:
    """Someone signed up this caregiver's number or email again: tell its owner, instead of a code.

    Like a code, it goes without consent (asked for), but never to an address that said stop.
    The sign-up page looked the same as for a new sign-up, so only the owner learns of it.
    """
    caregiver = Caregiver.objects.select_related("clinic").filter(pk=caregiver_id).first()
    if caregiver is None or not address_of(caregiver, channel):
        return None
    context = rendering.base_context(caregiver, caregiver.clinic, "")
    return message_enqueue_now(
        caregiver=caregiver,
        channel=channel,
        kind=OutboundMessage.Kind.CONFIRMATION,
        template_key="already-signed-up",
        context=context,
        dedupe_key=f"already:{caregiver.pk}:{channel}:{timezone.now().timestamp():.6f}",
        to=address_of(caregiver, channel),
    )


def outbox_appointments_merge(*, pairs: list[tuple[int, int]]) -> int:
    """Two families merged, and each pair (a, b) is one visit entered twice: a's outbox rows
    become b's (appointment and dedupe key), so the planner finds the reminders and notices
    already planned or sent for it and plans none twice. A row b already has stays with a (it is
    cancelled with a). Returns how many rows moved."""
    moved = 0
    for duplicate_id, same_id in pairs:
        for message in OutboundMessage.objects.select_for_update().filter(appointment_id=duplicate_id):
            parts = message.dedupe_key.split(":")
            where = {"reminder": 1, "notice": 2}.get(parts[0])
            if where is None or len(parts) <= where or parts[where] != str(duplicate_id):
                continue
            parts[where] = str(same_id)
            key = ":".join(parts)
            if OutboundMessage.objects.filter(dedupe_key=key).exists():
                continue
            message.appointment_id, message.dedupe_key = same_id, key
            message.save(update_fields=["appointment", "dedupe_key", "updated_at"])
            moved += 1
    return moved
