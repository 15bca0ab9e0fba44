"""Validation and normalisation of the values people type: phone numbers, time zones, times."""

from __future__ import annotations

import re
import secrets
import unicodedata
import zoneinfo
from collections.abc import Collection
from datetime import UTC, datetime, time
from functools import lru_cache

import phonenumbers
from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils import translation
from django.utils.translation import gettext, ngettext, pgettext
from django.utils.translation import gettext_lazy as _
from phonenumbers import NumberParseException, PhoneNumberType, ValidationResult, geocoder

from .formats import clock

_NOT_POSSIBLE = {
    ValidationResult.TOO_SHORT: _("“%(number)s” has too few digits for a phone number."),
    ValidationResult.TOO_LONG: _("“%(number)s” has too many digits for a phone number."),
    ValidationResult.INVALID_COUNTRY_CODE: _("“%(number)s” starts with an unknown country code for a phone number."),
    ValidationResult.INVALID_LENGTH: _("“%(number)s” has the wrong number of digits for a phone number."),
}
_CANNOT_TEXT = {PhoneNumberType.FIXED_LINE, PhoneNumberType.PAGER, PhoneNumberType.UAN, PhoneNumberType.VOICEMAIL}
# Numbers that cost the clinic money or reach a business or a forwarding service, never a
# caregiver's own phone: texting them is how SMS pumping fraud is paid.
_NOT_A_PERSON = {
    PhoneNumberType.PREMIUM_RATE: _(
        "“%(number)s” is a premium-rate number, not a person's mobile: text messages need a mobile number."
    ),
    PhoneNumberType.TOLL_FREE: _(
        "“%(number)s” is a toll-free number, not a person's mobile: text messages need a mobile number."
    ),
    PhoneNumberType.SHARED_COST: _(
        "“%(number)s” is a shared-cost number, not a person's mobile: text messages need a mobile number."
    ),
    PhoneNumberType.VOIP: _(
        "“%(number)s” is an internet (VoIP) number, not a person's mobile: text messages need a mobile number."
    ),
    PhoneNumberType.PERSONAL_NUMBER: _(
        "“%(number)s” is a forwarding (personal) number, not a person's mobile: text messages need a mobile number."
    ),
}


def _shown(text: str, limit: int = 40) -> str:
    # Errors quote what was typed; a pasted page must not come back at full length.
    return text if len(text) <= limit else text[: limit - 1] + "…"


def phone_to_e164(
    raw: str, *, region: str | None = None, require_mobile: bool = False, countries: Collection[str] | None = None
) -> str:
    """Return `raw` as an E.164 string (+12025550143) or raise a ValidationError saying why not.

    Numbers without a country code are read in `region` (PHONE_DEFAULT_REGION, "US").
    `countries`: the two-letter regions whose numbers may be texted (a clinic's `sms_countries`).
    """
    text = (raw or "").strip()
    if not text:
        raise ValidationError(gettext("Enter a phone number."), code="required")
    region = region or settings.PHONE_DEFAULT_REGION
    shown = {"number": _shown(text)}
    try:
        number = phonenumbers.parse(text, region)
    except NumberParseException as exc:
        if exc.error_type == NumberParseException.INVALID_COUNTRY_CODE:
            message = gettext("“%(number)s” starts with an unknown country code. Start with + and the country code.")
        elif (
            exc.error_type == NumberParseException.TOO_SHORT_NSN
            or exc.error_type == NumberParseException.TOO_SHORT_AFTER_IDD
        ):
            message = gettext("“%(number)s” has too few digits for a phone number.")
        elif exc.error_type == NumberParseException.TOO_LONG:
            message = gettext("“%(number)s” has too many digits for a phone number.")
        else:
            message = gettext("“%(number)s” is not a phone number. Use digits, like (202) 555-0143 or +1 202 555 0143.")
        raise ValidationError(message % shown, code="invalid_phone") from exc
    reason = phonenumbers.is_possible_number_with_reason(number)
    if reason in _NOT_POSSIBLE:
        raise ValidationError(_NOT_POSSIBLE[reason] % shown, code="invalid_phone")
    if not phonenumbers.is_valid_number(number):
        # Which country's numbers it was read as: the one its country code names, else the default.
        country = phonenumbers.region_code_for_country_code(number.country_code)
        where = country_name(country if country != phonenumbers.UNKNOWN_REGION else region, _language())
        raise ValidationError(
            gettext("“%(number)s” is not a valid phone number in %(country)s. Check the digits and the country code.")
            % {**shown, "country": where},
            code="invalid_phone",
        )
    kind = phonenumbers.number_type(number)
    if require_mobile and kind == PhoneNumberType.PAGER:
        raise ValidationError(
            gettext("“%(number)s” is a pager number; text messages need a mobile number.") % shown, code="landline"
        )
    if require_mobile and kind in _CANNOT_TEXT:
        raise ValidationError(
            gettext("“%(number)s” looks like a landline; text messages need a mobile number.") % shown, code="landline"
        )
    if require_mobile and kind in _NOT_A_PERSON:
        raise ValidationError(_NOT_A_PERSON[kind] % shown, code="not_mobile")
    if countries is not None and phonenumbers.region_code_for_number(number) not in countries:
        language = _language()
        # Translators: the countries are joined by "or": "United States or Canada".
        joined = pgettext("between countries", " or ").join(country_name(code, language) for code in countries)
        raise ValidationError(
            gettext("“%(number)s” is a number in %(country)s: we can only text numbers in %(countries)s.")
            % {**shown, "country": country_name(phonenumbers.region_code_for_number(number), language),
               "countries": joined},
            code="country",
        )  # fmt: skip
    normalised = phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
    _remember_e164(normalised)
    return normalised


