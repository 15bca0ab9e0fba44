"""Shapes of the staff API: what it returns and what it accepts. No business rules here; the
services in caregiver/ validate and write, and their errors come back keyed by the same names.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import date

from django.db import models
from django.utils import timezone
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from caregiver import selectors
from caregiver.models import Appointment, Caregiver, CareLink, Clinic, LovedOne
from caregiver.validators import YEARS
from messaging.models import OutboundMessage
from messaging.selectors import message_text_for_staff

# --- Fields and a strict base -------------------------------------------------------------------


class AwareDateTimeField(serializers.DateTimeField):
    """An ISO 8601 date-time that must carry its offset: a reminder at the wrong hour is worse than a 400."""

    default_error_messages = {
        "naive": "Include a time zone offset, like 2026-12-01T10:30:00-05:00 or 2026-12-01T15:30:00Z.",
    }

    def enforce_timezone(self, value):
        if timezone.is_naive(value):
            self.fail("naive")
        return super().enforce_timezone(value)


LOCAL_TIME = re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9](:[0-5][0-9](\.[0-9]{1,6})?)?")


@extend_schema_field(
    {
        "type": "string",
        "pattern": f"^{LOCAL_TIME.pattern}$",
        "example": "21:00",
        "description": "A wall-clock time in the caregiver's time zone, HH:MM[:SS], without an offset.",
    }
)
class LocalTimeField(serializers.TimeField):
    """A wall-clock time, HH:MM[:SS]. An offset is refused: quiet hours follow the caregiver's zone,
    and OpenAPI's `format: time` would promise (and let clients send) one."""

    default_error_messages = {
        "local": "“{value}” is not a local time: use HH:MM or HH:MM:SS, like 21:00, with no offset.",
    }

    def to_internal_value(self, value):
        if not isinstance(value, str) or not LOCAL_TIME.fullmatch(value):
            self.fail("local", value=str(value)[:40])
        return super().to_internal_value(value)


class TextField(serializers.CharField):
    """Text and only text: DRF's CharField takes 0 or 1.5 too and stores "0", where the schema says string."""

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("invalid")
        return super().to_internal_value(data)


class StrictSerializer(serializers.Serializer):
    """Refuses fields it does not know, naming them: a typo must not be silently ignored."""

    def to_internal_value(self, data):
        unknown = {}
        if isinstance(data, Mapping):
            writable = sorted(name for name, field in self.fields.items() if not field.read_only)
            message = "“{}” is not a field you can send here. Fields: " + ", ".join(writable) + "."
            unknown = {name: [message.format(name)] for name in data if name not in writable}
        try:
            value = super().to_internal_value(data)
        except serializers.ValidationError as exc:
            if unknown and isinstance(exc.detail, dict):
                raise serializers.ValidationError({**exc.detail, **unknown}) from exc
            raise
        if unknown:
            raise serializers.ValidationError(unknown)
        return value


def id_field(**kwargs) -> serializers.IntegerField:
    """A row id: bounded so that a 30-digit number is a 400, not a database overflow."""
    return serializers.IntegerField(min_value=1, max_value=2**63 - 1, **kwargs)


def _choices(model: type, field: str) -> list[tuple[str, str]]:
    return list(model._meta.get_field(field).choices)


# --- Reading ------------------------------------------------------------------------------------


class CaregiverConsentSerializer(serializers.Serializer):
    # Plain text, not enums: OpenAPI would give one choice set two names (sms and email).
    sms = serializers.CharField(
        source="sms_consent",
        allow_null=True,
        read_only=True,
        help_text="`opt_in` or `opt_out`: the latest consent record for text messages; null if never asked.",
    )
    email = serializers.CharField(
        source="email_consent",
        allow_null=True,
        read_only=True,
        help_text="`opt_in` or `opt_out`: the latest consent record for email; null if never asked.",
    )


class CaregiverFamilySerializer(serializers.ModelSerializer):
    family = serializers.IntegerField(source="loved_one_id", read_only=True, help_text="The family's id.")
    loved_one = serializers.IntegerField(
        source="loved_one_id", read_only=True, help_text="Deprecated: the same as `family`."
    )
    first_name = serializers.CharField(source="loved_one.first_name", read_only=True)

    class Meta:
        model = CareLink
        fields = ["family", "loved_one", "first_name", "relationship"]
        read_only_fields = fields


