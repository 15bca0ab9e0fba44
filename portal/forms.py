"""Forms for the pages. They parse and check what a person typed; services decide and write."""

from __future__ import annotations

import zoneinfo
from datetime import date, datetime, time, timedelta

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

from caregiver.models import APPOINTMENT_HORIZON, Appointment, Caregiver, CareLink, Clinic
from caregiver.validators import phone_to_e164, quiet_hours_problems

# The caregivers' forms are in the page's language (their own, once we know them); the staff forms
# below stay in English, with the models' labels.

COMMON_ZONES = [
    ("America/New_York", _("Eastern (New York)")),
    ("America/Chicago", _("Central (Chicago)")),
    ("America/Denver", _("Mountain (Denver)")),
    ("America/Phoenix", _("Arizona (Phoenix)")),
    ("America/Los_Angeles", _("Pacific (Los Angeles)")),
    ("America/Anchorage", _("Alaska (Anchorage)")),
    ("Pacific/Honolulu", _("Hawaii (Honolulu)")),
]


def zone_choices() -> list:
    common = {name for name, _label in COMMON_ZONES}
    others = sorted(
        z for z in zoneinfo.available_timezones() if "/" in z and z not in common and not z.startswith("Etc")
    )
    return [(_("US time zones"), COMMON_ZONES), (_("All time zones"), [(z, z.replace("_", " ")) for z in others])]


# Django's own words for the caregivers' fields, said in our Spanish: locale/ is read before
# Django's catalog, whose Spanish is Spain's ("Introduzca").
REQUIRED = _("This field is required.")
INVALID_CHOICE = _("Select a valid choice. %(value)s is not one of the available choices.")
INVALID_TIME = _("Enter a valid time.")
CHOICE_MESSAGES = {"required": REQUIRED, "invalid_choice": INVALID_CHOICE}


class TimeZoneField(forms.ChoiceField):
    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Time zone"))
        kwargs.setdefault("error_messages", CHOICE_MESSAGES)
        super().__init__(choices=zone_choices, **kwargs)


def caregiver_choices(choices: type[models.TextChoices], words: dict) -> list[tuple[str, str]]:
    """A model's choices in a caregiver's words (translated); every value must have its words. The
    staff pages keep the model's English labels."""
    return [(value, words[value]) for value in choices.values]


CHANNEL_CHOICES = caregiver_choices(
    Caregiver.Channels,
    {
        Caregiver.Channels.SMS: _("Text messages"),
        Caregiver.Channels.EMAIL: _("Email"),
        Caregiver.Channels.BOTH: _("Text messages and email"),
    },
)
RELATIONSHIP_CHOICES = caregiver_choices(
    CareLink.Relationship,
    {
        # Translators: this and the next five answer "You are their…", said by the person signing up.
        CareLink.Relationship.PARTNER: _("Partner or spouse"),
        CareLink.Relationship.PARENT: _("Parent"),
        CareLink.Relationship.CHILD: _("Son or daughter"),
        CareLink.Relationship.SIBLING: _("Brother or sister"),
        CareLink.Relationship.FRIEND: _("Friend"),
        CareLink.Relationship.OTHER: _("Other family or support"),
    },
)
FREQUENCY_CHOICES = caregiver_choices(
    Caregiver.Frequency,
    {
        Caregiver.Frequency.DAILY: _("Every day"),
        Caregiver.Frequency.THREE_A_WEEK: _("Three times a week"),
        Caregiver.Frequency.WEEKLY: _("Once a week"),
        Caregiver.Frequency.PAUSED: _("No tips (reminders only)"),
    },
)


def _attrs(**extra) -> dict:
    return {"autocomplete": "off", **extra}


class PhoneField(forms.CharField):
    """A mobile number in any common format, normalised to E.164; the error says what is wrong."""

    def __init__(self, **kwargs):
        kwargs.setdefault("label", _("Mobile number"))
        kwargs.setdefault("max_length", 32)
        kwargs.setdefault("widget", forms.TextInput(attrs={"type": "tel", "autocomplete": "tel", "inputmode": "tel"}))
        super().__init__(**kwargs)

    def clean(self, value):
        value = super().clean(value)
        if not value:
            return ""
        return phone_to_e164(value, require_mobile=True)


