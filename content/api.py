"""The tip API for clinic websites and patient apps: /api/v1/tips/ and /api/v1/categories/.

Authenticated by API keys (djangorestframework-api-key: `Authorization: Api-Key <key>`),
throttled per key, cacheable with ETag / Last-Modified. Tip pages are rendered once per content
version and kept in memory (content/api_cache.py).
"""

from __future__ import annotations

import hashlib
import time as clock
from collections.abc import Callable
from datetime import UTC, datetime, time, timedelta
from functools import lru_cache

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseNotModified
from django.utils.cache import get_conditional_response
from django.utils.dateparse import parse_date, parse_datetime
from django.utils.http import http_date, quote_etag
from drf_spectacular.extensions import OpenApiAuthenticationExtension
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import exceptions, serializers, status
from rest_framework.authentication import BaseAuthentication, get_authorization_header
from rest_framework.negotiation import DefaultContentNegotiation
from rest_framework.permissions import BasePermission
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.settings import api_settings
from rest_framework.throttling import BaseThrottle
from rest_framework.utils.urls import remove_query_param, replace_query_param
from rest_framework.views import APIView
from rest_framework_api_key.models import APIKey

from . import selectors
from .api_cache import Page, content_version, pages, request_counts, verified_keys
from .models import Category, Tip
from .validation import source_problems

JSON = JSONRenderer.media_type

# --- Authentication, permission, throttle ----------------------------------------------------


class HeaderKeyAuthentication(BaseAuthentication):
    """`Authorization: <keyword> <key>`; subclasses look the key up. Also used by the staff API."""

    keyword = ""

    def key_from(self, request: Request) -> str | None:
        """The key, None when another scheme is used (so other authenticators get a turn)."""
        header = get_authorization_header(request).decode("latin-1")
        scheme, _, key = header.partition(" ")
        if scheme.lower() != self.keyword.lower():
            return None
        key = key.strip()
        if not key:
            raise exceptions.AuthenticationFailed(f"The Authorization header has no key after “{self.keyword}”.")
        return key

    def authenticate_header(self, request: Request) -> str:
        return self.keyword


class ApiKeyAuthentication(HeaderKeyAuthentication):
    """`Authorization: Api-Key <key>`. Says precisely what is wrong with a key that fails."""

    keyword = "Api-Key"

    def authenticate(self, request: Request) -> tuple[None, APIKey] | None:
        key = self.key_from(request)
        if key is None:
            return None
        api_key = verified_keys.get(key)
        if api_key is None:
            prefix = key.partition(".")[0]
            api_key = APIKey.objects.filter(prefix=prefix).first()
            if api_key is None or not api_key.is_valid(key):
                raise exceptions.AuthenticationFailed("This API key is not valid.")
            if not api_key.revoked:
                verified_keys.put(key, api_key)
        if api_key.revoked:
            raise exceptions.PermissionDenied("This API key has been revoked. Ask for a new one.")
        if api_key.has_expired:
            raise exceptions.PermissionDenied(f"This API key expired on {api_key.expiry_date:%Y-%m-%d}.")
        return (None, api_key)


class HasApiKey(BasePermission):
    message = "Send an API key: `Authorization: Api-Key <key>`."

    def has_permission(self, request: Request, view: APIView) -> bool:
        return isinstance(request.auth, APIKey)


class ApiKeyThrottle(BaseThrottle):
    """Requests per API key, API_KEY_THROTTLE_RATE (default 600/min). 429 with Retry-After.

    A fixed window (each clock minute for /min), counted in Redis a few requests at a time
    (content.api_cache.RequestCounts) where DRF's sliding log read and rewrote a list of every
    request's time on each one. A key may send up to twice its rate across the boundary of two
    windows, and may be refused a few requests short of it; never more than its rate per window.
    """

    wait_seconds: float | None = None

    def allow_request(self, request: Request, view: APIView) -> bool:
        if not isinstance(request.auth, APIKey) or _within_rate(request.auth):
            return True
        seconds = _parse_rate(settings.API_KEY_THROTTLE_RATE)[1]
        self.wait_seconds = seconds - clock.time() % seconds
        return False

    def wait(self) -> float | None:
        return self.wait_seconds


def _within_rate(api_key: APIKey) -> bool:
    """Count one request for `api_key`: True if it is within API_KEY_THROTTLE_RATE."""
    limit, seconds = _parse_rate(settings.API_KEY_THROTTLE_RATE)
    return request_counts.take(api_key.pk, limit=limit, seconds=seconds)


