"""Rules every piece of content obeys before it can be loaded or sent.

Pure functions, no database: `load_content`, the admin and the tests all call these, and each
problem names the file, the item and the field so a writer can fix it without reading code.
"""

from __future__ import annotations

import html
import math
import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date
from typing import NamedTuple

from anyascii import anyascii
from django.template import Context, Engine, TemplateSyntaxError

# --- SMS length -----------------------------------------------------------------------------

# GSM 03.38 basic alphabet (one septet each) and its extension table (two septets each: ESC + char).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
MAX_SEGMENTS = 2
# The longest a person's name runs in a text (messaging.rendering.sms_person shortens a longer one).
# Every template's length is checked with names this long, so no name makes a text a segment longer.
SMS_NAME_MAX = 20
SMS_NAME_VARIABLES = ("caregiver", "loved_one")

# Accents in texts (content/library/README.md, "Spanish"). GSM-7 has é, ñ, ü, ¿ and ¡ but not á, í,
# ó or ú: one of those would make a carrier send the whole text as UCS-2, 67 characters a segment
# instead of 153. Every text is sent folded (`sms_fold`): a letter GSM-7 lacks loses its accent
# (está → esta), typographic punctuation becomes plain, and everything GSM-7 has is kept as
# written. Emails and pages keep every accent. Emoji have no GSM-7 spelling and are kept.
_PUNCTUATION = str.maketrans({
    "\u2018": "'", "\u2019": "'", "\u201a": "'", "\u02bc": "'", "\u00b4": "'", "\u201c": '"', "\u201d": '"',
    "\u201e": '"', "\u00ab": '"', "\u00bb": '"', "\u2013": "-", "\u2014": "-", "\u2212": "-", "\u00a0": " ",
    "\u2009": " ", "\u202f": " ", "\u2026": "...", "\u2022": "-", "\u00b7": "-",
})  # fmt: skip


def _fold_char(ch: str) -> str:
    if ch in GSM7_BASIC or ch in GSM7_EXTENDED:
        return ch
    base = unicodedata.normalize("NFD", ch)[0]
    if base != ch and (base in GSM7_BASIC or base in GSM7_EXTENDED):
        return base  # á → a, ç → c, ê → e
    return ch


def sms_fold(text: str) -> str:
    """`text` as it is sent by SMS: GSM-7 wherever a letter or mark has a GSM-7 spelling."""
    if all(ch in GSM7_BASIC or ch in GSM7_EXTENDED for ch in text):
        return text
    return "".join(_fold_char(ch) for ch in unicodedata.normalize("NFC", text.translate(_PUNCTUATION)))


@dataclass(frozen=True)
class SmsWords:
    """What a tip by text says around its own words, in one language, and how long it may be."""

    prefix: str  # the tip rotation sends prefix + sms (messaging.rendering)
    feedback: str  # …and ends with this question (messaging.feedback reads the 1 or 2 that answers it)
    check_in: str  # the next-morning check-in (template `reminder-next-morning`) sends check_in + sms
    max_segments: int  # Spanish runs about a fifth longer than English: three segments, not two


SMS_WORDS = {
    "en": SmsWords(
        prefix="Alongside: ",
        feedback="\nReply 1 if this helped, 2 if not.",
        check_in="Alongside: A gentle check-in idea: ",
        max_segments=2,
    ),
    # "sirve", not "ayudó": folded to GSM-7, "ayudo" would read "I help".
    "es": SmsWords(
        prefix="Alongside: ",
        feedback="\nResponda 1 si le sirve, 2 si no.",
        check_in="Alongside: Una idea para hoy: ",
        max_segments=3,
    ),
}
# The English words, by their old names. A tip is measured as sent, with each prefix it can go out with.
TIP_SMS_PREFIX = SMS_WORDS["en"].prefix
TIP_SMS_FEEDBACK = SMS_WORDS["en"].feedback
CHECK_IN_SMS_PREFIX = SMS_WORDS["en"].check_in
CHECK_IN_TAG = "check-in"


