"""Writes to caregiver/ models. Views, API, admin actions and tasks call these; nothing else
creates or changes clinics, caregivers, consent or appointments.
"""

from __future__ import annotations

import logging
from datetime import datetime

from django.contrib.auth import get_user_model
from django.contrib.auth.models import AbstractBaseUser
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from config.redact import pii_mask

from .. import selectors
from ..models import (
    Appointment,
    Caregiver,
    CareLink,
    ChannelConfirmation,
    Clinic,
    ConsentRecord,
    LovedOne,
    StaffMembership,
)
from ..signals import appointment_changed, caregiver_changed
from ..validators import enrollment_code_generate, name_normalize, phone_to_e164
from .audit import audit_record, changed_fields
from .signups import sign_ups_free_addresses

logger = logging.getLogger(__name__)


def _announce_caregiver(caregiver: Caregiver, change: str) -> None:
    transaction.on_commit(lambda: caregiver_changed.send(sender=Caregiver, caregiver_id=caregiver.pk, change=change))


def _announce_appointment(appointment: Appointment, change: str) -> None:
    transaction.on_commit(
        lambda: appointment_changed.send(sender=Appointment, appointment_id=appointment.pk, change=change)
    )


# --- Clinics and staff ------------------------------------------------------------------------


@transaction.atomic
def clinic_enrollment_code_renew(*, clinic: Clinic, by: AbstractBaseUser | None) -> str:
    """Give the clinic a new generated sign-up code; the old one stops working at once.

    Codes are generated, never chosen: a chosen one ("LAKESIDE") is guessed, and the sign-up page
    would text whoever guessed it.
    """
    clinic.enrollment_code = enrollment_code_generate()
    clinic.save(update_fields=["enrollment_code", "updated_at"])
    # The codes themselves stay out of the log: the old one is dead, the new one is on the clinic.
    audit_record(by=by, action="clinic.code_renew", target=clinic, changes={"enrollment_code": "changed"})
    return clinic.enrollment_code


@transaction.atomic
def clinic_create(
    *,
    name: str,
    slug: str,
    time_zone: str,
    contact_phone: str,
    contact_email: str,
    twilio_from_number: str = "",
    discreet_mode: bool = True,
    observation_minutes: int = 60,
    staff_two_factor_required: bool = False,
) -> Clinic:
    """Raises ValidationError keyed by field (the admin's and the model's checks, phones included)."""
    phones: dict[str, str] = {}
    errors: dict[str, list[str]] = {}
    for field, raw in (("contact_phone", contact_phone), ("twilio_from_number", twilio_from_number)):
        try:
            phones[field] = phone_to_e164(raw) if raw or field == "contact_phone" else ""
        except ValidationError as exc:
            errors[field] = exc.messages
            phones[field] = ""
    clinic = Clinic(
        name=name.strip(),
        slug=slug,
        time_zone=time_zone,
        contact_phone=phones["contact_phone"],
        contact_email=contact_email.strip().lower(),
        twilio_from_number=phones["twilio_from_number"],
        discreet_mode=discreet_mode,
        observation_minutes=observation_minutes,
        staff_two_factor_required=staff_two_factor_required,
    )
    try:
        clinic.full_clean(exclude=list(errors))
    except ValidationError as exc:
        errors.update(exc.message_dict)
    if errors:
        raise ValidationError(errors)
    clinic.save()
    return clinic


@transaction.atomic
def staff_membership_add(
    *, user: AbstractBaseUser, clinic: Clinic, role: str = StaffMembership.Role.STAFF
) -> StaffMembership:
    membership, _ = StaffMembership.objects.update_or_create(user=user, clinic=clinic, defaults={"role": role})
    return membership


@transaction.atomic
def staff_user_create(
    *,
    username: str,
    password: str,
    clinic: Clinic,
    email: str = "",
    first_name: str = "",
    last_name: str = "",
    role: str = StaffMembership.Role.STAFF,
) -> AbstractBaseUser:
    """A login for the staff portal at `clinic`. The password must pass AUTH_PASSWORD_VALIDATORS.

    Raises ValidationError keyed by field: a taken username, a weak password, a bad email or role.
    """
    user_model = get_user_model()
    user = user_model(username=username.strip(), email=email.strip().lower(), first_name=first_name.strip(),
                      last_name=last_name.strip())  # fmt: skip
    errors: dict[str, list[str]] = {}
    if role not in StaffMembership.Role.values:
        errors["role"] = [f"Role must be one of: {', '.join(StaffMembership.Role.values)}."]
    try:
        user.full_clean(exclude=["password"])
    except ValidationError as exc:
        errors.update(exc.message_dict)
    try:
        validate_password(password, user=user)
    except ValidationError as exc:
        errors["password"] = exc.messages
    if errors:
        raise ValidationError(errors)
    user.set_password(password)
    user.save()
    StaffMembership.objects.create(user=user, clinic=clinic, role=role)
    return user


