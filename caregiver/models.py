"""People and their consent: clinics, staff, loved ones, caregivers, appointments.

We keep as little health information as the service needs: a loved one is a first name or a
nickname at a clinic, nothing more. Appointments say when, not why.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import MaxValueValidator, MinValueValidator, RegexValidator
from django.db import models, transaction
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django.utils.translation import gettext

from .validators import (
    enrollment_code_generate,
    phone_to_e164,
    quiet_hours_problems,
    sms_countries_parse,
    sms_name_problem,
    validate_clinic_name,
    validate_e164,
    validate_loved_one_name,
    validate_one_line,
    validate_person_name,
    validate_sms_countries,
    validate_sms_name,
    validate_time_zone,
)


class TimeStamped(models.Model):
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        abstract = True


class AppendOnly(models.Model):
    """A record of something that happened: written once, never changed or deleted."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        if not self._state.adding:
            raise ValidationError(
                f"{self._meta.verbose_name_plural.capitalize()} are append-only; record a new one instead."
            )
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise ValidationError(f"{self._meta.verbose_name_plural.capitalize()} are append-only and cannot be deleted.")


def plan_mark(caregivers: models.QuerySet) -> int:
    """Mark caregivers for the planner, in the caller's transaction: what they should get changed.

    The one way planning learns of a change. The models below call it from save() and delete(),
    so a change made anywhere (a service, the admin, a shell) re-plans, and a change that rolls
    back marks nothing. messaging/planning.py syncs marked caregivers on its next tick.
    """
    # Not filtered on plan_dirty=False: a planner may be syncing them right now with what it read
    # before this change; the update waits for its row lock and marks them again after it.
    return caregivers.update(plan_dirty=True)


class PlanInput(models.Model):
    """A row whose saving or deleting changes what some caregivers should get (`planned_caregivers`)."""

    class Meta:
        abstract = True

    def save(self, *args, **kwargs) -> None:
        with transaction.atomic():
            super().save(*args, **kwargs)
            plan_mark(self.planned_caregivers())

    def delete(self, *args, **kwargs):
        with transaction.atomic():
            plan_mark(self.planned_caregivers())
            return super().delete(*args, **kwargs)

    def planned_caregivers(self) -> models.QuerySet:
        raise NotImplementedError