def sms_words(language: str) -> SmsWords:
    return SMS_WORDS.get(language, SMS_WORDS["en"])


@dataclass(frozen=True)
class SmsSize:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int
    non_gsm: tuple[str, ...]  # the characters that forced UCS-2, in order of appearance

    def limit(self, segments: int = MAX_SEGMENTS) -> int:
        """How many units fit in `segments` with this encoding."""
        return segments * (153 if self.encoding == "GSM-7" else 67)


def sms_size(text: str) -> SmsSize:
    """How an SMS is encoded and how many segments it costs, as carriers count them, once folded
    (`sms_fold`) as every text is before it is sent."""
    text = sms_fold(text)
    non_gsm = tuple(dict.fromkeys(ch for ch in text if ch not in GSM7_BASIC and ch not in GSM7_EXTENDED))
    if not non_gsm:
        units = sum(2 if ch in GSM7_EXTENDED else 1 for ch in text)
        single, multi, encoding = 160, 153, "GSM-7"
    else:
        units = len(text.encode("utf-16-le")) // 2  # an emoji is two UTF-16 units
        single, multi, encoding = 70, 67, "UCS-2"
    segments = 0 if units == 0 else 1 if units <= single else math.ceil(units / multi)
    return SmsSize(encoding=encoding, units=units, segments=segments, non_gsm=non_gsm)


def _describe(ch: str) -> str:
    return f"“{ch}” (U+{ord(ch):04X})" if ch.isprintable() else f"U+{ord(ch):04X}"


def sms_size_problem(text: str, *, max_segments: int = MAX_SEGMENTS) -> str | None:
    """Why `text` does not fit in `max_segments`, in words; None when it fits."""
    size = sms_size(text)
    if size.segments <= max_segments:
        return None
    if size.encoding == "GSM-7":
        return (
            f"is {size.units} GSM-7 characters, {size.segments} segments; "
            f"at most {max_segments} segments ({size.limit(max_segments)} characters) are allowed"
        )
    chars = ", ".join(_describe(ch) for ch in size.non_gsm[:5])
    return (
        f"contains {chars}, which GSM-7 cannot encode, so it is sent as UCS-2: "
        f"{size.units} characters is {size.segments} segments; at most {max_segments} segments "
        f"({size.limit(max_segments)} UCS-2 characters) are allowed. Replace those characters or shorten the text"
    )


def _discretion_problem(named: list[str], *, what: str = "an SMS") -> str:
    return (
        f"names {', '.join(repr(w) for w in named)}: {what} must not name the drug or a diagnosis, "
        "or anything else on the discretion list in content/library/README.md "
        "(say “treatment” or “appointment”)"
    )


def sms_problems(
    text: str, *, discreet: bool = True, allowed: Iterable[str] = (), max_segments: int = MAX_SEGMENTS
) -> list[str]:
    """What is wrong with an SMS body, in words; empty when it may be sent.

    `discreet=False` skips the discretion list; `allowed` (keys of DISCRETION_WORDS) lets those
    entries of it through and checks the rest.
    """
    if not text.strip():
        return ["is empty"]
    problems = []
    too_long = sms_size_problem(text, max_segments=max_segments)
    if too_long:
        problems.append(too_long)
    if discreet:
        named = discreet_violations(text, allowed=allowed)
        if named:
            problems.append(_discretion_problem(named))
    return problems


# --- Discretion -------------------------------------------------------------------------------


class DiscretionWord(NamedTuple):
    key: str  # stable and lowercase: what `allowed` names
    pattern: str  # a regex fragment, matched case-insensitively, as whole words only
    description: str  # what it catches, for people


