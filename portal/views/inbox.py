"""The staff inbox: conversations with caregivers (and numbers we don't know), replies, saved replies."""

from __future__ import annotations

import uuid

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from caregiver import selectors as caregiver_selectors
from messaging import inbox, selectors
from messaging.models import Conversation, SavedReply

from .common import errors_to_form, posted
from .staff import staff_required

CHANNEL_LABELS = {"sms": "Text message", "email": "Email"}


class ReplyForm(forms.Form):
    text = forms.CharField(
        label="Your reply",
        max_length=inbox.REPLY_MAX_CHARS,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="It goes out at once, signed with the clinic's name. Don't name the treatment or a medicine.",
    )
    channel = forms.ChoiceField(label="Send by", choices=(), widget=forms.RadioSelect, required=False)
    key = forms.CharField(widget=forms.HiddenInput, required=False)

    def __init__(self, *args, channels: dict[str, str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        usable = [(name, CHANNEL_LABELS[name]) for name, problem in channels.items() if not problem]
        self.fields["channel"].choices = usable
        if len(usable) < 2:
            self.fields["channel"].widget = forms.HiddenInput()
        if usable and not self.is_bound:
            self.initial.setdefault("channel", usable[0][0])
        self.initial.setdefault("key", uuid.uuid4().hex)


class SavedReplyForm(forms.Form):
    title = forms.CharField(label="Name", max_length=60, help_text="For example: “We'll call you back”.")
    body = forms.CharField(label="Reply", max_length=640, widget=forms.Textarea(attrs={"rows": 4}))


def _conversation(request: HttpRequest, pk: int) -> Conversation:
    return get_object_or_404(selectors.conversations_for_user(user=request.user, show="all"), pk=pk)


@staff_required
@require_safe
def inbox_list(request: HttpRequest) -> HttpResponse:
    show = request.GET.get("show", "")
    if show not in selectors.INBOX_FILTERS:
        show = ""
    rows = selectors.conversations_for_user(user=request.user, show=show)
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    context = {
        "page": page, "show": show, "filters": selectors.INBOX_FILTERS,
        "pinned": selectors.inbox_pinned_alerts(user=request.user),
    }  # fmt: skip
    return render(request, "portal/staff/inbox.html", context)


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def conversation(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(request, pk)
    now = timezone.now()
    channels = inbox.reply_channels(conversation=conversation, now=now)
    saved = SavedReply.objects.filter(clinic=conversation.clinic)
    initial = {}
    chosen = request.GET.get("saved", "")
    if chosen.isdigit():
        found = saved.filter(pk=int(chosen)).first()
        if found is not None:
            initial["text"] = found.body
    form = ReplyForm(posted(request), channels=channels, initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                message = inbox.conversation_reply(
                    conversation_id=conversation.pk, text=form.cleaned_data["text"], by=request.user, now=now,
                    channel=form.cleaned_data["channel"], key=form.cleaned_data["key"],
                    handled="send_and_handle" in request.POST,
                )  # fmt: skip
            except ValidationError as exc:
                errors_to_form(form, exc)
                status = 400
            else:
                how = CHANNEL_LABELS[message.channel].lower()
                done = " The conversation is marked handled." if "send_and_handle" in request.POST else ""
                messages.success(request, f"Your reply is on its way by {how}.{done}")
                return redirect("portal:conversation", pk=conversation.pk)
        else:
            status = 400
    context = {
        "conversation": conversation,
        "thread": selectors.conversation_thread(conversation=conversation),
        "form": form,
        "blocked": [problem for problem in channels.values() if problem],
        "can_reply": any(not problem for problem in channels.values()),
        "saved_replies": saved,
        "staff": inbox.clinic_staff(clinic=conversation.clinic),
        "family": conversation.caregiver.loved_ones.order_by("pk").first() if conversation.caregiver else None,
        "alerts": selectors.conversation_alerts(conversation=conversation),
    }
    return render(request, "portal/staff/conversation.html", context, status=status)


@staff_required
@require_POST
def conversation_assign(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(request, pk)
    raw = request.POST.get("assigned_to", "")
    to = None
    if raw == "me":
        to = request.user
    elif raw.isdigit():
        to = inbox.clinic_staff(clinic=conversation.clinic).filter(pk=int(raw)).first()
        if to is None:
            messages.error(request, "Choose someone on this clinic's staff.")
            return redirect("portal:conversation", pk=conversation.pk)
    elif raw:
        messages.error(request, "Choose someone on this clinic's staff.")
        return redirect("portal:conversation", pk=conversation.pk)
    conversation = inbox.conversation_assign(
        conversation_id=conversation.pk, to=to, by=request.user, now=timezone.now()
    )
    if to is None:
        messages.success(request, "Nobody has it now: it is open for anyone.")
    elif to == request.user:
        messages.success(request, "It's yours.")
    else:
        messages.success(request, f"Assigned to {to.get_full_name() or to.get_username()}.")
    return redirect("portal:conversation", pk=conversation.pk)


@staff_required
@require_POST
def conversation_handle(request: HttpRequest, pk: int) -> HttpResponse:
    conversation = _conversation(request, pk)
    if request.POST.get("reopen"):
        inbox.conversation_reopen(conversation_id=conversation.pk, by=request.user, now=timezone.now())
        messages.success(request, "Open again.")
        return redirect("portal:conversation", pk=conversation.pk)
    inbox.conversation_handle(conversation_id=conversation.pk, by=request.user, now=timezone.now())
    messages.success(request, "Marked handled. A new text from them opens it again.")
    return redirect("portal:inbox")


@staff_required
@require_POST
def conversation_start(request: HttpRequest, pk: int) -> HttpResponse:
    """ "Write to them" on the family page: their conversation, made if they never texted."""
    caregiver = get_object_or_404(caregiver_selectors.caregivers_for_user(user=request.user), pk=pk)
    conversation = inbox.conversation_start(clinic=caregiver.clinic, caregiver=caregiver, now=timezone.now())
    return redirect("portal:conversation", pk=conversation.pk)


def _clinic(request: HttpRequest):
    """The clinic whose saved replies are shown: the user's first, or `?clinic=` among theirs."""
    clinics = caregiver_selectors.clinics_for_user(user=request.user).order_by("name", "pk")
    raw = request.GET.get("clinic") or request.POST.get("clinic") or ""
    if raw.isdigit():
        return get_object_or_404(clinics, pk=int(raw))
    return clinics.first()


def _saved_reply_post(
    request: HttpRequest, form: SavedReplyForm, *, clinic, saved: SavedReply | None, done: str
) -> HttpResponse | None:
    """Save the posted form (a new saved reply, or `saved` changed): a redirect, or None with the
    form's errors in place."""
    if not form.is_valid():
        return None
    try:
        inbox.saved_reply_save(clinic=clinic, by=request.user, saved_reply=saved, **form.cleaned_data)
    except ValidationError as exc:
        errors_to_form(form, exc)
        return None
    messages.success(request, done)
    return redirect(f"{reverse('portal:saved-replies')}?clinic={clinic.pk}")


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def saved_replies(request: HttpRequest) -> HttpResponse:
    clinic = _clinic(request)
    form = SavedReplyForm(posted(request))
    if request.method == "POST":
        done = _saved_reply_post(
            request, form, clinic=clinic, saved=None, done="Saved. It is offered on every conversation."
        )
        if done is not None:
            return done
    context = {
        "clinic": clinic, "form": form, "saved_replies": SavedReply.objects.filter(clinic=clinic),
        "clinics": caregiver_selectors.clinics_for_user(user=request.user).order_by("name", "pk"),
    }  # fmt: skip
    return render(request, "portal/staff/saved_replies.html", context, status=400 if form.errors else 200)


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def saved_reply_edit(request: HttpRequest, pk: int) -> HttpResponse:
    clinics = caregiver_selectors.clinics_for_user(user=request.user)
    saved = get_object_or_404(SavedReply.objects.filter(clinic__in=clinics.values("id")), pk=pk)
    if request.method == "POST" and request.POST.get("delete"):
        inbox.saved_reply_delete(saved_reply=saved, by=request.user)
        messages.success(request, f"“{saved.title}” is deleted.")
        return redirect(f"{reverse('portal:saved-replies')}?clinic={saved.clinic_id}")
    form = SavedReplyForm(posted(request), initial={"title": saved.title, "body": saved.body})
    if request.method == "POST":
        done = _saved_reply_post(request, form, clinic=saved.clinic, saved=saved, done="Saved.")
        if done is not None:
            return done
    context = {"saved": saved, "form": form}
    return render(request, "portal/staff/saved_reply_edit.html", context, status=400 if form.errors else 200)
