"""A developer's machine: `make run`. Throwaway secrets, console backends, DEBUG on."""

import hashlib
import socket
from urllib.parse import urlparse

from .base import *  # noqa: F403
from .base import (
    ANYMAIL,
    CELERY_FILESYSTEM_DIR,
    MIDDLEWARE,
    REDIS_URL,
    TWILIO_AUTH_TOKEN,
    env,
    filesystem_broker_options,
)

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="local-only-not-a-secret-8d1f0c6e")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

# runserver serves static files itself in DEBUG; WhiteNoise is for production.
MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("whitenoise")]

# The phone on the page, /dev/phone/ (portal/views/phone.py). It signs its texts as Twilio does, so
# without a Twilio account the webhooks need a token too: one derived from the local secret key.
DEV_PHONE = env.bool("DEV_PHONE", default=True)
TWILIO_AUTH_TOKEN = TWILIO_AUTH_TOKEN or hashlib.sha256(f"dev-twilio-token:{SECRET_KEY}".encode()).hexdigest()[:32]
# The email provider's webhook, likewise: a local secret unless one is set.
ANYMAIL = {
    "WEBHOOK_SECRET": ANYMAIL["WEBHOOK_SECRET"]
    or "alongside:" + hashlib.sha256(f"dev-anymail:{SECRET_KEY}".encode()).hexdigest()[:32]
}


def redis_reachable(url: str, timeout: float = 0.5) -> bool:
    """True when something accepts TCP connections where `url` points."""
    parsed = urlparse(url)
    try:
        with socket.create_connection((parsed.hostname or "localhost", parsed.port or 6379), timeout=timeout):
            return True
    except OSError:
        return False


# A laptop without Redis still runs `make run`: the one place that asks a server at start-up, and
# only on a developer's machine (production and the tests take what the environment says). The
# choice is logged at start (messaging.apps).
if not env.str("CELERY_BROKER_URL", default="") and not redis_reachable(REDIS_URL):
    CELERY_BROKER_URL = "filesystem://"
    CELERY_BROKER_TRANSPORT_OPTIONS = filesystem_broker_options(CELERY_FILESYSTEM_DIR)
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    BROKER_CHOICE = (
        f"Celery broker: filesystem queue under {CELERY_FILESYSTEM_DIR}, cache in each process's memory "
        f"(Redis at {REDIS_URL.split('@')[-1]} is not reachable)"
    )
