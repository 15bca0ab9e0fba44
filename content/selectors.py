"""Reads of content/: tips as the API and the planner see them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import connection
from django.db.models import Count, Max, Q, QuerySet, Window

from .models import Category, MessageTemplate, Tip


def tip_list(
    *,
    category: str | None = None,
    tag: str | None = None,
    language: str | None = None,
    updated_since: datetime | None = None,
    search: str | None = None,
) -> QuerySet[Tip]:
    """Active tips matching every filter given, in a stable order (by relevance when searching)."""
    tips = Tip.objects.filter(active=True).select_related("category")
    if category:
        tips = tips.filter(category__slug=category)
    if tag:
        # Tags are validated slugs kept as a JSON list; matching the quoted token finds whole tags
        # only, and works on SQLite, where JSON containment lookups do not exist.
        tips = tips.filter(tags__icontains=f'"{tag}"')
    if language:
        tips = tips.filter(language=language)
    if updated_since:
        tips = tips.filter(updated_at__gte=updated_since)
    ordering = ["category__position", "slug"]
    if search:
        tips = _search(tips, search, language)
        if connection.vendor == "postgresql":
            ordering = ["-rank", *ordering]
    return tips.order_by(*ordering)


SEARCH_CONFIGS = {"en": "english", "es": "spanish"}  # PostgreSQL's text search configurations


def _search(tips: QuerySet[Tip], text: str, language: str | None = None) -> QuerySet[Tip]:
    if connection.vendor == "postgresql":
        from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVector

        # Stemmed in the tips' language ("hablar" finds "hablen"); English unless asked for Spanish.
        config = SEARCH_CONFIGS.get(language, "english")
        vector = SearchVector("title", weight="A", config=config) + SearchVector(
            "sms_body", "email_markdown", weight="B", config=config
        )
        query = SearchQuery(text, search_type="websearch", config=config)
        return tips.annotate(document=vector, rank=SearchRank(vector, query)).filter(document=query)
    # Elsewhere (SQLite): every word must appear somewhere in the tip.
    for word in text.split():
        tips = tips.filter(Q(title__icontains=word) | Q(sms_body__icontains=word) | Q(email_markdown__icontains=word))
    return tips


@dataclass(frozen=True)
class TipPage:
    tips: list[Tip]
    total: int
    last_modified: datetime | None


def tip_page(tips: QuerySet[Tip], *, page: int, page_size: int) -> TipPage:
    """One page of `tips`, with the total and the newest change across all of them, in ONE query.

    Window functions run over the whole filtered set before LIMIT/OFFSET, so the count and the
    Last-Modified date come with the rows instead of costing a query each.
    """
    offset = (page - 1) * page_size
    rows = list(tips.annotate(total=Window(Count("pk")), newest=Window(Max("updated_at")))[offset : offset + page_size])
    if not rows:
        return TipPage(tips=[], total=tips.count() if page > 1 else 0, last_modified=None)
    return TipPage(tips=rows, total=rows[0].total, last_modified=rows[0].newest)


def tip_get(*, slug: str, language: str = "en") -> Tip | None:
    """A tip by slug in one language, active or retired (the API says 410 Gone for a retired one)."""
    return Tip.objects.select_related("category").filter(slug=slug, language=language).first()


def category_exists(*, slug: str) -> bool:
    return Category.objects.filter(slug=slug).exists()


def tag_exists(*, tag: str) -> bool:
    return Tip.objects.filter(tags__icontains=f'"{tag}"').exists()


def category_list(*, language: str | None = None) -> QuerySet[Category]:
    active = Q(tips__active=True) & (Q(tips__language=language) if language else Q())
    return Category.objects.annotate(tip_count=Count("tips", filter=active)).order_by("position", "slug")


def content_languages() -> list[str]:
    """The languages the library is written in (a setting, so that checking one costs no query)."""
    return list(settings.CONTENT_LANGUAGES)


def message_template_get(*, key: str, language: str = "en") -> MessageTemplate:
    return MessageTemplate.objects.get(key=key, language=language, active=True)
