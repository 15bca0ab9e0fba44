"""Pages a caregiver reaches from an email: one-click unsubscribe (RFC 8058)."""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext
from django.views.decorators.csrf import csrf_exempt

from caregiver import services as caregiver_services
from caregiver.models import Caregiver, ConsentRecord
from caregiver.tokens import address_fingerprint, unsubscribe_link
from config.middleware import use_language


@csrf_exempt  # the signed token in the URL is the authority; mail apps POST without a CSRF token
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    link = unsubscribe_link(token)
    caregiver = Caregiver.objects.filter(pk=link[0]).first() if link else None
    if caregiver is None:
        return render(request, "messaging/unsubscribe.html", {"invalid": True}, status=404)
    if link[1] is not None and link[1] != address_fingerprint(caregiver.email):
        # Sent to an address this caregiver no longer has: it stops nothing, and shows nothing of theirs.
        return render(request, "messaging/unsubscribe.html", {"elsewhere": True})
    use_language(request, caregiver.language)
    if request.method == "POST":
        caregiver_services.caregiver_opt_out(
            caregiver=caregiver,
            channel=ConsentRecord.Channel.EMAIL,
            source=ConsentRecord.Source.EMAIL,
            ip_address=request.META.get("REMOTE_ADDR"),
        )
        return render(request, "messaging/unsubscribe.html", {"done": True, "caregiver": caregiver})
    if request.method != "GET":
        return HttpResponse(
            gettext("Use GET to see this page or POST to unsubscribe."), status=405, content_type="text/plain"
        )
    return render(request, "messaging/unsubscribe.html", {"caregiver": caregiver})
