"""Sign-ups nobody confirmed: replaced by a new sign-up or a staff enrollment with the same
number or email, and deleted after SIGN_UP_EXPIRY_DAYS.

A number typed on our sign-up page proves nothing until its code is typed back. Such a record
must never block the number's owner (signing up again) or the clinic (enrolling them), and the
page must never say whether a number is enrolled: `caregiver_sign_up` shows every sign-up the
same page, and the owner of an address that is already signed up is told so instead of sent a code.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from .. import selectors
from ..models import Caregiver, Clinic, LovedOne
from ..signals import already_signed_up, sign_up_discarding


def caregiver_sign_up_discard(*, caregiver: Caregiver) -> None:
    """Delete a sign-up nobody confirmed, with the family it made (if nobody else is in it)."""
    loved_one_ids = list(caregiver.links.values_list("loved_one_id", flat=True))
    sign_up_discarding.send(sender=Caregiver, caregiver_id=caregiver.pk)
    caregiver.delete()
    # Only the loved ones the sign-up made: nobody else cares for them and nothing is booked.
    LovedOne.objects.filter(pk__in=loved_one_ids, links__isnull=True, appointments__isnull=True).delete()


@transaction.atomic
def sign_ups_free_addresses(*, clinic: Clinic, phone: str, email: str, keep: Caregiver | None = None) -> int:
    """Make way for a caregiver with this number or email: unconfirmed sign-ups holding either are
    deleted. Returns how many."""
    holders = selectors.caregivers_holding(clinic=clinic, phone=phone, email=email)
    if keep is not None:
        holders = holders.exclude(pk=keep.pk)
    stale = list(selectors.sign_ups_unconfirmed().filter(pk__in=holders.values("pk")).select_for_update())
    for caregiver in stale:
        caregiver_sign_up_discard(caregiver=caregiver)
    return len(stale)


def sign_up_taken_addresses(*, clinic: Clinic, phone: str, email: str) -> list[tuple[Caregiver, str]]:
    """(caregiver, channel) for each address of a new sign-up that someone at the clinic really has:
    confirmed, or enrolled by staff. An unconfirmed sign-up's address is not taken."""
    replaceable = selectors.sign_ups_unconfirmed().values("pk")
    taken = []
    holders = selectors.caregivers_holding(clinic=clinic, phone=phone, email=email).exclude(pk__in=replaceable)
    for caregiver in holders:
        if phone and caregiver.phone == phone:
            taken.append((caregiver, "sms"))
        if email and caregiver.email.lower() == email.strip().lower():
            taken.append((caregiver, "email"))
    return taken


def sign_up_repeat_notify(*, caregiver: Caregiver, channel: str) -> None:
    """Tell the owner of an address that someone signed it up again (after commit)."""
    transaction.on_commit(lambda: already_signed_up.send(sender=Caregiver, caregiver_id=caregiver.pk, channel=channel))


def sign_ups_expire(*, now: datetime) -> int:
    """Delete sign-ups nobody confirmed within SIGN_UP_EXPIRY_DAYS. Returns how many."""
    cutoff = now - timedelta(days=settings.SIGN_UP_EXPIRY_DAYS)
    ids = list(selectors.sign_ups_unconfirmed().filter(created_at__lt=cutoff).values_list("pk", flat=True)[:500])
    done = 0
    for caregiver_id in ids:
        with transaction.atomic():
            # Checked again under the lock: a code typed at this moment wins.
            caregiver = (
                selectors.sign_ups_unconfirmed().select_for_update().filter(pk=caregiver_id, created_at__lt=cutoff)
            ).first()
            if caregiver is not None:
                caregiver_sign_up_discard(caregiver=caregiver)
                done += 1
    return done