@lru_cache(maxsize=8)
def _parse_rate(rate: str) -> tuple[int, int]:
    """DRF's notation, a count per second, minute, hour or day: "600/min" is (600, 60)."""
    count, _, period = rate.partition("/")
    return int(count), {"s": 1, "m": 60, "h": 3600, "d": 86400}[period[0]]


class ApiKeyScheme(OpenApiAuthenticationExtension):
    target_class = ApiKeyAuthentication
    name = "ApiKey"

    def get_security_definition(self, auto_schema):
        return {
            "type": "apiKey",
            "in": "header",
            "name": "Authorization",
            "description": "`Api-Key <key>`. Keys are made with `python manage.py create_api_key NAME`.",
        }


class JsonNegotiation(DefaultContentNegotiation):
    """The tip API answers in JSON only: settle at once when the client takes anything, or JSON."""

    def select_renderer(self, request: Request, renderers: list, format_suffix: str | None = None) -> tuple:
        accept = request.META.get("HTTP_ACCEPT", "*/*")
        only = renderers[0]
        if (
            len(renderers) == 1
            and not format_suffix
            and accept in ("*/*", only.media_type)
            and "format" not in request.META.get("QUERY_STRING", "")
        ):
            return only, only.media_type
        return super().select_renderer(request, renderers, format_suffix)


class KeyedAPIView(APIView):
    authentication_classes = [ApiKeyAuthentication]
    permission_classes = [HasApiKey]
    throttle_classes = [ApiKeyThrottle]
    content_negotiation_class = JsonNegotiation

    def permission_denied(self, request: Request, message: str | None = None, code: str | None = None) -> None:
        if request.auth is None:
            raise exceptions.NotAuthenticated(HasApiKey.message)
        super().permission_denied(request, message, code)


class BadParameter(exceptions.APIException):
    status_code = status.HTTP_400_BAD_REQUEST
    default_code = "bad_parameter"

    def __init__(self, parameter: str, message: str):
        super().__init__({"detail": message, "parameter": parameter})


# --- Serializers --------------------------------------------------------------------------------


class ErrorSerializer(serializers.Serializer):
    detail = serializers.CharField(help_text="What went wrong, in words.")
    parameter = serializers.CharField(required=False, help_text="The query parameter at fault (400 only).")


class CitationField(serializers.CharField):
    """A tip's `source`: the loader accepts only public citations (content.validation.source_problems);
    a row loaded before that rule, still naming one of our files, shows nothing rather than the file."""

    def to_representation(self, value: object) -> str:
        text = super().to_representation(value)
        return "" if source_problems(text) else text


class TipSerializer(serializers.ModelSerializer):
    url = serializers.SerializerMethodField()
    category = serializers.CharField(source="category.slug", help_text="The category's slug.")
    short_text = serializers.CharField(source="sms_body", help_text="One or two sentences (fits in 2 SMS).")
    body_markdown = serializers.CharField(source="email_markdown", help_text="The full tip, in Markdown.")
    body_html = serializers.CharField(source="email_html", help_text="The full tip as sanitised HTML.")
    tags = serializers.ListField(child=serializers.CharField())
    source = CitationField(
        help_text=(
            "A public citation for the tip, such as “NIMH: Depression, nimh.nih.gov” or “Alongside editorial, "
            "from clinic guidance”. Empty for a tip loaded before citations were required."
        )
    )

    class Meta:
        model = Tip
        fields = [
            "slug", "url", "category", "language", "title", "short_text", "body_markdown", "body_html",
            "tags", "source", "version", "reviewed_at", "updated_at",
        ]  # fmt: skip

    def get_url(self, tip: Tip) -> str:
        query = "" if tip.language == DEFAULT_LANGUAGE else f"?language={tip.language}"
        return self.context["request"].build_absolute_uri(f"/api/v1/tips/{tip.slug}/{query}")


class TipPageSerializer(serializers.Serializer):
    count = serializers.IntegerField(help_text="Tips matching the filters, on every page.")
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = TipSerializer(many=True)


class CategorySerializer(serializers.ModelSerializer):
    tip_count = serializers.IntegerField(help_text="Active tips in this category (in `language` if given).")

    class Meta:
        model = Category
        fields = ["slug", "name", "description", "tip_count"]


DEFAULT_LANGUAGE = "en"  # what the tip API serves unless ?language= says otherwise


