"""The discretion list, the SMS as sent, public citations and the tags the planner reads."""

from datetime import date
from pathlib import Path

import pytest

from content.models import Tip
from content.validation import (
    CHECK_IN_SMS_PREFIX,
    DISCRETION_LIST,
    DISCRETION_WORDS,
    TIP_SMS_FEEDBACK,
    TIP_SMS_PREFIX,
    discreet_violations,
    discretion_key_of,
    discretion_keys,
    sms_problems,
    source_problems,
    template_entry_problems,
    tip_entry_problems,
    tip_sms_problems,
)

README = Path(__file__).resolve().parents[2] / "content" / "library" / "README.md"

# Every entry of the list, with the forms it must catch: singular, plural, inflections, any case.
CAUGHT = {
    "ketamine": ["ketamine", "Ketamine", "KETAMINE", "ketamines", "ketamina", "K-hole", "KET", "KAP"],
    "esketamine": ["esketamine", "Esketamine"],
    "spravato": ["Spravato", "SPRAVATO"],
    "ketalar": ["Ketalar"],
    "special-k": ["special k", "Special K", "special-K"],
    "antidepressant": ["antidepressant", "antidepressants", "anti-depressant", "Anti-depressants"],
    "ssri": ["SSRI", "SSRIs", "ssris"],
    "snri": ["SNRI", "SNRIs"],
    "depression": ["depression", "Depressed", "DEPRESSIVE", "depressions", "depresion", "deprimida", "depre"],
    "mdd": ["MDD"],
    "trd": ["TRD", "treatment-resistant"],
    "psychiatric-medicine": ["Zoloft", "sertraline", "Prozac", "Lexapro", "escitalopram", "Wellbutrin", "lithium"],
    "brain-stimulation": ["ECT", "electroconvulsive", "TMS"],
    "psychedelic": ["psychedelic", "psychedelics"],
    "ptsd": ["PTSD", "ptsd"],
    "bipolar": ["bipolar", "Bipolar"],
    "ocd": ["OCD"],
    "schizophrenia": ["schizophrenia", "schizophrenic", "schizoaffective"],
    "psychosis": ["psychosis", "psychoses", "psychotic"],
    "anxiety-disorder": ["anxiety disorder", "anxiety disorders", "Anxiety-Disorder"],
    "diagnosis": ["diagnosis", "diagnoses", "diagnosed"],
    "suicide": ["suicide", "Suicidal", "suicides"],
    "self-harm": ["self-harm", "self harm", "self-harming", "self-injury", "Self Injury"],
    "overdose": ["overdose", "overdoses", "overdosed", "overdosing"],
    "infusion": ["infusion", "Infusions"],
    "iv": ["IV", "iv", "IVs", "I.V.", "I.V"],
    "intravenous": ["intravenous", "intravenously"],
    "nasal-spray": ["nasal spray", "nasal sprays", "Nasal-Spray"],
    "sedation": ["sedation", "sedated", "sedative", "sedatives"],
    "dissociation": ["dissociation", "dissociative", "dissociated"],
    "psychiatry": ["psychiatry", "psychiatrist", "psychiatrists", "psychiatric"],
    "mental-health": ["mental health", "Mental Health", "mental-health"],
    "mental-illness": ["mental illness", "mental illnesses", "mentally ill"],
    "mental-disorder": ["mental disorder", "mental disorders"],
}
HARMLESS = [
    "give", "drive", "seven", "ivy", "olive", "arrive", "anxiety", "anxious", "injection", "injections",
    "session", "treatment", "appointment", "mental note", "health", "special kind", "yourself", "oversee",
    "infuse", "press", "pressure", "sedan", "association", "psychology", "dial", "kettle", "keto", "select", "cap",
    "elect", "deprive",
]  # fmt: skip


def test_the_list_is_what_the_tests_and_the_readme_describe():
    assert set(CAUGHT) == set(DISCRETION_WORDS) == {word.key for word in DISCRETION_LIST}
    table = README.read_text()
    for key in DISCRETION_WORDS:
        assert f"| `{key}` |" in table, key