# --- Families ------------------------------------------------------------------------------


def loved_one_build(*, clinic: Clinic, first_name: str, check_database: bool = True) -> LovedOne:
    """A valid, unsaved loved one (ValidationError otherwise). check_database=False skips the checks
    that need a query (the clinic exists): a preview of thousands of rows makes them in one go."""
    loved_one = LovedOne(clinic=clinic, first_name=name_normalize(first_name))
    loved_one.full_clean(
        exclude=None if check_database else ["clinic"],
        validate_unique=check_database,
        validate_constraints=check_database,
    )
    return loved_one


@transaction.atomic
def loved_one_create(*, clinic: Clinic, first_name: str) -> LovedOne:
    loved_one = loved_one_build(clinic=clinic, first_name=first_name)
    loved_one.save()
    return loved_one


@transaction.atomic
def caregiver_create(
    *,
    clinic: Clinic,
    name: str,
    phone: str = "",
    email: str = "",
    channels: str = Caregiver.Channels.SMS,
    time_zone: str | None = None,
    loved_one: LovedOne | None = None,
    relationship: str = CareLink.Relationship.OTHER,
    by: AbstractBaseUser | None = None,
    **preferences: object,
) -> Caregiver:
    """Enroll a caregiver as `pending`: nothing but a confirmation reaches them until they opt in.

    `preferences` are other Caregiver fields (tip_time, tip_frequency, quiet_start, ...).
    Raises ValidationError keyed by field, in words a person can act on. `by`: the staff member
    adding them, for the audit log (None when they sign themselves up).
    """
    caregiver = caregiver_build(
        clinic=clinic, name=name, phone=phone, email=email, channels=channels, time_zone=time_zone, **preferences
    )
    caregiver.save()
    if loved_one is not None:
        caregiver_link(caregiver=caregiver, loved_one=loved_one, relationship=relationship)
    audit_record(by=by, action="caregiver.create", target=caregiver, changes={"channels": caregiver.channels})
    return caregiver


def caregiver_build(
    *,
    clinic: Clinic,
    name: str,
    phone: str = "",
    email: str = "",
    channels: str = Caregiver.Channels.SMS,
    time_zone: str | None = None,
    check_database: bool = True,
    **preferences: object,
) -> Caregiver:
    """A valid, unsaved pending caregiver, or a ValidationError keyed by field (see caregiver_create).

    check_database=False skips the checks that need a query (the clinic exists, the number or
    address is not enrolled yet): an import preview makes those for all its rows at once.
    """
    errors: dict[str, list[str]] = {}
    normalised_phone = ""
    if phone and phone.strip():
        try:
            normalised_phone = phone_to_e164(phone, require_mobile=True, countries=clinic.sms_country_codes)
        except ValidationError as exc:
            errors["phone"] = exc.messages
    if normalised_phone and normalised_phone in (clinic.twilio_from_number, clinic.contact_phone):
        # Texts to the clinic's own number would go nowhere (Twilio refuses them).
        errors["phone"] = [gettext("This is the clinic's own number: give the caregiver's mobile number.")]
        normalised_phone = ""
    if check_database:
        # A sign-up nobody confirmed holds these addresses for nobody: it makes way. Only on the
        # way to a save (caregiver_create): a preview writes nothing (its check knows such sign-ups).
        sign_ups_free_addresses(clinic=clinic, phone=normalised_phone, email=(email or "").strip().lower())
    caregiver = Caregiver(
        clinic=clinic,
        name=name_normalize(name),
        phone=normalised_phone,
        email=(email or "").strip().lower(),
        channels=channels,
        time_zone=time_zone or clinic.time_zone,
        status=Caregiver.Status.PENDING,
        **preferences,
    )
    exclude = (["phone"] if "phone" in errors else []) + ([] if check_database else ["clinic"])
    try:
        caregiver.full_clean(
            exclude=exclude or None, validate_unique=check_database, validate_constraints=check_database
        )
    except ValidationError as exc:
        for field, messages in exc.message_dict.items():
            # A number we could not read was set aside; "give a number" would only add noise.
            if field == "__all__" and "phone" in errors:
                messages = [m for m in messages if "mobile number, an email address" not in m]
            if messages:
                errors.setdefault(field, []).extend(messages)
    if errors:
        raise ValidationError(errors)
    return caregiver