def language_field(**kwargs) -> serializers.ChoiceField:
    """A `language` query parameter: one the library is written in (an enum in the schema, so a
    client sees the choices; anything else is a 400 that lists them)."""
    languages = selectors.content_languages()
    return serializers.ChoiceField(
        choices=languages,
        required=False,
        error_messages={
            "invalid_choice": f"“{{input}}” is not a language we have. Use one of: {', '.join(languages)}."
        },
        **kwargs,
    )


class TipQuerySerializer(serializers.Serializer):
    """The query parameters of GET /api/v1/tips/ (documents them in the schema, too)."""

    category = serializers.SlugField(required=False, help_text="A category slug, e.g. `what-to-say`.")
    tag = serializers.SlugField(required=False, help_text="A tag, e.g. `listening`.")
    language = language_field(
        default="en",
        help_text="The language of the tips: `en` (the default) or `es`. A tip has one slug in every language.",
    )
    updated_since = serializers.CharField(
        required=False, help_text="Only tips changed at or after this ISO 8601 date or date-time (UTC if no offset)."
    )
    search = serializers.CharField(required=False, max_length=200, help_text="Words to look for in the tips.")
    page = serializers.IntegerField(
        required=False, min_value=1, max_value=10**6, default=1, help_text="Page number, from 1."
    )
    page_size = serializers.IntegerField(
        required=False, min_value=1, max_value=100, default=20, help_text="Tips per page, 1 to 100 (default 20)."
    )


def query_parse(
    serializer_class: type[serializers.Serializer], request: Request, *, also: tuple[str, ...] = ()
) -> dict:
    """The query string read by serializer_class; anything it does not name, or leaves blank, is a 400.

    A misspelt filter (?categroy=) or an unset variable (?language=) would otherwise be read as no
    filter, and the whole list would come back as if it were the answer. `also` names parameters
    read elsewhere (the staff API's paging); DRF's own `format` is always allowed.
    """
    query = serializer_class(data=request.query_params)
    known = sorted({*query.fields, *also})
    for name, value in request.query_params.items():
        if name == api_settings.URL_FORMAT_OVERRIDE:
            continue
        if name not in known:
            raise BadParameter(name, f"“{name}” is not a query parameter here. Use: {', '.join(known)}.")
        if len(request.query_params.getlist(name)) > 1:
            # ?language=es&language=en would otherwise be read as its last value, silently.
            raise BadParameter(name, f"Query parameter “{name}” is given more than once: give it once.")
        if value == "" and not getattr(query.fields.get(name), "allow_blank", False):
            raise BadParameter(name, f"Query parameter “{name}” is empty: give it a value, or leave it out.")
    if not query.is_valid():
        parameter, messages = next(iter(query.errors.items()))
        raise BadParameter(parameter, f"Query parameter “{parameter}”: {' '.join(map(str, messages))}")
    return query.validated_data


def _parse_since(value: str) -> datetime:
    try:
        moment = parse_datetime(value)
        day = None if moment else parse_date(value)
    except ValueError:
        moment = day = None
    if moment is None and day is None:
        raise BadParameter(
            "updated_since", f"“{value}” is not an ISO 8601 date or date-time, like 2026-11-01 or 2026-11-01T09:30:00Z."
        )
    if moment is None:
        moment = datetime.combine(day, time.min)
    if not moment.tzinfo:
        return moment.replace(tzinfo=UTC)
    if abs(moment.utcoffset()) > timedelta(hours=14):
        raise BadParameter("updated_since", f"“{value}” has a UTC offset no place uses (-12:00 to +14:00).")
    try:
        # In Python: PostgreSQL refuses offsets past ±15:59, and some moments fall off the calendar in UTC.
        return moment.astimezone(UTC)
    except (OverflowError, ValueError):
        raise BadParameter("updated_since", f"“{value}” is outside the dates this API can answer for.") from None


def _kept_page(body: bytes, content_type: str, last_modified: datetime | None) -> Page:
    """A rendered answer, ready to keep. The ETag is a hash of the body, so an unchanged page keeps
    its ETag across content versions and processes."""
    etag = quote_etag(hashlib.sha256(body).hexdigest()[:32])
    stamp = int(last_modified.timestamp()) if last_modified else None
    headers = [("ETag", etag)] + ([("Last-Modified", http_date(stamp))] if stamp is not None else [])
    # Clients may keep a copy but must revalidate it; a copy is only for the key that fetched it.
    headers += [("Cache-Control", "private, no-cache"), ("Vary", "Authorization")]
    return Page(body=body, content_type=content_type, etag=etag, last_modified=stamp, headers=tuple(headers))