@pytest.mark.parametrize(("key", "word"), [(key, word) for key, words in CAUGHT.items() for word in words])
def test_each_entry_is_caught_with_its_plurals_and_inflections(key, word):
    text = f"Tonight, after the {word}, rest."
    assert discreet_violations(text) == [word.lower()]
    assert discretion_keys(text) == {key}
    assert discretion_key_of(word) == key


@pytest.mark.parametrize("word", HARMLESS)
def test_harmless_words_are_not_caught(word):
    assert discreet_violations(f"Please {word} the car and give it seven minutes.") == []


def test_iv_is_caught_only_as_a_word_of_its_own():
    assert discreet_violations("Give them a ride; drive slowly; the IV ends at seven.") == ["iv"]


def test_allowed_lets_an_entry_through_and_only_that_one():
    text = "Call 988 if they mention suicide after the infusion."
    assert discreet_violations(text) == ["suicide", "infusion"]
    assert discreet_violations(text, allowed={"suicide"}) == ["infusion"]
    assert discreet_violations(text, allowed=["suicide", "infusion"]) == []
    assert sms_problems(text, allowed={"suicide", "infusion"}) == []
    assert "names 'infusion'" in sms_problems(text, allowed={"suicide"})[0]


def test_an_unknown_allowed_key_is_refused_not_ignored():
    with pytest.raises(ValueError, match="suicidal: not a discretion list key"):
        discreet_violations("text", allowed={"suicidal"})


def test_sms_problems_keeps_its_old_keywords():
    assert sms_problems("About ketamine.", discreet=False) == []
    assert "must not name the drug or a diagnosis" in sms_problems("About ketamine.")[0]


# --- The SMS as sent ---------------------------------------------------------------------------


def test_a_tip_sms_is_measured_between_the_tip_prefix_and_its_question():
    room = 306 - len(TIP_SMS_PREFIX) - len(TIP_SMS_FEEDBACK)
    assert room == 261
    assert tip_sms_problems("a" * room) == []
    (problem,) = tip_sms_problems("a" * (room + 1))
    assert problem.startswith(
        "sent as a tip with the prefix “Alongside: ” and the question “Reply 1 if this helped, 2 if not.” after "
        "it is 307 GSM-7 characters"
    )


def test_a_check_in_tip_is_measured_after_the_check_in_prefix_too():
    room = 306 - len(CHECK_IN_SMS_PREFIX)
    assert room == 271
    as_tip, as_check_in = tip_sms_problems("a" * (room + 1), tags=["check-in"])
    assert "sent as a tip" in as_tip
    assert "next-morning check-in" in as_check_in
    assert "prefix “Alongside: A gentle check-in idea: ” is 307 GSM-7 characters" in as_check_in


def test_the_length_is_measured_on_the_text_as_loaded():
    folded = "word " * 51 + "\n     end"  # 264 characters as written (too long), 258 once folded
    assert tip_sms_problems(folded) == []


# --- Entries -----------------------------------------------------------------------------------


def tip(**changes):
    entry = {
        "slug": "a-tip",
        "title": "A tip",
        "sms": "A short, plain SMS.",
        "email": "A longer note of at least twenty words, so that the email part of the tip says something "
        "useful to the caregiver who reads it.",
        "tags": [],
        "source": "Alongside editorial, from clinic guidance",
        "reviewed_at": date(2026, 11, 22),
    }
    return entry | changes


def problems(entry, category="what-to-say"):
    return dict(tip_entry_problems(entry, category=category))


@pytest.mark.parametrize(
    "source",
    [
        "988 Suicide & Crisis Lifeline, 988lifeline.org",
        "NIMH: Depression",
        "NIMH: Depression, nimh.nih.gov",
        "AFSP: Warning signs",
        "Alongside editorial, from clinic guidance",
        "Alongside editorial, from clinic guidance; FDA: Spravato (esketamine) prescribing information",
    ],
)
def test_a_public_citation_is_a_source(source):
    assert source_problems(source) == []


