"""Admin for operators (superusers see every clinic) and clinic staff (only their own)."""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest

from . import selectors, services
from .models import (
    Appointment,
    AuditEvent,
    Caregiver,
    CareLink,
    ChannelConfirmation,
    Clinic,
    ClinicClosure,
    ConsentRecord,
    LovedOne,
    OnCallContact,
    StaffMembership,
)


class ClinicScopedAdmin(admin.ModelAdmin):
    """Non-superusers see only rows of their clinics. `clinic_path` leads from the row to its clinic."""

    clinic_path = "clinic"

    def get_queryset(self, request: HttpRequest) -> QuerySet:
        queryset = super().get_queryset(request)
        if request.user.is_superuser:
            return queryset
        clinics = selectors.clinics_for_user(user=request.user).values("id")
        return queryset.filter(**{f"{self.clinic_path}__in": clinics})

    def get_list_filter(self, request: HttpRequest) -> list:
        filters = list(super().get_list_filter(request))
        if request.user.is_superuser:
            return filters
        # A related filter lists every row of its model, so "clinic" would name other clinics;
        # RelatedOnlyFieldListFilter offers only what the (scoped) rows point at.
        return [
            (name, admin.RelatedOnlyFieldListFilter) if isinstance(name, str) and self._is_relation(name) else name
            for name in filters
        ]

    def _is_relation(self, path: str) -> bool:
        model = self.model
        field = None
        for part in path.split("__"):
            field = model._meta.get_field(part)
            if not field.is_relation:
                return False
            model = field.related_model
        return field is not None

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if not request.user.is_superuser:
            scoped = {
                Clinic: lambda: selectors.clinics_for_user(user=request.user),
                LovedOne: lambda: selectors.loved_ones_for_user(user=request.user),
                Caregiver: lambda: selectors.caregivers_for_user(user=request.user),
            }.get(db_field.related_model)
            if scoped:
                kwargs["queryset"] = scoped()
        return super().formfield_for_foreignkey(db_field, request, **kwargs)


class ReadOnlyAdmin(admin.ModelAdmin):
    """For evidence and history (consent, the outbox, inbound texts): services write, nobody edits."""

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class StaffMembershipInline(admin.TabularInline):
    model = StaffMembership
    extra = 0
    autocomplete_fields = ["user"]


class OnCallContactInline(admin.TabularInline):
    """Who is told of a crisis text, in order (lowest position first)."""

    model = OnCallContact
    extra = 1
    fields = ["position", "name", "phone", "email"]


class ClinicClosureInline(admin.TabularInline):
    """Days the clinic is closed: the course planner moves sessions off them."""

    model = ClinicClosure
    extra = 1
    fields = ["day", "note"]


@admin.register(Clinic)
class ClinicAdmin(ClinicScopedAdmin):
    clinic_path = "pk"
    list_display = ["name", "sms_name", "slug", "time_zone", "enrollment_code", "discreet_mode", "observation_minutes"]
    list_filter = ["discreet_mode", "time_zone"]
    search_fields = ["name", "slug", "enrollment_code", "contact_email"]
    prepopulated_fields = {"slug": ["name"]}
    inlines = [OnCallContactInline, ClinicClosureInline, StaffMembershipInline]
    # Operators' settings: inbound texts find their clinic by these numbers, so a clinic that took
    # another's number would receive that clinic's caregivers' texts (and their STOPs).
    # Which countries a clinic may text is theirs too: texts abroad cost more, and are how SMS
    # pumping fraud is paid.
    OPERATOR_FIELDS = ("twilio_from_number", "twilio_messaging_service_sid", "sms_mps", "sms_countries")

    actions = ["enrollment_code_renew"]

    def get_readonly_fields(self, request: HttpRequest, obj: Clinic | None = None) -> list[str]:
        # The sign-up code is generated, never typed: a chosen code is a guessed code.
        fields = [*super().get_readonly_fields(request, obj), "enrollment_code"]
        return fields if request.user.is_superuser else [*fields, *self.OPERATOR_FIELDS]

    @admin.action(description="Give a new sign-up code (the old one stops working)")
    def enrollment_code_renew(self, request: HttpRequest, queryset: QuerySet[Clinic]) -> None:
        for clinic in queryset:
            code = services.clinic_enrollment_code_renew(clinic=clinic, by=request.user)
            self.message_user(request, f"{clinic}: families now sign up at /join/{code}/.")


@admin.register(StaffMembership)
class StaffMembershipAdmin(ClinicScopedAdmin):
    list_display = ["user", "clinic", "role", "created_at"]
    list_filter = ["role", "clinic"]
    search_fields = ["user__username", "user__email", "clinic__name"]
    autocomplete_fields = ["user"]


class CareLinkInline(admin.TabularInline):
    model = CareLink
    extra = 0
    autocomplete_fields = ["caregiver"]


@admin.register(LovedOne)
class LovedOneAdmin(ClinicScopedAdmin):
    list_display = ["first_name", "clinic", "created_at"]
    list_filter = ["clinic"]
    search_fields = ["first_name", "caregivers__name"]
    inlines = [CareLinkInline]


