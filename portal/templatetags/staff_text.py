"""What staff may read of a message: links' secrets masked (messaging.rendering.mask_links)."""

from django import template

from messaging.rendering import mask_links

register = template.Library()


@register.filter
def masked(text: str) -> str:
    return mask_links(text or "")