class Clinic(PlanInput, TimeStamped):
    """A clinic that enrolls families. Its settings shape every message its caregivers get."""

    name = models.CharField(max_length=120, validators=[validate_clinic_name])
    slug = models.SlugField(max_length=60, unique=True)
    time_zone = models.CharField(max_length=64, default="America/New_York", validators=[validate_time_zone])
    contact_phone = models.CharField(
        max_length=20, validators=[validate_e164], help_text="Shown to caregivers in HELP replies (E.164)."
    )
    contact_email = models.EmailField(help_text="Shown to caregivers in HELP replies.")
    twilio_from_number = models.CharField(
        max_length=20, blank=True, validators=[validate_e164], help_text="Sender number (E.164), or leave blank."
    )
    twilio_messaging_service_sid = models.CharField(
        max_length=34,
        blank=True,
        validators=[RegexValidator(r"^MG[0-9a-fA-F]{32}$", "A Messaging Service SID is MG followed by 32 hex digits.")],
        help_text="Used instead of the from-number when set.",
    )
    enrollment_code = models.CharField(
        max_length=16,
        unique=True,
        default=enrollment_code_generate,
        validators=[RegexValidator(r"^[A-Z0-9]{6,16}$", "Use 6 to 16 capital letters or digits.")],
        help_text="Families sign themselves up at /join/<code>/.",
    )
    sms_name = models.CharField(
        max_length=40,
        blank=True,
        validators=[validate_sms_name],
        help_text=(
            "How texts name the clinic (they can be read on a lock screen): no treatment or diagnosis words. "
            "Blank: the clinic's name if it says nothing of treatment, else “your clinic”."
        ),
    )
    discreet_mode = models.BooleanField(
        default=True,
        help_text=(
            "On: no text or email subject names a treatment, drug or diagnosis. Off: the words chosen below may appear."
        ),
    )
    allowed_words = models.JSONField(
        default=list,
        blank=True,
        help_text='With discreet mode off, which entries of the discretion list texts may use (e.g. ["ketamine"]).',
    )
    sms_countries = models.CharField(
        max_length=100,
        default="US",
        validators=[validate_sms_countries],
        help_text=(
            "Countries whose mobile numbers this clinic may text, as two-letter codes separated by commas "
            "(US, or US, CA). Set by operators: texts abroad cost more, and are how SMS fraud is paid."
        ),
    )
    sms_mps = models.FloatField(
        default=1.0,
        validators=[MinValueValidator(0.1), MaxValueValidator(1000)],
        help_text="Messages per second this clinic's sender may send (about 1 for a long code).",
    )
    observation_minutes = models.PositiveSmallIntegerField(
        default=60,
        validators=[MaxValueValidator(480)],
        help_text=(
            "How long patients are observed after a treatment before they can go home "
            "(esketamine nasal spray: at least 120 whatever this says)."
        ),
    )
    home_after_minutes = models.PositiveSmallIntegerField(
        default=45,
        validators=[MaxValueValidator(240)],
        help_text="About how long after pick-up patients are home: the after-session message is sent then.",
    )
    auto_reply_hours = models.PositiveSmallIntegerField(
        default=24,
        validators=[MinValueValidator(1), MaxValueValidator(24 * 14)],
        help_text=(
            "A text that is not a keyword or a crisis gets the auto-reply (not watched 24/7, the clinic's "
            "phone, 988 and 911) at most once per sender in this many hours."
        ),
    )
    staff_two_factor_required = models.BooleanField(
        "staff must use two-factor sign-in",
        default=False,
        help_text=(
            "On: everyone on the clinic's staff enters a code from an authenticator app after their password "
            "(they set the app up at their next sign-in). A member of several clinics needs it if any of them asks."
        ),
    )

    class Meta:
        ordering = ["name"]
        constraints = [
            # Inbound texts find their clinic by the number they were sent to: two clinics on one
            # number would read each other's caregivers' texts, and their STOPs.
            models.UniqueConstraint(
                fields=["twilio_from_number"],
                condition=~Q(twilio_from_number=""),
                name="clinic_sender_number_unique",
                violation_error_message="Another clinic already sends from this number.",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    def planned_caregivers(self) -> models.QuerySet:
        return Caregiver.objects.filter(clinic_id=self.pk)

    @property
    def sms_country_codes(self) -> list[str]:
        return sms_countries_parse(self.sms_countries)

    def clean(self) -> None:
        from content.validation import DISCRETION_WORDS  # the one list of revealing words

        words = self.allowed_words
        if not isinstance(words, list) or not all(isinstance(w, str) for w in words):
            raise ValidationError(
                {"allowed_words": 'Give a list of words from the discretion list, like ["ketamine"].'}
            )
        unknown = [w for w in words if w not in DISCRETION_WORDS]
        if not unknown and self.sms_name:
            allowed = frozenset() if self.discreet_mode else frozenset(words)
            problem = sms_name_problem(self.sms_name, allowed=allowed)
            if problem:
                raise ValidationError({"sms_name": problem})
        if unknown:
            raise ValidationError(
                {
                    "allowed_words": (
                        f"Not on the discretion list: {', '.join(unknown)}. Choose from: {', '.join(DISCRETION_WORDS)}."
                    )
                }
            )


class OnCallContact(TimeStamped):
    """Who is told of a crisis text, in order: the first at once, the next when nobody has
    acknowledged within CRISIS_ACK_MINUTES, and after the last, everyone (every on-call contact,
    the clinic's staff and its contact address). A contact has a mobile number, an email, or both."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="on_call")
    position = models.PositiveSmallIntegerField(default=0, help_text="Lower is told first.")
    name = models.CharField(max_length=80, validators=[validate_one_line])
    phone = models.CharField(max_length=20, blank=True, validators=[validate_e164], help_text="Mobile (E.164).")
    email = models.EmailField(blank=True)

    class Meta:
        ordering = ["clinic", "position", "id"]
        verbose_name = "on-call contact"
        constraints = [
            models.CheckConstraint(condition=~Q(phone="") | ~Q(email=""), name="on_call_has_phone_or_email"),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.clinic}, #{self.position + 1})"

    def clean(self) -> None:
        if not self.phone and not self.email:
            raise ValidationError("Give a mobile number, an email address, or both.")
        if self.phone and self.clinic_id:
            # Crisis pages are texts: to a person's mobile, in a country the clinic texts (a premium
            # or foreign number here would be paid for on every page, and reach nobody on call).
            try:
                phone_to_e164(self.phone, require_mobile=True, countries=self.clinic.sms_country_codes)
            except ValidationError as exc:
                raise ValidationError({"phone": exc.messages}) from exc


class ClinicClosure(TimeStamped):
    """A day the clinic is closed (a holiday, a training day): the course planner plans no session on it."""

    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="closures")
    day = models.DateField()
    note = models.CharField(
        max_length=80, blank=True, validators=[validate_one_line], help_text="Why, for staff: “Thanksgiving”."
    )

    class Meta:
        ordering = ["clinic", "day"]
        verbose_name = "closure day"
        constraints = [models.UniqueConstraint(fields=["clinic", "day"], name="unique_clinic_closure_day")]

    def __str__(self) -> str:
        return f"{self.clinic} closed on {self.day:%Y-%m-%d}" + (f" ({self.note})" if self.note else "")


class StaffMembership(TimeStamped):
    """A Django user working at a clinic. Staff see only the clinics they belong to."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Clinic admin"
        STAFF = "staff", "Staff"

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="memberships")
    clinic = models.ForeignKey(Clinic, on_delete=models.CASCADE, related_name="memberships")
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.STAFF)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["user", "clinic"], name="unique_membership")]

    def __str__(self) -> str:
        return f"{self.user} at {self.clinic} ({self.get_role_display()})"


