"""Crisis alerts and texts for clinic staff, and the one-click acknowledgement link that on-call
contacts get by email and SMS (they need not have a staff login)."""

from __future__ import annotations

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from messaging import alerts, selectors
from messaging.models import CrisisAlert

from .common import errors_to_form, posted
from .staff import staff_required

TEXT_FILTERS = {"": "All texts", "unknown": "Unknown numbers", "review": "May be opt-outs", "crisis": "Crisis"}


class CloseForm(forms.Form):
    note = forms.CharField(
        label="What was done",
        max_length=2000,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="For example: called the caregiver, the patient is safe with family tonight.",
    )


def _alert(request: HttpRequest, pk: int) -> CrisisAlert:
    return get_object_or_404(selectors.crisis_alerts_for_user(user=request.user), pk=pk)


@staff_required
@require_safe
def alert_list(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.crisis_alerts_for_user(user=request.user), 50).get_page(request.GET.get("page"))
    return render(request, "portal/staff/alerts.html", {"page": page})


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def alert_detail(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _alert(request, pk)
    form = CloseForm(posted(request))
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                alerts.crisis_alert_close(
                    alert_id=alert.pk, by=request.user, note=form.cleaned_data["note"], now=timezone.now()
                )
            except ValidationError as exc:
                errors_to_form(form, exc)
                status = 400
            else:
                messages.success(request, "The alert is closed, with your note.")
                return redirect("portal:alert", pk=alert.pk)
        else:
            status = 400
    context = {
        "alert": alert,
        "form": form,
        "state": selectors.alert_state_text(alert),
        "notifications": alert.notifications.order_by("send_at", "id"),
        "same_person": alerts.crisis_alerts_same_person(alert),
        "family": alert.caregiver.loved_ones.order_by("pk").first() if alert.caregiver else None,
    }
    return render(request, "portal/staff/alert.html", context, status=status)


@staff_required
@require_POST
def alert_acknowledge(request: HttpRequest, pk: int) -> HttpResponse:
    alert = _alert(request, pk)
    was_open = alert.status == CrisisAlert.Status.OPEN
    alert = alerts.crisis_alert_acknowledge(
        alert_id=alert.pk, by=request.user, now=timezone.now(), also=_shown(request)
    )
    if was_open:
        messages.success(request, "Acknowledged: nobody else will be alerted for it. Close it with a note when done.")
    else:
        messages.info(request, f"Already acknowledged by {alert.acknowledged_by_name or 'someone'}.")
    return redirect("portal:alert", pk=alert.pk)


@require_http_methods(["GET", "HEAD", "POST"])
def alert_ack_link(request: HttpRequest, token: str) -> HttpResponse:
    """The link in an alert's email and SMS. Opening it shows the text; the button acknowledges, so
    a mail scanner that opens links acknowledges nothing."""
    found = alerts.ack_token_read(token)
    alert = selectors.crisis_alert_for_link(alert_id=found[0]) if found else None
    if alert is None:
        return render(request, "portal/alert_link.html", {"invalid": True}, status=404)
    if request.method == "POST":
        alert = alerts.crisis_alert_acknowledge(
            alert_id=alert.pk, contact_id=found[1], now=timezone.now(), also=_shown(request)
        )
    context = {
        "alert": alert,
        "state": selectors.alert_state_text(alert),
        "same_person": alerts.crisis_alerts_same_person(alert) if alert.status == CrisisAlert.Status.OPEN else [],
    }
    return render(request, "portal/alert_link.html", context)


def _shown(request: HttpRequest) -> list[int]:
    """The person's other alerts the page showed (their ids, posted back): only those are covered."""
    return [int(pk) for pk in request.POST.getlist("also") if pk.isdigit()]


@staff_required
@require_safe
def texts(request: HttpRequest) -> HttpResponse:
    show = request.GET.get("show", "")
    if show not in TEXT_FILTERS:
        show = ""
    rows = selectors.inbound_for_user(user=request.user, show=show)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    return render(request, "portal/staff/texts.html", {"page": page, "show": show, "filters": TEXT_FILTERS})
