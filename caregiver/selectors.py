"""Reads of caregiver/ data. Every staff-facing read goes through a `*_for_user` selector,
which returns only the rows of the clinics that user belongs to: asking for another clinic's
object finds nothing (a 404), it is never "forbidden" (which would confirm it exists).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.db.models import Count, DateTimeField, Exists, Min, OuterRef, Prefetch, Q, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from .models import Appointment, AuditEvent, Caregiver, CareLink, Clinic, ClinicClosure, ConsentRecord, LovedOne


def clinics_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Clinic]:
    if not user.is_authenticated or not user.is_active:
        return Clinic.objects.none()
    return Clinic.objects.filter(memberships__user=user).distinct()


def _clinic_ids(user: AbstractBaseUser | AnonymousUser) -> QuerySet:
    return clinics_for_user(user=user).values("id")


def loved_ones_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[LovedOne]:
    return LovedOne.objects.filter(clinic__in=_clinic_ids(user)).select_related("clinic")


def caregivers_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Caregiver]:
    return Caregiver.objects.filter(clinic__in=_clinic_ids(user)).select_related("clinic")


def appointments_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[Appointment]:
    return Appointment.objects.filter(loved_one__clinic__in=_clinic_ids(user)).select_related("loved_one__clinic")


def consent_records_for_user(*, user: AbstractBaseUser | AnonymousUser) -> QuerySet[ConsentRecord]:
    return ConsentRecord.objects.filter(caregiver__clinic__in=_clinic_ids(user)).select_related("caregiver")


# --- Consent: it belongs to an address -----------------------------------------------------------
#
# A consent record names the address (number or email) it was given for. The caregiver's consent
# on a channel is the latest record for their *current* address there: a new number or email has
# none until it is confirmed, and an opt-out given from an old number does not follow the person
# to a new one (nor does the old number's opt-in).


# Consent records before this count for an address never changed since the caregiver was created.
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def address_of(caregiver: Caregiver, channel: str) -> str:
    """The address `channel` reaches the caregiver at now: their number or their email ('' if none)."""
    return caregiver.phone if channel == ConsentRecord.Channel.SMS else caregiver.email


def address_since(caregiver: Caregiver, channel: str) -> datetime:
    """When the caregiver took their current address on `channel`: only consent given since counts."""
    since = caregiver.phone_since if channel == ConsentRecord.Channel.SMS else caregiver.email_since
    return since or EPOCH


def address_records(*, caregiver: Caregiver, channel: str) -> QuerySet[ConsentRecord]:
    """The consent records that count for the caregiver's current address on `channel`."""
    address = address_of(caregiver, channel)
    if not address:
        return ConsentRecord.objects.none()
    return caregiver.consent_records.filter(
        channel=channel, address=address, created_at__gte=address_since(caregiver, channel)
    )


def address_confirmed(*, caregiver: Caregiver, channel: str) -> bool:
    """Has the caregiver's current address on `channel` been confirmed (opted in) since they took it?"""
    return address_records(caregiver=caregiver, channel=channel).filter(action=ConsentRecord.Action.OPT_IN).exists()


def caregiver_consent(*, caregiver: Caregiver) -> dict[str, bool]:
    """Current consent per channel for the caregiver's current addresses: {"sms": True, "email": False}.

    A channel with no record for its address is absent (never asked), which is not the same as opted out.
    """
    return caregivers_consent(caregivers=[caregiver]).get(caregiver.pk, {})


def caregivers_consent(*, caregivers: Iterable[Caregiver]) -> dict[int, dict[str, bool]]:
    """`caregiver_consent` for many caregivers in one query: {caregiver_id: {"sms": True, ...}}."""
    by_id = {caregiver.pk: caregiver for caregiver in caregivers}
    consent: dict[int, dict[str, bool]] = {}
    records = ConsentRecord.objects.filter(caregiver_id__in=list(by_id)).order_by("-created_at", "-id")
    rows = records.values_list("caregiver_id", "channel", "action", "address", "created_at")
    for caregiver_id, channel, action, address, created_at in rows:
        caregiver = by_id[caregiver_id]
        if address and address == address_of(caregiver, channel) and created_at >= address_since(caregiver, channel):
            consent.setdefault(caregiver_id, {}).setdefault(channel, action == ConsentRecord.Action.OPT_IN)
    return consent