class LovedOne(PlanInput, TimeStamped):
    """The person in treatment. First name or nickname only: no diagnosis, no date of birth."""

    class ArchiveReason(models.TextChoices):
        COURSE_ENDED = "course_ended", "Course ended"
        MOVED_CLINIC = "moved_clinic", "Moved to another clinic"
        BEREAVEMENT = "bereavement", "Bereavement"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="loved_ones")
    first_name = models.CharField(
        max_length=40, validators=[validate_loved_one_name], help_text="First name or nickname only."
    )
    # Archived: hidden from the staff list, nothing more is planned or sent for the family
    # (caregiver.services.people.family_archive); the reason is shown to staff.
    archived_at = models.DateTimeField(null=True, blank=True)
    archived_reason = models.CharField(max_length=12, choices=ArchiveReason.choices, blank=True)

    class Meta:
        ordering = ["first_name", "id"]
        verbose_name = "loved one"

    def __str__(self) -> str:
        return self.first_name

    def planned_caregivers(self) -> models.QuerySet:
        return Caregiver.objects.filter(links__loved_one_id=self.pk)


class Caregiver(TimeStamped):
    """A family member or friend who receives guidance.

    Status: `pending` until they confirm a channel, then `active`; `paused` until
    `paused_until`; `opted_out` once every channel they had is opted out; `archived` once every
    family they support is archived (nothing is planned or sent but answers to their own texts). Consent itself lives
    in ConsentRecord rows; services keep the status in step with them.
    """

    class Channels(models.TextChoices):
        SMS = "sms", "Text messages"
        EMAIL = "email", "Email"
        BOTH = "both", "Text messages and email"

    class Frequency(models.TextChoices):
        DAILY = "daily", "Every day"
        THREE_A_WEEK = "three_weekly", "Three times a week"
        WEEKLY = "weekly", "Once a week"
        PAUSED = "paused", "No tips (reminders only)"

    class Status(models.TextChoices):
        PENDING = "pending", "Waiting for confirmation"
        ACTIVE = "active", "Active"
        PAUSED = "paused", "Paused"
        OPTED_OUT = "opted_out", "Opted out"
        ARCHIVED = "archived", "Family archived"

    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="caregivers")
    name = models.CharField(max_length=80, validators=[validate_person_name])
    phone = models.CharField(
        max_length=20, blank=True, validators=[validate_e164], help_text="E.164, e.g. +12025550143"
    )
    email = models.EmailField(blank=True)
    # When the number or email was last changed: consent given to it before then does not count
    # (a number someone moves back to may have been someone else's in between).
    phone_since = models.DateTimeField(null=True, blank=True)
    email_since = models.DateTimeField(null=True, blank=True)
    time_zone = models.CharField(max_length=64, validators=[validate_time_zone])
    channels = models.CharField(max_length=5, choices=Channels.choices, default=Channels.SMS)
    tip_time = models.TimeField(default=time(10, 0), help_text="Preferred local time for tips.")
    tip_frequency = models.CharField(max_length=12, choices=Frequency.choices, default=Frequency.THREE_A_WEEK)
    quiet_start = models.TimeField(default=time(21, 0), help_text="No messages from this local time…")
    quiet_end = models.TimeField(default=time(8, 0), help_text="…until this local time.")
    # What every message, page and reply to this caregiver is written in (settings.LANGUAGES).
    language = models.CharField(max_length=8, default="en", choices=[("en", "English"), ("es", "Spanish")])
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    paused_until = models.DateTimeField(null=True, blank=True)
    sms_blocked_reason = models.CharField(
        max_length=120, blank=True, help_text="Set when the carrier says texts cannot reach this number."
    )
    email_blocked_reason = models.CharField(
        max_length=120,
        blank=True,
        help_text="Set when the email provider says mail to this address bounced for good or was marked as spam.",
    )
    email_blocked_at = models.DateTimeField(null=True, blank=True)
    safety_tips_sms = models.BooleanField(
        default=False,
        help_text="Safety tips (warning signs, what to do in a crisis) by text as well as email. They name suicide.",
    )
    # The private calendar feed's secret: a new one revokes the old link.
    calendar_secret = models.CharField(max_length=43, blank=True, db_index=True)
    loved_ones = models.ManyToManyField(LovedOne, through="CareLink", related_name="caregivers")
    # Planning state (messaging/planning.py). `plan_dirty` is set in the same transaction as any
    # change that alters what this caregiver should get, so a broker outage loses no re-plan; the
    # planner's tick syncs dirty caregivers and those whose plan ends short of the horizon.
    plan_dirty = models.BooleanField(default=True, help_text="Something changed: the planner syncs them next.")
    planned_until = models.DateTimeField(null=True, blank=True, help_text="Messages are planned up to here.")
    plan_lease_until = models.DateTimeField(
        null=True, blank=True, help_text="A planner has taken them until then (or a failed sync waits to retry)."
    )
    plan_problem = models.CharField(
        max_length=300, blank=True, help_text="Why some of their messages could not be planned, if anything."
    )
    plan_problem_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["name", "id"]
        constraints = [
            models.CheckConstraint(
                condition=~Q(phone="") | ~Q(email=""),
                name="caregiver_has_phone_or_email",
                violation_error_message="Give a mobile number, an email address, or both.",
            ),
            # The messages do not say who enrolled the number: that would leak between families.
            models.UniqueConstraint(
                fields=["clinic", "phone"],
                condition=~Q(phone=""),
                name="unique_phone_per_clinic",
                violation_error_message="This mobile number is already enrolled at this clinic.",
            ),
            models.UniqueConstraint(
                "clinic",
                Lower("email"),
                condition=~Q(email=""),
                name="unique_email_per_clinic",
                violation_error_message="This email address is already enrolled at this clinic.",
            ),
        ]
        indexes = [
            models.Index(fields=["phone"]),
            models.Index(fields=["status"]),
            # The planner's two questions: who changed, and whose plan runs short of the horizon?
            models.Index(fields=["id"], condition=Q(plan_dirty=True), name="caregiver_plan_dirty"),
            models.Index(fields=["planned_until"], condition=Q(status="active"), name="caregiver_plan_horizon"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args, **kwargs) -> None:
        # Any change to a caregiver may change what they should get: the planner syncs them next.
        # (The planner itself clears the mark with an update, never with save().)
        self.plan_dirty = True
        update_fields = kwargs.get("update_fields")
        if update_fields is not None:
            kwargs["update_fields"] = {*update_fields, "plan_dirty"}
        super().save(*args, **kwargs)

    def clean(self) -> None:
        # "Give a mobile number, an email address, or both" is the check constraint's own message: full_clean
        # validates constraints, and saying it here as well showed it twice.
        if self.channels in (self.Channels.SMS, self.Channels.BOTH) and not self.phone:
            raise ValidationError({"phone": gettext("Text messages need a mobile number.")})
        if self.channels in (self.Channels.EMAIL, self.Channels.BOTH) and not self.email:
            raise ValidationError({"email": gettext("Email needs an email address.")})
        if self.quiet_start is not None and self.quiet_end is not None:
            problems = quiet_hours_problems(
                quiet_start=self.quiet_start, quiet_end=self.quiet_end, tip_time=self.tip_time
            )
            if problems:
                raise ValidationError(problems)

    @property
    def wants_sms(self) -> bool:
        return self.channels in (self.Channels.SMS, self.Channels.BOTH)

    @property
    def wants_email(self) -> bool:
        return self.channels in (self.Channels.EMAIL, self.Channels.BOTH)


class CareLink(PlanInput, TimeStamped):
    """A caregiver supports a loved one. One caregiver can support several."""

    class Relationship(models.TextChoices):
        PARTNER = "partner", "Partner or spouse"
        PARENT = "parent", "Parent"
        CHILD = "child", "Son or daughter"
        SIBLING = "sibling", "Brother or sister"
        FRIEND = "friend", "Friend"
        OTHER = "other", "Other family or support"

    caregiver = models.ForeignKey(Caregiver, on_delete=models.CASCADE, related_name="links")
    loved_one = models.ForeignKey(LovedOne, on_delete=models.CASCADE, related_name="links")
    relationship = models.CharField(max_length=10, choices=Relationship.choices, default=Relationship.OTHER)

    class Meta:
        constraints = [models.UniqueConstraint(fields=["caregiver", "loved_one"], name="unique_care_link")]

    def __str__(self) -> str:
        return f"{self.caregiver} supports {self.loved_one} ({self.get_relationship_display()})"

    def planned_caregivers(self) -> models.QuerySet:
        return Caregiver.objects.filter(pk=self.caregiver_id)

    def clean(self) -> None:
        if self.caregiver.clinic_id != self.loved_one.clinic_id:
            raise ValidationError("A caregiver can only support loved ones at their own clinic.")


class ConsentRecord(AppendOnly):
    """One opt-in or opt-out, exactly as it happened. Append-only: never edited, never deleted.

    The current consent for a channel is the latest record for it (see selectors).
    """

    class Channel(models.TextChoices):
        SMS = "sms", "SMS"
        EMAIL = "email", "Email"

    class Action(models.TextChoices):
        OPT_IN = "opt_in", "Opt in"
        OPT_OUT = "opt_out", "Opt out"

    class Source(models.TextChoices):
        WEB = "web", "Web form"
        SMS = "sms", "Text message"
        EMAIL = "email", "Email link"
        STAFF = "staff", "Clinic staff"
        API = "api", "API"

    caregiver = models.ForeignKey(Caregiver, on_delete=models.PROTECT, related_name="consent_records")
    channel = models.CharField(max_length=5, choices=Channel.choices)
    address = models.CharField(
        max_length=254,
        blank=True,
        help_text="The number or email the consent was given for (it does not follow a new one).",
    )
    action = models.CharField(max_length=7, choices=Action.choices)
    source = models.CharField(max_length=5, choices=Source.choices)
    consent_text_version = models.CharField(max_length=40, blank=True)
    language = models.CharField(max_length=8, default="en", help_text="The language the consent text was shown in.")
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    message_sid = models.CharField(max_length=64, blank=True, help_text="The inbound SMS that carried it.")
    recorded_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["caregiver", "channel", "-created_at", "-id"])]

    def __str__(self) -> str:
        return f"{self.caregiver} {self.get_action_display().lower()} {self.get_channel_display()} ({self.address})"

    def save(self, *args, **kwargs) -> None:
        if not self.address:
            # Given for the address the caregiver has now, unless the caller says which (a confirmation's).
            self.address = self.caregiver.phone if self.channel == self.Channel.SMS else self.caregiver.email
        super().save(*args, **kwargs)


