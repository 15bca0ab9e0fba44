"""content listens to its own models: any saved tip or category changes what the tip API answers."""

from __future__ import annotations

from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver
from rest_framework_api_key.models import APIKey

from .api_cache import verified_keys
from .models import Category, Tip
from .services import content_changed


@receiver([post_save, post_delete], sender=Tip)
@receiver([post_save, post_delete], sender=Category)
def on_content_saved(sender, **kwargs) -> None:
    # Now, for reads inside this transaction; again after commit, because a request that read the
    # old rows in between may have cached them under the version made meanwhile.
    content_changed()
    transaction.on_commit(content_changed)


@receiver([post_save, post_delete], sender=APIKey)
def on_api_key_saved(sender, **kwargs) -> None:
    # Revoked or changed in this process: no longer trusted here at once (elsewhere within seconds).
    verified_keys.clear()