def _language() -> str:
    """The active language, for names phonenumbers knows in many ("Estados Unidos")."""
    return (translation.get_language() or "en").split("-")[0]


@lru_cache(maxsize=256)
def country_name(region: str | None, language: str = "en") -> str:
    """“United States” for "US" (“Estados Unidos” in "es"); the code itself where phonenumbers has no
    example to name it by."""
    example = phonenumbers.example_number(region) if region else None
    if example:
        return geocoder.country_name_for_number(example, language) or region
    if region:
        return region
    with translation.override(language):
        return gettext("another country")


def sms_countries_parse(value: str) -> list[str]:
    """A clinic's `sms_countries` ("US, ca") as region codes (["US", "CA"])."""
    return [code.strip().upper() for code in (value or "").split(",") if code.strip()]


def validate_sms_countries(value: str) -> None:
    codes = sms_countries_parse(value)
    if not codes:
        raise ValidationError("Give at least one country, as its two-letter code (US).")
    unknown = [code for code in codes if code not in phonenumbers.SUPPORTED_REGIONS]
    if unknown:
        raise ValidationError(f"Not a country code we know: {', '.join(unknown)}. Use two letters, like US or CA.")


# Numbers phone_to_e164 has just produced: the model field's validator need not parse them again
# (a 2,000-row import preview parsed every number twice). Bounded; a process-local cache only.
_KNOWN_E164: set[str] = set()


def _remember_e164(number: str) -> None:
    if len(_KNOWN_E164) >= 10_000:
        _KNOWN_E164.clear()
    _KNOWN_E164.add(number)


def validate_e164(value: str) -> None:
    """Model-field validator: the stored value must already be normalised E.164."""
    if not value or value in _KNOWN_E164:
        return
    normalised = phone_to_e164(value)
    if normalised != value:
        raise ValidationError(f"Store phone numbers in E.164 form ({normalised}), not “{value}”.", code="not_e164")


@lru_cache(maxsize=1)
def _time_zone_names() -> frozenset[str]:
    return frozenset(zoneinfo.available_timezones())


def validate_time_zone(value: str) -> None:
    if value not in _time_zone_names():
        raise ValidationError(
            f"“{_shown(str(value))}” is not a time zone name. Use an IANA name such as America/New_York or "
            "Europe/London.",
            code="invalid_time_zone",
        )


# Dates anyone means here: far enough either way for any course, near enough that a day more or
# less, or a time zone's offset, is still a date (9999-12-31 plus a day raised OverflowError: a 500).
YEARS = range(2000, 2100)


def local_to_utc(naive: datetime, *, time_zone: str) -> datetime:
    """Read a wall-clock time in `time_zone` and return it in UTC.

    A time that does not exist (skipped when clocks go forward) is refused with a message;
    a time that happens twice (clocks go back) means the first of the two.
    """
    if naive.tzinfo is not None:
        return naive.astimezone(UTC)
    validate_time_zone(time_zone)
    zone = zoneinfo.ZoneInfo(time_zone)
    aware = naive.replace(tzinfo=zone, fold=0)
    try:
        as_utc = aware.astimezone(UTC)
        back = as_utc.astimezone(zone)
    except OverflowError:
        # Year 9999 late in the evening west of UTC (or year 1 east of it) has no UTC time.
        raise ValidationError(
            f"{naive:%Y-%m-%d %H:%M} is too far in the future or the past for a date.", code="out_of_range"
        ) from None
    if back.replace(tzinfo=None) != naive:
        raise ValidationError(
            f"{naive:%Y-%m-%d %H:%M} does not exist in {time_zone}: the clocks go forward that night. "
            "Pick a time an hour later.",
            code="nonexistent_time",
        )
    return as_utc


