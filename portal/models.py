"""Staff API tokens: a clinic system acts as one staff member and sees what they see.

Stored hashed (djangorestframework-api-key's scheme); the full token is shown once, on creation.
"""

from django.conf import settings
from django.db import models
from rest_framework_api_key.models import AbstractAPIKey


class StaffApiToken(AbstractAPIKey):
    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="api_tokens")
    last_used_at = models.DateTimeField(null=True, blank=True)

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "staff API token"
        verbose_name_plural = "staff API tokens"
