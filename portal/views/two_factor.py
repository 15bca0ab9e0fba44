"""Two-factor sign-in pages: the code asked after the password, setting an authenticator app up,
and the staff member's account page that says it is on (see portal/two_factor.py for who needs it).

Wrong codes count against the same limits as wrong passwords (portal.auth: per username and per
address), and django-otp makes the device itself wait 1, 2, 4, 8 ... seconds after each one.
"""

from __future__ import annotations

from base64 import b32encode
from dataclasses import dataclass

import django_otp
import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse, QueryDict
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods, require_safe
from django_otp.plugins.otp_totp.models import TOTPDevice

from .. import selectors, services
from ..auth import auth_attempt, auth_succeeded
from ..forms import CodeForm
from ..two_factor import is_verified, safe_next, step_url
from .common import posted
from .staff import staff_required


@dataclass(frozen=True)
class Problem:
    message: str
    retry_after: int | None = None  # set when the code was not even checked: a 429


WRONG_CODE = "That code didn't work. Enter the 6-digit code your authenticator app shows now."
NOT_A_CODE = "Enter the 6 digits your authenticator app shows, like 123 456."


def _wait_message(seconds: int) -> str:
    if seconds < 60:
        unit = "second" if seconds == 1 else "seconds"
        return f"Too many wrong codes. Wait {seconds} {unit}, then enter the code your app shows."
    minutes = -(-seconds // 60)
    return f"Too many wrong codes. Try again in {minutes} minute{'s' if minutes != 1 else ''}."


def _code_problem(request: HttpRequest, form: CodeForm, device: TOTPDevice, *, confirm: bool) -> Problem | None:
    """Check the form's code against `device`: None if it is right, else what to tell the person."""
    code = "".join(form.cleaned_data["code"].split())
    if len(code) != device.digits or not code.isascii() or not code.isdigit():
        return Problem(NOT_A_CODE)  # a typo, not a guess: counted nowhere
    username = request.user.get_username()
    wait = selectors.device_wait(device=device) or auth_attempt(request, username)
    if wait is not None:
        return Problem(_wait_message(wait), retry_after=wait)
    if confirm:
        right = services.staff_device_confirm(user=request.user, device=device, code=code)
    else:
        right = services.staff_device_verify(user=request.user, device=device, code=code)
    if not right:
        return Problem(WRONG_CODE)  # counted by auth_attempt
    auth_succeeded(request, username)
    return None


def _verified(request: HttpRequest, device: TOTPDevice) -> None:
    django_otp.login(request, device)
    # A session that has just proved more than its password gets a new key.
    request.session.cycle_key()


def _code_form(data: QueryDict | None = None, *, focus: bool = False) -> CodeForm:
    form = CodeForm(data)
    if focus:  # the code page's one thing to do (not the setup page's: the key comes first)
        form.fields["code"].widget.attrs["autofocus"] = True
    return form


def _render_code_page(request: HttpRequest, template: str, context: dict, problem: Problem | None) -> HttpResponse:
    if problem is None:
        return render(request, template, context)
    # An empty box for the next code: the one refused is no use any more.
    focus = "autofocus" in context["form"].fields["code"].widget.attrs
    context = {**context, "form": _code_form(focus=focus), "code_error": problem.message}
    status = 200 if problem.retry_after is None else 429
    response = render(request, template, context, status=status)
    if problem.retry_after is not None:
        response["Retry-After"] = str(problem.retry_after)
    return response


def qr_path(data: str) -> tuple[int, str]:
    """`data` as a QR code: its size in modules (quiet zone included) and one SVG path drawing each
    row's runs of dark modules. The template draws the SVG, so nothing is marked safe by hand."""
    rows = [list(row) for row in segno.make(data, error="m", micro=False).matrix_iter(border=4)]
    runs = []
    for y, row in enumerate(rows):
        x = 0
        while x < len(row):
            if not row[x]:
                x += 1
                continue
            start = x
            while x < len(row) and row[x]:
                x += 1
            runs.append(f"M{start} {y}.5h{x - start}")
    return len(rows), "".join(runs)


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def two_factor_code(request: HttpRequest) -> HttpResponse:
    """After the password: the code from the staff member's authenticator app."""
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if is_verified(request.user):
        return redirect(next_url)
    device = selectors.staff_device(user=request.user)
    if device is None:
        if selectors.staff_two_factor_required(user=request.user):
            return redirect(step_url("setup", next_url))
        return redirect(next_url)
    form = _code_form(posted(request), focus=True)
    problem = None
    if form.is_valid():
        problem = _code_problem(request, form, device, confirm=False)
        if problem is None:
            _verified(request, device)
            return redirect(next_url)
    return _render_code_page(request, "portal/staff/two_factor_code.html", {"form": form, "next": next_url}, problem)


PENDING_KEY = "two_factor_pending"  # the device this session is setting up


@login_required
@require_http_methods(["GET", "HEAD", "POST"])
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Setting an authenticator app up: its QR code and secret, then its first code to confirm it.

    Only while the user has no confirmed app: replacing one is an operator's reset, never something
    a password alone can do (or whoever learnt the password could add their own phone).
    """
    next_url = safe_next(request, request.POST.get("next") or request.GET.get("next"))
    if selectors.staff_device(user=request.user) is not None:
        return redirect(next_url if is_verified(request.user) else step_url("code", next_url))
    device = services.staff_device_start(user=request.user, pending_id=request.session.get(PENDING_KEY))
    request.session[PENDING_KEY] = device.pk
    form = _code_form(posted(request))
    problem = None
    if form.is_valid():
        problem = _code_problem(request, form, device, confirm=True)
        if problem is None:
            device.refresh_from_db()
            _verified(request, device)
            messages.success(request, "Two-factor sign-in is on. Each time you sign in, enter the code your app shows.")
            return redirect(next_url)
    secret = b32encode(device.bin_key).decode()
    qr_size, qr_d = qr_path(device.config_url)
    context = {
        "form": form,
        "next": next_url,
        "required_by": selectors.clinics_requiring_two_factor(user=request.user),
        "required": selectors.staff_two_factor_required(user=request.user),
        "qr_size": qr_size,
        "qr_path": qr_d,
        "secret_groups": [secret[i : i + 4] for i in range(0, len(secret), 4)],
        "config_url": device.config_url,
    }
    return _render_code_page(request, "portal/staff/two_factor_setup.html", context, problem)


@staff_required
@require_safe
def account(request: HttpRequest) -> HttpResponse:
    """The staff member's own sign-in settings: whether two-factor sign-in is on, and the idle timeout."""
    return render(
        request,
        "portal/staff/account.html",
        {
            "device": selectors.staff_device(user=request.user),
            "required": selectors.staff_two_factor_required(user=request.user),
            "required_by": selectors.clinics_requiring_two_factor(user=request.user),
            "idle_minutes": settings.STAFF_IDLE_TIMEOUT_MINUTES,
        },
    )
