"""Two-factor sign-in for staff, per request: has this session entered its code, and where to send it if not.

Who needs a code (portal.selectors.two_factor_step):
  - everyone who has set an authenticator app up (TOTP, django-otp), at every sign-in;
  - every member of a clinic with `staff_two_factor_required` on (any one of their clinics), who
    sets an app up at their next sign-in if they have none;
  - superusers when SUPERUSER_TWO_FACTOR_REQUIRED is on (production's default).

After the password, StaffLoginView sends such a user to the step they owe; until it is done,
portal.middleware.StaffTwoFactorMiddleware sends every /staff/ and /admin/ page there too, and the
staff API refuses their session with a 403 (portal.api.StaffSessionAuthentication). Staff API
tokens are not sessions and are not affected. django-otp's OTPMiddleware records the verified
device in the session (`request.user.is_verified()`), so a code is entered once per session.
"""

from __future__ import annotations

from urllib.parse import urlencode, urlsplit

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme

from . import selectors
from .selectors import TwoFactorStep

STEP_URL_NAMES = {"code": "portal:two-factor-code", "setup": "portal:two-factor-setup"}


def is_verified(user: AbstractBaseUser | AnonymousUser) -> bool:
    """A code was entered in this session. (A user just signed in by auth.login() is not wrapped by
    OTPMiddleware yet: not verified.)"""
    check = getattr(user, "is_verified", None)
    return bool(check and check())


def two_factor_owed(request: HttpRequest) -> TwoFactorStep | None:
    """The step this request's signed-in user still owes before staff pages, or None."""
    user = request.user
    if not user.is_authenticated or is_verified(user):
        return None
    return selectors.two_factor_step(user=user)


def step_url(step: TwoFactorStep, next_url: str = "") -> str:
    url = reverse(STEP_URL_NAMES[step])
    if next_url and next_url != settings.LOGIN_REDIRECT_URL:
        url += "?" + urlencode({"next": next_url})
    return url


def safe_next(request: HttpRequest, url: str | None) -> str:
    """`url` if it is a page of this site, else the staff home: a `next` from a link is never trusted."""
    allowed_hosts = {request.get_host()}
    if url and url_has_allowed_host_and_scheme(url, allowed_hosts=allowed_hosts, require_https=request.is_secure()):
        return url
    return settings.LOGIN_REDIRECT_URL


def next_after_sign_in(request: HttpRequest) -> str:
    """Where to come back to after signing in (again): this page for a GET, else the page the form
    was on (a POST's own URL may answer only POSTs), else nothing."""
    if request.method in ("GET", "HEAD"):
        return request.get_full_path()
    referer = request.META.get("HTTP_REFERER", "")
    if referer and url_has_allowed_host_and_scheme(referer, allowed_hosts={request.get_host()}):
        parts = urlsplit(referer)
        return parts.path + (f"?{parts.query}" if parts.query else "")
    return ""
