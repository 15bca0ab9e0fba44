"""Admin for staff API tokens and authenticator apps: operators see who has one, revoke a token and
reset a lost app. Tokens are made with `manage.py create_staff_token`, which prints the key once;
the admin never shows a key, nor an app's secret (OTP_ADMIN_HIDE_SENSITIVE_DATA).
"""

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from django_otp.plugins.otp_totp.admin import TOTPDeviceAdmin
from django_otp.plugins.otp_totp.models import TOTPDevice

from .models import StaffApiToken


@admin.register(StaffApiToken)
class StaffApiTokenAdmin(admin.ModelAdmin):
    """Superusers only: a token acts as a staff member, so seeing or revoking tokens is an operator's job."""

    list_display = ["name", "user", "prefix", "created", "expiry_date", "revoked", "last_used_at"]
    list_filter = ["revoked", "created"]
    search_fields = ["name", "prefix", "user__username"]
    list_select_related = ["user"]
    fields = ["name", "user", "prefix", "created", "expiry_date", "revoked", "last_used_at"]
    actions = ["revoke"]

    def get_readonly_fields(self, request: HttpRequest, obj: StaffApiToken | None = None) -> list[str]:
        # Revoking cannot be undone (the model refuses), and an expiry can be brought forward.
        editable = [] if obj is not None and obj.revoked else ["expiry_date", "revoked"]
        return [name for name in self.fields if name not in editable]

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        # Kept, revoked, so that last_used_at stays as a record of what the token did.
        return False

    @admin.action(description="Revoke the selected tokens")
    def revoke(self, request: HttpRequest, queryset: QuerySet[StaffApiToken]) -> None:
        count = queryset.filter(revoked=False).update(revoked=True)
        self.message_user(request, f"Revoked {count} token{'s' if count != 1 else ''}.")


admin.site.unregister(TOTPDevice)  # registered by django_otp.plugins.otp_totp for anyone with its permissions


@admin.register(TOTPDevice)
class StaffDeviceAdmin(TOTPDeviceAdmin):
    """Superusers only, read-only: deleting a device is the reset for a lost phone (as is
    `manage.py reset_staff_two_factor USERNAME`). Nobody adds one here: its owner sets it up, so
    nobody else ever sees its secret."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