APPOINTMENT_HORIZON = timedelta(days=20 * 365)


@dataclass(frozen=True)
class Protocol:
    """What a kind of appointment asks of the family.

    `observed`: the patient is watched afterwards and must not drive home, so ride reminders and
    after-session messages apply. `min_observation_minutes`: the least observation, whatever the
    clinic sets (esketamine's label requires at least two hours). `driving`: when they may drive
    again, as the messages say it ("rest_of_day": not today; "next_day": not until the next day,
    after a night's sleep)."""

    observed: bool
    min_observation_minutes: int = 0
    driving: str = ""


PROTOCOLS = {
    "infusion": Protocol(observed=True, driving="rest_of_day"),
    "injection": Protocol(observed=True, driving="rest_of_day"),
    "esketamine": Protocol(observed=True, min_observation_minutes=120, driving="next_day"),
    "booster": Protocol(observed=True, driving="rest_of_day"),
    "assessment": Protocol(observed=False),
    "other": Protocol(observed=False),
}


class Appointment(PlanInput, TimeStamped):
    """A visit to the clinic. Times are stored in UTC and shown in the clinic's zone."""

    class Kind(models.TextChoices):
        ASSESSMENT = "assessment", "Assessment"
        INFUSION = "infusion", "IV infusion"
        INJECTION = "injection", "IM injection"
        ESKETAMINE = "esketamine", "Esketamine nasal spray"
        BOOSTER = "booster", "Booster (maintenance)"
        OTHER = "other", "Other"

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", "Scheduled"
        CANCELLED = "cancelled", "Cancelled"
        COMPLETED = "completed", "Completed"

    # Kinds after which the patient is observed and must not drive home (PROTOCOLS).
    TREATMENT_KINDS = (Kind.INFUSION, Kind.INJECTION, Kind.ESKETAMINE, Kind.BOOSTER)

    loved_one = models.ForeignKey(LovedOne, on_delete=models.CASCADE, related_name="appointments")
    starts_at = models.DateTimeField(db_index=True)
    duration_minutes = models.PositiveSmallIntegerField(
        default=60, validators=[MinValueValidator(5), MaxValueValidator(600)]
    )
    kind = models.CharField(max_length=10, choices=Kind.choices, default=Kind.INFUSION)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.SCHEDULED)
    ride_arranged_at = models.DateTimeField(null=True, blank=True)
    ride_arranged_by_caregiver = models.ForeignKey(
        Caregiver, null=True, blank=True, on_delete=models.SET_NULL, related_name="rides_arranged"
    )
    ride_arranged_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The clinic was told that no ride home was confirmed a day ahead (once per start time).
    ride_alerted_for = models.DateTimeField(null=True, blank=True)
    # The last reschedule or cancellation, and the start it moved from: families get a notice.
    changed_at = models.DateTimeField(null=True, blank=True)
    moved_from = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["starts_at", "id"]
        indexes = [
            # The ride check's only question: which treatments start within a day with no ride?
            models.Index(fields=["starts_at"], condition=Q(status="scheduled", ride_arranged_at__isnull=True),
                         name="appointment_no_ride"),
        ]  # fmt: skip

    def __str__(self) -> str:
        return f"{self.get_kind_display()} for {self.loved_one} at {self.starts_at:%Y-%m-%d %H:%M} UTC"

    def planned_caregivers(self) -> models.QuerySet:
        return Caregiver.objects.filter(links__loved_one_id=self.loved_one_id)

    def clean(self) -> None:
        # A year typed wrong (2062, 9999) would otherwise be saved, and at the ends of the calendar
        # the end time, the pickup time and the reminders cannot even be computed.
        starts_at = self.starts_at
        if (
            starts_at is not None
            and timezone.is_aware(starts_at)
            and abs(starts_at - timezone.now()) > APPOINTMENT_HORIZON
        ):
            raise ValidationError(
                {"starts_at": f"Check the year: {starts_at:%Y-%m-%d} is more than 20 years from today."}
            )

    @property
    def ends_at(self) -> datetime:
        return self.starts_at + timedelta(minutes=self.duration_minutes)

    @property
    def protocol(self) -> Protocol:
        return PROTOCOLS[self.kind]

    @property
    def observation_minutes(self) -> int:
        """How long the patient is observed afterwards: the clinic's time, never less than the kind needs."""
        if not self.protocol.observed:
            return 0
        return max(self.loved_one.clinic.observation_minutes, self.protocol.min_observation_minutes)

    @property
    def pickup_at(self) -> datetime:
        """When the patient can expect to go home: the end, plus observation after a treatment."""
        return self.ends_at + timedelta(minutes=self.observation_minutes)

    @property
    def home_at(self) -> datetime:
        """When the patient is likely home: pick-up plus the clinic's travel time."""
        return self.pickup_at + timedelta(minutes=self.loved_one.clinic.home_after_minutes)

    @property
    def ride_arranged(self) -> bool:
        return self.ride_arranged_at is not None


