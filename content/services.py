"""Writes to content/: loading the reviewed library files, admin edits, rendering messages."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import markdown
import nh3
import yaml
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction

from . import selectors
from .api_cache import content_version_drop
from .models import Category, MessageTemplate, Tip
from .validation import (
    ContentError,
    render_text,
    sms_size,
    sms_words,
    template_entry_problems,
    tip_entry_problems,
)

logger = logging.getLogger(__name__)
LIBRARY_ROOT = Path(settings.BASE_DIR) / "content" / "library"
MESSAGES_FILE = "messages.yaml"
# Messages to clinic staff: English only, whatever the caregiver's language.
STAFF_ONLY_MESSAGES = frozenset({"staff-crisis-alert", "staff-help-alert", "staff-ride-alert"})


class ContentInvalid(Exception):
    """The library files have problems; nothing was loaded."""

    def __init__(self, errors: list[ContentError]):
        self.errors = errors
        super().__init__(f"{len(errors)} problem(s) in the content library:\n" + "\n".join(map(str, errors)))


@dataclass
class LoadReport:
    counts: Counter = field(default_factory=Counter)

    def __str__(self) -> str:
        order = ["created", "updated", "unchanged", "retired", "restored"]
        parts = []
        for kind in ("tip", "template"):
            shown = [f"{self.counts[(kind, c)]} {c}" for c in order if self.counts[(kind, c)]]
            parts.append(f"{kind}s: {', '.join(shown) or 'none'}")
        return "; ".join(parts)


def markdown_to_html(text: str) -> str:
    """Markdown to HTML that is safe to put in an email or a web page, whoever wrote it."""
    html = markdown.markdown(text, extensions=["sane_lists"], output_format="html")
    return nh3.clean(html, tags={"p", "ul", "ol", "li", "em", "strong", "blockquote", "br", "a", "code"})


def _entry_hash(entry: dict, **extra: str) -> str:
    canonical = json.dumps({**entry, **extra}, sort_keys=True, default=str, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _read_yaml(path: Path, root: Path, errors: list[ContentError]) -> dict | None:
    rel = str(path.relative_to(root.parent)) if path.is_relative_to(root.parent) else str(path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark else "file"
        errors.append(ContentError(rel, where, "yaml", f"is not valid YAML: {getattr(exc, 'problem', exc)}"))
        return None
    except UnicodeDecodeError:
        errors.append(ContentError(rel, "file", "encoding", "must be UTF-8"))
        return None
    if not isinstance(data, dict):
        errors.append(ContentError(rel, "file", "top level", "must be a mapping"))
        return None
    return data


@dataclass
class _Parsed:
    categories: list[dict] = field(default_factory=list)
    tips: list[tuple[str, str, dict]] = field(default_factory=list)  # (language, category, entry)
    templates: list[tuple[str, dict]] = field(default_factory=list)  # (language, entry)


def library_read(*, root: Path = LIBRARY_ROOT) -> _Parsed:
    """Read and validate every library file. Raises ContentInvalid listing every problem found."""
    errors: list[ContentError] = []
    parsed = _Parsed()
    rel = lambda p: str(p.relative_to(root.parent))  # noqa: E731 - names files as a writer sees them

    categories_file = root / "categories.yaml"
    data = _read_yaml(categories_file, root, errors) if categories_file.is_file() else None
    if not categories_file.is_file():
        errors.append(ContentError(rel(categories_file), "file", "categories", "is missing"))
    for index, cat in enumerate((data or {}).get("categories") or [], start=1):
        if not isinstance(cat, dict) or not all(isinstance(cat.get(k), str) for k in ("slug", "name", "description")):
            errors.append(
                ContentError(rel(categories_file), f"category {index}", "slug/name/description", "are required")
            )
        else:
            parsed.categories.append(cat)
    category_slugs = {c["slug"] for c in parsed.categories}

    seen_slugs: dict[tuple[str, str], str] = {}
    seen_keys: dict[tuple[str, str], str] = {}
    tip_categories: dict[tuple[str, str], str] = {}  # (language, slug) → category
    for lang_dir in sorted(p for p in root.iterdir() if p.is_dir()):
        language = lang_dir.name
        if language not in settings.CONTENT_LANGUAGES:
            errors.append(
                ContentError(
                    rel(lang_dir), "folder", "language",
                    f"“{language}” is not one of the languages we write in ({', '.join(settings.CONTENT_LANGUAGES)})",
                )
            )  # fmt: skip
            continue
        for path in sorted(lang_dir.glob("*.yaml")):
            data = _read_yaml(path, root, errors)
            if data is None:
                continue
            if path.name == MESSAGES_FILE:
                for index, entry in enumerate(data.get("messages") or [], start=1):
                    key = entry.get("key", "?") if isinstance(entry, dict) else "?"
                    item = f"message {index} ({key})"
                    for fld, message in template_entry_problems(entry, language=language):
                        errors.append(ContentError(rel(path), item, fld, message))
                    if (language, key) in seen_keys:
                        errors.append(
                            ContentError(rel(path), item, "key", f"is also used in {seen_keys[(language, key)]}")
                        )
                    seen_keys[(language, key)] = f"{rel(path)} {item}"
                    parsed.templates.append((language, entry))
                continue
            category = data.get("category")
            if category not in category_slugs:
                errors.append(
                    ContentError(
                        rel(path), "file", "category", f"“{category}” is not one of {', '.join(sorted(category_slugs))}"
                    )
                )
            tips = data.get("tips")
            if not isinstance(tips, list) or not tips:
                errors.append(ContentError(rel(path), "file", "tips", "must be a non-empty list"))
                continue
            for index, entry in enumerate(tips, start=1):
                slug = entry.get("slug", "?") if isinstance(entry, dict) else "?"
                item = f"tip {index} ({slug})"
                for fld, message in tip_entry_problems(entry, category=category, language=language):
                    errors.append(ContentError(rel(path), item, fld, message))
                if (language, slug) in seen_slugs:
                    used = seen_slugs[(language, slug)]
                    errors.append(ContentError(rel(path), item, "slug", f"“{slug}” is also used by {used}"))
                seen_slugs[(language, slug)] = f"{rel(path)} {item}"
                tip_categories[(language, slug)] = category
                parsed.tips.append((language, category, entry))
    errors += _translation_problems(seen_slugs, tip_categories, seen_keys)
    if errors:
        raise ContentInvalid(errors)
    return parsed


def _translation_problems(
    tips: dict[tuple[str, str], str], categories: dict[tuple[str, str], str], templates: dict[tuple[str, str], str]
) -> list[ContentError]:
    """Every tip and message is written in every language, under one slug (or key) across them, a
    tip in the same category: a Spanish-speaking family meets no English word, and the API serves
    a tip by one slug in each language."""
    errors = []
    languages = sorted({language for language, _ in tips} | {language for language, _ in templates})
    for kind, seen in (("tip", tips), ("message", templates)):
        # Alerts go to clinic staff, who read English (staff pages are English too).
        names = sorted({name for _, name in seen if not (kind == "message" and name in STAFF_ONLY_MESSAGES)})
        for name in names:
            have = [language for language in languages if (language, name) in seen]
            where = seen[(have[0], name)]
            for language in sorted(set(languages) - set(have)):
                errors.append(
                    ContentError(
                        f"library/{language}/", f"{kind} {name}", "translation",
                        f"is missing: {where} has no {language} version under the same "
                        f"{'slug' if kind == 'tip' else 'key'}",
                    )
                )  # fmt: skip
    for (language, slug), category in categories.items():
        english = categories.get(("en", slug))
        if language != "en" and english is not None and english != category:
            errors.append(
                ContentError(
                    tips[(language, slug)].split(" ", 1)[0], f"tip {slug}", "category",
                    f"is {category} here but {english} in English: a tip is in one category in every language",
                )
            )  # fmt: skip
    return errors


def library_sms_report(parsed: _Parsed) -> list[str]:
    """Per language, how many segments each tip costs as a tip text is sent (prefix, words, question,
    folded to GSM-7), and how many go as UCS-2: what `load_content` reports."""
    lines = []
    for language in sorted({language for language, _, _ in parsed.tips}):
        words = sms_words(language)
        sizes = [
            sms_size(words.prefix + " ".join(entry["sms"].split()) + words.feedback)
            for lang, _, entry in parsed.tips
            if lang == language
        ]
        by_segments = Counter(size.segments for size in sizes)
        shown = ", ".join(f"{by_segments[n]} in {n}" for n in sorted(by_segments))
        ucs2 = sum(size.encoding == "UCS-2" for size in sizes)
        lines.append(
            f"{language}: {len(sizes)} tips as texts: {shown} segment(s) (at most {words.max_segments}); "
            f"{ucs2} sent as UCS-2, {len(sizes) - ucs2} as GSM-7; longest {max(s.units for s in sizes)} characters"
        )
    return lines


@transaction.atomic
def library_load(*, root: Path = LIBRARY_ROOT, parsed: _Parsed | None = None) -> LoadReport:
    """Bring the database in line with the library files. Idempotent: a second run changes nothing.

    A changed entry updates its row and bumps its version; an entry that left the files is
    retired; one that comes back is restored. Nothing is loaded if any file has a problem.
    `parsed`: what library_read returned for `root`, when it has been read already (reading and
    validating both languages takes about a second; the test suite reads it once).
    """
    parsed = parsed if parsed is not None else library_read(root=root)
    report = LoadReport()

    categories = {}
    for position, cat in enumerate(parsed.categories):
        categories[cat["slug"]], _ = Category.objects.update_or_create(
            slug=cat["slug"], defaults={"name": cat["name"], "description": cat["description"], "position": position}
        )

    existing = {(tip.slug, tip.language): tip for tip in Tip.objects.select_for_update()}
    for language, category, entry in parsed.tips:
        digest = _entry_hash(entry, category=category, language=language)
        tip = existing.pop((entry["slug"], language), None)
        if tip is not None and tip.file_hash == digest:
            report.counts[("tip", "restored" if not tip.active else "unchanged")] += 1
            if not tip.active:
                tip.active = True
                tip.save(update_fields=["active", "updated_at"])
            continue
        values = {
            "category": categories[category],
            "language": language,
            "title": entry["title"].strip(),
            "sms_body": " ".join(entry["sms"].split()),
            "email_markdown": entry["email"].strip(),
            "email_html": markdown_to_html(entry["email"]),
            "email_text": entry["email"].strip(),
            "tags": list(entry.get("tags") or []),
            "source": entry["source"],
            "discreet": entry.get("discreet", True),
            "reviewed_at": entry["reviewed_at"],
            "file_hash": digest,
            "active": True,
        }
        if tip is None:
            Tip.objects.create(slug=entry["slug"], **values)
            report.counts[("tip", "created")] += 1
        else:
            for name, value in values.items():
                setattr(tip, name, value)
            tip.version += 1
            tip.save()
            report.counts[("tip", "updated")] += 1
    for tip in existing.values():
        if tip.active:
            tip.active = False
            tip.save(update_fields=["active", "updated_at"])
            report.counts[("tip", "retired")] += 1

    templates = {(t.key, t.language): t for t in MessageTemplate.objects.select_for_update()}
    for language, entry in parsed.templates:
        digest = _entry_hash(entry, language=language)
        template = templates.pop((entry["key"], language), None)
        values = {
            "description": entry.get("description", ""),
            "sms": entry["sms"].strip(),
            "email_subject": (entry.get("email_subject") or "").strip(),
            "email_body": (entry.get("email_body") or "").strip(),
            "sample": entry.get("sample") or {},
            "file_hash": digest,
            "active": True,
        }
        if template is None:
            MessageTemplate.objects.create(key=entry["key"], language=language, **values)
            report.counts[("template", "created")] += 1
        elif template.file_hash == digest and template.active:
            report.counts[("template", "unchanged")] += 1
        else:
            changed_text = template.file_hash != digest
            for name, value in values.items():
                setattr(template, name, value)
            template.version += 1 if changed_text else 0
            template.save()
            report.counts[("template", "updated" if changed_text else "restored")] += 1
    for template in templates.values():
        if template.active:
            template.active = False
            template.save(update_fields=["active", "updated_at"])
            report.counts[("template", "retired")] += 1
    return report


# A tip's fields as the files name them, and as the model (and the admin's form) does.
_MODEL_FIELDS = {"sms": "sms_body", "email": "email_markdown"}


def tip_edit_problems(*, tip: Tip) -> dict[str, list[str]]:
    """What is wrong with a tip as edited, keyed by model field: the same rules as a tip in the
    files (length as sent, discretion of the text and the title, no reply prompts, tags), so an
    edit in the admin cannot do what the loader refuses."""
    entry = {
        "slug": tip.slug, "title": tip.title, "sms": tip.sms_body, "email": tip.email_markdown,
        "tags": list(tip.tags or []), "source": tip.source, "reviewed_at": tip.reviewed_at, "discreet": tip.discreet,
    }  # fmt: skip
    problems: dict[str, list[str]] = {}
    for name, message in tip_entry_problems(entry, category=tip.category.slug, language=tip.language):
        problems.setdefault(_MODEL_FIELDS.get(name, name), []).append(f"The {name} {message}.")
    return problems


@transaction.atomic
def tip_update(*, tip: Tip, **changes: object) -> Tip:
    """An edit made by staff in the admin: validated like the files, and a new version."""
    allowed = {"title", "sms_body", "email_markdown", "tags", "active", "discreet", "category"}
    unknown = set(changes) - allowed
    if unknown:
        raise ValueError(f"tip_update cannot change {', '.join(sorted(unknown))}")
    for name, value in changes.items():
        setattr(tip, name, value)
    problems = tip_edit_problems(tip=tip)
    if problems:
        raise ValidationError(problems)
    tip.email_html = markdown_to_html(tip.email_markdown)
    tip.email_text = tip.email_markdown
    if {"title", "sms_body", "email_markdown"} & set(changes):
        tip.version += 1
    tip.full_clean()
    tip.save()
    return tip


def content_changed() -> None:
    """Tips or categories changed: drop the content version, so the tip API renders afresh.

    Called for every saved or deleted tip and category (content/receivers.py). The next request
    makes a new version; a page whose words changed gets a new ETag, an unchanged one keeps its own.
    """
    content_version_drop()


@dataclass(frozen=True)
class RenderedMessage:
    sms: str
    email_subject: str
    email_text: str
    email_html: str


# Values a template may put into an email as Markdown: the library's own tip text. Our own links
# (`*_url`) go in as they are too, inside <…>. Everything else (names staff or families typed, a
# caregiver's text quoted to staff, a clinic's name) is shown as written, never as a link or a tag.
LIBRARY_MARKDOWN_VALUES = frozenset({"tip_email", "tip_sms", "tip_title"})
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!])")


def markdown_escape(text: str) -> str:
    """Someone's words, for a Markdown email: no link, tag, image or emphasis of theirs works."""
    return _MARKDOWN_SPECIAL.sub(r"\\\1", text).replace("<", "&lt;").replace(">", "&gt;")


