"""The dashboard's period, as typed in the page's form or the API's query string."""

from __future__ import annotations

from datetime import date, timedelta

from django import forms
from django.core.exceptions import ValidationError

DEFAULT_WEEKS = 12
# Two years of weeks is about 105 rows a chart: past that the charts say nothing a year would not.
MAX_DAYS = 2 * 366
EARLIEST = date(2020, 1, 1)


class DashboardPeriodForm(forms.Form):
    start = forms.DateField(
        required=False, label="From", input_formats=["%Y-%m-%d"], widget=forms.DateInput(attrs={"type": "date"})
    )
    end = forms.DateField(
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
        return data
