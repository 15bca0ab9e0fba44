"""Caregiver self sign-up: /join/, /join/<code>/, the code page, and the emailed link."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime
from functools import wraps

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.views.decorators.http import require_http_methods

from caregiver import services
from caregiver.consent import consent_text, current_web
from caregiver.models import Caregiver, ChannelConfirmation, Clinic
from caregiver.ratelimit import Limit, limit_hit, limit_refund
from caregiver.selectors import address_of, caregiver_consent
from caregiver.tokens import email_confirm_id, preferences_token
from messaging.rendering import national_phone

from ..forms import CodeForm, JoinCodeForm, SignupForm, mask_email, mask_phone
from .common import client_ip, errors_to_form, page_language, posted, use_language

SESSION_KEY = "signup_caregiver"
# A sign-up whose number or email was someone's already: what the code page needs to look the same.
DECOY_KEY = "signup_taken"
ENROLLMENT_CODE = re.compile(r"[A-Za-z0-9]{6,16}")


def _code_misses() -> Limit:
    return Limit("join-code-miss", settings.JOIN_CODE_MISSES_PER_IP_PER_HOUR, 3600)


def _try_again(wait: int) -> int:
    return wait // 60 + 1


class CodeGuessing(Exception):
    def __init__(self, wait: int) -> None:
        minutes = _try_again(wait)
        super().__init__(
            ngettext(
                "Too many wrong clinic codes from this connection. Try again in %(minutes)d minute.",
                "Too many wrong clinic codes from this connection. Try again in %(minutes)d minutes.",
                minutes,
            )
            % {"minutes": minutes}
        )


def _clinic(code: str, request: HttpRequest) -> Clinic:
    """The clinic a code names. Codes are generated (8 letters and digits), and wrong ones are
    counted per connection: past JOIN_CODE_MISSES_PER_IP_PER_HOUR every code is refused for the hour."""
    ip = client_ip(request) or "none"
    # Counted before it is looked up, and taken back when right: guesses sent side by side are
    # limited too, and past the limit even a right code is refused, so it cannot be confirmed.
    wait = limit_hit(_code_misses(), ip)
    if wait is not None:
        raise CodeGuessing(wait)
    # Anything but letters and digits (a NUL byte, a path) is no code of ours, and must not reach the
    # database: PostgreSQL refuses NUL in a query.
    clinic = Clinic.objects.filter(enrollment_code=code.upper()).first() if ENROLLMENT_CODE.fullmatch(code) else None
    if clinic is None:
        raise Http404("No clinic has this code.")
    limit_refund(_code_misses(), ip)
    return clinic


def _guessing(request: HttpRequest, exc: CodeGuessing) -> HttpResponse:
    return render(request, "portal/join/start.html", {"form": JoinCodeForm(), "page_error": str(exc)}, status=429)


def _codes_limited(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """The pages under /join/<code>/ answer a connection that guessed too many codes with a 429."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except CodeGuessing as exc:
            return _guessing(request, exc)

    return wrapper


@require_http_methods(["GET", "HEAD", "POST"])
def join_start(request: HttpRequest) -> HttpResponse:
    form = JoinCodeForm(posted(request))
    if request.method == "POST":
        ip = client_ip(request) or "none"
        wait = limit_hit(_code_misses(), ip)  # counted first, taken back when right (see _clinic)
        if wait is not None:
            return _guessing(request, CodeGuessing(wait))
        if form.is_valid():
            limit_refund(_code_misses(), ip)
            return redirect("portal:join", code=form.cleaned_data["code"])
        if "code" not in form.errors:
            limit_refund(_code_misses(), ip)
    return render(request, "portal/join/start.html", {"form": form}, status=400 if form.errors else 200)


