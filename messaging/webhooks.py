"""Twilio webhooks. The signature is checked in every environment; a bad one is a 403."""

from __future__ import annotations

import hmac
import logging
from functools import wraps
from urllib.parse import parse_qs
from xml.sax.saxutils import escape

from django.conf import settings
from django.http import HttpRequest, HttpResponse, HttpResponseForbidden
from django.utils.datastructures import MultiValueDict
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST
from twilio.request_validator import RequestValidator

from .callbacks import status_callback_record
from .inbound import inbound_receive

logger = logging.getLogger(__name__)
MAX_BODY = 64 * 1024


def public_url(request: HttpRequest) -> str:
    # Twilio signs the URL it called, which is our public one, not what a proxy passed on to us.
    return settings.PUBLIC_BASE_URL + request.get_full_path()


def twilio_form(request: HttpRequest) -> MultiValueDict:
    """The form Twilio posted, with the same values (and last-value get()) as request.POST.

    Django's QueryDict costs some 25 Python calls a field (mutability checks, re-decoding each
    value); Twilio posts about 20 fields to every webhook, so the standard library's parser fills
    a plain MultiValueDict instead. Raises ValueError for more than DATA_UPLOAD_MAX_NUMBER_FIELDS.
    """
    if request.content_type != "application/x-www-form-urlencoded":
        return request.POST
    encoding = request.encoding or settings.DEFAULT_CHARSET
    try:
        body = request.body.decode(encoding)
    except UnicodeDecodeError:  # as Django's QueryDict does
        body = request.body.decode("iso-8859-1")
    fields = parse_qs(
        body, keep_blank_values=True, encoding=encoding, max_num_fields=settings.DATA_UPLOAD_MAX_NUMBER_FIELDS
    )
    return MultiValueDict(fields)


def signed_by_twilio(request: HttpRequest, form: MultiValueDict, signature: str) -> bool:
    validator = RequestValidator(settings.TWILIO_AUTH_TOKEN)
    url = public_url(request)
    # Twilio signs the URL as we publish it, so try that first: one HMAC. The library's check
    # also tries it with and without the port (two more), for the proxies that change it.
    exact = validator.compute_signature(url, form)
    return hmac.compare_digest(exact, signature) or validator.validate(url, form, signature)


def twilio_signed(view):
    """Refuse anything Twilio did not sign; the view gets the form as a second argument."""

    @wraps(view)
    def checked(request: HttpRequest) -> HttpResponse:
        signature = request.META.get("HTTP_X_TWILIO_SIGNATURE", "")
        if not signature or not settings.TWILIO_AUTH_TOKEN:
            return HttpResponseForbidden("Missing X-Twilio-Signature.", content_type="text/plain")
        if len(request.body) > MAX_BODY:
            return HttpResponse("Request body too large.", status=413, content_type="text/plain")
        try:
            form = twilio_form(request)
        except ValueError:
            return _bad_request("Too many form fields.")
        if not signed_by_twilio(request, form, signature):
            logger.warning("rejected a webhook with a bad signature for %s", public_url(request))
            return HttpResponseForbidden("Invalid X-Twilio-Signature.", content_type="text/plain")
        return view(request, form)

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
def twilio_inbound(request: HttpRequest, data: MultiValueDict) -> HttpResponse:
    missing = [name for name in ("MessageSid", "From", "To") if not data.get(name)]
    if missing:
        return _bad_request(f"Missing form field(s): {', '.join(missing)}.")
    if any("\x00" in value for values in data.lists() for value in values[1]):
        # PostgreSQL refuses NUL in text; a 500 would make Twilio retry it forever.
        return _bad_request("Form fields must not contain NUL characters.")
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
def twilio_status(request: HttpRequest, data: MultiValueDict) -> HttpResponse:
    status = data.get("MessageStatus") or data.get("SmsStatus")
    if not data.get("MessageSid") or not status:
        return _bad_request("Missing form field(s): MessageSid and MessageStatus are required.")
    raw_id = request.GET.get("m", "")
    # isdigit() alone accepts "²" and "٣"; more than 18 digits overflows a bigint.
    if raw_id and not (raw_id.isascii() and raw_id.isdigit() and len(raw_id) <= 18):
        return _bad_request("Query parameter m must be a message id.")
    status_callback_record(
        message_id=int(raw_id) if raw_id else None,
        message_sid=data["MessageSid"][:64],
        status=status[:20],
        error_code=data.get("ErrorCode", "")[:20],
    )
    return HttpResponse(status=204)
