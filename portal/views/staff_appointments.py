"""Staff pages for appointments in bulk: the appointments import for families the clinic already
has, and a CSV template for each import."""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from caregiver import selectors, services

from ..forms import ClosureForm
from .common import errors_to_form, posted
from .imports import import_flow
from .staff import staff_required


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def appointment_import(request: HttpRequest) -> HttpResponse:
    """Appointments for families already enrolled, from a CSV file (see appointment_import)."""
    return import_flow(
        request,
        read=services.appointment_import_read,
        run=services.appointment_import,
        session_key="staff_appointment_import",
        template="portal/staff/import_appointments.html",
        context={"columns": services.APPOINTMENT_COLUMNS},
        describe=lambda r: (
            f"{r.appointments} appointment{'s' if r.appointments != 1 else ''} for "
            f"{r.families} famil{'ies' if r.families != 1 else 'y'}"
        ),
        done_note="Reminders are planned for each.",
        redirect_to="portal:families",
    )


TEMPLATES = {
    "families": (services.IMPORT_COLUMNS, services.IMPORT_EXAMPLE),
    "appointments": (services.APPOINTMENT_COLUMNS, services.APPOINTMENT_EXAMPLE),
}


@staff_required
@require_safe
def import_template(request: HttpRequest, kind: str) -> HttpResponse:
    """A CSV with the columns an import reads and example rows, to fill in a spreadsheet."""
    if kind not in TEMPLATES:
        raise Http404("There is no such import.")
    columns, example = TEMPLATES[kind]
    response = HttpResponse(services.csv_template(columns, example), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="alongside-{kind}-template.csv"'
    return response


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def closures(request: HttpRequest) -> HttpResponse:
    """The clinic's coming closure days (holidays): the course planner moves sessions off them."""
    clinics = selectors.clinics_for_user(user=request.user)
    form = ClosureForm(posted(request), clinics=clinics)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            data = form.cleaned_data
            try:
                services.clinic_closure_add(clinic=data["clinic"], day=data["day"], note=data["note"], by=request.user)
            except ValidationError as exc:
                errors_to_form(form, exc)
                status = 400
            else:
                messages.success(
                    request, f"Closed on {data['day']:%a %b} {data['day'].day}: courses planned from now on skip it."
                )
                return redirect("portal:closures")
        else:
            status = 400
    rows = selectors.closures_for_user(user=request.user, since=timezone.localdate())
    return render(request, "portal/staff/closures.html", {"form": form, "closures": rows}, status=status)


@staff_required
@require_POST
def closure_remove(request: HttpRequest, pk: int) -> HttpResponse:
    closure = get_object_or_404(selectors.closures_for_user(user=request.user, since=timezone.localdate()), pk=pk)
    services.clinic_closure_remove(closure=closure, by=request.user)
    messages.success(request, f"{closure.day:%a %b} {closure.day.day} is an open day again.")
    return redirect("portal:closures")
