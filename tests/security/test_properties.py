"""Property tests: what people type (numbers, zones, names, texts) never crashes us and keeps its promises.

Hypothesis generates the inputs from a fixed seed (derandomize=True), so CI sees the same cases
every run. A property a known bug breaks, in code this suite may not change, is a strict xfail
naming the fix: it turns red once the fix lands, so the marker cannot outlive the bug.
"""

from __future__ import annotations

import re
import string
import zoneinfo
from datetime import UTC, datetime, time, timedelta
from urllib.parse import urlencode

import phonenumbers
import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import translation
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from twilio.request_validator import RequestValidator

from caregiver.models import Caregiver, Clinic
from caregiver.validators import local_to_utc, phone_to_e164, validate_time_zone
from content.models import MessageTemplate
from content.validation import discreet_violations, sms_size, sms_words
from messaging import rendering
from messaging.reading import HELP, KEYWORDS, OPT_IN, OPT_OUT, RIDE, keyword_of, signals_crisis
from messaging.timing import EARLIEST, LATEST, is_allowed, latest_allowed_before, next_allowed
from tests import factories

FUZZ = settings(
    derandomize=True,
    database=None,
    deadline=None,
    max_examples=300,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)

ZONES = sorted(zoneinfo.available_timezones())
ZONE_NAMES = frozenset(ZONES)
# Zones that move their clocks, or did, or sit at odd offsets: where wall-clock bugs live.
AWKWARD_ZONES = [
    "America/New_York", "America/Los_Angeles", "America/Phoenix", "America/St_Johns", "America/Santiago",
    "America/Havana", "Europe/London", "Europe/Dublin", "Australia/Lord_Howe", "Australia/Adelaide",
    "Pacific/Chatham", "Pacific/Apia", "Asia/Kathmandu", "Asia/Tehran", "Africa/Casablanca", "Antarctica/Troll",
]  # fmt: skip
zones = st.one_of(st.sampled_from(AWKWARD_ZONES), st.sampled_from(ZONES))
E164 = re.compile(r"\+[1-9][0-9]{6,14}")


# --- Phone numbers ---------------------------------------------------------------------------------


@FUZZ
@given(typed=st.text(max_size=60) | st.text(alphabet="0123456789 +-().x", max_size=40))
def test_any_text_becomes_an_e164_number_or_a_short_reason(typed):
    try:
        number = phone_to_e164(typed, require_mobile=True)
    except ValidationError as exc:
        [message] = exc.messages
        assert message.endswith(".")
        assert len(message) <= 200  # the input is quoted, but never at length
    else:
        assert E164.fullmatch(number)
        assert phone_to_e164(number) == number  # normalising twice changes nothing


@FUZZ
@given(typed=st.text(min_size=200, max_size=5000))
def test_a_huge_paste_is_refused_without_echoing_it_back(typed):
    with pytest.raises(ValidationError) as excinfo:
        phone_to_e164(typed)
    assert len(excinfo.value.messages[0]) <= 200


def _typed_like_a_person(digits: str, draw) -> str:
    """A US number as people write it: +1 or 1 or nothing, brackets, dots, dashes, spaces, odd digits."""
    area, exchange, line = digits[:3], digits[3:6], digits[6:]
    sep = draw(st.sampled_from(["", " ", "-", ".", "  ", " - "]))
    area = draw(st.sampled_from([area, f"({area})", f"({area}) "]))
    prefix = draw(st.sampled_from(["", "+1 ", "+1", "1-", "1 ", "+1-"]))
    typed = f"{prefix}{area}{sep}{exchange}{sep}{line}"
    # Phones and spreadsheets hand us full-width or Arabic-Indic digits, and stray spaces.
    digit_set = draw(st.sampled_from(["0123456789", "０１２３４５６７８９", "٠١٢٣٤٥٦٧٨٩"]))
    typed = typed.translate(str.maketrans("0123456789", digit_set))
    return draw(st.sampled_from(["", " ", "\t"])) + typed + draw(st.sampled_from(["", " ", "\n"]))


