"""Rules every piece of content obeys before it can be loaded or sent.

Pure functions, no database: `load_content`, the admin and the tests all call these, and each
problem names the file, the item and the field so a writer can fix it without reading code.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import date

from django.template import Context, Engine, TemplateSyntaxError

# --- SMS length -----------------------------------------------------------------------------

# GSM 03.38 basic alphabet (one septet each) and its extension table (two septets each: ESC + char).
GSM7_BASIC = frozenset(
    "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNOPQRSTUVWXYZÄÖÑÜ§¿abcdefghijklmnopqrstuvwxyzäöñüà"
)
GSM7_EXTENDED = frozenset("^{}\\[~]|€\f")
MAX_SEGMENTS = 2


@dataclass(frozen=True)
class SmsSize:
    encoding: str  # "GSM-7" or "UCS-2"
    units: int  # septets for GSM-7, UTF-16 code units for UCS-2
    segments: int
    non_gsm: tuple[str, ...]  # the characters that forced UCS-2, in order of appearance

    @property
    def limit(self) -> int:
        """How many units fit in MAX_SEGMENTS with this encoding."""
        return MAX_SEGMENTS * (153 if self.encoding == "GSM-7" else 67)


def sms_size(text: str) -> SmsSize:
    """How an SMS is encoded and how many segments it costs, as carriers count them."""
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


def sms_problems(text: str, *, discreet: bool = True) -> list[str]:
    """What is wrong with an SMS body, in words; empty when it may be sent."""
    problems = []
    if not text.strip():
        return ["is empty"]
    size = sms_size(text)
    if size.segments > MAX_SEGMENTS:
        if size.encoding == "GSM-7":
            problems.append(
                f"is {size.units} GSM-7 characters, {size.segments} segments; "
                f"at most {MAX_SEGMENTS} segments ({size.limit} characters) are allowed"
            )
        else:
            chars = ", ".join(_describe(ch) for ch in size.non_gsm[:5])
            problems.append(
                f"contains {chars}, which GSM-7 cannot encode, so it is sent as UCS-2: "
                f"{size.units} characters is {size.segments} segments; at most {MAX_SEGMENTS} segments "
                f"({size.limit} UCS-2 characters) are allowed. Replace those characters or shorten the text"
            )
    if discreet:
        named = discreet_violations(text)
        if named:
            problems.append(
                f"names {', '.join(repr(w) for w in named)}: an SMS must not name the drug or a diagnosis "
                "(say “treatment” or “appointment”), unless the item is marked `discreet: false`"
            )
    return problems


# --- Discretion -------------------------------------------------------------------------------

# An SMS can be read over a shoulder or on a lock screen: no drug names, no diagnoses.
DISCREET_PATTERN = re.compile(
    r"\b(ketamine|esketamine|spravato|ketalar|depress\w*|antidepressant\w*|ptsd|bipolar|mdd|trd|ocd"
    r"|anxiety|schizo\w*|diagnos\w*|psychiatr\w*|mental illness)\b",
    re.IGNORECASE,
)


def discreet_violations(text: str) -> list[str]:
    return list(dict.fromkeys(m.group(0).lower() for m in DISCREET_PATTERN.finditer(text)))


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


def tip_entry_problems(entry: object, *, category: str) -> list[tuple[str, str]]:
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
    title = entry.get("title")
    if isinstance(title, str) and not 3 <= len(title.strip()) <= 120:
        problems.append(("title", "must be 3 to 120 characters"))
    discreet = entry.get("discreet", True)
    if not isinstance(discreet, bool):
        problems.append(("discreet", "must be true or false"))
        discreet = True
    sms = entry.get("sms")
    if isinstance(sms, str):
        problems += [("sms", p) for p in sms_problems(sms, discreet=discreet)]
    email = entry.get("email")
    if isinstance(email, str) and len(email.split()) < 20:
        problems.append(("email", "must be at least 20 words of Markdown"))
    tags = entry.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) and SLUG.match(t) for t in tags):
        problems.append(("tags", "must be a list of lowercase hyphenated words, like [phrases, listening]"))
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


class TemplateRenderError(ValueError):
    """A template used a variable its context did not give."""


def render_text(source: str, context: dict[str, object]) -> str:
    rendered = text_engine.from_string(source).render(Context(context, autoescape=False))
    missing = re.findall(r"\x00MISSING:(.*?)\x00", rendered)
    if missing:
        raise TemplateRenderError(f"no value for {', '.join(sorted(set(missing)))}")
    return rendered.strip()


def template_entry_problems(entry: object) -> list[tuple[str, str]]:
    """(field, message) pairs for one message template, checked by rendering its sample."""
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
            problems += [("sms", f"rendered with the sample {p}") for p in sms_problems(rendered)]
        if field == "email_subject" and ("\n" in rendered or len(rendered) > 120):
            problems.append((field, "must render to one line of at most 120 characters"))
    return problems