@_codes_limited
@require_http_methods(["GET", "HEAD", "POST"])
def join(request: HttpRequest, code: str) -> HttpResponse:
    clinic = _clinic(code, request)
    # The language this page is shown in (the browser's, or the switch's): the consent text's, and
    # the caregiver's from now on.
    language = page_language(request)
    form = SignupForm(posted(request), initial={"time_zone": clinic.time_zone})
    status = 200
    if request.method == "POST":
        wait = limit_hit(Limit("signup-ip", settings.SIGNUPS_PER_IP_PER_HOUR, 3600), client_ip(request) or "none")
        if wait is not None:
            form.is_valid()
            minutes = _try_again(wait)
            form.add_error(
                None,
                ngettext(
                    "Too many sign-ups from this connection. Try again in %(minutes)d minute.",
                    "Too many sign-ups from this connection. Try again in %(minutes)d minutes.",
                    minutes,
                )
                % {"minutes": minutes},
            )
            status = 429
        elif form.is_valid():
            data = form.cleaned_data
            try:
                caregiver = services.caregiver_sign_up(
                    clinic=clinic,
                    name=data["name"],
                    phone=data["phone"],
                    email=data["email"],
                    channels=data["channels"],
                    loved_one_name=data["loved_one"],
                    relationship=data["relationship"],
                    time_zone=data["time_zone"],
                    ip_address=client_ip(request),
                    language=language,
                    consent_text_version=current_web(language),
                )
            except services.RateLimited as exc:
                form.add_error(None, exc.messages)
                status = 429
            except ValidationError as exc:
                errors_to_form(form, exc, field_map={"first_name": "loved_one", "non_field": "__all__"})
                status = 400
            else:
                if caregiver is None:
                    # The number or email is someone's already: its owner was told. This browser is
                    # shown what a new sign-up sees, so the page reveals nothing.
                    request.session.pop(SESSION_KEY, None)
                    request.session[DECOY_KEY] = _decoy(clinic, data, language)
                else:
                    request.session.pop(DECOY_KEY, None)
                    request.session[SESSION_KEY] = caregiver.pk
                return redirect("portal:join-confirm", code=clinic.enrollment_code)
        else:
            status = 400
    context = {
        "form": form,
        "clinic": clinic,
        "consent_text": consent_text(clinic=clinic, version=current_web(language)),
    }
    return render(request, "portal/join/signup.html", context, status=status)


def _decoy(clinic: Clinic, data: dict, language: str) -> dict:
    phone = data["phone"] if data["channels"] in ("sms", "both") else ""
    return {
        "clinic": clinic.pk, "name": data["name"], "phone": phone, "email": (data["email"] or "").strip().lower(),
        "channels": data["channels"], "asked_at": timezone.now().isoformat(), "attempts": 0, "language": language,
    }  # fmt: skip


def _taken(request: HttpRequest, clinic: Clinic) -> dict | None:
    decoy = request.session.get(DECOY_KEY)
    return decoy if decoy and decoy.get("clinic") == clinic.pk else None


def _taken_confirm(request: HttpRequest, clinic: Clinic, decoy: dict) -> HttpResponse:
    """The code page for a sign-up whose address was someone's already: the same page, the same
    answers and limits, but no code exists, so none works (its owner got a message instead)."""
    use_language(request, decoy.get("language", "en"))  # as a new sign-up's page is in theirs
    form = CodeForm(posted(request))
    status, page_error = 200, ""
    phone, email = decoy["phone"], decoy["email"]
    if request.method == "POST" and request.POST.get("action") == "resend":
        try:
            services.confirmation_limits_take(
                channel="sms", address=phone, ip_address=client_ip(request), clinic_id=clinic.pk
            )
        except services.RateLimited as exc:
            form, page_error, status = CodeForm(), exc.messages[0], 429
        else:
            decoy.update(asked_at=timezone.now().isoformat(), attempts=0)
            request.session[DECOY_KEY] = decoy
            messages.success(request, _new_code_sent(phone))
            return redirect("portal:join-confirm", code=clinic.enrollment_code)
    elif request.method == "POST" and form.is_valid():
        code = form.cleaned_data["code"]
        expires_at = datetime.fromisoformat(decoy["asked_at"]) + services.CODE_TTL
        problem = services.code_typed_problem(code=code, expires_at=expires_at, attempts=decoy["attempts"])
        if not problem:
            decoy["attempts"] += 1
            request.session[DECOY_KEY] = decoy
            problem = services.code_wrong_message(attempts=decoy["attempts"])
        form.add_error("code", problem)
        status = 400
    elif request.method == "POST":
        status = 400
    context = {
        "clinic": clinic,
        "form": form,
        "page_error": page_error,
        "needs_code": bool(phone),
        "masked_phone": mask_phone(phone),
        "texts_from": national_phone(clinic.twilio_from_number),
        "email_pending": bool(email) and decoy["channels"] in ("email", "both"),
        "masked_email": mask_email(email) if email else "",
    }
    return render(request, "portal/join/confirm.html", context, status=status)


def _new_code_sent(phone: str) -> str:
    return gettext("We sent a new code to %(phone)s. The old one no longer works.") % {"phone": mask_phone(phone)}


def _signed_up(request: HttpRequest, clinic: Clinic) -> Caregiver | None:
    caregiver_id = request.session.get(SESSION_KEY)
    return Caregiver.objects.filter(pk=caregiver_id, clinic=clinic).first() if caregiver_id else None


