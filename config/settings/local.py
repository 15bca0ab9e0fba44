"""A developer's machine: `make run`. Throwaway secrets, console backends, DEBUG on."""

import hashlib

from .base import *  # noqa: F403
from .base import MIDDLEWARE, TWILIO_AUTH_TOKEN, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="local-only-not-a-secret-8d1f0c6e")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

# runserver serves static files itself in DEBUG; WhiteNoise is for production.
MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("whitenoise")]

# The phone on the page, /dev/phone/ (portal/views/phone.py). It signs its texts as Twilio does, so
# without a Twilio account the webhooks need a token too: one derived from the local secret key.
DEV_PHONE = env.bool("DEV_PHONE", default=True)
TWILIO_AUTH_TOKEN = TWILIO_AUTH_TOKEN or hashlib.sha256(f"dev-twilio-token:{SECRET_KEY}".encode()).hexdigest()[:32]