# An SMS or an email subject can be read over a shoulder or on a lock screen: none of these words
# may appear in one unless its reader chose to allow them. The word boundaries are added around
# every fragment; each fragment covers its plurals and inflections. The same list is a table in
# content/library/README.md: keep the two in step. Where one entry's words begin another's, the
# longer comes first (antidepressant before depression).
DISCRETION_LIST: tuple[DiscretionWord, ...] = (
    # The drug by name: the most direct giveaway of what the treatment is.
    DiscretionWord(
        "ketamine",
        r"ketamines?|ketaminas?|k[\s-]?holes?|ket|kap",
        "ketamine (Spanish ketamina), K-hole, KET, KAP (ketamine-assisted psychotherapy)",
    ),
    # The nasal-spray form of the drug, by its generic name.
    DiscretionWord("esketamine", r"esketamines?", "esketamine"),
    # Brand name of esketamine nasal spray: as telling as the drug's name.
    DiscretionWord("spravato", r"spravatos?", "Spravato (brand name)"),
    # Brand name of ketamine.
    DiscretionWord("ketalar", r"ketalars?", "Ketalar (brand name)"),
    # Street name of ketamine: reads as drug use to anyone who knows it (the cereal pays the price).
    DiscretionWord("special-k", r"special[\s-]*k", "Special K (street name of ketamine)"),
    # The kind of medicine says what it treats; listed before depression so that
    # "anti-depressant" is one finding.
    DiscretionWord("antidepressant", r"anti[\s-]?depressants?", "antidepressant(s), anti-depressant(s)"),
    # The commonest antidepressants and mood stabilisers by name: a prescription read over a shoulder.
    DiscretionWord(
        "psychiatric-medicine",
        r"sertralines?|zoloft|prozac|fluoxetines?|lexapro|(?:es)?citaloprams?|celexa|wellbutrin|bupropions?"
        r"|effexor|venlafaxines?|cymbalta|duloxetines?|paxil|paroxetines?|trintellix|vortioxetines?"
        r"|remeron|mirtazapines?|trazodones?|lithium",
        "antidepressants and lithium by name (sertraline, Zoloft, Prozac, Lexapro, Wellbutrin, lithium…)",
    ),
    # Classes of antidepressant, by the abbreviations people know them by.
    DiscretionWord("ssri", r"ssris?", "SSRI(s)"),
    DiscretionWord("snri", r"snris?", "SNRI(s)"),
    # The condition itself: every depress- word (depression, depressed, depressive, depressing).
    DiscretionWord(
        "depression",
        r"depress\w*|depresi\w*|deprimid\w*|depre",
        "depress... (depression, depressed, depressive; Spanish depresión, deprimido, la depre)",
    ),
    # Diagnoses by name or abbreviation: each tells a reader what their loved one has.
    DiscretionWord("mdd", r"mdd", "MDD (major depressive disorder)"),
    DiscretionWord("trd", r"trd|treatment[\s-]+resistant", "TRD, treatment-resistant (depression)"),
    DiscretionWord("ptsd", r"ptsd", "PTSD"),
    DiscretionWord("bipolar", r"bipolar", "bipolar"),
    DiscretionWord("ocd", r"ocd", "OCD"),
    DiscretionWord("schizophrenia", r"schizo\w*", "schizo... (schizophrenia, schizoaffective)"),
    DiscretionWord("psychosis", r"psychos[ie]s|psychotic\w*", "psychosis, psychoses, psychotic"),
    # Only the diagnosis: "anxiety" and "anxious" alone are everyday words (a caregiver's own
    # nerves before a first session) and stay allowed.
    DiscretionWord("anxiety-disorder", r"anxiety[\s-]+disorders?", "anxiety disorder(s)"),
    # That there is a diagnosis at all; kept from the first list.
    DiscretionWord("diagnosis", r"diagnos\w*", "diagnos... (diagnosis, diagnosed)"),
    # The most sensitive words of all: only in warning-signs tips, for readers who asked.
    DiscretionWord("suicide", r"suicid\w*", "suicid... (suicide, suicidal)"),
    DiscretionWord("self-harm", r"self[\s-]*(?:harm|injur)\w*", "self-harm, self harm, self-injury"),
    DiscretionWord("overdose", r"overdos\w*", "overdose(s), overdosed, overdosing"),
    # How the drug is given: an infusion or an IV, mentioned with "the evening after", reads as
    # this treatment to many.
    DiscretionWord("infusion", r"infusions?", "infusion(s)"),
    # "IV" as a word of its own (an IV, IVs, I.V.), never the letters inside "give" or "drive".
    DiscretionWord("iv", r"i\.v\.?|ivs?", "IV, IVs, I.V."),
    DiscretionWord("intravenous", r"intravenous\w*", "intravenous, intravenously"),
    # The other way the drug is given.
    DiscretionWord("nasal-spray", r"nasal[\s-]+sprays?", "nasal spray(s)"),
    # What the drug does in the chair.
    DiscretionWord("sedation", r"sedat\w*", "sedat... (sedation, sedated, sedative)"),
    # The drug's best-known effect.
    DiscretionWord("dissociation", r"dissociat\w*", "dissociat... (dissociation, dissociative)"),
    # Other treatments for the same condition, as telling as the drug.
    DiscretionWord(
        "brain-stimulation",
        r"ect|electro[\s-]?convulsive\w*|electro[\s-]?shock\w*|tms|transcranial\w*",
        "ECT, electroconvulsive, electroshock, TMS, transcranial",
    ),
    DiscretionWord("psychedelic", r"psychedelics?", "psychedelic(s)"),
    # The specialty says what the care is for.
    DiscretionWord("psychiatry", r"psychiatr\w*", "psychiatr... (psychiatry, psychiatrist, psychiatric)"),
    # The general names for it, as phrases ("mental" or "health" alone are everyday words).
    DiscretionWord("mental-health", r"mental[\s-]+health", "mental health"),
    DiscretionWord(
        "mental-illness", r"mental[\s-]+illness(?:es)?|mentally[\s-]+ill", "mental illness(es), mentally ill"
    ),
    DiscretionWord("mental-disorder", r"mental[\s-]+disorders?", "mental disorder(s)"),
)
# Deliberately not listed: "injection" (vaccines, insulin, allergy shots: it says nothing about
# what a treatment is for, and "ketamine injection" is caught by its first word); "anxiety" and
# "anxious" (above); "session", "treatment", "appointment", "clinic" (what tips say instead).

