"""A caregiver's preferences, opened from a signed link (in every email, or texted on PREFS)."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from caregiver import services
from caregiver.models import Caregiver
from caregiver.selectors import address_confirmed, caregiver_consent, caregivers_with_invitations, link_address_ok
from caregiver.tokens import preferences_link

from ..forms import PauseForm, PreferencesForm, mask_email, mask_phone
from .calendar import feed_urls
from .common import client_ip, errors_to_form, use_language


@require_http_methods(["GET", "HEAD", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    link = preferences_link(token)
    caregiver = Caregiver.objects.select_related("clinic").filter(pk=link[0]).first() if link else None
    if caregiver is None or not link_address_ok(caregiver=caregiver, fingerprint=link[1]):
        # Tampered with, expired, or sent to an address that is not (or no longer) theirs and confirmed.
        return render(request, "portal/preferences.html", {"invalid": True}, status=404)
    use_language(request, caregiver.language)
    consent = caregiver_consent(caregiver=caregiver)
    confirmed = {channel for channel in ("sms", "email") if address_confirmed(caregiver=caregiver, channel=channel)}
    action = request.POST.get("action", "save")
    initial = {
        # On only when it is: a number or email not confirmed yet gets nothing, whatever was chosen.
        "sms": consent.get("sms") is True,
        "email": consent.get("email") is True,
        "tip_frequency": caregiver.tip_frequency,
        "tip_time": caregiver.tip_time,
        "quiet_start": caregiver.quiet_start,
        "quiet_end": caregiver.quiet_end,
        "time_zone": caregiver.time_zone,
        "language": caregiver.language,
        "safety_tips_sms": caregiver.safety_tips_sms,
    }
    form = PreferencesForm(
        request.POST if action == "save" and request.method == "POST" else None,
        initial=initial,
        caregiver=caregiver,
        confirmed=confirmed,
    )
    pause_form = PauseForm(request.POST if action == "pause" else None)
    status, confirm_error = 200, ("", "")
    if request.method == "POST":
        ip = client_ip(request)
        if action == "save" and form.is_valid():
            data = form.cleaned_data
            try:
                said = services.caregiver_preferences_save(
                    caregiver=caregiver, sms=data["sms"], email=data["email"], ip_address=ip,
                    tip_frequency=data["tip_frequency"], tip_time=data["tip_time"], quiet_start=data["quiet_start"],
                    quiet_end=data["quiet_end"], time_zone=data["time_zone"], language=data["language"],
                    safety_tips_sms=data.get("safety_tips_sms"),
                )  # fmt: skip
            except services.RateLimited as exc:
                form.add_error(None, exc.messages)
                status = 429
            except ValidationError as exc:
                errors_to_form(form, exc)
                status = 400
            else:
                # Said, and the page shown again, in the language they chose.
                use_language(request, caregiver.language)
                messages.success(request, " ".join([gettext("Your preferences are saved."), *map(str, said)]))
                return redirect(request.path)
        elif action in ("confirm_sms", "confirm_email"):
            channel = action.removeprefix("confirm_")
            try:
                said_one = services.caregiver_channel_confirm_request(
                    caregiver=caregiver, channel=channel, ip_address=ip
                )
            except services.RateLimited as exc:
                confirm_error, status = (channel, exc.messages[0]), 429
            except ValidationError as exc:
                confirm_error, status = (channel, " ".join(exc.messages)), 400
            else:
                messages.success(request, said_one)
                return redirect(request.path)
        elif action == "pause" and pause_form.is_valid():
            try:
                services.caregiver_pause_days(caregiver=caregiver, days=pause_form.cleaned_data["days"])
            except ValidationError as exc:
                errors_to_form(pause_form, exc)
                status = 400
            else:
                messages.success(request, gettext("Paused. We'll send nothing until the date shown below."))
                return redirect(request.path)
        elif action == "resume":
            services.caregiver_resume(caregiver=caregiver)
            messages.success(request, gettext("Welcome back. Messages will start again."))
            return redirect(request.path)
        elif action == "calendar" and caregiver.status != Caregiver.Status.OPTED_OUT:
            services.caregiver_calendar_create(caregiver=caregiver)
            messages.success(request, gettext("Your calendar link is below. Add it to your calendar app."))
            return redirect(request.path)
        elif action == "calendar_reset" and caregiver.status != Caregiver.Status.OPTED_OUT:
            services.caregiver_calendar_reset(caregiver=caregiver)
            messages.success(
                request, gettext("Here is your new calendar link. The old one no longer works: add this one instead.")
            )
            return redirect(request.path)
        elif action == "stop":
            services.caregiver_stop_everything(caregiver=caregiver, ip_address=ip)
            messages.success(
                request, gettext("Done. You will get nothing more from Alongside. Reply START to a text to return.")
            )
            return redirect(request.path)
        else:
            status = 400
    context = {
        "caregiver": caregiver,
        "form": form,
        "pause_form": pause_form,
        "consent": consent,
        "to_confirm": _to_confirm(caregiver, confirmed, confirm_error),
        # Asked to confirm what is confirmed already: said at the top, where the channels are.
        "confirm_error": confirm_error[1] if confirm_error[0] in confirmed else "",
        "stopped": caregiver.status == Caregiver.Status.OPTED_OUT,
        "paused": caregiver.status == Caregiver.Status.PAUSED,
        # Shown only once they asked for it: the link itself is the key to their calendar.
        "calendar": feed_urls(caregiver.calendar_secret) if caregiver.calendar_secret else None,
    }
    return render(request, "portal/preferences.html", context, status=status)


def _to_confirm(caregiver: Caregiver, confirmed: set[str], error: tuple[str, str]) -> list[dict]:
    """The caregiver's number and email that are not confirmed: each gets a button that asks."""
    asked = caregivers_with_invitations(Caregiver.objects.filter(pk=caregiver.pk)).first()
    rows = []
    for channel, address in (("sms", caregiver.phone), ("email", caregiver.email)):
        if not address or channel in confirmed:
            continue
        rows.append({
            "channel": channel,
            "address": mask_phone(address) if channel == "sms" else mask_email(address),
            "asked_at": getattr(asked, f"{channel}_asked_at", None),
            "error": error[1] if error[0] == channel else "",
        })  # fmt: skip
    return rows
