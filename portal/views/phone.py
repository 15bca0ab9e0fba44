"""The phone on the page, `/dev/phone/`: local settings only (a 404 anywhere else).

A newcomer after `make run` reads each demo number's texts as a conversation and replies (YES,
STOP, HELP, PREFS, RIDE, a crisis text) through the real signed webhook (messaging.phone).
"""

from __future__ import annotations

from django.conf import settings
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from caregiver.models import Caregiver, LovedOne
from messaging.phone import (
    family_next_send,
    phone_caregivers,
    phone_conversation,
    phone_next_waiting,
    phone_text_send,
)

QUICK_REPLIES = ["YES", "STOP", "START", "HELP", "PREFS", "RIDE", "I'm scared they might hurt themselves tonight"]


def _local_only() -> None:
    if not settings.DEV_PHONE:
        raise Http404("The phone is only on a developer's machine.")


def _page(caregiver_id: int) -> str:
    return f"{reverse('portal:dev-phone')}?c={caregiver_id}#latest"


@require_http_methods(["GET", "HEAD", "POST"])
def phone(request: HttpRequest) -> HttpResponse:
    _local_only()
    people = list(phone_caregivers())
    raw = request.POST.get("caregiver") if request.method == "POST" else request.GET.get("c")
    chosen = next((c for c in people if str(c.pk) == raw), None)
    if chosen is None and raw and raw.isdigit():
        # Anyone with a number, not only the latest shown: a reply must never go out as someone else.
        chosen = Caregiver.objects.filter(pk=int(raw)).exclude(phone="").first()
    if raw and chosen is None:
        messages.error(request, "That number is not on this phone's list; pick one below.")
        if request.method == "POST":
            return redirect("portal:dev-phone")  # sent as nobody, rather than as the first on the list
    chosen = chosen or (people[0] if people else None)
    if request.method == "POST":
        if chosen is None:
            return redirect("portal:dev-phone")
        try:
            phone_text_send(caregiver=chosen, body=request.POST.get("body", ""), host=request.get_host())
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        return redirect(_page(chosen.pk))
    context = {
        "people": people,
        "chosen": chosen,
        "texts": phone_conversation(caregiver=chosen) if chosen else [],
        "waiting": phone_next_waiting(caregiver=chosen) if chosen else None,
        "families": list(chosen.loved_ones.all()) if chosen else [],
        "quick_replies": QUICK_REPLIES,
    }
    return render(request, "portal/dev/phone.html", context)


@require_POST
def phone_family_send_next(request: HttpRequest, pk: int) -> HttpResponse:
    _local_only()
    loved_one = get_object_or_404(LovedOne, pk=pk)
    claimed, outcomes = family_next_send(loved_one=loved_one, now=timezone.now())
    summary = ", ".join(f"{count} {kind}" for kind, count in sorted(outcomes.items())) or "nothing was due"
    messages.success(request, f"{loved_one.first_name}'s family: {claimed} message(s) sent now ({summary}).")
    back = request.POST.get("caregiver", "")
    return redirect(_page(int(back)) if back.isdigit() else reverse("portal:dev-phone"))