DISCRETION_WORDS: dict[str, str] = {word.key: word.description for word in DISCRETION_LIST}

# What a caregiver who asked for safety information by SMS has agreed to read: a warning-signs tip
# marked `discreet: false` may name these in its SMS, and nothing else on the list.
SAFETY_KEYS = frozenset({"suicide", "self-harm", "overdose"})

_GROUP_KEYS = {f"w{index}": word.key for index, word in enumerate(DISCRETION_LIST)}
DISCRETION_PATTERN = re.compile(
    r"(?<!\w)(?:"
    + "|".join(f"(?P<w{index}>{word.pattern})" for index, word in enumerate(DISCRETION_LIST))
    + r")(?!\w)",
    re.IGNORECASE,
)


def _known_keys(keys: Iterable[str]) -> frozenset[str]:
    keys = frozenset([keys] if isinstance(keys, str) else keys)
    unknown = keys - DISCRETION_WORDS.keys()
    if unknown:
        raise ValueError(f"{', '.join(sorted(unknown))}: not a discretion list key (use {', '.join(DISCRETION_WORDS)})")
    return keys


# Spellings a keystroke away from a listed word, which read the same to a person: "Keta-mine",
# "KETAMlNE" (a lower-case L), "Sui-cide", "I-V", "Ketamina". Each word is also read with its
# punctuation taken out and look-alike characters read as the letters they stand for, and matched
# against these stems (a stem inside the word) and short forms (the whole word). Not "sedat",
# which is also a given name (Sedat); the list above still catches "sedated" as written.
EVASION_STEMS = {
    "ketamin": "ketamine", "esketamin": "esketamine", "spravato": "spravato", "ketalar": "ketalar",
    "antidepress": "antidepressant", "depress": "depression", "schizo": "schizophrenia", "psychos": "psychosis",
    "psychot": "psychosis", "psychiat": "psychiatry", "suicid": "suicide", "selfharm": "self-harm",
    "selfinjur": "self-harm", "overdos": "overdose", "infusion": "infusion", "intraven": "intravenous",
    "dissociat": "dissociation", "bipolar": "bipolar", "mentalhealth": "mental-health", "mentalill": "mental-illness",
    # The typos a hurried person makes ("depresion", "ketamne", "spravado", "suicde"): still read.
    "depres": "depression", "deprs": "depression", "deprim": "depression", "ketam": "ketamine",
    "ktamin": "ketamine", "sprava": "spravato", "suic": "suicide", "zoloft": "psychiatric-medicine",
    "prozac": "psychiatric-medicine", "sertral": "psychiatric-medicine", "lexapro": "psychiatric-medicine",
}  # fmt: skip
EVASION_WORDS = {
    "iv": "iv", "ivs": "iv", "mdd": "mdd", "trd": "trd", "ptsd": "ptsd", "ocd": "ocd", "ssri": "ssri", "ssris": "ssri",
    "snri": "snri", "snris": "snri", "psych": "psychiatry", "specialk": "special-k",
}  # fmt: skip
_LOOK_ALIKES = str.maketrans({"l": "i", "1": "i", "|": "i", "!": "i", "0": "o", "3": "e", "4": "a", "@": "a",
                              "5": "s", "$": "s", "7": "t"})  # fmt: skip
