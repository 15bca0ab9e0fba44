"""The audit log of staff actions: who changed which family, caregiver or appointment, and when.

Each service staff use calls `audit_record` once, inside its own transaction, with the `by` it
was given. `by` is the staff member acting; None means no staff member did (a caregiver changing
their own preferences, an inbound text, a script), and nothing is recorded: consent records and
the outbox already tell those stories. Services that call other services pass `by` only to their
own event, so one staff action is one event.
"""

from __future__ import annotations

from datetime import date, datetime, time
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser
from django.db import models

from ..models import Appointment, AuditEvent, Caregiver, Clinic, LovedOne

Target = Appointment | Caregiver | LovedOne | Clinic

# Contact details are recorded as changed, never copied: the log outlives the caregiver's row.
HIDDEN = frozenset({"phone", "email"})


def _target(target: Target) -> tuple[str, int, str]:
    """(clinic id, target type, label) of a row the log can point at."""
    if isinstance(target, Appointment):
        zone = ZoneInfo(target.loved_one.clinic.time_zone)
        when = target.starts_at.astimezone(zone).strftime("%Y-%m-%d %H:%M")
        return target.loved_one.clinic_id, AuditEvent.Target.APPOINTMENT, f"{target.get_kind_display()}, {when}"
    if isinstance(target, Caregiver):
        return target.clinic_id, AuditEvent.Target.CAREGIVER, target.name
    if isinstance(target, LovedOne):
        return target.clinic_id, AuditEvent.Target.FAMILY, target.first_name
    if isinstance(target, Clinic):
        return target.pk, AuditEvent.Target.CLINIC, target.name
    raise TypeError(f"the audit log has no target type for {type(target).__name__}")


def jsonable(value: object) -> object:
    if isinstance(value, models.Model):
        return value.pk
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return value


def changed_fields(before: dict[str, object], after: dict[str, object]) -> dict[str, object]:
    """{field: [old, new]} for what differs; contact details only as "changed"."""
    return {
        field: "changed" if field in HIDDEN else [jsonable(before[field]), jsonable(after[field])]
        for field in after
        if before.get(field) != after[field]
    }


def audit_record(
    *, by: AbstractBaseUser | None, action: str, target: Target, changes: dict[str, object] | None = None
) -> AuditEvent | None:
    """Write one staff action to the log. Nothing is written when no staff member acted."""
    if action not in AuditEvent.Action.values:
        raise ValueError(f"{action!r} is not an audit action; add it to AuditEvent.Action")
    if by is None:
        return None
    clinic_id, target_type, label = _target(target)
    return AuditEvent.objects.create(
        actor=by,
        clinic_id=clinic_id,
        action=action,
        target_type=target_type,
        target_id=target.pk,
        target_label=label[:120],
        changes={name: jsonable(value) for name, value in (changes or {}).items()},
    )
