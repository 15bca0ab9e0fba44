"""The CSV imports' shared page flow: upload, preview, import."""

from __future__ import annotations

from collections.abc import Callable

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render

from caregiver import selectors, services

from ..forms import ImportForm
from .common import posted


def import_flow(
    request: HttpRequest,
    *,
    read: Callable[[bytes], services.ImportResult],
    run: Callable[..., services.ImportResult],
    session_key: str,
    template: str,
    context: dict,
    describe: Callable[[services.ImportResult], str],
    done_note: str,
    redirect_to: str,
) -> HttpResponse:
    """Upload, preview with per-row errors and warnings, then import (ticking "Keep anyway" when rows
    were flagged). Nothing is saved unless every row is valid. `run(clinic=, result=, commit=,
    confirmed=, by=)` checks or imports; `describe(result)` says what the file holds ("3 families, …")."""
    clinics = selectors.clinics_for_user(user=request.user)
    form = ImportForm(posted(request), request.FILES if request.method == "POST" else None, clinics=clinics)
    result = None
    status = 200
    if request.method == "POST" and request.POST.get("step") == "import":
        stored = request.session.get(session_key)
        clinic = clinics.filter(pk=(stored or {}).get("clinic")).first()
        if not stored or clinic is None:
            messages.error(request, "The preview has expired. Upload the file again.")
            return redirect(request.path)
        result = run(
            clinic=clinic, result=read(stored["data"].encode()), commit=True,
            confirmed=request.POST.get("confirm") == "on", by=request.user,
        )  # fmt: skip
        if result.ok and not result.unconfirmed:
            del request.session[session_key]
            messages.success(request, f"Imported {describe(result)}. {done_note}")
            return redirect(redirect_to)
        status = 400
    elif request.method == "POST":
        if form.is_valid():
            raw = form.cleaned_data["file"].read(services.IMPORT_MAX_BYTES + 1)
            clinic = form.cleaned_data["clinic"]
            result = run(clinic=clinic, result=read(raw), commit=False, confirmed=False, by=None)
            if result.ok:
                # As text (a session holds JSON); the import reads it back as UTF-8.
                request.session[session_key] = {"clinic": clinic.pk, "data": services.csv_decode(raw)[0]}
            else:
                status = 400
        else:
            status = 400
    summary = f"{describe(result)}." if result is not None else ""
    shown = result.shown_rows() if result is not None else []
    context = {**context, "form": form, "result": result, "summary": summary, "shown_rows": shown,
               "hidden_rows": len(result.rows) - len(shown) if result is not None else 0}  # fmt: skip
    return render(request, template, context, status=status)