class ChannelsMixin:
    """Channel choice checks that the matching contact detail was given, next to the right field."""

    def clean(self):
        data = super().clean()
        channels = data.get("channels")
        wants_sms = channels in (Caregiver.Channels.SMS, Caregiver.Channels.BOTH)
        wants_email = channels in (Caregiver.Channels.EMAIL, Caregiver.Channels.BOTH)
        if wants_sms and not data.get("phone") and "phone" not in self.errors:
            self.add_error("phone", gettext("Enter a mobile number for text messages (or choose email only)."))
        if wants_email and not data.get("email") and "email" not in self.errors:
            self.add_error("email", gettext("Enter an email address for emails (or choose text messages only)."))
        return data


class JoinCodeForm(forms.Form):
    code = forms.CharField(
        label=_("Clinic code"),
        max_length=16,
        help_text=_("The code your clinic gave you, for example KD7M3QPX."),
        error_messages={"required": REQUIRED},
        widget=forms.TextInput(attrs={"autocapitalize": "characters", "autocomplete": "off"}),
    )

    def clean_code(self) -> str:
        # As printed or typed: "kd7m 3qpx", "KD7M-3QPX" (spaces and dashes are not part of a code).
        code = "".join(self.cleaned_data["code"].replace("-", " ").replace("\u2013", " ").split()).upper()
        if not Clinic.objects.filter(enrollment_code=code).exists():
            raise ValidationError(
                gettext("We don't know that code. Check it with your clinic; it has 8 letters and digits.")
            )
        return code


