"""The library as written: valid, complete, and within what the sources support."""

import re

import pytest

from content.services import library_read
from content.validation import discreet_violations, sms_size

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
    "reminder-next-morning", "preferences-link", "staff-crisis-alert", "staff-help-alert",
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


def test_every_sms_is_discreet_gsm7_and_within_two_segments(parsed):
    for _, _, entry in parsed.tips:
        size = sms_size(entry["sms"])
        assert size.encoding == "GSM-7", entry["slug"]
        assert size.segments <= 2, entry["slug"]
        assert discreet_violations(entry["sms"]) == [], entry["slug"]


def test_every_message_template_the_product_sends_exists(parsed):
    assert {entry["key"] for _, entry in parsed.templates} >= TEMPLATES