class ChannelConfirmation(models.Model):
    """A pending double opt-in for one channel. Until one is confirmed, nothing but it is sent.

    How it is confirmed:
      - `code`:  a 6-digit SMS code typed on the sign-up page (10 minutes, 5 tries);
      - `reply`: the caregiver texts YES (staff-enrolled numbers, who never saw our page);
      - `link`:  a signed link in an email (3 days).
    The code is kept only as an HMAC keyed with SECRET_KEY, never as typed. The consent text
    version and IP address are those of the form the caregiver (or staff member) submitted; the
    opt-in recorded on confirmation carries them.
    """

    class Method(models.TextChoices):
        CODE = "code", "Code by SMS"
        REPLY = "reply", "Reply YES by SMS"
        LINK = "link", "Link by email"

    caregiver = models.ForeignKey(Caregiver, on_delete=models.CASCADE, related_name="confirmations")
    channel = models.CharField(max_length=5, choices=ConsentRecord.Channel.choices)
    method = models.CharField(max_length=5, choices=Method.choices)
    address = models.CharField(max_length=254, help_text="The number or email address being confirmed.")
    code_hash = models.CharField(max_length=64, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    consent_text_version = models.CharField(max_length=40)
    source = models.CharField(max_length=5, choices=ConsentRecord.Source.choices)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    expires_at = models.DateTimeField()
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["caregiver", "channel", "-created_at"])]

    def __str__(self) -> str:
        state = "confirmed" if self.confirmed_at else "pending"
        return f"{self.caregiver} {self.get_method_display().lower()} ({state})"


