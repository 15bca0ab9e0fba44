"""Twilio webhooks. The signature is checked in every environment; a bad one is a 403."""

from __future__ import annotations

import logging
from functools import wraps
from xml.sax.saxutils import escape

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from .inbound import inbound_receive, status_callback_record

logger = logging.getLogger(__name__)
MAX_BODY = 64 * 1024


def public_url(request: HttpRequest) -> str:
    # Twilio signs the URL it called, which is our public one, not what a proxy passed on to us.
    return settings.PUBLIC_BASE_URL + request.get_full_path()


def twilio_signed(view):
    @wraps(view)
    def checked(request: HttpRequest) -> HttpResponse:
        signature = request.headers.get("X-Twilio-Signature", "")
        if not signature or not settings.TWILIO_AUTH_TOKEN:
            return HttpResponseForbidden("Missing X-Twilio-Signature.", content_type="text/plain")
        if len(request.body) > MAX_BODY:
            return HttpResponse("Request body too large.", status=413, content_type="text/plain")
        if not RequestValidator(settings.TWILIO_AUTH_TOKEN).validate(public_url(request), request.POST, signature):
            logger.warning("rejected a webhook with a bad signature for %s", public_url(request))
            return HttpResponseForbidden("Invalid X-Twilio-Signature.", content_type="text/plain")
        return view(request)

    return checked


def _bad_request(message: str) -> HttpResponse:
    return HttpResponse(message, status=400, content_type="text/plain")


def twiml(reply: str) -> HttpResponse:
    message = f"<Message>{escape(reply)}</Message>" if reply else ""
    return HttpResponse(
        f'<?xml version="1.0" encoding="UTF-8"?><Response>{message}</Response>', content_type="application/xml"
    )


@csrf_exempt
@require_POST
@twilio_signed
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    data = request.POST
    missing = [name for name in ("MessageSid", "From", "To") if not data.get(name)]
    if missing:
        return _bad_request(f"Missing form field(s): {', '.join(missing)}.")
    result = inbound_receive(
        message_sid=data["MessageSid"][:64],
        from_number=data["From"][:20],
        to_number=data["To"][:20],
        body=data.get("Body", ""),
        messaging_service_sid=data.get("MessagingServiceSid", "")[:34],
    )
    return twiml(result.reply)


@csrf_exempt
@require_POST
@twilio_signed
def twilio_status(request: HttpRequest) -> HttpResponse:
    data = request.POST
    status = data.get("MessageStatus") or data.get("SmsStatus")
    if not data.get("MessageSid") or not status:
        return _bad_request("Missing form field(s): MessageSid and MessageStatus are required.")
    raw_id = request.GET.get("m", "")
    if raw_id and not raw_id.isdigit():
        return _bad_request("Query parameter m must be a message id.")
    status_callback_record(
        message_id=int(raw_id) if raw_id else None,
        message_sid=data["MessageSid"][:64],
        status=status[:20],
        error_code=data.get("ErrorCode", "")[:20],
    )
    return HttpResponse(status=204)
