"""Pages a caregiver reaches from an email: one-click unsubscribe (RFC 8058)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.csrf import csrf_exempt

from caregiver import services as caregiver_services
from caregiver.models import Caregiver, ConsentRecord

from .rendering import unsubscribe_caregiver_id


@csrf_exempt  # the signed token in the URL is the authority; mail apps POST without a CSRF token
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    caregiver_id = unsubscribe_caregiver_id(token)
    caregiver = Caregiver.objects.filter(pk=caregiver_id).first() if caregiver_id else None
    if caregiver is None:
        return render(request, "messaging/unsubscribe.html", {"invalid": True}, status=404)
    if request.method == "POST":
        caregiver_services.caregiver_opt_out(
            caregiver=caregiver,
            channel=ConsentRecord.Channel.EMAIL,
            source=ConsentRecord.Source.EMAIL,
            ip_address=request.META.get("REMOTE_ADDR"),
        )
        return render(request, "messaging/unsubscribe.html", {"done": True, "caregiver": caregiver})
    if request.method != "GET":
        return HttpResponse("Use GET to see this page or POST to unsubscribe.", status=405, content_type="text/plain")
    return render(request, "messaging/unsubscribe.html", {"caregiver": caregiver})