def caregivers_with_consent(queryset: QuerySet[Caregiver] | None = None) -> QuerySet[Caregiver]:
    """Annotate `sms_consent` / `email_consent` ("opt_in", "opt_out" or None) for the current
    addresses, in one query."""
    queryset = queryset if queryset is not None else Caregiver.objects.all()

    def latest(channel: str, address_field: str) -> Subquery:
        since = Coalesce(OuterRef(f"{address_field}_since"), Value(EPOCH, output_field=DateTimeField()))
        return Subquery(
            ConsentRecord.objects.filter(
                caregiver=OuterRef("pk"), channel=channel, address=OuterRef(address_field), created_at__gte=since
            )
            .exclude(address="")
            .order_by("-created_at", "-id")
            .values("action")[:1]
        )

    return queryset.annotate(
        sms_consent=latest(ConsentRecord.Channel.SMS, "phone"),
        email_consent=latest(ConsentRecord.Channel.EMAIL, "email"),
    )


def link_address_ok(*, caregiver: Caregiver, fingerprint: str | None) -> bool:
    """May a preferences link sent to the address with this fingerprint open the caregiver's page?

    Only while that address is still theirs and confirmed: a link that reached an address before
    its owner said yes (a mistyped email), or one they have since left, opens nothing. Links made
    before they named an address (None) still open, until they expire.
    """
    if fingerprint is None:
        return True
    from .tokens import address_fingerprint

    return any(
        address_fingerprint(address_of(caregiver, channel)) == fingerprint
        and address_confirmed(caregiver=caregiver, channel=channel)
        for channel in (ConsentRecord.Channel.SMS, ConsentRecord.Channel.EMAIL)
        if address_of(caregiver, channel)
    )


def caregivers_with_invitations(queryset: QuerySet[Caregiver]) -> QuerySet[Caregiver]:
    """Annotate `sms_asked_at` / `email_asked_at`: when the open invitation to confirm the current
    number or email was sent (None if there is none), for staff to see what is being waited for."""
    from .models import ChannelConfirmation

    def asked(channel: str, address_field: str) -> Subquery:
        return Subquery(
            ChannelConfirmation.objects.filter(
                caregiver=OuterRef("pk"),
                channel=channel,
                address=OuterRef(address_field),
                confirmed_at__isnull=True,
                expires_at__gt=timezone.now(),
            )
            .order_by("-created_at")
            .values("created_at")[:1]
        )

    return queryset.annotate(sms_asked_at=asked("sms", "phone"), email_asked_at=asked("email", "email"))


def unconfirmed_channels(*, caregiver: Caregiver) -> list[str]:
    """The channels the caregiver chose whose current address has neither said yes nor stop."""
    consent = caregiver_consent(caregiver=caregiver)
    wanted = (("sms", caregiver.wants_sms), ("email", caregiver.wants_email))
    return [channel for channel, wants in wanted if wants and address_of(caregiver, channel) and channel not in consent]


def consent_of(caregiver: Caregiver, channel: str) -> bool | None:
    """The consent on `channel` of a caregiver read through `caregivers_with_consent`: True, False or None."""
    action = caregiver.sms_consent if channel == ConsentRecord.Channel.SMS else caregiver.email_consent
    return {ConsentRecord.Action.OPT_IN: True, ConsentRecord.Action.OPT_OUT: False}.get(action)


def address_blocked(*, caregiver: Caregiver, channel: str) -> str:
    """Why the caregiver's address on `channel` cannot be reached ('' when it can): the carrier
    says texts cannot reach the number, or the email provider says mail to the address bounced for
    good or was reported as spam. Cleared when the address changes."""
    if channel == ConsentRecord.Channel.SMS:
        return caregiver.sms_blocked_reason
    return caregiver.email_blocked_reason


def caregiver_send_problem(
    *, caregiver: Caregiver, channel: str, opted_in: bool | None, now: datetime, asked_for: bool = False
) -> str:
    """May we send to this caregiver on this channel now? '' if we may, else why not:

    - `opted_out`: they said stop (on this address, or everywhere);
    - `undeliverable`: no address on this channel, or it cannot be reached (`address_blocked`);
    - `paused`: they asked for a break that has not ended;
    - `no_consent`: this address has not been confirmed (never, or it is new);
    - `family_archived`: every family they support was archived (a course ended, a bereavement):
      nothing is planned or sent to them but answers to their own texts.

    `opted_in`: their consent for the channel's current address (caregivers_consent,
    caregivers_with_consent). `asked_for`: a message they asked for (a confirmation code or link, a
    reply to their text) needs no consent yet, only an address that has not said stop.
    The one rule for planning and for sending.
    """
    if opted_in is False or caregiver.status == Caregiver.Status.OPTED_OUT:
        return "opted_out"
    if not address_of(caregiver, channel) or address_blocked(caregiver=caregiver, channel=channel):
        return "undeliverable"
    if asked_for:
        return ""
    if caregiver.status == Caregiver.Status.ARCHIVED:
        return "family_archived"
    if caregiver.status == Caregiver.Status.PAUSED and (caregiver.paused_until is None or caregiver.paused_until > now):
        return "paused"
    if caregiver.status == Caregiver.Status.PENDING or opted_in is not True:
        return "no_consent"
    return ""


