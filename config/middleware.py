"""Requests refused before Django reads them, and who is asking."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from functools import lru_cache
from ipaddress import IPv4Network, IPv6Network, ip_address, ip_network

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils import translation

from .views import too_large_message


class RequestSizeLimitMiddleware:
    """A request body larger than DATA_UPLOAD_MAX_MEMORY_SIZE (2.5 MB; the biggest we take is a 1 MB
    CSV upload) is a 413 before anything reads it: a 200 MB POST to a public page never reaches
    memory or the disk. Django applies that limit only to form fields, not to uploaded files, which
    it streams to a temp file past FILE_UPLOAD_MAX_MEMORY_SIZE (the same here, so every upload we
    accept stays in memory)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0  # Django reads no body it cannot size
        if length > settings.DATA_UPLOAD_MAX_MEMORY_SIZE:
            message = too_large_message()
            if request.content_type == "multipart/form-data":
                message = "The file is too large: a CSV file may be at most 1 MB. Split it into smaller files."
            if request.path.startswith("/api/"):
                return JsonResponse({"detail": message}, status=413)
            return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
        return self.get_response(request)


# Headers only a proxy of ours may set. From anyone else they are the client's own words.
_FORWARDED_HEADERS = (
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_REAL_IP",
    "HTTP_FORWARDED",
)


@lru_cache(maxsize=8)
def _networks(cidrs: tuple[str, ...]) -> tuple[IPv4Network | IPv6Network, ...]:
    return tuple(ip_network(cidr.strip(), strict=False) for cidr in cidrs)


def _trusted(address: str, networks: tuple[IPv4Network | IPv6Network, ...]) -> bool:
    try:
        ip = ip_address(address.strip().strip("[]"))
    except ValueError:
        return False
    if getattr(ip, "ipv4_mapped", None):
        ip = ip.ipv4_mapped
    return any(ip in network for network in networks)


def _without_port(hop: str) -> str:
    """An address as proxies write it: 198.51.100.7, 198.51.100.7:443, [2001:db8::1]:443 or 2001:db8::1."""
    if hop.startswith("["):
        return hop[1:].partition("]")[0]
    if hop.count(":") == 1:
        return hop.partition(":")[0]
    return hop


def forwarded_client(*, peer: str, forwarded_for: str, trusted_proxies: Iterable[str]) -> str:
    """The address that reached our first trusted proxy.

    Each proxy appends the address it was reached from to X-Forwarded-For, so the list is only as
    honest as the hops we trust: walk it from the right, past our own proxies, and the first
    address that is not ours is the client. Everything left of it was written by the client and
    is ignored (a client can put any address there). A peer we do not trust is the client itself.
    """
    networks = _networks(tuple(trusted_proxies))
    client = peer
    hops = [hop.strip() for hop in forwarded_for.split(",") if hop.strip()]
    while _trusted(client, networks) and hops:
        hop = _without_port(hops.pop())
        try:
            client = str(ip_address(hop))
        except ValueError:
            break  # a proxy of ours wrote something that is not an address: stop at the proxy
    return client


class TrustedProxyMiddleware:
    """Who is asking, for every per-address limit: REMOTE_ADDR becomes the client's address.

    Behind a reverse proxy (gunicorn sees only the proxy), X-Forwarded-For names the client, but
    only a proxy in TRUSTED_PROXY_IPS (CIDRs) may say so. From any other peer the forwarded
    headers are removed before anything reads them, so nobody can claim another address, nor
    HTTPS through SECURE_PROXY_SSL_HEADER (X-Forwarded-Proto), by typing a header.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        meta = request.META
        peer = meta.get("REMOTE_ADDR") or ""
        trusted = tuple(settings.TRUSTED_PROXY_IPS)
        if trusted and _trusted(peer, _networks(trusted)):
            meta["REMOTE_ADDR"] = forwarded_client(
                peer=peer, forwarded_for=meta.get("HTTP_X_FORWARDED_FOR", ""), trusted_proxies=trusted
            )
        else:
            for header in _FORWARDED_HEADERS:
                meta.pop(header, None)
        return self.get_response(request)


# Pages that are English whatever the browser asks: clinic staff, on-call contacts, operators, API
# consumers, the developer's phone, and the services that call us. Caregivers' pages follow the
# browser (or the switch), and pages that know the caregiver their Caregiver.language.
ENGLISH_ONLY_PATHS = (
    "/staff/", "/admin/", "/api/", "/alerts/", "/dev/", "/webhooks/", "/anymail/", "/healthz",
)  # fmt: skip
# ?lang=es on a public page: the "English | Español" links (portal/language_switch.html).
LANGUAGE_PARAMETER = "lang"


class PageLanguageMiddleware:
    """After Django's LocaleMiddleware, which chose the page's language from the language cookie or
    the browser's Accept-Language:

    - staff pages, the admin and the API are English (ENGLISH_ONLY_PATHS);
    - elsewhere ?lang=<code> (one of settings.LANGUAGES) chooses the language of this page and is
      remembered in the language cookie, so the next page follows it. Plain links: no script, no
      form, and the person stays on the page they were reading.

    Views of pages that know the caregiver switch to Caregiver.language themselves
    (portal.views.common.use_language). Once the response is made the thread goes back to the
    default language, so nothing it runs next (a test, an eager task) inherits this page's.
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        chosen = ""
        if request.path_info.startswith(ENGLISH_ONLY_PATHS):
            translation.activate("en")
            request.LANGUAGE_CODE = "en"
        else:
            asked = request.GET.get(LANGUAGE_PARAMETER, "")
            if asked in dict(settings.LANGUAGES):
                chosen = asked
                translation.activate(chosen)
                request.LANGUAGE_CODE = chosen
        response = self.get_response(request)
        if chosen:
            response.set_cookie(
                settings.LANGUAGE_COOKIE_NAME, chosen, max_age=settings.LANGUAGE_COOKIE_AGE,
                path=settings.LANGUAGE_COOKIE_PATH, domain=settings.LANGUAGE_COOKIE_DOMAIN,
                secure=settings.LANGUAGE_COOKIE_SECURE, httponly=settings.LANGUAGE_COOKIE_HTTPONLY,
                samesite=settings.LANGUAGE_COOKIE_SAMESITE,
            )  # fmt: skip
        # Said here, while the page's language is still active (LocaleMiddleware, outside us, only
        # fills the header in when it is missing).
        response.headers.setdefault("Content-Language", translation.get_language())
        translation.deactivate()
        return response


def use_language(request: HttpRequest, language: str) -> str:
    """Show the rest of this page (and the notices it leaves for the next) in `language`: a page
    that knows the caregiver is in Caregiver.language, whatever the browser says. The middleware
    puts the default back once the response is made."""
    language = language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
    translation.activate(language)
    request.LANGUAGE_CODE = language
    return language
