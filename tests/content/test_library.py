"""The library as written: valid, complete, and within what the sources support."""

import re

import pytest

from content.services import library_read
from content.validation import (
    CHECK_IN_SMS_PREFIX,
    CHECK_IN_TAG,
    CRISIS_CATEGORY,
    PHASE_TAGS,
    SAFETY_KEYS,
    TIP_SMS_FEEDBACK,
    TIP_SMS_PREFIX,
    discreet_violations,
    sms_size,
    sms_words,
    source_problems,
)

CATEGORIES = {
    "what-to-say", "what-not-to-say", "everyday-help", "appointment-day",
    "after-treatment", "course", "caring-for-yourself", "warning-signs",
}  # fmt: skip
SAY = ["I'm here for you if you want to talk about it.", "How can I help today?", "How are you?",
       "You don't have to do this alone."]  # fmt: skip
DONT_SAY = ["Just think happy thoughts.", "What do you have to be sad about?", "Everything will be ok.",
            "You need to snap yourself out of this.", "Some people have it worse than you."]  # fmt: skip
TEMPLATES = {
    "confirmation-code", "email-confirmation", "welcome", "help", "stop", "start", "ride-confirmed",
    "ride-no-appointment", "crisis", "reminder-ride", "reminder-evening-before", "reminder-expected-end",
    "reminder-next-morning", "preferences-link", "staff-crisis-alert", "staff-help-alert", "tip-thanks-helpful",
    "tip-thanks-not-for-me",
}  # fmt: skip


@pytest.fixture(scope="module")
def parsed():
    return library_read()


def test_there_are_at_least_60_tips_in_every_category(parsed):
    by_category = {}
    for _, category, entry in parsed.tips:
        by_category.setdefault(category, []).append(entry)
    assert sum(map(len, by_category.values())) >= 60
    assert set(by_category) == CATEGORIES
    assert min(map(len, by_category.values())) >= 5


@pytest.mark.parametrize("phrase", SAY + DONT_SAY)
def test_every_phrase_from_the_sources_is_covered(parsed, phrase):
    assert any(phrase in entry["sms"] or phrase in entry["title"] for _, _, entry in parsed.tips)


def test_no_tip_makes_efficacy_or_safety_claims(parsed):
    claim = re.compile(r"\d+\s?%|percent|\bcures?\b|no (long-term )?side effects|proven|breakthrough", re.I)
    offenders = [e["slug"] for _, _, e in parsed.tips if claim.search(e["title"] + e["sms"] + e["email"])]
    assert offenders == []


def test_every_sms_is_gsm7_and_within_its_language_s_segments_as_sent(parsed):
    """English in two segments, Spanish in three, every one GSM-7 once folded (no tip goes UCS-2)."""
    for language, _, entry in parsed.tips:
        words = sms_words(language)
        sms = " ".join(entry["sms"].split())
        sent_as = [words.prefix + sms + words.feedback]
        sent_as += [words.check_in + sms] if "check-in" in entry.get("tags", []) else []
        for text in sent_as:
            size = sms_size(text)
            assert size.encoding == "GSM-7", entry["slug"]
            assert size.segments <= (2 if language == "en" else 3), (entry["slug"], text)


def test_the_english_words_are_the_english_ones():
    assert (
        sms_words("en").prefix,
        sms_words("en").feedback,
        sms_words("en").check_in,
    ) == (TIP_SMS_PREFIX, TIP_SMS_FEEDBACK, CHECK_IN_SMS_PREFIX)


def test_every_tip_and_message_is_in_both_languages_under_one_slug(parsed):
    tips = {(language, entry["slug"], category) for language, category, entry in parsed.tips}
    assert {(slug, category) for language, slug, category in tips if language == "en"} == {
        (slug, category) for language, slug, category in tips if language == "es"
    }
    keys = {
        language: {entry["key"] for lang, entry in parsed.templates if lang == language} for language in ["en", "es"]
    }
    assert keys["en"] - keys["es"] == {"staff-crisis-alert", "staff-help-alert", "staff-ride-alert"}
    assert keys["es"] <= keys["en"]


def test_every_message_template_the_product_sends_exists(parsed):
    assert {entry["key"] for _, entry in parsed.templates} >= TEMPLATES


