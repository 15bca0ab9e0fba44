"""Reading what families text: the labelled corpus's bars, and the rules' edges, as users write."""

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bench.reading_bench import DATA, corpus, measure
from messaging.reading import Reading, keyword_of, normalize, read_text


@pytest.fixture(scope="module")
def figures():
    return measure(corpus(DATA))


def test_the_corpus_is_the_size_the_issue_asks_for():
    texts = corpus(DATA)
    assert len(texts["danger"]) + len(texts["emergency"]) >= 200
    assert len(texts["ordinary"]) >= 200
    assert len(texts["optout"]) >= 100
    assert len(texts["not_optout"]) >= 100


def test_danger_recall_is_at_least_98_percent(figures):
    numbers, misses = figures
    assert numbers["danger_recall"] >= 0.98, misses["danger"] + misses["emergency"]


def test_false_alarms_are_at_most_5_percent(figures):
    numbers, misses = figures
    assert numbers["false_alarm_rate"] <= 0.05, misses["ordinary"]


def test_at_least_97_percent_of_opt_outs_are_honoured(figures):
    numbers, misses = figures
    assert numbers["optout_honoured"] >= 0.97, misses["optout"]


def test_nothing_else_is_read_as_an_opt_out(figures):
    numbers, misses = figures
    assert numbers["false_optouts"] == 0, misses["not_optout"]


@pytest.mark.parametrize("name", sorted(path.name for path in DATA.glob("validation*")))
def test_each_validation_set_kept_apart_meets_the_same_bars(name):
    numbers, misses = measure(corpus(DATA / name))
    assert numbers["danger_recall"] >= 0.98, misses
    assert numbers["false_alarm_rate"] <= 0.05, misses
    assert numbers["optout_honoured"] >= 0.97, misses
    assert numbers["false_optouts"] == 0, misses


@pytest.mark.parametrize(
    "text",
    [
        "hes not breathing",
        "i cant wake her up she took a bunch of pills",
        "my son OD'd",
        "she's unresponsive",
        "theres so much blood",
    ],
)
def test_medical_emergencies_are_read_as_911_first(text):
    assert read_text(text).reading == Reading.EMERGENCY


@pytest.mark.parametrize(
    ("text", "reading"),
    [
        ("my phone is about to die, call you later", Reading.TEXT),
        ("this traffic is killing me", Reading.TEXT),
        ("got home safe, thanks", Reading.TEXT),
        ("the 988 number is saved in my phone thanks", Reading.TEXT),
        ("shoot me the address", Reading.TEXT),
        ("my sister said she wants to kms", Reading.DANGER),
        ("he keeps saying wed all be better off without him", Reading.DANGER),
        ("found a note saying sorry for everything", Reading.DANGER),
        ("i think hes sucidal", Reading.DANGER),
    ],
)
def test_trap_words_and_real_danger_are_told_apart(text, reading):
    assert read_text(text).reading == reading


@pytest.mark.parametrize(
    ("text", "reading"),
    [
        ("please stop texting me", Reading.OPT_OUT),
        ("Take me off this list, thank you", Reading.OPT_OUT),
        ("unsubscibe", Reading.OPT_OUT),
        ("wrong number, stop", Reading.OPT_OUT),
        ("can you text less often", Reading.FEWER),
        ("pause these for two weeks while we travel", Reading.FEWER),
        ("the nausea finally stopped", Reading.TEXT),
        ("need to cancel thursday's appointment", Reading.TEXT),
        ("we'll stop at the pharmacy on the way", Reading.TEXT),
        ("STOP", Reading.KEYWORD),
    ],
)
def test_opt_outs_in_plain_words_and_stop_about_something_else(text, reading):
    assert read_text(text).reading == reading


def test_help_on_its_own_is_read_as_danger_and_keeps_its_keyword():
    reading = read_text("HELP")
    assert reading.danger
    assert reading.keyword == "HELP"
    assert read_text("help me please hes got a knife").danger


def test_a_danger_text_that_also_asks_to_stop_keeps_both():
    reading = read_text("stop texting me, i want to die")
    assert reading.danger
    assert reading.opt_out


def test_typos_are_read_as_the_word_meant_but_real_words_are_left_alone():
    assert normalize("she is sucidal and unresponive") == "she is suicidal and unresponsive"
    assert normalize("ending it") == "ending it"  # one letter from "sending", and a word of its own


@given(body=st.text(max_size=1600))
def test_any_text_is_read_without_error(body):
    reading = read_text(body)
    assert reading.reading in Reading
    assert keyword_of(body) == "" or keyword_of(body).isalpha()
