"""Deployment checks for the front door: `manage.py check --deploy` (the Dockerfile's settings)."""

from __future__ import annotations

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def proxy_check(app_configs, **kwargs) -> list[Warning]:
    """HTTPS comes from the proxy (SECURE_PROXY_SSL_HEADER), and only a proxy in TRUSTED_PROXY_IPS
    is believed (config.middleware.TrustedProxyMiddleware). With none named, every request looks like
    plain HTTP: SECURE_SSL_REDIRECT would send it round in circles, and every limit would count the
    proxy as one client."""
    if settings.SECURE_PROXY_SSL_HEADER and not settings.TRUSTED_PROXY_IPS:
        return [
            Warning(
                "SECURE_PROXY_SSL_HEADER is set but TRUSTED_PROXY_IPS is empty: no proxy is believed, so "
                "requests through one look like plain HTTP (a redirect loop with SECURE_SSL_REDIRECT) and "
                "come from one address (every per-address limit is shared by everyone).",
                hint="Set TRUSTED_PROXY_IPS to the addresses (CIDRs) of the proxy in front of gunicorn.",
                id="portal.W001",
            )
        ]
    return []