# No 0/O or 1/I/L, so a code read out over the phone is not misheard.
_CODE_ALPHABET = "ABCDEFGHJKMNPQRSTUVWXYZ23456789"


def enrollment_code_generate() -> str:
    return "".join(secrets.choice(_CODE_ALPHABET) for _ in range(8))


# --- Names that reach a lock screen -------------------------------------------------------------

# One or two words of letters; a hyphen, an apostrophe or an initial's period inside a word
# (Mary-Kate, O'Neil, D’Arcy, J.R.).
_NAME_WORD = re.compile(r"^[^\W\d_]+(?:['’.-][^\W\d_]+)*\.?$")
# A clinic's name in texts: words of letters and digits, and the joining marks names use.
_SMS_NAME = re.compile(r"^[\w&'’.,-]+(?: [\w&'’.,-]+)*$")


def _health_words(value: str) -> list[str]:
    # content.validation holds the one list of words that reveal treatment or a diagnosis.
    from content.validation import discreet_violations

    return discreet_violations(value)


# Something a phone would show as a link: "www.", or a dot between letters and two or more letters
# ("evil.co", "bit.ly"). Initials ("J.R.") and an abbreviation before a space ("St. John") are not.
_WEB_ADDRESS = re.compile(r"(?i)\bwww\.|[^\W_]\.[^\W\d_]{2,}")


def _refuse_web_addresses(name: str) -> None:
    if _WEB_ADDRESS.search(name):
        raise ValidationError(
            gettext("Leave out web addresses: the name appears in texts, where a phone would show it as a link.")
        )


def _refuse_health_words(name: str) -> None:
    named = _health_words(name)
    if named:
        raise ValidationError(
            gettext(
                "A name must not mention treatment or health (%(words)s): it appears in texts "
                "that may be read on a lock screen."
            )
            % {"words": ", ".join(named)}
        )


def name_normalize(value: str) -> str:
    """A name as typed, in one form: composed accents (a decomposed "José" is the same name),
    any run of spaces (of any kind: "Mary  Smith" typed with two) as one plain space, none at the
    ends. Line breaks and tabs are left for the validators to refuse."""
    return _SPACES.sub(" ", unicodedata.normalize("NFC", value)).strip()


_SPACES = re.compile(r"[ \u00a0\u2000-\u200a\u202f\u205f\u3000]+")


# A person's name: letters (any script), digits, spaces and the marks names use. Not brackets,
# slashes, colons or angle brackets: a name is shown in staff emails, and "[Reset](http://…)"
# must not become a link there.
_PERSON_NAME = re.compile(r"^[\w'’.,-]+(?: [\w'’.,-]+)*$")


def validate_one_line(value: str) -> None:
    """Text that goes into a page, an email subject or a text on one line: no line breaks, tabs or
    other control characters (a newline in a subject stops the email: BadHeaderError)."""
    if any(unicodedata.category(ch) in ("Cc", "Zl", "Zp") for ch in value or ""):
        raise ValidationError(gettext("Write it on one line, with no line breaks, tabs or control characters."))


def validate_person_name(value: str) -> None:
    """A caregiver's name: their first name goes into texts to them and to their family."""
    value = name_normalize(value)  # as it is stored: two spaces typed between names are one
    if any(not ch.isprintable() for ch in value):
        raise ValidationError(gettext("Give the name on one line, with no tabs or line breaks."))
    if not _PERSON_NAME.match(value) or "_" in value:
        raise ValidationError(
            gettext("Use letters, spaces and the marks names use (' - . ,), like “Sam Rivera” or “Mary-Kate O'Neil”.")
        )
    _refuse_web_addresses(value)
    _refuse_health_words(value)


def validate_loved_one_name(value: str) -> None:
    """A first name or nickname: one or two words, letters only, nothing about their health.

    The name goes into texts that can be read on a lock screen, so "Chris Johnson on ketamine for
    MDD" is refused here, in words staff can act on, rather than sent."""
    value = name_normalize(value)
    words = value.split()
    if not words:
        raise ValidationError(gettext("Give a first name or nickname."))
    if any(not ch.isprintable() for ch in value):
        raise ValidationError(gettext("Give the name on one line, with no tabs or line breaks."))
    if len(words) > 2:
        raise ValidationError(
            gettext(
                "Give a first name or nickname only (one or two words): it appears in texts that may be "
                "read on a lock screen, so no surname, treatment or diagnosis."
            )
        )
    if not all(_NAME_WORD.match(word) for word in words):
        raise ValidationError(
            gettext(
                "Use letters only (a hyphen, apostrophe or initials inside a name are fine), "
                "like Chris, Mary-Kate or J.R."
            )
        )
    _refuse_web_addresses(value)
    _refuse_health_words(value)