class ConsentRecordInline(admin.TabularInline):
    model = ConsentRecord
    extra = 0
    can_delete = False
    readonly_fields = [
        "channel",
        "action",
        "source",
        "consent_text_version",
        "ip_address",
        "message_sid",
        "recorded_by",
        "created_at",
    ]

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class PlanProblemFilter(admin.SimpleListFilter):
    title = "planning"
    parameter_name = "planning"

    def lookups(self, request, model_admin):
        return [("problem", "Could not be planned"), ("waiting", "Waiting for the planner")]

    def queryset(self, request, queryset):
        if self.value() == "problem":
            return queryset.exclude(plan_problem="")
        if self.value() == "waiting":
            return queryset.filter(plan_dirty=True)
        return queryset


@admin.register(Caregiver)
class CaregiverAdmin(ClinicScopedAdmin):
    list_display = ["name", "clinic", "phone", "email", "channels", "tip_frequency", "status", "time_zone", "planning"]
    list_filter = ["status", "channels", "tip_frequency", "clinic", "language", PlanProblemFilter]
    search_fields = ["name", "phone", "email", "loved_ones__first_name"]
    readonly_fields = [
        "status", "paused_until", "created_at", "updated_at", "plan_dirty", "planned_until", "plan_problem",
        "plan_problem_at", "sms_blocked_reason", "email_blocked_reason", "email_blocked_at",
    ]  # fmt: skip
    exclude = ["plan_lease_until"]
    inlines = [ConsentRecordInline]

    @admin.display(description="Planning")
    def planning(self, obj: Caregiver) -> str:
        if obj.plan_problem:
            return f"Problem: {obj.plan_problem}"
        return "Waiting for the planner" if obj.plan_dirty else "Planned"

    def save_model(self, request, obj, form, change) -> None:
        # Through the services, so that edits re-plan messages like any other change.
        if not change:
            fields = {f: form.cleaned_data[f] for f in services.CAREGIVER_EDITABLE if f in form.cleaned_data}
            created = services.caregiver_create(clinic=form.cleaned_data["clinic"], by=request.user, **fields)
            obj.pk = created.pk
            obj._state.adding = False
            return
        fresh = Caregiver.objects.get(pk=obj.pk)
        services.caregiver_update(
            caregiver=fresh,
            by=request.user,
            **{f: form.cleaned_data[f] for f in form.changed_data if f in services.CAREGIVER_EDITABLE},
        )


@admin.register(ConsentRecord)
class ConsentRecordAdmin(ReadOnlyAdmin, ClinicScopedAdmin):
    """Read-only: consent is evidence, so it is appended by services and never edited."""

    clinic_path = "caregiver__clinic"
    list_display = ["caregiver", "channel", "action", "source", "consent_text_version", "created_at"]
    list_filter = ["channel", "action", "source"]
    search_fields = ["caregiver__name", "caregiver__phone", "caregiver__email", "message_sid"]
    date_hierarchy = "created_at"


@admin.register(Appointment)
class AppointmentAdmin(ClinicScopedAdmin):
    clinic_path = "loved_one__clinic"
    list_display = ["loved_one", "kind", "starts_at", "duration_minutes", "status", "ride_arranged_at"]
    list_filter = ["status", "kind", ("ride_arranged_at", admin.EmptyFieldListFilter), "loved_one__clinic"]
    search_fields = ["loved_one__first_name"]
    date_hierarchy = "starts_at"
    list_select_related = ["loved_one"]
    readonly_fields = ["ride_arranged_at", "ride_arranged_by_caregiver", "ride_arranged_by_user"]

    def save_model(self, request, obj, form, change) -> None:
        # Through the services, so that reminders are planned, moved or cancelled.
        if not change:
            created = services.appointment_create(
                loved_one=obj.loved_one,
                starts_at=obj.starts_at,
                kind=obj.kind,
                duration_minutes=obj.duration_minutes,
                by=request.user,
            )
            obj.pk = created.pk
            obj._state.adding = False
            return
        fresh = Appointment.objects.get(pk=obj.pk)
        if "status" in form.changed_data and obj.status == Appointment.Status.CANCELLED:
            services.appointment_cancel(appointment=fresh, by=request.user)
        elif {"starts_at", "duration_minutes"} & set(form.changed_data):
            services.appointment_reschedule(
                appointment=fresh, starts_at=obj.starts_at, duration_minutes=obj.duration_minutes, by=request.user
            )
        else:
            super().save_model(request, obj, form, change)
            if form.changed_data:
                services.audit_record(
                    by=request.user,
                    action=AuditEvent.Action.APPOINTMENT_UPDATE,
                    target=obj,
                    changes={f: [form.initial.get(f), form.cleaned_data[f]] for f in form.changed_data},
                )


@admin.register(ChannelConfirmation)
class ChannelConfirmationAdmin(ClinicScopedAdmin, ReadOnlyAdmin):
    """Who was asked to confirm what, and when they did. The code's hash is never shown."""

    clinic_path = "caregiver__clinic"
    list_display = ["caregiver", "channel", "method", "source", "created_at", "expires_at", "confirmed_at", "attempts"]
    list_filter = ["channel", "method", "source"]
    search_fields = ["caregiver__name", "address"]
    exclude = ["code_hash"]
    list_select_related = ["caregiver"]


@admin.register(AuditEvent)
class AuditEventAdmin(ReadOnlyAdmin, ClinicScopedAdmin):
    """Who changed what, read-only: services append events and nobody edits them."""

    list_display = ["created_at", "clinic", "actor", "action", "target_type", "target_id", "target_label", "changes"]
    list_filter = ["action", "target_type", "clinic"]
    search_fields = ["actor__username", "target_label"]
    date_hierarchy = "created_at"
    list_select_related = ["clinic", "actor"]
