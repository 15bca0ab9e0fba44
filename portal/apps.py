from django.apps import AppConfig
from django.contrib.admin import apps as admin_apps


class PortalConfig(AppConfig):
    """The front door: the pages caregivers and clinic staff use, and the staff REST API.

    It may import caregiver/, content/ and messaging/; none of them import it.
    """

    name = "portal"
    verbose_name = "Pages and staff API"

    def ready(self) -> None:
        from . import checks  # noqa: F401 - registers the deployment checks


class AdminConfig(admin_apps.AdminConfig):
    """django.contrib.admin with our site as `admin.site`: the same sign-in limits as /staff/login/."""

    default = False  # named in INSTALLED_APPS in place of django.contrib.admin; PortalConfig is portal's
    default_site = "portal.auth.StaffAdminSite"