@pytest.mark.parametrize(
    "source",
    [
        "000_a268f84a16f2db14.txt § How to talk to someone with depression",
        "000_a268f84a16f2db14.txt",
        "notes.md",
        "content/library/en/what-to-say.yaml",
        "seeds.yml",
        "clinic-page.html § What to expect",
    ],
)
def test_a_file_name_is_not_a_source(source):
    (problem,) = source_problems(source)
    assert "looks like a file name" in problem
    assert "looks like a file name" in problems(tip(source=source))["source"]


def test_a_source_is_one_line_that_fits_the_column():
    assert source_problems("x" * 201) == ["must be one line of at most 200 characters"]
    assert source_problems("   ")[0].startswith("is empty")


@pytest.mark.parametrize(
    "text",
    [
        "Once the ride is sorted, reply RIDE to let us know.",
        "Reply RIDE once it's arranged.",
        "Once a ride is confirmed, reply to our text so we know.",
        "Text us when you're home.",
    ],
)
def test_a_tip_never_asks_the_reader_to_text_us(text):
    found = problems(tip(sms=text, email=tip()["email"] + " " + text))
    assert "asks the reader to text us" in found["sms"]
    assert "asks the reader to text us" in found["email"]


def test_a_suggested_message_to_the_loved_one_may_say_no_need_to_reply():
    assert problems(tip(sms='Send: "Thinking of you. No need to reply."')) == {}


def test_a_warning_signs_tip_is_never_a_check_in():
    entry = tip(sms="Worried? Call or text 988.", email=tip()["email"] + " Call or text 988.", tags=["check-in"])
    assert problems(entry, "warning-signs")["tags"].startswith("warning-signs tips never go in the next-morning")
    assert "tags" not in problems(entry, "what-to-say")


def test_a_course_tip_has_at_most_one_phase_tag():
    assert problems(tip(tags=["first-series"]), "course") == {}
    assert problems(tip(tags=["course"]), "course") == {}
    found = problems(tip(tags=["first-series", "maintenance"]), "course")
    assert found["tags"] == "has 2 phase tags (first-series, maintenance): give at most one"


# --- Templates ---------------------------------------------------------------------------------


def template(**changes):
    entry = {
        "key": "reminder-ride",
        "sms": "Alongside: {{ loved_one }} needs a ride home from {{ clinic }} on {{ day }}.",
        "email_subject": "A ride home for {{ loved_one }}",
        "email_body": "Please arrange a ride home for {{ loved_one }} on {{ day }}.",
        "sample": {"loved_one": "Alexandrina", "clinic": "Riverside Wellness & Infusion Center", "day": "Monday"},
    }
    return entry | changes


def test_a_template_is_judged_on_its_own_words_not_its_sample_values():
    assert template_entry_problems(template()) == []
    found = dict(template_entry_problems(template(sms="Alongside: after the infusion, {{ loved_one }} rests.")))
    assert "names 'infusion'" in found["sms"]


def test_a_template_email_subject_is_discreet_too():
    found = dict(template_entry_problems(template(email_subject="Ketamine day for {{ loved_one }}")))
    assert "names 'ketamine'" in found["email_subject"]


# --- The API shows the citation ------------------------------------------------------------------


@pytest.mark.usefixtures("library")
def test_the_api_shows_the_citation_and_never_a_file_name(api):
    results = api.get("/api/v1/tips/", {"page_size": 100}).json()["results"]
    assert all(t["source"] and source_problems(t["source"]) == [] for t in results)
    tip_row = Tip.objects.get(slug=results[0]["slug"], language="en")
    Tip.objects.filter(pk=tip_row.pk).update(source="000_a268f84a16f2db14.txt § How to talk")  # an old row
    assert api.get(f"/api/v1/tips/{tip_row.slug}/").json()["source"] == ""
