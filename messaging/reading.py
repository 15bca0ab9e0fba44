"""Reading what people text us: a keyword, danger, an opt-out in plain words, or just a message.

Pure functions of the text, no database: `read_text(body)` says what a text is, and the webhook
decides what to do about it (messaging.inbound). bench/reading_bench.py measures the reading on the
labelled texts in tests/data/; docs/messaging.md has the figures, and what is and is not detected.

How a text is read:
1. `normalize`: NFKC (full-width letters, ligatures), zero-width characters dropped, lower case,
   apostrophes dropped ("don't" and "dont" read alike), letters typed three or more times once
   ("pleeease" is "please"), clock times ("9:11") set apart from 911, everything else that is not a
   letter or digit a space; then words within one typo of a word the rules care about ("suicde",
   "unresponive", "unsubscibe") are spelt right, unless they are English words themselves.
2. Danger first, whatever else the text says: a medical emergency (911 first) or a risk to
   someone's life or safety (988 and 911). Two readers, either of which is enough: the rules in
   reading_rules.yaml, which a person can read and which carve out everyday idioms ("my phone is
   dying", "shoot me the address"), and a model (a logistic regression over the text's sentence
   embedding, messaging.embedding) that reads what no rule names. A false alarm costs a staff
   member a minute; a miss could cost a life.
3. Then an opt-out in any reasonable words (the FCC's 2024 revocation rule), unless the text asks
   only for fewer or different messages, which is answered with the preferences link. A text that
   might be an opt-out but is not clearly one goes to staff. Opt-outs are read by rules only.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache
from pathlib import Path

import numpy as np
import yaml
from spellchecker import SpellChecker

from . import embedding

OPT_OUT = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"}
OPT_IN = {"START", "YES", "UNSTOP"}
HELP = {"HELP", "INFO"}
PREFERENCES = {"PREFS", "PREFERENCES", "SETTINGS", "CHANGE"}
RIDE = {"RIDE"}
# Keywords are read with spaces removed: "NO RIDE" is NORIDE, "SAFETY OFF" is SAFETYOFF.
NO_RIDE = {"NORIDE", "UNRIDE", "RIDEOFF", "NORIDEYET"}
SAFETY_ON = {"SAFETY", "SAFETYON"}
SAFETY_OFF = {"SAFETYOFF", "NOSAFETY"}
SPANISH = {"ESPANOL", "ESPAÑOL", "SPANISH"}
ENGLISH = {"ENGLISH", "INGLES", "INGLÉS"}
KEYWORDS = OPT_OUT | OPT_IN | HELP | PREFERENCES | RIDE | NO_RIDE | SAFETY_ON | SAFETY_OFF | SPANISH | ENGLISH


class Reading(StrEnum):
    KEYWORD = "keyword"
    EMERGENCY = "emergency"  # a medical emergency now: 911 first
    DANGER = "danger"  # a risk to someone's life or safety: 988 and 911
    OPT_OUT = "opt_out"  # stop all texts, in plain words
    FEWER = "fewer"  # fewer, later or different messages: the preferences link
    MAYBE_OPT_OUT = "maybe_opt_out"  # reads like it might be an opt-out: staff decide
    TEXT = "text"  # anything else


@dataclass(frozen=True)
class TextReading:
    reading: Reading
    keyword: str = ""
    rule: str = ""  # the name of the rule that matched, for the logs and the bench
    opt_out: bool = False  # a danger text may also ask to stop texts; both are acted on
    language: str = "en"  # "es" when the text reads as Spanish

    @property
    def danger(self) -> bool:
        return self.reading in (Reading.EMERGENCY, Reading.DANGER)


# --- Normalising ---------------------------------------------------------------------------------

_APOSTROPHES = re.compile(r"['\u2019\u2018\u02bc\u00b4`]")
_INVISIBLE = re.compile(r"[\u200b-\u200f\u2060\ufeff\u00ad]")
_CLOCK = re.compile(r"\b\d{1,2}[:.]\d{2}\b|\b\d{1,2}\s?(?:am|pm)\b")
_REPEATS = re.compile(r"([a-z])\1{2,}")
_WORDS = re.compile(r"[a-z0-9]+")
_WITHOUT = re.compile(r"\bw/o\b")


def plain(body: str) -> str:
    """What phones put in texts, folded: NFKC, no zero-width characters, straight apostrophes, one
    space between words."""
    text = _INVISIBLE.sub("", unicodedata.normalize("NFKC", body or ""))
    return " ".join(_APOSTROPHES.sub("'", text).split())


def normalize(body: str) -> str:
    """The text as the rules read it: lower-case words separated by single spaces."""
    text = _WITHOUT.sub(" without ", plain(body).lower())
    text = _APOSTROPHES.sub("", text)
    text = _CLOCK.sub(" clocktime ", text)
    text = _REPEATS.sub(r"\1", text)
    spelling, typos, known = rules().spelling, rules().typos, _dictionary()
    words = []
    for word in _WORDS.findall(text):
        if word in spelling:
            word = spelling[word]
        elif word in typos and word not in known:
            word = typos[word]
        elif word.endswith("in") and word not in known and word + "g" in known:
            word += "g"  # thinkin, talkin, nothin
        words.append(word)
    return " ".join(w for w in words if w)


def _typos(lexicon: list[str], not_typos: dict[str, list[str]]) -> dict[str, str]:
    """Every word one typo (a letter dropped, added, changed or two swapped) from a lexicon word,
    of six letters or more, mapped to that word."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    found: dict[str, str] = {}
    for word in lexicon:
        splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
        edits = {a + b[1:] for a, b in splits if b}
        edits |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
        edits |= {a + c + b[1:] for a, b in splits if b for c in letters}
        edits |= {a + c + b for a, b in splits for c in letters}
        for edit in edits - {word} - set(not_typos.get(word, [])):
            if len(edit) >= 6 and edit not in lexicon:
                found.setdefault(edit, word)
    return found