_NOT_LETTERS = re.compile(r"[^a-z]+")


def _squashed(word: str) -> set[str]:
    """A word without its punctuation, as written and with look-alikes read as letters."""
    plain = anyascii(word).lower()
    return {_NOT_LETTERS.sub("", plain), _NOT_LETTERS.sub("", plain.translate(_LOOK_ALIKES))} - {""}


_MARKUP = re.compile(r"<[^>]{0,200}>")


def _spelled_out(words: list[str]) -> list[str]:
    """Runs of three or more one-letter words joined ("k e t a m i n e" is "ketamine")."""
    joined, run = [], []
    for word in [*words, ""]:
        if len(word) == 1:
            run.append(word)
            continue
        if len(run) >= 3:
            joined.append("".join(run))
        run = []
    return joined


def _evasions(text: str) -> list[tuple[str, str]]:
    found = []
    # Markup a mail program or page would not show ("<b>ket</b>amine"), and letters spelled out.
    words = _MARKUP.sub("", text).split()
    words += _spelled_out(words)
    # Each word, and each pair of neighbours ("self harm", "Keta mine").
    for index, word in enumerate(words):
        candidates = [word, *([word + words[index + 1]] if index + 1 < len(words) else [])]
        for candidate in candidates:
            for squashed in _squashed(candidate):
                key = EVASION_WORDS.get(squashed) if candidate is word else None
                key = key or next((k for stem, k in EVASION_STEMS.items() if stem in squashed), None)
                if key:
                    found.append((key, candidate.lower()))
                    break
    return found


def _findings(text: str) -> list[tuple[str, str]]:
    """(key, the word as written, lowercased) for each listed word in `text`, in order.

    Read as written, as plain Latin letters ("kеtamine" with a Cyrillic е, "ＭＤＤ" in full-width
    letters, "Kétamine"), and word by word without punctuation or look-alikes (`_evasions`): all
    read the same on a lock screen (and an SMS spells them in GSM-7 anyway)."""
    if "&" in text:
        # "&#107;etamine" is "ketamine" wherever the text is read as HTML (an email): read it so.
        text = f"{text}\n{html.unescape(text)}"
    found = [(_GROUP_KEYS[m.lastgroup], m.group(0).lower()) for m in DISCRETION_PATTERN.finditer(text)]
    if not text.isascii():
        found += [(_GROUP_KEYS[m.lastgroup], m.group(0).lower()) for m in DISCRETION_PATTERN.finditer(anyascii(text))]
    if not found:
        found = _evasions(text)
    return found


def discreet_violations(text: str, *, allowed: Iterable[str] = ()) -> list[str]:
    """The listed words `text` uses, lowercased, each once, except those of the `allowed` keys.

    Raises ValueError for a key that is not on the list, so a typo cannot allow nothing quietly.
    """
    allowed = _known_keys(allowed)
    return list(dict.fromkeys(word for key, word in _findings(text) if key not in allowed))


