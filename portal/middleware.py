"""Staff sessions: signed out after STAFF_IDLE_TIMEOUT_MINUTES without a request, and held at the
two-factor step they owe. Only the staff areas (/staff/, /admin/ and the API) are concerned: a
caregiver's pages (sign-up, preferences, links in messages) never sign anyone out or redirect.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

from django.conf import settings
from django.contrib import messages
from django.contrib.auth import logout
from django.contrib.auth.views import redirect_to_login
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone

from .two_factor import next_after_sign_in, step_url, two_factor_owed

STAFF_AREAS = ("/staff/", "/admin/", "/api/")
PAGE_AREAS = ("/staff/", "/admin/")
SEEN_AT_KEY = "staff_seen_at"
# The last request's time is written to the session at most this often, not on every request.
SEEN_EVERY_SECONDS = 60


@cache
def _sign_in_paths() -> frozenset[str]:
    return frozenset({reverse("portal:login"), reverse("portal:logout"), reverse("admin:logout")})


@cache
def _two_factor_paths() -> frozenset[str]:
    """Pages a signed-in user may open before the code: signing in or out, and the steps themselves."""
    return _sign_in_paths() | {reverse("portal:two-factor-code"), reverse("portal:two-factor-setup")}


def idle_message(minutes: int) -> str:
    return f"You were signed out after {minutes} minutes without activity. Sign in again to carry on."


class StaffIdleTimeoutMiddleware:
    """Signs a staff session out when it has made no request to a staff area for
    STAFF_IDLE_TIMEOUT_MINUTES, and sends the request to sign in again (coming back to the page).

    A sliding window kept in the session: the time of the last request, written at most once a
    minute (so a session ends between 30 and 31 minutes after its last request, and a busy page
    does not save its session on every request). A session that has no time yet (just signed in)
    starts its clock now. A staff API request on a timed-out session continues signed out (a 403).
    """

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(STAFF_AREAS) and request.user.is_authenticated:
            now = int(timezone.now().timestamp())
            seen = request.session.get(SEEN_AT_KEY)
            if not isinstance(seen, int):
                request.session[SEEN_AT_KEY] = now
            elif now - seen >= settings.STAFF_IDLE_TIMEOUT_MINUTES * 60 + SEEN_EVERY_SECONDS:
                return self._signed_out(request)
            elif now - seen >= SEEN_EVERY_SECONDS:
                request.session[SEEN_AT_KEY] = now
        return self.get_response(request)

    def _signed_out(self, request: HttpRequest) -> HttpResponse:
        logout(request)
        if request.path.startswith("/api/"):
            return self.get_response(request)
        messages.info(request, idle_message(settings.STAFF_IDLE_TIMEOUT_MINUTES))
        if request.path in _sign_in_paths():
            return self.get_response(request)
        next_url = next_after_sign_in(request)
        return redirect_to_login(next_url) if next_url else redirect(settings.LOGIN_URL)


class StaffTwoFactorMiddleware:
    """Until a signed-in user has entered the code they owe (portal.two_factor), every /staff/ and
    /admin/ page sends them to that step, coming back afterwards. The staff API checks its session
    users itself (a 403 with a message, not a redirect)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.path.startswith(PAGE_AREAS) and request.path not in _two_factor_paths():
            step = two_factor_owed(request)
            if step is not None:
                return redirect(step_url(step, next_after_sign_in(request)))
        return self.get_response(request)
