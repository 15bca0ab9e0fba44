"""The "Was this helpful?" links in a tip email (messaging/feedback.py).

One click records the answer and shows a page that thanks them and offers the other answer.
Mail scanners open links too: the latest answer wins, so the person's own click after a scan
stands, and a scan of both links in a row leaves no answer and a page asking which they meant.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from django.views.decorators.http import require_http_methods

from messaging import feedback
from messaging.models import TipResponse

from .common import use_language

# The page's two buttons: the words of the email's links (messaging.feedback.LINK_WORDS), in the
# caregiver's language. Nothing about what the tip was about, or what the care is.
ANSWER_WORDS = {TipResponse.Value.HELPFUL: _("Yes, it helped"), TipResponse.Value.NOT_FOR_ME: _("Not for me")}


@require_http_methods(["GET", "HEAD", "POST"])
def tip_feedback(request: HttpRequest, token: str) -> HttpResponse:
    link = feedback.feedback_link(token)
    message = feedback.tip_message_for_link(dedupe_key=link[0]) if link else None
    if message is None:
        # Tampered with, more than 30 days old, or for a message that never went out.
        return render(request, "portal/tip_feedback.html", {"invalid": True}, status=404)
    use_language(request, message.caregiver.language)
    now = timezone.now()
    if request.method == "POST":
        value = request.POST.get("value", "")
        if value not in TipResponse.Value.values:
            context = {"tip": message.tip, "choices": _choices(), "problem": gettext("Choose one of the two answers.")}
            return render(request, "portal/tip_feedback.html", context, status=400)
        response = feedback.tip_response_record(message=message, value=value, now=now)
    elif request.method == "HEAD":
        response = None  # a HEAD asks nothing of us: link checkers use it
    else:
        response = feedback.link_answer(message=message, value=link[1], now=now)
    return render(
        request,
        "portal/tip_feedback.html",
        {"tip": message.tip, "response": response, "choices": _choices(exclude=response.value if response else "")},
    )


def _choices(exclude: str = "") -> list[tuple[str, str]]:
    return [(value, ANSWER_WORDS[value]) for value in TipResponse.Value.values if value != exclude]
