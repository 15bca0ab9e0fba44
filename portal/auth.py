"""Staff sign-in, limited: failed attempts are counted per username and address together, and per address.

The counters are caregiver.ratelimit's fixed windows in the shared cache (Redis in production),
the same ones that limit sign-up codes. After STAFF_LOGIN_FAILURES_PER_USERNAME failures for one
username from one address, or STAFF_AUTH_FAILURES_PER_IP from one address (sign-ins and staff API
tokens together), every further sign-in from that address in the window is refused with a 429
before the password is even checked, so a right guess cannot be confirmed. The answer is the same
whether the account exists or not. Both /staff/login/ and /admin/login/ use it.

A username is never locked for everyone: a stranger's wrong passwords lock only the stranger's own
address, so they cannot keep a known staff member out (the address is the client's, behind our
proxies too: config.middleware.TrustedProxyMiddleware). A valid API token is always accepted
(portal.api): only tokens that are not valid count, and are refused, per address.
Wrong two-factor codes count against the same limits (portal/views/two_factor.py).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import admin
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.views import LoginView
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse

from caregiver.ratelimit import Limit, address_bucket, limit_hit, limit_refund

from .two_factor import step_url, two_factor_owed
from .views.common import client_ip


def _limits(request: HttpRequest | None, username: str | None) -> list[tuple[Limit, str]]:
    window = settings.STAFF_AUTH_FAILURE_WINDOW_SECONDS
    limits = []
    ip = address_bucket((client_ip(request) if request is not None else None) or "none")
    if username is not None:
        # Any text may be typed as a username: caregiver.ratelimit keeps only a keyed hash of it.
        who = f"{username.strip().casefold()}|{ip}"
        limits.append((Limit("login-user-ip", settings.STAFF_LOGIN_FAILURES_PER_USERNAME, window), who))
    limits.append((Limit("auth-ip", settings.STAFF_AUTH_FAILURES_PER_IP, window), ip))
    return limits


def auth_attempt(request: HttpRequest | None, username: str | None = None) -> int | None:
    """Count one guess (a password, a two-factor code, a staff API token) before it is checked.

    Returns None if it may be checked, else the seconds until this username and address may try
    again: then it must be refused unchecked, so a right guess cannot be confirmed. Counting first
    means guesses sent side by side are limited too (checking first let 100 in parallel through).
    A guess that turns out right is taken back with auth_succeeded.
    """
    waits = [wait for limit, subject in _limits(request, username) if (wait := limit_hit(limit, subject))]
    return max(waits) if waits else None


def auth_succeeded(request: HttpRequest | None, username: str | None = None) -> None:
    """The guess auth_attempt counted was right: it does not count against anyone."""
    for limit, subject in _limits(request, username):
        limit_refund(limit, subject)


def too_many_message(wait: int) -> str:
    minutes = max(1, -(-wait // 60))
    return f"Too many failed sign-ins. Try again in {minutes} minute{'s' if minutes != 1 else ''}."


class RateLimitedLoginMixin:
    """For an AuthenticationForm: count each try, refuse it unchecked while over a limit, take back a right one."""

    rate_limited_wait: int | None = None

    def clean(self) -> dict:
        username = self.cleaned_data.get("username")
        wait = auth_attempt(self.request, username)
        if wait is not None:
            self.rate_limited_wait = wait
            raise ValidationError(too_many_message(wait), code="rate_limited")
        try:
            cleaned = super().clean()  # a wrong password raises, and stays counted
        except ValidationError:
            if getattr(self, "user_cache", None) is not None:
                # The password was right; the account may not use this door (a clinic staff member
                # at /admin/): no guess, so not counted against their sign-in at /staff/.
                auth_succeeded(self.request, username)
            raise
        auth_succeeded(self.request, username)
        return cleaned


class StaffLoginForm(RateLimitedLoginMixin, AuthenticationForm):
    pass


class AdminLoginForm(RateLimitedLoginMixin, AdminAuthenticationForm):
    pass


def _mark_too_many(response: HttpResponse) -> HttpResponse:
    form = (getattr(response, "context_data", None) or {}).get("form")
    wait = getattr(form, "rate_limited_wait", None)
    if wait is not None:
        response.status_code = 429
        response["Retry-After"] = str(wait)
    return response


class StaffLoginView(LoginView):
    template_name = "portal/staff/login.html"
    redirect_authenticated_user = True
    authentication_form = StaffLoginForm

    def form_invalid(self, form: StaffLoginForm) -> HttpResponse:
        return _mark_too_many(super().form_invalid(form))

    def get_success_url(self) -> str:
        # Straight on to the code (or setting an app up) when the user owes one, then where they
        # were going (portal/two_factor.py); the middleware would send them there anyway.
        url = super().get_success_url()
        step = two_factor_owed(self.request)
        return step_url(step, url) if step is not None else url


class StaffAdminSite(admin.AdminSite):
    """The default admin site (see portal.apps.AdminConfig), with the same sign-in limits."""

    login_form = AdminLoginForm

    def login(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        return _mark_too_many(super().login(request, extra_context))