def validate_clinic_name(value: str) -> None:
    """A clinic's name: in texts (when it has no SMS name), emails and pages, so one line, and
    nothing a phone or mail program would show as a link or a tag."""
    validate_one_line(value)
    if any(ch in "<>[]" for ch in value or ""):
        raise ValidationError("Leave out < > [ and ]: the name appears in emails and texts.")
    _refuse_web_addresses(value)


def validate_sms_name(value: str) -> None:
    """How texts name a clinic: short and plain. (Whether it may name the treatment depends on the
    clinic's discreet mode: Clinic.clean.)"""
    if not value:
        return
    if any(not ch.isprintable() for ch in value) or not _SMS_NAME.match(value) or len(value) > 40:
        raise ValidationError("Use up to 40 letters, digits, spaces and & ' . , - (like “Lakeside Health”).")
    _refuse_web_addresses(value)


def sms_name_problem(value: str, *, allowed: frozenset[str] = frozenset()) -> str:
    """Why a clinic's SMS name may not be used ('' when it may): it would say what the clinic treats."""
    from content.validation import discreet_violations

    named = discreet_violations(value, allowed=allowed)
    if not named:
        return ""
    return (
        f"Texts can be read on a lock screen, so the name in them must not mention treatment or a "
        f"diagnosis ({', '.join(named)}). Try the clinic's short name, like “Lakeside Health”, or turn "
        "discreet mode off and allow those words."
    )


# --- Quiet hours ----------------------------------------------------------------------------------

# Whatever a caregiver sets, nothing is sent before 08:00 or from 21:00 local (messaging.timing).
EARLIEST = time(8, 0)
LATEST = time(21, 0)
# Quiet hours must leave at least this much of that day: reminders need somewhere to go.
MIN_DAY_MINUTES = 6 * 60


def _minutes(moment: time) -> int:
    return moment.hour * 60 + moment.minute


def _in_quiet_hours(moment: time, quiet_start: time, quiet_end: time) -> bool:
    if quiet_start == quiet_end:  # no quiet hours of their own
        return False
    if quiet_start > quiet_end:  # wraps midnight, e.g. 21:00-08:00
        return moment >= quiet_start or moment < quiet_end
    return quiet_start <= moment < quiet_end


def quiet_hours_problems(*, quiet_start: time, quiet_end: time, tip_time: time | None = None) -> dict[str, str]:
    """What is wrong with these quiet hours and tip time, by field ({} if nothing): the one rule for
    the preferences page, the staff pages, the API and the model.

    Quiet hours must leave at least 6 hours between 8 AM and 9 PM (otherwise they would silently
    cancel the reminders), and the tip time must be outside them.
    """
    problems: dict[str, str] = {}
    if quiet_start == quiet_end:
        # Read as "no quiet hours", texts could come at any hour of the night; read as "all day",
        # none at all. Either way not what anyone meant: one rule for the page and the API.
        return {"quiet_end": gettext("Quiet hours need a different start and end.")}
    day = range(_minutes(EARLIEST), _minutes(LATEST))
    open_minutes = sum(
        1 for minute in day if not _in_quiet_hours(time(minute // 60, minute % 60), quiet_start, quiet_end)
    )
    times = {"start": clock(quiet_start), "end": clock(quiet_end)}
    if open_minutes < MIN_DAY_MINUTES:
        hours = open_minutes / 60
        if not open_minutes:
            problem = gettext(
                "Quiet hours from %(start)s to %(end)s leave no time between 8 AM and 9 PM for messages. "
                "Leave at least 6 hours, so appointment reminders can reach you."
            )
        else:
            # Translators: %(hours)s is how much of the day quiet hours leave, like 5 or 2.5.
            problem = ngettext(
                "Quiet hours from %(start)s to %(end)s leave only %(hours)s hour between 8 AM and 9 PM for "
                "messages. Leave at least 6 hours, so appointment reminders can reach you.",
                "Quiet hours from %(start)s to %(end)s leave only %(hours)s hours between 8 AM and 9 PM for "
                "messages. Leave at least 6 hours, so appointment reminders can reach you.",
                1 if hours == 1 else 2,
            )
        problems["quiet_end"] = problem % {**times, "hours": f"{hours:g}"}
    elif tip_time is not None and _in_quiet_hours(tip_time, quiet_start, quiet_end):
        problems["tip_time"] = gettext(
            "%(tip_time)s is inside your quiet hours (%(start)s to %(end)s). Choose a time for tips outside them."
        ) % {**times, "tip_time": clock(tip_time)}
    return problems