class AuditEvent(AppendOnly):
    """One change a clinic staff member made: who, at which clinic, what, to which row, when.

    Written by the services staff use (caregiver.services.audit), inside the change's own
    transaction: a change that rolls back leaves no event. Append-only, like consent records.
    `changes` is short and holds nothing staff could not already see on the family page:
    {"starts_at": [old, new]}; a new phone number or email address is recorded as "changed",
    never copied. `target_label` keeps what the row was called then, so the log stays readable
    after a rename.
    """

    class Action(models.TextChoices):
        APPOINTMENT_CREATE = "appointment.create", "Added an appointment"
        APPOINTMENT_RESCHEDULE = "appointment.reschedule", "Rescheduled an appointment"
        APPOINTMENT_CANCEL = "appointment.cancel", "Cancelled an appointment"
        APPOINTMENT_UPDATE = "appointment.update", "Changed an appointment"
        APPOINTMENT_RIDE = "appointment.ride", "Noted the ride home"
        APPOINTMENT_RIDE_UNMARK = "appointment.ride_unmark", "Took back the ride home"
        CAREGIVER_CREATE = "caregiver.create", "Added a caregiver"
        CAREGIVER_UPDATE = "caregiver.update", "Changed a caregiver's details"
        CAREGIVER_INVITE = "caregiver.invite", "Asked a caregiver to confirm"
        FAMILY_ENROLL = "family.enroll", "Enrolled a family"
        COURSE_CREATE = "course.create", "Planned a course"
        FAMILY_IMPORT = "family.import", "Imported families from a file"
        FAMILY_ARCHIVE = "family.archive", "Archived the family"
        FAMILY_RESTORE = "family.restore", "Restored the family"
        FAMILY_MERGE = "family.merge", "Merged another family into this one"
        FAMILY_RENAME = "family.rename", "Corrected the loved one's name"
        APPOINTMENT_IMPORT = "appointment.import", "Imported appointments from a file"
        CLINIC_CLOSURE = "clinic.closure", "Changed the clinic's closure days"
        CLINIC_CODE_RENEW = "clinic.code_renew", "Gave the clinic a new sign-up code"
        ALERT_ACKNOWLEDGE = "alert.acknowledge", "Acknowledged a crisis alert"
        ALERT_CLOSE = "alert.close", "Closed a crisis alert"
        INBOX_REPLY = "inbox.reply", "Replied to a text"
        INBOX_ASSIGN = "inbox.assign", "Assigned a conversation"
        INBOX_HANDLE = "inbox.handle", "Marked a conversation handled"
        INBOX_REOPEN = "inbox.reopen", "Reopened a conversation"
        SAVED_REPLY = "inbox.saved_reply", "Changed the clinic's saved replies"

    class Target(models.TextChoices):
        FAMILY = "family", "Family"
        CAREGIVER = "caregiver", "Caregiver"
        APPOINTMENT = "appointment", "Appointment"
        CLINIC = "clinic", "Clinic"

    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="audit_events"
    )
    clinic = models.ForeignKey(Clinic, on_delete=models.PROTECT, related_name="audit_events")
    action = models.CharField(max_length=30, choices=Action.choices)
    target_type = models.CharField(max_length=12, choices=Target.choices)
    target_id = models.PositiveBigIntegerField()
    target_label = models.CharField(max_length=120, blank=True)
    changes = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = "audit event"
        indexes = [
            models.Index(fields=["clinic", "-created_at"], name="audit_clinic_created"),
            models.Index(fields=["target_type", "target_id"], name="audit_target"),
        ]

    def __str__(self) -> str:
        return f"{self.actor or 'a deleted user'}: {self.get_action_display()} ({self.target_label})"

    def describe(self, time_zone: str) -> str:
        """The changes in words, times in `time_zone`: "starts at Mon Nov 2, 10:00 AM → Wed Nov 4, 9:30 AM"."""
        zone = ZoneInfo(time_zone)
        model = {
            self.Target.CAREGIVER: Caregiver, self.Target.APPOINTMENT: Appointment, self.Target.FAMILY: LovedOne,
        }.get(self.target_type)  # fmt: skip

        def show(field: str, value: object) -> str:
            if isinstance(value, str) and len(value) >= 16 and value[4:5] == "-" and value[10:11] == "T":
                try:
                    return datetime.fromisoformat(value).astimezone(zone).strftime("%a %b %-d, %-I:%M %p")
                except ValueError:
                    return value
            # A change may name a relation ("caregivers", "appointments"), which has no choices.
            found = model._meta.get_field(field) if model and _has_field(model, field) else None
            choices = dict(getattr(found, "choices", None) or [])
            return str(choices.get(value, value))

        parts = []
        for field, value in self.changes.items():
            label = field.replace("_", " ")
            if isinstance(value, list) and len(value) == 2:
                parts.append(f"{label} {show(field, value[0])} → {show(field, value[1])}")
            else:
                parts.append(f"{label} {show(field, value)}")
        return "; ".join(parts)


def _has_field(model: type[models.Model], name: str) -> bool:
    return any(f.name == name for f in model._meta.get_fields())
