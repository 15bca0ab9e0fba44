"""The ride link in a reminder email: one click to say the ride home is arranged, or to take it back.

The link opens a page with a button rather than acting on the click itself: mail scanners open
links, and a scanner must not tell the family a ride is arranged when it is not.
"""

from __future__ import annotations

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.utils.translation import gettext
from django.views.decorators.http import require_http_methods

from caregiver import services
from caregiver.models import Appointment, Caregiver
from caregiver.selectors import link_address_ok
from caregiver.tokens import ride_link
from messaging.rendering import appointment_context

from .common import use_language


@require_http_methods(["GET", "HEAD", "POST"])
def ride(request: HttpRequest, token: str) -> HttpResponse:
    link = ride_link(token)
    caregiver = appointment = None
    if link is not None:
        caregiver_id, appointment_id, _ = link
        caregiver = Caregiver.objects.select_related("clinic").filter(pk=caregiver_id).first()
        appointment = (
            Appointment.objects.select_related("loved_one__clinic", "ride_arranged_by_caregiver")
            .filter(pk=appointment_id, loved_one__links__caregiver_id=caregiver_id)
            .first()
        )
    if (
        caregiver is None
        or appointment is None
        or caregiver.status == Caregiver.Status.OPTED_OUT
        or not link_address_ok(caregiver=caregiver, fingerprint=link[2])
    ):
        # Tampered with, expired, for an address that is no longer theirs, or for a family they left.
        return render(request, "portal/ride.html", {"invalid": True}, status=404)
    use_language(request, caregiver.language)
    over = appointment.status != Appointment.Status.SCHEDULED or appointment.starts_at <= timezone.now()
    driver = appointment.ride_arranged_by_caregiver
    # Only who said they are driving (or anyone, when the clinic noted it) can take it back.
    may_undo = driver is None or driver.pk == caregiver.pk
    if request.method == "POST" and not over:
        if request.POST.get("action") == "undo" and not may_undo:
            messages.error(
                request,
                gettext("%(driver)s said they have the ride: only they can take it back.")
                % {"driver": driver.name.split()[0]},
            )
        elif request.POST.get("action") == "undo":
            services.appointment_unmark_ride(appointment=appointment, caregiver=caregiver)
            messages.success(
                request, gettext("Noted: the ride home is not arranged yet. We'll keep sending ride reminders.")
            )
        else:
            services.appointment_mark_ride_arranged(appointment=appointment, caregiver=caregiver)
            messages.success(
                request, gettext("Thank you: the ride home is noted, and the family's other contacts are told.")
            )
        return redirect(request.path)
    appointment.refresh_from_db()
    context = appointment_context(caregiver, appointment)
    driver = appointment.ride_arranged_by_caregiver
    return render(
        request,
        "portal/ride.html",
        {
            "appointment": appointment, "words": context, "over": over,
            "by_you": driver is not None and driver.pk == caregiver.pk,
            "may_undo": driver is None or driver.pk == caregiver.pk,
            "driver": driver.name.split()[0] if driver is not None and driver.name.split() else "",
        },
    )  # fmt: skip
