"""The clinic staff portal under /staff/: families, enrollment, appointments, courses, CSV import.

Every object is looked up through a `*_for_user` selector, so another clinic's family is a 404.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from functools import wraps
from zoneinfo import ZoneInfo

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import Exists, OuterRef
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from caregiver import selectors, services
from caregiver.models import Appointment
from caregiver.validators import YEARS, local_to_utc
from messaging.models import InboundMessage
from messaging.selectors import clinic_rule_problems, family_preview, family_timeline

from ..forms import (
    AppointmentForm,
    CaregiverFormSet,
    CourseForm,
    CourseSessionFormSet,
    EnrollAppointmentFormSet,
    FamilyForm,
    RescheduleForm,
)
from .common import errors_to_form, posted
from .imports import import_flow

IMPORT_SESSION_KEY = "staff_import"
KEEP_ANYWAY = "Some appointments need a second look (see the warnings). Tick “Keep anyway” to save them as they are."


def staff_required(view: Callable) -> Callable:
    """Logged in, and a member of at least one clinic (a user without one has nothing to see)."""

    @login_required
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        if not selectors.clinics_for_user(user=request.user).exists():
            return render(request, "portal/staff/no_clinic.html", status=403)
        return view(request, *args, **kwargs)

    return wrapper


def _family(request: HttpRequest, pk: int):
    return get_object_or_404(selectors.loved_ones_for_user(user=request.user), pk=pk)


def _appointment(request: HttpRequest, pk: int) -> Appointment:
    return get_object_or_404(selectors.appointments_for_user(user=request.user), pk=pk)


@staff_required
@require_safe
def families(request: HttpRequest) -> HttpResponse:
    search = request.GET.get("q", "")
    show = request.GET.get("show", "")
    if show not in selectors.FAMILY_FILTERS:
        messages.error(request, "That filter does not exist; showing open families.")
        show = ""
    recent_crisis = InboundMessage.objects.filter(
        caregiver__links__loved_one=OuterRef("pk"),
        action=InboundMessage.Action.CRISIS,
        received_at__gte=timezone.now() - timedelta(days=14),
    )
    clinic = selectors.clinics_for_user(user=request.user).first()
    week = selectors.week_of(now=timezone.now(), time_zone=clinic.time_zone)
    rows = selectors.families_for_user(user=request.user, search=search, show=show, week=week).annotate(
        crisis=Exists(recent_crisis)
    )
    page = Paginator(rows, 50).get_page(request.GET.get("page"))
    counts = selectors.family_counts_for_user(user=request.user, week=week)
    filters = [(key, label, counts[key or "open"]) for key, label in selectors.FAMILY_FILTERS.items()]
    context = {"page": page, "search": search, "show": show, "filters": filters}
    return render(request, "portal/staff/families.html", context)


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def family(request: HttpRequest, pk: int) -> HttpResponse:
    loved_one = _family(request, pk)
    zone = loved_one.clinic.time_zone
    form = AppointmentForm(posted(request), prefix="new")
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.appointment_create(
                    loved_one=loved_one,
                    starts_at=local_to_utc(form.local(), time_zone=zone),
                    kind=form.cleaned_data["kind"],
                    duration_minutes=form.cleaned_data["duration_minutes"],
                    by=request.user,
                    confirmed=form.cleaned_data["confirm"],
                )
            except ValidationError as exc:
                errors_to_form(form, exc, field_map={"starts_at": "day"})
                status = 400
            else:
                messages.success(request, "Appointment added. Reminders are planned for it.")
                return redirect("portal:family", pk=loved_one.pk)
        else:
            status = 400
    caregivers = selectors.caregivers_with_invitations(selectors.caregivers_with_consent(loved_one.caregivers.all()))
    links = {link.caregiver_id: link for link in loved_one.links.all()}
    context = {
        "family": loved_one,
        "zone": zone,
        "caregivers": [(c, links.get(c.pk)) for c in caregivers],
        "appointments": loved_one.appointments.order_by("-starts_at")[:100],
        "timeline": family_timeline(loved_one=loved_one),
        "preview": family_preview(loved_one=loved_one, now=timezone.now()),
        "plan_problems": [c for c in caregivers if c.plan_problem],
        "rule_problems": clinic_rule_problems(clinic_id=loved_one.clinic_id),
        "changes": [(e, e.describe(zone)) for e in selectors.family_audit_events(loved_one=loved_one)[:10]],
        "form": form,
        "now": timezone.now(),
    }
    return render(request, "portal/staff/family.html", context, status=status)


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def enroll(request: HttpRequest) -> HttpResponse:
    clinics = selectors.clinics_for_user(user=request.user)
    form = FamilyForm(posted(request), clinics=clinics)
    caregiver_forms = CaregiverFormSet(posted(request), prefix="caregivers")
    appointment_forms = EnrollAppointmentFormSet(posted(request), prefix="appointments")
    status = 200
    if request.method == "POST":
        valid = all([form.is_valid(), caregiver_forms.is_valid(), appointment_forms.is_valid()])
        if valid:
            clinic = form.cleaned_data["clinic"]
            try:
                appointments = [
                    {
                        "starts_at": local_to_utc(f.local(), time_zone=clinic.time_zone),
                        "kind": f.cleaned_data["kind"],
                        "duration_minutes": f.cleaned_data["duration_minutes"],
                    }
                    for f in appointment_forms
                    if f.has_changed() and f.cleaned_data
                ]
                loved_one = services.family_enroll(
                    clinic=clinic,
                    loved_one_name=form.cleaned_data["loved_one"],
                    caregivers=[
                        {**f.cleaned_data, "time_zone": clinic.time_zone}
                        for f in caregiver_forms
                        if f.has_changed() and f.cleaned_data
                    ],
                    appointments=appointments,
                    by=request.user,
                    confirmed=form.cleaned_data["confirm"],
                )
            except ValidationError as exc:
                _errors_to_enroll(exc, form, caregiver_forms, appointment_forms)
                status = 400
            else:
                messages.success(
                    request,
                    f"{loved_one.first_name}'s family is enrolled. Each caregiver has been asked to confirm "
                    "(reply YES to the text, or open the emailed link); nothing else is sent until they do.",
                )
                return redirect("portal:family", pk=loved_one.pk)
        else:
            status = 400
    context = {"form": form, "caregiver_forms": caregiver_forms, "appointment_forms": appointment_forms}
    return render(request, "portal/staff/enroll.html", context, status=status)


def _errors_to_enroll(exc: ValidationError, form, caregiver_forms, appointment_forms) -> None:
    if not hasattr(exc, "error_dict"):
        form.add_error(None, exc.messages)
        return
    filled = {
        "caregivers": [f for f in caregiver_forms if f.has_changed()],
        "appointments": [f for f in appointment_forms if f.has_changed()],
    }
    for key, errors in exc.message_dict.items():
        group, _, rest = key.partition(".")
        index, _, field = rest.partition(".")
        if group in filled and index.isdigit() and int(index) < len(filled[group]):
            target = filled[group][int(index)]
            if field == "confirm":
                target.add_error(None, errors)
                if "confirm" not in form.errors:
                    form.add_error("confirm", KEEP_ANYWAY)
                continue
            field = {"starts_at": "day"}.get(field, field)
            target.add_error(field if field in target.fields else None, errors)
        elif key == "first_name":
            form.add_error("loved_one", errors)
        else:
            form.add_error(None, errors)


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def reschedule(request: HttpRequest, pk: int) -> HttpResponse:
    appointment = _appointment(request, pk)
    zone = ZoneInfo(appointment.loved_one.clinic.time_zone)
    local = appointment.starts_at.astimezone(zone)
    initial = {
        "day": local.date(),
        "at": local.time().replace(second=0),
        "duration_minutes": appointment.duration_minutes,
    }
    form = RescheduleForm(posted(request), initial=initial)
    status = 200
    if request.method == "POST":
        if form.is_valid():
            try:
                services.appointment_reschedule(
                    appointment=appointment,
                    starts_at=local_to_utc(form.local(), time_zone=str(zone)),
                    duration_minutes=form.cleaned_data["duration_minutes"],
                    by=request.user,
                    confirmed=form.cleaned_data["confirm"],
                )
            except ValidationError as exc:
                errors_to_form(form, exc, field_map={"starts_at": "day"})
                status = 400
            else:
                messages.success(request, "Rescheduled. Reminders for the old time are cancelled and new ones planned.")
                return redirect("portal:family", pk=appointment.loved_one_id)
        else:
            status = 400
    context = {"appointment": appointment, "form": form, "zone": str(zone), "family": appointment.loved_one}
    return render(request, "portal/staff/reschedule.html", context, status=status)


@staff_required
@require_POST
def cancel(request: HttpRequest, pk: int) -> HttpResponse:
    appointment = _appointment(request, pk)
    try:
        services.appointment_cancel(appointment=appointment, by=request.user)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, "Appointment cancelled. Its reminders will not be sent.")
    return redirect("portal:family", pk=appointment.loved_one_id)


@staff_required
@require_POST
def caregiver_reinvite(request: HttpRequest, pk: int) -> HttpResponse:
    caregiver = get_object_or_404(selectors.caregivers_for_user(user=request.user), pk=pk)
    family_id = caregiver.links.values_list("loved_one_id", flat=True).first()
    if not selectors.unconfirmed_channels(caregiver=caregiver):
        messages.error(request, f"{caregiver.name} has already confirmed; there is nothing to resend.")
    else:
        try:
            services.caregiver_invite(caregiver=caregiver, by=request.user)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"We asked {caregiver.name} to confirm again.")
    return redirect("portal:family", pk=family_id) if family_id else redirect("portal:families")


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def course(request: HttpRequest, pk: int) -> HttpResponse:
    """Plan a course in two steps: the pattern, then the list of sessions to review and edit."""
    loved_one = _family(request, pk)
    zone = loved_one.clinic.time_zone
    step = request.POST.get("step", "pattern")
    pattern = CourseForm(request.POST if request.method == "POST" else None, prefix="pattern")
    sessions = None
    status = 200
    if request.method == "POST" and pattern.is_valid():
        data = pattern.cleaned_data
        if step == "pattern":
            try:
                planned = services.course_sessions(
                    first_day=data["first_day"],
                    at=data["at"],
                    weekdays=data["weekdays"],
                    sessions=data["sessions"],
                    maintenance_every_weeks=data["maintenance_every_weeks"] or 0,
                    maintenance_sessions=data["maintenance_sessions"] or 0,
                    closed=selectors.clinic_closures(clinic=loved_one.clinic, start=data["first_day"]),
                )
            except ValidationError as exc:
                errors_to_form(pattern, exc)
                status = 400
            else:
                sessions = CourseSessionFormSet(
                    prefix="sessions",
                    initial=[
                        {"include": True, "day": s.local.date(), "at": s.local.time(), "kind": s.kind, "note": s.note}
                        for s in planned
                    ],
                )
        else:
            sessions = CourseSessionFormSet(request.POST, prefix="sessions")
            if sessions.is_valid():
                chosen = [
                    services.PlannedSession(
                        local=datetime.combine(f.cleaned_data["day"], f.cleaned_data["at"]), kind=f.cleaned_data["kind"]
                    )
                    for f in sessions
                    if f.cleaned_data.get("include")
                ]
                try:
                    made = services.course_create(
                        loved_one=loved_one,
                        sessions=chosen,
                        duration_minutes=data["duration_minutes"],
                        by=request.user,
                        confirmed=data["confirm"],
                    )
                except ValidationError as exc:
                    _errors_to_sessions(
                        exc, sessions, pattern, chosen_forms=[f for f in sessions if f.cleaned_data.get("include")]
                    )
                    status = 400
                else:
                    messages.success(request, f"Saved {len(made)} appointments. Reminders are planned for each.")
                    return redirect("portal:family", pk=loved_one.pk)
            else:
                status = 400
    elif request.method == "POST":
        status = 400
    context = {"family": loved_one, "zone": zone, "pattern": pattern, "sessions": sessions}
    return render(request, "portal/staff/course.html", context, status=status)


def _errors_to_sessions(exc: ValidationError, sessions, pattern, *, chosen_forms: list) -> None:
    if not hasattr(exc, "error_dict"):
        sessions.non_form_errors().extend(exc.messages)
        return
    for key, errors in exc.message_dict.items():
        _, _, rest = key.partition(".")
        index, _, field = rest.partition(".")
        if index.isdigit() and int(index) < len(chosen_forms):
            chosen_forms[int(index)].add_error(None, errors)
            if field == "confirm" and "confirm" not in pattern.errors:
                pattern.add_error("confirm", KEEP_ANYWAY)
        else:
            sessions._non_form_errors.extend(errors)


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def csv_import(request: HttpRequest) -> HttpResponse:
    """Upload, preview with per-row errors, then import. Nothing is saved unless every row is valid."""
    return import_flow(
        request,
        read=services.family_import_read,
        run=services.family_import,
        session_key=IMPORT_SESSION_KEY,
        template="portal/staff/import.html",
        context={"columns": services.IMPORT_COLUMNS},
        describe=lambda r: (
            f"{r.families} famil{'ies' if r.families != 1 else 'y'}, {r.caregivers} caregiver"
            f"{'s' if r.caregivers != 1 else ''} and {r.appointments} appointment{'s' if r.appointments != 1 else ''}"
        ),
        done_note="Caregivers have been asked to confirm.",
        redirect_to="portal:families",
    )


@staff_required
@require_http_methods(["GET", "HEAD", "POST"])
def tomorrow(request: HttpRequest) -> HttpResponse:
    """Every session tomorrow (or on ?day=YYYY-MM-DD) with its ride home: who is driving, or nobody
    yet, so the front desk can call the families still without one."""
    clinics = list(selectors.clinics_for_user(user=request.user))
    zone = ZoneInfo(clinics[0].time_zone) if clinics else ZoneInfo("UTC")
    today = timezone.now().astimezone(zone).date()
    try:
        day = datetime.strptime(request.GET["day"], "%Y-%m-%d").date() if request.GET.get("day") else None
    except ValueError:
        day = None
        messages.error(request, "Give the day as YYYY-MM-DD; showing tomorrow.")
    if day is not None and day.year not in YEARS:
        day = None
        messages.error(request, f"Give a day in the years {YEARS.start} to {YEARS.stop - 1}; showing tomorrow.")
    day = day or today + timedelta(days=1)
    if request.method == "POST":
        chosen = request.POST.get("appointment", "")
        if not chosen.isdigit():
            return HttpResponseBadRequest("Choose a session to mark: this form needs its appointment.")
        appointment = _appointment(request, int(chosen))
        if not appointment.protocol.observed:
            return HttpResponseBadRequest("This kind of appointment needs no ride home.")
        if request.POST.get("action") == "undo":
            services.appointment_unmark_ride(appointment=appointment, user=request.user)
            messages.success(request, f"The ride home for {appointment.loved_one} is marked as not arranged.")
        else:
            services.appointment_mark_ride_arranged(appointment=appointment, user=request.user)
            messages.success(request, f"The ride home for {appointment.loved_one} is marked as arranged.")
        return redirect(f"{request.path}?day={day:%Y-%m-%d}")
    sessions = selectors.sessions_on_day_for_user(user=request.user, day=day)
    return render(
        request,
        "portal/staff/tomorrow.html",
        {
            "day": day, "sessions": sessions, "previous": day - timedelta(days=1), "next": day + timedelta(days=1),
            "unconfirmed": sum(1 for s in sessions if s.protocol.observed and not s.ride_arranged),
        },
    )  # fmt: skip