# Fields a caregiver (or staff on their behalf) may change; anything else goes through its own service.
CAREGIVER_EDITABLE = (
    "name", "phone", "email", "channels", "time_zone", "tip_time", "tip_frequency",
    "quiet_start", "quiet_end", "language", "safety_tips_sms",
)  # fmt: skip


@transaction.atomic
def caregiver_update(*, caregiver: Caregiver, by: AbstractBaseUser | None = None, **changes: object) -> Caregiver:
    """Change preferences or contact details; pending messages are re-planned after commit.

    `by`: the staff member making the change, for the audit log (None when it is the caregiver).
    """
    unknown = set(changes) - set(CAREGIVER_EDITABLE)
    if unknown:
        raise ValueError(f"caregiver_update cannot change {', '.join(sorted(unknown))}")
    if changes.get("phone"):
        try:
            changes["phone"] = phone_to_e164(
                str(changes["phone"]), require_mobile=True, countries=caregiver.clinic.sms_country_codes
            )
        except ValidationError as exc:
            raise ValidationError({"phone": exc.messages}) from exc
    if "email" in changes:
        changes["email"] = str(changes["email"] or "").strip().lower()
    if "name" in changes:
        changes["name"] = name_normalize(str(changes["name"] or ""))
    changed = [field for field, value in changes.items() if getattr(caregiver, field) != value]
    if not changed:
        return caregiver
    if "phone" in changed or "email" in changed:
        sign_ups_free_addresses(
            clinic=caregiver.clinic, phone=str(changes["phone"]) if "phone" in changed else "",
            email=str(changes["email"]) if "email" in changed else "", keep=caregiver,
        )  # fmt: skip
    before = {field: getattr(caregiver, field) for field in changed}
    for field in changed:
        setattr(caregiver, field, changes[field])
    if "phone" in changed:
        caregiver.sms_blocked_reason = ""
        caregiver.phone_since = timezone.now()
        changed += ["sms_blocked_reason", "phone_since"]
    if "email" in changed:
        caregiver.email_since = timezone.now()
        caregiver.email_blocked_reason, caregiver.email_blocked_at = "", None
        changed += ["email_since", "email_blocked_reason", "email_blocked_at"]
    caregiver.full_clean()
    caregiver.save(update_fields=[*changed, "updated_at"])
    audit_record(
        by=by,
        action="caregiver.update",
        target=caregiver,
        changes=changed_fields(before, {field: changes[field] for field in before}),
    )
    new_addresses = [channel for channel, field in (("sms", "phone"), ("email", "email")) if field in changed]
    if new_addresses:
        _addresses_confirm(caregiver=caregiver, channels=new_addresses, by=by)
    _announce_caregiver(caregiver, "time_zone" if "time_zone" in changed else "preferences")
    return caregiver


def _addresses_confirm(*, caregiver: Caregiver, channels: list[str], by: AbstractBaseUser | None) -> None:
    """A new number or email has no consent of its own: nothing but a confirmation goes to it until
    it is confirmed (a YES text, an emailed link). The old address's consent stays with the old address."""
    from ..consent import CURRENT_STAFF, current_web
    from .confirmations import RateLimited, confirmation_start

    wants = {"sms": caregiver.wants_sms, "email": caregiver.wants_email}
    for channel in channels:
        # Pending confirmations for the old address are of no use now.
        caregiver.confirmations.filter(channel=channel, confirmed_at__isnull=True).update(expires_at=timezone.now())
        if not selectors.address_of(caregiver, channel) or not wants[channel]:
            continue
        try:
            confirmation_start(
                caregiver=caregiver, channel=channel,
                source=ConsentRecord.Source.STAFF if by else ConsentRecord.Source.WEB,
                consent_text_version=CURRENT_STAFF if by else current_web(caregiver.language), requested_by=by,
                method=ChannelConfirmation.Method.REPLY if channel == "sms" else None,
            )  # fmt: skip
        except RateLimited:
            # Still unconfirmed, so still nothing but a confirmation reaches it; staff can ask again later.
            logger.warning("caregiver %s: too many confirmations to the new %s for now", caregiver.pk, channel)
    _sync_status(caregiver)


