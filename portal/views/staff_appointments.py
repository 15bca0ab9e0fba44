"""Staff pages for appointments in bulk: the appointments import for families the clinic already
has, and a CSV template for each import."""

from __future__ import annotations

from django.http import Http404, HttpRequest, HttpResponse
from django.views.decorators.http import require_GET, require_http_methods

from caregiver import services

from .imports import import_flow
from .staff import staff_required


@staff_required
@require_http_methods(["GET", "POST"])
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
@require_GET
def import_template(request: HttpRequest, kind: str) -> HttpResponse:
    """A CSV with the columns an import reads and example rows, to fill in a spreadsheet."""
    if kind not in TEMPLATES:
        raise Http404("There is no such import.")
    columns, example = TEMPLATES[kind]
    response = HttpResponse(services.csv_template(columns, example), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="alongside-{kind}-template.csv"'
    return response