@cache
def _dictionary() -> dict[str, int]:
    """English words (pyspellchecker's list, shipped in the package): a word in it is never
    read as a typo of another ("ending" is not "sending")."""
    return SpellChecker(language="en", distance=1).word_frequency.dictionary


def keyword_of(body: str) -> str:
    """The single keyword a text is, if it is one: case, spaces, punctuation and emoji ignored."""
    word = "".join(ch for ch in plain(body) if ch.isalnum()).upper()
    return word if word.isalpha() and len(word) <= 12 else ""


# How people answer "Reply YES to start": a short text of only these words, one of them a yes.
# "ok" alone is not one: it answers anything ("ok" to a tip), so it only rides along ("ok yes").
_YES_WORDS = {"yes", "y", "yep", "yeah", "yea", "ya", "yup", "sure", "si", "agree", "confirm", "confirmed",
              "absolutely", "definitely"}  # fmt: skip
_YES_FILLER = {"ok", "okay", "k", "please", "thanks", "thank", "you", "thx", "ty", "i", "do", "sounds", "good",
               "great", "of", "course"}  # fmt: skip


def affirmative(body: str) -> bool:
    """Is this text a plain yes ("Yes please", "yep", "ok yes", "y")? Used only to answer an open
    invitation to confirm a number; anywhere else YES is the keyword and nothing looser."""
    words = "".join(ch if ch.isalnum() else " " for ch in plain(body).lower()).split()
    return 0 < len(words) <= 6 and set(words) <= _YES_WORDS | _YES_FILLER and bool(set(words) & _YES_WORDS)


_SAFETY_OFF_WORDS = {"stop", "off", "no", "cancel", "unsubscribe", "quit", "end", "dont", "don't", "fewer", "less"}