# The families page's filters: what each shows, and how it is asked of the database. Every filter
# but "archived" leaves archived families out, as the unfiltered list does.
FAMILY_FILTERS = {
    "": "Open families",
    "pending": "Waiting for confirmation",
    "opted_out": "Opted out",
    "this_week": "Sessions this week",
    "archived": "Archived",
}


def week_of(*, now: datetime, time_zone: str) -> tuple[datetime, datetime]:
    """Monday 00:00 to the next Monday 00:00 of the week `now` falls in, in `time_zone`."""
    zone = ZoneInfo(time_zone)
    monday = now.astimezone(zone).date() - timedelta(days=now.astimezone(zone).weekday())
    start = datetime.combine(monday, time.min, tzinfo=zone)
    return start, datetime.combine(monday + timedelta(days=7), time.min, tzinfo=zone)


def _family_conditions(*, week: tuple[datetime, datetime]) -> dict[str, Q]:
    def has_caregiver(status: str) -> Exists:
        return Exists(CareLink.objects.filter(loved_one=OuterRef("pk"), caregiver__status=status))

    sessions = Exists(
        Appointment.objects.filter(
            loved_one=OuterRef("pk"),
            status=Appointment.Status.SCHEDULED,
            starts_at__gte=week[0],
            starts_at__lt=week[1],
        )
    )
    open_ = Q(archived_at__isnull=True)
    return {
        "": open_,
        "pending": open_ & Q(has_caregiver(Caregiver.Status.PENDING)),
        "opted_out": open_ & Q(has_caregiver(Caregiver.Status.OPTED_OUT)),
        "this_week": open_ & Q(sessions),
        "archived": Q(archived_at__isnull=False),
    }


def family_counts_for_user(
    *, user: AbstractBaseUser | AnonymousUser, week: tuple[datetime, datetime]
) -> dict[str, int]:
    """How many of the user's families each filter shows, in one query however many there are."""
    conditions = _family_conditions(week=week)
    return loved_ones_for_user(user=user).aggregate(
        **{key or "open": Count("pk", filter=condition) for key, condition in conditions.items()}
    )


def families_for_user(
    *,
    user: AbstractBaseUser | AnonymousUser,
    search: str = "",
    show: str = "",
    week: tuple[datetime, datetime] | None = None,
) -> QuerySet[LovedOne]:
    """The staff families list: each loved one with their caregivers and next appointment.

    `search` matches the loved one's name, a caregiver's name or email, or the digits of a number.
    `show`: one of FAMILY_FILTERS (open families by default; archived ones only when asked).
    """
    now = timezone.now()
    week = week or (now, now + timedelta(days=7))
    families = loved_ones_for_user(user=user).filter(_family_conditions(week=week).get(show, Q(archived_at=None)))
    families = families.annotate(
        next_appointment_at=Min(
            "appointments__starts_at",
            filter=Q(appointments__status=Appointment.Status.SCHEDULED, appointments__starts_at__gte=timezone.now()),
        ),
        caregiver_count=Count("links", distinct=True),
    )
    # Typed in a page's search box, so anything: NUL would be a database error (no name contains it).
    search = search.replace("\x00", "").strip()[:80]
    if search:
        match = (
            Q(first_name__icontains=search)
            | Q(caregivers__name__icontains=search)
            | Q(caregivers__email__icontains=search)
        )
        digits = "".join(ch for ch in search if ch.isdigit())
        if len(digits) >= 4:
            match |= Q(caregivers__phone__contains=digits)
        families = families.filter(pk__in=LovedOne.objects.filter(match).values("pk"))
    return families.prefetch_related(
        Prefetch("caregivers", queryset=Caregiver.objects.order_by("name", "id"))
    ).order_by("first_name", "id")


