"""The staff dashboard, /staff/dashboard/: one clinic's figures week by week, each a chart with its
table, and each table as a CSV file (/staff/dashboard/<figure>.csv)."""

from __future__ import annotations

import csv
import io
import re
from datetime import date

from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.utils import timezone
from django.utils.http import urlencode
from django.views.decorators.http import require_safe

from ..charts import cell_text, chart_svg, legend
from ..dashboard import FIGURES, Figure, dashboard_figures
from ..dashboard_forms import dashboard_query, period_of
from .staff import staff_required

# A spreadsheet runs a cell that starts with one of these as a formula.
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


@staff_required
@require_safe
def dashboard(request: HttpRequest) -> HttpResponse:
    clinics, clinic, form = dashboard_query(user=request.user, query=request.GET)
    context = {"clinics": clinics, "clinic": clinic, "form": form}
    if not form.is_valid():
        return render(request, "portal/staff/dashboard.html", context, status=400)
    period = period_of(form, clinic)
    query = urlencode(
        {
            "start": f"{form.cleaned_data['start']:%Y-%m-%d}",
            "end": f"{form.cleaned_data['end']:%Y-%m-%d}",
            "clinic": clinic.pk,
        }
    )
    charts = []
    for key, figure in dashboard_figures(clinic=clinic, period=period, now=timezone.now()).items():
        charts.append(
            {
                "figure": figure,
                "svg": chart_svg(figure, chart_id=f"chart-{key}"),
                "legend": legend(figure),
                "rows": [[cell_text(c, row.get(c.key)) for c in figure.columns] for row in figure.rows],
                "csv": f"{reverse('portal:dashboard-csv', kwargs={'figure': key})}?{query}",
            }
        )
    context.update({"period": period, "charts": charts})
    return render(request, "portal/staff/dashboard.html", context)


def csv_cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str) and value.startswith(FORMULA_START):
        return "'" + value
    return value


def figure_csv(figure: Figure) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(figure.labels)
    for cells in figure.cells():
        writer.writerow([csv_cell(v) for v in cells])
    return out.getvalue()


@staff_required
@require_safe
def dashboard_csv(request: HttpRequest, figure: str) -> HttpResponse:
    if figure not in FIGURES:
        raise Http404("No such chart.")
    _, clinic, form = dashboard_query(user=request.user, query=request.GET)
    if not form.is_valid():
        return HttpResponse(
            " ".join(m for ms in form.errors.values() for m in ms), status=400, content_type="text/plain; charset=utf-8"
        )
    period = period_of(form, clinic)
    found = dashboard_figures(clinic=clinic, period=period, now=timezone.now(), only=figure)[figure]
    name = re.sub(r"[^a-z0-9-]+", "-", f"{clinic.slug}-{figure}-{period.first:%Y-%m-%d}-to-{period.sunday:%Y-%m-%d}")
    response = HttpResponse(figure_csv(found), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}.csv"'
    return response
