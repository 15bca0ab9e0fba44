"""Requests refused before Django reads them."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse, JsonResponse

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
