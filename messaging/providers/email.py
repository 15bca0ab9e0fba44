"""Email through Django's mail framework (SMTP in production), HTML and text, one-click unsubscribe."""

from __future__ import annotations

import smtplib
from email.utils import make_msgid

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from . import PermanentError, TransientError

# Authentication required (530), mechanism too weak (534), credentials invalid (535).
SMTP_AUTH_REFUSED = {530, 534, 535}


def email_send(*, to: str, subject: str, text: str, html: str, unsubscribe_url: str, message_id: str = "") -> str:
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