def discretion_key_of(word: str) -> str | None:
    """The key of the entry that catches `word` ("Suicidal" -> "suicide"); None when none does."""
    match = DISCRETION_PATTERN.fullmatch(word.strip())
    return _GROUP_KEYS[match.lastgroup] if match else None


def discretion_keys(text: str) -> frozenset[str]:
    """The keys of the entries `text` uses: what its reader must have allowed for it to be sent."""
    return frozenset(key for key, _ in _findings(text))


# --- Data-file entries ------------------------------------------------------------------------


@dataclass(frozen=True)
class ContentError:
    path: str
    item: str  # "tip 3 (say-hello)" or "file"
    field: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: {self.item}: field “{self.field}” {self.message}"


SLUG = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
TIP_FIELDS = {"slug", "title", "sms", "email", "tags", "source", "reviewed_at", "discreet"}
TIP_REQUIRED = TIP_FIELDS - {"discreet", "tags"}
CRISIS_CATEGORY = "warning-signs"
CRISIS_LINE = "988"
COURSE_CATEGORY = "course"
# The course of treatment, for the planner: a course tip carries at most one of these; one without
# any may go out in any phase.
PHASE_TAGS = ("first-series", "after-series", "maintenance")
SOURCE_MAX = 200  # Tip.source

# A source is a public citation ("NIMH: Depression", "Alongside editorial, from clinic guidance"):
# the API shows it to clinics and patients. A file name ("000_ab12.txt § Section") is ours alone.
SOURCE_FILE_NAME = re.compile(r"\w\.(?:txt|md|markdown|ya?ml)\b|\w\.[a-z0-9]{1,5}\s*§", re.IGNORECASE)

# A tip never asks the reader to text us: a RIDE reply marks the next appointment's ride, so the
# prompt belongs to the ride reminders (templates), which know which appointment they are about.
# Keywords are matched as written, in capitals; phrases in any case.
TEXT_US = re.compile(
    r"\b(?:RIDE|PREFS)\b"
    r"|(?i:\breply\s+(?:with\s+)?[\"“]?(?:ride|yes|stop|start|help|prefs)\b"
    r"|\b(?:reply|respond|answer)\s+(?:to\s+)?(?:our|this|the|an?)\s+(?:text|sms|message)"
    r"|\btext\s+us\b|\blet\s+us\s+know\b)"
)


def source_problems(source: str) -> list[str]:
    """What is wrong with a tip's `source`, in words; empty when it is a citation the API may show."""
    problems = []
    if not source.strip():
        return ["is empty: cite a public source, or write “Alongside editorial, from clinic guidance”"]
    if SOURCE_FILE_NAME.search(source):
        problems.append(
            f"“{source}” looks like a file name: cite a public source instead (like “NIMH: Depression” "
            "or “988 Suicide & Crisis Lifeline, 988lifeline.org”), or write “Alongside editorial, from "
            "clinic guidance”. The API shows this text to clinics and patients"
        )
    if "\n" in source.strip() or len(source) > SOURCE_MAX:
        problems.append(f"must be one line of at most {SOURCE_MAX} characters")
    return problems


def tip_sms_problems(
    sms: str, *, tags: Iterable[str] = (), allowed: Iterable[str] = (), language: str = "en"
) -> list[str]:
    """What is wrong with a tip's SMS, measured as sent (folded to GSM-7): between the language's
    prefix and its feedback question, and after its check-in words too when it is tagged
    `check-in` (SMS_WORDS). `allowed` as in discreet_violations."""
    text = " ".join(sms.split())  # as the loader stores it
    if not text:
        return ["is empty"]
    problems = []
    words = sms_words(language)
    sent_as = [("as a tip", words.prefix, words.feedback)]
    if CHECK_IN_TAG in tags:
        sent_as.append(("as a next-morning check-in (tag `check-in`)", words.check_in, ""))
    for how, prefix, suffix in sent_as:
        too_long = sms_size_problem(prefix + text + suffix, max_segments=words.max_segments)
        if too_long:
            room = words.max_segments * 153 - len(prefix) - len(suffix)
            after = f" and the question “{suffix.strip()}” after it" if suffix else ""
            problems.append(
                f"sent {how} with the prefix “{prefix}”{after} {too_long}; keep the SMS to {room} plain characters"
            )
    named = discreet_violations(text, allowed=allowed)
    if named:
        problems.append(_discretion_problem(named))
    return problems