def new_sign_ups_for_user(*, user: AbstractBaseUser | AnonymousUser, days: int, now: datetime) -> QuerySet[Caregiver]:
    """Caregivers who signed themselves up on the web in the last `days` days, newest first, with
    their consent and open invitations (to show how far each got) and their families.

    Signed up themselves: their first confirmation came from the sign-up page (staff-entered
    caregivers' first comes from staff)."""
    from .models import ChannelConfirmation

    first_source = Subquery(
        ChannelConfirmation.objects.filter(caregiver=OuterRef("pk")).order_by("created_at", "id").values("source")[:1]
    )
    caregivers = (
        caregivers_for_user(user=user)
        .filter(created_at__gte=now - timedelta(days=days))
        .annotate(first_source=first_source)
        .filter(first_source=ConsentRecord.Source.WEB)
        .prefetch_related("loved_ones")
        .order_by("-created_at", "-id")
    )
    return caregivers_with_invitations(caregivers_with_consent(caregivers))


def family_merge_preview(*, keep: LovedOne, merge: LovedOne) -> dict[str, list]:
    """What merging `merge` into `keep` would do, for staff to confirm: the caregivers that move
    (and those already in `keep`), the appointments that move, and those that are the same visit
    as one of `keep`'s (cancelled, no notice)."""
    kept_caregivers = set(keep.links.values_list("caregiver_id", flat=True))
    kept_times = set(keep.appointments.filter(status=Appointment.Status.SCHEDULED).values_list("starts_at", flat=True))
    caregivers = list(merge.caregivers.order_by("name", "id"))
    appointments = list(merge.appointments.order_by("starts_at", "id"))
    return {
        "caregivers": [c for c in caregivers if c.pk not in kept_caregivers],
        "already": [c for c in caregivers if c.pk in kept_caregivers],
        "appointments": appointments,
        "duplicates": [
            a for a in appointments if a.status == Appointment.Status.SCHEDULED and a.starts_at in kept_times
        ],
    }


def family_audit_events(*, loved_one: LovedOne) -> QuerySet[AuditEvent]:
    """Staff changes to a family, its caregivers and its appointments, newest first."""
    return (
        AuditEvent.objects.filter(clinic_id=loved_one.clinic_id)
        .filter(
            Q(target_type=AuditEvent.Target.FAMILY, target_id=loved_one.pk)
            | Q(
                target_type=AuditEvent.Target.CAREGIVER,
                target_id__in=CareLink.objects.filter(loved_one=loved_one).values("caregiver_id"),
            )
            | Q(target_type=AuditEvent.Target.APPOINTMENT, target_id__in=loved_one.appointments.values("pk"))
        )
        .select_related("actor")
    )


# --- The caregiver's calendar feed ----------------------------------------------------------------

# How far back the feed reaches: recent visits stay in the calendar; older ones drop out of it.
CALENDAR_PAST = timedelta(days=30)


def caregiver_for_calendar(*, secret: str) -> Caregiver | None:
    """The caregiver whose calendar feed `secret` opens: None for a blank or unknown secret (one
    replaced by a new link), or a caregiver who stopped everything."""
    if not secret:
        return None
    return (
        Caregiver.objects.select_related("clinic")
        .exclude(status=Caregiver.Status.OPTED_OUT)
        .filter(calendar_secret=secret)
        .first()
    )


def calendar_appointments(*, caregiver: Caregiver, now: datetime) -> QuerySet[Appointment]:
    """The appointments of the caregiver's loved ones for their calendar, from CALENDAR_PAST ago on.

    Cancelled ones stay in, so the calendar apps that already have them remove them; completed
    ones stay too, as the visits that happened.
    """
    return (
        Appointment.objects.filter(loved_one__links__caregiver=caregiver, starts_at__gte=now - CALENDAR_PAST)
        .select_related("loved_one__clinic")
        .order_by("starts_at", "id")
    )


def sessions_on_day_for_user(*, user: AbstractBaseUser | AnonymousUser, day: date) -> list[Appointment]:
    """The user's clinics' scheduled appointments on `day`, each in its own clinic's time zone,
    with the caregivers of each family, for the staff "tomorrow" page."""
    found = []
    for clinic in clinics_for_user(user=user):
        zone = ZoneInfo(clinic.time_zone)
        start = datetime.combine(day, time.min, tzinfo=zone)
        found += list(
            Appointment.objects.filter(
                loved_one__clinic=clinic,
                status=Appointment.Status.SCHEDULED,
                starts_at__gte=start,
                starts_at__lt=datetime.combine(day + timedelta(days=1), time.min, tzinfo=zone),
            )
            .select_related("loved_one__clinic", "ride_arranged_by_caregiver", "ride_arranged_by_user")
            .prefetch_related("loved_one__caregivers")
        )
    return sorted(found, key=lambda a: (a.starts_at, a.pk))


