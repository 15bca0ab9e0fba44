"""Every rule a writer can break, and the message that tells them how to fix it."""

from datetime import date

import pytest

from content.validation import sms_problems, sms_size, template_entry_problems, tip_entry_problems


def tip(**changes):
    entry = {
        "slug": "say-how-are-you",
        "title": "Ask how they are",
        "sms": 'Ask "How are you?" and listen to the answer.',
        "email": "A longer note of at least twenty words, so that the email part of the tip says something "
        "useful to the caregiver who reads it.",
        "tags": ["phrases"],
        "source": "Alongside editorial, from clinic guidance",
        "reviewed_at": date(2026, 11, 22),
    }
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not None}


def problems(entry, category="what-to-say"):
    return dict(tip_entry_problems(entry, category=category))


def test_a_good_tip_has_no_problems():
    assert problems(tip()) == {}


@pytest.mark.parametrize(
    ("text", "encoding", "units", "segments"),
    [
        ("a" * 160, "GSM-7", 160, 1),
        ("a" * 161, "GSM-7", 161, 2),
        ("a" * 306, "GSM-7", 306, 2),
        ("a" * 307, "GSM-7", 307, 3),
        ("{" * 80, "GSM-7", 160, 1),  # extension characters cost two septets
        ("é" * 160, "GSM-7", 160, 1),  # é is in the basic GSM-7 alphabet
        ("ж" + "a" * 69, "UCS-2", 70, 1),
        ("ж" + "a" * 70, "UCS-2", 71, 2),
        # Sent folded: a letter or mark GSM-7 lacks loses its accent or curl, and the text stays GSM-7.
        ("á" * 160, "GSM-7", 160, 1),
        ("’" + "a" * 159, "GSM-7", 160, 1),
        ("¿Cómo está? Sí, mañana." * 1, "GSM-7", 23, 1),
        ("🙂" + "a" * 68, "UCS-2", 70, 1),  # an emoji is two UTF-16 units
    ],
)
def test_sms_size_counts_like_a_carrier(text, encoding, units, segments):
    size = sms_size(text)
    assert (size.encoding, size.units, size.segments) == (encoding, units, segments)


def test_a_long_sms_is_refused_with_its_length_as_sent():
    assert problems(tip(sms="a" * 262))["sms"] == (
        "sent as a tip with the prefix “Alongside: ” and the question “Reply 1 if this helped, 2 if not.” after it "
        "is 307 GSM-7 characters, 3 segments; at most 2 segments (306 characters) are allowed; keep the SMS to 261 "
        "plain characters"
    )


def test_a_character_that_forces_ucs2_is_named():
    message = problems(tip(sms="It is ☂ " + "a" * 95))["sms"]
    assert "“☂” (U+2602)" in message
    assert "sent as UCS-2" in message
    assert "148 characters is 3 segments" in message  # with "Alongside: " and the 34 of the question


def test_a_curly_quote_or_an_accent_is_folded_not_counted_as_ucs2():
    assert problems(tip(sms="It’s “fine” — está " + "a" * 200)) == {}


def test_a_short_ucs2_sms_is_allowed():
    assert sms_problems("It is ☂ fine.") == []


def test_a_spanish_tip_may_run_to_three_segments_and_no_further():
    assert dict(tip_entry_problems(tip(sms="a" * 400), category="what-to-say", language="es")) == {}
    too_long = dict(tip_entry_problems(tip(sms="á" * 430), category="what-to-say", language="es"))["sms"]
    assert "at most 3 segments (459 characters)" in too_long


@pytest.mark.parametrize("word", ["ketamine", "Ketamine", "depression", "DEPRESSED", "Spravato", "PTSD"])
def test_an_sms_never_names_the_drug_or_a_diagnosis(word):
    assert "must not name the drug or a diagnosis" in problems(tip(sms=f"About the {word} today."))["sms"]


def test_discreet_false_lets_a_warning_signs_sms_name_the_safety_words_only():
    crisis = "If they talk about suicide, call or text 988."
    assert problems(tip(sms=crisis, email=crisis * 3, discreet=False), category="warning-signs") == {}
    named = problems(tip(sms=f"{crisis} About ketamine.", email=crisis * 3, discreet=False), "warning-signs")
    assert "names 'ketamine'" in named["sms"]


