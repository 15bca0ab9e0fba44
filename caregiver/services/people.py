"""Staff fixing a family after enrollment: a caregiver's details, a caregiver added, the family
archived (or restored), and two families that are one merged."""

from __future__ import annotations

from datetime import datetime

from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from .. import selectors
from ..consent import CURRENT_STAFF
from ..models import Appointment, Caregiver, CareLink, ConsentRecord, LovedOne
from ..signals import appointments_merged
from ..validators import phone_to_e164
from .audit import audit_record
from .confirmations import confirmation_start
from .core import _announce_caregiver, _require_open, _sync_status, caregiver_create, caregiver_update, loved_one_build
from .families import _staff_invite

# What staff may change on the edit page; preferences (tips, quiet hours) are the caregiver's own.
STAFF_EDITABLE = ("name", "phone", "email", "channels", "language")


@transaction.atomic
def caregiver_staff_edit(*, caregiver: Caregiver, by: AbstractBaseUser, **changes: object) -> Caregiver:
    """Staff correct a caregiver's name, contact details, channels or language.

    A new number or email is unconfirmed until its owner says yes (caregiver_update asks, and the
    old address's consent stays with the old address, so it gets nothing more). A channel newly
    chosen is asked to confirm too. One audit event.
    """
    unknown = set(changes) - set(STAFF_EDITABLE)
    if unknown:
        raise ValueError(f"caregiver_staff_edit cannot change {', '.join(sorted(unknown))}")
    if caregiver.status == Caregiver.Status.ARCHIVED and _contact_changes(caregiver, changes):
        # A new address would be sent an invitation, and an archived family is sent nothing.
        raise ValidationError("This caregiver's family is archived: restore it before changing how to reach them.")
    wanted_before = {"sms": caregiver.wants_sms, "email": caregiver.wants_email}
    caregiver = caregiver_update(caregiver=caregiver, by=by, **changes)
    if caregiver.status == Caregiver.Status.ARCHIVED:
        return caregiver
    asked = selectors.caregivers_with_invitations(Caregiver.objects.filter(pk=caregiver.pk)).get()
    waiting = {"sms": asked.sms_asked_at, "email": asked.email_asked_at}
    for channel in selectors.unconfirmed_channels(caregiver=caregiver):
        # A channel staff just turned on, not asked yet (a new address was asked by caregiver_update).
        if not wanted_before[channel] and not waiting[channel]:
            confirmation_start(
                caregiver=caregiver, channel=channel, source=ConsentRecord.Source.STAFF,
                consent_text_version=CURRENT_STAFF, requested_by=by,
            )  # fmt: skip
    return caregiver


def _contact_changes(caregiver: Caregiver, changes: dict[str, object]) -> bool:
    phone = str(changes.get("phone", caregiver.phone) or "").strip()
    try:
        phone = phone_to_e164(phone, require_mobile=True) if phone else ""
    except ValidationError:
        return True
    email = str(changes.get("email", caregiver.email) or "").strip().lower()
    channels = changes.get("channels", caregiver.channels)
    return (phone, email, channels) != (caregiver.phone, caregiver.email, caregiver.channels)


@transaction.atomic
def loved_one_rename(*, loved_one: LovedOne, first_name: str, by: AbstractBaseUser) -> LovedOne:
    """Correct the loved one's name (a typo, the name they go by). Texts and emails still to come use
    the new name: saving marks the family's caregivers for the planner, which renders them again."""
    checked = loved_one_build(clinic=loved_one.clinic, first_name=first_name)
    loved_one = LovedOne.objects.select_for_update().get(pk=loved_one.pk)
    if checked.first_name == loved_one.first_name:
        return loved_one
    before = loved_one.first_name
    loved_one.first_name = checked.first_name
    loved_one.save(update_fields=["first_name", "updated_at"])
    audit_record(
        by=by, action="family.rename", target=loved_one, changes={"first_name": [before, loved_one.first_name]}
    )
    return loved_one


@transaction.atomic
def family_caregiver_add(
    *, loved_one: LovedOne, by: AbstractBaseUser, relationship: str = CareLink.Relationship.OTHER, **fields: object
) -> Caregiver:
    """Add a caregiver to an existing family and invite them as enrollment does (YES or a link)."""
    _require_open(loved_one)
    fields.setdefault("time_zone", loved_one.clinic.time_zone)
    caregiver = caregiver_create(
        clinic=loved_one.clinic, loved_one=loved_one, relationship=relationship, by=by, **fields
    )
    _staff_invite(caregiver, by=by)
    return caregiver