class SignupForm(ChannelsMixin, forms.Form):
    name = forms.CharField(
        label=_("Your name"),
        max_length=80,
        error_messages={"required": REQUIRED},
        widget=forms.TextInput(attrs={"autocomplete": "name"}),
    )
    phone = PhoneField(required=False, help_text=_("Needed for text messages. Type it any way, like (202) 555-0143."))
    email = forms.EmailField(
        label=_("Email address"),
        required=False,
        max_length=254,
        help_text=_("Needed for emails."),
        error_messages={"invalid": _("Enter a valid email address.")},
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    channels = forms.ChoiceField(
        label=_("How should we reach you?"),
        choices=CHANNEL_CHOICES,
        initial=Caregiver.Channels.SMS,
        error_messages=CHOICE_MESSAGES,
        widget=forms.RadioSelect,
    )
    loved_one = forms.CharField(
        label=_("First name of the person you support"),
        max_length=40,
        help_text=_("A first name or nickname only; it is used in your messages."),
        error_messages={"required": REQUIRED},
        widget=forms.TextInput(attrs=_attrs()),
    )
    relationship = forms.ChoiceField(
        # Translators: the person signing up, about the person in treatment: "You are their… Parent".
        label=_("You are their…"),
        choices=RELATIONSHIP_CHOICES,
        error_messages=CHOICE_MESSAGES,
    )
    time_zone = TimeZoneField(help_text=_("We guessed it from your browser; change it if it is wrong."))
    consent = forms.BooleanField(
        label=_("I agree to receive these messages, as described above."),
        error_messages={"required": _("Tick the box to agree, or we can't send you anything.")},
    )


class CodeForm(forms.Form):
    code = forms.CharField(
        label=_("6-digit code"),
        max_length=20,
        error_messages={"required": REQUIRED},
        widget=forms.TextInput(
            attrs={"inputmode": "numeric", "autocomplete": "one-time-code", "class": "code-input", "pattern": "[0-9 ]*"}
        ),
    )


WEEKDAYS = [(0, "Mon"), (1, "Tue"), (2, "Wed"), (3, "Thu"), (4, "Fri"), (5, "Sat"), (6, "Sun")]
PAUSE_CHOICES = [(3, _("3 days")), (7, _("1 week")), (14, _("2 weeks")), (30, _("30 days"))]
TIME_MESSAGES = {"required": REQUIRED, "invalid": INVALID_TIME}


def _time_input() -> forms.TimeInput:
    return forms.TimeInput(attrs={"type": "time"})


class PreferencesForm(forms.Form):
    sms = forms.BooleanField(label=_("Text messages"), required=False)
    email = forms.BooleanField(label=_("Email"), required=False)
    tip_frequency = forms.ChoiceField(
        label=_("How often would you like tips?"), choices=FREQUENCY_CHOICES, error_messages=CHOICE_MESSAGES
    )
    tip_time = forms.TimeField(label=_("Preferred time for tips"), error_messages=TIME_MESSAGES, widget=_time_input())
    quiet_start = forms.TimeField(label=_("Quiet hours start"), error_messages=TIME_MESSAGES, widget=_time_input())
    quiet_end = forms.TimeField(label=_("Quiet hours end"), error_messages=TIME_MESSAGES, widget=_time_input())
    time_zone = TimeZoneField()
    # Not translated: someone who cannot read the page's language must still find it.
    language = forms.ChoiceField(label="Language / Idioma", choices=settings.LANGUAGES, error_messages=CHOICE_MESSAGES)
    safety_tips_sms = forms.BooleanField(
        label=_(
            "Also text me safety tips (warning signs and what to do in a crisis). "
            "They name suicide, so they may show on your lock screen."
        ),
        required=False,
    )

    def __init__(self, *args, caregiver: Caregiver, confirmed: set[str], **kwargs):
        super().__init__(*args, **kwargs)
        if self.is_bound and "language" not in self.data:
            # A page opened before it offered the choice (or a client that does not send it) keeps it.
            self.data = self.data.copy()
            self.data["language"] = caregiver.language
        if not (caregiver.phone and caregiver.wants_sms):
            # Asked only of someone who gets texts; saving without the field leaves it as it was.
            del self.fields["safety_tips_sms"]
        # Only a confirmed number or email can be switched on here; the others have a button to confirm.
        self.fields["sms"].disabled = "sms" not in confirmed
        self.fields["email"].disabled = "email" not in confirmed
        if caregiver.phone:
            self.fields["sms"].help_text = gettext("To the number ending %(digits)s.") % {
                "digits": caregiver.phone[-4:]
            }
        if caregiver.email:
            # Translators: where emails go, like "To s•••@example.com."
            self.fields["email"].help_text = gettext("To %(address)s.") % {"address": mask_email(caregiver.email)}
        for channel in ("sms", "email"):
            if channel not in confirmed and self.fields[channel].help_text:
                self.fields[channel].help_text += " " + gettext("Not confirmed yet, so nothing is sent there.")

    def clean(self):
        data = super().clean()
        if not data.get("sms") and not data.get("email"):
            raise ValidationError(
                gettext("Choose text messages, email or both. To get nothing at all, use “Stop everything”.")
            )
        if data.get("quiet_start") and data.get("quiet_end"):
            problems = quiet_hours_problems(
                quiet_start=data["quiet_start"], quiet_end=data["quiet_end"], tip_time=data.get("tip_time")
            )
            for field, problem in problems.items():
                self.add_error(field, problem)
        return data


class PauseForm(forms.Form):
    days = forms.TypedChoiceField(
        label=_("Pause all messages for"), choices=PAUSE_CHOICES, coerce=int, initial=7, error_messages=CHOICE_MESSAGES
    )


def mask_email(address: str) -> str:
    name, _at, domain = address.partition("@")
    return f"{name[:1]}•••@{domain}"


def mask_phone(number: str) -> str:
    return f"•••-•••-{number[-4:]}" if number else ""


# --- Staff ------------------------------------------------------------------------------------


class StaffCaregiverForm(ChannelsMixin, forms.Form):
    name = forms.CharField(label="Caregiver's name", max_length=80)
    phone = PhoneField(required=False)
    email = forms.EmailField(label="Email", required=False, max_length=254)
    relationship = forms.ChoiceField(choices=CareLink.Relationship.choices, initial=CareLink.Relationship.PARTNER)
    channels = forms.ChoiceField(choices=Caregiver.Channels.choices, initial=Caregiver.Channels.SMS)
    language = forms.ChoiceField(
        label="Language",
        choices=Caregiver._meta.get_field("language").choices,
        initial="en",
        help_text="Every text, email and page they get is in this language. They can change it (reply ESPAÑOL or "
        "ENGLISH).",
        required=False,
    )

    def clean_language(self) -> str:
        return self.cleaned_data.get("language") or "en"  # left out (an older form, a script): English


class BaseRequiredFormSet(forms.BaseFormSet):
    def clean(self):
        super().clean()
        filled = [f for f in self.forms if f.has_changed() and not self._should_delete_form(f)]
        if not filled:
            raise ValidationError("Add at least one caregiver.")


def _date_widget():
    return forms.DateInput(attrs={"type": "date"})


def _time_widget():
    return forms.TimeInput(attrs={"type": "time"})


def keep_anyway_field() -> forms.BooleanField:
    """Ticked to keep an appointment in the past, at the same time as another, or overlapping one.
    Pages show it only once such a warning came back (see caregiver.selectors.appointment_warnings)."""
    return forms.BooleanField(label="Keep anyway", required=False)


class AppointmentForm(forms.Form):
    """A visit in the clinic's local time (the page says which zone)."""

    day = forms.DateField(label="Date", widget=_date_widget())
    at = forms.TimeField(label="Time", widget=_time_widget())
    kind = forms.ChoiceField(choices=Appointment.Kind.choices, initial=Appointment.Kind.INFUSION)
    duration_minutes = forms.IntegerField(label="Length (minutes)", min_value=5, max_value=600, initial=60)
    confirm = keep_anyway_field()

    def local(self) -> datetime:
        return datetime.combine(self.cleaned_data["day"], self.cleaned_data["at"])


class OptionalAppointmentForm(AppointmentForm):
    """A row on the enroll page: left blank (no date or time) it is simply not an appointment."""

    def has_changed(self) -> bool:
        return any(self.data.get(self.add_prefix(name), "").strip() for name in ("day", "at"))


class RescheduleForm(forms.Form):
    day = forms.DateField(label="New date", widget=_date_widget())
    at = forms.TimeField(label="New time", widget=_time_widget())
    duration_minutes = forms.IntegerField(label="Length (minutes)", min_value=5, max_value=600)
    confirm = keep_anyway_field()

    def local(self) -> datetime:
        return datetime.combine(self.cleaned_data["day"], self.cleaned_data["at"])


class ClinicChoiceMixin:
    """A clinic field listing the staff member's clinics; hidden when there is only one."""

    def __init__(self, *args, clinics, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["clinic"].queryset = clinics
        if clinics.count() == 1:
            self.fields["clinic"].widget = forms.HiddenInput()
            self.fields["clinic"].initial = clinics.first().pk


class FamilyForm(ClinicChoiceMixin, forms.Form):
    loved_one = forms.CharField(
        label="First name of the person in treatment",
        max_length=40,
        help_text="First name or nickname only. No surname, date of birth or diagnosis.",
    )
    clinic = forms.ModelChoiceField(queryset=Clinic.objects.none(), empty_label=None)
    confirm = keep_anyway_field()


class CourseForm(forms.Form):
    first_day = forms.DateField(label="First infusion", widget=_date_widget())
    at = forms.TimeField(label="Time", initial=time(10, 0), widget=_time_widget())
    weekdays = forms.TypedMultipleChoiceField(
        label="On these days",
        choices=WEEKDAYS,
        coerce=int,
        initial=[0, 2, 4],
        widget=forms.CheckboxSelectMultiple,
    )
    sessions = forms.IntegerField(label="Infusions in the first phase", min_value=1, max_value=24, initial=6)
    maintenance_sessions = forms.IntegerField(
        label="Maintenance sessions after that", min_value=0, max_value=24, initial=0, required=False
    )
    maintenance_every_weeks = forms.IntegerField(
        label="Maintenance every (weeks)", min_value=1, max_value=26, initial=4, required=False
    )
    duration_minutes = forms.IntegerField(label="Length of each (minutes)", min_value=5, max_value=600, initial=60)
    confirm = keep_anyway_field()

    def clean_first_day(self) -> date:
        day = self.cleaned_data["first_day"]
        # A day's grace: the clinic may be west of UTC, where "today" is still yesterday.
        if day < timezone.localdate() - timedelta(days=1):
            raise ValidationError("The first infusion can't be in the past.")
        if day > timezone.localdate() + APPOINTMENT_HORIZON:
            raise ValidationError("Check the year: the first infusion is more than 20 years from today.")
        return day


class CourseSessionForm(forms.Form):
    include = forms.BooleanField(label="Keep", required=False, initial=True)
    day = forms.DateField(label="Date", widget=_date_widget())
    at = forms.TimeField(label="Time", widget=_time_widget())
    kind = forms.ChoiceField(choices=Appointment.Kind.choices)


CourseSessionFormSet = forms.formset_factory(CourseSessionForm, extra=0, max_num=48, absolute_max=60)
CaregiverFormSet = forms.formset_factory(
    StaffCaregiverForm, formset=BaseRequiredFormSet, extra=1, min_num=1, max_num=6, absolute_max=10
)
EnrollAppointmentFormSet = forms.formset_factory(OptionalAppointmentForm, extra=2, max_num=10, absolute_max=12)


class ClosureForm(ClinicChoiceMixin, forms.Form):
    day = forms.DateField(label="Closed on", widget=_date_widget())
    note = forms.CharField(label="Why", max_length=80, required=False, help_text="For staff, like “Thanksgiving”.")
    clinic = forms.ModelChoiceField(queryset=Clinic.objects.none(), empty_label=None)


class ImportForm(ClinicChoiceMixin, forms.Form):
    file = forms.FileField(label="CSV file", help_text="UTF-8 CSV, up to 1 MB and 2,000 rows.")
    clinic = forms.ModelChoiceField(queryset=Clinic.objects.none(), empty_label=None)
