"""Email through Django's mail framework (SMTP in production), HTML and text, one-click unsubscribe,
and a reminder's appointment as an .ics a mail app can add to a calendar."""

from __future__ import annotations

import smtplib
from collections.abc import Sequence
from email import encoders
from email.mime.base import MIMEBase
from email.utils import make_msgid
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from caregiver.calendar import appointment_event, calendar_of

from . import PermanentError, TransientError

if TYPE_CHECKING:
    from ..models import OutboundMessage

# Authentication required (530), mechanism too weak (534), credentials invalid (535).
SMTP_AUTH_REFUSED = {530, 534, 535}


def calendar_attachment(ics: bytes, *, filename: str = "appointment.ics") -> MIMEBase:
    """An iCalendar file (METHOD:PUBLISH) as an attachment: text/calendar; method=PUBLISH; charset=utf-8."""
    # Built as a MIME part, not with attach(filename, content, mimetype): Django would put the
    # method and charset parameters into the subtype.
    part = MIMEBase("text", "calendar", method="PUBLISH", charset="utf-8")
    part.set_payload(ics)
    encoders.encode_base64(part)
    part.add_header("Content-Disposition", "attachment", filename=filename)
    return part


def outbox_attachments(message: OutboundMessage) -> list[MIMEBase]:
    """What an outbox email carries besides its words: a reminder's appointment, as the same event
    the caregiver's calendar feed serves (caregiver.calendar), so the two never disagree."""
    if message.kind != "reminder" or message.channel != "email" or message.appointment_id is None:
        return []
    language = message.caregiver.language if message.caregiver_id else "en"
    ics = calendar_of([appointment_event(message.appointment, language=language)], method="PUBLISH")
    return [calendar_attachment(ics)]


def email_send(
    *,
    to: str,
    subject: str,
    text: str,
    html: str,
    unsubscribe_url: str,
    message_id: str = "",
    attachments: Sequence[MIMEBase] = (),
) -> str:
    """Send one email; returns its Message-ID. Re-sending with the same id lets mail systems dedupe."""
    message_id = message_id or make_msgid(domain=settings.EMAIL_MESSAGE_ID_DOMAIN)
    headers = {"Message-ID": message_id}
    if unsubscribe_url:
        # RFC 8058 one-click: mail apps POST "List-Unsubscribe=One-Click" to the URL.
        headers["List-Unsubscribe"] = f"<{unsubscribe_url}>"
        headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
    email = EmailMultiAlternatives(subject=subject, body=text, to=[to], headers=headers)
    if html:
        email.attach_alternative(html, "text/html")
    for attachment in attachments:
        email.attach(attachment)
    try:
        email.send(fail_silently=False)
    except smtplib.SMTPRecipientsRefused as exc:
        raise PermanentError(f"recipient refused: {exc.recipients}", code="recipient_refused") from exc
    except smtplib.SMTPResponseException as exc:
        if exc.smtp_code in SMTP_AUTH_REFUSED:
            # Our SMTP login was refused (a changed password): every email would fail the same way.
            raise TransientError(
                f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", code=f"smtp_{exc.smtp_code}", account_refused=True
            ) from exc
        if 500 <= exc.smtp_code < 600:
            raise PermanentError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", code=str(exc.smtp_code)) from exc
        raise TransientError(f"SMTP {exc.smtp_code}: {exc.smtp_error!r}", code=str(exc.smtp_code)) from exc
    except (TimeoutError, smtplib.SMTPException, OSError) as exc:
        raise TransientError(f"SMTP unavailable: {exc}", code="smtp_unavailable") from exc
    return message_id