@transaction.atomic
def caregiver_link(
    *, caregiver: Caregiver, loved_one: LovedOne, relationship: str = CareLink.Relationship.OTHER
) -> CareLink:
    _require_open(loved_one)
    link = CareLink(caregiver=caregiver, loved_one=loved_one, relationship=relationship)
    link.full_clean()
    link.save()
    return link


def _require_open(loved_one: LovedOne) -> None:
    if loved_one.archived_at is not None:
        raise ValidationError(
            f"{loved_one.first_name}'s family is archived ({loved_one.get_archived_reason_display().lower()}). "
            "Restore it on the family page first."
        )


# --- Consent -------------------------------------------------------------------------------


def _sync_status(caregiver: Caregiver) -> None:
    if caregiver.status == Caregiver.Status.ARCHIVED:
        return  # their family was archived: a STOP or START changes consent, not that (people.family_restore)
    consent = selectors.caregiver_consent(caregiver=caregiver)
    if any(consent.values()):
        if caregiver.status in (Caregiver.Status.PENDING, Caregiver.Status.OPTED_OUT):
            caregiver.status = Caregiver.Status.ACTIVE
    elif consent:  # every channel with a record is opted out
        caregiver.status = Caregiver.Status.OPTED_OUT
    elif caregiver.status == Caregiver.Status.ACTIVE:
        # No current address has any consent (they changed it): waiting for its confirmation.
        caregiver.status = Caregiver.Status.PENDING
    caregiver.save(update_fields=["status", "updated_at"])


def _consent_append(
    *, caregiver: Caregiver, channel: str, action: str, source: str, **details: object
) -> ConsentRecord:
    # For the address the caregiver has on this channel now: consent does not follow a new one.
    address = selectors.address_of(caregiver, channel)
    record = ConsentRecord(
        caregiver=caregiver, channel=channel, address=address, action=action, source=source, **details
    )
    record.full_clean()
    record.save()
    _sync_status(caregiver)
    _announce_caregiver(caregiver, "consent")
    return record


@transaction.atomic
def caregiver_opt_in(
    *,
    caregiver: Caregiver,
    channel: str,
    source: str,
    consent_text_version: str,
    ip_address: str | None = None,
    message_sid: str = "",
    recorded_by: AbstractBaseUser | None = None,
    language: str | None = None,
) -> ConsentRecord:
    """Record that the caregiver agreed to receive messages on `channel` (after confirming it).

    `language`: the language the consent text was shown in; by default the language its version is
    written in (caregiver.consent), or the caregiver's for a version that is not one of those texts.
    """
    from ..consent import consent_language

    if not consent_text_version:
        raise ValidationError({"consent_text_version": "Say which consent text the caregiver agreed to."})
    if channel == ConsentRecord.Channel.SMS and not caregiver.phone:
        raise ValidationError({"channel": "This caregiver has no mobile number to text."})
    if channel == ConsentRecord.Channel.EMAIL and not caregiver.email:
        raise ValidationError({"channel": "This caregiver has no email address."})
    return _consent_append(
        caregiver=caregiver,
        channel=channel,
        action=ConsentRecord.Action.OPT_IN,
        source=source,
        consent_text_version=consent_text_version,
        language=language or consent_language(consent_text_version, default=caregiver.language),
        ip_address=ip_address,
        message_sid=message_sid,
        recorded_by=recorded_by,
    )


@transaction.atomic
def caregiver_opt_out(
    *,
    caregiver: Caregiver,
    channel: str,
    source: str,
    ip_address: str | None = None,
    message_sid: str = "",
    recorded_by: AbstractBaseUser | None = None,
) -> ConsentRecord:
    """Record that the caregiver no longer wants messages on `channel`. Always allowed."""
    return _consent_append(
        caregiver=caregiver,
        channel=channel,
        action=ConsentRecord.Action.OPT_OUT,
        source=source,
        ip_address=ip_address,
        message_sid=message_sid,
        recorded_by=recorded_by,
    )


@transaction.atomic
def caregiver_block_sms(*, caregiver: Caregiver, reason: str) -> Caregiver:
    """The carrier says texts cannot reach this number (invalid, landline): stop trying until it changes.
    The carrier's words often name the number: stored masked, as staff and backups read them."""
    return _address_block(caregiver, sms_blocked_reason=pii_mask(reason)[:120])