class CaregiverSerializer(serializers.ModelSerializer):
    serializer_field_mapping = {
        **serializers.ModelSerializer.serializer_field_mapping,
        models.TimeField: LocalTimeField,  # tip_time and quiet hours are wall-clock times
    }
    clinic = serializers.IntegerField(source="clinic_id", read_only=True)
    # Text, not `format: email`: a caregiver reached by text alone has "" here, which no email format allows.
    email = serializers.CharField(read_only=True, help_text="Their email address, or empty if they gave none.")
    consent = CaregiverConsentSerializer(source="*", read_only=True)
    families = CaregiverFamilySerializer(source="links", many=True, read_only=True)

    class Meta:
        model = Caregiver
        fields = [
            "id", "clinic", "name", "phone", "email", "channels", "time_zone", "tip_time", "tip_frequency",
            "quiet_start", "quiet_end", "language", "status", "paused_until", "sms_blocked_reason",
            "email_blocked_reason", "consent", "families", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class AppointmentSerializer(serializers.ModelSerializer):
    family = serializers.IntegerField(source="loved_one_id", read_only=True, help_text="The family's id.")
    loved_one = serializers.IntegerField(
        source="loved_one_id", read_only=True, help_text="Deprecated: the same as `family`."
    )
    ends_at = serializers.DateTimeField(read_only=True)
    pickup_at = serializers.DateTimeField(
        read_only=True, help_text="When the patient can expect to go home (after observation for treatments)."
    )

    class Meta:
        model = Appointment
        fields = [
            "id", "family", "loved_one", "starts_at", "duration_minutes", "ends_at", "pickup_at", "kind", "status",
            "ride_arranged_at", "created_at", "updated_at",
        ]  # fmt: skip
        read_only_fields = fields


class FamilyCaregiverSerializer(serializers.ModelSerializer):
    # Plain text, not an enum: OpenAPI would otherwise name caregivers' statuses twice.
    status = serializers.CharField(
        read_only=True, help_text="pending, active, paused, opted_out or archived (their family was archived)."
    )

    class Meta:
        model = Caregiver
        fields = ["id", "name", "status"]
        read_only_fields = fields


class FamilySerializer(serializers.ModelSerializer):
    """A row of the families list; the family itself (GET families/<id>/) says more."""

    clinic = serializers.IntegerField(source="clinic_id", read_only=True)
    caregiver_count = serializers.IntegerField(read_only=True)
    next_appointment_at = serializers.DateTimeField(
        read_only=True, allow_null=True, help_text="The next scheduled appointment's start, if any."
    )
    caregivers = FamilyCaregiverSerializer(many=True, read_only=True)

    class Meta:
        model = LovedOne
        fields = ["id", "clinic", "first_name", "caregiver_count", "next_appointment_at", "caregivers", "created_at"]
        read_only_fields = fields


class FamilyDetailSerializer(serializers.ModelSerializer):
    clinic = serializers.IntegerField(source="clinic_id", read_only=True)
    caregivers = CaregiverSerializer(many=True, read_only=True)
    appointments = AppointmentSerializer(many=True, read_only=True)

    class Meta:
        model = LovedOne
        fields = ["id", "clinic", "first_name", "caregivers", "appointments", "created_at"]
        read_only_fields = fields


class MessageSerializer(serializers.ModelSerializer):
    caregiver = serializers.IntegerField(source="caregiver_id", read_only=True, allow_null=True)
    appointment = serializers.IntegerField(source="appointment_id", read_only=True, allow_null=True)
    # Plain text, not an enum: OpenAPI would otherwise share the name `kind` with appointments' kinds.
    kind = serializers.CharField(
        read_only=True, help_text="One of: " + ", ".join(value for value, _ in OutboundMessage.Kind.choices) + "."
    )
    text = serializers.SerializerMethodField(help_text="The email's subject, or the text message itself.")

    class Meta:
        model = OutboundMessage
        fields = [
            "id", "caregiver", "channel", "kind", "status", "status_reason", "send_at", "sent_at", "delivered_at",
            "appointment", "text",
        ]  # fmt: skip
        read_only_fields = fields

    def get_text(self, message: OutboundMessage) -> str:
        # Never a sign-up code: staff must not be able to confirm a number for the caregiver.
        return message_text_for_staff(message)


class CourseMessageSerializer(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True, help_text="The outbox row; null for a preview.")
    preview = serializers.BooleanField(help_text="Not planned yet: what the course will bring if nothing changes.")
    caregiver = serializers.IntegerField()
    channel = serializers.CharField()
    kind = serializers.CharField(help_text="reminder or tip.")
    status = serializers.CharField(help_text="scheduled, queued, suppressed, or preview.")
    status_reason = serializers.CharField(help_text="Why it is (or will be) held back, if it is.")
    send_at = serializers.DateTimeField()
    appointment = serializers.IntegerField(allow_null=True)
    text = serializers.CharField(help_text="The email's subject, or the text message itself.")


class CourseSerializer(serializers.Serializer):
    family = serializers.IntegerField()
    count = serializers.IntegerField()
    messages = CourseMessageSerializer(many=True)


# --- Writing ------------------------------------------------------------------------------------


class FamilyCaregiverInputSerializer(StrictSerializer):
    name = TextField()
    phone = TextField(default="", allow_blank=True, help_text="A mobile number; +1 is assumed.")
    email = TextField(default="", allow_blank=True)
    channels = serializers.ChoiceField(choices=Caregiver.Channels.choices)
    relationship = serializers.ChoiceField(choices=CareLink.Relationship.choices, default=CareLink.Relationship.OTHER)
    time_zone = TextField(required=False, help_text="IANA name; the clinic's zone if left out.")


class KindField(serializers.ChoiceField):
    """An appointment kind in any case ("Infusion", "INFUSION"), as the CSV imports read it."""

    def to_internal_value(self, data):
        return super().to_internal_value(data.strip().lower() if isinstance(data, str) else data)


class FamilyAppointmentInputSerializer(StrictSerializer):
    starts_at = AwareDateTimeField()
    kind = KindField(choices=Appointment.Kind.choices, default=Appointment.Kind.INFUSION)
    duration_minutes = serializers.IntegerField(default=60, help_text="5 to 600.")


class JsonBooleanField(serializers.BooleanField):
    """true or false, and only those: DRF's BooleanField also takes 0, "yes" and "on", where the schema says boolean."""

    default_error_messages = {"invalid": "Use true or false."}

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


def confirm_field() -> serializers.BooleanField:
    return JsonBooleanField(
        default=False,
        help_text="true keeps an appointment in the past, at the same time as another or overlapping one; "
        "without it such an appointment is a 400 under `confirm` saying why.",
    )


class FamilyCreateSerializer(StrictSerializer):
    clinic = id_field(required=False, help_text="One of your clinics' ids. Needed only when you work at more than one.")
    first_name = TextField(help_text="The loved one's first name or nickname, nothing more.")
    caregivers = FamilyCaregiverInputSerializer(
        many=True,
        min_length=1,
        max_length=20,
        allow_empty=False,
        error_messages={"empty": "Add at least one caregiver.", "min_length": "Add at least one caregiver."},
        help_text="1 to 20 caregivers.",
    )
    appointments = FamilyAppointmentInputSerializer(many=True, required=False, max_length=100)
    confirm = confirm_field()

    def validate_clinic(self, value: int) -> Clinic:
        clinic = selectors.clinics_for_user(user=self.context["request"].user).filter(pk=value).first()
        if clinic is None:
            raise serializers.ValidationError(f"You do not work at a clinic with id {value}.")
        return clinic

    def validate(self, attrs: dict) -> dict:
        if "clinic" not in attrs:
            clinics = list(selectors.clinics_for_user(user=self.context["request"].user)[:20])
            if len(clinics) != 1:
                yours = ", ".join(f"{c.pk} ({c.name})" for c in clinics)
                raise serializers.ValidationError({"clinic": [f"You work at several clinics; say which: {yours}."]})
            attrs["clinic"] = clinics[0]
        return attrs


class CaregiverUpdateSerializer(StrictSerializer):
    """Exactly caregiver.services.CAREGIVER_EDITABLE; status and consent change only through their own flows."""

    name = TextField(required=False)
    phone = TextField(required=False, allow_blank=True)
    email = TextField(required=False, allow_blank=True)
    channels = serializers.ChoiceField(choices=Caregiver.Channels.choices, required=False)
    time_zone = TextField(required=False)
    tip_time = LocalTimeField(required=False)
    tip_frequency = serializers.ChoiceField(choices=Caregiver.Frequency.choices, required=False)
    quiet_start = LocalTimeField(required=False)
    quiet_end = LocalTimeField(required=False)
    language = serializers.ChoiceField(choices=_choices(Caregiver, "language"), required=False)


class AppointmentCreateSerializer(StrictSerializer):
    family = id_field(required=False, help_text="The family's id (the loved one's).")
    loved_one = id_field(required=False, help_text="Deprecated: the old name of `family`.")
    starts_at = AwareDateTimeField()
    kind = KindField(choices=Appointment.Kind.choices, default=Appointment.Kind.INFUSION)
    duration_minutes = serializers.IntegerField(default=60, help_text="5 to 600.")
    confirm = confirm_field()

    def validate(self, attrs: dict) -> dict:
        family, alias = attrs.pop("family", None), attrs.pop("loved_one", None)
        if family is None and alias is None:
            raise serializers.ValidationError({"family": ["Say which family: its id."]})
        if family is not None and alias is not None and family != alias:
            raise serializers.ValidationError(
                {"family": ["`family` and `loved_one` (its old name) name different families: send `family` only."]}
            )
        value, named = (family, "family") if family is not None else (alias, "loved_one")
        loved_one = selectors.loved_ones_for_user(user=self.context["request"].user).filter(pk=value).first()
        if loved_one is None:
            # The same words whether it never existed or belongs to another clinic.
            raise serializers.ValidationError({named: [f"No family with id {value} was found."]})
        return {**attrs, "family": loved_one}


class AppointmentRescheduleSerializer(StrictSerializer):
    starts_at = AwareDateTimeField()
    duration_minutes = serializers.IntegerField(required=False, help_text="5 to 600; unchanged if left out.")
    confirm = confirm_field()


# --- Query parameters -----------------------------------------------------------------------------


class FamilyQuerySerializer(serializers.Serializer):
    q = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=80,
        help_text="Words in the loved one's first name or a caregiver's name, phone number or email address.",
    )


class CaregiverQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Caregiver.Status.choices, required=False)
    family = id_field(required=False, help_text="Only caregivers of this family (loved one id).")


DAY = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


@extend_schema_field(
    {
        "anyOf": [{"type": "string", "format": "date"}, {"type": "string", "format": "date-time"}],
        "example": "2026-12-01",
        "description": "A date-time with its offset, or a plain date (YYYY-MM-DD): that day in the clinic's time zone.",
    }
)
class DayOrMomentField(AwareDateTimeField):
    """A plain date (a day in the clinic's zone: the view knows which clinic) or an aware date-time."""

    default_error_messages = {
        "day": "“{value}” is not a date: use YYYY-MM-DD, like 2026-12-01, or a date-time with its offset.",
    }

    def to_internal_value(self, value):
        if isinstance(value, str) and DAY.fullmatch(value):
            try:
                day = date.fromisoformat(value)
            except ValueError:
                self.fail("day", value=value)
            # A day past any course (9999-12-31, 0001-01-01) means "no limit" here: held to the ends
            # of YEARS, since its day's end in the clinic's zone would be no date at all (a 500).
            return min(max(day, date(YEARS.start, 1, 1)), date(YEARS.stop - 1, 12, 31))
        if isinstance(value, str) and ":" not in value:
            self.fail("day", value=value)  # a date in another form ("12/5/2026"): say which forms work
        return super().to_internal_value(value)


class AppointmentQuerySerializer(serializers.Serializer):
    family = id_field(required=False, help_text="Only this family's appointments (loved one id).")
    status = serializers.ChoiceField(choices=Appointment.Status.choices, required=False)
    to = DayOrMomentField(
        required=False,
        help_text="Only appointments starting before this time (with offset), or up to the end of this day "
        "(YYYY-MM-DD).",
    )

    def get_fields(self) -> dict:
        fields = super().get_fields()
        # `from` is a Python keyword, so it cannot be declared above.
        fields["from"] = DayOrMomentField(
            required=False,
            help_text="Only appointments starting at or after this time (with offset), or on or after this day.",
        )
        return fields


class MessageQuerySerializer(serializers.Serializer):
    family = id_field(required=False, help_text="Only messages about this family (loved one id).")
    caregiver = id_field(required=False, help_text="Only messages to this caregiver.")
    status = serializers.ChoiceField(choices=OutboundMessage.Status.choices, required=False)
    kind = serializers.ChoiceField(choices=OutboundMessage.Kind.choices, required=False)
