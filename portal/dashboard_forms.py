"""The dashboard's period, as typed in the page's form or the API's query string."""

from __future__ import annotations

import re
from datetime import date, timedelta
from zoneinfo import ZoneInfo

from django import forms
from django.core.exceptions import ValidationError
from django.http import Http404, QueryDict
from django.utils import timezone

from caregiver.models import Clinic

from .dashboard import Period, dashboard_clinic, dashboard_clinics

DEFAULT_WEEKS = 12
# Two years of weeks is about 105 rows a chart: past that the charts say nothing a year would not.
MAX_DAYS = 2 * 366
EARLIEST = date(2020, 1, 1)


class IsoDateField(forms.DateField):
    """A date written YYYY-MM-DD in ASCII digits, as the date box sends it: strptime alone also
    takes 2026-1-1 and other scripts' digits, which the docs promise to refuse."""

    def to_python(self, value):
        if isinstance(value, str) and value.strip() and not ISO_DATE.fullmatch(value.strip()):
            raise ValidationError("Write the date as YYYY-MM-DD, for example 2026-12-01.", code="invalid")
        return super().to_python(value)


ISO_DATE = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}")


class DashboardPeriodForm(forms.Form):
    start = IsoDateField(
        required=False, label="From", input_formats=["%Y-%m-%d"], widget=forms.DateInput(attrs={"type": "date"})
    )
    end = IsoDateField(
        required=False, label="To", input_formats=["%Y-%m-%d"], widget=forms.DateInput(attrs={"type": "date"})
    )

    def __init__(self, data, *, today: date):
        super().__init__(data)
        self.today = today

    def clean(self) -> dict:
        data = super().clean()
        if self.errors:
            return data
        end = data.get("end") or self.today
        start = data.get("start") or (end - timedelta(days=end.weekday()) - timedelta(weeks=DEFAULT_WEEKS - 1))
        if start > end:
            raise ValidationError("“From” is after “To”: swap them.")
        if start < EARLIEST or end > self.today + timedelta(days=366):
            raise ValidationError(f"Choose dates between {EARLIEST:%Y-%m-%d} and a year from today.")
        if (end - start).days > MAX_DAYS:
            raise ValidationError("Choose at most two years at a time.")
        data["start"], data["end"] = start, end
        # The page's date boxes show the days used, defaults included.
        self.data = self.data.copy()
        self.data["start"], self.data["end"] = f"{start:%Y-%m-%d}", f"{end:%Y-%m-%d}"
        return data


def dashboard_query(*, user, query: QueryDict) -> tuple[list[Clinic], Clinic, DashboardPeriodForm]:
    """The user's clinics, the one asked for (404 if it is not theirs) and the period form, as the
    page, the CSV files and the API read them."""
    clinics = dashboard_clinics(user=user)
    clinic = dashboard_clinic(clinics=clinics, raw=query.get("clinic"))
    if clinic is None:
        raise Http404("No such clinic among yours.")
    today = timezone.localdate(timezone=ZoneInfo(clinic.time_zone))
    return clinics, clinic, DashboardPeriodForm(query, today=today)


def period_of(form: DashboardPeriodForm, clinic) -> Period:
    return Period.covering(start=form.cleaned_data["start"], end=form.cleaned_data["end"], time_zone=clinic.time_zone)
