"""Error pages: JSON under /api/ (API consumers parse it), HTML elsewhere."""

from django.conf import settings
from django.core.exceptions import RequestDataTooBig, TooManyFieldsSent, TooManyFilesSent
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found, server_error


def too_large_message() -> str:
    """What a request over the size limit is told (config.middleware before reading, Django after)."""
    size = settings.DATA_UPLOAD_MAX_MEMORY_SIZE / 1024 / 1024
    return f"The request is too large: we accept at most {size:g} MB of form or JSON data."


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """A request Django refused to read: say which limit it broke (Django's own page says only "400")."""
    status = 400
    if isinstance(exception, RequestDataTooBig):
        message, status = too_large_message(), 413
    elif isinstance(exception, TooManyFieldsSent):
        message = f"The request has too many fields: we accept at most {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS}."
    elif isinstance(exception, TooManyFilesSent):
        message = f"The request has too many files: we accept at most {settings.DATA_UPLOAD_MAX_NUMBER_FILES}."
    else:
        message = "The request could not be read."
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": message}, status=status)
    return HttpResponse(message, content_type="text/plain; charset=utf-8", status=status)


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": f"There is no API endpoint at {request.path}. See /api/docs/."}, status=404)
    return page_not_found(request, exception)


def error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Something went wrong on our side; it has been logged."}, status=500)
    return server_error(request)
