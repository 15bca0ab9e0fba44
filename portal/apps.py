from django.apps import AppConfig


class PortalConfig(AppConfig):
    """The front door: the pages caregivers and clinic staff use, and the staff REST API.

    It may import caregiver/, content/ and messaging/; none of them import it.
    """

    name = "portal"
    verbose_name = "Pages and staff API"