def safety_off(body: str) -> bool:
    """Is this a short text asking to stop the safety tips by text ("stop the safety texts",
    "SAFETY STOP", "no more safety tips")? Then it is that, not an opt-out from everything."""
    words = "".join(ch if ch.isalnum() or ch == "'" else " " for ch in plain(body).lower()).split()
    return 0 < len(words) <= 8 and "safety" in words and bool(set(words) & _SAFETY_OFF_WORDS)


# --- The rules ----------------------------------------------------------------------------------

RULES_FILE = Path(__file__).with_name("reading_rules.yaml")
MODEL_FILE = Path(__file__).with_name("reading_model.json")
_PART = re.compile(r"\{([A-Z]+)\}")


@dataclass(frozen=True)
class Rules:
    """reading_rules.yaml, compiled. Each named rule matches when any of its patterns does."""

    emergency: list[tuple[str, re.Pattern[str]]]
    danger: list[tuple[str, re.Pattern[str]]]
    weak: frozenset[str]
    weak_floor: float
    opt_out: list[tuple[str, re.Pattern[str]]]
    not_danger: re.Pattern[str]
    stop_sentence: re.Pattern[str]
    fewer: re.Pattern[str]
    fewer_request: re.Pattern[str]
    stay: re.Pattern[str]
    not_opt_out: re.Pattern[str]
    maybe_opt_out: re.Pattern[str]
    spelling: dict[str, str]
    typos: dict[str, str]


@cache
def rules() -> Rules:
    data = yaml.safe_load(RULES_FILE.read_text(encoding="utf-8"))
    parts = {name: "(?:" + "|".join(alternatives) + ")" for name, alternatives in data["parts"].items()}

    def pattern(alternatives: list[str]) -> str:
        return "|".join(_PART.sub(lambda m: parts[m.group(1)], alternative) for alternative in alternatives)

    def named(section: str) -> list[tuple[str, re.Pattern[str]]]:
        return [(rule["name"], re.compile(pattern(rule["any"]))) for rule in data[section]]

    def one(section: str) -> re.Pattern[str]:
        return re.compile("|".join(pattern(rule["any"]) for rule in data[section]))

    return Rules(
        emergency=named("emergency"),
        danger=named("danger"),
        weak=frozenset(
            rule["name"] for section in ("emergency", "danger") for rule in data[section] if rule.get("weak")
        ),
        weak_floor=float(data["weak_floor"]),
        opt_out=named("opt_out"),
        not_danger=one("not_danger"),
        stop_sentence=one("stop_sentence"),
        fewer=one("fewer"),
        fewer_request=one("fewer_request"),
        stay=one("stay"),
        not_opt_out=one("not_opt_out"),
        maybe_opt_out=one("maybe_opt_out"),
        spelling=data["spelling"],
        typos=_typos(data["lexicon"], data["not_typos"]),
    )


def danger_rule(text: str) -> tuple[Reading, str] | None:
    """(EMERGENCY or DANGER, the rule's name) if a normalized text signals danger, else None."""
    text = rules().not_danger.sub(" ", text)
    for reading, named in ((Reading.EMERGENCY, rules().emergency), (Reading.DANGER, rules().danger)):
        for name, pattern in named:
            if pattern.search(text):
                return reading, name
    return None


def reading_warm() -> None:
    """Load the danger model, its encoder and the word lists now (about a second), so the first
    text a process reads is answered as fast as the rest. Web processes call it as they start."""
    read_text("Alongside is starting up, thank you")


def signals_crisis(body: str) -> bool:
    return read_text(body).danger


@cache
def _model() -> tuple[np.ndarray, float, float]:
    """(coefficients, intercept, threshold) of the danger model (bench/reading_train.py writes it)."""
    data = json.loads(MODEL_FILE.read_text(encoding="utf-8"))
    return np.array(data["coef"], dtype=np.float32), float(data["intercept"]), float(data["threshold"])