def _answer(request: HttpRequest | Request, page: Page) -> HttpResponseBase:
    """200 with the page, or 304 when the client's copy is this one (Django's conditional rules)."""
    meta = request.META
    if meta.get("HTTP_IF_NONE_MATCH") == page.etag and not {"HTTP_IF_MATCH", "HTTP_IF_UNMODIFIED_SINCE"} & set(meta):
        response = HttpResponseNotModified()  # the usual revalidation, without parsing every conditional header
    else:
        response = get_conditional_response(request, etag=page.etag, last_modified=page.last_modified)
        response = response or HttpResponse(page.body, content_type=page.content_type)
    for name, value in page.headers:
        response[name] = value
    return response


def _page_key(request: HttpRequest | Request, media_type: str) -> tuple[str, ...]:
    # Everything the body depends on: its links carry the scheme, the host and the full path.
    return (request.scheme, request.get_host(), request.get_full_path(), media_type)


def _cached_page(
    view: APIView, request: Request, render: Callable[[], tuple[object, datetime | None]]
) -> HttpResponseBase:
    """Answer from the page cache, or render(), which returns (data, last modified) or raises.

    Only a 200 is kept, per absolute URL and media type, under the current content version: a page
    kept before a change is not served after it.
    """
    version = content_version()
    key = _page_key(request, request.accepted_media_type)
    page = pages.get(version, key) if version else None
    if page is None:
        data, last_modified = render()
        renderer = request.accepted_renderer
        body = renderer.render(data, request.accepted_media_type, view.get_renderer_context())
        content_type = f"{renderer.media_type}; charset={renderer.charset}" if renderer.charset else renderer.media_type
        page = _kept_page(body, content_type, last_modified)
        if version:
            pages.put(version, key, page)
    return _answer(request, page)


class KeptPageView(KeyedAPIView):
    """A keyed view whose pages are kept per content version (_cached_page).

    A request for a page already kept, with a key verified in the last few seconds, is answered
    before DRF runs: the same checks (key, revocation, expiry, media type, rate), made from memory,
    at a fraction of the cost. Anything else (a new or bad key, a page not kept, a 429) goes
    through DRF as usual.
    """

    def dispatch(self, request: HttpRequest, *args: object, **kwargs: object) -> HttpResponseBase:
        return self._kept(request) or super().dispatch(request, *args, **kwargs)

    def _kept(self, request: HttpRequest) -> HttpResponseBase | None:
        meta = request.META
        if (
            request.method not in ("GET", "HEAD")
            or meta.get("HTTP_ACCEPT", "*/*") not in ("*/*", JSON)
            or "format" in meta.get("QUERY_STRING", "")
        ):
            return None
        scheme, _, key = meta.get("HTTP_AUTHORIZATION", "").partition(" ")
        api_key = verified_keys.get(key.strip()) if scheme.lower() == ApiKeyAuthentication.keyword.lower() else None
        if api_key is None or api_key.revoked or api_key.has_expired:
            return None  # DRF says what is wrong with it
        version = content_version()
        page = pages.get(version, _page_key(request, JSON)) if version else None
        # Counted last, so that a request counted here is answered here; one refused goes on to
        # DRF, which refuses it again with its 429 and Retry-After.
        if page is None or not _within_rate(api_key):
            return None
        response = _answer(request, page)
        response["Allow"] = self._allow()  # as DRF adds to its answers
        return response

    def _allow(self) -> str:
        cls = type(self)
        if "_allow_header" not in cls.__dict__:
            cls._allow_header = ", ".join(self.allowed_methods)  # the same for every request to a view
        return cls._allow_header


class Gone(exceptions.APIException):
    status_code = status.HTTP_410_GONE
    default_code = "gone"


ERRORS = {
    401: OpenApiResponse(ErrorSerializer, description="No API key, or one that is not valid."),
    403: OpenApiResponse(ErrorSerializer, description="The API key was revoked or has expired."),
    429: OpenApiResponse(ErrorSerializer, description="Too many requests for this key; see Retry-After."),
}


# --- Views ----------------------------------------------------------------------------------------


