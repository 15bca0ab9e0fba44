"""Error pages: JSON under /api/ (API consumers parse it), HTML elsewhere."""

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.defaults import page_not_found, server_error


def not_found(request: HttpRequest, exception: Exception) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": f"There is no API endpoint at {request.path}. See /api/docs/."}, status=404)
    return page_not_found(request, exception)


def error(request: HttpRequest) -> HttpResponse:
    if request.path.startswith("/api/"):
        return JsonResponse({"detail": "Something went wrong on our side; it has been logged."}, status=500)
    return server_error(request)
