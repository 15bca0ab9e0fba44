"""The project's URLs plus /bench/hello/, the floor every endpoint is compared with."""

from django.http import HttpRequest, HttpResponse
from django.urls import path

from config import urls


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse("hello")


urlpatterns = [path("bench/hello/", hello), *urls.urlpatterns]

handler404 = urls.handler404
handler500 = urls.handler500
