"""A caregiver's private calendar feed: their loved ones' appointments with pick-up times.

The link is the only key (calendar apps cannot log in), so it is long and random, made when the
caregiver asks for it on their preferences page, and replaced there: the old one then finds nothing.
"""

from __future__ import annotations

from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_safe

from caregiver.calendar import appointment_event, calendar_of
from caregiver.selectors import calendar_appointments, caregiver_for_calendar

CALENDAR_NAME = "Alongside"


def feed_urls(secret: str) -> dict[str, str]:
    """The feed's address to copy (https) and to open in a calendar app (webcal)."""
    url = settings.PUBLIC_BASE_URL + reverse("portal:calendar-feed", args=[secret])
    return {"https": url, "webcal": "webcal://" + url.split("://", 1)[1]}


@require_safe
def calendar_feed(request: HttpRequest, secret: str) -> HttpResponse:
    caregiver = caregiver_for_calendar(secret=secret)
    if caregiver is None:
        # Unknown, replaced, or its caregiver stopped everything: the same answer, saying nothing.
        raise Http404
    appointments = calendar_appointments(caregiver=caregiver, now=timezone.now())
    body = calendar_of([appointment_event(a, language=caregiver.language) for a in appointments], name=CALENDAR_NAME)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    # Calendar apps poll; five minutes of caching costs a reschedule little. The link is a secret:
    # no shared cache keeps it, and no search engine lists it.
    response["Cache-Control"] = "private, max-age=300"
    response["X-Robots-Tag"] = "noindex, nofollow"
    return response
