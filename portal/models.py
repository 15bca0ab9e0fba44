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


class IdempotencyKey(models.Model):
    """A staff API POST made with an `Idempotency-Key` header, and the answer it got.

    The same key from the same staff member with the same request gets the stored answer again and
    has no second effect; the unique constraint makes a concurrent retry wait for the first and
    then replay it. Kept IDEMPOTENCY_KEY_HOURS (24); only successful answers are stored, so a
    request that failed can be retried with its key.
    """

    user = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    key = models.CharField(max_length=255)
    fingerprint = models.CharField(max_length=64, help_text="SHA-256 of the method, path and JSON body.")
    status_code = models.PositiveSmallIntegerField()
    response = models.JSONField()
    location = models.CharField(max_length=200, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        verbose_name = "idempotency key"
        constraints = [models.UniqueConstraint(fields=["user", "key"], name="unique_idempotency_key_per_user")]

    def __str__(self) -> str:
        return f"{self.key} ({self.user})"