@transaction.atomic
def caregiver_block_email(*, caregiver: Caregiver, reason: str) -> Caregiver:
    """The email provider says mail to this address bounced for good, was reported as spam, or is
    on its suppression list: stop emailing it until the address changes (caregiver_update clears it).
    The provider's words often name the address: stored masked, as staff and backups read them."""
    return _address_block(caregiver, email_blocked_reason=pii_mask(reason)[:120], email_blocked_at=timezone.now())


def _address_block(caregiver: Caregiver, **fields: object) -> Caregiver:
    # Pending messages to the address are held at send time (selectors.address_blocked), and the
    # re-plan announced here cancels them as `undeliverable`.
    for field, value in fields.items():
        setattr(caregiver, field, value)
    caregiver.save(update_fields=[*fields, "updated_at"])
    _announce_caregiver(caregiver, "status")
    return caregiver


@transaction.atomic
def caregiver_pause(*, caregiver: Caregiver, until: datetime) -> Caregiver:
    if until.tzinfo is None:
        raise ValidationError({"until": "Give the end of the pause with its time zone."})
    if until <= timezone.now():
        raise ValidationError({"until": "A pause has to end in the future."})
    if caregiver.status == Caregiver.Status.OPTED_OUT:
        raise ValidationError("This caregiver has opted out; they have to opt back in first.")
    if caregiver.status == Caregiver.Status.ARCHIVED:
        raise ValidationError("Messages for this family have ended, so there is nothing to pause.")
    caregiver.status = Caregiver.Status.PAUSED
    caregiver.paused_until = until
    caregiver.save(update_fields=["status", "paused_until", "updated_at"])
    _announce_caregiver(caregiver, "status")
    return caregiver


@transaction.atomic
def caregiver_resume(*, caregiver: Caregiver) -> Caregiver:
    if caregiver.status != Caregiver.Status.PAUSED:
        return caregiver
    caregiver.status = Caregiver.Status.ACTIVE
    caregiver.paused_until = None
    caregiver.save(update_fields=["status", "paused_until", "updated_at"])
    _announce_caregiver(caregiver, "status")
    return caregiver


# --- Appointments ----------------------------------------------------------------------------


def _require_aware(value: datetime, field: str) -> None:
    if value.tzinfo is None:
        raise ValidationError({field: "Give a time with its time zone (or convert it with local_to_utc)."})


CONFIRM_HINT = "Check it, then confirm to keep it anyway."


def _require_confirmed(
    *, loved_one: LovedOne, starts_at: datetime, duration_minutes: int, confirmed: bool, exclude_id: int | None = None
) -> None:
    # Past, duplicate and overlapping appointments are usually typos: staff keep one only on purpose.
    if confirmed:
        return
    warnings = selectors.appointment_warnings(
        loved_one=loved_one, starts_at=starts_at, duration_minutes=duration_minutes, now=timezone.now(),
        exclude_id=exclude_id,
    )  # fmt: skip
    if warnings:
        raise ValidationError({"confirm": [*warnings, CONFIRM_HINT]}, code="confirm")


@transaction.atomic
def appointment_create(
    *,
    loved_one: LovedOne,
    starts_at: datetime,
    kind: str = Appointment.Kind.INFUSION,
    duration_minutes: int = 60,
    by: AbstractBaseUser | None = None,
    confirmed: bool = True,
) -> Appointment:
    """Add an appointment; messaging plans its reminders after commit. `by`: the staff member.

    Staff entry points pass `confirmed` as the staff member ticked it: without it, an appointment
    in the past, at the same time as another or overlapping one is refused (the error says which).
    """
    _require_aware(starts_at, "starts_at")
    _require_open(loved_one)
    appointment = Appointment(loved_one=loved_one, starts_at=starts_at, kind=kind, duration_minutes=duration_minutes)
    appointment.full_clean()  # a year typed wrong is that, before it is "in the past"
    _require_confirmed(loved_one=loved_one, starts_at=starts_at, duration_minutes=duration_minutes, confirmed=confirmed)
    appointment.save()
    audit_record(
        by=by,
        action="appointment.create",
        target=appointment,
        changes={"starts_at": starts_at, "kind": kind, "duration_minutes": duration_minutes},
    )
    _announce_appointment(appointment, "created")
    return appointment