class TipListView(KeptPageView):
    @extend_schema(
        operation_id="tips_list",
        summary="List tips",
        description=(
            "Active tips, 20 per page by default (at most 100), in a stable order: by category, then slug "
            "(by relevance first when searching). Send `If-None-Match` with the last `ETag` to get a 304."
        ),
        parameters=[TipQuerySerializer],
        responses={
            200: TipPageSerializer,
            304: OpenApiResponse(description="Not modified since the ETag or date you sent."),
            400: OpenApiResponse(ErrorSerializer, description="A query parameter is malformed or unknown."),
            404: OpenApiResponse(ErrorSerializer, description="The page does not exist."),
            **ERRORS,
        },
        tags=["tips"],
    )
    def get(self, request: Request) -> HttpResponseBase:
        return _cached_page(self, request, lambda: self._render(request))

    def _render(self, request: Request) -> tuple[dict, datetime | None]:
        params = query_parse(TipQuerySerializer, request)
        since = _parse_since(params["updated_since"]) if params.get("updated_since") else None
        tips = selectors.tip_list(
            category=params.get("category"),
            tag=params.get("tag"),
            language=params.get("language"),
            updated_since=since,
            search=params.get("search"),
        )
        page, size = params["page"], params["page_size"]
        result = selectors.tip_page(tips, page=page, page_size=size)
        if not result.tips:
            self._explain_empty(params, result.total, page, size)
        url = request.build_absolute_uri()
        last_page = max(1, -(-result.total // size))
        body = {
            "count": result.total,
            "next": replace_query_param(url, "page", page + 1) if page < last_page else None,
            "previous": (
                None
                if page == 1
                else remove_query_param(url, "page")
                if page == 2
                else replace_query_param(url, "page", page - 1)
            ),
            "results": TipSerializer(result.tips, many=True, context={"request": request}).data,
        }
        return body, result.last_modified

    @staticmethod
    def _explain_empty(params: dict, total: int, page: int, size: int) -> None:
        """No rows: say which filter value is unknown (checked only now, to keep the usual path cheap)."""
        if params.get("category") and not selectors.category_exists(slug=params["category"]):
            slugs = ", ".join(Category.objects.values_list("slug", flat=True))
            raise BadParameter("category", f"“{params['category']}” is not a category. Use one of: {slugs}.")
        if params.get("tag") and not selectors.tag_exists(tag=params["tag"]):
            raise BadParameter("tag", f"“{params['tag']}” is not a tag of any tip.")
        if page > 1:
            pages = max(1, -(-total // size))
            there = "there is 1 page" if pages == 1 else f"there are {pages} pages"
            raise exceptions.NotFound(f"Page {page} does not exist: {there} of {size}.")


class TipDetailQuerySerializer(serializers.Serializer):
    language = language_field(default="en", help_text="The tip in this language: `en` (the default) or `es`.")


class TipDetailView(KeptPageView):
    @extend_schema(
        operation_id="tips_retrieve",
        summary="One tip, in one language",
        parameters=[TipDetailQuerySerializer],
        responses={
            200: TipSerializer,
            304: OpenApiResponse(description="Not modified since the ETag or date you sent."),
            400: OpenApiResponse(ErrorSerializer, description="`language` is not one we have."),
            404: OpenApiResponse(ErrorSerializer, description="No tip has this slug (in this language)."),
            410: OpenApiResponse(ErrorSerializer, description="The tip was retired from the library."),
            **ERRORS,
        },
        tags=["tips"],
    )
    def get(self, request: Request, slug: str) -> HttpResponseBase:
        return _cached_page(self, request, lambda: self._render(request, slug))

    @staticmethod
    def _render(request: Request, slug: str) -> tuple[dict, datetime | None]:
        language = query_parse(TipDetailQuerySerializer, request)["language"]
        tip = selectors.tip_get(slug=slug, language=language)
        if tip is None:
            raise exceptions.NotFound(f"No tip has the slug “{slug}” in “{language}”.")
        if not tip.active:
            raise Gone(f"The tip “{slug}” was retired from the library.")
        return TipSerializer(tip, context={"request": request}).data, tip.updated_at


class CategoryQuerySerializer(serializers.Serializer):
    language = language_field(help_text="Count only tips in this language.")


class CategoryListView(KeyedAPIView):
    @extend_schema(
        operation_id="categories_list",
        summary="Categories, with how many tips each has",
        parameters=[CategoryQuerySerializer],
        responses={
            200: CategorySerializer(many=True),
            400: OpenApiResponse(ErrorSerializer, description="`language` is not one we have."),
            **ERRORS,
        },
        tags=["tips"],
    )
    def get(self, request: Request) -> Response:
        language = query_parse(CategoryQuerySerializer, request).get("language")
        return Response(CategorySerializer(selectors.category_list(language=language), many=True).data)
