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
   embedding, messaging.embedding) that reads what no rule names. Spanish has its own rules
   (reading_rules_es.yaml) and its own model (scores_es: words and letter pieces, with a second
   head for emergencies now). A false alarm costs a staff member a minute; a miss could cost a life.
3. Then an opt-out in any reasonable words (the FCC's 2024 revocation rule), unless the text asks
   only for fewer or different messages, which is answered with the preferences link. A text that
   might be an opt-out but is not clearly one goes to staff. Opt-outs are read by rules only.
"""

from __future__ import annotations

import json
import re
import unicodedata
import zlib
from dataclasses import dataclass
from enum import StrEnum
from functools import cache, lru_cache
from itertools import pairwise
from pathlib import Path

import numpy as np
import yaml
from spellchecker import SpellChecker

from . import embedding

# Keywords are read with spaces, punctuation and accents removed, in capitals: "NO RIDE" is NORIDE,
# "Español!" is ESPANOL, "sin seguridad" is SINSEGURIDAD. English and Spanish words in each set.
SPANISH_KEYWORDS = frozenset(
    {"PARAR", "ALTO", "CANCELAR", "BAJA", "FIN", "INICIO", "COMENZAR", "AYUDA", "AJUSTES", "LISTO", "NOLISTO",
     "SEGURIDAD", "SEGURIDADNO", "NOSEGURIDAD", "SINSEGURIDAD", "ESPANOL"}
)  # fmt: skip
OPT_OUT = {"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "REVOKE", "OPTOUT"} | {
    "PARAR", "ALTO", "CANCELAR", "BAJA", "FIN"}  # fmt: skip
OPT_IN = {"START", "YES", "UNSTOP", "INICIO", "COMENZAR"}
HELP = {"HELP", "INFO", "AYUDA"}
PREFERENCES = {"PREFS", "PREFERENCES", "SETTINGS", "CHANGE", "AJUSTES"}
RIDE = {"RIDE", "LISTO"}
NO_RIDE = {"NORIDE", "UNRIDE", "RIDEOFF", "NORIDEYET", "NOLISTO"}
SAFETY_ON = {"SAFETY", "SAFETYON", "SEGURIDAD"}
SAFETY_OFF = {"SAFETYOFF", "NOSAFETY", "SEGURIDADNO", "NOSEGURIDAD", "SINSEGURIDAD"}
SPANISH = {"SPANISH", "ESPANOL"}  # write to me in Spanish from now on
ENGLISH = {"ENGLISH", "INGLES"}
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
    language: str = "en"  # "es" when the text reads as Spanish: answer an unknown number in it

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


def _typos(lexicon: list[str], not_typos: dict[str, list[str]], shortest: int = 6) -> dict[str, str]:
    """Every word one typo (a letter dropped, added, changed or two swapped) from a lexicon word,
    of `shortest` letters or more (six in English), mapped to that word."""
    letters = "abcdefghijklmnopqrstuvwxyz"
    found: dict[str, str] = {}
    for word in lexicon:
        splits = [(word[:i], word[i:]) for i in range(len(word) + 1)]
        edits = {a + b[1:] for a, b in splits if b}
        edits |= {a + b[1] + b[0] + b[2:] for a, b in splits if len(b) > 1}
        edits |= {a + c + b[1:] for a, b in splits if b for c in letters}
        edits |= {a + c + b for a, b in splits for c in letters}
        for edit in edits - {word} - set(not_typos.get(word, [])):
            if len(edit) >= shortest and edit not in lexicon:
                found.setdefault(edit, word)
    return found


@cache
def _dictionary() -> dict[str, int]:
    """English words (pyspellchecker's list, shipped in the package): a word in it is never
    read as a typo of another ("ending" is not "sending")."""
    return SpellChecker(language="en", distance=1).word_frequency.dictionary


# Laughing emoji are read as a laugh ("lo mato 😂" is a joke); other emoji are dropped as before.
_LAUGHS = re.compile("[\U0001f602\U0001f923\U0001f606\U0001f605\U0001f639\U0001f61c\U0001f61d]")
_DOUBLE = re.compile(r"([abd-kmnp-qs-z])\1")  # not ll, rr, cc: "lleve" is not "leve", "perrito" not "perito"


_STOP_SIGN = re.compile("\U0001f6d1")  # 🛑, read as "alto": a text of nothing else is a stop


def normalize_es(body: str) -> str:
    """The text as the Spanish rules read it: lower case, accents folded (está is esta, ñ is n),
    letters typed three or more times once, SMS spellings written out (q, xq, tmb, x, toy, msj...),
    a doubled letter that makes no word undoubled ("bajaa", "parrar"), "k" before e or i read as
    "qu" ("kiero"), and words within one typo of a word the Spanish rules care about spelt right,
    unless they are Spanish or English words themselves. English words are left as they are."""
    text = fold(_LAUGHS.sub(" jaja ", _STOP_SIGN.sub(" alto ", plain(body))).lower())
    text = _APOSTROPHES.sub("", text)
    text = _CLOCK.sub(" clocktime ", text)
    text = _REPEATS.sub(r"\1", text)
    return " ".join(w for w in (_spanish_word(word) for word in _WORDS.findall(text)) if w)


@lru_cache(maxsize=16384)
def _spanish_word(word: str) -> str:
    spelling, typos, known = rules_es().spelling, rules_es().typos, _dictionary_es()
    if word in spelling:
        return spelling[word]
    if word in known or word.isdigit():
        return word
    if "k" in word:  # kiero, kitenme, ke
        respelt = re.sub(r"k(?=[ei])", "qu", word)
        if respelt != word and (respelt in known or respelt in typos or respelt in spelling):
            return _spanish_word(respelt)
    for run in _DOUBLE.finditer(word):  # bajaa, stopp
        undoubled = word[: run.start()] + word[run.start() + 1 :]
        if undoubled in _spanish_only() or undoubled in spelling or undoubled in typos:
            return _spanish_word(undoubled)
    if word in typos:
        return typos[word]
    if len(word) > 3 and word[-1] == word[-2]:
        return _spanish_word(word[:-1])
    return word


@cache
def _spanish_only() -> frozenset[str]:
    """pyspellchecker's Spanish words, accents folded, and the Spanish rules' own words."""
    data = yaml.safe_load(RULES_ES_FILE.read_text(encoding="utf-8"))
    spanish = SpellChecker(language="es", distance=1).word_frequency.dictionary
    return frozenset({fold(word) for word in spanish} | set(data["lexicon"]) | set(data["words"]))


@cache
def _dictionary_es() -> frozenset[str]:
    """Words never read as typos of another in Spanish text: pyspellchecker's Spanish and English
    lists (accents folded), the Spanish rules' own lexicon and its list of common forms the
    dictionary lacks (conjugations, plurals: "dice", "pastillas")."""
    return _spanish_only() | frozenset(_dictionary())


def fold(text: str) -> str:
    """Accents off, ñ as n (está is esta, Español is Espanol): how Spanish is typed on many phones."""
    return "".join(ch for ch in unicodedata.normalize("NFD", text) if not unicodedata.combining(ch))


def keyword_of(body: str) -> str:
    """The single keyword a text is, if it is one: case, accents, spaces, punctuation and emoji
    ignored ("Español!" is ESPANOL, "no listo" is NOLISTO)."""
    word = fold("".join(ch for ch in plain(body) if ch.isalnum())).upper()
    return word if word.isascii() and word.isalpha() and len(word) <= 12 else ""


# How people answer "Reply YES to start": a short text of only these words, one of them a yes.
# "ok" alone is not one: it answers anything ("ok" to a tip), so it only rides along ("ok yes").
_YES_WORDS = {"yes", "y", "yep", "yeah", "yea", "ya", "yup", "sure", "si", "agree", "confirm", "confirmed",
              "absolutely", "definitely", "sip", "claro", "confirmo", "acuerdo", "dale", "orale", "simon"}  # fmt: skip
_LETTER_RUNS = re.compile(r"([a-z])\1+")
_YES_FILLER = {"ok", "okay", "k", "please", "thanks", "thank", "you", "thx", "ty", "i", "do", "sounds", "good",
               "great", "of", "course", "por", "favor", "porfa", "que", "gracias", "muchas", "de", "esta", "bien",
               "dale", "va", "sale", "desde", "luego"}  # fmt: skip


def affirmative(body: str) -> bool:
    """Is this text a plain yes ("Yes please", "yep", "ok yes", "y")? Used only to answer an open
    invitation to confirm a number; anywhere else YES is the keyword and nothing looser."""
    words = "".join(ch if ch.isalnum() else " " for ch in fold(plain(body).lower())).split()
    known = _YES_WORDS | _YES_FILLER
    # "siii claro", "yesss": a letter held down is the same word.
    words = {w if w in known else _LETTER_RUNS.sub(r"\1", w) for w in words}
    return 0 < len(words) <= 6 and words <= known and bool(words & _YES_WORDS)


# "en español por favor", "spanish please", "in english pls": asking for a language in a few words.
_LANGUAGE_FILLER = {"en", "in", "por", "favor", "porfa", "please", "pls", "plz", "quiero", "los", "mensajes",
                    "textos", "mandenme", "escribanme", "send", "me", "texts", "messages", "the", "i", "want",
                    "prefiero", "mejor", "gracias", "thanks", "can", "you", "write", "puede", "pueden",
                    "escribirme"}  # fmt: skip


def _language_asked(body: str) -> str:
    """ESPANOL or ENGLISH when a short text only asks for that language; else ''."""
    words = "".join(ch if ch.isalnum() else " " for ch in fold(plain(body).lower())).split()
    if not 1 < len(words) <= 7:
        return ""
    asked = {w for w in words if w not in _LANGUAGE_FILLER}
    if asked in ({"espanol"}, {"spanish"}):
        return "ESPANOL"
    if asked in ({"ingles"}, {"english"}):
        return "ENGLISH"
    return ""


_SAFETY_OFF_WORDS = {"stop", "off", "no", "cancel", "unsubscribe", "quit", "end", "dont", "don't", "fewer", "less",
                     "sin", "parar", "paren", "alto", "basta", "cancelar", "cancelen", "quiten", "quitar", "dejen",
                     "menos", "apaguen", "apagar"}  # fmt: skip


def safety_off(body: str) -> bool:
    """Is this a short text asking to stop the safety tips by text ("stop the safety texts",
    "SAFETY STOP", "no more safety tips", "ya no quiero los mensajes de seguridad")? Then it is
    that, not an opt-out from everything."""
    words = "".join(ch if ch.isalnum() or ch == "'" else " " for ch in fold(plain(body).lower())).split()
    return 0 < len(words) <= 8 and bool({"safety", "seguridad"} & set(words)) and bool(set(words) & _SAFETY_OFF_WORDS)


# --- The rules ----------------------------------------------------------------------------------

RULES_FILE = Path(__file__).with_name("reading_rules.yaml")
RULES_ES_FILE = Path(__file__).with_name("reading_rules_es.yaml")
MODEL_FILE = Path(__file__).with_name("reading_model.json")
MODEL_ES_FILE = Path(__file__).with_name("reading_model_es.json")
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
    stop_excused: re.Pattern[str]
    fewer: re.Pattern[str]
    fewer_request: re.Pattern[str]
    stay: re.Pattern[str]
    not_opt_out: re.Pattern[str]
    maybe_opt_out: re.Pattern[str]
    spelling: dict[str, str]
    typos: dict[str, str]


def _compile(path: Path) -> Rules:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
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
        stop_excused=one("stop_excused"),
        fewer=one("fewer"),
        fewer_request=one("fewer_request"),
        stay=one("stay"),
        not_opt_out=one("not_opt_out"),
        maybe_opt_out=one("maybe_opt_out"),
        spelling=data["spelling"],
        typos=_typos(data["lexicon"], data["not_typos"], shortest=int(data.get("typo_shortest", 6))),
    )


@cache
def rules() -> Rules:
    """The English rules (reading_rules.yaml)."""
    return _compile(RULES_FILE)


@cache
def rules_es() -> Rules:
    """The Spanish rules (reading_rules_es.yaml), read over normalize_es()'s text."""
    return _compile(RULES_ES_FILE)


def danger_rule(text: str, ruleset: Rules | None = None) -> tuple[Reading, str] | None:
    """(EMERGENCY or DANGER, the rule's name) if a normalized text signals danger, else None.
    English rules unless `ruleset` says otherwise (rules_es() over normalize_es()'s text)."""
    ruleset = ruleset or rules()
    text = ruleset.not_danger.sub(" ", text)
    for reading, named in ((Reading.EMERGENCY, ruleset.emergency), (Reading.DANGER, ruleset.danger)):
        for name, pattern in named:
            if pattern.search(text):
                return reading, name
    return None


def reading_warm() -> None:
    """Load the danger model, its encoder and the word lists now (about a second), so the first
    text a process reads is answered as fast as the rest. Web processes call it as they start."""
    read_text("Alongside is starting up, thank you")
    danger_score_es("gracias, nos vemos el martes")


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


# --- The Spanish danger model -----------------------------------------------------------------------
# all-MiniLM-L6-v2 is English-trained and reads Spanish poorly (docs/messaging.md), so Spanish has a
# model of its own: a logistic regression over the words, word pairs and 3-5 letter pieces of the
# text as the Spanish rules read it (normalize_es, idioms marked), hashed into BUCKETS_ES slots.
# Letter pieces read a typo or an unseen form of a word ("suisidar", "aventarse") by its parts.
# bench/reading_train_es.py trains it on the Spanish corpus and writes reading_model_es.json.
BUCKETS_ES = 2**18


def features_es(body: str) -> dict[int, float]:
    """The Spanish model's reading of a text: hashed slot -> weight, counts scaled to length one.
    One definition for training (bench/reading_train_es.py) and for reading."""
    # An idiom is read as a word of its own ("modismo"), which the model learns is ordinary:
    # taken out, it would leave "mi papá dice que ya" reading like the start of a danger text.
    text = rules_es().not_danger.sub(" modismo ", normalize_es(body))
    words = text.split()
    pieces = [f"w:{w}" for w in words] + [f"b:{a}_{b}" for a, b in pairwise(words)]
    for word in words:
        padded = f" {word} "
        pieces += [f"c:{padded[i : i + n]}" for n in (3, 4, 5) for i in range(len(padded) - n + 1)]
    counts: dict[int, float] = {}
    for piece in pieces:
        slot = zlib.crc32(piece.encode()) % BUCKETS_ES
        counts[slot] = counts.get(slot, 0.0) + 1.0
    norm = sum(v * v for v in counts.values()) ** 0.5
    return {slot: v / norm for slot, v in counts.items()} if norm else {}


@dataclass(frozen=True)
class SpanishModel:
    weights: np.ndarray  # BUCKETS_ES: danger or not
    intercept: float
    threshold: float  # danger at or above it (chosen by cross-validation for few false alarms)
    worry_floor: float  # "not plainly ordinary" at or above it: the auto-reply repeats 988 and 911
    now_weights: np.ndarray  # the second head: of danger texts, an emergency happening now
    now_intercept: float
    now_threshold: float  # 911 first at or above it


def _weights(data: dict, buckets: int) -> np.ndarray:
    weights = np.zeros(buckets, dtype=np.float32)
    for slot, weight in data["weights"].items():
        weights[int(slot)] = weight
    return weights


@cache
def _model_es() -> SpanishModel:
    data = json.loads(MODEL_ES_FILE.read_text(encoding="utf-8"))
    buckets, now = int(data["buckets"]), data["emergency"]
    return SpanishModel(
        _weights(data, buckets), float(data["intercept"]), float(data["threshold"]), float(data["worry_floor"]),
        _weights(now, buckets), float(now["intercept"]), float(now["threshold"]),
    )  # fmt: skip


# Fewer words than this are too little for the model to read ("y", "sí claro"): a short danger text
# names its danger outright ("me quiero morir"), and the rules read those.
MODEL_ES_FEWEST_WORDS = 3


@lru_cache(maxsize=4096)
def scores_es(body: str) -> tuple[float, float]:
    """(danger, emergency now), each 0 to 1: how much a Spanish text reads like the Spanish danger
    texts, and like the emergencies among them. (0, 0) for fewer than MODEL_ES_FEWEST_WORDS words."""
    if len(normalize_es(body).split()) < MODEL_ES_FEWEST_WORDS:
        return 0.0, 0.0
    features = features_es(body)
    if not features:
        return 0.0, 0.0
    model = _model_es()
    slots = np.fromiter(features.keys(), dtype=np.int64, count=len(features))
    values = np.fromiter(features.values(), dtype=np.float32, count=len(features))
    danger = float(values @ model.weights[slots]) + model.intercept
    now = float(values @ model.now_weights[slots]) + model.now_intercept
    return float(1 / (1 + np.exp(-danger))), float(1 / (1 + np.exp(-now)))


def danger_score_es(body: str) -> float:
    return scores_es(body)[0]


# Words a worried Spanish text may carry (stems, as normalize_es spells them). The Spanish rules and
# model together still miss about one new danger text in twenty (docs/languages.md): a Spanish
# text naming one of these, or above the model's worry floor, is answered again with 988 and 911,
# whatever the auto-reply's once-a-day window says. Answering twice costs a text; not answering
# a missed danger text could cost far more.
_SPANISH_WORRY = re.compile(
    r"\b(?:mori|muer|muri|mata|mate|vivir|despert|amanec|desaparec|suicid|pastill|arma|pistol|escopet|cuchill"
    r"|navaj|soga|cuerda|cort|sangr|quem|puente|tir|avent|despedi|perdon|carta|nota|nunca|siempre|acabar"
    r"|peligro|miedo|ayud|respir|lastim|golpe|dano|hospital|emergencia|cielo|paz|descans|sentido|carga|ultim"
    r"|regal|repart|ya no)"
)


def worrying(body: str) -> bool:
    """Not plainly ordinary: to the danger model (a score of at least the rules' weak floor); for a
    text that reads as Spanish, naming a worrying word outside an idiom (_SPANISH_WORRY) or
    scoring at least the Spanish model's worry floor."""
    if language_of(body) == "es":
        # Idioms first taken out: "me muero de risa" names no worry.
        text = rules_es().not_danger.sub(" ", normalize_es(body))
        return bool(_SPANISH_WORRY.search(text)) or danger_score_es(body) >= _model_es().worry_floor
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
_ABOUT_MESSAGES_ES = re.compile(
    r"\b(?:mensajes?|textos?|msjs?|texts?|estos|este numero|mi numero|ustedes|alertas|recordatorios|consejos"
    r"|spam|suscripcion|lista|programa|molest\w*|acoso|abogado|demanda\w*|denunciar|bloquear)\b"
)
_SENTENCES = re.compile(r"[.!?;,\n¡¿]+|\s-\s")


def _stop_excused(body: str) -> bool:
    """A laugh, a "wait", a question or talk of an appointment beside a stop word, in either language."""
    return bool(rules().stop_excused.search(normalize(body)) or rules_es().stop_excused.search(normalize_es(body)))


def opt_out_rule(body: str, text: str, ruleset: Rules | None = None) -> str:
    """The name of the opt-out rule a text matches, or ''. `text` is normalize(body) (or, with
    rules_es(), normalize_es(body))."""
    ruleset = ruleset or rules()
    normalized = normalize_es if ruleset is rules_es() else normalize
    # "Stop! jajaja qué chistoso", "Alto, espérenme, ya casi llego", "Cancelar, Mateo está enfermo y
    # no va a poder ir", "Baja, ¿la cita se puede mover?": a stop word opening a text that goes on to
    # laugh, say "wait" or talk of an appointment is an interjection, not an opt-out. Only a stop
    # word that ends such a text counts ("lol who is this. stop"); the other rules still read it.
    sentences = [sentence for sentence in _SENTENCES.split(plain(body)) if sentence.strip()]
    excused = _stop_excused(body)
    for index, sentence in enumerate(sentences):
        if excused and index < len(sentences) - 1:
            continue
        if ruleset.stop_sentence.match(normalized(sentence)):
            return "stop-sentence"
    for name, pattern in ruleset.opt_out:
        if pattern.search(text):
            return name
    return ""


# A cheap word-list test of which language a text is in: words that are plainly Spanish or plainly
# English (none that are both, like "no", "me", "a", "mi").
_SPANISH_WORDS = frozenset(
    """que q de la el los las y en por para con su sus es esta estoy se lo le les ya pero muy mas
    dice dijo porque como cuando hoy gracias hola si tambien un una del al nos tengo tiene quiero
    quiere favor porfa bien hijo hija mama papa esposo esposa hermano hermana ayuda mensajes mensaje
    textos manden dejen nada todo todos cita hace donde ella ahora ahorita otra otro mucho poco
    puede puedo vez manana tarde noche semana pastillas medicina sangre ojos dia dias eso este""".split()  # noqa: SIM905
)
_ENGLISH_WORDS = frozenset(
    """the i you he she is are to and of my it in that for not with this be have was on at please
    thanks what can his her they we our your will would just dont im its hes shes been has had
    from about today tomorrow want wants help texts text messages stop again all out up so if but
    or do did does know think going get got when where who why how an any some there here""".split()  # noqa: SIM905
)


def language_of(body: str) -> str:
    """'es' if a text has more plainly Spanish words than plainly English ones, else 'en'."""
    words = normalize_es(body).split()
    spanish = sum(word in _SPANISH_WORDS for word in words)
    english = sum(word in _ENGLISH_WORDS for word in words)
    return "es" if spanish > english else "en"


@dataclass(frozen=True)
class _OptOut:
    rule: str  # the opt-out rule a text matched in this language, "keyword" or ""
    wants_out: bool  # matched, not excused, and not asking only for fewer messages
    fewer: bool  # matched, and asking for fewer
    excused: bool


def _opt_out_in(rule: str, text: str, ruleset: Rules, stay: bool, fewer_words: bool) -> _OptOut:
    # A sentence that is only "stop" is not excused by "the nausea stopped" elsewhere in the text.
    excused = rule != "keyword" and (stay or (rule != "stop-sentence" and bool(ruleset.not_opt_out.search(text))))
    fewer = bool(rule) and rule != "keyword" and fewer_words
    return _OptOut(rule, bool(rule) and not excused and not fewer, fewer, excused)


@lru_cache(maxsize=4096)
def read_text(body: str) -> TextReading:
    """What a text is, read in English and in Spanish, whatever the sender's language. Danger is
    read first and wins in either language; an opt-out in either language counts and is kept
    alongside danger."""
    keyword = keyword_of(body)
    if keyword not in KEYWORDS:
        keyword = _language_asked(body) or keyword
    en, es = rules(), rules_es()
    text, text_es = normalize(body), normalize_es(body)
    # Wanting the messages to go on, in either language, excuses a "stop" in either.
    stay = bool(en.stay.search(text) or es.stay.search(text_es))
    # A sentence that is only "stop" is an opt-out, unless the text says outright it wants fewer.
    strict_fewer = bool(en.fewer_request.search(text) or es.fewer_request.search(text_es))
    loose_fewer = strict_fewer or bool(en.fewer.search(text) or es.fewer.search(text_es))
    outs = []
    for ruleset, normalized in ((en, text), (es, text_es)):
        rule = opt_out_rule(body, normalized, ruleset) if keyword not in OPT_OUT else "keyword"
        outs.append(
            _opt_out_in(rule, normalized, ruleset, stay, strict_fewer if rule == "stop-sentence" else loose_fewer)
        )
    out_en, out_es = outs
    wants_out = out_en.wants_out or out_es.wants_out
    opt_rule = out_en.rule if out_en.wants_out else out_es.rule if out_es.wants_out else (out_en.rule or out_es.rule)

    found = danger_rule(text)
    if found is not None and found[1] in en.weak and danger_score(body) < en.weak_floor:
        found = None  # "shoot me the address", "the 911 center": a weak word the model reads as ordinary
    found_es = danger_rule(text_es, es)
    spanish_rule = found_es is not None and (found is None or found_es[0] == Reading.EMERGENCY != found[0])
    if spanish_rule:
        found = found_es
    language = (
        "es"
        if keyword in SPANISH_KEYWORDS
        or spanish_rule
        or (found is None and (out_es.wants_out and not out_en.wants_out))
        else language_of(body)
        if keyword not in KEYWORDS
        else "en"
    )
    if found is None and keyword not in KEYWORDS and language == "en" and danger_score(body) >= _model()[2]:
        found = (Reading.DANGER, "model")
    spanish_model = language == "es" and keyword not in KEYWORDS
    if found is None and spanish_model and danger_score_es(body) >= _model_es().threshold:
        found = (Reading.DANGER, "model-es")
    if found is not None and found[1] == "model-es" and scores_es(body)[1] >= _model_es().now_threshold:
        # What no rule names but reads as happening now ("se acaba de aventar a las vías"): 911
        # first. Where a rule read danger, it has already told danger from an emergency.
        found = (Reading.EMERGENCY, "model-es-ahora")
    if found is not None:
        reading, name = found
        return TextReading(reading, keyword=keyword, rule=name, opt_out=wants_out, language=language)
    if keyword in KEYWORDS:
        return TextReading(
            Reading.KEYWORD, keyword=keyword, rule="keyword", opt_out=keyword in OPT_OUT, language=language
        )
    if wants_out:
        return TextReading(Reading.OPT_OUT, rule=opt_rule, opt_out=True, language=language)
    fewer_asked = (out_en.fewer and not out_en.excused) or (out_es.fewer and not out_es.excused)
    if fewer_asked or strict_fewer:
        return TextReading(Reading.FEWER, rule="fewer", language=language)
    excused = out_en.excused or out_es.excused
    maybe = (en.maybe_opt_out.search(text) and _ABOUT_MESSAGES.search(text)) or (
        es.maybe_opt_out.search(text_es) and _ABOUT_MESSAGES_ES.search(text_es)
    )
    if maybe and not excused:
        return TextReading(Reading.MAYBE_OPT_OUT, rule="maybe", language=language)
    return TextReading(Reading.TEXT, language=language)