@transaction.atomic
def appointment_reschedule(
    *,
    appointment: Appointment,
    starts_at: datetime,
    duration_minutes: int | None = None,
    by: AbstractBaseUser | None = None,
    confirmed: bool = True,
) -> Appointment:
    """Move an appointment; messaging re-plans its reminders after commit. `by`: the staff member.
    `confirmed`: as for appointment_create."""
    _require_aware(starts_at, "starts_at")
    if appointment.status != Appointment.Status.SCHEDULED:
        raise ValidationError(f"A {appointment.get_status_display().lower()} appointment cannot be rescheduled.")
    before = {"starts_at": appointment.starts_at, "duration_minutes": appointment.duration_minutes}
    if starts_at != appointment.starts_at:
        # The family is told of the move (messaging plans the notice from these two fields).
        appointment.moved_from, appointment.changed_at = appointment.starts_at, timezone.now()
    appointment.starts_at = starts_at
    if duration_minutes is not None:
        appointment.duration_minutes = duration_minutes
    # A ride arranged for the old time is not a ride for the new one.
    appointment.ride_arranged_at = None
    appointment.ride_arranged_by_caregiver = None
    appointment.ride_arranged_by_user = None
    try:
        appointment.full_clean()
        if appointment.starts_at != before["starts_at"] or appointment.duration_minutes != before["duration_minutes"]:
            _require_confirmed(
                loved_one=appointment.loved_one, starts_at=starts_at, confirmed=confirmed, exclude_id=appointment.pk,
                duration_minutes=appointment.duration_minutes,
            )  # fmt: skip
    except ValidationError:
        appointment.refresh_from_db()  # the page that shows the error shows the appointment as it still is
        raise
    appointment.save()
    after = {"starts_at": appointment.starts_at, "duration_minutes": appointment.duration_minutes}
    audit_record(by=by, action="appointment.reschedule", target=appointment, changes=changed_fields(before, after))
    _announce_appointment(appointment, "rescheduled")
    return appointment


@transaction.atomic
def appointment_cancel(*, appointment: Appointment, by: AbstractBaseUser | None = None) -> Appointment:
    """Cancel an appointment and, after commit, its reminders. Cancelling twice changes (and logs) nothing."""
    if appointment.status == Appointment.Status.CANCELLED:
        return appointment
    if appointment.status == Appointment.Status.COMPLETED:
        raise ValidationError("A completed appointment cannot be cancelled.")
    appointment.status = Appointment.Status.CANCELLED
    appointment.moved_from, appointment.changed_at = None, timezone.now()  # the family is told
    appointment.save(update_fields=["status", "moved_from", "changed_at", "updated_at"])
    audit_record(
        by=by,
        action="appointment.cancel",
        target=appointment,
        changes={"status": [Appointment.Status.SCHEDULED, Appointment.Status.CANCELLED]},
    )
    _announce_appointment(appointment, "cancelled")
    return appointment


@transaction.atomic
def appointment_mark_ride_arranged(
    *, appointment: Appointment, caregiver: Caregiver | None = None, user: AbstractBaseUser | None = None
) -> Appointment:
    if caregiver is None and user is None:
        raise ValueError("Say who arranged the ride: a caregiver or a staff user.")
    if appointment.ride_arranged_at is not None:
        return appointment  # said twice: the first stands (and the family is not told again)
    appointment.ride_arranged_at = timezone.now()
    appointment.ride_arranged_by_caregiver = caregiver
    appointment.ride_arranged_by_user = user
    appointment.save(
        update_fields=["ride_arranged_at", "ride_arranged_by_caregiver", "ride_arranged_by_user", "updated_at"]
    )
    audit_record(by=user, action="appointment.ride", target=appointment)
    _announce_appointment(appointment, "ride_arranged")
    return appointment


@transaction.atomic
def appointment_unmark_ride(*, appointment: Appointment, caregiver: Caregiver | None = None,
                            user: AbstractBaseUser | None = None) -> Appointment:  # fmt: skip
    """Undo RIDE: the ride home is not arranged after all, so the ride reminders come back."""
    if appointment.ride_arranged_at is None:
        return appointment
    appointment.ride_arranged_at = None
    appointment.ride_arranged_by_caregiver = None
    appointment.ride_arranged_by_user = None
    appointment.save(
        update_fields=["ride_arranged_at", "ride_arranged_by_caregiver", "ride_arranged_by_user", "updated_at"]
    )
    # Staff are the event's actor; a caregiver's own NO RIDE is not a staff action (not logged).
    audit_record(by=user, action="appointment.ride_unmark", target=appointment)
    _announce_appointment(appointment, "ride_unmarked")
    return appointment