@_codes_limited
@require_http_methods(["GET", "HEAD", "POST"])
def join_confirm(request: HttpRequest, code: str) -> HttpResponse:
    """Type the SMS code (or ask for a new one); says where the email link went."""
    clinic = _clinic(code, request)
    caregiver = _signed_up(request, clinic)
    decoy = _taken(request, clinic) if caregiver is None else None
    if decoy is not None:
        return _taken_confirm(request, clinic, decoy)
    if caregiver is None:
        messages.error(
            request, gettext("Your sign-up session has ended. Sign up again, or reply YES to our text if you got one.")
        )
        return redirect("portal:join", code=clinic.enrollment_code)
    use_language(request, caregiver.language)
    consent = caregiver_consent(caregiver=caregiver)
    form = CodeForm(posted(request))
    status, page_error = 200, ""
    if request.method == "POST" and request.POST.get("action") == "resend":
        try:
            services.confirmation_start(
                caregiver=caregiver, channel="sms", source="web", consent_text_version=current_web(caregiver.language),
                ip_address=client_ip(request),
            )  # fmt: skip
            messages.success(request, _new_code_sent(caregiver.phone))
            return redirect("portal:join-confirm", code=clinic.enrollment_code)
        except services.RateLimited as exc:
            form, page_error, status = CodeForm(), exc.messages[0], 429
    elif request.method == "POST" and form.is_valid():
        try:
            services.confirmation_code_check(
                caregiver=caregiver, code=form.cleaned_data["code"], ip_address=client_ip(request)
            )
        except ValidationError as exc:
            errors_to_form(form, exc)
            status = 400
        else:
            return redirect("portal:join-done", code=clinic.enrollment_code)
    elif request.method == "POST":
        status = 400
    email_pending = caregiver.wants_email and consent.get("email") is not True
    context = {
        "clinic": clinic,
        "caregiver": caregiver,
        "form": form,
        "page_error": page_error,
        "needs_code": caregiver.wants_sms and consent.get("sms") is not True,
        "masked_phone": mask_phone(caregiver.phone),
        "texts_from": national_phone(clinic.twilio_from_number),
        "email_pending": email_pending,
        "masked_email": mask_email(caregiver.email) if caregiver.email else "",
    }
    return render(request, "portal/join/confirm.html", context, status=status)


@_codes_limited
def join_done(request: HttpRequest, code: str) -> HttpResponse:
    clinic = _clinic(code, request)
    caregiver = _signed_up(request, clinic)
    if caregiver is None:
        return redirect("portal:join", code=clinic.enrollment_code)
    use_language(request, caregiver.language)
    consent = caregiver_consent(caregiver=caregiver)
    confirmed = next((channel for channel in ("sms", "email") if consent.get(channel) is True), None)
    context = {
        "clinic": clinic,
        "caregiver": caregiver,
        "clinic_phone": national_phone(clinic.contact_phone),
        # Their own link, for the address they just confirmed (it opens only while it is confirmed).
        "preferences_url": reverse(
            "portal:preferences", args=[preferences_token(caregiver.pk, address=address_of(caregiver, confirmed))]
        )
        if confirmed
        else "",
        "sms_on": consent.get("sms") is True,
        "email_pending": caregiver.wants_email and consent.get("email") is not True,
        "masked_email": mask_email(caregiver.email) if caregiver.email else "",
    }
    return render(request, "portal/join/done.html", context)


@require_http_methods(["GET", "HEAD", "POST"])
def email_confirm(request: HttpRequest, token: str) -> HttpResponse:
    """GET shows a button; POST confirms. Mail scanners that open links must not confirm for people."""
    confirmation = (
        ChannelConfirmation.objects.select_related("caregiver__clinic").filter(pk=email_confirm_id(token) or 0).first()
    )
    if confirmation is None:
        return render(request, "portal/join/email_confirm.html", {"invalid": True}, status=404)
    use_language(request, confirmation.caregiver.language)
    if request.method == "POST":
        try:
            services.confirmation_link_check(token=token, ip_address=client_ip(request))
        except ValidationError as exc:
            return render(request, "portal/join/email_confirm.html", {"error": exc.messages[0]}, status=410)
        return render(request, "portal/join/email_confirm.html", {"done": True, **_confirmed_context(confirmation)})
    if confirmation.confirmed_at is not None:
        return render(request, "portal/join/email_confirm.html", {"already": True, **_confirmed_context(confirmation)})
    if confirmation.expires_at <= timezone.now() or confirmation.address != confirmation.caregiver.email:
        # A newer link replaced this one (or it ran out): no button that could only fail.
        error = gettext("This link was replaced by a newer one, or has expired. Use the newest email.")
        return render(request, "portal/join/email_confirm.html", {"error": error}, status=410)
    return render(request, "portal/join/email_confirm.html", {"confirmation": confirmation})


def _confirmed_context(confirmation: ChannelConfirmation) -> dict:
    """What a confirmed page offers: their preferences (while this address is theirs) and the clinic's
    phone."""
    caregiver, clinic = confirmation.caregiver, confirmation.caregiver.clinic
    current = confirmation.address == caregiver.email and caregiver_consent(caregiver=caregiver).get("email") is True
    return {
        "clinic": clinic,
        "clinic_phone": national_phone(clinic.contact_phone),
        "preferences_url": reverse(
            "portal:preferences", args=[preferences_token(caregiver.pk, address=caregiver.email)]
        )
        if current
        else "",
    }