@FUZZ
@given(data=st.data(), line=st.integers(min_value=100, max_value=199))
def test_however_a_us_number_is_typed_it_is_stored_the_same(data, line):
    digits = f"202555{line:04d}"  # 202-555-0100..0199: valid numbers reserved for fiction
    typed = _typed_like_a_person(digits, data.draw)
    assert phone_to_e164(typed, require_mobile=True) == f"+1{digits}"


MOBILE_EXAMPLES = [
    phonenumbers.example_number_for_type(region, phonenumbers.PhoneNumberType.MOBILE)
    for region in sorted(phonenumbers.SUPPORTED_REGIONS)
]
MOBILE_EXAMPLES = [number for number in MOBILE_EXAMPLES if number is not None]


@FUZZ
@given(
    number=st.sampled_from(MOBILE_EXAMPLES),
    style=st.sampled_from([phonenumbers.PhoneNumberFormat.INTERNATIONAL, phonenumbers.PhoneNumberFormat.E164]),
)
def test_a_mobile_number_from_any_country_keeps_its_country(number, style):
    stored = phone_to_e164(phonenumbers.format_number(number, style), require_mobile=True)
    assert stored == phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


# --- Time zones and local times --------------------------------------------------------------------


@FUZZ
@given(name=st.text(max_size=40) | st.sampled_from(ZONES) | st.sampled_from(["UTC", "../etc/passwd", "EST5EDT"]))
def test_a_time_zone_is_a_known_iana_name_or_refused_by_name(name):
    if name in ZONE_NAMES:
        validate_time_zone(name)
    else:
        with pytest.raises(ValidationError, match="is not a time zone name"):
            validate_time_zone(name)


def _exists(naive: datetime, zone: zoneinfo.ZoneInfo) -> bool:
    """Does this wall-clock time happen in `zone`? (Independently of local_to_utc.)"""
    for fold in (0, 1):
        try:
            back = naive.replace(tzinfo=zone, fold=fold).astimezone(UTC).astimezone(zone)
        except OverflowError:
            continue
        if back.replace(tzinfo=None) == naive:
            return True
    return False


@FUZZ
@given(naive=st.datetimes(), zone_name=zones)
def test_local_to_utc_round_trips_or_says_why_not(naive, zone_name):
    zone = zoneinfo.ZoneInfo(zone_name)
    try:
        moment, refused = local_to_utc(naive, time_zone=zone_name), None
    except ValidationError as exc:
        moment, refused = None, exc
    if refused is None:
        assert moment.tzinfo is UTC
        assert moment.astimezone(zone).replace(tzinfo=None) == naive
    elif refused.code == "nonexistent_time":
        assert not _exists(naive, zone)
        assert refused.messages == [
            f"{naive:%Y-%m-%d %H:%M} does not exist in {zone_name}: the clocks go forward that night. "
            "Pick a time an hour later."
        ]
    else:
        assert refused.code == "out_of_range"
        assert refused.messages == [f"{naive:%Y-%m-%d %H:%M} is too far in the future or the past for a date."]