def test_discreet_false_is_refused_outside_warning_signs():
    found = problems(tip(sms="About ketamine today.", discreet=False))
    assert found["discreet"].startswith("may be false only in warning-signs tips")
    assert "names 'ketamine'" in found["sms"]


def test_discreet_false_on_an_sms_that_names_nothing_is_refused():
    crisis = "If you are worried, call or text 988."
    found = problems(tip(sms=crisis, email=crisis * 4, discreet=False), category="warning-signs")
    assert found["discreet"] == "is false but the SMS names nothing on the discretion list: remove it"


def test_a_title_is_an_email_subject_and_discreet_too():
    assert "names 'suicide'" in problems(tip(title="Talk of suicide"), category="what-to-say")["title"]


def test_required_fields_are_named():
    found = problems(tip(title=None, source=None))
    assert found["title"] == "is required"
    assert found["source"] == "is required"


def test_unknown_fields_are_refused_so_typos_surface():
    assert "is not a tip field" in problems(tip(smss="typo"))["smss"]


@pytest.mark.parametrize("slug", ["Say_Hello", "say hello", "-hello", "hello-"])
def test_slugs_are_lowercase_hyphenated(slug):
    assert "must be lowercase words joined by hyphens" in problems(tip(slug=slug))["slug"]


def test_warning_signs_always_give_the_crisis_line():
    found = problems(tip(), category="warning-signs")
    assert found["sms"] == found["email"] == "must give the crisis line: “call or text 988”"


def test_tags_and_dates_have_a_shape():
    assert "list of lowercase" in problems(tip(tags="phrases"))["tags"]
    assert "must be a date" in problems(tip(reviewed_at="soon"))["reviewed_at"]
    assert "at least 20 words" in problems(tip(email="Too short."))["email"]


def template(**changes):
    entry = {
        "key": "reminder-ride",
        "sms": "Alongside: {{ loved_one }} needs a ride home on {{ day }}.",
        "email_subject": "A ride home for {{ loved_one }}",
        "email_body": "Please arrange a ride home for {{ loved_one }} on {{ day }}.",
        "sample": {"loved_one": "Alexandrina", "day": "Wednesday, Nov 25"},
    }
    entry.update(changes)
    return {k: v for k, v in entry.items() if v is not None}


def test_a_good_template_has_no_problems():
    assert template_entry_problems(template()) == []


def test_a_template_variable_missing_from_the_sample_is_named():
    found = dict(template_entry_problems(template(sample={"loved_one": "Alex"})))
    assert found["sms"] == "uses a variable the sample does not give: no value for day"


def test_a_template_syntax_error_is_reported():
    found = dict(template_entry_problems(template(sms="Alongside: {% if %}")))
    assert found["sms"].startswith("is not a valid Django template")


def test_a_template_too_long_once_rendered_is_refused():
    found = dict(template_entry_problems(template(sample={"loved_one": "Alex", "day": "A" * 300})))
    assert found["sms"].startswith("rendered with the sample and 20-character names is")


def test_a_template_is_measured_with_the_longest_names_a_text_gives_not_the_sample_s():
    # Fits with "Alex"; a loved one's name in a text may run to 20 characters (rendering.sms_person).
    words = "Alongside: " + "x" * 270 + " {{ loved_one }} {{ day }}"
    assert len(words.replace("{{ loved_one }}", "Alex").replace("{{ day }}", "Monday")) <= 306
    found = dict(template_entry_problems(template(sms=words)))
    assert "3 segments" in found["sms"]


def test_a_template_sms_is_discreet_too():
    found = dict(template_entry_problems(template(sms="Alongside: ketamine on {{ day }} for {{ loved_one }}.")))
    assert "must not name the drug" in found["sms"]


def test_email_subject_and_body_go_together():
    found = dict(template_entry_problems(template(email_body=None)))
    assert found["email_subject"] == "and email_body go together: give both or neither"
