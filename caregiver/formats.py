"""Times and days as people read them, in the active language: one definition for texts, emails,
pages and calendar events ("9:30 AM", "9:30 a. m."; "Tuesday, December 8", "martes 8 de diciembre")."""

from __future__ import annotations

from datetime import datetime, time

from django.utils import dateformat
from django.utils.translation import pgettext


def clock(moment: time | datetime) -> str:
    """9:30 AM; in Spanish 9:30 a. m. (the active language)."""
    hour = f"{moment.hour % 12 or 12}:{moment.minute:02d}"
    if moment.hour < 12:
        # Translators: a time of day before noon; %(time)s is like 9:30.
        return pgettext("clock", "%(time)s AM") % {"time": hour}
    # Translators: a time of day from noon on; %(time)s is like 9:30.
    return pgettext("clock", "%(time)s PM") % {"time": hour}


def long_day(local: datetime) -> str:
    """Tuesday, December 8; in Spanish martes 8 de diciembre (Django's day and month names)."""
    return dateformat.format(local, pgettext("date format: weekday, month and day", "l, F j"))