@transaction.atomic
def family_archive(*, loved_one: LovedOne, reason: str, by: AbstractBaseUser, now: datetime | None = None) -> LovedOne:
    """Stop everything for a family at once, with a reason, and hide it from the families list.

    Its future appointments are cancelled without a notice, and each caregiver who supports no
    other open family is archived: nothing more is planned or sent to them (caregiver_send_problem
    says why on each cancelled row), only answers to texts they send us. No reason sends anything:
    a bereaved family gets no notice and no goodbye.
    """
    if reason not in LovedOne.ArchiveReason.values:
        choices = ", ".join(label.lower() for label in LovedOne.ArchiveReason.labels)
        raise ValidationError({"reason": f"Choose why the family is archived: {choices}."})
    loved_one = LovedOne.objects.select_for_update().get(pk=loved_one.pk)
    if loved_one.archived_at is not None:
        raise ValidationError(f"{loved_one.first_name}'s family is already archived.")
    now = now or timezone.now()
    loved_one.archived_at, loved_one.archived_reason = now, reason
    loved_one.save(update_fields=["archived_at", "archived_reason", "updated_at"])
    cancelled = 0
    for appointment in loved_one.appointments.select_for_update().filter(
        status=Appointment.Status.SCHEDULED, starts_at__gte=now
    ):
        # Not appointment_cancel: that tells the family, and an archived family is told nothing.
        appointment.status = Appointment.Status.CANCELLED
        appointment.changed_at = appointment.moved_from = None
        appointment.save(update_fields=["status", "changed_at", "moved_from", "updated_at"])
        cancelled += 1
    archived = 0
    for caregiver in Caregiver.objects.select_for_update().filter(links__loved_one=loved_one):
        if caregiver.links.filter(loved_one__archived_at__isnull=True).exists():
            continue  # they support another family still in care
        caregiver.status = Caregiver.Status.ARCHIVED
        caregiver.paused_until = None
        caregiver.save(update_fields=["status", "paused_until", "updated_at"])
        # An open invitation (YES, a link) would still reach them: nothing is waited for now.
        caregiver.confirmations.filter(confirmed_at__isnull=True).update(expires_at=now)
        _announce_caregiver(caregiver, "status")
        archived += 1
    audit_record(
        by=by,
        action="family.archive",
        target=loved_one,
        changes={"archived_reason": reason, "appointments_cancelled": cancelled, "caregivers_archived": archived},
    )
    return loved_one


@transaction.atomic
def family_restore(*, loved_one: LovedOne, by: AbstractBaseUser) -> LovedOne:
    """Undo an archive: the family is listed again and its caregivers get what their consent allows.

    Appointments cancelled by the archive stay cancelled; add new ones.
    """
    loved_one = LovedOne.objects.select_for_update().get(pk=loved_one.pk)
    if loved_one.archived_at is None:
        raise ValidationError(f"{loved_one.first_name}'s family is not archived.")
    reason = loved_one.archived_reason
    loved_one.archived_at, loved_one.archived_reason = None, ""
    loved_one.save(update_fields=["archived_at", "archived_reason", "updated_at"])
    for caregiver in Caregiver.objects.select_for_update().filter(
        links__loved_one=loved_one, status=Caregiver.Status.ARCHIVED
    ):
        caregiver.status = Caregiver.Status.PENDING
        _sync_status(caregiver)  # active again if their address is still confirmed
        _announce_caregiver(caregiver, "status")
    audit_record(by=by, action="family.restore", target=loved_one, changes={"archived_reason": reason})
    return loved_one


@transaction.atomic
def family_merge(*, keep: LovedOne, merge: LovedOne, by: AbstractBaseUser) -> LovedOne:
    """Merge `merge` into `keep` (two sign-ups for one person): its caregivers and appointments
    move, then it is deleted. A caregiver of both keeps one link; an appointment at the same time
    as one of `keep`'s is the same visit: it is cancelled without a notice, and what was already
    planned or sent for it counts as `keep`'s, so nobody gets a reminder twice."""
    if keep.pk == merge.pk:
        raise ValidationError("Choose another family to merge into this one.")
    if keep.clinic_id != merge.clinic_id:
        raise ValidationError("Only families of the same clinic can be merged.")
    families = {f.pk: f for f in LovedOne.objects.select_for_update().filter(pk__in=[keep.pk, merge.pk])}
    keep, merge = families[keep.pk], families[merge.pk]
    for family in (keep, merge):
        _require_open(family)
    moved_links = 0
    for link in CareLink.objects.select_for_update().filter(loved_one=merge):
        if CareLink.objects.filter(loved_one=keep, caregiver_id=link.caregiver_id).exists():
            link.delete()
        else:
            link.loved_one = keep
            link.save(update_fields=["loved_one"])
            moved_links += 1
    kept_times = {
        a.starts_at: a.pk for a in keep.appointments.filter(status=Appointment.Status.SCHEDULED).order_by("-pk")
    }
    pairs: list[tuple[int, int]] = []
    moved_appointments = merge.appointments.count()
    for appointment in merge.appointments.select_for_update():
        appointment.loved_one = keep
        fields = ["loved_one", "updated_at"]
        same = kept_times.get(appointment.starts_at)
        if same is not None and appointment.status == Appointment.Status.SCHEDULED:
            appointment.status = Appointment.Status.CANCELLED
            appointment.changed_at = appointment.moved_from = None
            fields += ["status", "changed_at", "moved_from"]
            pairs.append((appointment.pk, same))
        appointment.save(update_fields=fields)
    # Inside the transaction, unlike the other signals: the outbox must learn which rows are the
    # same visit's before a planner can see the moved caregivers and plan those rows afresh.
    appointments_merged.send(sender=LovedOne, pairs=pairs)
    audit_record(
        by=by,
        action="family.merge",
        target=keep,
        changes={
            "merged": f"{merge.first_name} (#{merge.pk})",
            "caregivers_moved": moved_links,
            "appointments_moved": moved_appointments,
            "duplicates_cancelled": len(pairs),
        },
    )
    merge.delete()
    return keep