def _as_written(context: dict[str, object]) -> dict[str, object]:
    return {
        name: markdown_escape(value)
        if isinstance(value, str) and name not in LIBRARY_MARKDOWN_VALUES and not name.endswith("_url")
        else value
        for name, value in context.items()
    }


def message_render(*, key: str, context: dict[str, object], language: str = "en") -> RenderedMessage:
    """Render a message template. Raises TemplateRenderError if the context lacks a variable.

    The HTML email is rendered from the template's Markdown with the values escaped (see
    `LIBRARY_MARKDOWN_VALUES`); the text email and the SMS carry them as written.
    """
    try:
        template = selectors.message_template_get(key=key, language=language)
    except MessageTemplate.DoesNotExist:
        if language == "en":
            raise
        # The loader requires every message in every language but the staff alerts (English);
        # should one be missing all the same, the English words go rather than no message.
        if not key.startswith("staff-"):
            logger.error("message %r has no %r version: sending the English one", key, language)
        template = selectors.message_template_get(key=key, language="en")
    body = render_text(template.email_body, context) if template.email_body else ""
    return RenderedMessage(
        sms=" ".join(render_text(template.sms, context).split()),
        email_subject=render_text(template.email_subject, context) if template.email_subject else "",
        email_text=body,
        email_html=markdown_to_html(render_text(template.email_body, _as_written(context))) if body else "",
    )
