"""Small helpers the page views share."""

from __future__ import annotations

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.http import HttpRequest, QueryDict
from django.utils import translation

from config.middleware import use_language

__all__ = ["client_ip", "errors_to_form", "page_language", "posted", "use_language"]


def client_ip(request: HttpRequest) -> str | None:
    # config.middleware.TrustedProxyMiddleware has put the client's address here: behind one of
    # our proxies (TRUSTED_PROXY_IPS) the address X-Forwarded-For names, otherwise the peer's.
    return request.META.get("REMOTE_ADDR") or None


def posted(request: HttpRequest) -> QueryDict | None:
    """A POST's form data, even when empty: `request.POST or None` reads an empty POST as a GET, and the
    page comes back a 400 with no error on it."""
    return request.POST if request.method == "POST" else None


def errors_to_form(form: forms.Form, exc: ValidationError, *, field_map: dict[str, str] | None = None) -> None:
    """Put a service's ValidationError next to the form's fields; anything else on the form itself."""
    field_map = field_map or {}
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    for key, messages in exc.message_dict.items():
        name = field_map.get(key, key)
        if name in form.fields and name not in form.errors:
            form.add_error(name, messages)
        elif name not in form.fields:
            form.add_error(None, messages)


def page_language(request: HttpRequest) -> str:
    """The language this page is shown in (LocaleMiddleware's choice, or the switch's): one of
    settings.LANGUAGES."""
    language = translation.get_language() or settings.LANGUAGE_CODE
    return language if language in dict(settings.LANGUAGES) else settings.LANGUAGE_CODE
