"""The project's URLs plus /bench/hello/, which every endpoint is compared with, and /bench/stored/,
the least a webhook that keeps what it was sent can do."""

from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.urls import path

from bench.common import STORED_TABLE
from config import urls


def hello(request: HttpRequest) -> HttpResponse:
    return HttpResponse("hello")


def stored(request: HttpRequest) -> HttpResponse:
    """Hello world plus one row inserted and committed: one round trip, as a plain inbound text or
    a status callback makes (without Django's health check, as messaging.inbound skips it)."""
    connection.health_check_done = True
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {STORED_TABLE} DEFAULT VALUES")
    return HttpResponse("stored")


urlpatterns = [path("bench/hello/", hello), path("bench/stored/", stored), *urls.urlpatterns]

handler404 = urls.handler404
handler500 = urls.handler500