@lru_cache(maxsize=4096)
def danger_score(body: str) -> float:
    """How much a text reads like the danger texts in the corpus, 0 to 1: a logistic regression over
    its sentence embedding. It catches what no rule names ("she's been giving her things away and
    seems at peace"); the rules catch what it would miss, and carve out the idioms."""
    text = model_text(body)
    if not text:
        return 0.0
    coef, intercept, _ = _model()
    return float(1 / (1 + np.exp(-(embedding.encoder().encode_one(text) @ coef + intercept))))


def worrying(body: str) -> bool:
    """Not plainly ordinary to the danger model (a score of at least the rules' weak floor)."""
    return danger_score(body) >= rules().weak_floor


def model_text(body: str) -> str:
    """What the model reads: the normalized text with the everyday idioms taken out, as the rules
    read it ("my mom is gonna kill me if we're late" is no sign of danger to either)."""
    text = normalize(body)
    stripped = rules().not_danger.sub(" ", text)
    # Read as written (punctuation helps the model) unless an idiom had to be taken out.
    return plain(body) if stripped == text else " ".join(stripped.split())


# "done", "stop" and "cancel" are everyday words; a text that might be an opt-out also names the texts.
_ABOUT_MESSAGES = re.compile(
    r"\b(?:texts?|texting|messages?|msgs?|these|this number|my number|you guys|yall|you all|alerts?|reminders|tips"
    r"|spam|subscription|list|program|annoying|harass\w*|fcc|lawyer|sue|report you|block)\b"
)
_SENTENCES = re.compile(r"[.!?;,\n]+|\s-\s")


def opt_out_rule(body: str, text: str) -> str:
    """The name of the opt-out rule a text matches, or ''. `text` is normalize(body)."""
    for sentence in _SENTENCES.split(plain(body)):
        if rules().stop_sentence.match(normalize(sentence)):
            return "stop-sentence"
    for name, pattern in rules().opt_out:
        if pattern.search(text):
            return name
    return ""


@lru_cache(maxsize=4096)
def read_text(body: str) -> TextReading:
    """What a text is. Danger is read first and wins; an opt-out alongside it is kept."""
    keyword = keyword_of(body)
    text = normalize(body)
    rule = opt_out_rule(body, text) if keyword not in OPT_OUT else "keyword"
    # A sentence that is only "stop" is not excused by "the nausea stopped" elsewhere in the text.
    excused = rule != "keyword" and (
        bool(rules().stay.search(text)) or (rule != "stop-sentence" and bool(rules().not_opt_out.search(text)))
    )
    # A sentence that is only "stop" is an opt-out, unless the text says outright it wants fewer.
    loose = rules().fewer_request if rule == "stop-sentence" else rules().fewer
    fewer = bool(rule) and rule != "keyword" and bool(loose.search(text))
    wants_out = bool(rule) and not excused and not fewer
    found = danger_rule(text)
    if found is not None and found[1] in rules().weak and danger_score(body) < rules().weak_floor:
        found = None  # "shoot me the address", "the 911 center": a weak word the model reads as ordinary
    if found is None and keyword not in KEYWORDS and danger_score(body) >= _model()[2]:
        found = (Reading.DANGER, "model")
    if found is not None:
        reading, name = found
        return TextReading(reading, keyword=keyword, rule=name, opt_out=wants_out)
    if keyword in KEYWORDS:
        return TextReading(Reading.KEYWORD, keyword=keyword, rule="keyword", opt_out=keyword in OPT_OUT)
    if wants_out:
        return TextReading(Reading.OPT_OUT, rule=rule, opt_out=True)
    if (fewer and not excused) or rules().fewer_request.search(text):
        return TextReading(Reading.FEWER, rule="fewer")
    if rules().maybe_opt_out.search(text) and _ABOUT_MESSAGES.search(text) and not excused:
        return TextReading(Reading.MAYBE_OPT_OUT, rule="maybe")
    return TextReading(Reading.TEXT)
