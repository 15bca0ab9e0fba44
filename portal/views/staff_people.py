"""Staff fixing a family: edit or add a caregiver, mark a ride home, archive or restore a family,
merge two, and the list of new sign-ups.

Every object is looked up through a `*_for_user` selector, so another clinic's family is a 404.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from caregiver import selectors, services
from caregiver.models import Caregiver, LovedOne

from ..forms import StaffCaregiverForm
from ..people_forms import ArchiveForm, CaregiverEditForm, MergeForm, RenameForm
from .common import errors_to_form, posted
from .staff import _appointment, _family, staff_required

SIGN_UP_DAYS = (7, 14, 30)


def _caregiver(request: HttpRequest, pk: int) -> Caregiver:
    return get_object_or_404(selectors.caregivers_for_user(user=request.user), pk=pk)


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def caregiver_edit(request: HttpRequest, pk: int) -> HttpResponse:
    caregiver = _caregiver(request, pk)
    family = caregiver.loved_ones.order_by("pk").first()
    initial = {field: getattr(caregiver, field) for field in services.STAFF_EDITABLE}
    form = CaregiverEditForm(posted(request), initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.caregiver_staff_edit(caregiver=caregiver, by=request.user, **form.cleaned_data)
            except ValidationError as exc:
                errors_to_form(form, exc)
                status = 400
            else:
                messages.success(
                    request,
                    f"Saved {caregiver.name}'s details. A new number or email is asked to confirm; "
                    "nothing else goes to it until they do, and the old one gets nothing more.",
                )
                return redirect("portal:family", pk=family.pk) if family else redirect("portal:families")
        else:
            status = 400
    context = {"caregiver": caregiver, "family": family, "form": form}
    return render(request, "portal/staff/caregiver_edit.html", context, status=status)


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def caregiver_add(request: HttpRequest, pk: int) -> HttpResponse:
    family = _family(request, pk)
    form = StaffCaregiverForm(posted(request))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                caregiver = services.family_caregiver_add(loved_one=family, by=request.user, **form.cleaned_data)
            except ValidationError as exc:
                errors_to_form(form, exc, field_map={"first_name": "name"})
                status = 400
            else:
                messages.success(
                    request,
                    f"{caregiver.name} is added to {family.first_name}'s family and asked to confirm "
                    "(reply YES to the text, or open the emailed link); nothing else is sent until they do.",
                )
                return redirect("portal:family", pk=family.pk)
        else:
            status = 400
    return render(request, "portal/staff/caregiver_add.html", {"family": family, "form": form}, status=status)


@staff_required
@require_POST
def appointment_ride(request: HttpRequest, pk: int) -> HttpResponse:
    """Mark (or take back) the ride home from the family page."""
    appointment = _appointment(request, pk)
    action = request.POST.get("action", "")
    if action not in ("mark", "unmark"):
        return HttpResponseBadRequest("Say whether the ride home is arranged (mark) or not (unmark).")
    if not appointment.protocol.observed:
        messages.error(request, "This kind of appointment needs no ride home.")
    elif action == "mark":
        if appointment.status != appointment.Status.SCHEDULED:
            messages.error(request, f"This appointment is {appointment.get_status_display().lower()}.")
        else:
            services.appointment_mark_ride_arranged(appointment=appointment, user=request.user)
            messages.success(request, "The ride home is marked as arranged; the family's ride reminders stop.")
    else:
        services.appointment_unmark_ride(appointment=appointment, user=request.user)
        messages.success(request, "The ride home is marked as not arranged; the ride reminders come back.")
    return redirect(
        reverse("portal:family", kwargs={"pk": appointment.loved_one_id}) + f"#appointment-{appointment.pk}"
    )


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def family_rename(request: HttpRequest, pk: int) -> HttpResponse:
    family = _family(request, pk)
    form = RenameForm(posted(request), initial={"first_name": family.first_name})
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                renamed = services.loved_one_rename(
                    loved_one=family, first_name=form.cleaned_data["first_name"], by=request.user
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
                status = 400
            else:
                messages.success(request, f"Saved. Messages still to come call them {renamed.first_name}.")
                return redirect("portal:family", pk=family.pk)
        else:
            status = 400
    return render(request, "portal/staff/family_rename.html", {"family": family, "form": form}, status=status)


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def family_archive(request: HttpRequest, pk: int) -> HttpResponse:
    """Confirm page, then archive: everything for the family stops at once."""
    family = _family(request, pk)
    if family.archived_at is not None:
        messages.info(request, f"{family.first_name}'s family is already archived.")
        return redirect("portal:family", pk=family.pk)
    form = ArchiveForm(posted(request))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.family_archive(loved_one=family, reason=form.cleaned_data["reason"], by=request.user)
            except ValidationError as exc:
                errors_to_form(form, exc)
                status = 400
            else:
                messages.success(
                    request,
                    f"{family.first_name}'s family is archived. Everything scheduled for them is cancelled and "
                    "nothing more will be sent.",
                )
                return redirect("portal:family", pk=family.pk)
        else:
            status = 400
    upcoming = family.appointments.filter(status="scheduled", starts_at__gte=timezone.now()).count()
    context = {"family": family, "form": form, "upcoming": upcoming, "caregivers": family.caregivers.all()}
    return render(request, "portal/staff/family_archive.html", context, status=status)


@staff_required
@require_POST
def family_restore(request: HttpRequest, pk: int) -> HttpResponse:
    family = _family(request, pk)
    try:
        services.family_restore(loved_one=family, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(
            request,
            f"{family.first_name}'s family is restored. Caregivers get messages again as their consent allows; "
            "appointments cancelled by the archive stay cancelled.",
        )
    return redirect("portal:family", pk=family.pk)


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def family_merge(request: HttpRequest, pk: int) -> HttpResponse:
    """Choose the duplicate, see what will move, then merge."""
    keep = _family(request, pk)
    form = MergeForm(posted(request), keep=keep)
    preview = None
    status = 200
    if request.method == "POST":
        if form.is_valid():
            other: LovedOne = form.cleaned_data["other"]
            if request.POST.get("step") == "merge":
                try:
                    services.family_merge(keep=keep, merge=other, by=request.user)
                except ValidationError as exc:
                    errors_to_form(form, exc)
                    status = 400
                else:
                    messages.success(request, f"{other.first_name} (#{other.pk}) is merged into this family.")
                    return redirect("portal:family", pk=keep.pk)
            else:
                preview = selectors.family_merge_preview(keep=keep, merge=other)
        else:
            status = 400
    context = {"family": keep, "form": form, "preview": preview}
    return render(request, "portal/staff/family_merge.html", context, status=status)


@staff_required
@require_safe
def sign_ups(request: HttpRequest) -> HttpResponse:
    """Caregivers who signed themselves up lately, and whether they have confirmed."""
    days = request.GET.get("days", "14")
    if not days.isdigit() or int(days) not in SIGN_UP_DAYS:
        messages.error(request, f"Choose {', '.join(map(str, SIGN_UP_DAYS))} days; showing 14.")
        days = "14"
    rows = selectors.new_sign_ups_for_user(user=request.user, days=int(days), now=timezone.now())[:200]
    context = {"caregivers": rows, "days": int(days), "choices": SIGN_UP_DAYS}
    return render(request, "portal/staff/sign_ups.html", context)