def sign_ups_unconfirmed() -> QuerySet[Caregiver]:
    """Self sign-ups nobody confirmed: pending, with no consent record of any kind (not even a
    STOP), asked to confirm only from the sign-up page (never by staff), and with nothing staff
    added since (an appointment, another caregiver). Such a record holds a number or email for
    nobody: a new sign-up or a staff enrollment with the same address replaces it, and it expires
    after SIGN_UP_EXPIRY_DAYS (caregiver.services.signups)."""
    from .models import ChannelConfirmation

    confirmations = ChannelConfirmation.objects.filter(caregiver=OuterRef("pk"))
    staff_asked = confirmations.filter(Q(source=ConsentRecord.Source.STAFF) | Q(requested_by__isnull=False))
    family = {"loved_one__links__caregiver_id": OuterRef("pk")}
    return (
        Caregiver.objects.filter(status=Caregiver.Status.PENDING)
        .filter(Exists(confirmations.filter(source=ConsentRecord.Source.WEB)))
        .exclude(Exists(staff_asked))
        .exclude(Exists(ConsentRecord.objects.filter(caregiver=OuterRef("pk"))))
        .exclude(Exists(Appointment.objects.filter(**family)))
        .exclude(Exists(CareLink.objects.filter(**family).exclude(caregiver_id=OuterRef("pk"))))
    )


def caregivers_holding(*, clinic: Clinic, phone: str, email: str) -> QuerySet[Caregiver]:
    """The clinic's caregivers with this number (E.164) or email address (any case)."""
    match = Q(pk__in=[])
    if phone:
        match |= Q(phone=phone)
    if email:
        match |= Q(email__iexact=email.strip())
    return Caregiver.objects.filter(match, clinic=clinic)


def appointment_warnings(
    *,
    loved_one: LovedOne,
    starts_at: datetime,
    duration_minutes: int,
    now: datetime,
    exclude_id: int | None = None,
    others: Iterable[Appointment] | None = None,
    closed: dict[date, str] | None = None,
) -> list[str]:
    """What staff should look at twice before keeping an appointment: in the past, on one of the
    clinic's closure days, the same start as another of the family's scheduled appointments (a
    duplicate), or overlapping one.

    `others` and `closed` (the clinic's closure days) let a batch (a CSV import) pass what it
    already loaded.
    """
    zone = ZoneInfo(loved_one.clinic.time_zone)
    warnings = []
    if starts_at < now:
        warnings.append(f"{_local(starts_at, zone)} is in the past.")
    day = starts_at.astimezone(zone).date()
    if closed is None:
        closed = dict(loved_one.clinic.closures.filter(day=day).values_list("day", "note"))
    if day in closed:
        note = f" ({closed[day]})" if closed[day] else ""
        warnings.append(f"The clinic is closed on {day:%a %b} {day.day}, {day.year}{note}.")
    ends_at = starts_at + timedelta(minutes=duration_minutes)
    if others is None:
        others = loved_one.appointments.filter(
            status=Appointment.Status.SCHEDULED,
            starts_at__lt=ends_at,
            starts_at__gte=starts_at - timedelta(minutes=600),  # no appointment is longer than 600 minutes
        )
    for other in others:
        if (exclude_id is not None and other.pk == exclude_id) or other.status != Appointment.Status.SCHEDULED:
            continue
        if other.starts_at == starts_at:
            warnings.append(f"{loved_one.first_name} already has an appointment at {_local(starts_at, zone)}.")
        elif other.starts_at < ends_at and starts_at < other.ends_at:
            warnings.append(
                f"It overlaps {loved_one.first_name}'s appointment at {_local(other.starts_at, zone)} "
                f"({other.duration_minutes} minutes)."
            )
    return warnings


def _local(moment: datetime, zone: ZoneInfo) -> str:
    return moment.astimezone(zone).strftime("%a %b %-d, %Y %-I:%M %p")


def clinic_closures(*, clinic: Clinic, start: date | None = None, days: int = 800) -> dict[date, str]:
    """The clinic's closure days from `start` on (a course's span and more), with their notes; all
    of them without a start (a clinic lists a few a year)."""
    rows = clinic.closures.all()
    if start is not None:
        rows = rows.filter(day__gte=start, day__lt=start + timedelta(days=days))
    return {row.day: row.note for row in rows}


def closures_for_user(*, user: AbstractBaseUser | AnonymousUser, since: date) -> QuerySet[ClinicClosure]:
    return ClinicClosure.objects.filter(clinic__in=_clinic_ids(user), day__gte=since).select_related("clinic")
