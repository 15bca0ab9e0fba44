"""A developer's machine: `make run`. Throwaway secrets, console backends, DEBUG on."""

from .base import *  # noqa: F403
from .base import MIDDLEWARE, env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env.str("DJANGO_SECRET_KEY", default="local-only-not-a-secret-8d1f0c6e")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

# runserver serves static files itself in DEBUG; WhiteNoise is for production.
MIDDLEWARE = [m for m in MIDDLEWARE if not m.startswith("whitenoise")]
