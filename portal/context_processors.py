"""What every staff page's navigation shows."""

from __future__ import annotations

from django.http import HttpRequest

from messaging.selectors import open_alert_count


def staff_navigation(request: HttpRequest) -> dict[str, int]:
    """The count of open crisis alerts, on staff pages only (one query)."""
    if not request.path.startswith("/staff/") or not request.user.is_authenticated:
        return {}
    return {"open_alerts": open_alert_count(user=request.user)}