def _folds(zone_name: str, years: range) -> list[tuple[datetime, int]]:
    """Each hour the clocks went back over: (its first wall-clock minute, its length in minutes)."""
    zone, folds = zoneinfo.ZoneInfo(zone_name), []
    day, end = datetime(years.start, 1, 1, tzinfo=UTC), datetime(years.stop, 1, 1, tzinfo=UTC)
    while day < end:
        low, high = day, day + timedelta(days=1)
        before, after = low.astimezone(zone).utcoffset(), high.astimezone(zone).utcoffset()
        if after < before:
            while high - low > timedelta(minutes=1):  # the instant of the change, to the minute
                middle = low + (high - low) / 2
                low, high = (middle, high) if middle.astimezone(zone).utcoffset() == before else (low, middle)
            first = (high + after).replace(tzinfo=None)
            folds.append((first, int((before - after).total_seconds() // 60)))
        day += timedelta(days=1)
    return folds


FOLDS = [(zone, *fold) for zone in AWKWARD_ZONES for fold in _folds(zone, range(2025, 2028))]


@FUZZ
@given(fold=st.sampled_from(FOLDS), offset=st.floats(min_value=0, max_value=0.999))
def test_a_time_that_happens_twice_means_the_first(fold, offset):
    zone_name, first_minute, minutes = fold
    naive = first_minute + timedelta(minutes=int(offset * minutes))
    earlier, later = (naive.replace(tzinfo=zoneinfo.ZoneInfo(zone_name), fold=f).astimezone(UTC) for f in (0, 1))
    assert earlier < later  # it really happens twice
    assert local_to_utc(naive, time_zone=zone_name) == earlier


@FUZZ
@given(year=st.integers(min_value=2007, max_value=2037), minute=st.integers(min_value=0, max_value=59))
def test_the_skipped_hour_in_new_york_is_refused_every_spring(year, minute):
    march = [datetime(year, 3, day, 2, minute) for day in range(8, 15)]
    gap = next(day for day in march if day.weekday() == 6)  # second Sunday of March, 02:00-03:00
    with pytest.raises(ValidationError) as excinfo:
        local_to_utc(gap, time_zone="America/New_York")
    assert excinfo.value.messages == [
        f"{gap:%Y-%m-%d %H:%M} does not exist in America/New_York: the clocks go forward that night. "
        "Pick a time an hour later."
    ]


# --- Quiet hours -----------------------------------------------------------------------------------

minutes_of_day = st.builds(time, st.integers(min_value=0, max_value=23), st.sampled_from([0, 15, 30, 45, 59]))
moments = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2037, 12, 31), timezones=st.just(UTC))


def _quiet_at(caregiver: Caregiver, local: time) -> bool:
    """Inside quiet hours as a caregiver would read them: theirs, and always 21:00-08:00."""
    if not EARLIEST <= local < LATEST:
        return True
    start, end = caregiver.quiet_start, caregiver.quiet_end
    if start == end:
        return False
    if start > end:  # wraps midnight
        return local >= start or local < end
    return start <= local < end


def _quiet(caregiver: Caregiver, moment: datetime) -> bool:
    return _quiet_at(caregiver, moment.astimezone(zoneinfo.ZoneInfo(caregiver.time_zone)).time())


@FUZZ
@given(zone_name=zones, quiet_start=minutes_of_day, quiet_end=minutes_of_day, moment=moments)
def test_nothing_is_allowed_in_quiet_hours_and_the_next_allowed_time_is_not_quiet(
    zone_name, quiet_start, quiet_end, moment
):
    caregiver = Caregiver(time_zone=zone_name, quiet_start=quiet_start, quiet_end=quiet_end)
    if is_allowed(caregiver, moment):
        assert not _quiet(caregiver, moment)
    later = next_allowed(caregiver, moment)
    if later is not None:
        assert later >= moment
        assert is_allowed(caregiver, later)
        assert not _quiet(caregiver, later)
    earlier = latest_allowed_before(caregiver, moment)
    if earlier is not None:
        assert earlier <= moment
        assert is_allowed(caregiver, earlier)
        assert not _quiet(caregiver, earlier)


@FUZZ
@given(zone_name=zones, quiet_start=minutes_of_day, quiet_end=minutes_of_day, moment=moments)
def test_a_caregiver_awake_for_an_hour_a_day_always_has_a_next_allowed_time(zone_name, quiet_start, quiet_end, moment):
    caregiver = Caregiver(time_zone=zone_name, quiet_start=quiet_start, quiet_end=quiet_end)
    awake = [m for m in range(24 * 60) if not _quiet_at(caregiver, time(m // 60, m % 60))]
    assume(len(awake) >= 60)
    assert next_allowed(caregiver, moment) is not None


# --- Names in message templates --------------------------------------------------------------------

# What the sign-up and staff forms accept: a name of 1-80 characters, a loved one's of 1-40, never
# NUL (refused at the door; see test_malformed_input.py).
names = st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=80).filter(lambda n: n.strip())
loved_ones = st.text(st.characters(exclude_characters="\x00"), min_size=1, max_size=40).filter(lambda n: n.strip())
# Names as most people's are written: letters (accented ones included), spaces, hyphens, apostrophes.
GSM_NAME_CHARS = string.ascii_letters + "ÄÖÜäöüßÉéèàùìòÑñÅåØøÆæÇ -'"
gsm_names = st.text(GSM_NAME_CHARS, min_size=1, max_size=80).filter(lambda n: n.strip())
gsm_loved_ones = st.text(GSM_NAME_CHARS, min_size=1, max_size=40).filter(lambda n: n.strip())
CLINIC = Clinic(name="Riverside Wellness & Infusion Center", contact_phone="+12025550100", contact_email="c@x.org")
LEAKS = ("{{", "}}", "{%", "%}", "MISSING")


@pytest.fixture
def templates(content):
    return list(MessageTemplate.objects.filter(active=True).order_by("key"))


def _rendered(template: MessageTemplate, name: str, loved_one: str) -> str:
    # Each template in its own language, with its own sample (a Spanish sample tip is longer).
    caregiver = Caregiver(name=name, language=template.language)
    context = {**template.sample, **rendering.base_context(caregiver, CLINIC, loved_one)}
    return rendering.template_body(
        key=template.key, channel="sms", context=context, caregiver=None, language=template.language
    ).text


def _anyone(language: str) -> str:
    with translation.override(language):
        return str(rendering.SMS_NAMES["loved_one"])


@pytest.mark.django_db
@settings(FUZZ, max_examples=60)
@given(name=names, loved_one=loved_ones)
def test_any_name_renders_into_every_template_as_itself(templates, name, loved_one):
    # In a text a name is spelt in GSM-7 (Zoë → Zoe), or left out when nothing of it has a spelling
    # there, or when it would reveal treatment on a lock screen ("IV", "MDD": messaging.discretion).
    first = " ".join(rendering.sms_person(name.split()[0]).split())
    if discreet_violations(name.split()[0]):
        first = ""
    for template in templates:
        loved = " ".join((rendering.sms_person(loved_one) or _anyone(template.language)).split())
        if discreet_violations(loved_one):
            loved = _anyone(template.language)
        text = _rendered(template, name, loved_one)
        assert text
        # What a name contains is shown, never run: `{{ code }}` in a name stays those characters.
        if "{{ caregiver }}" in template.sms:
            assert first in text
        if "{{ loved_one }}" in template.sms:
            assert loved in text
        leftover = text.replace(first, "") if first else text
        leftover = leftover.replace(loved, "")
        assert not any(leak in leftover for leak in LEAKS), (template.key, text)


@pytest.mark.django_db
@settings(FUZZ, max_examples=160)
# Names in the GSM alphabet (kept as written, so long ones are the risk) and any Unicode (spelt in GSM-7).
@given(name=st.one_of(gsm_names, names), loved_one=st.one_of(gsm_loved_ones, loved_ones))
def test_any_name_keeps_every_text_within_two_segments(templates, name, loved_one):
    for template in templates:
        size = sms_size(_rendered(template, name, loved_one))
        # Two segments in English, three in Spanish (it runs about a fifth longer).
        assert size.segments <= sms_words(template.language).max_segments, (template.key, name, loved_one, size)


# --- Keywords and crisis words ---------------------------------------------------------------------


@FUZZ
@given(body=st.text(max_size=2000))
def test_any_text_is_one_keyword_or_none_and_never_crashes(body):
    word = keyword_of(body)
    assert word == "" or (word.isalpha() and word == word.upper() and len(word) <= 12)
    assert signals_crisis(body) in (True, False)


def _ascii_variant(keyword: str, draw) -> str:
    cased = "".join(draw(st.sampled_from([c.lower(), c.upper()])) for c in keyword)
    pad = st.text(alphabet=" \t\n\r.!?,;:'\"-", max_size=4)
    return draw(pad) + cased + draw(pad)


@FUZZ
@given(data=st.data(), keyword=st.sampled_from(sorted(KEYWORDS)))
def test_a_keyword_in_any_case_with_spaces_and_punctuation_is_that_keyword(data, keyword):
    assert keyword_of(_ascii_variant(keyword, data.draw)) == keyword


@FUZZ
@given(data=st.data(), keyword=st.sampled_from(sorted(OPT_OUT)))
def test_every_stop_word_opts_out_and_no_other_keyword_does(data, keyword):
    word = keyword_of(_ascii_variant(keyword, data.draw))
    assert word in OPT_OUT
    assert word not in OPT_IN | HELP | RIDE


# What phones really send around a one-word reply: smart quotes, a no-break or zero-width space,
# full-width letters from a CJK keyboard, an emoji, a Unicode ellipsis.
UNICODE_PADS = ["“", "”", "‘", "’", "\u00a0", "\u200b", "\ufeff", "…", "¡", "。", "🛑", "👍", "\u3000"]


@FUZZ
@given(
    data=st.data(),
    keyword=st.sampled_from(sorted(OPT_OUT)),
    before=st.lists(st.sampled_from(UNICODE_PADS), max_size=2),
    after=st.lists(st.sampled_from(UNICODE_PADS), max_size=2),
    full_width=st.booleans(),
)
def test_a_stop_word_wrapped_in_what_phones_send_still_opts_out(data, keyword, before, after, full_width):
    word = _ascii_variant(keyword, data.draw).strip()
    if full_width:
        word = word.translate({c: c + 0xFEE0 for c in range(0x21, 0x7F)})
    assert keyword_of("".join(before) + word + "".join(after)) in OPT_OUT


CRISIS_PHRASES = [
    "suicide", "suicidal", "kill myself", "kill himself", "end it all", "end my life", "want to die",
    "better off dead", "no reason to live", "don't want to live", "doesn't want to be here",
    "hurting herself", "self-harm", "self harm", "overdose", "took all the pills", "took too many pills",
    "can't go on", "not safe", "in danger",
]  # fmt: skip
# Not here: "988", "911" and "emergency" on their own ("the 988 number is saved", "I work at the 911
# center", "family emergency, need to reschedule") are everyday words; messaging/reading_rules.yaml
# reads them in context (tests/messaging/test_reading.py).
filler = st.text(st.characters(exclude_categories=["Cs"]), max_size=60)


@FUZZ
@given(phrase=st.sampled_from(CRISIS_PHRASES), before=filler, after=filler, shout=st.booleans())
def test_crisis_words_anywhere_in_a_text_are_caught(phrase, before, after, shout):
    body = f"{before} {phrase.upper() if shout else phrase} {after}"
    assert signals_crisis(body)


@FUZZ
@given(
    phrase=st.sampled_from([p for p in CRISIS_PHRASES if "'" in p or " " in p] + ["wanna die", "kill my self"]),
    apostrophe=st.sampled_from(["'", "’", "ʼ", "‘"]),
    space=st.sampled_from([" ", "  ", "\n", "\u00a0", " \n"]),
)
def test_crisis_words_typed_on_a_phone_are_caught(phrase, apostrophe, space):
    body = phrase.replace("'", apostrophe).replace(" ", space)
    assert signals_crisis(body), body


# --- Twilio webhooks -------------------------------------------------------------------------------

TWILIO_TOKEN = "fuzz-webhook-token"
PUBLIC = "http://localhost:8000"
INBOUND, STATUS = "/webhooks/twilio/inbound/", "/webhooks/twilio/status/"


@pytest.fixture
def webhook_sender(content, settings):
    settings.TWILIO_AUTH_TOKEN = TWILIO_TOKEN
    settings.PUBLIC_BASE_URL = PUBLIC
    link = factories.CareLinkFactory(caregiver__phone="+12025550143")
    factories.ConsentRecordFactory(caregiver=link.caregiver)
    factories.AppointmentFactory(loved_one=link.loved_one)
    return link.caregiver


# Field values: what Twilio sends, what it could, and what it never would (NUL included).
values = st.text(st.characters(exclude_categories=["Cs"]), max_size=300)
keywordish = st.sampled_from(sorted(KEYWORDS) + CRISIS_PHRASES + ["YES", "Yes!", "help me", ""])


@st.composite
def inbound_forms(draw, caregiver):
    form = {
        "MessageSid": draw(st.sampled_from([f"SM{draw(st.integers(0, 10**6)):032d}"]) | values),
        "From": draw(st.sampled_from([caregiver.phone, "+12025550000", ""]) | values),
        "To": draw(st.sampled_from([caregiver.clinic.twilio_from_number, ""]) | values),
        "Body": draw(keywordish | values),
        "MessagingServiceSid": draw(st.sampled_from(["", "MG" + "0" * 32]) | values),
    }
    form = {name: value for name, value in form.items() if draw(st.integers(0, 9))}  # now and then, one is missing
    form.update(draw(st.dictionaries(values.filter(bool), values, max_size=3)))  # fields Twilio does not send
    return form


@st.composite
def status_forms(draw):
    form = {
        "MessageSid": draw(st.sampled_from(["SM" + "1" * 32, ""]) | values),
        "MessageStatus": draw(
            st.sampled_from(["queued", "sent", "delivered", "undelivered", "failed", "read"]) | values
        ),
        "ErrorCode": draw(st.sampled_from(["", "30003", "21610", "30007"]) | values),
    }
    form = {name: value for name, value in form.items() if draw(st.integers(0, 9))}
    form.update(draw(st.dictionaries(values.filter(bool), values, max_size=3)))
    return form


def _signed_post(client, path: str, form: dict, *, signed: bool):
    signature = RequestValidator(TWILIO_TOKEN).compute_signature(PUBLIC + path, form) if signed else "bogus"
    # Each request in a savepoint rolled back after it: one example's rows never change the next one.
    with transaction.atomic():
        response = client.post(
            path, urlencode(form), content_type="application/x-www-form-urlencoded", HTTP_X_TWILIO_SIGNATURE=signature
        )
        transaction.set_rollback(True)
    return response


@pytest.mark.django_db
@settings(FUZZ, max_examples=200)
@given(data=st.data(), signed=st.booleans())
def test_any_inbound_webhook_is_answered_never_a_500(client, webhook_sender, data, signed):
    form = data.draw(inbound_forms(webhook_sender))
    response = _signed_post(client, INBOUND, form, signed=signed)
    if not signed:
        assert response.status_code == 403
    elif not all(form.get(name) for name in ("MessageSid", "From", "To")):
        assert response.status_code == 400
        assert response.content.decode().startswith("Missing form field(s): ")
    elif any("\x00" in name + value for name, value in form.items()):
        assert response.status_code == 400
        assert response.content.decode() == "Form fields must not contain NUL characters."
    else:
        assert response.status_code == 200, response.content
        assert response["Content-Type"] == "application/xml"


@pytest.mark.django_db
@settings(FUZZ, max_examples=200)
@given(
    form=status_forms(),
    m=st.sampled_from(["", "1", "42"]) | st.integers(0, 2**63 - 1).map(str) | st.text("0123456789x-", max_size=6),
    signed=st.booleans(),
)
def test_any_status_callback_is_answered_never_a_500(client, webhook_sender, form, m, signed):
    path = f"{STATUS}?m={m}" if m else STATUS
    response = _signed_post(client, path, form, signed=signed)
    if not signed:
        assert response.status_code == 403
    elif form.get("MessageSid") and (form.get("MessageStatus") or form.get("SmsStatus")) and (m == "" or m.isdigit()):
        assert response.status_code == 204, response.content
    else:
        assert response.status_code == 400
