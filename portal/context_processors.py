"""What every staff page's navigation shows."""

from __future__ import annotations

from django.http import HttpRequest

from messaging.selectors import inbox_waiting_count, open_alert_count


def staff_navigation(request: HttpRequest) -> dict[str, int]:
    """The counts of open crisis alerts and of conversations waiting for a reply, on staff pages
    only (two queries)."""
    if not request.path.startswith("/staff/") or not request.user.is_authenticated:
        return {}
    return {"open_alerts": open_alert_count(user=request.user), "inbox_waiting": inbox_waiting_count(user=request.user)}