def tip_entry_problems(entry: object, *, category: str, language: str = "en") -> list[tuple[str, str]]:
    """(field, message) pairs for one tip as written in a library file."""
    if not isinstance(entry, dict):
        return [("tip", "must be a mapping of fields (slug, title, sms, ...)")]
    problems: list[tuple[str, str]] = []
    for field in sorted(TIP_REQUIRED - entry.keys()):
        problems.append((field, "is required"))
    for field in sorted(entry.keys() - TIP_FIELDS):
        problems.append((field, f"is not a tip field (use {', '.join(sorted(TIP_FIELDS))})"))
    for field in ("slug", "title", "sms", "email", "source"):
        if field in entry and not isinstance(entry[field], str):
            problems.append((field, "must be text"))
    slug = entry.get("slug")
    if isinstance(slug, str) and not SLUG.match(slug):
        problems.append(("slug", f"“{slug}” must be lowercase words joined by hyphens, like say-how-are-you"))
    tags = entry.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and SLUG.match(t) for t in tags):
        problems.append(("tags", "must be a list of lowercase hyphenated words, like [phrases, listening]"))
        tags = []
    discreet = entry.get("discreet", True)
    if not isinstance(discreet, bool):
        problems.append(("discreet", "must be true or false"))
        discreet = True
    if not discreet and category != CRISIS_CATEGORY:
        problems.append(
            ("discreet", f"may be false only in {CRISIS_CATEGORY} tips (they go by SMS only to people who asked)")
        )
        discreet = True
    # A warning-signs tip marked `discreet: false` may name the safety words, and only those.
    allowed = () if discreet else SAFETY_KEYS
    title = entry.get("title")
    if isinstance(title, str):
        if not 3 <= len(title.strip()) <= 120:
            problems.append(("title", "must be 3 to 120 characters"))
        # The title is the email subject, on the lock screen of everyone the tip is emailed to.
        named = discreet_violations(title)
        if named:
            what = "a title (the email subject, shown on lock screens)"
            problems.append(("title", _discretion_problem(named, what=what)))
    sms = entry.get("sms")
    if isinstance(sms, str):
        problems += [("sms", p) for p in tip_sms_problems(sms, tags=tags, allowed=allowed, language=language)]
        if not discreet and not discretion_keys(sms):
            problems.append(("discreet", "is false but the SMS names nothing on the discretion list: remove it"))
    email = entry.get("email")
    if isinstance(email, str) and len(email.split()) < 20:
        problems.append(("email", "must be at least 20 words of Markdown"))
    for field in ("sms", "email"):
        text = entry.get(field)
        if isinstance(text, str) and (found := TEXT_US.search(text)):
            problems.append(
                (
                    field,
                    f"asks the reader to text us (“{found.group(0)}”): a tip goes out on any day, so reply "
                    "prompts such as RIDE belong in the ride reminders (messages.yaml) only",
                )
            )
    source = entry.get("source")
    if isinstance(source, str):
        problems += [("source", p) for p in source_problems(source)]
    if category == COURSE_CATEGORY:
        phases = [t for t in tags if t in PHASE_TAGS]
        if len(phases) > 1:
            problems.append(("tags", f"has {len(phases)} phase tags ({', '.join(phases)}): give at most one"))
    if category == CRISIS_CATEGORY and CHECK_IN_TAG in tags:
        problems.append(("tags", f"{CRISIS_CATEGORY} tips never go in the next-morning check-in: remove `check-in`"))
    reviewed = entry.get("reviewed_at")
    if "reviewed_at" in entry and not isinstance(reviewed, date):
        problems.append(("reviewed_at", "must be a date like 2026-11-22"))
    if category == CRISIS_CATEGORY:
        for field in ("sms", "email"):
            if isinstance(entry.get(field), str) and CRISIS_LINE not in entry[field]:
                problems.append((field, "must give the crisis line: “call or text 988”"))
    return problems