# --- What the planner and the lock screen rely on ---------------------------------------------


def by_category(parsed, language="en"):
    tips = {}
    for lang, category, entry in parsed.tips:
        if lang == language:
            tips.setdefault(category, []).append(entry)
    return tips


def test_no_tip_outside_warning_signs_names_anything_on_the_discretion_list(parsed):
    offenders = [
        (entry["slug"], discreet_violations(entry["sms"] + " " + entry["title"]))
        for _, category, entry in parsed.tips
        if category != CRISIS_CATEGORY and discreet_violations(entry["sms"] + " " + entry["title"])
    ]
    assert offenders == []
    assert all(entry.get("discreet", True) for _, c, entry in parsed.tips if c != CRISIS_CATEGORY)


def test_warning_signs_sms_name_only_the_safety_words_and_titles_nothing(parsed):
    for entry in by_category(parsed)[CRISIS_CATEGORY]:
        allowed = () if entry.get("discreet", True) else SAFETY_KEYS
        assert discreet_violations(entry["sms"], allowed=allowed) == [], entry["slug"]
        assert discreet_violations(entry["title"]) == [], entry["slug"]  # emailed to everyone


def test_no_tip_asks_the_reader_to_reply_ride_or_text_us(parsed):
    for _, _, entry in parsed.tips:
        for field in ("sms", "email"):
            assert "RIDE" not in entry[field], entry["slug"]
            assert not re.search(r"reply (to )?(our|this|the) (text|message)", entry[field], re.I), entry["slug"]


def test_no_warning_signs_tip_goes_in_the_check_in(parsed):
    assert [e["slug"] for e in by_category(parsed)[CRISIS_CATEGORY] if CHECK_IN_TAG in e.get("tags", [])] == []
    assert [e["slug"] for _, _, e in parsed.tips if CHECK_IN_TAG in e.get("tags", [])]  # some do


def test_each_course_tip_has_at_most_one_phase_and_every_phase_has_tips(parsed):
    course = by_category(parsed)["course"]
    phases = {entry["slug"]: [t for t in entry.get("tags", []) if t in PHASE_TAGS] for entry in course}
    assert all(len(tags) <= 1 for tags in phases.values()), phases
    assert {tag for tags in phases.values() for tag in tags} == set(PHASE_TAGS)
    outside = [e["slug"] for _, c, e in parsed.tips if c != "course" and set(e.get("tags", [])) & set(PHASE_TAGS)]
    assert outside == []


@pytest.mark.parametrize("language", ["en", "es"])
def test_essentials_are_four_or_five_and_first_in_their_files(parsed, language):
    tips = by_category(parsed, language)
    essentials = {c: [e["slug"] for e in entries if "essentials" in e.get("tags", [])] for c, entries in tips.items()}
    assert 2 <= len(essentials["what-to-say"]) <= 3
    assert len(essentials["what-not-to-say"]) == 1
    assert essentials["appointment-day"] == ["arrange-ride-home"]
    assert sum(map(len, essentials.values())) in (4, 5)
    for category, slugs in essentials.items():
        assert [e["slug"] for e in tips[category][: len(slugs)]] == slugs, category


def test_every_source_is_a_public_citation(parsed):
    for _, _, entry in parsed.tips:
        assert source_problems(entry["source"]) == [], entry["slug"]
        assert "§" not in entry["source"]
        assert not re.search(r"\.(txt|md|ya?ml)\b", entry["source"])


def test_nothing_refers_to_the_clinic_pages_or_promises_an_hour_or_tomorrow(parsed):
    for _, _, entry in parsed.tips:
        text = " ".join((entry["title"], entry["sms"], entry["email"]))
        assert "clinic pages" not in text, entry["slug"]
        assert not re.search(r"about an hour|tomorrow is fine", text, re.I), entry["slug"]


def test_stay_with_them_always_says_if_it_is_safe(parsed):
    for entry in by_category(parsed)[CRISIS_CATEGORY]:
        for field in ("sms", "email"):
            for match in re.finditer(r"stay with them[^.]*", entry[field], re.I):
                assert "safe" in match.group(0), (entry["slug"], field, match.group(0))
