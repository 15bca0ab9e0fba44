"""GET /api/v1/dashboard/: the staff dashboard's figures as JSON, from the same reads as the page
(portal/dashboard.py), with the staff API's authentication, throttle and clinic scoping."""

from __future__ import annotations

from datetime import date

from django.http import Http404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import exceptions
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from content.api import BadParameter, ErrorSerializer

from .api import ERRORS, IsClinicStaff, StaffApiThrottle, StaffSessionAuthentication, StaffTokenAuthentication
from .dashboard import Figure, dashboard_figures
from .dashboard_forms import dashboard_query, period_of

PARAMETERS = ("start", "end", "clinic", "format")


def figure_json(figure: Figure) -> dict:
    return {
        "title": figure.title,
        "definition": figure.definition,
        "columns": [{"key": c.key, "label": c.label, "kind": c.kind} for c in figure.columns],
        "rows": [{k: v.isoformat() if isinstance(v, date) else v for k, v in row.items()} for row in figure.rows],
        **({"reference": figure.reference} if figure.reference is not None else {}),
    }


class DashboardView(APIView):
    authentication_classes = [StaffTokenAuthentication, StaffSessionAuthentication]
    permission_classes = [IsClinicStaff]
    throttle_classes = [StaffApiThrottle]

    def permission_denied(self, request: Request, message: str | None = None, code: str | None = None) -> None:
        if request.user is None or not request.user.is_authenticated:
            raise exceptions.NotAuthenticated("Log in, or send a staff API token: `Authorization: Token <key>`.")
        super().permission_denied(request, message, code)

    @extend_schema(
        tags=["staff"],
        summary="The dashboard's figures for one clinic, week by week",
        description=(
            "Weeks start on Monday in the clinic's time zone; `start` and `end` (YYYY-MM-DD, default the last 12 "
            "weeks, at most two years) are widened to whole weeks. `clinic` is one of your clinics' ids (default "
            "the first by name). Each figure has its definition, its columns and a row per week (tips: per tip)."
        ),
        parameters=[
            OpenApiParameter("start", OpenApiTypes.DATE, description="First day (its whole week is included)."),
            OpenApiParameter("end", OpenApiTypes.DATE, description="Last day (its whole week is included)."),
            OpenApiParameter("clinic", OpenApiTypes.INT, description="One of your clinics' ids."),
        ],
        responses={
            200: OpenApiTypes.OBJECT,
            400: OpenApiResponse(ErrorSerializer, description="A date that is not YYYY-MM-DD, or a range to fix."),
            404: OpenApiResponse(ErrorSerializer, description="Not one of your clinics (or it does not exist)."),
            **ERRORS,
        },
    )
    def get(self, request: Request) -> Response:
        for name in request.query_params:
            if name not in PARAMETERS:
                raise BadParameter(name, f"“{name}” is not a query parameter here. Use: start, end, clinic.")
        for name in ("start", "end"):
            if name in request.query_params and not request.query_params[name].strip():
                raise BadParameter(name, f"“{name}” is empty: give a date (YYYY-MM-DD), or leave it out.")
        try:
            _, clinic, form = dashboard_query(user=request.user, query=request.query_params)
        except Http404:
            raise exceptions.NotFound("There is no clinic with this id among yours.") from None
        if not form.is_valid():
            name, messages = next(iter(form.errors.items()))
            raise BadParameter("start" if name == "__all__" else name, " ".join(messages))
        period = period_of(form, clinic)
        figures = dashboard_figures(clinic=clinic, period=period, now=timezone.now())
        return Response(
            {
                "clinic": {"id": clinic.pk, "name": clinic.name, "time_zone": clinic.time_zone},
                "start": period.first.isoformat(),
                "end": period.sunday.isoformat(),
                "weeks": [week.isoformat() for week in period.weeks],
                "figures": {key: figure_json(figure) for key, figure in figures.items()},
            }
        )