# --- Message templates ------------------------------------------------------------------------

TEMPLATE_FIELDS = {"key", "description", "sms", "email_subject", "email_body", "sample"}
MISSING = "\x00MISSING:%s\x00"
text_engine = Engine(autoescape=False, string_if_invalid=MISSING)

# What every variable reads as when a template's own words are checked: the values come from
# clinics and caregivers, and are checked as sent (messaging), not here.
_NEUTRAL_VALUE = "Name"


class TemplateRenderError(ValueError):
    """A template used a variable its context did not give."""


def render_text(source: str, context: dict[str, object]) -> str:
    rendered = text_engine.from_string(source).render(Context(context, autoescape=False))
    missing = re.findall(r"\x00MISSING:(.*?)\x00", rendered)
    if missing:
        raise TemplateRenderError(f"no value for {', '.join(sorted(set(missing)))}")
    return rendered.strip()


def template_entry_problems(entry: object, *, language: str = "en") -> list[tuple[str, str]]:
    """(field, message) pairs for one message template, checked by rendering its sample.

    Length is checked on the sample (a worst case); discretion on the template's own words, with
    every variable neutral: a clinic's name in the sample is not the template's doing.
    """
    if not isinstance(entry, dict):
        return [("message", "must be a mapping of fields (key, sms, ...)")]
    problems: list[tuple[str, str]] = []
    for field in sorted({"key", "sms"} - entry.keys()):
        problems.append((field, "is required"))
    for field in sorted(entry.keys() - TEMPLATE_FIELDS):
        problems.append((field, f"is not a template field (use {', '.join(sorted(TEMPLATE_FIELDS))})"))
    key = entry.get("key")
    if isinstance(key, str) and not SLUG.match(key):
        problems.append(("key", f"“{key}” must be lowercase words joined by hyphens"))
    if bool(entry.get("email_subject")) != bool(entry.get("email_body")):
        problems.append(("email_subject", "and email_body go together: give both or neither"))
    sample = entry.get("sample", {})
    if not isinstance(sample, dict):
        return [*problems, ("sample", "must be a mapping of variable names to example values")]
    neutral = {name: _NEUTRAL_VALUE for name in sample}
    for field in ("sms", "email_subject", "email_body"):
        source = entry.get(field)
        if not source:
            continue
        if not isinstance(source, str):
            problems.append((field, "must be text"))
            continue
        try:
            rendered = render_text(source, sample)
        except TemplateSyntaxError as exc:
            problems.append((field, f"is not a valid Django template: {exc}"))
            continue
        except TemplateRenderError as exc:
            problems.append((field, f"uses a variable the sample does not give: {exc}"))
            continue
        if field == "sms":
            segments = sms_words(language).max_segments
            longest = {name: "M" * SMS_NAME_MAX for name in SMS_NAME_VARIABLES if name in sample}
            problems += [
                ("sms", f"rendered with the sample and {SMS_NAME_MAX}-character names {p}")
                for p in sms_problems(render_text(source, {**sample, **longest}), discreet=False, max_segments=segments)
            ]
        if field == "email_subject" and ("\n" in rendered or len(rendered) > 120):
            problems.append((field, "must render to one line of at most 120 characters"))
        if field in ("sms", "email_subject"):  # what a lock screen shows
            try:
                own_words = render_text(source, neutral)
            except TemplateRenderError:  # a variable with parts ({{ a.b }}): check the sample text
                own_words = rendered
            named = discreet_violations(own_words)
            if named:
                what = "an SMS" if field == "sms" else "an email subject (it shows on lock screens)"
                problems.append((field, _discretion_problem(named, what=what)))
    return problems
