"""Enrolling whole families at once (the staff page, the API, a CSV file) and planning a course."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext

from .. import selectors
from ..consent import CURRENT_STAFF, current_web
from ..models import (
    Appointment,
    Caregiver,
    CareLink,
    ChannelConfirmation,
    Clinic,
    ClinicClosure,
    ConsentRecord,
    LovedOne,
)
from ..selectors import unconfirmed_channels
from ..validators import local_to_utc, name_normalize, phone_to_e164
from .audit import audit_record
from .confirmations import confirmation_limits_take, confirmation_start
from .core import (
    appointment_create,
    caregiver_build,
    caregiver_create,
    loved_one_build,
    loved_one_create,
)
from .imports import ImportInvalid, ImportResult, appointment_row_read, csv_read
from .signups import sign_up_repeat_notify, sign_up_taken_addresses


def caregiver_invite(*, caregiver: Caregiver, by: AbstractBaseUser | None) -> int:
    """Ask a staff-entered caregiver to confirm each channel they chose (YES by text, a link by email)."""
    with transaction.atomic():
        asked = _staff_invite(caregiver, by=by)
        audit_record(by=by, action="caregiver.invite", target=caregiver, changes={"channels": caregiver.channels})
    return asked


def _staff_invite(caregiver: Caregiver, *, by: AbstractBaseUser | None) -> int:
    # Enrolling and importing invite through here: their own audit event covers the invitations.
    return _confirm_chosen_channels(
        caregiver=caregiver, source=ConsentRecord.Source.STAFF, consent_text_version=CURRENT_STAFF, by=by
    )


def _confirm_chosen_channels(
    *,
    caregiver: Caregiver,
    source: str,
    consent_text_version: str,
    ip_address: str | None = None,
    by: AbstractBaseUser | None = None,
) -> int:
    # Only what is not confirmed yet (a new number, say): a confirmed channel is not asked again.
    channels = unconfirmed_channels(caregiver=caregiver)
    for channel in channels:
        confirmation_start(
            caregiver=caregiver,
            channel=channel,
            source=source,
            consent_text_version=consent_text_version,
            ip_address=ip_address,
            requested_by=by,
        )
    return len(channels)


@transaction.atomic
def caregiver_sign_up(
    *,
    clinic: Clinic,
    name: str,
    phone: str,
    email: str,
    channels: str,
    loved_one_name: str,
    relationship: str,
    time_zone: str,
    ip_address: str | None,
    language: str = "en",
    consent_text_version: str | None = None,
) -> Caregiver | None:
    """A caregiver signs themselves up on the web: pending, with a code or link sent per channel.

    `language`: the language the sign-up page was shown in (one of settings.LANGUAGES): theirs from
    now on, and the consent text's (`consent_text_version`, by default the current web version in
    that language).

    Nothing else is sent until a channel is confirmed. Errors are keyed by form field. A sign-up
    nobody confirmed with the same number or email is replaced. A number or email someone at the
    clinic really has (confirmed, or enrolled by staff) is not refused, which would tell anyone
    who is enrolled: nothing is made, its owner is told someone tried (`sign_up_repeat_notify`),
    and None is returned, for the page to look exactly as after a new sign-up.
    """
    if language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": gettext("Choose English or Spanish.")})
    consent_text_version = consent_text_version or current_web(language)
    normalised = _phone_or_blank(phone)
    taken = sign_up_taken_addresses(clinic=clinic, phone=normalised, email=email)
    if taken:
        _sign_up_validate(
            clinic=clinic, name=name, phone=phone, email=email, channels=channels, time_zone=time_zone,
            loved_one_name=loved_one_name,
        )  # fmt: skip
        # Someone staff enrolled who never confirmed is signing up themselves: they get the
        # invitation to confirm again (reply YES, or the link), not "you're signed up already".
        invite = [(c, channel) for c, channel in taken if channel in unconfirmed_channels(caregiver=c)]
        # Counted as the codes and links a new sign-up would send, so the limits answer the same
        # (an invitation counts itself).
        for channel, address in (("sms", normalised), ("email", email.strip().lower())):
            if address and channel in _channel_set(channels) and channel not in {ch for _, ch in invite}:
                confirmation_limits_take(channel=channel, address=address, ip_address=ip_address, clinic_id=clinic.pk)
        for caregiver, channel in taken:
            if (caregiver, channel) in invite:
                # Asked for from the sign-up page, so it goes now, whatever the hour (a staff
                # invitation waits for waking hours), and counts against the page's limits. By text
                # it is the invitation to reply YES: the code page says so.
                confirmation_start(
                    caregiver=caregiver, channel=channel, source=ConsentRecord.Source.WEB,
                    method=ChannelConfirmation.Method.REPLY if channel == "sms" else None,
                    consent_text_version=consent_text_version, ip_address=ip_address,
                )  # fmt: skip
            else:
                sign_up_repeat_notify(caregiver=caregiver, channel=channel)
        return None
    errors: dict[str, list[str]] = {}
    loved_one = None
    try:
        with transaction.atomic():
            loved_one = loved_one_create(clinic=clinic, first_name=loved_one_name)
    except ValidationError as exc:
        errors["loved_one"] = exc.messages
    try:
        caregiver = caregiver_create(
            clinic=clinic, name=name, phone=phone, email=email, channels=channels, time_zone=time_zone,
            loved_one=loved_one, relationship=relationship, language=language,
        )  # fmt: skip
    except ValidationError as exc:
        errors.update(_by_field(exc))
    if errors:
        raise ValidationError(errors)
    _confirm_chosen_channels(
        caregiver=caregiver,
        source=ConsentRecord.Source.WEB,
        consent_text_version=consent_text_version,
        ip_address=ip_address,
    )
    return caregiver


def _phone_or_blank(phone: str) -> str:
    try:
        return phone_to_e164(phone, require_mobile=True) if (phone or "").strip() else ""
    except ValidationError:
        return ""


def _channel_set(channels: str) -> set[str]:
    return {"sms", "email"} if channels == Caregiver.Channels.BOTH else {channels}


def _sign_up_validate(
    *, clinic: Clinic, name: str, phone: str, email: str, channels: str, time_zone: str, loved_one_name: str
) -> None:
    """The checks a new sign-up gets, without saving: a taken address answers bad input the same way."""
    errors: dict[str, list[str]] = {}
    try:
        LovedOne(clinic=clinic, first_name=name_normalize(loved_one_name)).full_clean(exclude=["clinic"])
    except ValidationError as exc:
        errors["loved_one"] = exc.messages
    try:
        Caregiver(
            clinic=clinic, name=name_normalize(name), phone=_phone_or_blank(phone), email=(email or "").strip().lower(),
            channels=channels, time_zone=time_zone or clinic.time_zone,
        ).full_clean(validate_constraints=False)  # fmt: skip
    except ValidationError as exc:
        errors.update(_by_field(exc))
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def family_enroll(
    *,
    clinic: Clinic,
    loved_one_name: str,
    caregivers: list[dict],
    appointments: list[dict] | None = None,
    by: AbstractBaseUser | None = None,
    confirmed: bool = True,
) -> LovedOne:
    """A loved one, the caregivers who support them and their first appointments, all or nothing.

    Each caregiver dict holds caregiver_create's fields plus `relationship`; each appointment dict
    `starts_at` (aware), `kind`, `duration_minutes`. Errors are keyed `caregivers.<i>.<field>` /
    `appointments.<i>.<field>` so a form or an API can put them next to the right field.
    Staff-entered caregivers stay pending until they confirm: nothing else reaches them before.
    `confirmed`: past or duplicate appointments are kept only when staff confirmed them.
    """
    if not caregivers:
        raise ValidationError({"caregivers": "Add at least one caregiver."})
    loved_one = loved_one_create(clinic=clinic, first_name=loved_one_name)
    errors: dict[str, list[str]] = {}
    made: list[Caregiver] = []
    for index, entry in enumerate(caregivers):
        try:
            with transaction.atomic():
                made.append(caregiver_create(clinic=clinic, loved_one=loved_one, **entry))
        except ValidationError as exc:
            for name, messages in _by_field(exc).items():
                errors[f"caregivers.{index}.{name}"] = messages
    for index, entry in enumerate(appointments or []):
        try:
            with transaction.atomic():
                appointment_create(loved_one=loved_one, confirmed=confirmed, **entry)
        except ValidationError as exc:
            for name, messages in _by_field(exc).items():
                errors[f"appointments.{index}.{name}"] = messages
    if errors:
        raise ValidationError(errors)
    for caregiver in made:
        _staff_invite(caregiver, by=by)
    audit_record(
        by=by,
        action="family.enroll",
        target=loved_one,
        changes={"caregivers": len(made), "appointments": len(appointments or [])},
    )
    return loved_one


def _by_field(exc: ValidationError) -> dict[str, list[str]]:
    if hasattr(exc, "error_dict"):
        return {("" if k == "__all__" else k) or "non_field": v for k, v in exc.message_dict.items()}
    return {"non_field": exc.messages}


# --- Courses -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedSession:
    local: datetime  # wall-clock time in the clinic's zone
    kind: str
    note: str = ""  # why it is not where the pattern put it (a closure day)


def course_sessions(
    *,
    first_day: date,
    at: time,
    weekdays: list[int],
    sessions: int = 6,
    maintenance_every_weeks: int = 0,
    maintenance_sessions: int = 0,
    closed: Mapping[date, str] | None = None,
) -> list[PlannedSession]:
    """An initial phase on the given weekdays (0 = Monday), then optional maintenance boosters.

    The default is the common first phase: six infusions over about two to three weeks, e.g.
    Monday, Wednesday and Friday. The first day staff chose is always the first session, whatever
    its weekday. Maintenance sessions follow every `maintenance_every_weeks` after the last
    infusion. A session on a day in `closed` (the clinic's closure days, with their notes) moves to
    the next open working day after it (a weekday, or a weekend day the course uses), and its `note`
    says so. Staff review and edit the list before
    anything is saved.
    """
    if not weekdays:
        raise ValidationError({"weekdays": "Pick at least one day of the week."})
    if not 1 <= sessions <= 24:
        raise ValidationError({"sessions": "Plan between 1 and 24 sessions in the first phase."})
    if maintenance_sessions and not 1 <= maintenance_every_weeks <= 26:
        raise ValidationError({"maintenance_every_weeks": "Space maintenance sessions 1 to 26 weeks apart."})
    if not 0 <= maintenance_sessions <= 24:
        raise ValidationError({"maintenance_sessions": "Plan at most 24 maintenance sessions."})
    closed = closed or {}
    # A moved session lands on a working day: Monday to Friday, or a weekend day the course uses.
    open_weekdays = {0, 1, 2, 3, 4, *weekdays}
    planned: list[PlannedSession] = []

    def add(day: date, kind: str) -> None:
        wanted = day
        last = planned[-1].local.date() if planned else None
        while (
            day in closed
            or (last is not None and day <= last)
            or (day != wanted and day.weekday() not in open_weekdays)
        ):
            day += timedelta(days=1)
        note = ""
        if day != wanted:
            reason = f" ({closed[wanted]})" if closed.get(wanted) else ""
            why = f"the clinic is closed{reason}" if wanted in closed else "the day before had to move"
            note = f"Moved from {wanted:%a %b} {wanted.day}: {why}."
        planned.append(PlannedSession(datetime.combine(day, at), kind, note))

    day = first_day
    try:
        while len(planned) < sessions:
            # A session moved off a closure day onto a later day takes the place of the course days
            # up to it: they are not moved too (four sessions on four days in a row).
            passed = bool(planned) and day <= planned[-1].local.date()
            if (day == first_day or day.weekday() in weekdays) and not passed:
                add(day, Appointment.Kind.INFUSION)
            day += timedelta(days=1)
        last = planned[-1].local.date()
        for number in range(1, maintenance_sessions + 1):
            add(last + timedelta(weeks=maintenance_every_weeks * number), Appointment.Kind.BOOSTER)
    except OverflowError:  # a first day in year 9999 runs off the calendar
        raise ValidationError({"first_day": "Check the year: the course would end after the year 9999."}) from None
    return planned


@transaction.atomic
def course_create(
    *,
    loved_one: LovedOne,
    sessions: list[PlannedSession],
    duration_minutes: int = 60,
    by: AbstractBaseUser | None = None,
    confirmed: bool = True,
) -> list[Appointment]:
    """Save a reviewed course in the clinic's time zone, all or nothing; errors keyed by session index.
    `confirmed`: past, duplicate or overlapping sessions are kept only when staff confirmed them."""
    if not sessions:
        raise ValidationError({"sessions": "There are no sessions to save."})
    zone = loved_one.clinic.time_zone
    errors: dict[str, list[str]] = {}
    made = []
    for index, session in enumerate(sessions):
        try:
            with transaction.atomic():
                starts_at = local_to_utc(session.local, time_zone=zone)
                made.append(
                    appointment_create(
                        loved_one=loved_one,
                        starts_at=starts_at,
                        kind=session.kind,
                        duration_minutes=duration_minutes,
                        confirmed=confirmed,
                    )
                )
        except ValidationError as exc:
            for name, messages in _by_field(exc).items():
                errors.setdefault(f"sessions.{index}" + (".confirm" if name == "confirm" else ""), []).extend(messages)
    if errors:
        raise ValidationError(errors)
    audit_record(
        by=by,
        action="course.create",
        target=loved_one,
        changes={"appointments": len(made), "first": made[0].starts_at, "last": made[-1].starts_at},
    )
    return made


# --- CSV import --------------------------------------------------------------------------------

IMPORT_COLUMNS = [
    "family", "loved_one", "caregiver_name", "caregiver_phone", "caregiver_email", "relationship",
    "channels", "appointment", "kind", "duration_minutes",
]  # fmt: skip
IMPORT_REQUIRED = {"family", "loved_one"}
IMPORT_EXAMPLE = [
    ["A", "Alex", "Sam Lee", "(202) 555-0124", "", "partner", "sms", "2027-03-15 10:30", "infusion", "60"],
    ["A", "Alex", "Jo Lee", "", "jo@example.com", "child", "email", "3/17/2027 10:30 AM", "infusion", "60"],
    ["B", "Robin", "Casey Kim", "+1 303 555 0199", "casey@example.com", "friend", "both", "", "", ""],
]


def family_import_read(raw: bytes) -> ImportResult:
    """Parse a CSV upload into rows; problems with the file as a whole go in `errors`."""
    return csv_read(raw, columns=IMPORT_COLUMNS, required=IMPORT_REQUIRED)


def family_import(
    *,
    clinic: Clinic,
    result: ImportResult,
    commit: bool,
    confirmed: bool = False,
    by: AbstractBaseUser | None = None,
) -> ImportResult:
    """Check every row; with commit=True save them through the same services as the pages, only if all are valid.

    The preview (commit=False) checks each row without writing, and what needs the database (a
    number or address already enrolled) for the whole file in one query each, so thousands of rows
    take a second or two. The import runs every row through the services again, inside one
    transaction: any error, and nothing is saved. Families are grouped by the `family` column.
    Past or duplicate appointments are warnings, kept only when `confirmed`.
    """
    if result.errors:
        return result
    _preview_rows(clinic, result)
    if not commit or not result.ok:
        return result
    if result.warned and not confirmed:
        result.unconfirmed = True
        return result
    result.families = result.caregivers = result.appointments = 0
    try:
        with transaction.atomic():
            _import_rows(clinic, result, by=by)
            if not result.ok:
                raise ImportInvalid(result)
            audit_record(
                by=by,
                action="family.import",
                target=clinic,
                changes={
                    "families": result.families,
                    "caregivers": result.caregivers,
                    "appointments": result.appointments,
                },
            )
    except ImportInvalid:
        pass
    return result


# Words spreadsheets use for a relationship or a channel, and the form's own labels.
RELATIONSHIP_WORDS = {
    **{label.lower(): value for value, label in CareLink.Relationship.choices},
    "spouse": "partner", "husband": "partner", "wife": "partner", "boyfriend": "partner", "girlfriend": "partner",
    "mother": "parent", "father": "parent", "mom": "parent", "dad": "parent", "mum": "parent",
    "son": "child", "daughter": "child", "brother": "sibling", "sister": "sibling",
}  # fmt: skip
CHANNEL_WORDS = {"text": "sms", "texts": "sms", "mobile": "sms", "e-mail": "email", "text and email": "both",
                 "sms and email": "both", "text & email": "both"}  # fmt: skip


def _caregiver_cells(row: dict, errors: list[str]) -> tuple[str, str] | None:
    relationships = {value for value, _ in CareLink.Relationship.choices}
    channels = {value for value, _ in Caregiver.Channels.choices}
    relationship = row["relationship"].strip().lower()
    relationship = RELATIONSHIP_WORDS.get(relationship, relationship) or CareLink.Relationship.OTHER
    channel = row["channels"].strip().lower()
    channel = CHANNEL_WORDS.get(channel, channel) or ("both" if row["caregiver_phone"] and row["caregiver_email"] else (
        "sms" if row["caregiver_phone"] else "email"))  # fmt: skip
    if relationship not in relationships:
        errors.append(f"relationship: use one of {', '.join(sorted(relationships))}.")
    if channel not in channels:
        errors.append(f"channels: use one of {', '.join(sorted(channels))}.")
    return None if errors else (relationship, channel)


def _has_caregiver(row: dict) -> bool:
    return bool(row["caregiver_name"] or row["caregiver_phone"] or row["caregiver_email"])


def _preview_rows(clinic: Clinic, result: ImportResult) -> None:
    """Every row checked by the services' own validation, with no write and no query per row."""
    families: dict[str, LovedOne] = {}
    planned: dict[str, list[Appointment]] = {}
    built: list[tuple[dict, Caregiver]] = []
    now = timezone.now()
    closed = selectors.clinic_closures(clinic=clinic)
    for row in result.rows:
        errors = row["errors"]
        if errors:
            continue
        family = row["family"]
        if not family:
            errors.append("family: give each family a reference (any label, the same on all its rows).")
            continue
        loved_one = families.get(family)
        if loved_one is None:
            try:
                loved_one = loved_one_build(clinic=clinic, first_name=row["loved_one"], check_database=False)
            except ValidationError as exc:
                errors.extend(f"loved_one: {m}" for m in exc.messages)
                continue
            families[family] = loved_one
        elif row["loved_one"] and row["loved_one"] != loved_one.first_name:
            errors.append(f"loved_one: family {family} is {loved_one.first_name} on an earlier row.")
            continue
        if _has_caregiver(row) and (cells := _caregiver_cells(row, errors)):
            try:
                caregiver = caregiver_build(
                    clinic=clinic, name=row["caregiver_name"], phone=row["caregiver_phone"],
                    email=row["caregiver_email"], channels=cells[1], check_database=False,
                )  # fmt: skip
            except ValidationError as exc:
                errors.extend(_row_messages(exc))
            else:
                built.append((row, caregiver))
        if row["appointment"] and not errors:
            read = appointment_row_read(row, time_zone=clinic.time_zone)
            if read is not None:
                starts_at, duration = read.starts_at, read.duration_minutes
                others = planned.setdefault(family, [])
                row["warnings"] = selectors.appointment_warnings(
                    loved_one=loved_one,
                    starts_at=starts_at,
                    duration_minutes=duration,
                    now=now,
                    others=others,
                    closed=closed,
                )
                others.append(read)
    _enrolled_check(clinic, built)
    valid = [row for row in result.rows if not row["errors"]]
    result.families = len({row["family"] for row in valid})
    result.caregivers = sum(1 for row in valid if _has_caregiver(row))
    result.appointments = sum(1 for row in valid if row["appointment"])


def _enrolled_check(clinic: Clinic, built: list[tuple[dict, Caregiver]]) -> None:
    """The unique constraints on a caregiver's number and address, for a whole file in two queries:
    enrolled already, or twice in the file. The words are the constraints' own."""
    constraints = {c.name: c for c in Caregiver._meta.constraints}
    phones = {c.phone for _, c in built if c.phone}
    emails = {c.email for _, c in built if c.email}
    # A sign-up nobody confirmed holds its number for nobody: the import replaces it, so the
    # preview does not call it taken (caregiver.services.signups).
    holders = Caregiver.objects.filter(clinic=clinic).exclude(pk__in=selectors.sign_ups_unconfirmed().values("pk"))
    taken_phones = set(holders.filter(phone__in=phones).values_list("phone", flat=True))
    taken_emails = {e.lower() for e in holders.filter(email__in=emails).values_list("email", flat=True)}
    for field, taken, constraint in (
        ("phone", taken_phones, "unique_phone_per_clinic"),
        ("email", taken_emails, "unique_email_per_clinic"),
    ):
        message = f"{field}: {constraints[constraint].violation_error_message}"
        seen: dict[str, int] = {}
        for row, caregiver in built:
            address = getattr(caregiver, field).lower()
            if not address:
                continue
            if address in taken:
                row["errors"].append(message)
            elif address in seen:
                what = "number" if field == "phone" else "address"
                row["errors"].append(f"{field}: the same {what} is on line {seen[address]} of the file: give it once.")
            seen.setdefault(address, row["line"])


def _import_rows(clinic: Clinic, result: ImportResult, *, by: AbstractBaseUser | None) -> None:
    families: dict[str, LovedOne] = {}
    for row in result.rows:
        errors = row["errors"]
        family = row["family"]
        loved_one = families.get(family)
        if loved_one is None:
            try:
                with transaction.atomic():
                    loved_one = loved_one_create(clinic=clinic, first_name=row["loved_one"])
            except ValidationError as exc:
                errors.extend(f"loved_one: {m}" for m in exc.messages)
                continue
            families[family] = loved_one
            result.families += 1
        if _has_caregiver(row) and (cells := _caregiver_cells(row, errors)):
            try:
                with transaction.atomic():
                    caregiver = caregiver_create(
                        clinic=clinic, name=row["caregiver_name"], phone=row["caregiver_phone"],
                        email=row["caregiver_email"], channels=cells[1], loved_one=loved_one,
                        relationship=cells[0],
                    )  # fmt: skip
                    _staff_invite(caregiver, by=by)
                result.caregivers += 1
            except ValidationError as exc:
                errors.extend(_row_messages(exc))
        if row["appointment"] and not errors:
            read = appointment_row_read(row, time_zone=clinic.time_zone)
            if read is None:
                continue
            starts_at, kind, duration = read.starts_at, read.kind, read.duration_minutes
            try:
                with transaction.atomic():
                    appointment_create(
                        loved_one=loved_one, starts_at=starts_at, kind=kind, duration_minutes=duration, confirmed=True
                    )
                result.appointments += 1
            except ValidationError as exc:
                errors.extend(_row_messages(exc))


def _row_messages(exc: ValidationError) -> list[str]:
    """A service's errors as lines for a CSV row: "phone: …", or the message alone if it has no field."""
    return [m if name == "non_field" else f"{name}: {m}" for name, ms in _by_field(exc).items() for m in ms]


# --- Closure days ------------------------------------------------------------------------------


@transaction.atomic
def clinic_closure_add(
    *, clinic: Clinic, day: date, note: str = "", by: AbstractBaseUser | None = None
) -> ClinicClosure:
    """A day the clinic is closed: the course planner moves sessions off it. Twice is an error that says so."""
    if day < timezone.now().astimezone(ZoneInfo(clinic.time_zone)).date():
        # Closure days move sessions still to be planned: a past one would do nothing, silently.
        raise ValidationError({"day": f"{day:%a %b} {day.day}, {day.year} has passed: give a day from today on."})
    if clinic.closures.filter(day=day).exists():
        raise ValidationError({"day": f"{day:%a %b} {day.day}, {day.year} is already a closure day."})
    closure = ClinicClosure(clinic=clinic, day=day, note=note.strip())
    closure.full_clean()
    closure.save()
    audit_record(by=by, action="clinic.closure", target=clinic, changes={"day": day, "note": closure.note})
    return closure


@transaction.atomic
def clinic_closure_remove(*, closure: ClinicClosure, by: AbstractBaseUser | None = None) -> None:
    audit_record(by=by, action="clinic.closure", target=closure.clinic, changes={"day": closure.day, "removed": True})
    closure.delete()
